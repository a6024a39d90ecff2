#!/usr/bin/python3
"""bench/run.py - balancer side by side with HAProxy, nginx and Apache httpd.

`make bench` runs this. It starts two nginx back ends on free loopback ports
(every path answers a 1 KiB body, /64k a 64 KiB body), then, case by case,
starts each proxy fresh with the same two members (round robin, keep-alive
to the back ends, the same number of worker threads) and drives it with wrk
for a bounded time:

  ka64      64 keep-alive client connections
  ka1000    1000 keep-alive client connections
  close     64 connections, "Connection: close" (a new connection per request)
  big       64 keep-alive connections fetching the 64 KiB body
  sticky    64 keep-alive connections, every request with
            "Cookie: BALANCEID=x.server1" (each proxy set up for cookie
            persistence on that existing cookie)
  idle      10 000 idle keep-alive client connections held open (memory)

Targets: direct (one back end, no proxy), balancer, haproxy, nginx, apache.
For each run: req/s, p50 and p99 latency, CPU seconds per 10 000 requests of
the proxy's processes (utime+stime from /proc/PID/stat), peak RSS (VmHWM),
back-end connections accepted per request. Then, for ka64: throughput with
2 worker threads; system calls per request (strace -c -f over a bounded
load) for balancer, HAProxy and nginx; heap allocations per request of
balancer (bench/malloc_count.c preloaded); a perf profile of balancer;
the CPU per request of balancer and HAProxy split by system call (perf).

The report (ratios against HAProxy from the same run) goes to
OUT/report.md and, unless DOC is empty, to docs/performance.md; raw figures
to OUT/results.json. Environment knobs: DURATION (s per run, default 10,
at most 30), WARMUP (1), WORKERS (1), WRK_THREADS (2), CASES, TARGETS,
IDLE_CONNS (10000), APACHE_SERVERS (16), ROUNDS (3: runs of ka64, ka1000
and sticky for balancer, HAProxy and nginx, medians reported), EXTRAS
("scale syscalls allocs profile callsplit"), BALANCER (build/balancer), OUT (bench/results/<UTC stamp>),
DOC (docs/performance.md), BENCH_SOURCE (the commit, for a tree that is
no git checkout).

Everything binds 127.0.0.1 only; every process started here is stopped by
its PID when the run ends, however it ends.
"""
import atexit
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEMPLATES = os.path.join(HERE, "templates")
HOST = "127.0.0.1"


def env_int(name, default, low=0, high=None):
    value = int(os.environ.get(name) or default)
    value = max(low, value)
    return min(value, high) if high is not None else value


DURATION = env_int("DURATION", 10, 1, 30)
WARMUP = env_int("WARMUP", 1, 0, 10)
WORKERS = env_int("WORKERS", 1, 1, 64)
WRK_THREADS = env_int("WRK_THREADS", 2, 1, 64)
IDLE_CONNS = env_int("IDLE_CONNS", 10000, 1, 19000)
APACHE_SERVERS = env_int("APACHE_SERVERS", 16, 1, 64)
# The keep-alive cases behind the headline targets, and sticky (the same
# load with a cookie; one run of it gave 0.89 x HAProxy's CPU, the next
# four 0.72 to 0.86), run ROUNDS times, the proxies interleaved
# (balancer, haproxy, nginx, balancer, ...), and the report gives each
# figure's median and each ratio as the median of the per-round ratios:
# one 10 s run on this shared machine can be off by 2x.
ROUNDS = env_int("ROUNDS", 3, 1, 9)
ROUND_CASES = ("ka64", "ka1000", "sticky")
ROUND_TARGETS = ("balancer", "haproxy", "nginx")
CASES = os.environ.get("CASES", "ka64 ka1000 close big sticky idle").split()
TARGETS = os.environ.get(
    "TARGETS", "direct balancer haproxy nginx apache").split()
EXTRAS = os.environ.get("EXTRAS",
                        "scale syscalls allocs profile callsplit").split()
SPLIT_HZ = 1999
BALANCER = os.path.join(ROOT, os.environ.get("BALANCER", "build/balancer"))
STAMP = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
OUT = os.environ.get("OUT") or os.path.join(HERE, "results", STAMP)
DOC = os.environ.get("DOC", os.path.join(ROOT, "docs", "performance.md"))
MALLOC_SO = os.path.join(ROOT, "build", "bench", "malloc_count.so")

# wrk: connections, extra headers, path; per case
CASE_LOAD = {
    "ka64": (64, [], "/"),
    "ka1000": (1000, [], "/"),
    "close": (64, ["Connection: close"], "/"),
    "big": (64, [], "/64k"),
    "sticky": (64, ["Cookie: BALANCEID=x.server1"], "/"),
}
PROXIES = ("balancer", "haproxy", "nginx", "apache")
KEEP_MARK = "<!-- Everything below this line is written by hand and kept " \
            "by bench/run.py. -->"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------ processes

class Procs:
    """Every process this run started, to stop by PID at the end."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.running = []
        self.commands = []

    def start(self, name, argv, env=None, record=True):
        if record:
            self.commands.append((name, shlex.join(argv)))
        out = open(os.path.join(self.workdir, name + ".out"), "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env,
                                cwd=ROOT)
        out.close()
        proc.name = name
        self.running.append(proc)
        return proc

    def stop(self, proc, grace=5.0):
        """SIGTERM, wait up to grace, then SIGKILL what is left (by PID)."""
        if proc not in self.running:
            return
        self.running.remove(proc)
        family = tree_pids(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        for pid in family:
            if pid != proc.pid and alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def stop_all(self):
        for proc in list(reversed(self.running)):
            self.stop(proc)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def tree_pids(root):
    """root and all its descendants."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    parent[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    family, changed = {root}, True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in family and pid not in family:
                family.add(pid)
                changed = True
    return sorted(family)


def cpu_ticks(pids):
    """utime + stime of the processes (all their threads), in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total


def mem_kib(pids, field):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def machine_ticks():
    """(total, steal) jiffies over all CPUs."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    return sum(fields), fields[7]


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def http_get(port, path="/", headers=None):
    """One request on a fresh connection: (status, X-Backend, body bytes)."""
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (HOST, port),
             "Connection: close"] + list(headers or [])
    try:
        with socket.create_connection((HOST, port), timeout=3) as s:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return 0, "", 0
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"0"
    backend = ""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-backend":
            backend = value.strip().decode()
    return int(status) if status.isdigit() else 0, backend, len(body)


# ------------------------------------------------------------ the bench

class Bench:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="balancer-bench.")
        os.chmod(self.dir, 0o755)  # nginx/Apache workers are not root
        self.procs = Procs(self.dir)
        self.results = {"runs": [], "idle": [], "syscalls": [],
                        "allocs": None, "profile": None, "notes": []}
        self.port = free_port()
        self.b1_port = free_port()
        self.b2_port = free_port()
        self.backends = []

    # ---- configuration files

    def render(self, template, out_name, **values):
        with open(os.path.join(TEMPLATES, template)) as f:
            text = f.read()
        values.setdefault("DIR", self.dir)
        values.setdefault("PORT", self.port)
        values.setdefault("B1_PORT", self.b1_port)
        values.setdefault("B2_PORT", self.b2_port)
        for key, value in values.items():
            text = text.replace("@%s@" % key, str(value))
        path = os.path.join(self.dir, out_name)
        with open(path, "w") as f:
            f.write(text)
        os.makedirs(os.path.join(OUT, "configs"), exist_ok=True)
        shutil.copy(path, os.path.join(OUT, "configs", out_name))
        return path

    # ---- back ends

    def start_backends(self):
        www = os.path.join(self.dir, "www")
        os.makedirs(www, mode=0o755)
        for name, size in (("1k.bin", 1024), ("64k.bin", 65536)):
            with open(os.path.join(www, name), "wb") as f:
                f.write(b"x" * size)
        for name, port in (("b1", self.b1_port), ("b2", self.b2_port)):
            os.makedirs(os.path.join(self.dir, "tmp-" + name))
            conf = self.render("backend-nginx.conf", name + ".conf",
                               NAME=name, PORT=port)
            proc = self.procs.start(name, ["nginx", "-p", self.dir + "/",
                                           "-e", os.path.join(self.dir, name + "-error.log"),
                                           "-c", conf])
            if not wait_port(port, proc):
                raise SystemExit("back end %s did not start" % name)
            status, backend, size = http_get(port)
            if (status, backend, size) != (200, name, 1024):
                raise SystemExit("back end %s answers %r" %
                                 (name, (status, backend, size)))
            self.backends.append(proc)

    def backend_accepts(self):
        total = 0
        for port in (self.b1_port, self.b2_port):
            try:
                with socket.create_connection((HOST, port), timeout=3) as s:
                    s.sendall(b"GET /_status HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
                    data = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                m = re.search(rb"\n\s*(\d+) (\d+) (\d+)", data)
                total += int(m.group(1)) - 1 if m else 0
            except OSError:
                pass
        return total

    # ---- proxies

    def start_target(self, target, case, threads):
        """Start target fresh for case; returns (proc or None, port)."""
        sticky = case == "sticky"
        if target == "direct":
            return None, self.b1_port
        if target == "balancer":
            if not os.access(BALANCER, os.X_OK):
                return False, self.port
            conf = self.render("balancer.conf", "balancer.conf",
                               THREADS=threads,
                               STICKY="stickysession=BALANCEID" if sticky else "")
            argv = [BALANCER, "-f", conf]
            env = None
            if case == "allocs":
                env = dict(os.environ, LD_PRELOAD=MALLOC_SO,
                           MALLOC_COUNT_FILE=os.path.join(self.dir, "mallocs"))
            proc = self.procs.start("balancer", argv, env)
        elif target == "haproxy":
            conf = self.render("haproxy.cfg", "haproxy.cfg", THREADS=threads)
            if sticky:
                self.uncomment(conf, "#STICKY ")
            proc = self.procs.start("haproxy", ["haproxy", "-db", "-f", conf])
        elif target == "nginx":
            os.makedirs(os.path.join(self.dir, "tmp-proxy"), exist_ok=True)
            conf = self.render("nginx-proxy.conf", "nginx-proxy.conf",
                               THREADS=threads,
                               UPSTREAM="$member" if sticky else "cluster")
            proc = self.procs.start("nginx", [
                "nginx", "-p", self.dir + "/",
                "-e", os.path.join(self.dir, "nginx-proxy-error.log"),
                "-c", conf])
        elif target == "apache":
            os.makedirs(os.path.join(self.dir, "apache-run"), exist_ok=True)
            conf = self.render("apache.conf", "apache.conf",
                               SERVERS=APACHE_SERVERS,
                               WORKERS=APACHE_SERVERS * 64, THREADS=threads,
                               STICKY="stickysession=BALANCEID" if sticky else "")
            proc = self.procs.start("apache", [
                "apache2", "-d", self.dir, "-f", conf, "-DFOREGROUND"])
        else:
            raise SystemExit("unknown target " + target)
        if not wait_port(self.port, proc):
            self.procs.stop(proc)
            return False, self.port
        return proc, self.port

    @staticmethod
    def uncomment(path, prefix):
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace(prefix, ""))

    def check_routing(self, port, case):
        """Where 8 fresh requests went; for sticky, where cookie ones went."""
        seen = {"b1": 0, "b2": 0}
        bad = 0
        path = "/64k" if case == "big" else "/"
        want = 65536 if case == "big" else 1024
        headers = CASE_LOAD.get(case, (0, [], "/"))[1]
        headers = [h for h in headers if not h.startswith("Connection")]
        for _ in range(8):
            status, backend, size = http_get(port, path, headers)
            if status != 200 or size != want:
                bad += 1
            seen[backend] = seen.get(backend, 0) + 1
        text = "b1:%d b2:%d" % (seen["b1"], seen["b2"])
        if bad:
            text += " bad:%d" % bad
        return text

    # ---- load

    def wrk(self, port, conns, headers, path, seconds, record=True):
        argv = ["wrk", "-t%d" % min(WRK_THREADS, conns), "-c%d" % conns,
                "-d%ds" % seconds, "--timeout", "5s", "--latency",
                "-s", os.path.join(HERE, "wrk-report.lua")]
        for h in headers:
            argv += ["-H", h]
        argv.append("http://%s:%d%s" % (HOST, port, path))
        if record:
            self.procs.commands.append(("wrk", shlex.join(argv)))
        try:
            done = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=seconds + 20)
        except subprocess.TimeoutExpired:
            return None
        m = re.search(r"^RESULT (.*)$", done.stdout, re.M)
        if not m:
            log(done.stdout[-500:] + done.stderr[-500:])
            return None
        return {k: int(v) for k, v in
                (kv.split("=") for kv in m.group(1).split())}

    def measure(self, target, case, threads=WORKERS, label=None, rnd=0):
        label = label or case
        conns, headers, path = CASE_LOAD[case]
        row = {"case": label, "target": target, "threads": threads,
               "conns": conns, "round": rnd}
        proc, port = self.start_target(target, case, threads)
        if proc is False:
            row["error"] = "did not start"
            return self.add_row(row)
        row["check"] = self.check_routing(port, case)
        if WARMUP:
            self.wrk(port, conns, headers, path, WARMUP, record=False)
        pids = tree_pids(proc.pid) if proc else []
        be_pids = [p for b in self.backends for p in tree_pids(b.pid)]
        acc0 = self.backend_accepts()
        t0, be0, m0 = cpu_ticks(pids), cpu_ticks(be_pids), machine_ticks()
        res = self.wrk(port, conns, headers, path, DURATION)
        t1, be1, m1 = cpu_ticks(pids), cpu_ticks(be_pids), machine_ticks()
        acc1 = self.backend_accepts()
        if proc:
            pids = tree_pids(proc.pid)
            row["hwm_kib"] = mem_kib(pids, "VmHWM")
            row["procs"] = len(pids)
            self.procs.stop(proc)
        if not res or res["requests"] == 0:
            row["error"] = "no wrk result"
            return self.add_row(row)
        tick = os.sysconf("SC_CLK_TCK")
        reqs = res["requests"]
        row.update({
            "requests": reqs,
            "rps": reqs * 1e6 / res["duration_us"],
            "p50_ms": res["p50_us"] / 1000.0,
            "p99_ms": res["p99_us"] / 1000.0,
            "errors": sum(res[k] for k in ("connect", "read", "write",
                                           "status", "timeout")),
            "be_us_req": (be1 - be0) / tick * 1e6 / reqs,
            "be_conn_req": max(0, acc1 - acc0) / reqs,
            "steal_pct": 100.0 * (m1[1] - m0[1]) / max(1, m1[0] - m0[0]),
        })
        if proc:
            row["cpu_s_10k"] = (t1 - t0) / tick * 10000.0 / reqs
        return self.add_row(row)

    def add_row(self, row):
        self.results["runs"].append(row)
        log("  %-8s %-9s %s" % (row["case"], row["target"], summary(row)))
        return row

    # ---- idle connections

    def idle(self, target):
        row = {"target": target, "conns": IDLE_CONNS}
        proc, port = self.start_target(target, "idle", WORKERS)
        if not proc:
            row["error"] = "did not start"
            self.results["idle"].append(row)
            return
        pids = tree_pids(proc.pid)
        row["rss_start_kib"] = mem_kib(pids, "VmRSS")
        argv = [sys.executable, os.path.join(HERE, "idle_conns.py"),
                str(port), str(IDLE_CONNS), "60"]
        self.procs.commands.append(("idle", shlex.join(argv)))
        client = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.procs.running.append(client)
        line = client.stdout.readline().split()
        time.sleep(0.5)
        pids = tree_pids(proc.pid)
        row["rss_kib"] = mem_kib(pids, "VmRSS")
        row["hwm_kib"] = mem_kib(pids, "VmHWM")
        client.stdin.close()
        still = client.stdout.readline().split()
        self.procs.stop(client)
        self.procs.stop(proc)
        if len(line) >= 4:
            row["held"], row["failed"] = int(line[1]), int(line[3])
            row["open_seconds"] = float(line[5])
        if len(still) == 2:
            row["still"] = int(still[1])
        self.results["idle"].append(row)
        log("  idle     %-9s %s" % (target, row))

    # ---- extras: syscalls, allocations, profile

    def syscalls(self, target):
        conns, headers, path = CASE_LOAD["ka64"]
        proc, port = self.start_target(target, "ka64", WORKERS)
        if not proc:
            return
        self.wrk(port, conns, headers, path, 1, record=False)
        out = os.path.join(OUT, "strace-%s.txt" % target)
        argv = ["strace", "-c", "-f", "-o", out]
        for pid in tree_pids(proc.pid):
            argv += ["-p", str(pid)]
        tracer = self.procs.start("strace-" + target, argv)
        time.sleep(1.0)
        res = self.wrk(port, conns, headers, path, 5)
        time.sleep(0.2)
        tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(20)
        except subprocess.TimeoutExpired:
            pass
        self.procs.stop(tracer)
        self.procs.stop(proc)
        row = {"target": target, "requests": res["requests"] if res else 0}
        row.update(parse_strace(out))
        if row["requests"] and "total" in row:
            row["per_req"] = row["total"] / row["requests"]
        self.results["syscalls"].append(row)
        log("  syscalls %-9s %s" % (target, {k: row.get(k) for k in
                                              ("requests", "total", "per_req")}))

    def allocs(self):
        if not os.path.exists(MALLOC_SO):
            self.results["notes"].append("allocs: %s missing" % MALLOC_SO)
            return
        conns, headers, path = CASE_LOAD["ka64"]
        proc, port = self.start_target("balancer", "allocs", WORKERS)
        if not proc:
            return
        self.wrk(port, conns, headers, path, 2, record=False)
        counts = os.path.join(self.dir, "mallocs")
        time.sleep(0.3)
        a0 = read_counts(counts)
        res = self.wrk(port, conns, headers, path, 5)
        time.sleep(0.3)
        a1 = read_counts(counts)
        self.procs.stop(proc)
        if not (res and a0 and a1):
            return
        reqs = res["requests"]
        self.results["allocs"] = {
            "requests": reqs, "allocs": a1[0] - a0[0], "frees": a1[1] - a0[1],
            "allocs_per_req": (a1[0] - a0[0]) / reqs,
            "startup_allocs": a0[0]}
        log("  allocs   %s" % self.results["allocs"])

    def profile(self):
        conns, headers, path = CASE_LOAD["ka64"]
        proc, port = self.start_target("balancer", "ka64", WORKERS)
        if not proc:
            return
        self.wrk(port, conns, headers, path, 1, record=False)
        data = os.path.join(self.dir, "perf.data")
        rec = self.procs.start("perf", ["perf", "record", "-g", "-F", "999",
                                        "-o", data, "-p", str(proc.pid),
                                        "--", "sleep", "6"])
        time.sleep(0.5)
        self.wrk(port, conns, headers, path, 5)
        try:
            rec.wait(15)
        except subprocess.TimeoutExpired:
            pass
        self.procs.stop(rec)
        self.procs.stop(proc)
        argv = ["perf", "report", "-i", data, "--stdio", "--no-children",
                "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0.7"]
        self.procs.commands.append(("perf", shlex.join(argv)))
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=120)
        lines = [re.sub(r"(\s+-)+\s*$", "", l)
                 for l in done.stdout.splitlines()
                 if l.strip() and not l.startswith("#")]
        self.results["profile"] = lines[:30]
        with open(os.path.join(OUT, "perf-balancer.txt"), "w") as f:
            f.write(done.stdout)
        argv = argv[:-6] + ["--sort", "dso", "-g", "none"]
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=120)
        self.results["profile_dso"] = [
            l.rstrip() for l in done.stdout.splitlines()
            if l.strip() and not l.startswith("#")][:8]
        argv = argv[:-4] + ["--dsos", "%s,libc.so.6" % os.path.basename(
            BALANCER), "--sort", "dso,symbol", "-g", "none"]
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=120)
        self.results["profile_user"] = [
            re.sub(r"(\s+-)+\s*$", "", l)
            for l in done.stdout.splitlines()
            if l.strip() and not l.startswith("#")][:25]

    # ---- CPU per request by system call, balancer and HAProxy

    SYSCALL_FRAMES = {
        "__send": "send", "__libc_send": "send", "__sendto": "send",
        "__libc_sendto": "send", "__libc_sendmsg": "send",
        "__sendmsg": "send", "__GI___writev": "send", "__writev": "send",
        "__libc_write": "send", "__GI___libc_write": "send",
        "__libc_recv": "recv", "__recv": "recv", "__libc_recvfrom": "recv",
        "__recvfrom": "recv", "__libc_read": "recv", "__GI___libc_read": "recv",
        "read": "recv", "epoll_wait": "epoll_wait",
    }

    def callsplit(self, target):
        """perf samples of target's CPU time under ka64, each charged to
        the system call its stack is in (the outermost libc wrapper), as
        microseconds per request: what the kernel costs each proxy per
        request, call by call, next to its own code (the rest)."""
        conns, headers, path = CASE_LOAD["ka64"]
        proc, port = self.start_target(target, "ka64", WORKERS)
        if not proc:
            return
        self.wrk(port, conns, headers, path, 1, record=False)
        data = os.path.join(self.dir, "split-%s.data" % target)
        rec = self.procs.start("perf", [
            "perf", "record", "-g", "-F", str(SPLIT_HZ), "-o", data,
            "-p", str(proc.pid), "--", "sleep", "6"])
        time.sleep(0.5)
        res = self.wrk(port, conns, headers, path, 5)
        try:
            rec.wait(15)
        except subprocess.TimeoutExpired:
            pass
        self.procs.stop(rec)
        self.procs.stop(proc)
        if not res or not res["requests"]:
            return
        argv = ["perf", "script", "-i", data, "-F", "ip,sym"]
        self.procs.commands.append(("perf", shlex.join(argv)))
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=300)
        counts = {}
        for sample in done.stdout.split("\n\n"):
            frames = [l.split(None, 1)[1] for l in sample.strip().splitlines()
                      if len(l.split(None, 1)) == 2]
            if not frames:
                continue
            kind = "rest"
            for f in frames:        # innermost first: keep the outermost
                kind = self.SYSCALL_FRAMES.get(f, kind)
            counts[kind] = counts.get(kind, 0) + 1
        per = 1e6 / SPLIT_HZ / res["requests"]
        self.results.setdefault("callsplit", []).append({
            "target": target, "requests": res["requests"],
            "us": {k: v * per for k, v in counts.items()}})

    # ---- the whole run

    def run(self):
        os.makedirs(OUT, exist_ok=True)
        self.results["machine"] = machine()
        self.results["settings"] = {
            "duration_s": DURATION, "warmup_s": WARMUP, "workers": WORKERS,
            "wrk_threads": WRK_THREADS, "idle_conns": IDLE_CONNS,
            "apache_servers": APACHE_SERVERS, "stamp": STAMP}
        self.start_backends()
        t0 = time.monotonic()
        for case in CASES:
            if case == "idle":
                continue
            rounds = ROUNDS if case in ROUND_CASES else 1
            for rnd in range(rounds):
                log("case %s%s" % (case, " round %d of %d" % (rnd + 1, rounds)
                                   if rounds > 1 else ""))
                for target in TARGETS:
                    if rnd == 0 or target in ROUND_TARGETS:
                        self.measure(target, case, rnd=rnd)
        if "scale" in EXTRAS:
            log("case ka64, 2 worker threads")
            for target in TARGETS:
                if target in ("balancer", "haproxy", "nginx"):
                    self.measure(target, "ka64", 2, "ka64-2w")
        if "idle" in CASES:
            log("case idle")
            for target in TARGETS:
                if target != "direct":
                    self.idle(target)
        if "syscalls" in EXTRAS:
            for target in ("balancer", "haproxy", "nginx"):
                if target in TARGETS:
                    self.syscalls(target)
        if "allocs" in EXTRAS and "balancer" in TARGETS:
            self.allocs()
        if "profile" in EXTRAS and "balancer" in TARGETS:
            self.profile()
        if "callsplit" in EXTRAS:
            for target in ("balancer", "haproxy"):
                if target in TARGETS:
                    self.callsplit(target)
        self.results["elapsed_s"] = time.monotonic() - t0
        self.results["commands"] = dedup(self.procs.commands)
        merge_rounds(self.results)
        with open(os.path.join(OUT, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1)
        text = report(self.results)
        with open(os.path.join(OUT, "report.md"), "w") as f:
            f.write(text)
        print(text)
        if DOC:
            write_doc(DOC, text)
            log("wrote %s" % DOC)
        log("results in %s" % OUT)

    def cleanup(self):
        self.procs.stop_all()
        shutil.rmtree(self.dir, ignore_errors=True)


def dedup(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def read_counts(path):
    try:
        with open(path) as f:
            m = re.match(r"allocs=(\d+) frees=(\d+)", f.read())
        return (int(m.group(1)), int(m.group(2))) if m else None
    except OSError:
        return None


def parse_strace(path):
    """strace -c summary: {"total": calls, "by_name": {name: calls}}."""
    by_name, total = {}, None
    try:
        with open(path) as f:
            lines = f.readlines()
    except OSError:
        return {}
    for line in lines:
        parts = line.split()
        if not parts or not re.match(r"^\d+\.\d+$", parts[0]):
            continue
        # % time, seconds, usecs/call, calls, [errors,] name; older strace
        # leaves usecs/call out of the total line
        if parts[-1] == "total":
            total = int(parts[3] if len(parts) >= 5 else parts[2])
        elif len(parts) >= 5:
            by_name[parts[-1]] = int(parts[3])
    out = {"by_name": by_name}
    if total is not None:
        out["total"] = total
    return out


def run_text(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (done.stdout + done.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return "(not available)"


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1048576.0
    debs = run_text(["dpkg-query", "-W", "-f", "${Package}=${Version}\\n",
                     "haproxy", "nginx", "apache2-bin", "wrk", "strace",
                     "valgrind", "linux-perf"])
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem, 1),
        "kernel": run_text(["uname", "-srvm"]),
        "os": run_text(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "ulimit_n": resource.getrlimit(resource.RLIMIT_NOFILE),
        "balancer": run_text([BALANCER, "-v"]).splitlines()[:1],
        "balancer_path": os.path.relpath(BALANCER, ROOT)
        if BALANCER.startswith(ROOT + "/") else BALANCER,
        # BENCH_SOURCE names the source when the tree is no git checkout
        # (a `git archive` copy, as docs/performance.md describes)
        "git": os.environ.get("BENCH_SOURCE") or (
            run_text(["git", "-C", ROOT, "log", "-1", "--format=%h %s"])
            if os.path.isdir(os.path.join(ROOT, ".git"))
            else "(not a git checkout)"),
        "haproxy": run_text(["haproxy", "-v"]).splitlines()[:1],
        "nginx": run_text(["nginx", "-v"]),
        "apache": run_text(["apache2", "-v"]).splitlines()[:1],
        "wrk": run_text(["wrk", "-v"]).splitlines()[:1],
        "debs": debs.splitlines(),
        "cc": run_text(["cc", "--version"]).splitlines()[:1],
    }


# ------------------------------------------------------------ report

def median(values):
    values = sorted(values)
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return (values[mid - 1] + values[mid]) / 2.0


MEDIAN_FIELDS = ("requests", "rps", "p50_ms", "p99_ms", "be_us_req",
                 "be_conn_req", "steal_pct", "cpu_s_10k")
MAX_FIELDS = ("errors", "hwm_kib")


def merge_rounds(res):
    """Replace the rows of a case run in rounds by one row per target:
    the median of each figure, plus each round's ratio to HAProxy's run
    of the same round (res["round_runs"] keeps every run)."""
    rows, merged, raw = res["runs"], [], []
    groups = {}
    for row in rows:
        groups.setdefault((row["case"], row["target"]), []).append(row)
    done = set()
    for row in rows:
        key = (row["case"], row["target"])
        group = [r for r in groups[key] if "error" not in r]
        if len(groups[key]) == 1 or not group:
            merged.append(row)
            continue
        if key in done:
            continue
        done.add(key)
        raw += groups[key]
        m = dict(group[0])
        for field in MEDIAN_FIELDS:
            vals = [r[field] for r in group if r.get(field) is not None]
            if vals:
                m[field] = median(vals)
        for field in MAX_FIELDS:
            vals = [r[field] for r in group if r.get(field) is not None]
            if vals:
                m[field] = max(vals)
        m["rounds"] = len(group)
        hap = {r["round"]: r for r in groups.get((key[0], "haproxy"), [])
               if "error" not in r}
        for field, name in (("rps", "rps_x_hap"), ("cpu_s_10k", "cpu_x_hap"),
                            ("p99_ms", "p99_x_hap")):
            m[name] = [r[field] / hap[r["round"]][field] for r in group
                       if r["round"] in hap and r.get(field) is not None
                       and hap[r["round"]].get(field)]
        merged.append(m)
    res["runs"] = merged
    res["round_runs"] = raw


def round_ratio(row, name, plain):
    """The median of the per-round ratios when there were rounds, with
    their range; else the plain ratio of this run."""
    vals = row.get(name) if row else None
    if vals:
        text = "%.2f" % median(vals)
        if len(vals) > 1:
            text += " (%.2f-%.2f)" % (min(vals), max(vals))
        return text
    return plain


def summary(row):
    if "error" in row:
        return "FAILED: " + row["error"]
    return "%8.0f req/s  p50 %.2f ms  p99 %.2f ms  cpu %s s/10k  hwm %s  %s" % (
        row["rps"], row["p50_ms"], row["p99_ms"],
        fmt(row.get("cpu_s_10k"), 3), fmt_mib(row.get("hwm_kib")),
        row.get("check", ""))


def fmt(value, digits=1):
    return "-" if value is None else "%.*f" % (digits, value)


def fmt_mib(kib):
    return "-" if kib is None else "%.1f" % (kib / 1024.0)


def ratio(a, b, digits=2):
    if a is None or not b:
        return "-"
    return "%.*f" % (digits, a / b)


def find(rows, case, target):
    for row in rows:
        if row.get("case") == case and row.get("target") == target \
                and "error" not in row:
            return row
    return None


def report(res):
    rows = res["runs"]
    out = []
    s = res["settings"]
    m = res["machine"]
    out.append("# Performance: balancer beside HAProxy, nginx and Apache httpd")
    out.append("")
    out.append("Generated by `make bench` (bench/run.py) on %s (UTC), %d s "
               "per measured run after a %d s warm-up, %d worker thread(s) "
               "for each proxy, wrk with %d threads. The machine is shared "
               "and noisy (%s CPUs, %s): treat req/s as +-30 %% and prefer "
               "the CPU time per request and system calls per request, "
               "which depend far less on what else runs. The ratios "
               "(\"x HAProxy\") compare with HAProxy in the same run."
               % (s["stamp"], s["duration_s"], s["warmup_s"], s["workers"],
                  s["wrk_threads"], m["nproc"], m["cpu"]))
    out.append("")
    out += targets_section(res)
    out.append("## Results by case")
    out.append("")
    out.append("`cpu s/10k` is utime+stime of the proxy's processes per 10 000 "
               "requests (this kernel samples CPU time at the tick, so the "
               "softirq work of loopback TCP counts for the process it "
               "interrupts: mostly the sender, which delivers each segment "
               "and wakes its receiver; all proxies alike). `peak RSS` is "
               "the sum of VmHWM over the proxy's processes, each proxy being "
               "started fresh for every case. `be conn/req` is connections "
               "the back ends accepted per request (0 = kept alive). "
               "`route` is where 8 fresh requests went before the load.")
    out.append("")
    cases = []
    for row in rows:
        if row["case"] not in cases:
            cases.append(row["case"])
    for case in cases:
        out += case_table(rows, case)
    out += idle_section(res)
    out += syscall_section(res)
    out += alloc_section(res)
    out += profile_section(res)
    out += callsplit_section(res)
    out += machine_section(res)
    return "\n".join(out) + "\n"


CASE_TITLES = {
    "ka64": "64 keep-alive connections, 1 KiB",
    "ka1000": "1000 keep-alive connections, 1 KiB",
    "close": "new connection per request (Connection: close), 64 clients",
    "big": "64 keep-alive connections, 64 KiB response",
    "sticky": "sticky cookie BALANCEID=x.server1 on every request, 64 keep-alive",
    "ka64-2w": "64 keep-alive connections, 2 worker threads (scaling)",
}


def case_table(rows, case):
    hap = find(rows, case, "haproxy")
    rounds = max([r.get("rounds", 1) for r in rows if r["case"] == case] or [1])
    out = ["### %s: %s" % (case, CASE_TITLES.get(case, case)), ""]
    if rounds > 1:
        out += ["Median of %d rounds for the targets run in rounds; the "
                "\"x HAProxy\" columns are the median (and range) of the "
                "ratios to HAProxy's run of the same round." % rounds, ""]
    out += [
           "| target | req/s | x HAProxy | p50 ms | p99 ms | p99 x HAProxy "
           "| cpu s/10k req | cpu x HAProxy | peak RSS MiB | errors "
           "| be conn/req | steal % | route |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        if row["case"] != case:
            continue
        name = row["target"]
        if "error" in row:
            out.append("| %s | FAILED: %s |||||||||||" % (name, row["error"]))
            continue
        out.append("| %s | %.0f | %s | %.2f | %.2f | %s | %s | %s | %s | %d "
                   "| %.3f | %.1f | %s |" % (
                       name, row["rps"],
                       round_ratio(row, "rps_x_hap",
                                   ratio(row["rps"], hap and hap["rps"])),
                       row["p50_ms"], row["p99_ms"],
                       round_ratio(row, "p99_x_hap",
                                   ratio(row["p99_ms"], hap and hap["p99_ms"])),
                       fmt(row.get("cpu_s_10k"), 3),
                       round_ratio(row, "cpu_x_hap",
                                   ratio(row.get("cpu_s_10k"),
                                         hap and hap.get("cpu_s_10k"))),
                       fmt_mib(row.get("hwm_kib")), row["errors"],
                       row["be_conn_req"], row["steal_pct"],
                       row.get("check", "")))
    out.append("")
    return out


def idle_section(res):
    rows = res["idle"]
    if not rows:
        return []
    hap = next((r for r in rows if r["target"] == "haproxy" and "rss_kib" in r),
               None)
    out = ["### idle: %d idle keep-alive client connections held open" %
           res["settings"]["idle_conns"], "",
           "Each connection made one request, then stayed idle; VmRSS of the "
           "proxy's processes is read 0.5 s after the last one opened; \"still open\" "
           "is counted right after that (every proxy keeps an idle keep-alive "
           "connection 120 s here: balancer and Apache by KeepAliveTimeout "
           "120, HAProxy and nginx by their own settings).", "",
           "| target | held | failed | still open | RSS before MiB "
           "| RSS held MiB | x HAProxy | KiB per connection | peak RSS MiB |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "rss_kib" not in r:
            out.append("| %s | FAILED: %s ||||||||" % (r["target"],
                                                       r.get("error", "?")))
            continue
        held = r.get("held", 0)
        per = (r["rss_kib"] - r["rss_start_kib"]) / held if held else None
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["target"], held, r.get("failed", "-"), r.get("still", "-"),
            fmt_mib(r["rss_start_kib"]), fmt_mib(r["rss_kib"]),
            ratio(r["rss_kib"], hap and hap["rss_kib"]), fmt(per, 2),
            fmt_mib(r.get("hwm_kib"))))
    out.append("")
    return out


def syscall_section(res):
    rows = res["syscalls"]
    if not rows:
        return []
    out = ["## System calls per proxied keep-alive request", "",
           "`strace -c -f` attached to every process of the proxy while wrk "
           "drives 64 keep-alive connections for 5 s (slowed down by the "
           "tracing; the count per request is what matters).", "",
           "| target | requests | syscalls | per request | top calls per request |",
           "|---|---:|---:|---:|---|"]
    for r in rows:
        reqs = r.get("requests") or 0
        top = sorted(r.get("by_name", {}).items(), key=lambda kv: -kv[1])[:6]
        tops = ", ".join("%s %.2f" % (k, v / reqs) for k, v in top) if reqs else ""
        out.append("| %s | %d | %s | %s | %s |" % (
            r["target"], reqs, r.get("total", "-"), fmt(r.get("per_req"), 2),
            tops))
    out.append("")
    return out


def alloc_section(res):
    a = res.get("allocs")
    if not a:
        return []
    return ["## Heap allocations per request (balancer)", "",
            "build/bench/malloc_count.so (bench/malloc_count.c) preloaded "
            "into build/balancer counts every malloc/calloc/realloc/"
            "memalign; counted over 5 s of 64 keep-alive connections after "
            "a 2 s warm-up.", "",
            "| requests | allocations | frees | allocations per request "
            "| allocations before the load (start-up, warm-up) |",
            "|---:|---:|---:|---:|---:|",
            "| %d | %d | %d | %.4f | %d |" % (
                a["requests"], a["allocs"], a["frees"], a["allocs_per_req"],
                a["startup_allocs"]), ""]


def profile_section(res):
    p = res.get("profile")
    if not p:
        return []
    return ["## Where balancer spends its CPU (perf)", "",
            "`perf record -g -F 999` on build/balancer for 6 s while wrk "
            "drives 64 keep-alive connections; self time by function "
            "(entries of 0.7 % and more):", "", "```"] + p + ["```", "",
            "Self time by object:", "", "```"] + \
        res.get("profile_dso", []) + ["```", "",
            "User space only (balancer and libc), share of the whole "
            "profile:", "", "```"] + res.get("profile_user", []) + ["```", ""]


def callsplit_section(res):
    rows = res.get("callsplit")
    if not rows:
        return []
    out = ["## Where the CPU goes, by system call (ka64)", "",
           "`perf record -g -F %d` on the proxy while wrk drives 64 "
           "keep-alive connections for 5 s; each sample is charged to the "
           "system call its stack is in (send: send/sendto/sendmsg/writev/"
           "write, to clients and back ends; recv: recv/recvfrom/read), "
           "and the rest is the proxy's own code, page faults and "
           "interrupts. Microseconds of CPU per request:" % SPLIT_HZ, "",
           "| target | requests | send | recv | epoll_wait | rest | total |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        us = r["us"]
        out.append("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
            r["target"], r["requests"], us.get("send", 0), us.get("recv", 0),
            us.get("epoll_wait", 0), us.get("rest", 0), sum(us.values())))
    out.append("")
    return out


def targets_section(res):
    rows = res["runs"]
    out = ["## Targets of issue 4", "",
           "| target | figures from this run | met |", "|---|---|---|"]

    def line(what, figures, ok):
        out.append("| %s | %s | %s |" % (what, figures,
                                          "-" if ok is None else
                                          ("yes" if ok else "**no**")))

    def x_hap(b, h, field, name):
        """balancer/HAProxy: median of per-round ratios when run in
        rounds, else the ratio of the one run each."""
        return median(b[name]) if b.get(name) else b[field] / h[field]

    def rounds_note(b):
        return ", median of %d rounds" % b["rounds"] if b.get("rounds") else ""

    for case in ("ka64", "ka1000"):
        b, h, n = (find(rows, case, t) for t in ("balancer", "haproxy", "nginx"))
        if b and h:
            n_rps = n["rps"] if n else 0.0
            x = x_hap(b, h, "rps", "rps_x_hap")
            line("%s req/s >= 1.2 x HAProxy and >= nginx" % case,
                 "%.0f vs HAProxy %.0f (%.2f x), nginx %s%s" % (
                     b["rps"], h["rps"], x,
                     "%.0f" % n_rps if n else "not measured", rounds_note(b)),
                 x >= 1.2 and b["rps"] >= n_rps)
            x = x_hap(b, h, "p99_ms", "p99_x_hap")
            line("%s p99 <= HAProxy's" % case,
                 "%.2f ms vs %.2f ms (%.2f x)" % (b["p99_ms"], h["p99_ms"], x),
                 x <= 1.0)
        else:
            line("%s req/s and p99" % case, "not measured", None)
    for case in ("ka64", "ka1000"):
        b, h = find(rows, case, "balancer"), find(rows, case, "haproxy")
        if b and h and h.get("cpu_s_10k") and b.get("cpu_s_10k"):
            x = x_hap(b, h, "cpu_s_10k", "cpu_x_hap")
            line("CPU per request <= 0.75 x HAProxy (%s)" % case,
                 "%.1f us vs %.1f us (%.2f x%s)" % (
                     b["cpu_s_10k"] * 100, h["cpu_s_10k"] * 100, x,
                     rounds_note(b)),
                 x <= 0.75)
    b, h = find(rows, "close", "balancer"), find(rows, "close", "haproxy")
    if b and h:
        line("new connection per request: req/s >= HAProxy",
             "%.0f vs %.0f (%.2f x)" % (b["rps"], h["rps"], b["rps"] / h["rps"]),
             b["rps"] >= h["rps"])
    idle = {r["target"]: r for r in res["idle"] if "rss_kib" in r}
    if "balancer" in idle and "haproxy" in idle:
        b, h = idle["balancer"], idle["haproxy"]
        line("idle connections: RSS <= HAProxy",
             "%s MiB (%s held) vs %s MiB (%s held)" % (
                 fmt_mib(b["rss_kib"]), b.get("held"), fmt_mib(h["rss_kib"]),
                 h.get("held")),
             b["rss_kib"] <= h["rss_kib"] and
             b.get("held", 0) >= h.get("held", 0))
    sc = {r["target"]: r for r in res["syscalls"] if "per_req" in r}
    if "balancer" in sc and "haproxy" in sc:
        line("syscalls per keep-alive request <= HAProxy",
             "%.2f vs %.2f" % (sc["balancer"]["per_req"],
                               sc["haproxy"]["per_req"]),
             sc["balancer"]["per_req"] <= sc["haproxy"]["per_req"])
    a = res.get("allocs")
    if a:
        line("no heap allocation per request", "%.4f allocations per request"
             % a["allocs_per_req"], a["allocs_per_req"] < 0.01)
    b1, b2 = find(rows, "ka64", "balancer"), find(rows, "ka64-2w", "balancer")
    if b1 and b2:
        line("throughput grows with worker threads",
             "1 thread %.0f req/s, 2 threads %.0f req/s" % (b1["rps"], b2["rps"]),
             b2["rps"] > b1["rps"])
    out.append("")
    return out


def machine_section(res):
    m = res["machine"]
    s = res["settings"]
    out = ["## Machine, versions, command lines", "",
           "- machine: %s CPUs, %s, %s GiB RAM; %s; %s; load average at start %s; "
           "ulimit -n %s" % (m["nproc"], m["cpu"], m["mem_gib"], m["kernel"],
                            m["os"], " ".join(m["loadavg"]), m["ulimit_n"][0]),
           "- balancer: %s, `%s` (source at git %s), built by `make` "
           "with %s" % (" ".join(m["balancer"]), m["balancer_path"], m["git"],
                        " ".join(m["cc"])),
           "- HAProxy: %s" % " ".join(m["haproxy"]),
           "- nginx: %s" % m["nginx"],
           "- Apache httpd: %s (event MPM, %d children x 64 threads)" % (
               " ".join(m["apache"]), s["apache_servers"]),
           "- wrk: %s" % " ".join(m["wrk"]),
           "- Debian packages: %s" % ", ".join("`%s`" % d for d in m["debs"]),
           "- whole run: %.0f s" % res.get("elapsed_s", 0), "",
           "Back ends: two nginx instances (master + 1 worker each) on loopback "
           "ports; `/` is a 1 KiB body, `/64k` a 64 KiB body. Each proxy is "
           "started fresh for every case with the configuration files under "
           "bench/templates/ (rendered copies in the results folder). "
           "Command lines as run (ports and scratch paths of this run):", "",
           "```"]
    out += ["[%s] %s" % c for c in res.get("commands", [])]
    out += ["```", ""]
    return out


def write_doc(path, text):
    """Write the report, keeping the hand-written part after KEEP_MARK."""
    kept = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if KEEP_MARK in old:
            kept = old.split(KEEP_MARK, 1)[1]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text + "\n" + KEEP_MARK + (kept or "\n"))


def main():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for tool in ("wrk", "nginx", "haproxy", "apache2", "strace"):
        if not shutil.which(tool):
            raise SystemExit("missing %s: run `make bench-deps`" % tool)
    bench = Bench()
    atexit.register(bench.cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    bench.run()


if __name__ == "__main__":
    main()
