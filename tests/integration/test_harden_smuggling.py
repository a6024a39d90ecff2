"""Request smuggling and malformed input (issue 5, part 1).

For each case: the exact bytes the client sends, the exact status it gets
(and whether the connection is closed after), and the exact bytes the back
end received: nothing, or one unambiguous request. The back end is a raw
recording socket (harden_backend.RawBackend); ProxyAddHeaders Off and
ProxyPreserveHost On make the forwarded head predictable.
"""
import pytest

from harden_backend import RawBackend, exchange, statuses

CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel info
ProxyAddHeaders Off
ProxyPreserveHost On
ProxyPass /private !
ProxyPass / %s/
"""

H = b"Host: a.test\r\n"

# (id, bytes the client sends, statuses it gets, bytes the back end gets)
# RFC 9112 section references say why each answer is the right one.
CASES = [
    # 6.3 (3): both Content-Length and Transfer-Encoding: a server MAY
    # reject; a proxy must not forward both. We reject with 400.
    ("cl_and_te",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 4\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     [400], b""),
    ("te_and_cl",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
     b"Content-Length: 4\r\n\r\n0\r\n\r\n",
     [400], b""),
    # 6.3 (5): invalid or differing Content-Length values: 400.
    ("cl_conflicting",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
     b"Content-Length: 4\r\n\r\nabcd",
     [400], b""),
    ("cl_sign", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: +3\r\n\r\nabc",
     [400], b""),
    ("cl_negative",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", [400], b""),
    ("cl_hex", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 0x3\r\n\r\nabc",
     [400], b""),
    ("cl_huge",
     b"POST /x HTTP/1.1\r\n" + H +
     b"Content-Length: 99999999999999999999999\r\n\r\n", [400], b""),
    # 6.1: a request whose final coding is not chunked: 400 and close.
    ("te_gzip_only",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nab",
     [400], b""),
    ("te_chunked_then_gzip",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n"
     b"\r\n0\r\n\r\n", [400], b""),
    # 6.1: a coding the server does not understand: 501.
    ("te_gzip_chunked",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n"
     b"\r\n0\r\n\r\n", [501], b""),
    ("te_chunked_twice",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", [400], b""),
    ("te_obfuscated",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n"
     b"\r\n0\r\n\r\n", [400], b""),
    # 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    ("te_http10",
     b"POST /x HTTP/1.0\r\n" + H + b"Transfer-Encoding: chunked\r\n"
     b"\r\n0\r\n\r\n", [400], b""),
    # 5.2: obs-fold in a request: 400 (or replace; we refuse).
    ("obs_fold",
     b"GET /x HTTP/1.1\r\n" + H + b"X-A: 1\r\n  folded\r\n\r\n", [400], b""),
    ("obs_fold_te",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n chunked\r\n"
     b"\r\n0\r\n\r\n", [400], b""),
    # 2.2: bare CR: reject (400).
    ("bare_cr_value",
     b"GET /x HTTP/1.1\r\n" + H + b"X-A: 1\r2\r\n\r\n", [400], b""),
    ("bare_cr_line",
     b"GET /x HTTP/1.1\r" + H + b"\r\n", [400], b""),
    # 2.2: a bare LF may be accepted; we refuse it everywhere, the same in
    # the request line, fields and the end of the head.
    ("bare_lf_request_line", b"GET /x HTTP/1.1\n" + H + b"\r\n", [400], b""),
    ("bare_lf_field", b"GET /x HTTP/1.1\r\nHost: a.test\n\r\n", [400], b""),
    ("bare_lf_end", b"GET /x HTTP/1.1\r\n" + H + b"\n", [400], b""),
    # 5.1: whitespace between the field name and the colon: 400.
    ("space_before_colon",
     b"GET /x HTTP/1.1\r\nHost : a.test\r\n\r\n", [400], b""),
    ("te_space_before_colon",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n"
     b"Content-Length: 3\r\n\r\nabc", [400], b""),
    ("tab_before_colon",
     b"GET /x HTTP/1.1\r\n" + H + b"X-A\t: 1\r\n\r\n", [400], b""),
    ("leading_space_field",
     b"GET /x HTTP/1.1\r\n X-A: 1\r\n" + H + b"\r\n", [400], b""),
    # 7.1: chunk sizes and extensions.
    ("chunk_size_not_hex",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"zz\r\nab\r\n0\r\n\r\n", [400], b""),
    ("chunk_size_overflow",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"10000000000000001\r\nab\r\n0\r\n\r\n", [400], b""),
    ("chunk_size_space",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"2 2\r\nab\r\n0\r\n\r\n", [400], b""),
    ("chunk_ext_bad",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"2;a=\"b\r\nab\r\n0\r\n\r\n", [400], b""),
    ("chunk_data_no_crlf",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"2\r\nabcd\r\n0\r\n\r\n", [400], b""),
    ("chunk_lf_only",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"2\nab\n0\n\n", [400], b""),
    ("chunk_ext_long",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"2;" + b"a" * 20000 + b"\r\nab\r\n0\r\n\r\n", [400], b""),
    ("chunk_ext_many",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"2" + b";a=b" * 3000 + b"\r\nab\r\n0\r\n\r\n", [400], b""),
    ("trailer_long",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"2\r\nab\r\n0\r\nX: " + b"a" * 20000 + b"\r\n\r\n", [400], b""),
    ("te_empty",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: \r\n\r\n", [400],
     b""),
    ("te_leading_comma",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: ,chunked\r\n\r\n"
     b"0\r\n\r\n", [400], b""),
    ("cl_empty",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: \r\n\r\n", [400], b""),
    # 5.5: NUL and other controls in field values: 400.
    ("nul_in_value", b"GET /x HTTP/1.1\r\n" + H + b"X-A: a\0b\r\n\r\n",
     [400], b""),
    ("ctl_in_value", b"GET /x HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n",
     [400], b""),
    ("del_in_value", b"GET /x HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n",
     [400], b""),
    ("ctl_in_name", b"GET /x HTTP/1.1\r\n" + H + b"X\x01A: b\r\n\r\n",
     [400], b""),
    # 3: request line: method is a token, target has no spaces or
    # controls, version is HTTP/1.0 or HTTP/1.1 (2.x: 505).
    ("method_bad_char", b"G(T /x HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
    ("method_empty", b" /x HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
    ("target_space", b"GET /x y HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
    ("target_ctl", b"GET /x\x01y HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
    ("target_relative", b"GET x HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
    ("target_asterisk_get", b"GET * HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
    ("target_nul", b"GET /x\0 HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
    ("http09", b"GET /x\r\n\r\n", [400], b""),
    ("host_space", b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n", [400], b""),
    ("version_lower", b"GET /x http/1.1\r\n" + H + b"\r\n", [400], b""),
    ("version_two", b"GET /x HTTP/2.0\r\n" + H + b"\r\n", [505], b""),
    ("version_junk", b"GET /x HTTP/1.1x\r\n" + H + b"\r\n", [400], b""),
    ("two_spaces", b"GET  /x HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
    # 3.2: HTTP/1.1 needs exactly one Host.
    ("no_host", b"GET /x HTTP/1.1\r\n\r\n", [400], b""),
    ("two_hosts", b"GET /x HTTP/1.1\r\n" + H + b"Host: b.test\r\n\r\n",
     [400], b""),
    # Oversized request line (414) and head (431).
    ("long_line", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n",
     [414], b""),
    ("long_field", b"GET /x HTTP/1.1\r\n" + H + b"X-A: " + b"a" * 9000 +
     b"\r\n\r\n", [431], b""),
    ("many_fields", b"GET /x HTTP/1.1\r\n" + H +
     b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n", [431], b""),
    # Dot segments (RFC 3986 5.2.4) cannot pass "ProxyPass /private !",
    # nor climb above the root.
    ("dots_into_excluded", b"GET /x/../private HTTP/1.1\r\n" + H +
     b"Connection: close\r\n\r\n", [404], b""),
    ("encoded_dots_into_excluded",
     b"GET /x/%2e%2E/private/a HTTP/1.1\r\n" + H +
     b"Connection: close\r\n\r\n", [404], b""),
    ("dots_above_root", b"GET /../x HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
    ("absolute_userinfo",
     b"GET http://u@b.test/x HTTP/1.1\r\n" + H + b"\r\n", [400], b""),
]

# Requests that are fine: what the back end receives, exactly.
FORWARDED = [
    ("plain", b"GET /x HTTP/1.1\r\n" + H + b"\r\n",
     b"GET /x HTTP/1.1\r\n" + H + b"\r\n"),
    ("dots_removed", b"GET /a/./b/../c?q=/../ HTTP/1.1\r\n" + H + b"\r\n",
     b"GET /a/c?q=/../ HTTP/1.1\r\n" + H + b"\r\n"),
    # 3.2.2: absolute-form: the target's authority is the Host.
    ("absolute_form",
     b"GET http://b.test:8080/y/z?q HTTP/1.1\r\n" + H + b"\r\n",
     b"GET /y/z?q HTTP/1.1\r\nHost: b.test:8080\r\n\r\n"),
    ("absolute_form_no_path",
     b"GET http://b.test HTTP/1.1\r\n" + H + b"\r\n",
     b"GET / HTTP/1.1\r\nHost: b.test\r\n\r\n"),
    ("chunked_body",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
     b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"),
    # RFC 9110 8.6: identical duplicate Content-Length values may be
    # taken as one; the back end gets exactly one field.
    ("cl_duplicate_same",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
     b"Content-Length: 3\r\n\r\nabc",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"),
    ("cl_list",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"),
    ("length_body",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc",
     b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"),
    # hop-by-hop fields named in Connection are not passed on
    ("connection_listed",
     b"GET /x HTTP/1.1\r\n" + H + b"Connection: X-Secret\r\n"
     b"X-Secret: 1\r\nKeep-Alive: 5\r\n\r\n",
     b"GET /x HTTP/1.1\r\n" + H + b"\r\n"),
]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """One back end and one balancer for the whole module (each case opens
    its own client connection and looks at the back end's new bytes)."""
    import conftest
    d = str(tmp_path_factory.mktemp("smuggling"))
    be = RawBackend()
    b = conftest.Balancer(CONF % be.url, d)
    yield b, be
    rc = b.stop()
    be.stop()
    log = b.errors()
    assert "AddressSanitizer" not in log and "runtime error" not in log, log
    assert rc == 0, log


def _run(proxy, data):
    b, be = proxy
    before = len(be.all_bytes())
    out = exchange(b.port, data, timeout=3.0)
    return out, be.all_bytes()[before:]


@pytest.mark.parametrize("name,data,want,backend_gets", CASES,
                         ids=[c[0] for c in CASES])
def test_refused(proxy, name, data, want, backend_gets):
    out, got = _run(proxy, data)
    assert statuses(out) == want, out
    assert b"\r\nConnection: close\r\n" in out, out
    assert got == backend_gets, got


@pytest.mark.parametrize("name,data,backend_gets", FORWARDED,
                         ids=[c[0] for c in FORWARDED])
def test_forwarded_exactly(proxy, name, data, backend_gets):
    # Connection: close so that exchange returns at once
    data = data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    out, got = _run(proxy, data)
    assert statuses(out) == [200], out
    assert got == backend_gets, got


def test_pipelined_requests_stay_separate(proxy):
    """A body that looks like a request is a body; the request after it
    is one more request, never merged."""
    inner = b"GET /smuggled HTTP/1.1\r\n\r\n"
    cl = b"Content-Length: %d\r\n\r\n" % len(inner)
    data = (b"POST /a HTTP/1.1\r\n" + H + cl + inner +
            b"GET /b HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    out, got = _run(proxy, data)
    assert statuses(out) == [200, 200], out
    assert got == (b"POST /a HTTP/1.1\r\n" + H + cl + inner +
                   b"GET /b HTTP/1.1\r\n" + H + b"\r\n"), got


def test_error_then_nothing_more_is_read(proxy):
    """After a framing error the connection is closed: a request behind
    it in the same packet never reaches the back end."""
    data = (b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 1\r\n"
            b"Content-Length: 2\r\n\r\nx"
            b"GET /after HTTP/1.1\r\n" + H + b"\r\n")
    out, got = _run(proxy, data)
    assert statuses(out) == [400], out
    assert got == b""
