"""Prometheus metrics (SetHandler balancer-metrics): the text exposition
format 0.0.4 is parsed strictly by a small parser here, and the numbers are
checked against the traffic the test sent: requests per member, errors by
kind after failing back ends, histogram count equal to requests, sticky
hits and misses, usable and status gauges.
"""
import http.client
import json
import re
import signal
import time

import pytest

from backends import Backend, Client

CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel notice
ProxyPass /metrics !
ProxyPass /dead/ balancer://dead/
ProxyPass / balancer://cluster/ stickysession=ROUTEID
<Proxy balancer://cluster>
    BalancerMember %s route=r1
    BalancerMember %s route=r2
    ProxySet lbmethod=byrequests
</Proxy>
<Proxy balancer://dead>
    BalancerMember %s route=ok
    BalancerMember %s route=down retry=60
    ProxySet lbmethod=byrequests
</Proxy>
<Location /metrics>
    SetHandler balancer-metrics
    Require ip 127.0.0.1
</Location>
"""

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')


def unescape(value):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1),
                                                      m.group(1)), value)


def parse(text):
    """Parse the text format: {family: {"type", "help", "samples":
    [(name, labels dict, float)]}}. Fails on anything malformed: a sample
    before its TYPE, a family split in two, a bad label or value."""
    families = {}
    current = None
    done = set()
    assert text.endswith("\n")
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name, help_text = line[7:].split(" ", 1)
            assert name not in families, "family %s twice" % name
            if current is not None:
                done.add(current)
            families[name] = {"help": help_text, "type": None,
                              "samples": []}
            current = name
            continue
        if line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert name == current, "TYPE %s after HELP %s" % (name, current)
            assert kind in ("counter", "gauge", "histogram"), kind
            families[name]["type"] = kind
            continue
        assert not line.startswith("#") and line, "bad line %r" % line
        m = SAMPLE.match(line)
        assert m, "bad sample line %r" % line
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        family = name
        if families.get(current, {}).get("type") == "histogram":
            family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert family == current and family not in done, \
            "sample %s outside its family (%s)" % (name, current)
        labels = {}
        pos = 0
        while pos < len(labels_text):
            lm = LABEL.match(labels_text, pos)
            assert lm, "bad labels in %r" % line
            labels[lm.group(1)] = unescape(lm.group(2))
            pos = lm.end()
        families[family]["samples"].append((name, labels, float(value)))
    return families


def scrape(lb):
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        body = resp.read().decode()
        assert resp.status == 200, body
        assert resp.getheader("Content-Type").startswith(
            "text/plain; version=0.0.4"), resp.getheader("Content-Type")
        return parse(body)
    finally:
        conn.close()


def scrape_when(lb, ready, limit=5.0):
    """A request is counted just after its last byte is sent, so a
    scrape made as soon as the client has read the response (on another
    connection, maybe another worker) can come before the count: scrape
    until ready(families) holds, for limit seconds at most."""
    deadline = time.time() + limit
    while True:
        m = scrape(lb)
        if ready(m) or time.time() > deadline:
            return m
        time.sleep(0.02)


def requests_total(m, balancer, members):
    return sum(value(m, "balancer_member_requests_total", balancer=balancer,
                     member=b.url) for b in members)


def value(families, name, **labels):
    family = re.sub(r"_(bucket|sum|count)$", "", name)
    if family not in families:
        family = name
    found = [v for n, l, v in families[family]["samples"]
             if n == name and all(l.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, "%s %s: %r" % (name, labels, found)
    return found[0]


@pytest.fixture
def setup(balancer):
    b1, b2, ok = Backend("b1"), Backend("b2"), Backend("ok")
    down = Backend("down")
    down.stop()                         # its port now refuses connections
    lb = balancer(CONF % (b1.url, b2.url, ok.url, down.url))
    yield lb, b1, b2, ok, down
    for b in (b1, b2, ok):
        b.stop()


def test_counts_match_traffic(setup):
    lb, b1, b2, ok, down = setup
    c = Client(lb.port, timeout=15)
    try:
        for i in range(20):
            assert c.request("GET", "/echo?i=%d" % i)[0] == 200
        for i in range(4):
            assert c.request("GET", "/status/500")[0] == 500
        for i in range(3):                      # sticky: all to b1
            assert c.request("GET", "/echo", [("Cookie",
                                               "ROUTEID=x.r1")])[0] == 200
    finally:
        c.close()
    assert Client(lb.port).request("GET", "/garbage")[0] == 502

    cl = "balancer://cluster"
    m = scrape_when(lb, lambda m: requests_total(m, cl, (b1, b2)) == 28)
    for f in ("balancer_member_requests_total",
              "balancer_member_errors_total",
              "balancer_member_request_duration_seconds",
              "balancer_member_busy", "balancer_member_idle_connections",
              "balancer_member_usable", "balancer_member_status",
              "balancer_sticky_hits_total", "balancer_sticky_misses_total"):
        assert m[f]["help"] and m[f]["type"], f

    reqs = {b.url: value(m, "balancer_member_requests_total", balancer=cl,
                         member=b.url) for b in (b1, b2)}
    assert sum(reqs.values()) == 28
    # Exactly what each back end saw (the 502 one saw its request too).
    assert reqs[b1.url] == len(b1.requests)
    assert reqs[b2.url] == len(b2.requests)
    assert value(m, "balancer_member_requests_total", balancer=cl,
                 member=b1.url, route="r1") == reqs[b1.url]

    fivexx = sum(value(m, "balancer_member_errors_total", balancer=cl,
                       member=b.url, kind="status_5xx") for b in (b1, b2))
    assert fivexx == 4
    bad = sum(value(m, "balancer_member_errors_total", balancer=cl,
                    member=b.url, kind="bad_response") for b in (b1, b2))
    assert bad == 1
    for b in (b1, b2):
        for kind in ("connect", "timeout", "aborted"):
            assert value(m, "balancer_member_errors_total", balancer=cl,
                         member=b.url, kind=kind) == 0

    for b in (b1, b2):
        name = "balancer_member_request_duration_seconds"
        buckets = [(l["le"], v) for n, l, v in m[name]["samples"]
                   if n == name + "_bucket" and l["member"] == b.url]
        assert buckets[-1][0] == "+Inf"
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), "buckets must be cumulative"
        les = [float(le) for le, _ in buckets[:-1]]
        assert les == sorted(les) and les[0] <= 0.001 and les[-1] >= 10
        assert value(m, name + "_count", member=b.url) == reqs[b.url]
        assert counts[-1] == reqs[b.url]
        total = value(m, name + "_sum", member=b.url)
        assert 0 < total < reqs[b.url] * 1.0    # loopback: well under 1 s
        assert value(m, "balancer_member_usable", member=b.url) == 1
        assert value(m, "balancer_member_busy", member=b.url) == 0
        assert value(m, "balancer_member_status", member=b.url,
                     flag="in_error") == 0
    idle = sum(value(m, "balancer_member_idle_connections", member=b.url)
               for b in (b1, b2))
    assert idle >= 1, "keep-alive connections stay pooled"

    assert value(m, "balancer_sticky_hits_total", balancer=cl) == 3
    assert value(m, "balancer_sticky_misses_total", balancer=cl) == 25


def test_failing_backend(setup):
    lb, b1, b2, ok, down = setup
    c = Client(lb.port, timeout=15)
    try:
        for i in range(6):
            assert c.request("GET", "/dead/echo")[0] == 200
    finally:
        c.close()

    dead = "balancer://dead"
    m = scrape_when(lb, lambda m: requests_total(m, dead, (ok,)) == 6)
    assert value(m, "balancer_member_requests_total", balancer=dead,
                 member=ok.url) == 6 == len(ok.requests)
    assert value(m, "balancer_member_requests_total", balancer=dead,
                 member=down.url) == 0
    # The first request tried it, failed to connect and went on; after
    # that it is in error for retry=60 and takes no attempts.
    assert value(m, "balancer_member_errors_total", balancer=dead,
                 member=down.url, kind="connect") == 1
    assert value(m, "balancer_member_usable", member=down.url) == 0
    assert value(m, "balancer_member_status", member=down.url,
                 flag="in_error") == 1
    assert value(m, "balancer_member_usable", member=ok.url) == 1
    # No stickysession: no sticky counters for that balancer.
    assert not [l for n, l, v in m["balancer_sticky_hits_total"]["samples"]
                if l["balancer"] == dead]


def test_metrics_method_and_access(setup):
    lb = setup[0]
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
    conn.request("POST", "/metrics", body=b"x")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 405
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
    conn.request("HEAD", "/metrics")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == b""
    conn.close()


def test_parser_rejects_bad_text():
    with pytest.raises(AssertionError):
        parse('x{a="b} 1\n')
    with pytest.raises(AssertionError):
        parse("# HELP a x\n# TYPE a counter\na 1\n# HELP b y\n"
              "# TYPE b gauge\nb 1\na 2\n")
    fam = parse('# HELP a x\n# TYPE a gauge\na{l="q\\"\\\\\\n"} 1\n')
    assert fam["a"]["samples"][0][1]["l"] == 'q"\\\n'


def cluster_total(m, backends):
    return sum(value(m, "balancer_member_requests_total",
                     balancer="balancer://cluster", member=b.url)
               for b in backends)


def test_counters_survive_a_reload(setup):
    lb, b1, b2, ok, down = setup
    c = Client(lb.port, timeout=15)
    try:
        for i in range(5):
            assert c.request("GET", "/echo")[0] == 200
    finally:
        c.close()
    # A request is counted just after its last byte is sent: wait for the
    # five (requests finishing on the old configuration after the reload
    # took its counters over are counted there only).
    deadline = time.time() + 5
    while cluster_total(scrape(lb), (b1, b2)) != 5:
        assert time.time() < deadline
        time.sleep(0.02)
    lb.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "reloaded (generation 2)" not in lb.errors():
        assert time.time() < deadline, lb.errors()
        time.sleep(0.02)
    c = Client(lb.port, timeout=15)
    try:
        for i in range(3):
            assert c.request("GET", "/echo")[0] == 200
    finally:
        c.close()
    m = scrape_when(lb, lambda m: requests_total(
        m, "balancer://cluster", (b1, b2)) == 8)
    total = requests_total(m, "balancer://cluster", (b1, b2))
    assert total == 8 == len(b1.requests) + len(b2.requests)
    count = sum(value(m, "balancer_member_request_duration_seconds_count",
                      member=b.url) for b in (b1, b2))
    assert count == 8


def test_reload_outcomes(setup):
    """A reload refused by a SIGHUP sent by hand (systemd's ExecReload)
    shows in the metrics, not only in the error log, under the names
    Prometheus uses for its own reloads."""
    lb = setup[0]

    def reloads(m):
        return (value(m, "balancer_config_reloads_total", result="applied"),
                value(m, "balancer_config_reloads_total", result="refused"),
                value(m, "balancer_config_last_reload_successful"))

    def sighup_until(text, count):
        lb.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while lb.errors().count(text) < count:
            assert time.time() < deadline, lb.errors()
            time.sleep(0.02)

    m = scrape(lb)
    assert reloads(m) == (0, 0, 1)
    started = value(m, "balancer_config_last_reload_success_timestamp_seconds")
    assert abs(started - time.time()) < 120
    with open(lb.conf) as f:
        good = f.read()
    with open(lb.conf, "w") as f:
        f.write(good + "NoSuchDirective on\n")
    sighup_until("reload refused", 1)
    assert reloads(scrape(lb)) == (0, 1, 0)
    with open(lb.conf, "w") as f:
        f.write(good)
    sighup_until("reloaded (generation 2)", 1)
    m = scrape(lb)
    assert reloads(m) == (1, 1, 1)
    assert value(m, "balancer_config_last_reload_success_timestamp_seconds"
                 ) >= started


FAILOVER_CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
ProxyPass /metrics !
ProxyPass /dashboard !
ProxyPass /balancer-manager !
ProxyPass /strict/ balancer://strict/ stickysession=ROUTEID nofailover=On
ProxyPass / balancer://cluster/ stickysession=ROUTEID
<Proxy balancer://cluster>
    BalancerMember %s route=r1
    BalancerMember %s route=r2 status=+D
</Proxy>
<Proxy balancer://strict>
    BalancerMember %s route=r1
    BalancerMember %s route=r2 status=+D
</Proxy>
<Location /metrics>
    SetHandler balancer-metrics
    Require ip 127.0.0.1
</Location>
<Location /dashboard>
    SetHandler balancer-dashboard
    Require ip 127.0.0.1
</Location>
<Location /balancer-manager>
    SetHandler balancer-manager
    Require ip 127.0.0.1
</Location>
"""


def sticky_views(lb, name):
    """The sticky counters of balancer name as the dashboard's JSON and
    the manager's JSON give them."""
    c = Client(lb.port, timeout=15)
    st, _, body, _ = c.request("GET", "/dashboard?json&seconds=1")
    assert st == 200, body
    dash = [b for b in json.loads(body)["balancers"] if b["name"] == name]
    st, _, body, _ = c.request("GET", "/balancer-manager?format=json")
    assert st == 200, body
    c.close()
    data = json.loads(body)
    found = data["balancers"] if isinstance(data, dict) else data
    man = [b for b in found if b["name"] == name]
    return dash[0]["sticky"], man[0]["sticky"]


def test_sticky_failovers_are_counted(balancer):
    """A route naming a member that cannot take the request counts as a
    sticky failover (it is neither a hit nor a miss), whether another
    member takes it or nofailover answers 503."""
    b1, b2 = Backend("b1"), Backend("b2")
    try:
        lb = balancer(FAILOVER_CONF % (b1.url, b2.url, b1.url, b2.url))
        c = Client(lb.port, timeout=15)
        cookie = [("Cookie", "ROUTEID=x.r2")]
        for _ in range(3):
            assert c.request("GET", "/echo", cookie)[0] == 200
        for _ in range(2):
            assert c.request("GET", "/strict/echo", cookie)[0] == 503
        c.close()
        m = scrape(lb)
        assert value(m, "balancer_sticky_failovers_total",
                     balancer="balancer://cluster") == 3
        assert value(m, "balancer_sticky_failovers_total",
                     balancer="balancer://strict") == 2
        assert value(m, "balancer_sticky_hits_total",
                     balancer="balancer://cluster") == 0
        assert value(m, "balancer_sticky_misses_total",
                     balancer="balancer://cluster") == 0

        # The same counters under the same names in the dashboard's and
        # the manager's JSON, and in the metrics (balancer_sticky_NAME_total).
        dash, man = sticky_views(lb, "balancer://cluster")
        assert dash == man, (dash, man)
        assert dash["failovers"] == 3
        for key, count in dash.items():
            assert value(m, "balancer_sticky_%s_total" % key,
                         balancer="balancer://cluster") == count, key
    finally:
        b1.stop()
        b2.stop()
