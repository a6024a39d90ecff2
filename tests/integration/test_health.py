"""Active health checks, passive signals, slow start and the state-change
log (issue 3, item 1).

Each test runs its own small back ends (below) that answer health checks
on /hc and user requests on any other path, count them apart, and can be
switched to answer 500. Every wait is bounded; no timing is asserted
beyond the configured intervals.
"""
import re
import socket
import threading
import time
import urllib.error
import urllib.request

from conftest import free_port


class Backend:
    """A keep-alive HTTP/1.1 back end on 127.0.0.1 with a switchable
    status. Counts user requests (any path but /hc) after the last switch,
    health-check requests, and its open connections."""

    def __init__(self, name):
        self.name = name
        self.status = 200
        self.user_after_switch = 0
        self.user = 0
        self.hc = 0
        self.open_conns = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def set_status(self, status):
        with self.lock:
            self.status = status
            self.user_after_switch = 0

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        with self.lock:
            self.open_conns += 1
        buf = b""
        try:
            conn.settimeout(30)
            while self.running:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                line = head.split(b"\r\n")[0].decode()
                method, target, version = line.split(" ")
                close = (version == "HTTP/1.0"
                         or b"connection: close" in head.lower())
                with self.lock:
                    if target.startswith("/hc"):
                        self.hc += 1
                    else:
                        self.user += 1
                        self.user_after_switch += 1
                    status = self.status
                body = ("%s %s\n" % (self.name, status)).encode()
                out = ("HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n"
                       % (status, len(body),
                          "Connection: close\r\n" if close else ""))
                conn.sendall(out.encode()
                             + (b"" if method == "HEAD" else body))
                if close:
                    return
        except OSError:
            return
        finally:
            with self.lock:
                self.open_conns -= 1
            conn.close()

    def stop(self):
        self.running = False
        self.sock.close()


def get(url, timeout=5):
    """(status, body) of a GET; a new connection each time."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(pred, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel warn
Workers 2
%(extra)s
<Proxy balancer://app>
%(members)s
%(set)s
</Proxy>
ProxyPass / balancer://app/
"""


def conf(members, extra="", proxyset=""):
    return CONF % {"members": "\n".join(members), "extra": extra,
                   "set": proxyset}


def test_failing_member_leaves_before_users_and_returns(balancer):
    a, b = Backend("a"), Backend("b")
    try:
        lb = balancer(conf([
            "BalancerMember %s hcmethod=GET hcuri=/hc hcinterval=1 "
            "hcfails=2 hcpasses=2" % a.url,
            "BalancerMember %s hcmethod=GET hcuri=/hc hcinterval=1 "
            "hcfails=2 hcpasses=2" % b.url]))
        assert wait_for(lambda: a.hc >= 1 and b.hc >= 1, 5)
        seen = {get(lb.url + "/x")[1].split()[0] for _ in range(6)}
        assert seen == {"a", "b"}

        # a turns bad; no user request is sent in the meantime, so the
        # checks alone must take it out within hcinterval x hcfails.
        a.set_status(500)
        t0 = time.time()
        assert wait_for(lambda: "out of rotation" in lb.errors(), 4)
        assert time.time() - t0 <= 2 * 1 + 1.5
        for _ in range(20):
            status, body = get(lb.url + "/y")
            assert status == 200 and body.startswith("b"), body
        assert a.user_after_switch == 0

        # Back after hcpasses good checks.
        a.set_status(200)
        assert wait_for(lambda: "back in rotation" in lb.errors(), 5)
        seen = {get(lb.url + "/z")[1].split()[0] for _ in range(6)}
        assert seen == {"a", "b"}

        log = lb.errors()
        down = [l for l in log.splitlines() if "out of rotation" in l]
        up = [l for l in log.splitlines() if "back in rotation" in l]
        assert len(down) == 1 and len(up) == 1, log
        assert a.url in down[0] and "status 500" in down[0], down[0]
        assert "failed 2 health checks" in down[0]
        assert "1 of 2 members usable" in down[0], down[0]
        assert "2 health checks passed" in up[0], up[0]
        assert "2 of 2 members usable" in up[0], up[0]
        assert b.url not in log
    finally:
        a.stop()
        b.stop()


def test_tcp_check_against_closed_port(balancer):
    b = Backend("b")
    closed = free_port()
    try:
        lb = balancer(conf([
            "BalancerMember http://127.0.0.1:%d" % closed,
            "BalancerMember %s" % b.url],
            proxyset="ProxySet hcmethod=TCP hcinterval=1"))
        assert wait_for(lambda: "out of rotation" in lb.errors(), 4)
        line = [l for l in lb.errors().splitlines()
                if "out of rotation" in l][0]
        assert "127.0.0.1:%d" % closed in line
        assert "TCP connect: connection refused" in line, line
        for _ in range(10):
            status, body = get(lb.url + "/x")
            assert status == 200 and body.startswith("b")
        # TCP checks send nothing: the live member saw no check request.
        assert b.hc == 0
        assert "connection refused" not in lb.access()
    finally:
        b.stop()


def test_expressions_and_expect_status(balancer):
    a, b = Backend("a"), Backend("b")
    try:
        lb = balancer(conf([
            "BalancerMember %s hcexpr=ok23" % a.url,
            "BalancerMember %s hcexpr=teapot" % b.url],
            extra="ProxyHCExpr ok23 {%{REQUEST_STATUS} =~ /^[23]/}\n"
                  "ProxyHCExpectStatus teapot 200-299,418\n"
                  "ProxyHCTemplate t hcmethod=HEAD hcuri=/hc hcinterval=1",
            proxyset="ProxySet hctemplate=t"))
        a.set_status(404)
        b.set_status(418)
        assert wait_for(lambda: "out of rotation" in lb.errors(), 4)
        time.sleep(1.2)
        log = lb.errors()
        assert "status 404 failed hcexpr ok23" in log, log
        assert b.url not in log
        status, body = get(lb.url + "/x")
        assert status == 418
    finally:
        a.stop()
        b.stop()


def test_bad_expressions_refused(tmp_path):
    import subprocess
    from conftest import BIN
    cases = [
        ("ProxyHCExpr x {%{CONTENT_TYPE} =~ /json/}", "REQUEST_STATUS"),
        ("ProxyHCExpr x {hc('body') =~ /ok/}", "hc('body')"),
        ("ProxyHCExpr x {%{REQUEST_STATUS} -foo 3}", "expected =~"),
        ("ProxyHCExpectStatus x 200-abc", "expected status codes"),
        ("ProxyHCTemplate t hcmethod=PROVIDER", "hcmethod"),
    ]
    for line, cause in cases:
        p = tmp_path / "c.conf"
        p.write_text("Listen 127.0.0.1:1\n%s\nProxyPass / http://127.0.0.1:2/\n"
                     % line)
        r = subprocess.run([BIN, "-t", "-f", str(p)], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode != 0, line
        assert cause in r.stderr + r.stdout, (line, r.stderr)
    p = tmp_path / "c.conf"
    p.write_text("Listen 127.0.0.1:1\nProxyPass / http://127.0.0.1:2/ "
                 "hcexpr=nope\n")
    r = subprocess.run([BIN, "-t", "-f", str(p)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode != 0 and "ProxyHCExpr" in r.stderr, r.stderr


def test_passive_failure_checks_at_once(balancer):
    """failonstatus puts a member in error; with checks configured a good
    check brings it back long before retry=60 would."""
    a, b = Backend("a"), Backend("b")
    try:
        lb = balancer(conf([
            "BalancerMember %s hcmethod=GET hcuri=/hc hcinterval=30" % a.url,
            "BalancerMember %s hcmethod=GET hcuri=/hc hcinterval=30" % b.url],
            proxyset="ProxySet failonstatus=503"))
        assert wait_for(lambda: a.hc >= 1 and b.hc >= 1, 5)
        a.set_status(503)
        for _ in range(4):
            get(lb.url + "/x")
        assert wait_for(lambda: "error state" in lb.errors(), 3)
        a.set_status(200)
        hc_before = a.hc
        # The next check is due in 30 s; the passive failure asks for one
        # at once, and its pass clears the error state.
        assert wait_for(lambda: "back in rotation" in lb.errors(), 3), \
            lb.errors()
        assert a.hc > hc_before
        seen = {get(lb.url + "/z")[1].split()[0] for _ in range(6)}
        assert seen == {"a", "b"}
    finally:
        a.stop()
        b.stop()


def test_pooled_connections_closed_when_down(balancer):
    a, b = Backend("a"), Backend("b")
    try:
        lb = balancer(conf([
            "BalancerMember %s hcmethod=GET hcuri=/hc hcinterval=1" % a.url,
            "BalancerMember %s hcmethod=GET hcuri=/hc hcinterval=1" % b.url]))
        assert wait_for(lambda: a.hc >= 1, 5)
        for _ in range(8):
            get(lb.url + "/x")
        # The proxy keeps idle keep-alive connections to a.
        assert wait_for(lambda: a.open_conns >= 1, 2)
        a.set_status(500)
        assert wait_for(lambda: "out of rotation" in lb.errors(), 4)
        # Each worker drops them on its next sweep (once a second).
        assert wait_for(lambda: a.open_conns == 0, 3), a.open_conns
    finally:
        a.stop()
        b.stop()


def test_slow_start_share_ramps_up(balancer):
    a, b = Backend("a"), Backend("b")
    try:
        lb = balancer(conf([
            "BalancerMember %s slowstart=4" % a.url,
            "BalancerMember %s" % b.url],
            proxyset="ProxySet hcmethod=GET hcuri=/hc hcinterval=1"))
        assert wait_for(lambda: a.hc >= 1, 5)
        a.set_status(500)
        assert wait_for(lambda: "out of rotation" in lb.errors(), 4)
        a.set_status(200)
        assert wait_for(lambda: "back in rotation" in lb.errors(), 4)
        t_up = time.time()

        # First second of the 4 s window: a's factor is 10% .. 32%.
        early = [get(lb.url + "/x")[1].split()[0] for _ in range(40)]
        assert time.time() - t_up < 4, "too slow to sample the window"
        wait_for(lambda: False, max(0.0, 4.2 - (time.time() - t_up)))
        late = [get(lb.url + "/x")[1].split()[0] for _ in range(40)]
        share_early = early.count("a") / len(early)
        share_late = late.count("a") / len(late)
        assert share_early < share_late, (share_early, share_late)
        assert 0.4 <= share_late <= 0.6, share_late
        assert share_early <= 0.4, share_early
    finally:
        a.stop()
        b.stop()
