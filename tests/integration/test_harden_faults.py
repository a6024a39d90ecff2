"""Failing back ends (issue 5, part 3): faults a test back end injects,
each with the status the client gets, the attempts the back end saw, and
the log line. Idempotent requests are retried when no response byte came;
a POST whose body was sent is never sent twice; a response cut in the
middle closes the client connection (nothing after it can be mistaken for
the rest).
"""
import socket
import threading
import time

import pytest

from backends import Backend, Client
from conftest import free_port
from harden_backend import (CLOSE, RESET, STALL, RawBackend, exchange,
                            ok_response, statuses)

CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel debug
ProxyTimeout %(timeout)d
<Proxy balancer://fault>
%(members)s
</Proxy>
ProxyPass / balancer://fault/
"""


def conf(backends, timeout=5):
    members = "\n".join("    BalancerMember %s" % b.url for b in backends)
    return CONF % {"members": members, "timeout": timeout}


def get(port, path, extra=b""):
    return exchange(port, b"GET " + path.encode() + b" HTTP/1.1\r\n"
                    b"Host: f.test\r\nConnection: close\r\n" + extra +
                    b"\r\n")


def test_reset_mid_response_closes_the_client(balancer):
    body = b"x" * 1000

    def behaviour(be, conn, n, head):
        # 1000 bytes announced, 400 sent, then a reset
        return (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" +
                body[:400], RESET)
    be = RawBackend(behaviour)
    bal = balancer(conf([be]))
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    # keep-alive request: only the close tells the client it was cut
    s.sendall(b"GET /a HTTP/1.1\r\nHost: f.test\r\n\r\n")
    out = b""
    try:
        while True:
            piece = s.recv(65536)
            if not piece:
                break
            out += piece
    except ConnectionResetError:
        pass
    s.close()
    head, _, got = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), out
    assert b"Content-Length: 1000" in head
    assert got == body[:400]            # what came, uncorrupted; then EOF
    assert be.requests == 1             # response bytes came: no retry
    be.stop()
    assert ("%s: reading the response body" % be.url) in bal.errors()
    assert "closing the client connection in the middle of its response" \
        in bal.errors()


def test_garbage_status_line_502_no_retry(balancer):
    be = RawBackend(lambda *a: b"HTTP/1.1 abc nonsense\r\n\r\n")
    bal = balancer(conf([be]))
    out = get(bal.port, "/g")
    assert statuses(out) == [502], out
    assert be.requests == 1
    be.stop()
    assert "%s: malformed response head" % be.url in bal.errors()
    assert "answering 502" in bal.errors()


def test_repeated_failures_are_logged_once_a_second(balancer):
    """A back end that answers garbage to every request, then no usable
    member at all: each cause is logged at most once a second, not once
    per request (a flood would hide everything else)."""
    be = RawBackend(lambda *a: b"HTTP/1.1 abc nonsense\r\n\r\n")
    bal = balancer(conf([be]))
    start = time.time()
    for i in range(40):
        assert statuses(get(bal.port, "/g%d" % i)) == [502]
    seconds = time.time() - start
    be.stop()
    lines = [l for l in bal.errors().splitlines()
             if "malformed response head" in l]
    assert 1 <= len(lines) <= int(seconds) + 2, lines
    assert "logged at most once a second" in lines[0]


def test_garbage_response_header_502(balancer):
    be = RawBackend(lambda *a: b"HTTP/1.1 200 OK\r\nBad Header: x\r\n"
                    b"Content-Length: 2\r\n\r\nok")
    bal = balancer(conf([be]))
    out = get(bal.port, "/g")
    assert statuses(out) == [502], out
    be.stop()
    assert "%s: malformed response head" % be.url in bal.errors()


def test_response_with_both_lengths_502(balancer):
    """RFC 9112 6.3: a response with Transfer-Encoding and Content-Length
    is a smuggling attempt from the back end: 502, never relayed."""
    be = RawBackend(lambda *a: b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    bal = balancer(conf([be]))
    out = get(bal.port, "/g")
    assert statuses(out) == [502], out
    be.stop()
    assert "%s: malformed response head" % be.url in bal.errors()


def test_stall_past_the_timeout_504(balancer):
    be = RawBackend(lambda *a: STALL)
    bal = balancer(conf([be], timeout=1))
    t0 = time.time()
    out = get(bal.port, "/stall")
    took = time.time() - t0
    assert statuses(out) == [504], out
    assert 0.9 <= took < 3, took
    assert be.requests == 1             # a stall is not retried
    be.stop()
    assert "%s: no response within 1000 ms; answering 504" % be.url \
        in bal.errors()


def test_idle_close_race_get_is_retried_on_a_fresh_connection(balancer):
    """The back end closes a pooled connection just as the next request
    arrives on it (it reads the request, then closes without a byte)."""
    def behaviour(be, conn, n, head):
        return ok_response() if n == 0 else CLOSE
    be = RawBackend(behaviour)
    bal = balancer(conf([be]))
    c = Client(bal.port)
    assert c.request("GET", "/one")[0] == 200
    assert c.request("GET", "/two")[0] == 200
    c.close()
    # /one, /two on the pooled connection (closed), /two on a new one
    assert be.requests == 3
    assert [h.split(b" ")[1] for h in be.heads] == [b"/one", b"/two",
                                                    b"/two"]
    be.stop()
    assert "pooled connection closed by the back end" in bal.errors()
    assert "sending the request again on a new connection" in bal.errors()
    assert "answering 502" not in bal.errors()


def test_idle_close_race_reset_get_is_retried(balancer):
    def behaviour(be, conn, n, head):
        return ok_response() if n == 0 else RESET
    be = RawBackend(behaviour)
    bal = balancer(conf([be]))
    c = Client(bal.port)
    assert c.request("GET", "/one")[0] == 200
    assert c.request("GET", "/two")[0] == 200
    c.close()
    assert be.requests == 3
    be.stop()
    assert "sending the request again on a new connection" in bal.errors()


def test_idle_close_race_post_is_never_sent_twice(balancer):
    def behaviour(be, conn, n, head):
        return ok_response() if n == 0 else CLOSE
    be = RawBackend(behaviour)
    bal = balancer(conf([be]))
    c = Client(bal.port)
    assert c.request("GET", "/one")[0] == 200
    status = c.request("POST", "/post", body=b"data=1")[0]
    c.close()
    assert status == 502
    posts = [h for h in be.heads if h.startswith(b"POST ")]
    assert len(posts) == 1              # its body was sent: not again
    assert be.all_bytes().count(b"data=1") == 1
    be.stop()
    assert "%s: reading the response head: connection closed; " \
        "answering 502" % be.url in bal.errors()


def test_fresh_connection_reset_goes_to_another_member(balancer):
    """A GET whose new connection is reset before any response byte is
    idempotent: the next member serves it."""
    bad = RawBackend(lambda *a: RESET, name="bad")
    good = RawBackend(lambda *a: ok_response(b"good"), name="good")
    bal = balancer(conf([bad, good]))
    for i in range(4):
        out = get(bal.port, "/r%d" % i)
        assert statuses(out) == [200], out
        assert out.endswith(b"good")
    assert bad.requests >= 1
    assert good.requests == 4
    bad.stop()
    good.stop()
    log = bal.errors()
    assert "%s: reading the response head: " % bad.url in log
    assert "before any response byte; attempt 2 goes to %s" % good.url \
        in log


def test_fresh_connection_reset_post_is_not_resent(balancer):
    bad = RawBackend(lambda *a: RESET, name="bad")
    good = RawBackend(lambda *a: ok_response(b"good"), name="good")
    bal = balancer(conf([bad, good]))
    # byrequests: the first request goes to the first member
    out = exchange(bal.port, b"POST /p HTTP/1.1\r\nHost: f.test\r\n"
                   b"Connection: close\r\nContent-Length: 3\r\n\r\nabc")
    assert statuses(out) == [502], out
    assert bad.requests + good.requests == 1
    bad.stop()
    good.stop()


def test_backend_killed_during_load_zero_failures(balancer):
    """Two members; one is stopped (listener and every connection closed)
    in the middle of a bounded load of GETs: no request fails."""
    b1, b2 = Backend("b1"), Backend("b2")
    bal = balancer(conf([b1, b2]))
    failures, done = [], [0]
    lock = threading.Lock()

    def client():
        c = None
        for i in range(250):
            try:
                if c is None:
                    c = Client(bal.port, timeout=10)
                status, headers, _, _ = c.request("GET", "/echo/%d" % i)
                if status != 200:
                    with lock:
                        failures.append(status)
                if headers.get("connection", "") == "close":
                    c.close()
                    c = None
            except (OSError, EOFError, ValueError) as e:
                with lock:
                    failures.append(repr(e))
                c = None
            with lock:
                done[0] += 1
        if c is not None:
            c.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 10
    while done[0] < 300 and time.time() < deadline:
        time.sleep(0.01)
    b1.stop()
    for t in threads:
        t.join(60)
    b2.stop()
    assert done[0] == 1000
    assert failures == [], failures[:10]


TIMEOUT_CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel info
<Proxy balancer://wait>
    BalancerMember %s retry=1
    %s
</Proxy>
ProxyPass / balancer://wait/
"""


def test_balancer_timeout_waits_for_a_usable_member(balancer):
    """timeout= on the balancer: with no usable member the request waits
    (the loop goes on serving others) until one is usable again."""
    dead = "http://127.0.0.1:%d" % free_port()     # refuses connections
    bal = balancer(TIMEOUT_CONF % (dead, "ProxySet timeout=2"))
    # the only member refuses: it goes into error for retry=1 s
    assert statuses(get(bal.port, "/a")) == [503]
    # no member is usable: the request waits; after retry=1 s the member
    # is tried again and refuses again: 503 after about a second
    t0 = time.time()
    out = get(bal.port, "/b")
    took = time.time() - t0
    assert statuses(out) == [503], out
    assert 0.5 <= took < 3, took
    log = bal.errors()
    assert "no usable member; the request waits up to 2000 ms (timeout=)" \
        in log


def test_balancer_timeout_served_when_the_member_recovers(balancer):
    port = free_port()
    bal = balancer(TIMEOUT_CONF % ("http://127.0.0.1:%d" % port,
                                   "ProxySet timeout=5"))
    assert statuses(get(bal.port, "/a")) == [503]     # member in error
    result = {}

    def late_get():
        t0 = time.time()
        result["out"] = get(bal.port, "/b")
        result["took"] = time.time() - t0
    t = threading.Thread(target=late_get)
    t.start()
    time.sleep(0.3)
    # the back end comes up on the member's port while the request waits
    be = RawBackend(lambda *a: ok_response(b"back"), port=port)
    t.join(10)
    assert statuses(result["out"]) == [200], result
    assert result["out"].endswith(b"back")
    assert 0.5 < result["took"] < 4, result
    be.stop()


def test_balancer_without_timeout_answers_503_at_once(balancer):
    dead = "http://127.0.0.1:%d" % free_port()
    bal = balancer(TIMEOUT_CONF % (dead, ""))
    assert statuses(get(bal.port, "/a")) == [503]
    t0 = time.time()
    assert statuses(get(bal.port, "/b")) == [503]
    assert time.time() - t0 < 0.5


# Malformed response heads: each is a 502 for the client, never relayed,
# with a log line naming the member.
BAD_RESPONSES = [
    ("bare_lf", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
    ("obs_fold", b"HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2"
                 b"\r\n\r\nok"),
    ("cl_conflict", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    b"Content-Length: 3\r\n\r\nok"),
    ("cl_bad", b"HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok"),
    ("nul", b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok"),
    ("bare_cr", b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n"
                b"\r\nok"),
    ("status_short", b"HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok"),
    ("version", b"HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ("not_http", b"SSH-2.0-OpenSSH_9.2\r\n\r\n"),
    ("space_colon", b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"),
]


@pytest.mark.parametrize("name,response", BAD_RESPONSES,
                         ids=[b[0] for b in BAD_RESPONSES])
def test_malformed_response_502(balancer, name, response):
    be = RawBackend(lambda *a: (response, CLOSE))
    bal = balancer(conf([be]))
    out = get(bal.port, "/bad")
    assert statuses(out) == [502], out
    assert be.requests == 1
    be.stop()
    assert "%s: malformed response head" % be.url in bal.errors()


def test_bad_chunked_response_body_closes_the_client(balancer):
    """The head was relayed; the body's framing breaks: the client
    connection is closed, nothing more is sent."""
    be = RawBackend(lambda *a: [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                b"chunked\r\n\r\n2\r\nok\r\n",
                                b"zz\r\njunk"])
    bal = balancer(conf([be]))
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    s.sendall(b"GET /c HTTP/1.1\r\nHost: f.test\r\n\r\n")
    out = b""
    try:
        while True:
            piece = s.recv(65536)
            if not piece:
                break
            out += piece
    except ConnectionResetError:
        pass
    s.close()
    assert statuses(out) == [200], out
    assert out.endswith(b"2\r\nok\r\n"), out     # no "zz", no "junk"
    be.stop()
    assert "%s: bad chunked response body" % be.url in bal.errors()


def test_gzip_chunked_response_keeps_its_codings(balancer):
    """Transfer-Encoding: gzip, chunked goes to an HTTP/1.1 client as it
    came; gzip alone (a body until close) too."""
    be = RawBackend(lambda *a: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                    b"gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    bal = balancer(conf([be]))
    out = get(bal.port, "/z")
    assert b"\r\nTransfer-Encoding: gzip, chunked\r\n" in out, out
    assert out.endswith(b"3\r\nabc\r\n0\r\n\r\n")
    be.stop()
    be2 = RawBackend(lambda *a: (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                 b"gzip\r\n\r\nGZIPDATA", CLOSE))
    bal2 = balancer(conf([be2]))
    out = get(bal2.port, "/z")
    assert b"\r\nTransfer-Encoding: gzip\r\n" in out, out
    assert b"Content-Length" not in out
    assert out.endswith(b"\r\n\r\nGZIPDATA")
    be2.stop()


def test_until_close_body_reframed_chunked_for_http11(balancer):
    """A body ended by the back end's close goes to an HTTP/1.1 client
    chunked, and the client's connection stays open for the next one."""
    be = RawBackend(lambda *a: ([b"HTTP/1.1 200 OK\r\n\r\nfirst ",
                                 b"second"], CLOSE))
    bal = balancer(conf([be]))
    c = Client(bal.port)
    for _ in range(2):
        status, headers, body, _ = c.request("GET", "/u")
        assert status == 200
        assert headers.get("transfer-encoding") == "chunked", headers
        assert "connection" not in headers, headers
        assert body == b"first second"
    c.close()
    # HTTP/1.0: as it came, then the connection closes
    out = exchange(bal.port, b"GET /u HTTP/1.0\r\n\r\n")
    assert out.endswith(b"\r\n\r\nfirst second"), out
    assert b"Transfer-Encoding" not in out
    be.stop()


def test_until_close_body_reset_leaves_the_chunked_body_unfinished(balancer):
    be = RawBackend(lambda *a: ([b"HTTP/1.1 200 OK\r\n\r\nsome",
                                 b"more"], RESET))
    bal = balancer(conf([be]))
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    s.sendall(b"GET /u HTTP/1.1\r\nHost: f.test\r\n\r\n")
    out = b""
    try:
        while True:
            piece = s.recv(65536)
            if not piece:
                break
            out += piece
    except ConnectionResetError:
        pass
    s.close()
    assert b"Transfer-Encoding: chunked" in out
    assert out.endswith(b"4\r\nsome\r\n4\r\nmore"), out   # no last chunk
    be.stop()
