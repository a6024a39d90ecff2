"""Slow clients (issue 5): 2 000 connections each sending one header byte a
second do not starve a normal client, which keeps getting answers with no
error, each within a second. Bounded: about 12 s.
"""
import resource
import socket
import threading
import time

from harden_backend import RawBackend, ok_response, statuses

SLOW = 2000
SECONDS = 10

CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel warn
ProxyPass / %s/
"""


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft >= need


def test_slow_clients_do_not_starve_a_normal_one(balancer):
    assert raise_nofile(SLOW + 200), "RLIMIT_NOFILE hard limit too low"
    be = RawBackend(lambda *a: ok_response())
    bal = balancer(CONF % be.url)
    head = b"GET /slow HTTP/1.1\r\nHost: slow.test\r\nX-Pad: " + b"p" * 64

    slow = []
    for _ in range(SLOW):
        slow.append(socket.create_connection(("127.0.0.1", bal.port),
                                             timeout=5))
    latencies, errors = [], []
    stop = threading.Event()

    def normal_client():
        while not stop.is_set():
            t0 = time.time()
            try:
                s = socket.create_connection(("127.0.0.1", bal.port),
                                             timeout=2)
                s.sendall(b"GET /n HTTP/1.1\r\nHost: n.test\r\n"
                          b"Connection: close\r\n\r\n")
                out = b""
                while True:
                    piece = s.recv(4096)
                    if not piece:
                        break
                    out += piece
                s.close()
                if statuses(out) != [200]:
                    errors.append(out[:100])
            except OSError as e:
                errors.append(repr(e))
            latencies.append(time.time() - t0)
            time.sleep(0.05)

    t = threading.Thread(target=normal_client)
    t.start()
    start = time.time()
    try:
        for second in range(SECONDS):
            byte = head[second:second + 1]
            for s in slow:
                s.sendall(byte)
            time.sleep(max(0.0, start + second + 1 - time.time()))
    finally:
        stop.set()
        t.join(10)
        for s in slow:
            s.close()
        be.stop()

    assert errors == [], errors[:5]
    assert len(latencies) >= SECONDS * 5
    worst = max(latencies)
    print("normal client: %d requests, worst %.3f s, mean %.4f s"
          % (len(latencies), worst, sum(latencies) / len(latencies)))
    assert worst < 1.0, worst
    assert be.requests == len(latencies)     # no slow request got through
