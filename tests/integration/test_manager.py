"""The balancer-manager: every form changes what the next requests do, the
nonce guards changes, Require ip keeps others out, values are HTML-escaped,
the JSON API reads and changes the same state; and the stickiness
diagnosis warns once per cause.

Back ends are small threads of this process that answer with their name
and, when asked by the query, set a cookie.
"""
import http.client
import http.server
import json
import threading
import time
import urllib.parse

import pytest

MANAGER = "/balancer-manager"


class NameHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", self.server.name)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        for cookie in query.get("set", []):
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class NameBackend:
    def __init__(self, name):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      NameHandler)
        self.server.daemon_threads = True
        self.server.name = name
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backends():
    started = [NameBackend(n) for n in ("a", "b", "c")]
    yield started
    for b in started:
        b.stop()


CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel warn
ProxyPass /balancer-manager !
ProxyPass / balancer://cluster/ stickysession=BALANCEID
<Proxy balancer://cluster>
    BalancerMember %s route=a
    BalancerMember %s route=b
    BalancerMember %s route=c status=+H
</Proxy>
<Location /balancer-manager>
    SetHandler balancer-manager
    Require ip 127.0.0.1
</Location>
"""


@pytest.fixture
def lb(balancer, backends):
    return balancer(CONF % tuple(b.url for b in backends))


def request(lb, method, target, body=None, headers=None, source=None):
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10,
                                      source_address=source)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def state(lb):
    status, _, body = request(lb, "GET", MANAGER + "?format=json")
    assert status == 200
    return json.loads(body)


def cluster(lb):
    (b,) = [b for b in state(lb)["balancers"]
            if b["name"] == "balancer://cluster"]
    return b


def post_form(lb, fields, nonce=True, member=None):
    data = {"b": "cluster"}
    if nonce:
        data["nonce"] = cluster(lb)["nonce"]
    if member is not None:
        data["w"] = member
    data.update(fields)
    return request(lb, "POST", MANAGER, urllib.parse.urlencode(data),
                   {"Content-Type": "application/x-www-form-urlencoded"})


def shares(lb, n, cookie=None):
    """Send n requests; count them by the back end that answered."""
    counts = {}
    headers = {"Cookie": cookie} if cookie else {}
    for _ in range(n):
        status, hdrs, body = request(lb, "GET", "/x", headers=headers)
        assert status == 200, body
        counts[body.decode()] = counts.get(body.decode(), 0) + 1
    return counts


def test_page_lists_balancer_and_members(lb, backends):
    status, hdrs, body = request(lb, "GET", MANAGER)
    page = body.decode()
    assert status == 200
    assert hdrs["Content-Type"].startswith("text/html")
    assert "balancer://cluster" in page
    for b in backends:
        assert b.url in page
    assert "byrequests" in page and "BALANCEID" in page
    # the nonce link opens the member form, guarded by the nonce
    nonce = cluster(lb)["nonce"]
    status, _, body = request(lb, "GET", MANAGER + "?b=cluster&w=%s&nonce=%s"
                              % (urllib.parse.quote(backends[0].url), nonce))
    assert 'name="w_lf"' in body.decode()
    assert 'name="nonce" value="%s"' % nonce in body.decode()


def test_disable_member_gets_none(lb, backends):
    status, _, body = post_form(lb, {"w_status_D": "1"},
                                member=backends[0].url)
    assert status == 200, body
    assert "Dis" in body.decode()
    assert shares(lb, 12) == {"b": 12}
    # a sticky request for the disabled member goes elsewhere too
    assert shares(lb, 3, "BALANCEID=s.a") == {"b": 3}

    post_form(lb, {"w_status_D": "0"}, member=backends[0].url)
    assert shares(lb, 12) == {"a": 6, "b": 6}


def test_drain_keeps_sticky_sessions_only(lb, backends):
    status, _, _ = post_form(lb, {"w_status_N": "1"},
                             member=backends[1].url)
    assert status == 200
    assert shares(lb, 10) == {"a": 10}
    assert shares(lb, 4, "BALANCEID=s.b") == {"b": 4}
    flags = [m["flags"] for m in cluster(lb)["members"]]
    assert flags[1]["N"] is True and flags[0]["N"] is False


def test_stop_member(lb, backends):
    post_form(lb, {"w_status_S": "1"}, member=backends[0].url)
    assert shares(lb, 6) == {"b": 6}


def test_loadfactor_shifts_shares(lb, backends):
    assert shares(lb, 8) == {"a": 4, "b": 4}
    status, _, _ = post_form(lb, {"w_lf": "3"}, member=backends[0].url)
    assert status == 200
    counts = shares(lb, 40)
    assert counts == {"a": 30, "b": 10}, counts
    assert cluster(lb)["members"][0]["loadfactor"] == 3


def test_lbset_and_hot_standby(lb, backends):
    # a moves to lbset 1: lbset 0 (b, and c as its standby) serves alone
    post_form(lb, {"w_ls": "1"}, member=backends[0].url)
    assert shares(lb, 6) == {"b": 6}
    # b disabled: lbset 0's hot standby c comes before lbset 1
    post_form(lb, {"w_status_D": "1"}, member=backends[1].url)
    assert shares(lb, 4) == {"c": 4}
    # c no longer a standby, disabled too: lbset 1 takes over
    post_form(lb, {"w_status_H": "0", "w_status_D": "1"},
              member=backends[2].url)
    assert shares(lb, 4) == {"a": 4}


def test_route_and_redirect_change(lb, backends):
    post_form(lb, {"w_wr": "newa"}, member=backends[0].url)
    assert shares(lb, 3, "BALANCEID=s.newa") == {"a": 3}
    # redirect: a disabled member hands its sessions to route b
    post_form(lb, {"w_rr": "b", "w_status_D": "1"}, member=backends[0].url)
    assert shares(lb, 3, "BALANCEID=s.newa") == {"b": 3}


def test_balancer_form(lb, backends):
    status, _, _ = post_form(lb, {"b_lbm": "bybusyness", "b_sforce": "1",
                                  "b_max": "0", "b_tmo": "3"})
    assert status == 200
    b = cluster(lb)
    assert (b["lbmethod"], b["nofailover"], b["maxattempts"],
            b["timeout"]) == ("bybusyness", True, 0, 3)


def test_change_without_right_nonce_is_refused(lb, backends):
    before = cluster(lb)["members"][0]
    status, _, body = post_form(lb, {"w_status_D": "1"}, nonce=False,
                                member=backends[0].url)
    assert status == 400
    assert "nonce" in body.decode()
    data = urllib.parse.urlencode({"b": "cluster", "w": backends[0].url,
                                   "nonce": "0" * 32, "w_lf": "5"})
    status, _, _ = request(lb, "POST", MANAGER, data, {
        "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    # changes by GET are refused even with the nonce
    status, hdrs, _ = request(lb, "GET", MANAGER + "?" + urllib.parse.urlencode(
        {"b": "cluster", "w": backends[0].url, "w_status_D": "1",
         "nonce": cluster(lb)["nonce"]}))
    assert status == 405 and "POST" in hdrs["Allow"]
    assert cluster(lb)["members"][0] == before
    assert shares(lb, 4) == {"a": 2, "b": 2}


def test_missing_balancer_and_odd_body_types(lb, backends):
    """A change naming no balancer says so (and echoes nothing it did not
    get); a body that is neither a form nor JSON is 415, not guessed."""
    status, _, body = request(lb, "POST", MANAGER,
                              "w_lf=2&format=json",
                              {"Content-Type":
                               "application/x-www-form-urlencoded"})
    assert status == 400
    assert json.loads(body) == {
        "error": "b: the balancer to change is missing"}
    for ctype in ("text/plain", "application/jsonx-www-form"):
        status, _, body = request(lb, "POST", MANAGER,
                                  "b=cluster&w_lf=2", {"Content-Type": ctype})
        assert status == 415, (ctype, body)
    status, _, body = post_form(lb, {"w_lf": "3"})
    assert status == 400 and b"the member to change is missing" in body


def test_client_outside_require_ip_gets_403(lb):
    status, _, _ = request(lb, "GET", MANAGER, source=("127.0.0.2", 0))
    assert status == 403
    status, _, _ = request(lb, "GET", MANAGER + "?format=json",
                           source=("127.0.0.2", 0))
    assert status == 403
    # the proxied site is not under the <Location>
    status, _, _ = request(lb, "GET", "/x", source=("127.0.0.2", 0))
    assert status == 200
    status, _, _ = request(lb, "GET", MANAGER, source=("127.0.0.1", 0))
    assert status == 200


def test_values_are_html_escaped(lb, backends):
    evil = "<script>alert(1)</script>"
    status, _, body = post_form(lb, {"w_wr": evil, "w_rr": "x'&y"},
                                member=backends[0].url)
    assert status == 200
    for page in (body.decode(), request(lb, "GET", MANAGER)[2].decode()):
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "x&#39;&amp;y" in page
    nonce = cluster(lb)["nonce"]
    form = request(lb, "GET", MANAGER + "?b=cluster&w=%s&nonce=%s" % (
        urllib.parse.quote(backends[0].url), nonce))[2].decode()
    assert "<script>" not in form
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in form
    # a refused value is escaped in the error too
    status, _, body = post_form(lb, {"w_wr": "<b> x"},
                                member=backends[0].url)
    assert status == 400 and "<b>" not in body.decode()
    assert cluster(lb)["members"][0]["route"] == evil


def test_json_api_reads_and_changes(lb, backends):
    b = cluster(lb)
    assert [m["route"] for m in b["members"]] == ["a", "b", "c"]
    status, hdrs, body = request(lb, "GET", MANAGER + "/api")
    assert status == 200 and hdrs["Content-Type"] == "application/json"
    assert json.loads(body)["balancers"][0]["name"] == "balancer://cluster"
    assert b["members"][2]["flags"]["H"] is True
    assert b["stickysession"] == "BALANCEID"
    shares(lb, 4)
    assert sum(m["elected"] for m in cluster(lb)["members"]) == 4

    change = {"balancer": "cluster", "member": backends[1].url,
              "nonce": b["nonce"], "loadfactor": 2, "lbset": 0,
              "route": "bee", "status": "+D"}
    status, _, body = request(lb, "POST", MANAGER, json.dumps(change),
                              {"Content-Type": "application/json"})
    assert status == 200, body
    out = json.loads(body)
    assert "loadfactor" in out["changed"] and "route" in out["changed"]
    m = out["balancers"][0]["members"][1]
    assert (m["loadfactor"], m["route"], m["flags"]["D"]) == (2, "bee", True)
    assert shares(lb, 4) == {"a": 4}

    change["status"] = "-D"
    change["nonce"] = "wrong"
    status, _, body = request(lb, "POST", MANAGER, json.dumps(change),
                              {"Content-Type": "application/json"})
    assert status == 400 and "nonce" in json.loads(body)["error"]
    # a client that waits for 100 Continue (curl does for big bodies)
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
    body = json.dumps(dict(change, status="-D", loadfactor=1)).encode()
    conn.putrequest("POST", MANAGER)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(len(body)))
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    assert conn.sock.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    conn.sock.sendall(body)
    resp = conn.getresponse()
    assert resp.status == 400 and b"nonce" in resp.read()
    conn.close()
    status, _, body = request(lb, "POST", MANAGER, "{not json",
                              {"Content-Type": "application/json"})
    assert status == 400
    change["nonce"] = b["nonce"]
    change["loadfactor"] = 500
    status, _, body = request(lb, "POST", MANAGER, json.dumps(change),
                              {"Content-Type": "application/json"})
    assert status == 400 and "loadfactor" in json.loads(body)["error"]
    assert cluster(lb)["members"][1]["flags"]["D"] is True


def test_stickiness_warnings_once_each(lb, backends):
    # a back end that sets the sticky cookie for another domain
    bad_cookie = urllib.parse.quote("BALANCEID=s1.a; Domain=elsewhere."
                                    "example; Path=/")
    for _ in range(3):
        status, _, _ = request(lb, "GET", "/x?set=" + bad_cookie,
                               headers={"Host": "shop.example",
                                        "Cookie": "BALANCEID=s1.a"})
        assert status == 200
    # a route that names no member
    for _ in range(3):
        request(lb, "GET", "/x", headers={"Cookie": "BALANCEID=s2.zzz"})
    # a session cookie but no sticky cookie
    for _ in range(3):
        request(lb, "GET", "/x", headers={"Cookie": "PHPSESSID=abc"})

    deadline = time.time() + 5
    while time.time() < deadline and lb.errors().count("logged once") < 3:
        time.sleep(0.05)
    log = lb.errors()
    domain = [l for l in log.splitlines() if "Domain=elsewhere.example" in l]
    assert len(domain) == 1, log
    assert "shop.example" in domain[0] and "BALANCEID" in domain[0]
    assert backends[0].url in domain[0]             # names the member
    route = [l for l in log.splitlines() if "'zzz'" in l]
    assert len(route) == 1 and "no member" in route[0], log
    session = [l for l in log.splitlines() if "PHPSESSID" in l]
    assert len(session) == 1, log

    sticky = cluster(lb)["sticky"]
    assert sticky["cookie_lost"] == 3
    assert sticky["unknown_route"] == 3
    assert sticky["session_only"] == 3
    assert sticky["misses"] == 3
    shares(lb, 2, "BALANCEID=s.b")
    assert cluster(lb)["sticky"]["hits"] == 3 + 2


def test_changes_survive_a_restart_with_balancer_persist(balancer, backends):
    """BalancerPersist On: a change made in the manager is saved at once
    and is in force after a stop and a start on the same file."""
    text = (CONF % tuple(b.url for b in backends)) + \
        "BalancerPersist On\nPidFile @DIR@/balancer.pid\n"
    first = balancer(text)
    status, _, body = post_form(first, {"w_status_D": "1"},
                                member=backends[0].url)
    assert status == 200, body
    assert first.stop() == 0
    again = balancer(text.replace("@DIR@", first.dir), port=first.port)
    assert "D" in cluster(again)["members"][0]["status"], cluster(again)
    assert shares(again, 4) == {"b": 4}
