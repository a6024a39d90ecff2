"""Failing back ends: a member stopped mid-test, the keep-alive idle-close
race, nofailover, garbage, timeouts, failonstatus."""
import json
import time

import pytest

from backends import Backend, Client

CONF = """
Listen 127.0.0.1:@PORT@
ServerName front.example
LogLevel debug
ErrorLog @ERRORLOG@
CustomLog @ACCESSLOG@ "%r %>s %{{BALANCER_WORKER_NAME}}e %{{BALANCER_DECISION}}e %{{BALANCER_ATTEMPTS}}e"
Workers 2
{extra}
<Proxy balancer://cluster>
{members}
    ProxySet {params}
</Proxy>
ProxyPass / balancer://cluster/
"""


def conf(backends, params="lbmethod=byrequests", extra="", opts="retry=1"):
    members = "\n".join("    BalancerMember %s route=r%d %s"
                        % (b.url, i + 1, opts)
                        for i, b in enumerate(backends))
    return CONF.format(members=members, params=params, extra=extra)


def get(port, path, headers=()):
    c = Client(port, timeout=15)
    try:
        return c.request("GET", path, headers)
    finally:
        c.close()


def test_member_stopped_mid_test_no_get_fails(balancer, backends):
    b1, b2 = backends(2)
    bal = balancer(conf([b1, b2]))
    keep = Client(bal.port)
    for i in range(60):
        if i == 20:
            b2.stop()
        status, _, body, _ = keep.request("GET", "/echo/%d" % i)
        assert status == 200, (i, body)
        status, _, body, _ = get(bal.port, "/echo/new%d" % i)
        assert status == 200, (i, body)
    errors = bal.errors()
    assert "member %s in balancer://cluster is in error state" % b2.url \
        in errors, errors
    assert "Connection refused" in errors

    # back again: used once its retry (1 s) has passed
    b2_again = Backend("b2", port=b2.port)
    try:
        time.sleep(1.2)
        for i in range(10):
            status, _, body, _ = get(bal.port, "/echo/back%d" % i)
            assert status == 200
        assert len(b2_again.requests) > 0
    finally:
        b2_again.stop()
    keep.close()
    bal.stop()
    # the request that found b2 refusing went to b1 on a second attempt
    lines = bal.access().splitlines()
    assert any(ln.endswith(" retry 2") for ln in lines), lines


def test_idle_close_race_never_shows_an_error(balancer, backends):
    (b1,) = backends(1, close_after=True)
    bal = balancer(conf([b1]))
    c = Client(bal.port)
    for i in range(200):
        status, _, body, _ = c.request("GET", "/echo/%d" % i)
        assert status == 200, (i, body)
    c.close()
    assert "answering 502" not in bal.errors()


def test_nofailover_503_and_failover(balancer, backends):
    b1, b2 = backends(2)
    b2.stop()
    bal = balancer(conf([b1, b2], "stickysession=BALANCEID nofailover=On"))
    # no route: the lbmethod finds b1 (after b2 refuses)
    for i in range(4):
        status, _, _, _ = get(bal.port, "/echo")
        assert status == 200
    status, _, body, _ = get(bal.port, "/echo",
                             [("Cookie", "BALANCEID=abc.r2")])
    assert status == 503, body
    status, _, body, _ = get(bal.port, "/echo",
                             [("Cookie", "BALANCEID=abc.r1")])
    assert status == 200

    bal2 = balancer(conf([b1, b2], "stickysession=BALANCEID"))
    get(bal2.port, "/echo")
    get(bal2.port, "/echo")
    status, _, body, _ = get(bal2.port, "/echo",
                             [("Cookie", "BALANCEID=abc.r2")])
    assert status == 200 and json.loads(body)["backend"] == "b1"
    assert "failover" in bal2.errors()


def test_all_members_down_503(balancer, backends):
    b1, b2 = backends(2)
    b1.stop()
    b2.stop()
    bal = balancer(conf([b1, b2]))
    status, headers, body, _ = get(bal.port, "/echo")
    assert status == 503
    assert int(headers["content-length"]) == len(body)


def test_garbage_response_502(balancer, backends):
    (b1,) = backends(1)
    bal = balancer(conf([b1]))
    status, _, _, _ = get(bal.port, "/garbage")
    assert status == 502
    assert "%s: malformed response head" % b1.url in bal.errors()


def test_timeout_504_and_failontimeout(balancer, backends):
    b1, b2 = backends(2)
    bal = balancer(conf([b1, b2], "failontimeout=On", "ProxyTimeout 1"))
    status, _, _, _ = get(bal.port, "/slow?ms=2500")
    assert status == 504
    errors = bal.errors()
    assert "no response within 1000 ms" in errors
    assert "is in error state" in errors
    # the other member still serves
    status, _, _, _ = get(bal.port, "/echo")
    assert status == 200


def test_failonstatus_puts_member_in_error(balancer, backends):
    b1, b2 = backends(2)
    bal = balancer(conf([b1, b2], "failonstatus=503"))
    status, _, _, _ = get(bal.port, "/status/503")
    assert status == 503        # the back end's own response, as Apache
    assert "status 503 is in failonstatus" in bal.errors()
    for i in range(4):
        status, _, body, _ = get(bal.port, "/echo")
        assert status == 200


def test_max_connections_queue(balancer, backends):
    import threading
    (b1,) = backends(1)
    text = conf([b1], opts="max=1").replace("Workers 2", "Workers 1")
    bal = balancer(text)
    results = []

    def one(i):
        results.append(get(bal.port, "/slow?ms=300")[0])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert results == [200] * 4
    # one connection at a time: the four requests were served in turn
    assert b1.accepts == 1
    assert time.time() - start >= 1.1
