"""Graceful reload: SIGHUP and `balancer -k graceful` read the configuration
again under load without failing a request or refusing a connection; a
broken file is refused and the old configuration keeps serving; member
state survives; BalancerPersist keeps runtime changes in a state file."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from backends import Client
from conftest import BIN, free_port, wait_port

CONF = """
Listen 127.0.0.1:@PORT@
{listen}
ServerName front.example
LogLevel {level}
ErrorLog @ERRORLOG@
PidFile @DIR@/balancer.pid
CustomLog @ACCESSLOG@ "%r %>s %{{BALANCER_WORKER_NAME}}e %{{BALANCER_ATTEMPTS}}e"
Workers 2
{extra}
<Proxy balancer://cluster>
{members}
    ProxySet lbmethod=byrequests
</Proxy>
ProxyPass / balancer://cluster/
"""

# The load: a second process, a few threads making requests continuously,
# half on keep-alive connections and half on a new connection each, until
# the stop file appears (or 60 s). Prints counts as JSON.
LOAD = r"""
import json, os, socket, sys, threading, time
port, stop_file = int(sys.argv[1]), sys.argv[2]
counts = {"ok": 0, "failed": 0, "refused": 0, "errors": []}
lock = threading.Lock()

def one(sock):
    sock.sendall(b"GET /load HTTP/1.1\r\nHost: front.test\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            raise EOFError("closed before the response head")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ")[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, v = line.split(b":", 1)
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        d = sock.recv(65536)
        if not d:
            raise EOFError("closed in the body")
        rest += d
    return status

def note(key, err=None):
    with lock:
        counts[key] += 1
        if err and len(counts["errors"]) < 20:
            counts["errors"].append(err)

def worker(keep_alive):
    deadline = time.time() + 60
    sock = None
    while not os.path.exists(stop_file) and time.time() < deadline:
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), 10)
        except ConnectionRefusedError as e:
            note("refused", repr(e))
            time.sleep(0.01)
            continue
        try:
            status = one(sock)
            note("ok" if status == 200 else "failed",
                 None if status == 200 else "status %d" % status)
        except Exception as e:
            note("failed", repr(e))
            sock.close()
            sock = None
            continue
        if not keep_alive:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()

threads = [threading.Thread(target=worker, args=(i % 2 == 0,))
           for i in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(counts))
"""


def conf(members, listen="", extra="", level="info"):
    lines = "\n".join("    BalancerMember %s %s" % m for m in members)
    return CONF.format(members=lines, listen=listen, extra=extra,
                       level=level)


def write_conf(bal, text):
    text = text.replace("@PORT@", str(bal.port))
    text = text.replace("@ERRORLOG@", bal.error_log)
    text = text.replace("@ACCESSLOG@", bal.access_log)
    text = text.replace("@DIR@", bal.dir)
    with open(bal.conf, "w") as f:
        f.write(text)


def wait_log(bal, text, count=1, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if bal.errors().count(text) >= count:
            return
        time.sleep(0.02)
    raise AssertionError("%r not logged %d times:\n%s"
                         % (text, count, bal.errors()))


def reload(bal, n):
    """SIGHUP, then wait until generation n is current."""
    bal.proc.send_signal(signal.SIGHUP)
    wait_log(bal, "reloaded (generation %d)" % n)


def get(port, path="/"):
    c = Client(port, timeout=10)
    try:
        return c.request("GET", path)
    finally:
        c.close()


def backend_of(resp):
    return resp[1].get("x-backend")


def test_ten_reloads_under_load(balancer, backends):
    b1, b2, b3 = backends(3)
    conf_a = conf([(b1.url, "route=r1"), (b2.url, "route=r2")])
    conf_b = conf([(b1.url, "route=one loadfactor=3"),
                   (b2.url, "route=r2 loadfactor=2"),
                   (b3.url, "route=r3")])
    bal = balancer(conf_a)
    stop_file = os.path.join(bal.dir, "stop-load")
    load = subprocess.Popen([sys.executable, "-c", LOAD, str(bal.port),
                             stop_file], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)
        for i in range(10):
            before = len(b3.requests)
            write_conf(bal, conf_b if i % 2 == 0 else conf_a)
            reload(bal, i + 2)
            time.sleep(0.2)
            if i % 2 == 0:      # the new member takes work at once
                assert len(b3.requests) > before, i
    finally:
        open(stop_file, "w").close()
        out, err = load.communicate(timeout=60)
    counts = json.loads(out)
    assert counts["ok"] > 100, (counts, err)
    assert counts["failed"] == 0, counts
    assert counts["refused"] == 0, counts
    # The old generations were freed when their last request ended.
    assert get(bal.port)[0] == 200


def test_broken_configuration_is_refused(balancer, backends):
    b1, b2 = backends(2)
    good = conf([(b1.url, "route=r1")])
    bal = balancer(good)
    write_conf(bal, good.replace("ProxyPass /", "ProxyPas /"))
    line = 1 + good.replace("ProxyPass /", "ProxyPas /").split(
        "\n").index("ProxyPas / balancer://cluster/")
    bal.proc.send_signal(signal.SIGHUP)
    cause = "%s:%d: unknown directive 'ProxyPas'" % (bal.conf, line)
    wait_log(bal, "reload refused: " + cause)
    refused = [ln for ln in bal.errors().splitlines() if "reload refused"
               in ln]
    assert "[core:error]" in refused[0], refused
    for _ in range(4):
        r = get(bal.port)
        assert r[0] == 200 and backend_of(r) == "b1"

    # -k graceful checks the file as -t does: refused, exit 1, cause shown.
    k = subprocess.run([BIN, "-k", "graceful", "-f", bal.conf],
                       capture_output=True, text=True, timeout=30)
    assert k.returncode == 1, k
    assert cause in k.stderr, k.stderr

    # A good file: -k graceful signals the instance in the PidFile.
    write_conf(bal, conf([(b2.url, "route=r2")]))
    k = subprocess.run([BIN, "-k", "graceful", "-f", bal.conf],
                       capture_output=True, text=True, timeout=30)
    assert k.returncode == 0, k
    assert "note:" not in k.stderr, k.stderr
    wait_log(bal, "reloaded (generation 2)")
    assert {backend_of(get(bal.port)) for _ in range(4)} == {"b2"}
    with open(os.path.join(bal.dir, "balancer.pid")) as f:
        assert int(f.read()) == bal.proc.pid

    # Another file that finds the same server (same PidFile): the server
    # reads again the file it was started with, as Apache's does, and
    # -k graceful says so instead of letting the caller believe the
    # other file is in force.
    other = os.path.join(bal.dir, "other.conf")
    with open(bal.conf) as f:
        with open(other, "w") as g:
            g.write(f.read())
    k = subprocess.run([BIN, "-k", "graceful", "-f", other],
                       capture_output=True, text=True, timeout=30)
    assert k.returncode == 0, k
    assert ("note: the running balancer read %s again"
            % os.path.realpath(bal.conf)) in k.stderr, k.stderr
    wait_log(bal, "reloaded (generation 3)")

    # A file -t accepts but the running server refuses (a new Listen on a
    # port another process holds): -k graceful waits for the server's
    # word and says so, exit 1; the old configuration keeps serving.
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    try:
        write_conf(bal, conf([(b2.url, "route=r2")], listen=
                             "Listen 127.0.0.1:%d" % held.getsockname()[1]))
        k = subprocess.run([BIN, "-k", "graceful", "-f", bal.conf],
                           capture_output=True, text=True, timeout=30)
    finally:
        held.close()
    assert k.returncode == 1, k
    assert "refused the reload" in k.stderr, k.stderr
    assert "Address already in use" in k.stderr, k.stderr
    assert {backend_of(get(bal.port)) for _ in range(4)} == {"b2"}


def test_member_error_state_survives_reload(balancer, backends):
    b1, b2 = backends(2)
    members = [(b1.url, "route=r1 retry=60"), (b2.url, "route=r2 retry=60")]
    bal = balancer(conf(members))
    b2.stop()
    for _ in range(4):
        assert get(bal.port)[0] == 200
    wait_log(bal, b2.url)
    errors_before = bal.errors().count(b2.url)

    write_conf(bal, conf(members, level="notice"))
    reload(bal, 2)
    for _ in range(6):
        r = get(bal.port)
        assert r[0] == 200 and backend_of(r) == "b1"
    # No request tried b2 again: its error state (and retry time) stayed.
    time.sleep(0.2)
    assert bal.errors().count(b2.url) == errors_before, bal.errors()
    attempts = [ln.split()[-1] for ln in bal.access().splitlines()[-6:]]
    assert attempts == ["1"] * 6, bal.access()


def test_listen_added_and_removed(balancer, backends):
    b1, = backends(1)
    bal = balancer(conf([(b1.url, "")], level="debug"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    extra = sock.getsockname()[1]
    sock.close()

    write_conf(bal, conf([(b1.url, "")], level="debug",
                         listen="Listen 127.0.0.1:%d" % extra))
    reload(bal, 2)
    wait_port(extra, timeout=5)     # opened when the workers wake
    assert get(extra)[0] == 200
    kept = Client(extra)            # in flight across the removal
    assert kept.request("GET", "/")[0] == 200

    write_conf(bal, conf([(b1.url, "")], level="debug"))
    reload(bal, 3)
    deadline = time.time() + 5     # the workers close it when they wake
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", extra), timeout=5).close()
        except ConnectionRefusedError:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("Listen %d still accepts" % extra)
    # The connection whose Listen went serves the request it is on, then
    # closes: a client cannot keep the old configuration alive.
    status, headers = kept.request("GET", "/")[:2]
    assert status == 200
    assert headers.get("connection") == "close", headers
    kept.close()
    assert get(bal.port)[0] == 200
    # Generations no request uses any more are freed while running.
    wait_log(bal, "configuration generation 2 freed")


def test_workers_change_needs_restart(balancer, backends):
    b1, = backends(1)
    bal = balancer(conf([(b1.url, "")]))
    write_conf(bal, conf([(b1.url, "")]).replace("Workers 2", "Workers 3"))
    reload(bal, 2)
    wait_log(bal, "Workers changed from 2 to 3")
    assert get(bal.port)[0] == 200


def state_file(bal):
    return os.path.join(bal.dir, "balancer.state")


def test_balancer_persist_restores_state_unless_the_file_changed(
        balancer, backends, tmp_path):
    b1, b2 = backends(2)
    members = [(b1.url, "route=r1"), (b2.url, "route=r2")]
    text = conf(members, extra="BalancerPersist On")
    bal = balancer(text)
    write_conf(bal, text)
    reload(bal, 2)                  # a reload saves the state
    with open(state_file(bal)) as f:
        state = json.load(f)
    saved = state["balancers"][0]["members"]
    assert [m["url"] for m in saved] == [b1.url, b2.url]
    assert saved[1]["configured"]["route"] == "r2"
    bal.stop()

    # As the manager would have left it: b2 disabled, b1 loadfactor 5.
    saved[1]["status"] = "D"
    saved[0]["loadfactor"] = 5
    with open(state_file(bal), "w") as f:
        json.dump(state, f)
    again = balancer(text.replace("@DIR@", bal.dir), port=bal.port)
    wait_log(again, "2 members restored")
    assert {backend_of(get(again.port)) for _ in range(6)} == {"b1"}
    again.stop()

    # The file changed b2's status= since: the configuration wins for it.
    changed = conf([(b1.url, "route=r1"), (b2.url, "route=r2 status=+I")],
                   extra="BalancerPersist On")
    third = balancer(changed.replace("@DIR@", bal.dir), port=bal.port)
    wait_log(third, "BalancerPersist")
    assert "b2" in {backend_of(get(third.port)) for _ in range(6)}


def test_health_state_survives_reload(balancer, backends):
    b1, b2 = backends(2)
    members = [(b1.url, "route=r1"),
               (b2.url, "route=r2 hcmethod=GET hcuri=/status/500 "
                "hcinterval=1 hcfails=1 hcpasses=1")]
    bal = balancer(conf(members))
    wait_log(bal, "out of rotation")
    write_conf(bal, conf(members, level="notice"))
    bal.proc.send_signal(signal.SIGHUP)
    # From the first request on, before any check of the new generation:
    # a member that failed its checks stays out.
    seen = [backend_of(get(bal.port)) for _ in range(20)]
    wait_log(bal, "reloaded (generation 2)")
    assert set(seen) == {"b1"}, seen
    assert "back in rotation" not in bal.errors()


TLS_CONF = """
Listen 127.0.0.1:@PORT@ https
ServerName front.example
LogLevel {level}
ErrorLog @ERRORLOG@
Workers 2
<Proxy balancer://cluster>
    BalancerMember {url}
</Proxy>
ProxyPass / balancer://cluster/
<VirtualHost *:@PORT@>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
</VirtualHost>
"""


def test_tls_connection_kept_across_reloads(balancer, backends, certs):
    import http.client
    import ssl
    cert, key = certs["cert"], certs["key"]
    b1, = backends(1)
    text = TLS_CONF.format(url=b1.url, cert=cert, key=key, level="info")
    bal = balancer(text)
    ctx = ssl.create_default_context(cafile=cert)
    kept = http.client.HTTPSConnection("localhost", bal.port, timeout=30,
                                       context=ctx)
    for n in range(2, 5):
        kept.request("GET", "/x")
        r = kept.getresponse()
        assert r.status == 200
        seen = json.loads(r.read())["headers"]
        assert ["X-Forwarded-Proto", "https"] in seen, seen
        write_conf(bal, TLS_CONF.format(
            url=b1.url, cert=cert, key=key,
            level="debug" if n % 2 else "info"))
        reload(bal, n)
    kept.request("GET", "/x")
    assert kept.getresponse().status == 200
    kept.close()


@pytest.mark.parametrize("content", [
    "99999999999999999999", "4294967295", "4294967294", "4294967297",
    "-1", "0", "1", "12abc", "", "4194305"])
def test_k_graceful_refuses_a_bad_pid_file(tmp_path, content):
    """A PidFile value that is not a plain pid is refused before any
    kill(2): a wrapped value would signal every process (-1) or a group.
    strace makes any kill a no-op and shows it, so a regression cannot
    signal anything."""
    conf = tmp_path / "k.conf"
    pid = tmp_path / "k.pid"
    conf.write_text("Listen 127.0.0.1:%d\nPidFile %s\n"
                    "ProxyPass / http://127.0.0.1:9/\n" % (free_port(), pid))
    pid.write_text(content + "\n")
    r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=kill",
                        "-e", "inject=kill:retval=0", BIN, "-k", "graceful",
                        "-f", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert "kill(" not in r.stderr, r.stderr
    assert "holds no process id" in r.stderr or \
        "is not a running balancer" in r.stderr, r.stderr
