"""Client limits (issue 5, part 2): LimitRequestBody, RequestReadTimeout,
KeepAlive, KeepAliveTimeout, MaxKeepAliveRequests, MaxClients, and
running out of file descriptors.
"""
import os
import resource
import socket
import subprocess
import time

import pytest

from conftest import BIN, free_port, stop, wait_port
from harden_backend import RawBackend, exchange, ok_response, statuses

CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel info
Workers 1
%s
ProxyPass / %s/
"""


@pytest.fixture
def backend():
    be = RawBackend(lambda *a: ok_response())
    yield be
    be.stop()


def start(balancer, backend, directives):
    return balancer(CONF % (directives, backend.url))


def read_all(s):
    out = b""
    try:
        while True:
            piece = s.recv(65536)
            if not piece:
                break
            out += piece
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def test_limit_request_body_content_length_413(balancer, backend):
    bal = start(balancer, backend, "LimitRequestBody 10")
    out = exchange(bal.port, b"POST /p HTTP/1.1\r\nHost: l.test\r\n"
                   b"Content-Length: 11\r\n\r\n" + b"x" * 11)
    assert statuses(out) == [413], out
    assert b"Connection: close" in out
    assert backend.requests == 0
    out = exchange(bal.port, b"POST /p HTTP/1.1\r\nHost: l.test\r\n"
                   b"Connection: close\r\nContent-Length: 10\r\n\r\n" +
                   b"x" * 10)
    assert statuses(out) == [200], out
    assert "over LimitRequestBody 10; answering 413" in bal.errors()


def test_limit_request_body_chunked_413(balancer, backend):
    bal = start(balancer, backend, "LimitRequestBody 100")
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    s.sendall(b"POST /p HTTP/1.1\r\nHost: l.test\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    time.sleep(0.1)
    s.sendall(b"c8\r\n" + b"y" * 200 + b"\r\n")
    out = read_all(s)
    s.close()
    assert statuses(out) == [413], out
    assert "larger than LimitRequestBody 100; answering 413" in bal.errors()


def test_header_timeout_408(balancer, backend):
    bal = start(balancer, backend, "RequestReadTimeout header=1")
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    t0 = time.time()
    s.sendall(b"GET / HTTP/1.1\r\nHost: l")
    out = read_all(s)
    took = time.time() - t0
    s.close()
    assert statuses(out) == [408], out
    assert 0.8 < took < 2.5, took
    assert backend.requests == 0
    assert "request head not received in time" in bal.errors()


def test_header_timeout_min_rate_extends_up_to_max(balancer, backend):
    """header=1-3,MinRate=10: each 10 bytes add a second, never past 3 s
    from the accept."""
    bal = start(balancer, backend,
                "RequestReadTimeout header=1-3,MinRate=10")
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=6)
    t0 = time.time()
    s.sendall(b"GET / HTTP/1.1\r\n")          # 16 bytes: +1 s
    time.sleep(1.5)
    s.sendall(b"X-Long: " + b"a" * 40)        # more: capped at 3 s
    out = read_all(s)
    took = time.time() - t0
    s.close()
    assert statuses(out) == [408], out
    assert 2.7 < took < 4, took


def test_body_timeout_408(balancer, backend):
    bal = start(balancer, backend, "RequestReadTimeout header=5 body=1")
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    t0 = time.time()
    s.sendall(b"POST /p HTTP/1.1\r\nHost: l.test\r\nContent-Length: 10\r\n"
              b"\r\nabc")
    out = read_all(s)
    took = time.time() - t0
    s.close()
    assert statuses(out) == [408], out
    assert 0.8 < took < 2.5, took
    assert "RequestReadTimeout body=" in bal.errors()


def test_keepalive_off(balancer, backend):
    bal = start(balancer, backend, "KeepAlive Off")
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: l.test\r\n\r\n")
    out = read_all(s)
    s.close()
    assert statuses(out) == [200]
    assert b"Connection: close" in out


def test_max_keepalive_requests(balancer, backend):
    bal = start(balancer, backend, "MaxKeepAliveRequests 3")
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: l.test\r\n\r\n" * 5)
    out = read_all(s)
    s.close()
    assert statuses(out) == [200, 200, 200], out
    assert out.count(b"Connection: close") == 1


def test_keepalive_timeout(balancer, backend):
    bal = start(balancer, backend, "KeepAliveTimeout 1")
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: l.test\r\n\r\n")
    t0 = time.time()
    out = read_all(s)
    took = time.time() - t0
    s.close()
    assert statuses(out) == [200]
    assert 0.8 < took < 2.5, took


def test_max_clients_queues_the_rest(balancer, backend):
    """MaxClients 3: a fourth connection waits in the listen queue and is
    served when one of the three closes."""
    bal = start(balancer, backend, "MaxClients 3")
    idle = [socket.create_connection(("127.0.0.1", bal.port), timeout=5)
            for _ in range(3)]
    time.sleep(0.2)
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: l.test\r\nConnection: close\r\n\r\n")
    s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        s.recv(100)
    idle[0].close()
    s.settimeout(5)
    t0 = time.time()
    out = read_all(s)
    assert statuses(out) == [200], out
    assert time.time() - t0 < 1.0
    for c in idle[1:] + [s]:
        c.close()


def test_max_clients_config_errors(tmp_path):
    for line, why in (("MaxClients -1", "expected a number"),
                      ("RequestReadTimeout header=x", "expected header"),
                      ("RequestReadTimeout handshake=5", "handshake"),
                      ("RequestReadTimeout header=5-2,MinRate=1",
                       "maximum is below"),
                      ("RequestReadTimeout header=5-9", "needs MinRate"),
                      ("LimitRequestBody 2147483648", "LimitRequestBody"),
                      ("KeepAlive maybe", "On or Off")):
        conf = tmp_path / "c.conf"
        conf.write_text("Listen 127.0.0.1:1\n%s\n" % line)
        r = subprocess.run([BIN, "-t", "-f", str(conf)],
                           capture_output=True, text=True)
        assert r.returncode != 0, line
        assert why in r.stderr, (line, r.stderr)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_file_descriptors_no_busy_loop(tmp_path, backend):
    """With RLIMIT_NOFILE 64 (hard), 100 connections exhaust it: balancer
    pauses accepting (no busy loop: little CPU), logs the error at most
    about once a second, and serves again once connections close."""
    port = free_port()
    log = tmp_path / "error.log"
    conf = tmp_path / "b.conf"
    conf.write_text(CONF.replace("@PORT@", str(port))
                    .replace("@ERRORLOG@", str(log)) % ("", backend.url))

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    proc = subprocess.Popen([BIN, "-f", str(conf)], preexec_fn=low_limit,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    socks = []
    try:
        wait_port(port, proc=proc)
        for _ in range(100):
            socks.append(socket.create_connection(("127.0.0.1", port),
                                                  timeout=5))
        time.sleep(0.3)
        cpu0, t0 = cpu_seconds(proc.pid), time.time()
        for s in socks[-20:]:       # new edges on the listener
            s.sendall(b"G")
        time.sleep(2.0)
        cpu = cpu_seconds(proc.pid) - cpu0
        elapsed = time.time() - t0
        assert cpu < 0.5 * elapsed, (cpu, elapsed)
        for s in socks:
            s.close()
        socks = []
        time.sleep(0.5)
        out = exchange(port, b"GET / HTTP/1.1\r\nHost: l.test\r\n"
                       b"Connection: close\r\n\r\n")
        assert statuses(out) == [200], out
    finally:
        for s in socks:
            s.close()
        assert stop(proc) == 0
    text = log.read_text()
    lines = [l for l in text.splitlines() if "Too many open files" in l]
    assert 1 <= len(lines) <= 5, text


def test_soft_nofile_raised_to_the_hard_limit(tmp_path, backend):
    port = free_port()
    conf = tmp_path / "b.conf"
    conf.write_text(CONF.replace("@PORT@", str(port))
                    .replace("@ERRORLOG@", str(tmp_path / "e.log"))
                    % ("", backend.url))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4096)

    def low_soft():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, want))
    proc = subprocess.Popen([BIN, "-f", str(conf)], preexec_fn=low_soft,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc=proc)
        with open("/proc/%d/limits" % proc.pid) as f:
            line = [l for l in f if l.startswith("Max open files")][0]
        assert line.split()[3:5] == [str(want), str(want)], line
    finally:
        assert stop(proc) == 0
