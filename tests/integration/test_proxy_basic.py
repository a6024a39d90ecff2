"""The proxy's HTTP/1.1 basics: command line, keep-alive and pooling,
pipelining, header rewriting, bodiless responses, redirects."""
import json
import os
import subprocess

import pytest

from backends import Client, raw_request
from conftest import BIN

CONF = """
Listen 127.0.0.1:@PORT@
ServerName front.example
LogLevel debug
ErrorLog @ERRORLOG@
CustomLog @ACCESSLOG@ "%h \\"%r\\" %>s %b %{{BALANCER_WORKER_NAME}}e %X"
Workers 2
<Proxy balancer://cluster>
{members}
</Proxy>
{extra}
ProxyPass /nothing !
ProxyPass / balancer://cluster/
ProxyPassReverse / balancer://cluster/
"""


def conf(backends, extra="", member_opts=""):
    members = "\n".join("    BalancerMember %s route=r%d %s"
                        % (b.url, i + 1, member_opts)
                        for i, b in enumerate(backends))
    return CONF.format(members=members, extra=extra)


def test_version():
    out = subprocess.run([BIN, "-v"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("balancer version ")


def test_check_ok_and_error(tmp_path):
    good = tmp_path / "good.conf"
    good.write_text("Listen 127.0.0.1:8080\nProxyPass / http://127.0.0.1:9/\n")
    out = subprocess.run([BIN, "-t", "-f", str(good)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "Syntax OK" in out.stdout + out.stderr

    bad = tmp_path / "bad.conf"
    bad.write_text("Listen 127.0.0.1:8080\nNoSuchDirective x\n")
    out = subprocess.run([BIN, "-t", "-f", str(bad)], capture_output=True,
                         text=True)
    assert out.returncode == 1
    assert "%s:2:" % bad in out.stderr


def test_check_warns_about_log_directories(tmp_path):
    conf = tmp_path / "logs.conf"
    conf.write_text("Listen 127.0.0.1:8080\n"
                    "ErrorLog %s/missing/error.log\n"
                    "CustomLog %s/access.log common\n"
                    "ProxyPass / http://127.0.0.1:9/\n" % (tmp_path, tmp_path))
    out = subprocess.run([BIN, "-t", "-f", str(conf)], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "Syntax OK" in out.stdout
    assert "warning: ErrorLog %s/missing/error.log" % tmp_path in out.stderr
    assert "CustomLog" not in out.stderr


def test_missing_file_and_bad_option(tmp_path):
    out = subprocess.run([BIN, "-f", str(tmp_path / "none.conf")],
                         capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr
    out = subprocess.run([BIN, "-x"], capture_output=True, text=True)
    assert out.returncode == 1


def test_keepalive_and_pooled_backend_reuse(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    c = Client(bal.port)
    for i in range(50):
        status, headers, body, _ = c.request("GET", "/echo/%d" % i)
        assert status == 200
        assert json.loads(body)["target"] == "/echo/%d" % i
    c.close()
    assert len(b1.requests) == 50
    # one client connection lands on one worker thread: one back-end
    # connection serves all of its requests
    assert b1.accepts == 1, b1.accepts


def test_pipelined_requests_in_order(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    c = Client(bal.port)
    c.send(b"".join(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i
                    for i in range(20)))
    for i in range(20):
        status, _, body, _ = c.response()
        assert status == 200
        assert json.loads(body)["target"] == "/echo/%d" % i
    c.close()


def test_hop_by_hop_removed_and_forwarded_headers(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    c = Client(bal.port)
    status, headers, body, _ = c.request("GET", "/echo", [
        ("Connection", "keep-alive, X-Private"), ("X-Private", "p"),
        ("Keep-Alive", "300"), ("TE", "trailers"), ("X-Kept", "k"),
        ("X-Forwarded-For", "10.1.1.1")])
    assert status == 200
    got = {k.lower(): v for k, v in json.loads(body)["headers"]}
    for hop in ("connection", "x-private", "keep-alive", "te"):
        assert hop not in got, got
    assert got["x-kept"] == "k"
    assert got["x-forwarded-for"] == "10.1.1.1, 127.0.0.1"
    assert got["x-forwarded-host"] == "front.test"
    assert got["x-forwarded-server"] == "front.example"
    assert got["host"] == "127.0.0.1:%d" % b1.port
    # response hop-by-hop headers (and those its Connection names) removed
    assert "keep-alive" not in headers and "x-hop" not in headers
    assert headers["x-backend"] == "b1"
    c.close()


def test_preserve_host_and_add_headers_off(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1], "ProxyPreserveHost On\nProxyAddHeaders Off"))
    c = Client(bal.port)
    status, _, body, _ = c.request("GET", "/echo")
    got = {k.lower(): v for k, v in json.loads(body)["headers"]}
    assert got["host"] == "front.test"
    assert "x-forwarded-for" not in got
    c.close()


def test_head_204_304_have_no_body(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    c = Client(bal.port)
    for method, path, code in (("HEAD", "/download?size=5000", 200),
                               ("GET", "/status/204", 204),
                               ("GET", "/status/304", 304),
                               ("HEAD", "/chunked?size=100", 200)):
        status, headers, body, n = c.request(method, path)
        assert status == code and n == 0
    # the connection is still in step after them
    status, _, body, _ = c.request("GET", "/echo/after")
    assert status == 200 and json.loads(body)["target"] == "/echo/after"
    c.close()


def test_location_rewritten(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    c = Client(bal.port)
    status, headers, _, _ = c.request("GET", "/redirect")
    assert status == 302
    assert headers["location"] == "http://front.test/target?x=1"
    assert headers["content-location"] == "http://front.test/c"
    assert str(b1.port) not in str(headers)
    c.close()


def test_no_mapping_404_and_bad_request_400(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    c = Client(bal.port)
    status, headers, body, _ = c.request("GET", "/nothing/here")
    assert status == 404 and b"404" in body
    assert int(headers["content-length"]) == len(body)
    c.close()
    out = raw_request(bal.port, b"GET / HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out
    assert b"Connection: close" in out
    assert len(b1.requests) == 0


def test_http10_client(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    out = raw_request(bal.port, b"GET /chunked?size=20000 HTTP/1.0\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"chunked" not in head.lower()
    assert len(body) == 20000


def test_access_log_line(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    c = Client(bal.port)
    c.request("GET", "/echo/logged")
    c.close()
    bal.stop()
    line = [ln for ln in bal.access().splitlines() if "/echo/logged" in ln]
    assert line and " 200 " in line[0] and b1.url in line[0]
    assert line[0].endswith("+")
    assert "no stickysession -> lbmethod byrequests chose %s" % b1.url \
        in bal.errors()


def test_port_in_use_refused(balancer, backends, tmp_path):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    other = tmp_path / "other.conf"
    other.write_text(open(bal.conf).read())
    out = subprocess.run([BIN, "-f", str(other)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 1
    assert "Address already in use" in out.stderr
