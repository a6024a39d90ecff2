"""TLS termination: SSLEngine, SSLProtocol, X-Forwarded-Proto, Secure
sticky cookie, the plain-HTTP virtual host redirecting to HTTPS, large
bodies both ways over TLS, and a client that sends garbage.

The certificate is made at test time by `openssl req`; curl checks it
with --cacert.
"""
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import threading

import pytest

from backends import Backend, pattern_sha256
from conftest import free_port, wait_port

CONF = """
Listen 127.0.0.1:@PORT@ https
Listen 127.0.0.1:{http_port}
ServerName front.example
LogLevel info
ErrorLog @ERRORLOG@
Workers 2
<Proxy balancer://cluster>
    BalancerMember {url} route=r1
    ProxySet stickysession=BALANCEID stickysessioninsert=On
</Proxy>
ProxyPass / balancer://cluster/
ProxyPassReverse / balancer://cluster/

<VirtualHost 127.0.0.1:{http_port}>
    ServerName localhost
    Redirect permanent / https://localhost:@PORT@/
</VirtualHost>

<VirtualHost *:@PORT@>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
    {extra}
</VirtualHost>
"""


@pytest.fixture
def backend():
    b = Backend("b1")
    yield b
    b.stop()


def start(balancer, backend, certs, extra=""):
    http_port = free_port()
    bal = balancer(CONF.format(url=backend.url, http_port=http_port,
                               cert=certs["cert"], key=certs["key"],
                               extra=extra))
    wait_port(http_port, proc=bal.proc)
    bal.http_port = http_port
    return bal


def curl(certs, url, *args):
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert",
                        certs["cert"], "-D", "-", url] + list(args),
                       capture_output=True, timeout=30)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode()


def split(out):
    head, _, body = out.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(lines[0].split()[1]), headers, body


def client_context(certs):
    return ssl.create_default_context(cafile=certs["cert"])


@pytest.mark.parametrize("version", ["--tls-max", "--tlsv1.3"])
def test_curl_gets_the_page(balancer, backend, certs, version):
    bal = start(balancer, backend, certs)
    args = ["--tls-max", "1.2"] if version == "--tls-max" else ["--tlsv1.3"]
    rc, out, err = curl(certs, "https://localhost:%d/echo" % bal.port,
                        *args)
    assert rc == 0, err
    status, headers, body = split(out)
    assert status == 200
    info = json.loads(body)
    seen = {k.lower(): v for k, v in info["headers"]}
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-server"] == "localhost"
    cookie = headers["set-cookie"][0]
    assert cookie.startswith("BALANCEID=")
    assert "; Secure" in cookie
    rc, out, err = run_verbose(certs, bal.port, args)  # names the version
    assert ("TLSv1.2" if version == "--tls-max" else "TLSv1.3") in err


def run_verbose(certs, port, args):
    r = subprocess.run(["curl", "-sS", "-v", "-o", "/dev/null", "--cacert",
                        certs["cert"], "https://localhost:%d/echo" % port]
                       + list(args), capture_output=True, timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_plain_http_gets_x_forwarded_proto_http(balancer, backend, certs):
    """The plain listener's redirect vhost answers; a client's own
    X-Forwarded-Proto is replaced, not trusted."""
    bal = start(balancer, backend, certs)
    rc, out, err = curl(certs, "http://127.0.0.1:%d/a/b?x=1" % bal.http_port,
                        "-H", "X-Forwarded-Proto: https")
    assert rc == 0, err
    status, headers, body = split(out)
    assert status == 301
    assert headers["location"] == ["https://localhost:%d/a/b?x=1" % bal.port]
    assert backend.requests == []


def test_client_cannot_spoof_proto(balancer, backend, certs):
    bal = start(balancer, backend, certs)
    rc, out, err = curl(certs, "https://localhost:%d/echo" % bal.port,
                        "-H", "X-Forwarded-Proto: gopher")
    assert rc == 0, err
    info = json.loads(split(out)[2])
    values = [v for k, v in info["headers"]
              if k.lower() == "x-forwarded-proto"]
    assert values == ["https"]


def test_proxy_pass_reverse_uses_https(balancer, backend, certs):
    bal = start(balancer, backend, certs)
    rc, out, err = curl(certs, "https://localhost:%d/redirect" % bal.port)
    assert rc == 0, err
    status, headers, _ = split(out)
    assert status == 302
    assert headers["location"] == [
        "https://localhost:%d/target?x=1" % bal.port]


def test_tls13_only_refuses_tls12(balancer, backend, certs):
    bal = start(balancer, backend, certs,
                extra="SSLProtocol -all +TLSv1.3")
    rc, out, err = curl(certs, "https://localhost:%d/echo" % bal.port,
                        "--tls-max", "1.2")
    assert rc != 0
    rc, out, err = curl(certs, "https://localhost:%d/echo" % bal.port,
                        "--tlsv1.3")
    assert rc == 0, err
    assert split(out)[0] == 200
    assert "TLS handshake failed" in bal.errors()


def test_cipher_suite_tls12_and_13(balancer, backend, certs):
    bal = start(balancer, backend, certs, extra=(
        "SSLCipherSuite ECDHE-RSA-AES128-GCM-SHA256\n"
        "    SSLCipherSuite TLSv1.3 TLS_CHACHA20_POLY1305_SHA256"))
    ctx = client_context(certs)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", bal.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256"
    ctx = client_context(certs)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection(("127.0.0.1", bal.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.cipher()[0] == "TLS_CHACHA20_POLY1305_SHA256"


def https(certs, port):
    return http.client.HTTPSConnection("localhost", port, timeout=30,
                                       context=client_context(certs))


def test_ten_mib_download_and_upload(balancer, backend, certs):
    bal = start(balancer, backend, certs)
    size = 10 * 1024 * 1024
    conn = https(certs, bal.port)

    conn.request("GET", "/download?size=%d" % size)
    r = conn.getresponse()
    h = hashlib.sha256()
    got = 0
    while True:
        piece = r.read(65536)
        if not piece:
            break
        h.update(piece)
        got += len(piece)
    assert r.status == 200
    assert got == size
    assert h.hexdigest() == pattern_sha256(size)

    data = os.urandom(size)
    conn.request("POST", "/upload", body=data,
                 headers={"Content-Type": "application/octet-stream"})
    r = conn.getresponse()
    info = json.loads(r.read())
    assert r.status == 200
    assert info["body_len"] == size
    assert info["body_sha256"] == hashlib.sha256(data).hexdigest()
    conn.close()


def test_plain_http_on_the_tls_port_gets_400(balancer, backend, certs):
    bal = start(balancer, backend, certs)
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    out = b""
    while True:
        piece = s.recv(4096)
        if not piece:
            break
        out += piece
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out
    assert b"Content-Length: %d" % len(body) in head, out
    assert b"https://" in body


def test_garbage_client_does_not_disturb_others(balancer, backend, certs):
    bal = start(balancer, backend, certs)
    bad = []
    for i in range(5):
        s = socket.create_connection(("127.0.0.1", bal.port), timeout=10)
        # garbage whose first byte is no TLS record type: random bytes
        # starting 0x16 (handshake) can announce a record longer than
        # what follows, and the server then rightly waits for the rest
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" if i % 2 else
                  b"\xff" + os.urandom(299))
        bad.append(s)
    silent = socket.create_connection(("127.0.0.1", bal.port), timeout=10)

    results = []

    def fetch():
        conn = https(certs, bal.port)
        for _ in range(5):
            conn.request("GET", "/echo")
            r = conn.getresponse()
            r.read()
            results.append(r.status)
        conn.close()

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 20
    for s in bad:
        s.settimeout(10)
        try:
            while s.recv(4096):     # an alert, then the close
                pass
        except ConnectionResetError:
            pass
        s.close()
    silent.close()
    log = bal.errors()
    assert "TLS handshake failed" in log
    assert "127.0.0.1:" in log


def test_config_errors(tmp_path, certs):
    from conftest import BIN

    def check(text):
        conf = tmp_path / "bad.conf"
        conf.write_text(text)
        r = subprocess.run([BIN, "-t", "-f", str(conf)],
                           capture_output=True, timeout=30)
        assert r.returncode != 0
        return (r.stdout + r.stderr).decode()

    base = ("Listen 127.0.0.1:8443\nProxyPass / http://127.0.0.1:9/\n"
            "<VirtualHost *:8443>\nSSLEngine on\n")
    out = check(base + "SSLCertificateFile /nonexistent.pem\n"
                "</VirtualHost>\n")
    assert "bad.conf:5: SSLCertificateFile /nonexistent.pem: No such file" \
        in out
    out = check(base + "SSLCertificateFile %s\nSSLCertificateKeyFile %s\n"
                "</VirtualHost>\n" % (certs["cert"], certs["other_key"]))
    assert "bad.conf:6: SSLCertificateKeyFile" in out
    assert "does not match" in out
    out = check(base + "SSLCertificateFile %s\nSSLProtocol +TLSv1.1\n"
                "</VirtualHost>\n" % certs["cert"])
    assert "bad.conf:6: SSLProtocol: TLSv1.1 is not supported" in out
    out = check(base + "</VirtualHost>\n")
    assert "bad.conf:4: SSLEngine On needs an SSLCertificateFile" in out
    out = check("Listen 127.0.0.1:8443 https\n"
                "ProxyPass / http://127.0.0.1:9/\n")
    assert "no <VirtualHost> with SSLEngine On" in out
