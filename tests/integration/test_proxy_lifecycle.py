"""WebSocket tunnelling, graceful SIGTERM, sticky cookie insertion."""
import base64
import json
import os
import signal
import socket
import threading
import time

import pytest

from backends import Backend, Client, Conn, ws_frame, ws_read_frame

CONF = """
Listen 127.0.0.1:@PORT@
ServerName front.example
LogLevel info
ErrorLog @ERRORLOG@
Workers 2
<Proxy balancer://cluster>
    BalancerMember {url} route=r1
    ProxySet {params}
</Proxy>
ProxyPass / balancer://cluster/
"""


@pytest.fixture
def backend():
    b = Backend("b1")
    yield b
    b.stop()


def test_websocket_echo(balancer, backend):
    bal = balancer(CONF.format(url=backend.url, params="lbmethod=byrequests"))
    s = socket.create_connection(("127.0.0.1", bal.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws HTTP/1.1\r\nHost: front\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    conn = Conn(s)
    head = conn.read_until(b"\r\n\r\n").decode()
    assert head.startswith("HTTP/1.1 101 "), head
    assert "upgrade: websocket" in head.lower()
    for i, size in enumerate((5, 200, 70000)):
        msg = bytes([65 + i]) * size
        s.sendall(ws_frame(2, msg, mask=os.urandom(4)))
        opcode, data = ws_read_frame(conn)
        assert opcode == 2 and data == msg
    s.sendall(ws_frame(8, b"\x03\xe8", mask=os.urandom(4)))
    opcode, _ = ws_read_frame(conn)
    assert opcode == 8
    s.close()


def test_websocket_with_python_client(balancer, backend):
    websocket = pytest.importorskip("websocket")
    bal = balancer(CONF.format(url=backend.url, params="lbmethod=byrequests"))
    ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % bal.port,
                                     timeout=10)
    ws.send("hello through balancer")
    assert ws.recv() == "hello through balancer"
    ws.close()


def test_sigterm_finishes_request_in_flight(balancer, backend):
    bal = balancer(CONF.format(url=backend.url, params="lbmethod=byrequests"))
    idle = Client(bal.port)
    assert idle.request("GET", "/echo")[0] == 200
    result = {}

    def slow():
        c = Client(bal.port, timeout=15)
        result["r"] = c.request("GET", "/slow?ms=1500")
        c.close()
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    started = time.time()
    bal.proc.send_signal(signal.SIGTERM)
    # the idle keep-alive client is closed at once
    idle.sock.settimeout(2)
    assert idle.sock.recv(10) == b""
    t.join(10)
    status, headers, body, _ = result["r"]
    assert status == 200 and headers.get("connection") == "close"
    assert bal.proc.wait(10) == 0
    assert time.time() - started < 5
    # no new connections are taken
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", bal.port), timeout=1)


def test_sticky_cookie_inserted(balancer, backend):
    bal = balancer(CONF.format(
        url=backend.url,
        params="stickysession=BALANCEID stickysessioninsert=On"))
    c = Client(bal.port)
    status, headers, _, _ = c.request("GET", "/echo")
    cookie = headers.get("set-cookie", "")
    assert cookie.startswith("BALANCEID=") and ".r1" in cookie, headers
    status, headers, _, _ = c.request("GET", "/echo",
                                      [("Cookie", cookie.split(";")[0])])
    assert "set-cookie" not in headers
    c.close()
