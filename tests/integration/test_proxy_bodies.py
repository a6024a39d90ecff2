"""Bodies streamed both ways: chunked, 100 MiB with checksums and bounded
memory, Expect: 100-continue, bodies delimited by close."""
import hashlib
import json
import socket
import threading
import time

import pytest

from backends import Backend, Client, pattern_bytes, pattern_sha256

CONF = """
Listen 127.0.0.1:@PORT@
ServerName front.example
LogLevel info
ErrorLog @ERRORLOG@
Workers 2
ProxyPass / {url}/
"""

BIG = 100 * 1024 * 1024


@pytest.fixture
def backend():
    b = Backend("b1")
    yield b
    b.stop()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssWatch:
    """Samples a process's resident size while a transfer runs."""

    def __init__(self, pid):
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


def test_chunked_request_streamed(balancer, backend):
    bal = balancer(CONF.format(url=backend.url))
    c = Client(bal.port)
    pieces = [bytes([i % 256]) * (1000 + 37 * i) for i in range(200)]
    head = (b"POST /upload HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    c.send(head)
    for p in pieces:
        c.send(b"%x;ext=1\r\n" % len(p) + p + b"\r\n")
    c.send(b"0\r\nX-Trailer: t\r\n\r\n")
    status, _, body, _ = c.response()
    info = json.loads(body)
    assert status == 200
    assert info["body_sha256"] == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert ["Transfer-Encoding", "chunked"] in info["headers"]
    c.close()


def test_chunked_response_streamed(balancer, backend):
    bal = balancer(CONF.format(url=backend.url))
    c = Client(bal.port)
    c.send(b"GET /chunked?size=3000001 HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, sha, n = c.response(sha=True)
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert n == 3000001 and sha == pattern_sha256(3000001)
    status, _, body, _ = c.request("GET", "/echo/next")
    assert json.loads(body)["target"] == "/echo/next"
    c.close()


def test_close_delimited_response(balancer, backend):
    bal = balancer(CONF.format(url=backend.url))
    c = Client(bal.port)
    c.send(b"GET /close?size=500000 HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, sha, n = c.response(sha=True)
    assert status == 200 and n == 500000 and sha == pattern_sha256(500000)
    c.close()


def test_100_megabyte_download(balancer, backend):
    bal = balancer(CONF.format(url=backend.url))
    watch = RssWatch(bal.proc.pid)
    c = Client(bal.port, timeout=120)
    c.send(b"GET /download?size=%d HTTP/1.1\r\nHost: x\r\n\r\n" % BIG)
    status, _, sha, n = c.response(sha=True)
    peak = watch.stop()
    assert status == 200 and n == BIG
    assert sha == pattern_sha256(BIG)
    assert peak < 64 * 1024, "VmRSS peaked at %d KiB" % peak
    c.close()


def test_100_megabyte_upload(balancer, backend):
    bal = balancer(CONF.format(url=backend.url))
    watch = RssWatch(bal.proc.pid)
    c = Client(bal.port, timeout=120)
    c.send(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
           % BIG)
    for piece in pattern_bytes(BIG):
        c.send(piece)
    status, _, body, _ = c.response()
    peak = watch.stop()
    info = json.loads(body)
    assert status == 200 and info["body_len"] == BIG
    assert info["body_sha256"] == pattern_sha256(BIG)
    assert peak < 64 * 1024, "VmRSS peaked at %d KiB" % peak
    c.close()


def test_expect_100_continue(balancer, backend):
    bal = balancer(CONF.format(url=backend.url))
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=10)
    body = b"x" * 5000
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    interim = s.recv(4096)
    assert interim.startswith(b"HTTP/1.1 100 "), interim
    s.sendall(body)
    c = Client.__new__(Client)
    c.sock = s
    from backends import Conn
    c.conn = Conn(s)
    if interim.count(b"\r\n\r\n") > 1 or not interim.endswith(b"\r\n\r\n"):
        c.conn.buf = interim.split(b"\r\n\r\n", 1)[1]
    status, _, resp, _ = c.response()
    info = json.loads(resp)
    assert status == 200 and info["sent_continue"]
    assert info["body_sha256"] == hashlib.sha256(body).hexdigest()
    s.close()


PAUSE_CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel info
Workers 1
ProxyPass / http://127.0.0.1:%d/
"""


def test_body_bytes_not_held_while_the_back_end_pauses(balancer):
    """Body writes go out with MSG_MORE while the back end's socket had a
    whole buffer's worth more; when it then has nothing (the back end
    pauses in the middle of its body), what was written must reach the
    client at once, not when the rest comes (src/proxy_pump.c pump_uncork)."""
    rest = b"b" * 5000
    # The proxy keeps the response head at the front of its 16 KiB
    # buffer and reads the body into the rest: a body part of whole
    # buffers makes the last read before the pause a full one, so that
    # write goes out with MSG_MORE and the empty read after it uncorks.
    head_form = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
    first = b"a" * (6 * (16384 - len(head_form % 100000)))
    head = head_form % (len(first) + len(rest))     # six digits too
    assert len(head) == len(head_form % 100000)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    resumed = threading.Event()

    def serve():
        s, _ = listener.accept()
        with s:
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(4096)
            s.sendall(head + first)
            resumed.wait(10)
            s.sendall(rest)
            time.sleep(0.5)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        bal = balancer(PAUSE_CONF % listener.getsockname()[1])
        c = socket.create_connection(("127.0.0.1", bal.port), timeout=10)
        c.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        got = b""
        c.settimeout(0.2)
        deadline = time.time() + 5      # the back end waits all that time
        while time.time() < deadline and got.count(b"a") < len(first):
            try:
                d = c.recv(65536)
            except socket.timeout:
                continue
            if not d:
                break
            got += d
        assert got.count(b"a") == len(first), \
            "%d of %d body bytes before the pause" % (got.count(b"a"),
                                                     len(first))
        resumed.set()
        c.settimeout(10)
        while got.count(b"b") < len(rest):
            d = c.recv(65536)
            assert d, "closed early"
            got += d
        c.close()
    finally:
        resumed.set()
        listener.close()
        t.join(5)
