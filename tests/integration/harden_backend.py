"""A raw-socket back end for the hardening tests.

RawBackend records the exact bytes each accepted connection sent and
answers each request it can frame (Content-Length or chunked) according to
a behaviour, a function (backend, conn_index, request_index, head) that
returns bytes to send, or one of the special values:

  CLOSE       close the connection without answering
  RESET       reset the connection (SO_LINGER 0) without answering
  STALL       never answer (the connection stays open until stop())

A returned tuple (bytes, CLOSE|RESET) sends the bytes first, then closes
or resets: a response cut in the middle. A list of bytes is sent piece by
piece, 0.2 s apart.

It also counts requests, so that tests can say how many attempts the
proxy made.
"""
import socket
import struct
import threading
import time

CLOSE = "close"
RESET = "reset"
STALL = "stall"


def ok_response(body=b"ok", extra=b""):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n"
            % (len(body), extra)) + body


def default_behaviour(backend, conn_index, request_index, head):
    return ok_response()


def _body_length(head):
    """(kind, length) of a request head's body: ('len', n) or
    ('chunked', None)."""
    kind, length = "len", 0
    for line in head.split(b"\r\n")[1:]:
        if b":" not in line:
            continue
        name, value = line.split(b":", 1)
        name = name.strip().lower()
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            kind = "chunked"
        elif name == b"content-length":
            length = int(value.strip())
    return kind, length


class Reader:
    """Reads a socket up to a separator or a byte count (EOFError when
    it closes first); record, if given, is called with each piece."""

    def __init__(self, sock, record=None):
        self.sock = sock
        self.buf = b""
        self.record = record

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        if self.record is not None:
            self.record(data)
        self.buf += data

    def until(self, sep):
        while sep not in self.buf:
            self.fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


class RawBackend:
    def __init__(self, behaviour=default_behaviour, name="raw", port=0):
        self.behaviour = behaviour
        self.name = name
        self.received = []          # per connection: bytearray
        self.log = bytearray()      # every byte received, in order
        self.heads = []             # every request head, in order
        self.lock = threading.Lock()
        self.running = True
        self.socks = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(512)
        self.port = self.listener.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def requests(self):
        with self.lock:
            return len(self.heads)

    def all_bytes(self):
        """Every byte received on any connection, in arrival order."""
        with self.lock:
            return bytes(self.log)

    def _accept_loop(self):
        while self.running:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            record = bytearray()
            with self.lock:
                index = len(self.received)
                self.received.append(record)
                self.socks.append(sock)
            threading.Thread(target=self._serve, args=(sock, index, record),
                             daemon=True).start()

    def _record(self, record, data):
        with self.lock:
            record.extend(data)
            self.log.extend(data)

    def _serve(self, sock, index, record):
        r = Reader(sock, lambda data: self._record(record, data))
        n = 0
        try:
            while self.running:
                head = r.until(b"\r\n\r\n")
                kind, length = _body_length(head)
                if kind == "chunked":
                    while True:
                        size = int(r.until(b"\r\n").split(b";")[0], 16)
                        if size == 0:
                            while r.until(b"\r\n") != b"\r\n":
                                pass
                            break
                        r.exact(size + 2)
                else:
                    r.exact(length)
                with self.lock:
                    self.heads.append(head)
                out = self.behaviour(self, index, n, head)
                n += 1
                if not self._answer(sock, out):
                    return
        except (EOFError, OSError, ValueError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _answer(self, sock, out):
        """Send out; False when the connection is done."""
        after = None
        if isinstance(out, tuple):
            out, after = out
        if isinstance(out, list):
            for piece in out[:-1]:
                sock.sendall(piece)
                time.sleep(0.2)
            out = out[-1]
        if out == STALL:
            while self.running:
                time.sleep(0.05)
            return False
        if out in (CLOSE, RESET):
            after, out = out, b""
        if out:
            sock.sendall(out)
        if after == RESET:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            sock.close()
            return False
        if after == CLOSE:
            sock.shutdown(socket.SHUT_RDWR)
            return False
        return True

    def stop(self):
        self.running = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def exchange(port, data, timeout=5.0):
    """Send raw bytes to the proxy; read until it closes or timeout.
    Returns the bytes received."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def statuses(data):
    """The status codes of the responses in data, in order (heads found
    by their status lines; bodies are small HTML pages or known)."""
    out = []
    for part in data.split(b"HTTP/1.1 ")[1:]:
        code = part[:3]
        if code.isdigit():
            out.append(int(code))
    return out
