"""Shared fixtures for the integration tests.

Every test starts the real binary (build/balancer, or $BALANCER_BIN such as
the ASan build) on a free loopback port in front of back ends it starts
itself, and stops every process it started by its PID.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, os.environ.get("BALANCER_BIN", "build/balancer"))
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s" % proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d did not open" % port)


def stop(proc, timeout=10):
    """Stop a process we started: SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


class Balancer:
    """A running build/balancer with its configuration and logs."""

    def __init__(self, conf_text, tmpdir, port=None):
        self.port = port or free_port()
        self.dir = tmpdir
        self.error_log = os.path.join(tmpdir, "error.log")
        self.access_log = os.path.join(tmpdir, "access.log")
        text = conf_text.replace("@PORT@", str(self.port))
        text = text.replace("@ERRORLOG@", self.error_log)
        text = text.replace("@ACCESSLOG@", self.access_log)
        text = text.replace("@DIR@", tmpdir)
        self.conf = os.path.join(tmpdir, "balancer.conf")
        with open(self.conf, "w") as f:
            f.write(text)
        self.stderr = open(os.path.join(tmpdir, "stderr.log"), "w")
        self.proc = subprocess.Popen([BIN, "-f", self.conf],
                                     stdout=self.stderr, stderr=self.stderr)
        wait_port(self.port, proc=self.proc)
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        rc = stop(self.proc, timeout=15)
        self.stderr.close()
        return rc

    def errors(self):
        out = ""
        for p in (self.error_log, os.path.join(self.dir, "stderr.log")):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += f.read()
        return out

    def access(self):
        if not os.path.exists(self.access_log):
            return ""
        with open(self.access_log, errors="replace") as f:
            return f.read()


@pytest.fixture
def balancer(tmp_path):
    """balancer(conf_text) starts one; all are stopped after the test.

    The ASan build must exit cleanly: a sanitizer report fails the test.
    """
    started = []

    def start(conf_text, port=None):
        d = tempfile.mkdtemp(dir=str(tmp_path))
        b = Balancer(conf_text, d, port)
        started.append(b)
        return b

    yield start
    for b in started:
        rc = b.stop()
        log = b.errors()
        assert "ERROR: AddressSanitizer" not in log, log
        assert "runtime error:" not in log, log
        assert rc == 0, "balancer exited with %s\n%s" % (rc, log)


class PhpBackend:
    """php -S on a free port, serving docroot, with its own session dir."""

    def __init__(self, docroot, tmpdir, name, shared_dir=None, port=None):
        self.port = port or free_port()
        self.name = name
        self.sessions = os.path.join(tmpdir, "sessions-" + name)
        os.makedirs(self.sessions, exist_ok=True)
        env = dict(os.environ)
        env["BACKEND_NAME"] = name
        if shared_dir:
            env["SHARED_DIR"] = shared_dir
        self.log = open(os.path.join(tmpdir, "php-%s.log" % name), "w")
        self.proc = subprocess.Popen(
            ["php", "-S", "127.0.0.1:%d" % self.port, "-t", docroot,
             "-d", "session.save_path=" + self.sessions,
             "-d", "variables_order=EGPCS"],
            stdout=self.log, stderr=self.log, env=env)
        wait_port(self.port, proc=self.proc)
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        stop(self.proc)
        self.log.close()


@pytest.fixture
def backends():
    """backends(n, **kw) starts n scripted back ends (backends.Backend)
    named b1..bn; all are stopped after the test."""
    from backends import Backend

    started = []

    def start(n=1, **kw):
        out = [Backend("b%d" % (i + 1), **kw) for i in range(n)]
        started.extend(out)
        return out
    yield start
    for b in started:
        b.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A self-signed certificate for CN=localhost (cert, key), and a
    second key (other_key)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=localhost", "-days", "1",
                    "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    other = str(d / "other.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                    "-pkeyopt", "rsa_keygen_bits:2048", "-out", other],
                   check=True, capture_output=True)
    return {"cert": cert, "key": key, "other_key": other}


@pytest.fixture
def php_backends(tmp_path):
    """php_backends(n) starts n PHP back ends running examples/app."""
    started = []
    shared = os.path.join(str(tmp_path), "shared")
    os.makedirs(shared, exist_ok=True)

    def start(n=2):
        out = []
        for i in range(1, n + 1):
            b = PhpBackend(os.path.join(ROOT, "examples", "app"),
                           str(tmp_path), "server%d" % i, shared)
            started.append(b)
            out.append(b)
        return out

    yield start
    for b in started:
        b.stop()


# --- PHP demo application with per-back-end options (test_sticky_php) ---

class PhpAppBackend(PhpBackend):
    """php -S running examples/app, with extra environment.

    set_route=True gives it SET_BALANCEID_ROUTE=<name>: the app then sends
    BALANCEID=balancer.<name> on every response, as the guide's
    RewriteRule .* - [CO=BALANCEID:balancer.serverX:...] does.
    """

    def __init__(self, tmpdir, name, shared_dir, set_route=False, port=None):
        self.port = port or free_port()
        self.name = name
        self.sessions = os.path.join(tmpdir, "sessions-" + name)
        os.makedirs(self.sessions, exist_ok=True)
        env = dict(os.environ)
        env["BACKEND_NAME"] = name
        env["SHARED_DIR"] = shared_dir
        env.pop("SET_BALANCEID_ROUTE", None)
        if set_route:
            env["SET_BALANCEID_ROUTE"] = name
        self.log = open(os.path.join(tmpdir, "php-%s.log" % name), "w")
        self.proc = subprocess.Popen(
            ["php", "-S", "127.0.0.1:%d" % self.port,
             "-t", os.path.join(ROOT, "examples", "app"),
             "-d", "session.save_path=" + self.sessions,
             "-d", "variables_order=EGPCS"],
            stdout=self.log, stderr=self.log, env=env)
        wait_port(self.port, proc=self.proc)
        self.url = "http://127.0.0.1:%d" % self.port


@pytest.fixture
def php_app(tmp_path):
    """php_app(n=2, set_route=False) starts n back ends server1..n running
    examples/app, sharing one upload directory; stopped after the test."""
    started = []
    shared = os.path.join(str(tmp_path), "shared-app")
    os.makedirs(shared, exist_ok=True)

    def start(n=2, set_route=False):
        out = []
        for i in range(1, n + 1):
            d = tempfile.mkdtemp(dir=str(tmp_path))
            b = PhpAppBackend(d, "server%d" % i, shared, set_route)
            started.append(b)
            out.append(b)
        return out

    yield start
    for b in started:
        b.stop()
