#!/usr/bin/python3
"""Open N keep-alive client connections to 127.0.0.1:PORT and hold them.

Used by bench/run.py for the idle-connection memory case:

    idle_conns.py PORT N MAX_HOLD_SECONDS

Each connection sends one GET / and reads the whole response, so it is a
real keep-alive client connection that has been served, then stays idle.
When all are open it prints "HELD <open> FAILED <failed> SECONDS <t>" and
waits until its stdin is closed (or MAX_HOLD_SECONDS pass); then it checks
how many the server still kept open, prints "STILL <n>", and exits,
closing them all.
"""
import resource
import select
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: idle_conns\r\n\r\n"


def read_response(s):
    """Read one response with a Content-Length body; False if it fails."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return False
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


def open_one(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(REQUEST)
        if read_response(s):
            return s
    except OSError:
        pass
    s.close()
    return None


def still_open(socks):
    n = 0
    for s in socks:
        s.setblocking(False)
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
    socks, failed = [], 0
    deadline = t0 + max_hold
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        s = open_one(port)
        if s is None:
            failed += 1
            if failed >= 20:
                break
        else:
            socks.append(s)
    print("HELD %d FAILED %d SECONDS %.1f" % (len(socks), failed,
                                              time.monotonic() - t0),
          flush=True)

    select.select([sys.stdin], [], [], max(0.0, deadline - time.monotonic()))
    print("STILL %d" % still_open(socks), flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
