"""Buffers taken when first written (proxy.c, take_buf): bhead goes back
once the request is sent and a retry builds it again, bin is taken when
the back end has something to read, ohead when a head for the client is
built. These tests walk the paths where a buffer could be missing,
leaked, put back twice or hold stale bytes: retries after the head went
out, answers before the body is in, interim responses, upgrades,
re-encoded until-close bodies, HEAD, pipelining, large bodies, timeouts
under max=, reload, TLS, and many connections at once (a buffer put back
twice would be shared by two of them).

Run them against the ASan build: a sanitizer report fails the test
(conftest.py's balancer fixture).
"""
import hashlib
import os
import signal
import socket
import ssl
import threading
import time

import pytest

from backends import Client, pattern_bytes, pattern_sha256
from conftest import free_port
from harden_backend import Reader

CONF = """
Listen 127.0.0.1:@PORT@
ServerName front.example
LogLevel debug
ErrorLog @ERRORLOG@
Workers %(workers)d
ProxyTimeout %(timeout)d
<Proxy balancer://buf>
%(members)s
    ProxySet lbmethod=byrequests %(params)s
</Proxy>
ProxyPass / balancer://buf/
"""


def conf(urls, workers=1, timeout=5, params="", opts=""):
    members = "\n".join("    BalancerMember %s %s" % (u, opts) for u in urls)
    return CONF % {"members": members, "workers": workers,
                   "timeout": timeout, "params": params}


# ---- a back end scripted per connection -----------------------------------

class Script:
    """Listens on loopback; each accepted connection runs
    handler(script, sock, index) in a thread."""

    def __init__(self, handler):
        self.handler = handler
        self.lock = threading.Lock()
        self.socks = []
        self.heads = []             # every request head read, in order
        self.running = True
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            sock.settimeout(20)
            with self.lock:
                index = len(self.socks)
                self.socks.append(sock)
            threading.Thread(target=self._run, args=(sock, index),
                             daemon=True).start()

    def _run(self, sock, index):
        try:
            self.handler(self, sock, index)
        except (OSError, EOFError, ValueError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def stop(self):
        self.running = False
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def header(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def read_request(script, r):
    """A request head and its Content-Length body, recorded."""
    head = r.until(b"\r\n\r\n")
    length = int(header(head, b"content-length") or 0)
    body = r.exact(length)
    with script.lock:
        script.heads.append(head)
    return head, body


def ok(body=b"ok", extra=b""):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n"
            % (len(body), extra)) + body


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


@pytest.fixture
def scripts():
    started = []

    def start(handler):
        s = Script(handler)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


# ---- a raw client reading responses with their framing --------------------

def read_response(r, method=b"GET"):
    """(status, head, body) of the next response on Reader r; 1xx heads
    are returned as responses of their own."""
    head = r.until(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status < 200 or method == b"HEAD" or status in (204, 304):
        return status, head, b""
    te = (header(head, b"transfer-encoding") or b"").lower()
    if b"chunked" in te:
        body = b""
        while True:
            size = int(r.until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                while r.until(b"\r\n") != b"\r\n":
                    pass
                return status, head, body
            body += r.exact(size)
            assert r.exact(2) == b"\r\n"
    cl = header(head, b"content-length")
    if cl is not None:
        return status, head, r.exact(int(cl))
    try:
        while True:
            r.fill()
    except (OSError, EOFError):
        pass
    body, r.buf = r.buf, b""
    return status, head, body


def final_response(r, method=b"GET"):
    """The next final response, the interim ones before it skipped."""
    while True:
        status, head, body = read_response(r, method)
        if status >= 200 or status == 101:
            return status, head, body


def connect(port, timeout=15):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def closed_after(sock, timeout=5):
    """True when the peer closes (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


PATTERN_20K = b"".join(pattern_bytes(20000))


# ---- retries: the request head built again -------------------------------

def test_keepalive_race_resends_identical_head(balancer, scripts):
    """A pooled connection the back end closes after reading the second
    request (head and body sent, bhead already back): the request goes
    again on a new connection, with the same head and body."""
    body = b"B" * 9000

    def handler(s, sock, index):
        r = Reader(sock)
        if index == 0:
            read_request(s, r)
            sock.sendall(ok(b"first"))
            read_request(s, r)          # the second request: no answer
            sock.close()
            return
        head, got = read_request(s, r)
        sock.sendall(ok(hashlib.sha256(got).hexdigest().encode()))
        while True:
            read_request(s, r)
            sock.sendall(ok(b"later"))

    be = scripts(handler)
    bal = balancer(conf([be.url]))
    c = Client(bal.port)
    status, _, got, _ = c.request("GET", "/one")
    assert (status, got) == (200, b"first")
    status, _, got, _ = c.request("PUT", "/two", body=body)
    assert status == 200, got
    assert got == hashlib.sha256(body).hexdigest().encode()
    status, _, got, _ = c.request("GET", "/three")
    assert (status, got) == (200, b"later")
    c.close()
    heads = be.heads
    assert len(heads) == 4, heads
    assert heads[1] == heads[2]         # sent again byte for byte
    assert heads[1].startswith(b"PUT /two HTTP/1.1\r\n")
    assert b"Content-Length: 9000\r\n" in heads[1]
    assert "pooled connection closed by the back end" in bal.errors()


def close_after_first(s, sock, index):
    """A member whose first connection answers one request, reads the
    next and closes without answering (the keep-alive race); later
    connections answer every request."""
    r = Reader(sock)
    read_request(s, r)
    sock.sendall(ok(b"first"))
    if index == 0:
        read_request(s, r)
        sock.close()
        return
    while True:
        read_request(s, r)
        sock.sendall(ok(b"again"))


def test_keepalive_race_post_not_resent(balancer, scripts):
    """The same race for a POST whose body went out: not sent twice,
    502; the client connection and the proxy go on."""
    be = scripts(close_after_first)
    bal = balancer(conf([be.url]))
    c = Client(bal.port)
    assert c.request("GET", "/one")[0] == 200
    status, _, _, _ = c.request("POST", "/two", body=b"p" * 5000)
    assert status == 502
    c.close()
    assert be.heads.count(be.heads[1]) == 1
    c = Client(bal.port)
    assert c.request("GET", "/three")[0] == 200
    c.close()


@pytest.mark.parametrize("size", [0, 9000, 15000])
def test_retry_elsewhere_rebuilds_head(balancer, scripts, size):
    """The first member reads the whole request and closes without a
    byte: an idempotent request goes to the other member, head built
    again (bhead went back once sent), body sent again whole."""
    lock = threading.Lock()
    seen = []
    body = PATTERN_20K[:size]

    def handler(s, sock, index):
        r = Reader(sock)
        while True:
            head, got = read_request(s, r)
            with lock:
                seen.append((s.port, head, got))
                first = len(seen) == 1
            if first:
                reset(sock)
                return
            sock.sendall(ok(b"%d:" % s.port +
                            hashlib.sha256(got).hexdigest().encode()))

    a, b = scripts(handler), scripts(handler)
    bal = balancer(conf([a.url, b.url]))
    c = Client(bal.port)
    status, _, got, _ = c.request("PUT", "/r?x=1", body=body)
    assert status == 200, got
    port, _, sha = got.partition(b":")
    assert sha == hashlib.sha256(body).hexdigest().encode()
    assert len(seen) == 2
    h1, h2 = seen[0][1], seen[1][1]
    assert int(port) == seen[1][0] != seen[0][0]
    # the same head but for Host (the member's address)
    strip = [l for l in h1.split(b"\r\n") if not l.startswith(b"Host:")]
    assert strip == [l for l in h2.split(b"\r\n")
                     if not l.startswith(b"Host:")]
    assert seen[1][2] == body
    # the client connection is still good
    status, _, got, _ = c.request("GET", "/after")
    assert status == 200
    c.close()


def test_retry_after_interim_response(balancer, scripts):
    """The first member sends 103 and resets; the GET goes to the other
    member; the client sees the interim head whole (or not at all) and
    then the other member's response, nothing stale from the first."""
    lock = threading.Lock()
    n = [0]

    def handler(s, sock, index):
        r = Reader(sock)
        while True:
            read_request(s, r)
            with lock:
                n[0] += 1
                first = n[0] == 1
            if first:
                sock.sendall(b"HTTP/1.1 103 Early Hints\r\n"
                             b"Link: </style.css>; rel=preload\r\n\r\n")
                time.sleep(0.2)
                reset(sock)
                return
            sock.sendall(ok(b"second member"))

    a, b = scripts(handler), scripts(handler)
    bal = balancer(conf([a.url, b.url]))
    s = connect(bal.port)
    s.sendall(b"GET /x HTTP/1.1\r\nHost: f\r\n\r\n")
    r = Reader(s)
    statuses = []
    while True:
        status, head, body = read_response(r)
        statuses.append(status)
        if status >= 200:
            break
    assert statuses[-1] == 200 and body == b"second member", statuses
    assert all(x in (103, 200) for x in statuses)
    s.sendall(b"GET /y HTTP/1.1\r\nHost: f\r\n\r\n")
    assert final_response(r)[2] == b"second member"
    s.close()


def test_body_larger_than_buffer_then_member_resets(balancer, scripts):
    """A PUT body bigger than the buffer (its sent bytes dropped) and the
    member resets before answering: not resent (it cannot be), 502, and
    the next request is served."""
    def handler(s, sock, index):
        r = Reader(sock)
        head = r.until(b"\r\n\r\n")
        with s.lock:
            s.heads.append(head)
        if index == 0:
            r.exact(40000)
            reset(sock)
            return
        length = int(header(head, b"content-length") or 0)
        r.exact(length)
        sock.sendall(ok(b"fine"))

    be = scripts(handler)
    bal = balancer(conf([be.url]))
    body = b"".join(pattern_bytes(100000))
    s = connect(bal.port)
    s.sendall(b"PUT /big HTTP/1.1\r\nHost: f\r\nContent-Length: %d\r\n\r\n"
              % len(body))
    try:
        s.sendall(body)
    except OSError:
        pass
    r = Reader(s)
    status, _, _ = final_response(r)
    assert status == 502
    s.close()
    c = Client(bal.port)
    assert c.request("GET", "/next")[0] == 200
    c.close()
    assert len(be.heads) == 2


def test_connect_refused_then_other_member(balancer, backends):
    """A member refusing connections (its bhead built, then nothing
    sent): the request goes to the next member with a head of its own."""
    dead = free_port()
    (b1,) = backends(1)
    bal = balancer(conf(["http://127.0.0.1:%d" % dead, b1.url],
                        opts="retry=60"))
    for i in range(6):
        c = Client(bal.port)
        status, _, body, _ = c.request("PUT", "/echo", body=b"z" * 3000)
        c.close()
        assert status == 200
        assert b'"body_len": 3000' in body


# ---- answers before the request body is in --------------------------------

@pytest.mark.parametrize("close", [True, False])
def test_early_answer_before_body(balancer, scripts, close):
    """The member answers after the head, before the body (still coming,
    bigger than the buffer) is in. The client gets that answer whole;
    its connection closes after it."""
    def handler(s, sock, index):
        r = Reader(sock)
        r.until(b"\r\n\r\n")
        sock.sendall(b"HTTP/1.1 413 Too Big\r\nContent-Length: 5\r\n"
                     + (b"Connection: close\r\n" if close else b"")
                     + b"\r\nnope!")
        if close:
            time.sleep(0.3)
            reset(sock)
            return
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass

    be = scripts(handler)
    bal = balancer(conf([be.url]))
    s = connect(bal.port)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: f\r\nContent-Length: 1000000"
              b"\r\n\r\n")
    r = Reader(s)
    sent = 0
    piece = b"q" * 16384
    s.settimeout(0.2)
    got = None
    deadline = time.time() + 10
    while got is None and time.time() < deadline:
        try:
            if sent < 1000000:
                sent += s.send(piece[:min(len(piece), 1000000 - sent)])
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            break
        try:
            r.fill()
            if b"\r\n\r\n" in r.buf:
                s.settimeout(5)
                got = final_response(r)
        except socket.timeout:
            pass
        except (EOFError, OSError):
            break
    assert got is not None, r.buf
    assert got[0] == 413 and got[2] == b"nope!", got
    assert b"close" in (header(got[1], b"connection") or b"").lower()
    s.close()
    c = Client(bal.port)
    # the proxy is fine
    assert c.request("GET", "/x")[0] in (200, 413)
    c.close()


# ---- interim responses and 100-continue -----------------------------------

def test_expect_100_continue_waits_then_body(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1.url]))
    s = connect(bal.port)
    body = PATTERN_20K
    s.sendall(b"PUT /echo HTTP/1.1\r\nHost: f\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    r = Reader(s)
    status, head, _ = read_response(r)
    assert status == 100, head
    s.sendall(body)
    status, head, got = final_response(r)
    assert status == 200
    assert hashlib.sha256(body).hexdigest().encode() in got
    assert b'"sent_continue": true' in got
    # pipelined next on the same connection
    s.sendall(b"GET /download?size=30000 HTTP/1.1\r\nHost: f\r\n\r\n")
    status, _, got = final_response(r)
    assert status == 200 and got == b"".join(pattern_bytes(30000))
    s.close()


@pytest.mark.parametrize("version", [b"1.0", b"1.1"])
def test_many_interim_then_until_close(balancer, scripts, version):
    """Several 1xx heads, the last in the same segment as a final head
    whose body ends at the close: an HTTP/1.1 client gets the 1xx heads
    and the body re-encoded as chunked; an HTTP/1.0 client none of the
    1xx and the body as it came."""
    body = b"".join(pattern_bytes(50000))

    def handler(s, sock, index):
        r = Reader(sock)
        read_request(s, r)
        sock.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
        time.sleep(0.05)
        sock.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                     b"HTTP/1.1 103 Early Hints\r\nLink: </b>\r\n\r\n"
                     b"HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n" + body[:100])
        time.sleep(0.05)
        sock.sendall(body[100:])
        sock.shutdown(socket.SHUT_RDWR)

    be = scripts(handler)
    bal = balancer(conf([be.url]))
    s = connect(bal.port)
    s.sendall(b"GET /i HTTP/" + version + b"\r\nHost: f\r\n"
              b"Connection: keep-alive\r\n\r\n")
    r = Reader(s)
    seen = []
    while True:
        status, head, got = read_response(r)
        seen.append(status)
        if status >= 200:
            break
    if version == b"1.1":
        assert seen == [102, 103, 103, 200], seen
        assert b"chunked" in (header(head, b"transfer-encoding") or b"")
    else:
        assert seen == [200], seen
    assert got == body
    if version == b"1.1":
        # kept: a second request on the same connection
        s.sendall(b"GET /j HTTP/1.1\r\nHost: f\r\n\r\n")
        status, head, got = final_response(r)
        assert status == 200 and got == body
    s.close()


def test_interim_to_http10_then_member_resets(balancer, scripts):
    """HTTP/1.0 client (no interim heads sent, so no ohead), member sends
    100 and resets: the GET is retried, then the next member answers."""
    lock = threading.Lock()
    n = [0]

    def handler(s, sock, index):
        r = Reader(sock)
        while True:
            read_request(s, r)
            with lock:
                n[0] += 1
                first = n[0] == 1
            if first:
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                time.sleep(0.1)
                reset(sock)
                return
            sock.sendall(ok(b"ten"))

    a, b = scripts(handler), scripts(handler)
    bal = balancer(conf([a.url, b.url]))
    s = connect(bal.port)
    s.sendall(b"GET /a HTTP/1.0\r\n\r\n")
    r = Reader(s)
    status, head, body = read_response(r)
    assert (status, body) == (200, b"ten"), head
    s.close()


# ---- websocket -------------------------------------------------------------

def ws_frame(opcode, data, mask=b"\x01\x02\x03\x04"):
    n = len(data)
    if n < 126:
        hdr = bytes([0x80 | opcode, 0x80 | n])
    else:
        hdr = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return hdr + mask + masked


def test_websocket_frame_pipelined_with_upgrade(balancer, backends):
    """A frame sent right behind the upgrade request, before the 101
    (it waits in `in` after the head; bhead went back once the head was
    sent): tunnelled once the switch happens, echoed."""
    (b1,) = backends(1)
    bal = balancer(conf([b1.url]))
    s = connect(bal.port)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: f\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
              + ws_frame(1, b"hello early"))
    r = Reader(s)
    status, head, _ = read_response(r)
    assert status == 101, head
    got = r.exact(2 + len(b"hello early"))
    assert got[2:] == b"hello early"
    big = b"w" * 5000
    s.sendall(ws_frame(2, big))
    hdr = r.exact(4)
    assert hdr[1] == 126 and int.from_bytes(hdr[2:4], "big") == 5000
    assert r.exact(5000) == big
    s.sendall(ws_frame(8, b""))
    r.exact(2)
    assert closed_after(s)
    s.close()


# ---- pipelining, HEAD, stale bytes ----------------------------------------

def test_pipelined_mixed_requests(balancer, backends):
    """One write with HEAD, GET of every framing, 204 and an upload:
    each answered in order with its own bytes."""
    (b1,) = backends(1)
    bal = balancer(conf([b1.url]))
    up = b"u" * 7000
    reqs = [
        (b"HEAD", b"/download?size=5000", b""),
        (b"GET", b"/download?size=20000", b""),
        (b"GET", b"/chunked?size=30000", b""),
        (b"HEAD", b"/chunked?size=30000", b""),
        (b"GET", b"/status/204", b""),
        (b"PUT", b"/echo", up),
        (b"GET", b"/download?size=10", b""),
    ]
    data = b""
    for m, t, body in reqs:
        data += m + b" " + t + b" HTTP/1.1\r\nHost: f\r\n"
        if body:
            data += b"Content-Length: %d\r\n" % len(body)
        data += b"\r\n" + body
    s = connect(bal.port)
    s.sendall(data)
    r = Reader(s)
    out = [final_response(r, m) for m, _, _ in reqs]
    assert [o[0] for o in out] == [200, 200, 200, 200, 204, 200, 200]
    assert header(out[0][1], b"content-length") == b"5000"
    assert out[0][2] == b""
    assert out[1][2] == b"".join(pattern_bytes(20000))
    assert out[2][2] == b"".join(pattern_bytes(30000))
    assert out[3][2] == b""
    assert hashlib.sha256(up).hexdigest().encode() in out[5][2]
    assert out[6][2] == b"".join(pattern_bytes(10))
    s.sendall(b"GET /download?size=3 HTTP/1.1\r\nHost: f\r\n"
              b"Connection: close\r\n\r\n")
    assert final_response(r)[2] == b"\x00\x01\x02"
    assert closed_after(s)
    s.close()


def test_bytes_after_response_not_relayed(balancer, scripts):
    """A member sends a forged second response behind a HEAD answer and
    behind a complete body: neither reaches the client; the next request
    on the client connection gets its own answer."""
    def handler(s, sock, index):
        r = Reader(sock)
        while True:
            head, _ = read_request(s, r)
            target = head.split(b" ")[1]
            if target == b"/head":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
                             b"HTTP/1.1 666 FORGED\r\nContent-Length: 0"
                             b"\r\n\r\n")
            elif target == b"/extra":
                sock.sendall(ok(b"real", b"") +
                             b"HTTP/1.1 666 FORGED\r\n\r\n")
            else:
                sock.sendall(ok(b"clean:" + target))

    be = scripts(handler)
    bal = balancer(conf([be.url]))
    s = connect(bal.port)
    r = Reader(s)
    for t in (b"/head", b"/n1", b"/extra", b"/n2"):
        m = b"HEAD" if t == b"/head" else b"GET"
        s.sendall(m + b" " + t + b" HTTP/1.1\r\nHost: f\r\n\r\n")
        status, head, body = final_response(r, m)
        assert status == 200, (t, head)
        if t.startswith(b"/n"):
            assert body == b"clean:" + t
        if t == b"/extra":
            assert body == b"real"
    time.sleep(0.2)
    s.settimeout(0.3)
    try:
        left = s.recv(1000)
    except socket.timeout:
        left = b""
    assert b"FORGED" not in left and b"FORGED" not in r.buf
    s.close()


# ---- request and response heads near the buffer size ----------------------

def test_request_head_too_large_once_rewritten(balancer, backends):
    """A head that fits the input buffer but not bhead once the
    X-Forwarded fields are added: 431, and the proxy goes on."""
    (b1,) = backends(1)
    bal = balancer(conf([b1.url]))
    for pad in (16384 - 200, 16384 - 120, 16384 - 60):
        filler = b"a" * (pad - 60)
        req = (b"GET /echo HTTP/1.1\r\nHost: f\r\nX-Pad: " + filler +
               b"\r\n\r\n")
        s = connect(bal.port)
        s.sendall(req)
        r = Reader(s)
        try:
            status, _, _ = final_response(r)
        except EOFError:
            status = None
        s.close()
        assert status in (200, 431, 400), status
    c = Client(bal.port)
    assert c.request("GET", "/echo")[0] == 200
    c.close()


def test_response_head_larger_than_buffer(balancer, scripts):
    def handler(s, sock, index):
        r = Reader(sock)
        while True:
            head, _ = read_request(s, r)
            if b"/huge" in head:
                sock.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 17000 +
                             b"\r\nContent-Length: 2\r\n\r\nok")
                sock.close()
                return
            if b"/near" in head:
                # fits bin, but not ohead once Date/Server etc. are added?
                sock.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"n" * 16250 +
                             b"\r\nContent-Length: 2\r\n\r\nok")
                continue
            sock.sendall(ok(b"small"))

    be = scripts(handler)
    bal = balancer(conf([be.url]))
    s = connect(bal.port)
    s.sendall(b"GET /huge HTTP/1.1\r\nHost: f\r\n\r\n")
    assert final_response(Reader(s))[0] == 502
    s.close()
    s = connect(bal.port)
    s.sendall(b"GET /near HTTP/1.1\r\nHost: f\r\nConnection: close\r\n\r\n")
    assert final_response(Reader(s))[0] in (200, 502)
    s.close()
    c = Client(bal.port)
    assert c.request("GET", "/small")[2] == b"small"
    c.close()


# ---- queued under max=, timeouts ------------------------------------------

def test_queue_timeout_under_max_then_served(balancer, backends):
    """max=1: a request queued behind a slow one gives up after the
    balancer's timeout= (503, its bhead back); the slow one completes;
    then requests flow again."""
    (b1,) = backends(1)
    bal = balancer(conf([b1.url], params="timeout=1", opts="max=1"))
    res = {}

    def slow():
        c = Client(bal.port)
        res["slow"] = c.request("GET", "/slow?ms=2500")[0]
        c.close()
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    c = Client(bal.port)
    start = time.time()
    status = c.request("PUT", "/echo", body=b"x" * 20000)[0]
    assert status == 503
    assert time.time() - start < 2.4
    c.close()
    t.join(10)
    assert res.get("slow") == 200
    for i in range(3):
        c = Client(bal.port)
        assert c.request("GET", "/echo")[0] == 200
        c.close()


def test_queued_requests_all_served_in_turn(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1.url], opts="max=1"))
    results = []
    lock = threading.Lock()

    def one(i):
        c = Client(bal.port)
        body = bytes([65 + i]) * (3000 + i * 4000)
        st, _, got, _ = c.request("PUT", "/echo?i=%d" % i, body=body)
        c.close()
        with lock:
            results.append((st, hashlib.sha256(body).hexdigest() in
                            got.decode()))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == [(200, True)] * 6


def test_response_timeout_after_head_sent(balancer, scripts):
    """The member reads the request and never answers: 504 (bhead and
    bin back or never taken), and the proxy goes on."""
    def handler(s, sock, index):
        r = Reader(sock)
        head, _ = read_request(s, r)
        if b"/stall" in head:
            time.sleep(3)
            return
        sock.sendall(ok(b"fine"))

    be = scripts(handler)
    bal = balancer(conf([be.url], timeout=1))
    c = Client(bal.port)
    assert c.request("PUT", "/stall", body=b"s" * 100)[0] == 504
    c.close()
    c = Client(bal.port)
    assert c.request("GET", "/ok")[2] == b"fine"
    c.close()


# ---- reload with requests in flight ---------------------------------------

def test_reload_during_requests(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1.url], workers=2))
    results = []
    lock = threading.Lock()

    def one(i):
        c = Client(bal.port)
        try:
            st, _, sha, n = c.request("GET", "/slow?ms=800")
            st2, _, sha2, _ = c.request("GET", "/download?size=40000")
            with lock:
                results.append((st, st2, sha2 == b"".join(
                    pattern_bytes(40000))))
        finally:
            c.close()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    bal.proc.send_signal(signal.SIGHUP)
    for t in threads:
        t.join(20)
    assert results == [(200, 200, True)] * 8, results
    deadline = time.time() + 5
    while "reloaded (generation 2)" not in bal.errors() and \
            time.time() < deadline:
        time.sleep(0.05)
    c = Client(bal.port)
    assert c.request("GET", "/echo")[0] == 200
    c.close()


# ---- a member dying in the middle ------------------------------------------

def test_until_close_body_reset_midway(balancer, scripts):
    """An until-close body re-encoded as chunked, then a reset: the
    client's chunked body stays unfinished and its connection closes; a
    later connection is served whole."""
    body = b"".join(pattern_bytes(40000))

    def handler(s, sock, index):
        r = Reader(sock)
        head, _ = read_request(s, r)
        sock.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        if b"/cut" in head:
            sock.sendall(body[:20000])
            time.sleep(0.2)
            reset(sock)
            return
        sock.sendall(body)
        sock.shutdown(socket.SHUT_RDWR)

    be = scripts(handler)
    bal = balancer(conf([be.url]))
    s = connect(bal.port)
    s.sendall(b"GET /cut HTTP/1.1\r\nHost: f\r\n\r\n")
    r = Reader(s)
    head = r.until(b"\r\n\r\n")
    assert b"chunked" in head
    assert closed_after(s)
    s.close()
    assert b"0\r\n\r\n" not in r.buf[-7:]
    s = connect(bal.port)
    s.sendall(b"GET /whole HTTP/1.1\r\nHost: f\r\n\r\n")
    r = Reader(s)
    assert final_response(r)[2] == body
    s.close()


# ---- many connections at once ---------------------------------------------

def test_many_connections_mixed_integrity(balancer, backends):
    """Many connections at once mixing every kind of exchange; every body
    must be its own. A buffer put back twice would be handed to two
    connections, and one would see the other's bytes."""
    b1, b2 = backends(2)
    bal = balancer(conf([b1.url, b2.url], workers=2))
    errors = []
    lock = threading.Lock()
    deadline = time.time() + 60

    def worker(k):
        try:
            c = Client(bal.port, timeout=20)
            for i in range(15):
                if time.time() > deadline:
                    break
                kind = (k + i) % 5
                if kind == 0:
                    n = 1000 + 3001 * ((k * 7 + i) % 13)
                    c.send(b"GET /download?size=%d HTTP/1.1\r\n"
                           b"Host: f\r\n\r\n" % n)
                    st, _, sha, _ = c.response(sha=True)
                    ok_ = sha == pattern_sha256(n)
                if kind == 1:
                    c.send(b"GET /chunked?size=%d HTTP/1.1\r\nHost: f\r\n\r\n"
                           % (5000 + k * 100 + i))
                    st, _, sha, _ = c.response(sha=True)
                    ok_ = sha == pattern_sha256(5000 + k * 100 + i)
                elif kind == 2:
                    body = os.urandom(2000 + 1500 * (i % 15))
                    st, _, got, _ = c.request("PUT", "/echo", body=body)
                    ok_ = hashlib.sha256(body).hexdigest() in got.decode()
                elif kind == 3:
                    st, h, got, _ = c.request("HEAD", "/download?size=777")
                    ok_ = got == b"" and h.get("content-length") == "777"
                else:
                    c.send(b"GET /close?size=%d HTTP/1.1\r\nHost: f\r\n\r\n"
                           % (9000 + i))
                    st, h, sha, _ = c.response(sha=True)
                    ok_ = sha == pattern_sha256(9000 + i)
                if st != 200 or not ok_:
                    with lock:
                        errors.append((k, i, kind, st))
            c.close()
        except Exception as e:      # noqa: BLE001 - reported below
            with lock:
                errors.append((k, repr(e)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert errors == []


# ---- TLS clients ----------------------------------------------------------

TLS_CONF = """
Listen 127.0.0.1:@PORT@ https
ServerName front.example
LogLevel debug
ErrorLog @ERRORLOG@
Workers 1
<Proxy balancer://buf>
    BalancerMember {url}
</Proxy>
ProxyPass / balancer://buf/
<VirtualHost *:@PORT@>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
</VirtualHost>
"""


def tls_connect(port, certs):
    ctx = ssl.create_default_context(cafile=certs["cert"])
    raw = connect(port)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def test_tls_client_interim_pipelined_reencoded(balancer, backends, scripts,
                                                certs):
    """Over TLS: 100-continue, a pipelined pair, an until-close body
    re-encoded as chunked, and an HTTP/1.0 request."""
    (b1,) = backends(1)
    bal = balancer(TLS_CONF.format(cert=certs["cert"], key=certs["key"],
                                   url=b1.url))
    s = tls_connect(bal.port, certs)
    r = Reader(s)
    body = PATTERN_20K
    s.sendall(b"PUT /echo HTTP/1.1\r\nHost: f\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    assert read_response(r)[0] == 100
    s.sendall(body)
    status, _, got = final_response(r)
    assert status == 200
    assert hashlib.sha256(body).hexdigest().encode() in got
    s.sendall(b"GET /download?size=25000 HTTP/1.1\r\nHost: f\r\n\r\n"
              b"GET /close?size=33333 HTTP/1.1\r\nHost: f\r\n\r\n"
              b"HEAD /chunked?size=10 HTTP/1.1\r\nHost: f\r\n\r\n")
    status, _, got = final_response(r)
    assert status == 200 and got == b"".join(pattern_bytes(25000))
    status, head, got = final_response(r)
    assert status == 200 and got == b"".join(pattern_bytes(33333))
    assert b"chunked" in head
    status, head, got = final_response(r, b"HEAD")
    assert status == 200 and got == b""
    s.close()
    s = tls_connect(bal.port, certs)
    s.sendall(b"GET /download?size=100 HTTP/1.0\r\n\r\n")
    r = Reader(s)
    status, _, got = final_response(r)
    assert status == 200 and got == b"".join(pattern_bytes(100))
    s.close()


def test_tls_client_retry_after_member_closes(balancer, scripts, certs):
    """Over TLS, the keep-alive race: the request head is sent again."""
    be = scripts(close_after_first)
    bal = balancer(TLS_CONF.format(cert=certs["cert"], key=certs["key"],
                                   url=be.url))
    s = tls_connect(bal.port, certs)
    r = Reader(s)
    s.sendall(b"GET /1 HTTP/1.1\r\nHost: f\r\n\r\n")
    assert final_response(r)[2] == b"first"
    s.sendall(b"GET /2 HTTP/1.1\r\nHost: f\r\n\r\n")
    assert final_response(r)[2] == b"first"
    s.close()
    assert be.heads[1] == be.heads[2]


# ---- a bad head after a proxied response ----------------------------------

LOG_CONF = """
Listen 127.0.0.1:@PORT@
ServerName front.example
LogLevel debug
ErrorLog @ERRORLOG@
CustomLog @ACCESSLOG@ "%%r %%>s [%%{X-Backend}o]"
Workers 1
<Proxy balancer://buf>
    BalancerMember %s
</Proxy>
ProxyPass / balancer://buf/
"""


@pytest.mark.parametrize("idle", [False, True])
def test_bad_head_after_proxied_response(balancer, backends, idle):
    """A keep-alive connection's next head is malformed (400) after a
    proxied response. Its access log line must not show the previous
    response's headers: they were parsed into a buffer that went back
    (msg, bin), and when the connection went idle in between, msg is
    taken again as another buffer (the old `in`, full of body bytes)."""
    (b1,) = backends(1)
    bal = balancer(LOG_CONF % b1.url)
    s = connect(bal.port)
    r = Reader(s)
    body = b"A" * 16000
    s.sendall(b"PUT /echo HTTP/1.1\r\nHost: f\r\nContent-Length: %d\r\n\r\n"
              % len(body) + body)
    status, head, _ = final_response(r)
    assert status == 200 and header(head, b"x-backend") == b"b1"
    if idle:
        time.sleep(0.3)         # the proxy puts in and msg back
    s.sendall(b"NOT A REQUEST LINE\r\n\r\n")
    status, head, _ = final_response(r)
    assert status == 400
    assert closed_after(s)
    s.close()
    deadline = time.time() + 5
    while bal.access().count("\n") < 2 and time.time() < deadline:
        time.sleep(0.05)
    lines = bal.access().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("200 [b1]"), lines
    assert lines[1].endswith("400 [-]"), lines


def test_keepalive_race_with_body_half_sent(balancer, scripts):
    """A PUT whose body comes in two parts: the head and the first part
    go out on a pooled connection (bhead back), the member closes it;
    the request is sent again on a new connection from its head, and
    the second part follows."""
    first, second = b"1" * 6000, b"2" * 4000

    def handler(s, sock, index):
        r = Reader(sock)
        if index == 0:
            read_request(s, r)
            sock.sendall(ok(b"warm"))
            r.until(b"\r\n\r\n")
            r.exact(len(first))
            sock.close()
            return
        head, got = read_request(s, r)
        sock.sendall(ok(hashlib.sha256(got).hexdigest().encode()))

    be = scripts(handler)
    bal = balancer(conf([be.url]))
    s = connect(bal.port)
    r = Reader(s)
    s.sendall(b"GET /warm HTTP/1.1\r\nHost: f\r\n\r\n")
    assert final_response(r)[2] == b"warm"
    s.sendall(b"PUT /p HTTP/1.1\r\nHost: f\r\nContent-Length: %d\r\n\r\n"
              % (len(first) + len(second)) + first)
    time.sleep(0.5)
    s.sendall(second)
    status, _, got = final_response(r)
    assert status == 200, got
    assert got == hashlib.sha256(first + second).hexdigest().encode()
    s.close()
