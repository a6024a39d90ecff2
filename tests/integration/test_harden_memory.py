"""Memory stays flat over one million requests (issue 5): the resident
size after 1 000 000 requests is within 10% of the size after the first
100 000. Bounded: 64 keep-alive client connections pipelining 32 requests
each, against a back end that answers without parsing; a few tens of
seconds. The sanitizer builds keep freed memory in quarantine and the
valgrind wrapper is slow, so this runs against the normal build only.
"""
import os
import selectors
import socket
import threading
import time

import pytest

from conftest import BIN

TOTAL = 1000000
FIRST = 100000
CONNS = 64
DEPTH = 32

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
REQUEST = b"GET /m HTTP/1.1\r\nHost: m.test\r\n\r\n"

CONF = """
Listen 127.0.0.1:@PORT@
ErrorLog @ERRORLOG@
LogLevel warn
ProxyPass / http://127.0.0.1:%d/
"""

pytestmark = pytest.mark.skipif(
    "asan" in BIN or "valgrind" in BIN,
    reason="RSS is only meaningful for the normal build")


class CountingBackend:
    """Answers each request (a head ending in an empty line, no body) with
    RESPONSE, counting heads by their terminator: no parsing."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.running = True
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            self.socks.append(s)
            threading.Thread(target=self._serve, args=(s,),
                             daemon=True).start()

    def _serve(self, s):
        carry = b""
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return
                data = carry + data
                n = data.count(b"\r\n\r\n")
                carry = data[data.rfind(b"\r\n\r\n") + 4:] if n else data
                if n:
                    s.sendall(RESPONSE * n)
        except OSError:
            pass
        finally:
            s.close()

    def stop(self):
        self.running = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_requests(socks, total, deadline):
    """total requests over the pipelining connections socks; returns the
    count of complete responses (each exactly RESPONSE). The same
    connections serve every phase, so that each worker thread holds the
    same ones throughout."""
    sel = selectors.DefaultSelector()
    state = {}
    for i, s in enumerate(socks):
        per = total // len(socks) + (1 if i < total % len(socks) else 0)
        st = {"left": per, "inflight": 0, "buf": b""}
        state[s] = st
        n = min(DEPTH, st["left"])
        s.setblocking(True)
        s.sendall(REQUEST * n)
        s.setblocking(False)
        st["left"] -= n
        st["inflight"] = n
        sel.register(s, selectors.EVENT_READ)
    done = 0
    active = len(socks)
    rl = len(RESPONSE)
    while active and time.time() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s, st = key.fileobj, state[key.fileobj]
            data = s.recv(262144)
            if not data:
                raise AssertionError("proxy closed a connection")
            st["buf"] += data
            got = len(st["buf"]) // rl
            if got == 0:
                continue
            chunk = st["buf"][:got * rl]
            assert chunk == RESPONSE * got, chunk[:200]
            st["buf"] = st["buf"][got * rl:]
            st["inflight"] -= got
            done += got
            if st["left"] > 0 and st["inflight"] < DEPTH // 2:
                n = min(DEPTH - st["inflight"], st["left"])
                s.setblocking(True)
                s.sendall(REQUEST * n)
                s.setblocking(False)
                st["left"] -= n
                st["inflight"] += n
            if st["left"] == 0 and st["inflight"] == 0:
                sel.unregister(s)
                active -= 1
    sel.close()
    return done


def test_memory_flat_over_a_million_requests(balancer):
    be = CountingBackend()
    bal = balancer(CONF % be.port)
    deadline = time.time() + 240
    socks = [socket.create_connection(("127.0.0.1", bal.port))
             for _ in range(CONNS)]
    try:
        t0 = time.time()
        assert run_requests(socks, FIRST, deadline) == FIRST
        rss_first = rss_kib(bal.proc.pid)
        rest = TOTAL - FIRST
        assert run_requests(socks, rest, deadline) == rest
        took = time.time() - t0
        rss_after = rss_kib(bal.proc.pid)
    finally:
        for s in socks:
            s.close()
        be.stop()
    print("1M requests in %.1f s (%.0f/s); RSS %d KiB after 100k, %d KiB "
          "after 1M" % (took, TOTAL / took, rss_first, rss_after))
    assert rss_after <= rss_first * 1.10, (rss_first, rss_after)
