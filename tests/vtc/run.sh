#!/usr/bin/env bash
# Runs .vtc files with varnishtest against a real perfgate: for each file, a fresh perfgate on an
# ephemeral port in front of the file's varnishtest server (macros ${perfgate} and ${backend},
# both "IP PORT"). Exit 77 (ctest: skipped) when varnishtest is not installed.
#   tests/vtc/run.sh PERFGATE_BINARY FILE.vtc...
set -euo pipefail
perfgate="$1"
shift
if ! command -v varnishtest >/dev/null; then
  echo "SKIPPED: varnishtest not found (Debian package 'varnish'; scripts/deps.sh test installs it)" >&2
  exit 77
fi

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free loopback port for the varnishtest server (bound by the kernel's choice, then released).
free_port() {
  perl -MIO::Socket::INET -e \
    'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die "$!"; print $s->sockport'
}

for vtc in "$@"; do
  backend_port="$(free_port)"
  cat >"$work/perfgate.toml" <<TOML
[server]
listen = "127.0.0.1:0"
workers = 1
[admin]
listen = "127.0.0.1:0"
[upstream.backend]
url = "http://127.0.0.1:$backend_port"
response_timeout = "5s"
[[route]]
name = "all"
prefix = "/"
upstream = "backend"
cache = false
TOML
  "$perfgate" --config "$work/perfgate.toml" >"$work/out" 2>"$work/err" &
  pid=$!
  port=""
  for _ in $(seq 100); do
    port="$(sed -n 's/^perfgate ready: listen=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/out")"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "perfgate did not start:" >&2
    cat "$work/err" >&2
    exit 1
  fi
  echo "== $(basename "$vtc") (perfgate :$port, backend :$backend_port)"
  if ! varnishtest -q -t 60 -D perfgate="127.0.0.1 $port" -D backend="127.0.0.1 $backend_port" "$vtc"; then
    echo "FAILED: $vtc" >&2
    varnishtest -v -t 60 -D perfgate="127.0.0.1 $port" -D backend="127.0.0.1 $backend_port" "$vtc" 2>&1 | tail -n 80 >&2 || true
    exit 1
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "perfgate died during $vtc:" >&2
    cat "$work/err" >&2
    exit 1
  fi
  kill "$pid"
  wait "$pid" || true
  pid=""
done
