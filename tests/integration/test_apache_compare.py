"""balancer against Apache httpd on the same configuration.

Debian's apache2 (/usr/sbin/apache2, modules in /usr/lib/apache2/modules)
is started by hand on a free loopback port with its own minimal
configuration in a temporary directory (never as a system service) and
stopped by its PID. build/balancer gets the same ProxyPass /
ProxyPassReverse / <Proxy> lines. Echo back ends (in this process) answer
with which member they are and what they received; the same request
sequence goes through both front ends, fresh from start, and the test
compares which member served each request and what the back end got.

Differences that are allowed, and why:
- Apache adds "Connection: Keep-Alive" to the request it sends on; only
  the headers in COMPARED_HEADERS and the set of header names less
  APACHE_ONLY_HEADERS are compared.

What Apache 2.4 does that the sequence pins down (seen on Debian's 2.4):
- the cookie is matched by whole name ("XBALANCEID=" is not
  "BALANCEID="), the first one wins, case matters, and two Cookie lines
  are searched as one;
- the URL parameter is looked up first, and by plain substring:
  "?xbalanceid=x.server2"
  routes to server2, and ";balanceid=x.server2" in the path routes even
  without scolonpathdelim (which only makes ";" end the value);
- a route naming no member, or a value without ".", falls to the lbmethod;
- nofailover=On gives 503 only when the route names a member of the
  balancer that cannot be used; an unknown route still goes to lbmethod;
- a member chosen by its sticky route is counted in byrequests as if the
  lbmethod had chosen it (every usable member earns its lbfactor, the
  chosen one pays back the total), so sticky requests shift which member
  the next request without a route gets;
- byrequests with loadfactor 1 and 3 from a fresh start gives
  w2 w1 w2 w2 w2 w1 w2 w2 w2 w1 w2 w2;
- Location "http://<member>/target" comes back as
  "http://<client's Host>/target".
- Apache merges repeated request headers into one line joined by ", "
  (so two Cookie lines reach the back end as "a=1, b=2"); the Cookie
  header is compared as its list of cookies, split on ";" and ",".
- The Date and Server response headers, and error page bodies, differ.

If apache2 cannot start the test fails with its error log: nothing is
skipped.
"""
import http.client
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import Balancer, free_port, wait_port, stop

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
FRONT_HOST = "front.test"

COMPARED_HEADERS = ("host", "x-forwarded-for", "x-forwarded-host",
                    "x-forwarded-server", "content-length", "x-keep",
                    "x-drop", "transfer-encoding")
# Apache 2.4 sends "Connection: Keep-Alive" on every request to a back end
# it means to reuse (redundant in HTTP/1.1); balancer need not.
APACHE_ONLY_HEADERS = {"connection"}
# balancer adds X-Forwarded-Proto (http or https) as nginx and HAProxy
# setups usually do; Apache's mod_proxy does not (docs/configuration.md).
BALANCER_ONLY_HEADERS = {"x-forwarded-proto"}


# --- echo back ends ---------------------------------------------------

class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, head_only=False):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        srv = self.server
        info = {
            "member": srv.route,
            "request_line": self.requestline,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("latin-1"),
        }
        out = json.dumps(info).encode()
        path = self.path.split("?", 1)[0]
        if path.endswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%d/target"
                             % srv.server_address[1])
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-Member", srv.route)
        self.send_header("Set-Cookie", "BALANCEID=echo.%s; Path=/"
                         % srv.route)
        self.end_headers()
        if not head_only:
            self.wfile.write(out)

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def do_HEAD(self):
        self._answer(head_only=True)


class EchoServer:
    def __init__(self, route):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        self.httpd.daemon_threads = True
        self.httpd.route = route
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


ROUTES = ["server1", "server2", "w1", "w2", "n1", "n2", "s1", "s2"]

CORE_CONF = """\
ProxyPass /w/ balancer://weighted/ lbmethod=byrequests
ProxyPassReverse /w/ balancer://weighted/
ProxyPass /nf/ balancer://nf/ stickysession=BALANCEID nofailover=On
ProxyPassReverse /nf/ balancer://nf/
ProxyPass /sc/ balancer://sc/ stickysession=BALANCEID|balanceid scolonpathdelim=On
ProxyPassReverse /sc/ balancer://sc/
ProxyPass / balancer://cluster/ lbmethod=byrequests stickysession=BALANCEID|balanceid
ProxyPassReverse / balancer://cluster/
<Proxy balancer://cluster>
BalancerMember {server1} route=server1
BalancerMember {server2} route=server2
</Proxy>
<Proxy balancer://weighted>
BalancerMember {w1} route=w1 loadfactor=1
BalancerMember {w2} route=w2 loadfactor=3
</Proxy>
<Proxy balancer://nf>
BalancerMember {n1} route=n1
BalancerMember {n2} route=n2 status=D
</Proxy>
<Proxy balancer://sc>
BalancerMember {s1} route=s1
BalancerMember {s2} route=s2
</Proxy>
"""

APACHE_CONF = """\
ServerRoot {dir}
DefaultRuntimeDir {dir}
PidFile {dir}/httpd.pid
Mutex file:{dir} default
Listen 127.0.0.1:{port}
ServerName localhost
User nobody
Group nogroup
ErrorLog {dir}/error.log
LogLevel proxy:debug proxy_balancer:debug
LogFormat "%h \\"%r\\" %>s %{{BALANCER_WORKER_ROUTE}}e %{{BALANCER_SESSION_ROUTE}}e" bal
CustomLog {dir}/access.log bal
LoadModule mpm_event_module {mod}/mod_mpm_event.so
LoadModule authz_core_module {mod}/mod_authz_core.so
LoadModule slotmem_shm_module {mod}/mod_slotmem_shm.so
LoadModule proxy_module {mod}/mod_proxy.so
LoadModule proxy_http_module {mod}/mod_proxy_http.so
LoadModule proxy_balancer_module {mod}/mod_proxy_balancer.so
LoadModule lbmethod_byrequests_module {mod}/mod_lbmethod_byrequests.so
LoadModule lbmethod_bytraffic_module {mod}/mod_lbmethod_bytraffic.so
StartServers 1
ServerLimit 1
ThreadsPerChild 4
ThreadLimit 4
MaxRequestWorkers 4
MinSpareThreads 1
MaxSpareThreads 4
{core}
"""

BALANCER_CONF = """\
Listen 127.0.0.1:@PORT@
ServerName localhost
LogLevel debug
ErrorLog @ERRORLOG@
LogFormat "%h \\"%r\\" %>s %{{BALANCER_WORKER_ROUTE}}e %{{BALANCER_SESSION_ROUTE}}e %{{BALANCER_DECISION}}e" bal
CustomLog @ACCESSLOG@ bal
{core}
"""


class Apache:
    """apache2 in the foreground on its own configuration."""

    def __init__(self, core, tmpdir):
        self.dir = tmpdir
        self.port = free_port()
        self.conf = os.path.join(tmpdir, "httpd.conf")
        with open(self.conf, "w") as f:
            f.write(APACHE_CONF.format(dir=tmpdir, port=self.port,
                                       mod=MODULES, core=core))
        self.out = open(os.path.join(tmpdir, "stderr.log"), "w")
        if not os.access(APACHE, os.X_OK):
            pytest.fail("%s not found: apt-get install apache2" % APACHE)
        check = subprocess.run([APACHE, "-t", "-f", self.conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            pytest.fail("apache2 -t refused %s:\n%s%s" % (
                self.conf, check.stdout, check.stderr))
        self.proc = subprocess.Popen([APACHE, "-f", self.conf,
                                      "-DFOREGROUND"],
                                     stdout=self.out, stderr=self.out)
        try:
            wait_port(self.port, proc=self.proc)
        except RuntimeError as e:
            self.stop()
            pytest.fail("apache2 did not start (%s):\n%s" % (e, self.log()))

    def log(self):
        text = ""
        for name in ("stderr.log", "error.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    text += f.read()
        return text

    def stop(self):
        stop(self.proc, timeout=15)
        self.out.close()


# --- the request sequence ---------------------------------------------

def R(label, target, headers=(), method="GET", body=None, host=FRONT_HOST):
    return {"label": label, "target": target, "headers": list(headers),
            "method": method, "body": body, "host": host}


def C(value):
    return ("Cookie", value)


SEQUENCE = [
    R("no cookie", "/a"),
    R("cookie server1", "/a", [C("BALANCEID=x.server1")]),
    R("cookie server2", "/a", [C("BALANCEID=x.server2")]),
    R("cookie unknown route", "/a", [C("BALANCEID=x.server9")]),
    R("url param server2", "/a?balanceid=x.server2"),
    R("url param among others", "/a?foo=1&balanceid=x.server1&bar=2"),
    R("path param no scolonpathdelim", "/a;balanceid=x.server2"),
    R("url param beats cookie", "/a?balanceid=x.server2",
      [C("BALANCEID=y.server1")]),
    R("cookie suffix of other name", "/a", [C("XBALANCEID=x.server2")]),
    R("suffix name then real", "/a",
      [C("XBALANCEID=x.server2; BALANCEID=y.server1")]),
    R("two cookies one header", "/a",
      [C("BALANCEID=a.server2; BALANCEID=b.server1")]),
    R("two cookie headers", "/a",
      [C("PHPSESSID=1"), C("BALANCEID=z.server2")]),
    R("value without separator", "/a", [C("BALANCEID=server2")]),
    R("two separators", "/a", [C("BALANCEID=a.b.server2")]),
    R("lower-case cookie name", "/a", [C("balanceid=x.server2")]),
    R("rotation 1", "/a"),
    R("rotation 2", "/a"),
    R("rotation 3", "/a"),
    R("rotation 4", "/a"),
    R("x-forwarded-for appended", "/a",
      [("X-Forwarded-For", "10.0.0.1")]),
    R("connection-named header dropped", "/a",
      [("Connection", "X-Drop"), ("X-Drop", "1"), ("X-Keep", "2")]),
    R("redirect rewritten", "/redirect", [C("BALANCEID=x.server2")]),
    R("head", "/a", [C("BALANCEID=x.server1")], method="HEAD"),
    R("post body", "/a", [C("BALANCEID=x.server2")], method="POST",
      body=b"hello=world"),
    R("other host", "/a?q=%20x", [C("BALANCEID=x.server1")],
      host="other.test:8888"),
    R("scolon path param", "/sc/a;balanceid=x.s2"),
    R("scolon path param then another", "/sc/a;balanceid=x.s2;foo=bar"),
    R("scolon path param and query", "/sc/a;balanceid=x.s1?q=1"),
    R("scolon query param", "/sc/a?balanceid=x.s2"),
    R("nofailover route disabled", "/nf/a", [C("BALANCEID=x.n2")]),
    R("nofailover unknown route", "/nf/a", [C("BALANCEID=x.n9")]),
    R("nofailover no cookie", "/nf/a"),
] + [R("weighted %d" % i, "/w/a") for i in range(1, 13)] + [
    # Last: it may change the byrequests state differently (see
    # DOCUMENTED_DIFFERENCES).
    R("url param suffix of other name", "/a?xbalanceid=x.server2"),
]

# Requests where balancer differs from Apache on purpose: the reason, the
# member Apache picks, and balancer's decision (its access log).
DOCUMENTED_DIFFERENCES = {
    "url param suffix of other name": (
        "Apache's get_path_param finds the name anywhere in the URL, so "
        "xbalanceid= counts as balanceid=; balancer matches the whole "
        "parameter name (src/sticky.c), as it does for cookies",
        "server2", "lbmethod"),
}


def send(port, req):
    """Send one request on a new connection; return what happened."""
    lines = ["%s %s HTTP/1.1" % (req["method"], req["target"]),
             "Host: " + req["host"]]
    lines += ["%s: %s" % h for h in req["headers"]]
    body = req["body"] or b""
    if req["body"] is not None:
        lines.append("Content-Length: %d" % len(body))
        lines.append("Content-Type: application/x-www-form-urlencoded")
    if not any(h[0].lower() == "connection" for h in req["headers"]):
        lines.append("Connection: close")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(raw)
        resp = http.client.HTTPResponse(sock, method=req["method"])
        resp.begin()
        data = resp.read()
    finally:
        sock.close()
    out = {"status": resp.status,
           "member": resp.getheader("X-Member"),
           "location": resp.getheader("Location"),
           "echo": None}
    if data and resp.getheader("Content-Type") == "application/json":
        out["echo"] = json.loads(data)
    return out


def run_sequence(port):
    return [send(port, req) for req in SEQUENCE]


# --- fixtures ---------------------------------------------------------

@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Run SEQUENCE through Apache and through balancer, each fresh.
    Returns (apache_results, balancer_results, echo servers, Apache's
    error log, balancer's access log lines)."""
    echoes = {r: EchoServer(r) for r in ROUTES}
    core = CORE_CONF.format(**{r: e.url for r, e in echoes.items()})
    base = str(tmp_path_factory.mktemp("compare"))
    apache = bal = None
    try:
        apache = Apache(core, tempfile.mkdtemp(dir=base))
        a_res = run_sequence(apache.port)
        apache.stop()
        apache_log = apache.log()
        apache = None

        bal = Balancer(BALANCER_CONF.format(core=core),
                       tempfile.mkdtemp(dir=base))
        b_res = run_sequence(bal.port)
        rc = bal.stop()
        log = bal.errors()
        b_access = bal.access().splitlines()
        bal = None
        assert "ERROR: AddressSanitizer" not in log, log
        assert "runtime error:" not in log, log
        assert rc == 0, "balancer exited with %s\n%s" % (rc, log)
        yield a_res, b_res, echoes, apache_log, b_access
    finally:
        if apache is not None:
            apache.stop()
        if bal is not None:
            bal.stop()
        for e in echoes.values():
            e.stop()


def table(rows):
    return "\n".join("%-34s apache=%-28s balancer=%s" % r for r in rows)


def mismatches(compared, key, both_proxied=True):
    """Rows (label, apache's, balancer's) where key differs. With
    both_proxied, only requests that reached a back end through both
    (test_same_member_and_status reports the others)."""
    a_res, b_res = compared[0], compared[1]
    bad = []
    for req, a, b in zip(SEQUENCE, a_res, b_res):
        if req["label"] in DOCUMENTED_DIFFERENCES:
            continue
        if both_proxied and (a["member"] is None or b["member"] is None):
            continue
        ka, kb = key(a), key(b)
        if ka != kb:
            bad.append((req["label"], ka, kb))
    return bad


# --- the comparisons --------------------------------------------------

def test_apache_served_the_sequence(compared):
    """Sanity: Apache itself routed as its documentation says, so the
    comparison below means something."""
    a = dict(zip([r["label"] for r in SEQUENCE], compared[0]))
    assert a["cookie server1"]["member"] == "server1", compared[3]
    assert a["cookie server2"]["member"] == "server2"
    assert a["url param server2"]["member"] == "server2"
    assert a["nofailover route disabled"]["status"] == 503
    w = [a["weighted %d" % i]["member"] for i in range(1, 13)]
    assert w.count("w2") == 9 and w.count("w1") == 3, w


def test_documented_differences(compared):
    a = dict(zip([r["label"] for r in SEQUENCE], compared[0]))
    b = dict(zip([r["label"] for r in SEQUENCE], compared[1]))
    access = dict(zip([r["label"] for r in SEQUENCE], compared[4]))
    for label, (why, member, decision) in DOCUMENTED_DIFFERENCES.items():
        assert a[label]["member"] == member, \
            "Apache no longer does this on %r: %s" % (label, why)
        assert b[label]["status"] == 200, (label, b[label])
        assert access[label].split()[-1] == decision, \
            (label, why, access[label])


def test_same_member_and_status(compared):
    bad = mismatches(compared, lambda r: (r["status"], r["member"]),
                     both_proxied=False)
    assert not bad, "\n" + table(bad)


def test_same_request_line(compared):
    both = sum(1 for a, b in zip(compared[0], compared[1])
               if a["member"] and b["member"])
    assert both >= len(SEQUENCE) - 3, "only %d of %d requests reached a " \
        "back end through both" % (both, len(SEQUENCE))
    bad = mismatches(compared, lambda r: r["echo"] and
                     r["echo"]["request_line"])
    assert not bad, "\n" + table(bad)


def echo_headers(r):
    if not r["echo"]:
        return {}
    out = {}
    for k, v in r["echo"]["headers"]:
        k = k.lower()
        out[k] = out[k] + ", " + v if k in out else v
    return out


@pytest.mark.parametrize("name", COMPARED_HEADERS)
def test_same_forwarded_headers(compared, name):
    bad = mismatches(compared, lambda r: echo_headers(r).get(name))
    assert not bad, "\n" + table(bad)


def cookie_list(r):
    value = echo_headers(r).get("cookie")
    if value is None:
        return None
    return [c.strip() for c in re.split(r"[;,]", value) if c.strip()]


def test_same_cookies_passed_on(compared):
    bad = mismatches(compared, cookie_list)
    assert not bad, "\n" + table(bad)


def test_same_header_names(compared):
    def names(r):
        h = set(echo_headers(r)) - APACHE_ONLY_HEADERS - BALANCER_ONLY_HEADERS
        return sorted(h)
    bad = mismatches(compared, names)
    assert not bad, "\n" + table(bad)


def test_same_body(compared):
    bad = mismatches(compared, lambda r: r["echo"] and r["echo"]["body"])
    assert not bad, "\n" + table(bad)


def test_same_location_rewrite(compared):
    bad = mismatches(compared, lambda r: r["location"],
                     both_proxied=False)
    assert not bad, "\n" + table(bad)


# --- a member whose back end is down ----------------------------------

STOPPED_CONF = """\
ProxyPass /nf/ balancer://nf/ stickysession=BALANCEID nofailover=On
ProxyPass / balancer://cluster/ stickysession=BALANCEID
<Proxy balancer://cluster>
BalancerMember {live1} route=server1
BalancerMember http://127.0.0.1:{dead1} route=server2
</Proxy>
<Proxy balancer://nf>
BalancerMember {live2} route=n1
BalancerMember http://127.0.0.1:{dead2} route=n2
</Proxy>
"""

STOPPED_SEQUENCE = (
    [R("route to stopped member %d" % i, "/a", [C("BALANCEID=x.server2")])
     for i in range(1, 4)]
    + [R("no route %d" % i, "/a") for i in range(1, 4)]
    + [R("nofailover route to stopped member %d" % i, "/nf/a",
         [C("BALANCEID=x.n2")]) for i in range(1, 4)]
    + [R("nofailover no route %d" % i, "/nf/a") for i in range(1, 3)])


def test_stopped_member_like_apache(tmp_path, balancer):
    """A refused connection puts the member in error; the request fails
    over to another member, or gets 503 with nofailover=On, also the
    first one that finds the member down (Apache re-reads the route
    after the failed attempt)."""
    live = [EchoServer("server1"), EchoServer("n1")]
    try:
        core = STOPPED_CONF.format(live1=live[0].url, live2=live[1].url,
                                   dead1=free_port(), dead2=free_port())
        apache = Apache(core, str(tmp_path))
        try:
            a_res = [send(apache.port, r) for r in STOPPED_SEQUENCE]
        finally:
            apache.stop()
        bal = balancer(BALANCER_CONF.format(core=core))
        b_res = [send(bal.port, r) for r in STOPPED_SEQUENCE]
    finally:
        for e in live:
            e.stop()
    rows = []
    for req, a, b in zip(STOPPED_SEQUENCE, a_res, b_res):
        if (a["status"], a["member"]) != (b["status"], b["member"]):
            rows.append((req["label"], (a["status"], a["member"]),
                         (b["status"], b["member"])))
    assert not rows, "\n" + table(rows)
