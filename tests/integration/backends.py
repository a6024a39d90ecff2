"""Small HTTP/1.1 back ends for the proxy integration tests.

Backend(name) listens on a free 127.0.0.1 port and serves keep-alive
connections in threads, with a raw socket per connection so that tests can
see and control exactly what goes over the wire: it counts accepted
connections, records each request (method, target, headers, body length
and sha256) and answers according to the path:

  /echo...              200, a JSON body describing the request
  /download?size=N      N bytes (pattern) with Content-Length
  /chunked?size=N       N bytes in chunks of 8000
  /close?size=N         N bytes delimited by closing the connection
  /status/NNN           that status, no body for 204/304
  /redirect             302 to this back end's own address
  /slow?ms=N            waits N ms, then 200
  /garbage              a malformed status line
  /ws                   WebSocket handshake, then echoes frames
Uploads (any method with a body) are read and hashed as they arrive, never
held whole. With Expect: 100-continue the back end sends 100 Continue first.
With close_after=True the back end closes each connection right after its
response while announcing keep-alive: the idle-close race.
"""
import base64
import hashlib
import json
import socket
import threading
import time
import urllib.parse

PATTERN = bytes(range(256)) * 256       # 64 KiB


def pattern_bytes(size):
    """The deterministic body of /download?size=N, yielded in pieces."""
    while size > 0:
        piece = PATTERN[:min(size, len(PATTERN))]
        size -= len(piece)
        yield piece


def pattern_sha256(size):
    h = hashlib.sha256()
    for piece in pattern_bytes(size):
        h.update(piece)
    return h.hexdigest()


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers          # list of (name, value)
        self.body_len = 0
        self.body_sha256 = hashlib.sha256().hexdigest()
        self.body_prefix = b""
        self.sent_continue = False

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def path(self):
        return urllib.parse.urlsplit(self.target).path

    @property
    def query(self):
        return dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(self.target).query))


class Conn:
    """Buffered reading over one accepted socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(262144)
        if not data:
            raise EOFError
        self.buf += data

    def read_until(self, sep, limit=65536):
        while sep not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("head too long")
            self.fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_some(self, n):
        if not self.buf:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def read_request(conn):
    head = conn.read_until(b"\r\n\r\n").decode("latin-1")
    lines = head.split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return Request(method, target, version, headers)


def read_body(conn, req, on_data):
    te = (req.header("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        while True:
            line = conn.read_until(b"\r\n").decode("latin-1")
            size = int(line.split(";")[0].strip(), 16)
            if size == 0:
                while conn.read_until(b"\r\n") != b"\r\n":
                    pass
                return
            left = size
            while left > 0:
                piece = conn.read_some(left)
                on_data(piece)
                left -= len(piece)
            conn.read_exact(2)
    length = int(req.header("Content-Length") or 0)
    while length > 0:
        piece = conn.read_some(min(length, 262144))
        on_data(piece)
        length -= len(piece)


def response_head(status, headers, reason="X"):
    out = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for k, v in headers:
        out += "%s: %s\r\n" % (k, v)
    return (out + "\r\n").encode("latin-1")


def ws_accept(key):
    magic = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    return base64.b64encode(
        hashlib.sha1((key + magic).encode()).digest()).decode()


def ws_read_frame(conn):
    b0, b1 = conn.read_exact(2)
    length = b1 & 0x7F
    if length == 126:
        length = int.from_bytes(conn.read_exact(2), "big")
    elif length == 127:
        length = int.from_bytes(conn.read_exact(8), "big")
    mask = conn.read_exact(4) if b1 & 0x80 else None
    data = bytearray(conn.read_exact(length))
    if mask:
        for i in range(len(data)):
            data[i] ^= mask[i % 4]
    return b0 & 0x0F, bytes(data)


def ws_frame(opcode, data, mask=None):
    head = bytes([0x80 | opcode])
    n = len(data)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mbit | 127]) + n.to_bytes(8, "big")
    if mask:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        head += mask
    return head + data


class Backend:
    def __init__(self, name="backend", close_after=False, port=None):
        self.name = name
        self.close_after = close_after
        self.accepts = 0
        self.requests = []
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port or 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.running = True
        self.conns = set()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while self.running:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepts += 1
                self.conns.add(sock)
            threading.Thread(target=self._serve, args=(sock,),
                             daemon=True).start()

    def stop(self):
        """Close the listening socket and every connection."""
        self.running = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            conns = list(self.conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self, sock):
        conn = Conn(sock)
        try:
            while self.running:
                req = read_request(conn)
                with self.lock:
                    self.requests.append(req)
                if not self._handle(conn, req):
                    break
                if self.close_after:
                    break
        except (EOFError, OSError, ValueError):
            pass
        finally:
            with self.lock:
                self.conns.discard(sock)
            sock.close()

    def _read_upload(self, conn, req):
        if (req.header("Expect") or "").lower() == "100-continue":
            conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            req.sent_continue = True
        h = hashlib.sha256()

        def on_data(piece):
            h.update(piece)
            req.body_len += len(piece)
            if len(req.body_prefix) < 1024:
                req.body_prefix += piece[:1024]
        read_body(conn, req, on_data)
        req.body_sha256 = h.hexdigest()

    def _send(self, conn, status, headers, body=b""):
        conn.sock.sendall(response_head(status, headers) + body)

    def _handle(self, conn, req):
        """Answer one request; False closes the connection."""
        self._read_upload(conn, req)
        path, q, s = req.path, req.query, conn.sock
        head_only = req.method == "HEAD"
        if path == "/garbage":
            s.sendall(b"HTTP/1.1 abc nonsense\r\n\r\n")
            return False
        if path == "/slow":
            time.sleep(int(q.get("ms", "1000")) / 1000.0)
        if path == "/ws":
            return self._websocket(conn, req)
        if path.startswith("/status/"):
            code = int(path[8:])
            hdrs = [("X-Backend", self.name)]
            if code not in (204, 304):
                hdrs.append(("Content-Length", "2"))
            self._send(conn, code, hdrs,
                       b"" if code in (204, 304) or head_only else b"ok")
            return True
        if path == "/redirect":
            self._send(conn, 302, [("Location", self.url + "/target?x=1"),
                                   ("Content-Location", self.url + "/c"),
                                   ("Content-Length", "0")])
            return True
        if path in ("/download", "/chunked", "/close"):
            return self._download(s, path, int(q.get("size", "0")),
                                  head_only)
        info = {
            "backend": self.name, "method": req.method,
            "target": req.target, "headers": req.headers,
            "body_len": req.body_len, "body_sha256": req.body_sha256,
            "sent_continue": req.sent_continue,
        }
        body = json.dumps(info).encode()
        hdrs = [("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("X-Backend", self.name),
                ("Connection", "keep-alive, X-Hop"),
                ("Keep-Alive", "timeout=5"), ("X-Hop", "secret")]
        self._send(conn, 200, hdrs, b"" if head_only else body)
        return True

    def _download(self, s, path, size, head_only):
        if path == "/download":
            s.sendall(response_head(200, [("Content-Length", str(size)),
                                          ("X-Backend", self.name)]))
            if not head_only:
                for piece in pattern_bytes(size):
                    s.sendall(piece)
            return True
        if path == "/chunked":
            s.sendall(response_head(200, [("Transfer-Encoding", "chunked"),
                                          ("X-Backend", self.name)]))
            if head_only:
                return True
            data = b"".join(pattern_bytes(size))
            for i in range(0, len(data), 8000):
                piece = data[i:i + 8000]
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            s.sendall(b"0\r\n\r\n")
            return True
        s.sendall(response_head(200, [("Connection", "close"),
                                      ("X-Backend", self.name)]))
        for piece in pattern_bytes(size):
            s.sendall(piece)
        return False

    def _websocket(self, conn, req):
        key = req.header("Sec-WebSocket-Key") or ""
        conn.sock.sendall(response_head(101, [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", ws_accept(key))], "Switching Protocols"))
        while True:
            opcode, data = ws_read_frame(conn)
            if opcode == 8:
                conn.sock.sendall(ws_frame(8, data))
                return False
            conn.sock.sendall(ws_frame(opcode, data))


def raw_request(port, data, timeout=10.0, until_close=True):
    """Send raw bytes, return everything received until the peer closes
    (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if not until_close:
                break
    except socket.timeout:
        pass
    s.close()
    return out


class Client:
    """A keep-alive HTTP/1.1 client over one raw socket, reading responses
    with their framing (enough for the tests; bodies may be hashed)."""

    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.conn = Conn(self.sock)

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, headers=(), body=b""):
        hdrs = [("Host", "front.test")] + list(headers)
        if body:
            hdrs.append(("Content-Length", str(len(body))))
        head = "%s %s HTTP/1.1\r\n" % (method, target)
        head += "".join("%s: %s\r\n" % kv for kv in hdrs) + "\r\n"
        self.sock.sendall(head.encode("latin-1") + body)
        return self.response(method)

    def response(self, method="GET", sha=False):
        """Read one final response: (status, headers dict lower-case,
        body or sha256 hex, body length)."""
        while True:
            head = self.conn.read_until(b"\r\n\r\n").decode("latin-1")
            lines = head.split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    k, v = line.split(":", 1)
                    k = k.strip().lower()
                    headers[k] = (headers[k] + ", " + v.strip()
                                  if k in headers else v.strip())
            if status >= 200 or status == 101:
                break
        h = hashlib.sha256()
        body = bytearray()
        total = [0]

        def take(piece):
            total[0] += len(piece)
            if sha:
                h.update(piece)
            else:
                body.extend(piece)

        if method == "HEAD" or status in (204, 304) or status < 200:
            pass
        elif "chunked" in headers.get("transfer-encoding", ""):
            req = Request("", "", "", [("Transfer-Encoding", "chunked")])
            read_body(self.conn, req, take)
        elif "content-length" in headers:
            req = Request("", "", "",
                          [("Content-Length", headers["content-length"])])
            read_body(self.conn, req, take)
        else:
            try:
                while True:
                    take(self.conn.read_some(262144))
            except EOFError:
                pass
        return status, headers, (h.hexdigest() if sha else bytes(body)), \
            total[0]
