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


TRICKLE_CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel info
Workers 1
ProxyTimeout 30
RequestReadTimeout header=5 body=1
ProxyPass / %s/
"""


def test_body_timeout_with_trickling_client(balancer):
    """A client that sends its body a byte at a time, faster than the
    loop turns, still gets its 408 when body= runs out: the bytes the
    last batch held back are written before the timer looks (breaker:
    the held writes of 9858476 made the timer see them as unsent and
    wait ProxyTimeout instead, again at every byte)."""
    be = RawBackend(lambda *a: ok_response())
    try:
        bal = balancer(TRICKLE_CONF % be.url)
        s = socket.create_connection(("127.0.0.1", bal.port), timeout=10)
        t0 = time.time()
        s.sendall(b"POST /p HTTP/1.1\r\nHost: l.test\r\n"
                  b"Content-Length: 1000000\r\n\r\nabc")
        s.setblocking(False)
        out, closed = b"", None
        while time.time() - t0 < 5:         # bounded: 5 s at most
            try:
                d = s.recv(65536)
                if not d:
                    closed = time.time() - t0
                    break
                out += d
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed = time.time() - t0
                break
            try:
                s.send(b"x")
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                pass
            time.sleep(0.0002)
        s.close()
        assert statuses(out) == [408], (out[:80], closed)
        assert closed is not None and closed < 2.5, closed
    finally:
        be.stop()
