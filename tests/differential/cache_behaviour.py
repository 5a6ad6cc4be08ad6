#!/usr/bin/env python3
"""Differential check of RFC 9111 cache behaviours: the same probes through perfgate and through
the installed peer caches (nginx proxy_cache, Varnish, HAProxy's cache, Apache Traffic Server),
each a plain shared cache in front of one scripted origin on 127.0.0.1.

The origin (a ThreadingHTTPServer, HTTP/1.1 keep-alive) answers per path prefix
/TARGET/PROBE/..., so no two probes or targets share a cache entry, and counts the requests it
gets per path, so a probe tells a hit from a miss. The peers' configs are in peers/ (each says
what it sets); perfgate runs with one cached route over everything, compression off.

Prints a Markdown table of what each target did (yes / no, with a short word why).
Exits 1 when perfgate does not show the behaviour expected of it in any probe (the peers are
only informative), else 0. Peers that are not installed get "not installed".

    tests/differential/cache_behaviour.py PERFGATE_BINARY [--markdown]

--markdown prints the table and its notes only.
"""
import collections
import concurrent.futures
import ctypes
import email.utils
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers")
# perfgate's route keys for the two opt-in behaviours probed (partial content, POST responses).
ROUTE_KEYS = ("partial_content", "store_post_responses")


def blob(size):
    """A body whose every 8-byte record differs, so a range at a wrong offset never matches."""
    return b"".join(b"%07d\n" % i for i in range(size // 8))


RANGE_BODY, PARTIAL_BODY = blob(1000), blob(100000)


# ---------------------------------------------------------------------------------------- origin

class Origin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.log = {}  # path -> [(method, {lower-case field: value})]

    def record(self, path, method, headers):
        with self.lock:
            self.log.setdefault(path, []).append((method, headers))
            return sum(1 for m, _ in self.log[path] if m == method)

    def handle_error(self, request, client_address):
        pass  # a peer closing its keep-alive connection, or a client giving up

    def seen(self, path, method="GET"):
        """The requests the origin got for `path` (headers of each), of `method` or any (None)."""
        with self.lock:
            return [h for m, h in self.log.get(path, []) if method is None or m == method]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.dispatch()

    do_HEAD = do_POST = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, fields=(), body=b""):
        self.send_response(status)
        for name, value in fields:
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)

    def ranged(self, body, etag):
        """A 200 / 206 / 416 / 304 for `body`, as a server with proper Range support answers."""
        fields = [("Cache-Control", "max-age=60"), ("ETag", etag), ("Accept-Ranges", "bytes")]
        if self.headers.get("If-None-Match") == etag:
            return self.reply(304, fields)
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if_range = self.headers.get("If-Range")
        if not m or m.group() == "bytes=-" or (if_range is not None and if_range != etag):
            return self.reply(200, fields, body)
        first, last = m.groups()
        if first == "":
            first, last = max(0, len(body) - int(last)), len(body) - 1
        else:
            first, last = int(first), min(int(last) if last else len(body) - 1, len(body) - 1)
        if first >= len(body) or first > last:
            return self.reply(416, fields + [("Content-Range", "bytes */%d" % len(body))])
        fields.append(("Content-Range", "bytes %d-%d/%d" % (first, last, len(body))))
        self.reply(206, fields, body[first:last + 1])

    def dispatch(self):
        path = self.path.split("?")[0]
        n = self.server.record(path, self.command, {k.lower(): v for k, v in self.headers.items()})
        self.read_body()
        parts = path.split("/")  # '', target, probe, rest
        probe, base = (parts[2], "/".join(parts[:3])) if len(parts) > 3 else ("", "")
        post = self.command == "POST"
        age60 = [("Cache-Control", "max-age=60")]
        if probe == "swr":
            self.reply(200, [("Cache-Control", "max-age=1, stale-while-revalidate=30")], b"v%d" % n)
        elif probe in ("post", "cloc") and post:
            cloc = [("Content-Location", base + "/item")] if path.endswith("/orders") else []
            self.reply(201 if cloc else 200, cloc, b"done")
        elif probe in ("post", "cloc", "vary"):
            self.reply(200, age60 + ([("Vary", "Accept-Language")] if probe == "vary" else []), b"v%d" % n)
        elif probe == "collapse":
            time.sleep(1)
            self.reply(200, age60, b"v%d" % n)
        elif probe == "cdn":
            self.reply(200, [("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=60")], b"v%d" % n)
        elif probe == "hints":
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
            self.wfile.flush()
            time.sleep(0.1)
            self.reply(200, age60, b"final")
        elif probe == "age":
            fields = age60 + [("ETag", '"a"')]
            if self.headers.get("If-None-Match") == '"a"':
                return self.reply(304, fields)
            self.reply(200, fields + [("Age", "1x")], b"v%d" % n)
        elif probe == "heur":
            lm = email.utils.formatdate(time.time() - 10 * 86400, usegmt=True)
            self.reply(200, [("Last-Modified", lm)], b"v%d" % n)
        elif probe == "range":
            self.ranged(RANGE_BODY, '"r1"')
        elif probe == "partial":
            self.ranged(PARTIAL_BODY, '"p1"')
        elif probe == "postresp":
            if post:
                self.reply(200, age60 + [("Content-Location", path)], b"posted")
            else:
                self.reply(200, age60, b"from-origin")
        elif probe == "tag":
            self.reply(200, age60 + [("Cache-Tag", "t1"), ("Surrogate-Key", "t1")], b"v%d" % n)
        else:
            self.reply(404, [], b"no such probe")


# ---------------------------------------------------------------------------------------- client

Resp = collections.namedtuple("Resp", "status headers body")


def request(port, method, path, headers=None, body=None, timeout=5):
    """One request on a fresh connection; status 0 when it failed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    except (OSError, http.client.HTTPException) as e:
        return Resp(0, {"error": str(e)}, b"")
    finally:
        conn.close()


def get(t, path, headers=None):
    return request(t.port, "GET", path, headers)


def interim_then_final(port, path):
    """Status codes of the response heads read from a raw socket, in order (1xx first)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    data = b""
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (path.encode(), port))
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    finally:
        s.close()
    codes = []
    while b"\r\n\r\n" in data:
        head, data = data.split(b"\r\n\r\n", 1)
        words = head.split(b"\r\n", 1)[0].split(b" ")
        if len(words) < 2 or not words[0].startswith(b"HTTP/") or not words[1].isdigit():
            break
        codes.append(int(words[1]))
        if codes[-1] >= 200 or b"\r\ncontent-length:" in head.lower() or b"\r\ntransfer-encoding:" in head.lower():
            break
    return codes


# ---------------------------------------------------------------------------------------- probes
# Each takes a target and the origin, uses paths under /SLUG/PROBE/ and answers "yes", "no" or
# "no (why)" / "yes (detail)": the first word is the verdict.

def bad(*resps):
    """'error N' for the first response that is not a 2xx, else None."""
    for r in resps:
        if not 200 <= r.status < 300:
            return "error %s" % (r.status or "(no answer)")
    return None


def p_swr(t, o):
    p = t.path("swr/doc")
    a = get(t, p)
    time.sleep(2)  # 2 s, not 1.5: caches that count age in whole seconds see it stale too
    b = get(t, p)
    time.sleep(0.5)
    refreshed = len(o.seen(p)) >= 2
    c = get(t, p)
    if bad(a, b, c):
        return "no (%s)" % bad(a, b, c)
    if b.body != a.body:
        return "no (refetched in line)"
    if not refreshed:
        return "no (no refresh)"
    return "yes" if c.body != a.body else "no (refresh not landed)"


def p_post(t, o):
    p = t.path("post/x")
    get(t, p)
    if len(o.seen(p)) != 1 or bad(get(t, p)) or len(o.seen(p)) != 1:
        return "no (not cached)"
    request(t.port, "POST", p, {"Content-Type": "text/plain"}, b"data")
    get(t, p)
    return "yes" if len(o.seen(p)) == 2 else "no"


def p_cloc(t, o):
    item = t.path("cloc/item")
    get(t, item)
    if bad(get(t, item)) or len(o.seen(item)) != 1:
        return "no (not cached)"
    r = request(t.port, "POST", t.path("cloc/orders"), {"Content-Type": "text/plain"}, b"data")
    if r.status != 201:
        return "no (POST: %s)" % r.status
    get(t, item)
    return "yes" if len(o.seen(item)) == 2 else "no"


def p_collapse(t, o):
    p = t.path("collapse/doc")
    with concurrent.futures.ThreadPoolExecutor(3) as pool:  # the origin takes 1 s to answer
        out = list(pool.map(lambda _: get(t, p), range(3)))
    if any("collapsed" in r.headers.get("cache-status", "") for r in out):
        return "yes"
    return "no (%d at origin)" % len(o.seen(p))


def second_is_hit(t, o, slug):
    p = t.path(slug + "/doc")
    get(t, p)
    get(t, p)
    return "yes" if len(o.seen(p)) == 1 else "no"


def p_hints(t, o):
    codes = interim_then_final(t.port, t.path("hints/doc"))
    if codes[:2] == [103, 200]:
        return "yes"
    return "no (%s)" % (" then ".join(map(str, codes)) or "no answer")


def p_age(t, o):
    p = t.path("age/doc")
    a, b = get(t, p), get(t, p)
    if bad(a, b):
        return "no (%s)" % bad(a, b)
    seen = o.seen(p)
    if len(seen) < 2:
        return "no (reused)"
    return "yes (conditional)" if "if-none-match" in seen[1] else "yes"


def p_vary(t, o):
    p = t.path("vary/doc")
    get(t, p, {"Accept-Language": "en-US, fr;q=0.5"})
    get(t, p, {"Accept-Language": "en-US, fr;q=0.5"})
    if len(o.seen(p)) != 1:
        return "no (not cached)"
    get(t, p, {"Accept-Language": "en-us,fr;q=0.50"})
    return "yes" if len(o.seen(p)) == 1 else "no (exact match only)"


def p_range(t, o):
    p = t.path("range/doc")
    get(t, p)
    r = get(t, p, {"Range": "bytes=100-199"})
    if r.status != 206 or r.body != RANGE_BODY[100:200] or r.headers.get("content-range") != "bytes 100-199/1000":
        return "no (%s)" % (r.status if r.status != 206 else "wrong 206")
    return "yes" if len(o.seen(p)) == 1 else "no (origin asked)"


def p_partial(t, o):
    p = t.path("partial/doc")

    def ok(r, first, last):
        return (r.status == 206 and r.body == PARTIAL_BODY[first:last + 1]
                and r.headers.get("content-range") == "bytes %d-%d/100000" % (first, last))

    a = get(t, p, {"Range": "bytes=0-999"})
    get(t, p, {"Range": "bytes=0-999"})
    repeat_hit = len(o.seen(p)) == 1
    before = len(o.seen(p))
    c = get(t, p, {"Range": "bytes=500-1499"})
    third = [h.get("range", "full") for h in o.seen(p)[before:]]
    only_missing = all(re.fullmatch(r"bytes=(\d+)-\d*", r) and int(re.match(r"bytes=(\d+)", r).group(1)) >= 1000
                       for r in third)
    origin = "origin: %s" % (", ".join(third) or "nothing")
    # A cold ranged miss may be answered whole (200), as a cache that fetches the whole object does.
    if not ((ok(a, 0, 999) or a.status == 200 and a.body == PARTIAL_BODY) and ok(c, 500, 1499)):
        return "no (wrong answer; %s)" % origin
    if "range" not in o.seen(p)[0]:  # the cold miss fetched the whole object: no 206 was stored
        return "no (fetches the whole object)"
    if not repeat_hit:
        return "no (repeat missed; %s)" % origin
    return "%s (%s)" % ("yes" if only_missing else "no", origin)


def p_postresp(t, o):
    p = t.path("postresp/doc")
    request(t.port, "POST", p, {"Content-Type": "text/plain"}, b"data")
    r = get(t, p)
    if o.seen(p):
        return "no (GET to origin)"
    return "yes" if r.body == b"posted" else "no (%s)" % r.status


def p_tag(t, o):
    p = t.path("tag/doc")
    get(t, p)
    if bad(get(t, p)) or len(o.seen(p)) != 1:
        return "no (not cached)"
    if t.purge_tag is None:
        return "no (no tag purge)"
    r = t.purge_tag("t1")
    if not 200 <= r.status < 300:
        return "no (purge: %s)" % (r.status or "no answer")
    get(t, p)
    return "yes" if len(o.seen(p)) == 2 else "no"


# (behaviour, probe, perfgate's expected verdict)
PROBES = [
    ("stale-while-revalidate: the background refresh lands", p_swr, "yes"),
    ("a POST invalidates the target URI", p_post, "yes"),
    ("a POST invalidates its Content-Location", p_cloc, "yes"),
    ("Cache-Status names collapsed requests", p_collapse, "yes"),
    ("CDN-Cache-Control takes precedence", lambda t, o: second_is_hit(t, o, "cdn"), "yes"),
    ("103 Early Hints forwarded", p_hints, "yes"),
    ("invalid Age makes the response validated before reuse", p_age, "yes"),
    ("heuristic freshness by default", lambda t, o: second_is_hit(t, o, "heur"), "no"),
    ("Vary: Accept-Language normalised", p_vary, "yes"),
    ("Range from a stored complete response", p_range, "yes"),
    ("206 responses stored and combined", p_partial, "yes"),
    ("POST response reused for later GETs", p_postresp, "yes"),
    ("purge by tag", p_tag, "yes"),
]


# ---------------------------------------------------------------------------------------- targets

class Target:
    def __init__(self, name, slug, port, purge_tag=None):
        self.name, self.slug, self.port, self.purge_tag = name, slug, port, purge_tag

    def path(self, rest):
        return "/%s/%s" % (self.slug, rest)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("exited with %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def fill(template, dest, values):
    with open(template) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    with open(dest, "w") as f:
        f.write(text)


def die_with_parent():
    """Child processes get SIGTERM when this script dies, even by SIGKILL (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Runner:
    def __init__(self, tmp, origin_port):
        self.tmp, self.origin_port, self.procs = tmp, origin_port, []

    def spawn(self, argv, log, **kw):
        with open(log, "ab") as out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 preexec_fn=die_with_parent, **kw)
        p.log = log
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    def rundir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        return d

    def perfgate(self, binary, keys):
        d = self.rundir("perfgate")
        conf = os.path.join(d, "perfgate.toml")
        with open(conf, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 2\n[admin]\nlisten = "127.0.0.1:0"\n'
                    '[log]\nlevel = "warn"\n[upstream.origin]\nurl = "http://127.0.0.1:%d"\n'
                    '[[route]]\nname = "all"\nprefix = "/"\nupstream = "origin"\ncache = true\n'
                    'compression = false\n' % self.origin_port)
            f.writelines("%s = true\n" % k for k in keys)
        p = self.spawn([binary, "--config", conf], os.path.join(d, "output.log"))
        deadline, m = time.time() + 10, None
        while not m and time.time() < deadline and p.poll() is None:
            time.sleep(0.05)  # until "perfgate ready: listen=HOST:PORT admin=HOST:PORT workers=N"
            with open(p.log, errors="replace") as f:
                m = re.search(r"perfgate ready: listen=\S+:(\d+) admin=\S+:(\d+)", f.read())
        if not m:
            raise RuntimeError(tail(p.log) or "no ready line")
        admin = int(m.group(2))

        def purge(tag):
            return request(admin, "POST", "/api/cache/clear", {"Content-Type": "application/json"},
                           json.dumps({"tag": tag}).encode())
        return Target("perfgate", "pg", int(m.group(1)), purge), p

    def nginx(self, exe):
        d, port = self.rundir("nginx"), free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        fill(os.path.join(PEERS, "nginx.conf"), os.path.join(d, "nginx.conf"),
             {"RUN_DIR": d, "LISTEN_PORT": port, "ORIGIN_PORT": self.origin_port, "USER_LINE": user})
        p = self.spawn([exe, "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e", os.path.join(d, "error.log"),
                        "-g", "daemon off;"], os.path.join(d, "stdout.log"))
        return Target("nginx", "ngx", port), p

    def varnish(self, exe):
        d, port = self.rundir("varnish"), free_port()
        vcl = os.path.join(d, "default.vcl")
        fill(os.path.join(PEERS, "varnish.vcl"), vcl, {"ORIGIN_PORT": self.origin_port})
        p = self.spawn([exe, "-F", "-j", "none", "-n", os.path.join(d, "work"), "-a", "127.0.0.1:%d" % port,
                        "-T", "127.0.0.1:0", "-f", vcl, "-s", "malloc,64m"], os.path.join(d, "stdout.log"))

        def purge(tag):
            return request(port, "BAN", "/", {"X-Cache-Tag": tag})
        return Target("Varnish", "vsh", port, purge), p

    def haproxy(self, exe):
        d, port = self.rundir("haproxy"), free_port()
        cfg = os.path.join(d, "haproxy.cfg")
        fill(os.path.join(PEERS, "haproxy.cfg"), cfg, {"LISTEN_PORT": port, "ORIGIN_PORT": self.origin_port})
        return Target("HAProxy", "hap", port), self.spawn([exe, "-f", cfg, "-db"], os.path.join(d, "stdout.log"))

    def trafficserver(self, exe):
        d, port = self.rundir("trafficserver"), free_port()
        etc = self.rundir("trafficserver/etc")
        for sub in ("run", "log", "cache"):
            self.rundir("trafficserver/" + sub)
        src = os.path.join(PEERS, "trafficserver")
        for name in os.listdir(src):
            fill(os.path.join(src, name), os.path.join(etc, name), {
                "LISTEN_PORT": port, "ORIGIN_PORT": self.origin_port, "RUN_DIR": d, "BIN_DIR": os.path.dirname(exe)})
        p = self.spawn([exe, "--run-root=" + os.path.join(etc, "runroot.yaml")], os.path.join(d, "stdout.log"))
        return Target("Traffic Server", "ats", port), p


PEER_LIST = [  # column, executable, Runner method
    ("nginx", "nginx", Runner.nginx),
    ("Varnish", "varnishd", Runner.varnish),
    ("HAProxy", "haproxy", Runner.haproxy),
    ("Traffic Server", "traffic_server", Runner.trafficserver),
]


def tail(path, lines=3):
    try:
        with open(path, errors="replace") as f:
            return " / ".join(line.strip() for line in f.readlines()[-lines:])
    except OSError:
        return ""


def version(exe):
    flag = "-V" if os.path.basename(exe) in ("varnishd", "traffic_server") else "-v"
    try:
        out = subprocess.run([exe, flag], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(r"\d+\.\d+\.\d+", out.stdout + out.stderr)
    return m.group() if m else "?"


def which(name):
    return shutil.which(name) or next((p for p in ("/usr/sbin/" + name, "/usr/bin/" + name)
                                       if os.access(p, os.X_OK)), None)


def main():
    args = [a for a in sys.argv[1:] if a != "--markdown"]
    markdown = "--markdown" in sys.argv[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(args[0])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that `finally` stops the children
    tmp = tempfile.mkdtemp(prefix="perfgate-cache-behaviour-")
    origin = Origin()
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    runner = Runner(tmp, origin.server_address[1])
    notes, wrong = [], []
    try:
        try:
            pg, proc = runner.perfgate(binary, ROUTE_KEYS)
            wait_port(pg.port, proc)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            print("cache_behaviour: FAIL perfgate did not start: %s" % e, file=sys.stderr)
            return 1
        targets, columns = [pg], {}
        started, versions = [], []
        for column, exe_name, start in PEER_LIST:
            exe = which(exe_name)
            if exe is None:
                columns[column] = "not installed"
                continue
            versions.append("%s %s" % (column, version(exe)))
            try:
                started.append((column, *start(runner, exe)))
            except OSError as e:
                columns[column] = "did not start"
                notes.append("%s did not start: %s" % (column, e))
        for column, target, proc in started:  # all start at once, then each is waited for
            try:
                wait_port(target.port, proc, timeout=20)
                targets.append(target)
            except RuntimeError as e:
                columns[column] = "did not start"
                notes.append("%s did not start: %s: %s" % (column, e, tail(proc.log)))
        time.sleep(0.5)  # let the peers finish starting (ATS opens its cache after listening)

        results = {}  # (target name, probe index) -> cell
        for t in targets:
            for i, (name, probe, _) in enumerate(PROBES):
                try:
                    results[t.name, i] = probe(t, origin)
                except Exception as e:  # a probe that broke says so in its cell
                    results[t.name, i] = "error (%s)" % type(e).__name__
        for i, (name, probe, expected) in enumerate(PROBES):
            got = results["perfgate", i]
            if got.split()[0] != expected:
                wrong.append("%s: perfgate says \"%s\", expected %s" % (name, got, expected))

        header = ["perfgate", "nginx", "Varnish", "HAProxy", "Traffic Server"]
        print("| behaviour | %s |" % " | ".join(header))
        print("| --- |" + " --- |" * len(header))
        for i, (name, _, _) in enumerate(PROBES):
            cells = [results.get((h, i), columns.get(h, "")) for h in header]
            print("| %s | %s |" % (name, " | ".join(cells)))
        print("\npeers: %s" % (", ".join(versions) or "none installed"))
        for n in notes:
            print("note: %s" % n)
        if not markdown:
            for t in targets:
                print("%s: %d origin requests" % (t.name, sum(
                    len(origin.seen(path, None)) for path in list(origin.log) if path.startswith("/%s/" % t.slug))))
        for w in wrong:
            print("cache_behaviour: FAIL %s" % w, file=sys.stderr)
        return 1 if wrong else 0
    finally:
        runner.stop()
        origin.shutdown()
        origin.server_close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
