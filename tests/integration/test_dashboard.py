"""The live dashboard (SetHandler balancer-dashboard) opened in headless
Chromium through the DevTools protocol: the page draws, a screenshot is
taken, and the values it shows for each member (requests, errors, state,
route, p50, p99, requests per second) match the JSON it polls. A route
holding markup shows as text. Without Chromium the test is skipped (make
test installs it: mk/observe.mk).
"""
import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from backends import Backend, Client

websocket = pytest.importorskip("websocket")

CHROMIUM = shutil.which("chromium")
START_TIMEOUT = 60          # Chromium can start slowly on 2 cores
PAGE_TIMEOUT = 30

CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel crit
ProxyPass /dashboard !
ProxyPass /balancer-manager !
ProxyPass / balancer://cluster/ stickysession=ROUTEID
<Proxy balancer://cluster>
    BalancerMember %s route=r1
    BalancerMember %s route=r2
    BalancerMember %s route=r3 retry=60
    BalancerMember %s route=r4 status=+D
    ProxySet lbmethod=byrequests
</Proxy>
<Location /balancer-manager>
    SetHandler balancer-manager
    Require ip 127.0.0.1
</Location>
<Location /dashboard>
    SetHandler balancer-dashboard
    Require ip 127.0.0.1
</Location>
"""

FIELDS = ("requests", "errors", "state", "route", "p50_ms", "p99_ms")


class Browser:
    """Headless Chromium with a DevTools connection to its one page."""

    def __init__(self, tmpdir):
        self.profile = tempfile.mkdtemp(dir=tmpdir)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage",
             "--user-data-dir=" + self.profile,
             "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "--window-size=1280,900",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.ws = None
        self.next_id = 0
        port = self._devtools_port()
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port,
                                    timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        assert pages, "Chromium shows no page target"
        self.ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=PAGE_TIMEOUT)

    def _devtools_port(self):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                pytest.fail("chromium exited with %s:\n%s"
                            % (self.proc.returncode, err[-2000:]))
            if os.path.exists(path):
                with open(path) as f:
                    first = f.readline().strip()
                if first:
                    return int(first)
            time.sleep(0.1)
        pytest.fail("chromium did not open its DevTools port within %d s"
                    % START_TIMEOUT)

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method,
                                 "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                assert "error" not in msg, "%s: %s" % (method, msg["error"])
                return msg["result"]

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression,
                      returnByValue=True)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def close(self):
        if self.ws is not None:
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make deps installs it)")
    b = Browser(str(tmp_path))
    yield b
    b.close()


def get_json(lb):
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
    try:
        conn.request("GET", "/dashboard?json")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
        assert resp.getheader("Content-Type") == "application/json"
        return json.loads(body)
    finally:
        conn.close()


def set_route(lb, member, route):
    """Give member a route holding markup, through the balancer-manager
    (the configuration reader allows no such route)."""
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
    conn.request("GET", "/balancer-manager?format=json")
    state = json.loads(conn.getresponse().read())
    (b,) = [b for b in state["balancers"]
            if b["name"] == "balancer://cluster"]
    form = urllib.parse.urlencode({"b": "cluster", "w": member,
                                   "nonce": b["nonce"], "w_wr": route})
    conn.request("POST", "/balancer-manager", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200


def members(data):
    return {m["name"]: m for m in data["balancers"][0]["members"]}


READ_CARDS = """
Array.from(document.querySelectorAll("section.member")).map(function (c) {
  var f = {};
  c.querySelectorAll("[data-field]").forEach(function (e) {
    f[e.getAttribute("data-field")] = {
      text: e.textContent, value: e.getAttribute("data-value") };
  });
  return { balancer: c.getAttribute("data-balancer"),
           member: c.getAttribute("data-member"), fields: f,
           elements: c.querySelectorAll("*").length,
           injected: c.querySelectorAll(".top b").length,
           paths: c.querySelectorAll("svg path").length };
})
"""


def same(field, shown, expected):
    if field in ("p50_ms", "p99_ms"):
        if expected is None:
            return shown == ""
        return abs(float(shown) - expected) < 1e-9
    return shown == str(expected)


def test_dashboard_shows_what_the_json_says(balancer, browser, tmp_path):
    b1, b2, b4 = Backend("b1"), Backend("b2"), Backend("b4")
    down = Backend("down")
    down.stop()
    try:
        lb = balancer(CONF % (b1.url, b2.url, down.url, b4.url))
        set_route(lb, b2.url, "<b>r2</b>")
        c = Client(lb.port, timeout=15)
        try:
            for i in range(30):
                assert c.request("GET", "/echo?i=%d" % i)[0] == 200
            for i in range(4):
                c.request("GET", "/slow?ms=40")
            for i in range(2):
                assert c.request("GET", "/status/503")[0] == 503
        finally:
            c.close()
        time.sleep(1.1)            # the traffic's seconds are all closed
        before = members(get_json(lb))

        url = "http://127.0.0.1:%d/dashboard" % lb.port
        browser.call("Page.enable")
        browser.call("Emulation.setDeviceMetricsOverride", width=1280,
                     height=900, deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", url=url)
        deadline = time.time() + PAGE_TIMEOUT
        while True:
            n = browser.evaluate("document.body ? Number(document.body."
                                 "getAttribute('data-updates')) : 0")
            if n and n >= 1:
                break
            assert time.time() < deadline, \
                "the dashboard drew nothing within %d s: %s" % (
                    PAGE_TIMEOUT, browser.evaluate(
                        "document.getElementById('status') && "
                        "document.getElementById('status').textContent"))
            time.sleep(0.2)
        cards = browser.evaluate(READ_CARDS)
        shot = browser.call("Page.captureScreenshot", format="png")
        after = members(get_json(lb))

        # A refused reload (a SIGHUP by hand) shows on the page.
        banner = "document.getElementById('refused')"
        assert browser.evaluate(banner + ".hidden") is True
        with open(lb.conf) as f:
            good = f.read()
        with open(lb.conf, "w") as f:
            f.write(good + "NoSuchDirective on\n")
        lb.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + PAGE_TIMEOUT
        while browser.evaluate(banner + ".hidden"):
            assert time.time() < deadline, "no banner after a refused reload"
            time.sleep(0.2)
        refused = browser.evaluate(banner + ".textContent")
        assert "last reload refused" in refused, refused
    finally:
        for b in (b1, b2, b4):
            b.stop()

    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and len(png) > 10000
    out = os.environ.get("DASHBOARD_SCREENSHOT",
                         str(tmp_path / "dashboard.png"))
    with open(out, "wb") as f:
        f.write(png)

    assert [c["member"] for c in cards] == list(after)
    for card in cards:
        name = card["member"]
        assert card["balancer"] == "balancer://cluster"
        for field in FIELDS:
            shown = card["fields"][field]["value"]
            assert before[name][field] == after[name][field], (name, field)
            assert same(field, shown, after[name][field]), \
                "%s %s: page %r, JSON %r" % (name, field, shown,
                                             after[name][field])
        # Requests per second only falls once the traffic is over.
        rps = float(card["fields"]["rps"]["value"])
        assert after[name]["rps"] - 1e-9 <= rps <= before[name]["rps"] + 1e-9
        assert card["paths"] >= 2 or after[name]["requests"] == 0
        assert card["injected"] == 0, "markup in a value became elements"

    by = after
    assert by[b1.url]["state"] == "usable"
    assert by[down.url]["state"] == "error"
    assert by[down.url]["errors_by_kind"]["connect"] == 1
    assert by[b4.url]["state"] == "disabled"
    assert by[b2.url]["route"] == "<b>r2</b>"
    assert by[b1.url]["requests"] + by[b2.url]["requests"] == 36
    assert by[b1.url]["errors"] + by[b2.url]["errors"] == 2
    assert by[b1.url]["p99_ms"] >= 25      # the slow requests show
    shown = {c["member"]: c["fields"] for c in cards}
    assert shown[b2.url]["route"]["text"] == "route <b>r2</b>"
    assert shown[down.url]["state"]["text"] == "error"
    assert shown[b4.url]["state"]["text"] == "disabled"


def test_dashboard_page_and_json_basics(balancer):
    b1 = Backend("b1")
    try:
        lb = balancer(CONF % (b1.url, b1.url + "/x", b1.url + "/y",
                              b1.url + "/z"))
        set_route(lb, b1.url + "/x", "<b>r2</b>")
        conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
        conn.request("GET", "/dashboard")
        resp = conn.getresponse()
        page = resp.read().decode()
        conn.close()
        assert resp.status == 200
        assert resp.getheader("Content-Type").startswith("text/html")
        assert "default-src 'self'" in resp.getheader(
            "Content-Security-Policy")
        assert "<script" in page and "http://" not in page.replace(
            "http://www.w3.org/2000/svg", "")   # nothing from outside

        conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
        conn.request("GET", "/dashboard?json&seconds=7")
        resp = conn.getresponse()
        raw = resp.read().decode()
        conn.close()
        assert "<" not in raw, "markup is escaped in the JSON"
        data = json.loads(raw)
        assert data["seconds"] == 7
        assert data["reload"]["last_applied"] is True
        assert data["reload"]["refused"] == 0
        m = data["balancers"][0]["members"][1]
        assert m["route"] == "<b>r2</b>"
        assert all(len(v) == 7 for v in m["series"].values())

        # rps (10 s) and p50/p99 (60 s) keep their windows whatever
        # seconds= asks: requests 2 s old still count with seconds=1.
        for _ in range(5):
            conn = http.client.HTTPConnection("127.0.0.1", lb.port,
                                              timeout=10)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
        time.sleep(2.2)
        conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
        conn.request("GET", "/dashboard?json&seconds=1")
        resp = conn.getresponse()
        one = json.loads(resp.read())
        conn.close()
        served = [m for m in one["balancers"][0]["members"]
                  if m["requests"] > 0]
        assert served and all(m["p50_ms"] is not None and m["rps"] > 0
                              for m in served), served

        conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
        conn.request("DELETE", "/dashboard")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 405
    finally:
        b1.stop()
