#!/usr/bin/python3
"""Open N keep-alive client connections to 127.0.0.1:PORT and hold them.

Used by bench/run.py for the idle-connection memory case:

    idle_conns.py PORT N MAX_HOLD_SECONDS

Each connection sends one GET / and reads the whole response, so it is a
real keep-alive client connection that has been served, then stays idle.
They are opened 64 at a time, so that all are open within a few seconds
(a proxy may close connections idle for longer than its keep-alive
timeout: Apache's default, and balancer's, is 5 s).
When all are open it prints "HELD <open> FAILED <failed> SECONDS <t>" and
waits until its stdin is closed (or MAX_HOLD_SECONDS pass); then it checks
how many the server still kept open, prints "STILL <n>", and exits,
closing them all.
"""
import resource
import select
import selectors
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: idle_conns\r\n\r\n"


class Pending:
    """One connection on its way: connect, send the request, read the reply."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.connect_ex(("127.0.0.1", port))
        self.sent = 0
        self.data = b""
        self.started = time.monotonic()

    def step(self):
        """Make progress; True when served, False while waiting; raises on
        failure."""
        if self.sent < len(REQUEST):
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, "connect")
            self.sent += self.sock.send(REQUEST[self.sent:])
            return False
        chunk = self.sock.recv(65536)
        if not chunk:
            raise OSError("closed before the response")
        self.data += chunk
        return response_complete(self.data)


def response_complete(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError("status " + head.split(b"\r\n")[0].decode(errors="replace"))
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(body) >= length


def open_all(port, count, deadline, parallel=64, timeout=2.0):
    """Open count served connections, parallel at a time; (socks, failed)."""
    sel = selectors.DefaultSelector()
    done, failed, started = [], 0, 0
    while (started < count or sel.get_map()) and time.monotonic() < deadline:
        while started < count and len(sel.get_map()) < parallel:
            p = Pending(port)
            sel.register(p.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, p)
            started += 1
        for key, _ in sel.select(0.1):
            p = key.data
            try:
                if not p.step():
                    if p.sent >= len(REQUEST):
                        sel.modify(p.sock, selectors.EVENT_READ, p)
                    continue
                sel.unregister(p.sock)
                done.append(p.sock)
            except OSError:
                sel.unregister(p.sock)
                p.sock.close()
                failed += 1
        now = time.monotonic()
        for key in list(sel.get_map().values()):
            if now - key.data.started > timeout:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                failed += 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()
        failed += 1
    return done, failed


def still_open(socks):
    n = 0
    for s in socks:
        try:
            if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b"":
                n += 1  # unexpected data, but the connection is open
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def main():
    port, count, max_hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    t0 = time.monotonic()
    deadline = t0 + max_hold
    socks, failed = open_all(port, count, deadline)
    print("HELD %d FAILED %d SECONDS %.1f" % (len(socks), failed,
                                              time.monotonic() - t0),
          flush=True)

    select.select([sys.stdin], [], [], max(0.0, deadline - time.monotonic()))
    print("STILL %d" % still_open(socks), flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
