"""Sticky sessions on the PHP demo application (examples/app).

The guide's set-up: two `php -S` back ends, each with its own session
directory, behind balancer with

    ProxyPass / balancer://cluster/ lbmethod=byrequests stickysession=BALANCEID
    ProxyPassReverse / balancer://cluster/
    <Proxy balancer://cluster>
    BalancerMember http://<BACKEND-1> route=server1
    BalancerMember http://<BACKEND-2> route=server2
    </Proxy>

A PHP session lives on one back end only, so a user stays logged in only
while every request goes to the back end that holds the session.
"""
import http.client
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import ROOT, BIN, free_port, wait_port

LOG_FORMAT = (
    '%>s "%r" balancer=%{BALANCER_NAME}e member=%{BALANCER_WORKER_NAME}e '
    'wroute=%{BALANCER_WORKER_ROUTE}e route=%{BALANCER_SESSION_ROUTE}e '
    'decision=%{BALANCER_DECISION}e attempts=%{BALANCER_ATTEMPTS}e '
    'failover=%{BALANCER_FAILOVER_FROM}e')

CONF = """\
Listen 127.0.0.1:@PORT@
ServerName localhost
LogLevel {level}
ErrorLog @ERRORLOG@
LogFormat "{fmt}" sticky
CustomLog @ACCESSLOG@ sticky
ProxyPass / balancer://cluster/ lbmethod=byrequests{sticky}{extra}
ProxyPassReverse / balancer://cluster/
<Proxy balancer://cluster>
BalancerMember http://127.0.0.1:{p1} route=server1{m1}
BalancerMember http://127.0.0.1:{p2} route=server2{m2}
</Proxy>
"""


def conf(backends, sticky=" stickysession=BALANCEID", extra="", m1="",
         m2="", level="debug"):
    """The guide's configuration for two back ends, with changes."""
    return CONF.format(level=level, fmt=LOG_FORMAT.replace('"', '\\"'),
                       sticky=sticky, extra=extra,
                       p1=backends[0].port, p2=backends[1].port,
                       m1=m1, m2=m2)


class Client:
    """A browser-like client: keeps cookies (name=value only), one new
    connection per request."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, body=None, headers=None,
                cookie_header=None):
        h = dict(headers or {})
        if cookie_header is not None:
            h["Cookie"] = cookie_header
        elif self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv
                                    for kv in self.cookies.items())
        if body is not None:
            h.setdefault("Content-Type",
                         "application/x-www-form-urlencoded")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        for sc in resp.msg.get_all("Set-Cookie") or []:
            name, _, rest = sc.partition("=")
            value = rest.split(";", 1)[0]
            if "expires=Thu, 01 Jan 1970" in sc or value == "deleted":
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return resp, data

    def api(self, path="/api.php", **kw):
        resp, data = self.request("GET", path, **kw)
        assert resp.status == 200, (resp.status, data)
        return json.loads(data)

    def login(self, user="alice"):
        resp, data = self.request("POST", "/api.php",
                                  body="user=%s&password=demo" % user)
        assert resp.status == 200, (resp.status, data)
        return json.loads(data)


def session_scenario(client, n=50, user="alice"):
    """Log in, then visit n times. Returns (kept, visits, why): kept is
    True when every visit saw the user logged in on the back end of the
    log-in with the counter going 1..n."""
    first = client.login(user)
    visits = [client.api() for _ in range(n)]
    for i, v in enumerate(visits, 1):
        if v["user"] != user:
            return False, visits, "visit %d: logged out on %s" % (
                i, v["backend"])
        if v["counter"] != i:
            return False, visits, "visit %d: counter %s on %s" % (
                i, v["counter"], v["backend"])
        if v["backend"] != first["backend"]:
            return False, visits, "visit %d: on %s, logged in on %s" % (
                i, v["backend"], first["backend"])
    return True, visits, ""


def access_lines(bal, n, timeout=5.0):
    """Wait until the access log has at least n lines; return them."""
    deadline = time.time() + timeout
    while True:
        lines = bal.access().splitlines()
        if len(lines) >= n or time.time() > deadline:
            return lines
        time.sleep(0.05)


def fields(line):
    """key=value fields of one access log line."""
    return dict(re.findall(r"(\w+)=(\S*)", line.split('"', 2)[-1]))


# (a) the guide's way: the back ends set BALANCEID=balancer.serverN

def test_guide_config_keeps_user_logged_in(php_app, balancer):
    backends = php_app(2, set_route=True)
    bal = balancer(conf(backends))
    c = Client(bal.port)

    kept, visits, why = session_scenario(c, 50)
    assert kept, why + "\n" + bal.errors()
    assert [v["counter"] for v in visits] == list(range(1, 51))
    assert len({v["session"] for v in visits}) == 1
    assert c.cookies["BALANCEID"] == "balancer." + visits[0]["backend"]


def test_guide_login_redirect_rewritten(php_app, balancer):
    """The app redirects to its own absolute address after log-in; the
    client must see the front end's, per ProxyPassReverse."""
    backends = php_app(2, set_route=True)
    bal = balancer(conf(backends))
    c = Client(bal.port)

    resp, _ = c.request("POST", "/index.php",
                        body="action=login&user=bob&password=demo")
    assert resp.status == 303
    loc = resp.getheader("Location")
    for b in backends:
        assert str(b.port) not in loc, loc
    assert loc in ("/index.php",
                   "http://localhost:%d/index.php" % bal.port,
                   "http://127.0.0.1:%d/index.php" % bal.port), loc

    resp, body = c.request("GET", "/index.php")
    assert resp.status == 200
    assert b"Hello, bob" in body


# (b) our way: balancer sets the cookie, the back ends are unchanged

def test_insert_cookie_keeps_user_logged_in(php_app, balancer):
    backends = php_app(2, set_route=False)
    bal = balancer(conf(backends, extra=" stickysessioninsert=On"))
    c = Client(bal.port)

    first = c.api()
    assert "BALANCEID" in c.cookies, "no BALANCEID cookie inserted"
    value = c.cookies["BALANCEID"]
    assert value.split(".", 1)[1] == first["backend"], value

    kept, visits, why = session_scenario(c, 50)
    assert kept, why + "\n" + bal.errors()
    assert [v["counter"] for v in visits] == list(range(1, 51))
    assert visits[0]["backend"] == first["backend"]


def test_insert_cookie_attributes(php_app, balancer):
    """NAME=<value>.<route>; Path=/; HttpOnly, only when the response
    starts or changes a route (not on every response)."""
    backends = php_app(2, set_route=False)
    bal = balancer(conf(backends, extra=" stickysessioninsert=On"))
    c = Client(bal.port)

    resp, _ = c.request("GET", "/api.php")
    sc = [v for v in resp.msg.get_all("Set-Cookie") or []
          if v.startswith("BALANCEID=")]
    assert len(sc) == 1, sc
    parts = [p.strip().lower() for p in sc[0].split(";")]
    assert "path=/" in parts and "httponly" in parts, sc
    assert "secure" not in parts, sc

    resp, _ = c.request("GET", "/api.php")
    again = [v for v in resp.msg.get_all("Set-Cookie") or []
             if v.startswith("BALANCEID=")]
    assert again == [], "cookie set again on a sticky request: %s" % again


# (c) without stickysession the scenario must fail

def test_without_stickysession_user_is_logged_out(php_app, balancer):
    backends = php_app(2, set_route=True)
    bal = balancer(conf(backends, sticky=""))
    c = Client(bal.port)

    kept, visits, why = session_scenario(c, 50)
    assert not kept, "the session held without stickysession: the test " \
        "cannot tell sticky from not"
    assert {v["backend"] for v in visits} == {"server1", "server2"}
    assert any(v["user"] is None for v in visits)


# (d) a route naming an unusable member

@pytest.mark.parametrize("how", ["disabled", "stopped"])
def test_route_to_unusable_member_fails_over(php_app, balancer, how):
    backends = php_app(2, set_route=True)
    m2 = " status=D" if how == "disabled" else ""
    bal = balancer(conf(backends, m2=m2))
    if how == "stopped":
        backends[1].stop()
    c = Client(bal.port)

    for _ in range(5):
        v = c.api(cookie_header="BALANCEID=balancer.server2")
        assert v["backend"] == "server1", v

    # For a stopped back end the first request finds out (a retry after a
    # refused connection); the later ones fail over at once.
    lines = access_lines(bal, 5)
    assert len(lines) == 5, lines
    for line in lines[1:]:
        f = fields(line)
        assert f.get("decision") == "failover", line
        assert f.get("route") == "server2", line
        assert f.get("member") == backends[0].url, line
        assert f.get("failover") == backends[1].url, line
        assert f.get("attempts") == "1", line
    f = fields(lines[0])
    assert f.get("member") == backends[0].url, lines[0]
    if how == "stopped":
        assert f.get("attempts") == "2", lines[0]


@pytest.mark.parametrize("how", ["disabled", "stopped"])
def test_route_to_unusable_member_nofailover_503(php_app, balancer, how):
    backends = php_app(2, set_route=True)
    m2 = " status=D" if how == "disabled" else ""
    bal = balancer(conf(backends, m2=m2, extra=" nofailover=On"))
    if how == "stopped":
        backends[1].stop()
    c = Client(bal.port)

    for _ in range(3):
        resp, body = c.request("GET", "/api.php",
                               cookie_header="BALANCEID=balancer.server2")
        assert resp.status == 503, (resp.status, body)

    # A request without a route still gets served.
    v = c.api(cookie_header="")
    assert v["backend"] == "server1"


# (e) the cookie is matched by its whole name

def test_cookie_whole_name_only(php_app, balancer):
    backends = php_app(2, set_route=False)
    bal = balancer(conf(backends))
    c = Client(bal.port)

    seen = [c.api(cookie_header="XBALANCEID=x.server2")["backend"]
            for _ in range(10)]
    assert seen.count("server1") == 5 and seen.count("server2") == 5, seen

    for cookie in ("XBALANCEID=x.server2; BALANCEID=y.server1",
                   "BALANCEID=y.server1; XBALANCEID=x.server2",
                   "BALANCEIDX=x.server2; BALANCEID=y.server1",
                   "PHPSESSID=abc; BALANCEID=y.server1"):
        for _ in range(3):
            v = c.api(cookie_header=cookie)
            assert v["backend"] == "server1", (cookie, v)


def test_value_without_separator_carries_no_route(php_app, balancer):
    backends = php_app(2, set_route=False)
    bal = balancer(conf(backends))
    c = Client(bal.port)

    seen = [c.api(cookie_header="BALANCEID=server2")["backend"]
            for _ in range(10)]
    assert seen.count("server1") == 5 and seen.count("server2") == 5, seen


# (f) URL parameter routing

def test_url_parameter_route(php_app, balancer):
    backends = php_app(2, set_route=False)
    bal = balancer(conf(backends,
                        sticky=" stickysession=BALANCEID|balanceid",
                        extra=" scolonpathdelim=On"))
    c = Client(bal.port)

    for _ in range(4):
        assert c.api("/api.php?balanceid=x.server2")["backend"] == "server2"
        assert c.api("/api.php?a=1&balanceid=x.server1&b=2")["backend"] \
            == "server1"

    # ;name=value path parameter (the back end sees it in PATH_INFO)
    for _ in range(4):
        v = c.api("/api.php/;balanceid=x.server2")
        assert v["backend"] == "server2", v
        v = c.api("/api.php/;balanceid=x.server1?q=1")
        assert v["backend"] == "server1", v

    # the URL parameter is looked at before the cookie, as Apache does
    for _ in range(4):
        v = c.api("/api.php?balanceid=x.server2",
                  cookie_header="BALANCEID=y.server1")
        assert v["backend"] == "server2", v

    # the cookie name still works
    for _ in range(4):
        v = c.api(cookie_header="BALANCEID=y.server1")
        assert v["backend"] == "server1", v


# (g) the logs say why each request went where it did

def test_access_log_shows_decisions(php_app, balancer):
    backends = php_app(2, set_route=False)
    bal = balancer(conf(backends, m2=" status=D"))
    c = Client(bal.port)

    c.api(cookie_header="")                           # lbmethod
    c.api(cookie_header="BALANCEID=a.server1")        # sticky
    c.api(cookie_header="BALANCEID=a.server2")        # failover

    lines = access_lines(bal, 3)
    assert len(lines) == 3, lines
    f = [fields(l) for l in lines]
    for x in f:
        assert x["balancer"] == "balancer://cluster", f
        assert x["member"] == backends[0].url, f
        assert x["wroute"] == "server1", f
        assert x["attempts"] == "1", f
    assert f[0]["route"] == "-" and f[0]["decision"] == "lbmethod", lines
    assert f[1]["route"] == "server1" and f[1]["decision"] == "sticky", lines
    assert f[2]["route"] == "server2" and f[2]["decision"] == "failover", \
        lines
    assert f[2]["failover"] == backends[1].url, lines
    assert f[0]["failover"] == "-", lines


def decision_lines(text, backends):
    """Error log lines at debug level that name the balancer and a
    member: one per balancing decision."""
    out = []
    for line in text.splitlines():
        if ":debug]" not in line or "balancer://cluster" not in line:
            continue
        if any(b.url in line for b in backends):
            out.append(line)
    return out


def test_debug_log_one_decision_line_per_request(php_app, balancer):
    backends = php_app(2, set_route=False)
    bal = balancer(conf(backends, level="debug"))
    c = Client(bal.port)

    c.api(cookie_header="")
    c.api(cookie_header="BALANCEID=a.server2")
    c.api(cookie_header="BALANCEID=nodot")
    c.api(cookie_header="BALANCEID=a.server1")
    time.sleep(0.3)

    lines = decision_lines(bal.errors(), backends)
    assert len(lines) == 4, "\n".join(lines) or bal.errors()
    # no sticky value: said plainly, naming the sticky session
    assert "BALANCEID" in lines[0], lines[0]
    assert re.search(r"no (sticky|value|route)|\(null\)|none|absent|"
                     r"not present|without", lines[0], re.I), lines[0]
    assert "server2" in lines[1] and "sticky" in lines[1].lower(), lines[1]
    assert "nodot" in lines[2] or "no route" in lines[2].lower(), lines[2]
    assert "server1" in lines[3], lines[3]


def test_info_log_has_no_decision_lines(php_app, balancer):
    backends = php_app(2, set_route=False)
    bal = balancer(conf(backends, level="info"))
    c = Client(bal.port)
    for _ in range(4):
        c.api(cookie_header="")
    time.sleep(0.3)
    assert decision_lines(bal.errors(), backends) == []
    assert len(access_lines(bal, 4)) == 4


# shared upload directory: visible through both back ends

def test_shared_uploads_seen_by_both(php_app, balancer):
    backends = php_app(2, set_route=True)
    bal = balancer(conf(backends))
    c = Client(bal.port)
    c.login("carol")

    boundary = "----demo"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\n"
            "upload\r\n--%s\r\nContent-Disposition: form-data; name=\"file\";"
            " filename=\"hello.txt\"\r\nContent-Type: text/plain\r\n\r\n"
            "hello\r\n--%s--\r\n" % (boundary, boundary, boundary))
    resp, data = c.request(
        "POST", "/index.php", body=body.encode(),
        headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    assert resp.status == 303, data

    for route in ("server1", "server2"):
        other = Client(bal.port)
        resp, page = other.request("GET", "/index.php",
                                   cookie_header="BALANCEID=x." + route)
        assert resp.status == 200
        assert ("Served by <b>%s</b>" % route).encode() in page
        assert b"hello.txt" in page


# examples/demo.sh, as `make demo` runs it

def start_demo(tmp_path, **env):
    """Start examples/demo.sh on free ports, in its own process group.
    Returns (process, [front, back end 1, back end 2] ports, output)."""
    ports = [free_port() for _ in range(3)]
    env = dict(os.environ, FRONT_PORT=str(ports[0]),
               BACKEND1_PORT=str(ports[1]), BACKEND2_PORT=str(ports[2]),
               RUN_DIR=str(tmp_path / "run"), BALANCER_BIN=BIN, **env)
    out = open(str(tmp_path / "demo.out"), "w")
    proc = subprocess.Popen([os.path.join(ROOT, "examples", "demo.sh")],
                            env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_port(ports[0], proc=proc, timeout=20)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
        out.close()
        raise
    return proc, ports, out


def demo_output(tmp_path):
    with open(str(tmp_path / "demo.out")) as f:
        return f.read()


def stop_demo(proc, ports, out, how):
    """Stop the demo (how: SIGINT to its group, or SIGTERM to the script
    alone) and check that all three ports closed."""
    try:
        if how == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        out.close()
    for p in ports:
        try:
            wait_port(p, timeout=0.3)
        except RuntimeError:
            continue
        pytest.fail("port %d still open after the demo stopped (%s)"
                    % (p, how))


@pytest.mark.parametrize("mode", ["guide", "insert"])
def test_demo_script(tmp_path, mode):
    proc, ports, out = start_demo(tmp_path, DEMO_MODE=mode)
    try:
        c = Client(ports[0])
        kept, visits, why = session_scenario(c, 10)
        assert kept, why
        text = demo_output(tmp_path)
        assert "mode: " + mode in text
        assert "http://127.0.0.1:%d/" % ports[0] in text
    finally:
        stop_demo(proc, ports, out, "group")


def test_demo_script_pages_and_term(tmp_path):
    """The demo switches on the dashboard, the manager and the metrics,
    and a TERM to the script alone (a supervisor, `timeout`, `kill PID`)
    stops balancer and both PHP servers, not only Ctrl-C to the group."""
    proc, ports, out = start_demo(tmp_path)
    try:
        c = Client(ports[0])
        resp, body = c.request("GET", "/balancer-dashboard?json")
        assert resp.status == 200
        assert b"server1" in body and b"server2" in body
        resp, body = c.request("GET", "/metrics")
        assert resp.status == 200
        assert b"balancer_member_requests_total" in body
        resp, body = c.request("GET", "/balancer-manager?format=json")
        assert resp.status == 200
        resp, body = c.request("GET", "/api.php")
        assert resp.status == 200      # the guide's ProxyPass / still serves
        assert ("http://127.0.0.1:%d/balancer-dashboard" % ports[0]
                in demo_output(tmp_path))
    finally:
        stop_demo(proc, ports, out, "term")


def test_demo_script_reports_taken_port(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    taken = s.getsockname()[1]
    try:
        env = dict(os.environ, FRONT_PORT=str(taken),
                   BACKEND1_PORT=str(free_port()),
                   BACKEND2_PORT=str(free_port()),
                   RUN_DIR=str(tmp_path / "run"), BALANCER_BIN=BIN)
        r = subprocess.run([os.path.join(ROOT, "examples", "demo.sh")],
                           env=env, capture_output=True, text=True,
                           timeout=30)
    finally:
        s.close()
    assert r.returncode != 0
    assert "127.0.0.1:%d is taken" % taken in r.stderr, r.stderr
