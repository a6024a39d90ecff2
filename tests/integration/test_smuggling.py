"""Request smuggling and framing, second round: the findings of the
adversarial test report (notes/breaker-report.md), each as the exact bytes
a client or a back end sends and the exact bytes the other side gets.

The back end is harden_backend.RawBackend, a raw socket that records every
byte it receives and answers each request by its path (RESPONSES); with
ProxyAddHeaders Off and ProxyPreserveHost On the forwarded head is
predictable byte for byte.
"""
import socket
import time

import pytest

from harden_backend import RawBackend, exchange, statuses

CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
CustomLog @ACCESSLOG@ "%%r %%>s"
LogLevel info
ProxyAddHeaders Off
ProxyPreserveHost On
LimitRequestFields 20
ProxyPass / %s/
"""

H = b"Host: a.test\r\n"

# What the back end answers, by request path.
RESPONSES = {
    # breaker 2: Content-Length named in Connection
    b"/r/conncl": b"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\n"
                  b"Content-Length: 5\r\n\r\nhello",
    # breaker 7: duplicate and list Content-Length
    b"/r/dupcl": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                 b"Content-Length: 3\r\n\r\nabc",
    b"/r/listcl": b"HTTP/1.1 200 OK\r\nContent-Length: 3, 03\r\n\r\nabc",
    # breaker 8: framing field in the response's trailer section
    b"/r/trailer-cl": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\n3\r\nabc\r\n0\r\nContent-Length: 5\r\n\r\n",
    b"/r/trailer-ok": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
    # breaker 19: a body on a response to HEAD
    b"/r/stray": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    # breaker 6: a chunk size above INT64_MAX
    b"/r/bigchunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    b"\r\nffffffffffffffff\r\nabc",
}


def behaviour(backend, conn_index, request_index, head):
    path = head.split(b" ")[1]
    return RESPONSES.get(path, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                               b"\r\nok")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    import conftest
    d = str(tmp_path_factory.mktemp("smuggling2"))
    be = RawBackend(behaviour)
    b = conftest.Balancer(CONF % be.url, d)
    yield b, be
    rc = b.stop()
    be.stop()
    log = b.errors()
    assert "AddressSanitizer" not in log and "runtime error" not in log, log
    assert rc == 0, log


def _run(proxy, data, timeout=3.0):
    b, be = proxy
    before = len(be.all_bytes())
    out = exchange(b.port, data, timeout=timeout)
    time.sleep(0.05)
    return out, be.all_bytes()[before:]


def _log_has(proxy, text, timeout=2.0):
    b, _ = proxy
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in b.errors():
            return True
        time.sleep(0.05)
    return False


# (id, bytes the client sends, status it gets, log text)
REFUSED = [
    # breaker 1: a field named in Connection is dropped by the next hop
    # (RFC 9110 7.6.1); for Content-Length that unframes the body and the
    # body became a second request at the back end. Refused with 400.
    ("conn_names_cl",
     b"POST /a HTTP/1.1\r\n" + H + b"Connection: Content-Length\r\n"
     b"Content-Length: 42\r\n\r\nGET /private/secret HTTP/1.1\r\n"
     b"Host: x\r\n\r\n", 400, "Connection names Content-Length"),
    ("conn_close_names_cl",
     b"POST /a HTTP/1.1\r\n" + H + b"Connection: close, content-length\r\n"
     b"Content-Length: 42\r\n\r\nGET /private/secret HTTP/1.1\r\n"
     b"Host: x\r\n\r\n", 400, "Connection names Content-Length"),
    ("conn_names_te",
     b"POST /a HTTP/1.1\r\n" + H + b"Connection: Transfer-Encoding\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400,
     "Connection names Content-Length or Transfer-Encoding"),
    # breaker 6: chunk sizes above INT64_MAX
    ("chunk_size_16f",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"ffffffffffffffff\r\nabc\r\n0\r\n\r\n", 400, "chunk size too large"),
    ("chunk_size_2_63",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"8000000000000000\r\nabc\r\n0\r\n\r\n", 400, "chunk size too large"),
    # breaker 8: framing and hop-by-hop fields in a trailer section
    ("trailer_cl",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\nX-T: 1\r\nContent-Length: 5\r\n\r\n", 400,
     "hop-by-hop field in trailer section"),
    ("trailer_te",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "hop-by-hop field in trailer section"),
    ("trailer_host",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"0\r\nHost: evil\r\n\r\n", 400, "hop-by-hop field in trailer section"),
    # breaker 8: LimitRequestFields (20 here) counts trailer fields
    ("trailer_count",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"0\r\n" + b"X-T: 1\r\n" * 21 + b"\r\n", 400,
     "too many trailer fields"),
    # breaker 11: Host must be uri-host[:port] (RFC 9112 3.2)
    ("host_space", b"GET /a HTTP/1.1\r\nHost: a b\r\n\r\n", 400,
     "invalid Host value"),
    ("host_slash", b"GET /a HTTP/1.1\r\nHost: a/b@c\r\n\r\n", 400,
     "invalid Host value"),
    ("host_quote", b"GET /a HTTP/1.1\r\nHost: a\"b\r\n\r\n", 400,
     "invalid Host value"),
    # breaker 11: no request-target form has a fragment
    ("fragment", b"GET /a#frag HTTP/1.1\r\n" + H + b"\r\n", 400,
     "fragment (#) in request target"),
]


@pytest.mark.parametrize("name,data,status,log", REFUSED,
                         ids=[c[0] for c in REFUSED])
def test_refused(proxy, name, data, status, log):
    out, got = _run(proxy, data)
    assert statuses(out) == [status], out
    assert b"\r\nConnection: close\r\n" in out, out
    assert got == b"", got
    assert _log_has(proxy, log), proxy[0].errors()


# (id, bytes the client sends, bytes the back end gets)
FORWARDED = [
    # breaker 6: leading zeros do not count toward the size limit
    ("chunk_leading_zeros",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"00000000000000000003\r\nabc\r\n0\r\n\r\n",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"00000000000000000003\r\nabc\r\n0\r\n\r\n"),
    ("chunk_size_int64_max_prefix",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\n\r\n",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\n\r\n"),
    # breaker 7: one Content-Length with the single value
    ("cl_twice",
     b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
     b"Content-Length: 3\r\n\r\nabc",
     b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"),
    ("cl_list",
     b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc",
     b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"),
    # breaker 8: LimitRequestFields trailer fields pass, as they came
    ("trailers_at_limit",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"0\r\n" + b"X-T: 1\r\n" * 20 + b"\r\n",
     b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"0\r\n" + b"X-T: 1\r\n" * 20 + b"\r\n"),
]


@pytest.mark.parametrize("name,data,backend_gets", FORWARDED,
                         ids=[c[0] for c in FORWARDED])
def test_forwarded_exactly(proxy, name, data, backend_gets):
    data = data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    out, got = _run(proxy, data)
    assert statuses(out) == [200], out
    assert got == backend_gets, got


def _pipelined(path):
    """The response to GET path, then to a GET / that closes."""
    return (b"GET " + path + b" HTTP/1.1\r\n" + H + b"\r\n"
            b"GET /next HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")


NEXT = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def test_response_connection_names_cl(proxy):
    """breaker 2: the response keeps its Content-Length; the client
    reads the next response as the next response."""
    out, _ = _run(proxy, _pipelined(b"/r/conncl"))
    assert out == (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
                   NEXT), out


@pytest.mark.parametrize("path", [b"/r/dupcl", b"/r/listcl"])
def test_response_one_content_length(proxy, path):
    """breaker 7: duplicates or a list of one value go out as one
    Content-Length with that value."""
    out, _ = _run(proxy, _pipelined(path))
    assert out == (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" +
                   NEXT), out


def test_response_trailer_framing_field(proxy):
    """breaker 8: a Content-Length in a response's trailer section never
    reaches the client; the connection is closed and the cause logged."""
    out, _ = _run(proxy, b"GET /r/trailer-cl HTTP/1.1\r\n" + H + b"\r\n")
    assert b"Content-Length: 5" not in out, out
    assert _log_has(proxy, "hop-by-hop field in trailer section")


def test_response_trailer_passes(proxy):
    out, _ = _run(proxy, b"GET /r/trailer-ok HTTP/1.1\r\n" + H +
                  b"Connection: close\r\n\r\n")
    assert out == (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                   b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n"
                   b"\r\n"), out


def test_response_chunk_size_too_large(proxy):
    """breaker 6: a response chunk size above INT64_MAX is a bad
    response: 502 (nothing was sent yet)."""
    out, _ = _run(proxy, b"GET /r/bigchunk HTTP/1.1\r\n" + H + b"\r\n")
    assert statuses(out) == [502], out
    assert b"ffffffffffffffff" not in out


def test_response_framing_logged(proxy):
    """breaker 19: a response whose Connection names Content-Length is
    logged with the member's name."""
    _run(proxy, _pipelined(b"/r/conncl"))
    assert _log_has(proxy, "response's Connection names a framing field "
                    "(Content-Length); the framing is kept"), \
        proxy[0].errors()


# ---- Upgrade (breaker 4, 12, 14) -------------------------------------

class TunnelBackend:
    """Answers a request with Upgrade by 101 (its Upgrade: the protocol
    after "/ws-" in the path, websocket for "/ws"), then per path:
    "/ws": reads until the proxy half-closes, answers "BYE after N bytes"
    and closes; "/ws-first": says "hello", half-closes first, then records
    what still comes until the proxy closes. Other requests get 200 ok."""

    def __init__(self):
        import threading
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.after = {}             # path -> bytes received after 101
        self.heads = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        c.settimeout(5)
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, rest = buf.split(b"\r\n\r\n", 1)
            self.heads.append(head + b"\r\n\r\n")
            path = head.split(b" ")[1]
            if path == b"/early":
                # breaker 18: a final answer in the middle of an upload,
                # then close with the body unread (a reset)
                c.sendall(b"HTTP/1.1 413 Content Too Large\r\n"
                          b"Content-Length: 4\r\n\r\nbi")
                time.sleep(0.3)
                c.sendall(b"g!")
                return
            if b"\r\nUpgrade:" not in head:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                          b"Connection: close\r\n\r\nok")
                return
            proto = b"websocket"
            if path.startswith(b"/ws-") and path != b"/ws-first":
                proto = path[4:]
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: " +
                      proto + b"\r\nConnection: Upgrade\r\n\r\n")
            if path == b"/ws-first":
                c.sendall(b"hello")
                c.shutdown(socket.SHUT_WR)
            got = rest
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got += d
            self.after[path] = got
            if path != b"/ws-first":
                c.sendall(b"BYE after %d bytes" % len(got))
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()


@pytest.fixture(scope="module")
def tunnel(tmp_path_factory):
    import conftest
    d = str(tmp_path_factory.mktemp("tunnel"))
    be = TunnelBackend()
    b = conftest.Balancer(CONF % be.url, d)
    yield b, be
    rc = b.stop()
    be.stop()
    log = b.errors()
    assert "AddressSanitizer" not in log and "runtime error" not in log, log
    assert rc == 0, log


UPGRADE = b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
SWITCHED = (b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n")


def _recv_until(s, want, limit=5.0):
    out = b""
    deadline = time.time() + limit
    while want not in out and time.time() < deadline:
        d = s.recv(65536)
        if not d:
            break
        out += d
    return out


def test_h2c_upgrade_not_forwarded(proxy):
    """breaker 4: only websocket is tunnelled; h2c (and the fields its
    Connection names) is dropped and the request goes on as a plain one."""
    out, got = _run(proxy, b"GET /a HTTP/1.1\r\n" + H +
                    b"Connection: Upgrade, HTTP2-Settings, close\r\n"
                    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
                    b"\r\n")
    assert statuses(out) == [200], out
    assert got == b"GET /a HTTP/1.1\r\n" + H + b"\r\n", got


def test_upgrade_list_keeps_websocket_only(proxy):
    out, got = _run(proxy, b"GET /a HTTP/1.1\r\n" + H +
                    b"Connection: Upgrade, close\r\n"
                    b"Upgrade: h2c, WebSocket\r\n\r\n")
    assert statuses(out) == [200], out
    assert got == b"GET /a HTTP/1.1\r\n" + H + UPGRADE + b"\r\n", got


def test_http10_upgrade_ignored(proxy):
    """breaker 14: RFC 9110 7.8, Upgrade from HTTP/1.0 is ignored."""
    out, got = _run(proxy, b"GET /a HTTP/1.0\r\n" + H + UPGRADE + b"\r\n")
    assert statuses(out) == [200], out
    assert got == b"GET /a HTTP/1.1\r\n" + H + b"\r\n", got


def test_101_to_another_protocol_is_502(tunnel):
    """breaker 4: the 101's Upgrade must be the protocol asked for."""
    out = exchange(tunnel[0].port, b"GET /ws-h2c HTTP/1.1\r\n" + H +
                   UPGRADE + b"\r\nPRI * HTTP/2.0\r\n\r\n", timeout=3.0)
    assert statuses(out) == [502], out
    assert _log_has(tunnel, "101 Switching Protocols to h2c, not the "
                    "websocket asked for"), tunnel[0].errors()


def test_tunnel_client_half_close(tunnel):
    """breaker 12: the client's half-close reaches the back end as one,
    and the back end's last words still reach the client."""
    b, be = tunnel
    s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\n" + H + UPGRADE + b"\r\n")
    assert _recv_until(s, b"\r\n\r\n") == SWITCHED
    s.sendall(b"x" * 100)
    time.sleep(0.1)
    s.sendall(b"y" * 10)
    s.shutdown(socket.SHUT_WR)
    out = _recv_until(s, b"<never>")
    s.close()
    assert out == b"BYE after 110 bytes", out


def test_tunnel_backend_half_close(tunnel):
    """breaker 12, the other way: the back end closes first; the client
    sees the end, and what it sends after still reaches the back end."""
    b, be = tunnel
    s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
    s.sendall(b"GET /ws-first HTTP/1.1\r\n" + H + UPGRADE + b"\r\n")
    out = _recv_until(s, b"<never>")
    assert out == SWITCHED + b"hello", out
    s.sendall(b"after the end")
    s.shutdown(socket.SHUT_WR)
    _recv_until(s, b"<never>")
    s.close()
    deadline = time.time() + 3
    while b"/ws-first" not in be.after and time.time() < deadline:
        time.sleep(0.05)
    assert be.after.get(b"/ws-first") == b"after the end", be.after


# ---- answered here, cut short, answered early (breaker 10, 15, 18, 19) --

def test_options_asterisk(proxy):
    """breaker 10: OPTIONS * is about the server: answered 200 with
    Allow, as Apache's core does (ProxyPass maps paths only)."""
    out, got = _run(proxy, b"OPTIONS * HTTP/1.1\r\n" + H +
                    b"Connection: close\r\n\r\n")
    assert statuses(out) == [200], out
    assert b"\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n" in out
    assert out.endswith(b"\r\nContent-Length: 0\r\n"
                        b"Connection: close\r\n\r\n"), out
    assert got == b""


def test_connect_is_405(proxy):
    """breaker 10: not a forward proxy: CONNECT gets 405 with Allow."""
    out, got = _run(proxy, b"CONNECT evil.test:443 HTTP/1.1\r\n"
                    b"Host: evil.test:443\r\n\r\n\x16\x03\x01")
    assert statuses(out) == [405], out
    assert b"\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n" in out
    assert b"\r\nConnection: close\r\n" in out
    assert got == b""
    assert _log_has(proxy, "CONNECT evil.test:443: not a forward proxy; "
                    "answering 405")


def _connection_of(be, start):
    """The bytes of the back-end connection whose first bytes are start."""
    for rec in list(be.received):
        if bytes(rec).startswith(start):
            return bytes(rec)
    return None


def test_body_cut_short_is_400(proxy):
    """breaker 15: the client ends its side before its Content-Length is
    in: 400 (logged as 400 with its cause), and the back-end connection
    that carried the partial request is never used again."""
    b, be = proxy
    s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
    s.sendall(b"POST /cut HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n"
              b"\r\nabc")
    time.sleep(0.2)
    s.shutdown(socket.SHUT_WR)
    out = _recv_until(s, b"<never>")
    s.close()
    assert statuses(out) == [400], out
    assert b"\r\nConnection: close\r\n" in out
    assert _log_has(proxy, "client ended its request body early (3 of its "
                    "10 bytes came")
    deadline = time.time() + 3
    while "POST /cut HTTP/1.1 400" not in b.access() and \
            time.time() < deadline:
        time.sleep(0.05)
    assert "POST /cut HTTP/1.1 400" in b.access(), b.access()
    # the next request never goes on the connection that carried the
    # partial request (an idle one pooled by an earlier test may serve it)
    out, _ = _run(proxy, b"GET /after-cut HTTP/1.1\r\n" + H +
                  b"Connection: close\r\n\r\n")
    assert statuses(out) == [200], out
    cut = _connection_of(be, b"POST /cut ")
    if cut is not None:
        assert b"GET /after-cut " not in cut, cut


def test_stray_body_after_head_response(proxy):
    """breaker 19: a body after a response to HEAD is logged, and that
    back-end connection is not pooled."""
    b, be = proxy
    out, _ = _run(proxy, b"HEAD /r/stray HTTP/1.1\r\n" + H + b"\r\n"
                  b"GET /after-stray HTTP/1.1\r\n" + H +
                  b"Connection: close\r\n\r\n")
    assert out == (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" +
                   NEXT), out
    assert _log_has(proxy, "5 bytes after the end of a 200 response that "
                    "has no body; its connection is closed, not reused")
    assert _connection_of(be, b"GET /after-stray ") is not None, \
        be.received


def test_early_response_during_upload(tunnel):
    """breaker 18: the back end answers 413 while the body still comes,
    then closes: the client gets the whole response, told that the
    connection closes, and no error is logged for a complete response."""
    import threading
    b, be = tunnel
    s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
    s.sendall(b"POST /early HTTP/1.1\r\n" + H +
              b"Content-Length: 10000000\r\n\r\n" + b"x" * 1000)

    def upload():
        end = time.time() + 1.5
        try:
            while time.time() < end:
                s.sendall(b"x" * 16384)
                time.sleep(0.01)
        except OSError:
            pass
    t = threading.Thread(target=upload, daemon=True)
    t.start()
    out = _recv_until(s, b"big!")
    t.join()
    s.close()
    assert out == (b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 4"
                   b"\r\nConnection: close\r\n\r\nbig!"), out
    time.sleep(0.3)
    assert "in the middle of its response" not in b.errors(), b.errors()
