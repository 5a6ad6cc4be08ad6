#!/usr/bin/env python3
"""Differential check: the same malformed and borderline requests through nginx and through
perfgate, both in front of the bundled sample backend on 127.0.0.1.

Prints a Markdown table (README, "Security and limits") of what each answered: the status code,
"close" when the connection ended without a response, "timeout" when nothing came within 3 s.
Exits 1 when perfgate's answer is not the one expected of it (every malformed request refused
with a 4xx/5xx, every valid one passed to the backend), 77 when nginx is not installed
(skipped), else 0.

    tests/differential/nginx_diff.py BUILD_DIR [--markdown]
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

LONG = "a" * 9000
CASES = [
    # (name, raw request, perfgate must refuse it)
    ("Content-Length with Transfer-Encoding",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", True),
    ("two Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nab", True),
    ("signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\na", True),
    ("Transfer-Encoding: xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", True),
    ("chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", True),
    ("chunk size not hex", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n\r\n", True),
    ("chunk size 65 digits", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + "1" * 65 + "\r\n", True),
    ("bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", True),
    ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  2\r\n\r\n", True),
    ("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", True),
    ("NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n", True),
    ("bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n", True),
    ("Host: a,b", "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", True),
    ("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", True),
    ("no Host (HTTP/1.1)", "GET / HTTP/1.1\r\n\r\n", True),
    ("authority-form (CONNECT)", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", True),
    ("fragment in the target", "GET /#frag HTTP/1.1\r\nHost: a\r\n\r\n", True),
    ("backslash in the target", "GET /a\\..\\b HTTP/1.1\r\nHost: a\r\n\r\n", True),
    ("bad percent-escape", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", True),
    ("two spaces in the request line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", True),
    ("HTTP/2.0 on HTTP/1 framing", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", True),
    ("request line over 8 KiB", "GET /" + LONG + " HTTP/1.1\r\nHost: a\r\n\r\n", True),
    ("header section over 32 KiB", "GET / HTTP/1.1\r\nHost: a\r\n" + ("X-A: " + LONG + "\r\n") * 4 + "\r\n", True),
    ("Expect: 102-continue", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 102-continue\r\n\r\n", True),
    ("TRACE", "TRACE / HTTP/1.1\r\nHost: a\r\nCookie: s=1\r\n\r\n", True),
    ("valid: dot segments", "GET /x/../ HTTP/1.1\r\nHost: a\r\n\r\n", False),
    ("valid: absolute-form", "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", False),
    ("valid: HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", False),
]


def ask(port, raw):
    """The status a server answers `raw` with, "close" or "timeout"."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
    except OSError as e:
        return "refused (%s)" % e
    try:
        try:
            s.sendall(raw.encode("latin-1"))
        except OSError:
            pass
        data = b""
        deadline = time.time() + 3
        while b"\r\n" not in data and time.time() < deadline:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                return "timeout"
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        if not data:
            return "close"
        parts = data.split(b"\r\n", 1)[0].split(b" ")
        return parts[1].decode() if len(parts) > 1 else "garbage"
    finally:
        s.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_line(proc, marker, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if marker in line:
            return line
    raise RuntimeError("no '%s' line" % marker)


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = sys.argv[1]
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        print("nginx_diff: nginx not installed (scripts/deps.sh bench); skipped")
        return 77
    procs = []
    tmp = tempfile.mkdtemp(prefix="perfgate-diff-")
    try:
        backend = subprocess.Popen([os.path.join(build, "bench", "perfgate-sample-backend"), "--listen", "127.0.0.1:0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(backend)
        backend_port = int(wait_line(backend, "sample-backend ready").strip().rsplit(":", 1)[1])

        gateway = subprocess.Popen([os.path.join(build, "perfgate"), "--upstream", "http://127.0.0.1:%d" % backend_port,
                                    "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "1"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(gateway)
        gateway_port = int(wait_line(gateway, "perfgate ready").split("listen=")[1].split()[0].rsplit(":", 1)[1])

        nginx_port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""daemon off; master_process off; worker_processes 1; pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log; events { worker_connections 256; }
http { access_log off; client_body_temp_path %(tmp)s; proxy_temp_path %(tmp)s;
  upstream backend { server 127.0.0.1:%(backend)d; keepalive 8; }
  server { listen 127.0.0.1:%(port)d;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
""" % {"tmp": tmp, "backend": backend_port, "port": nginx_port})
        procs.append(subprocess.Popen([nginx, "-c", conf, "-p", tmp], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        wait_port(nginx_port)

        rows = []
        wrong = []
        for name, raw, refuse in CASES:
            n = ask(nginx_port, raw)
            p = ask(gateway_port, raw)
            # A malformed request: refused with a 4xx/5xx. A valid one: passed to the backend
            # (whatever it answers), not refused as malformed.
            ok = (p.isdigit() and int(p) >= 400) if refuse else (p.isdigit() and p != "400")
            if not ok:
                wrong.append("%s: perfgate answered %s" % (name, p))
            rows.append((name, n, p))
        print("| request | nginx 1.22 | perfgate |")
        print("| --- | --- | --- |")
        for name, n, p in rows:
            print("| %s | %s | %s |" % (name, n, p))
        for w in wrong:
            print("nginx_diff: FAIL %s" % w, file=sys.stderr)
        return 1 if wrong else 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
