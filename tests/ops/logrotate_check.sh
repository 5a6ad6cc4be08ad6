#!/usr/bin/env bash
# Runs conf/logrotate/perfgate for real against a running perfgate: a copy of the file whose paths
# point into a temporary directory and whose postrotate sends SIGUSR1 to that perfgate (in place of
# systemctl/pkill), rotated twice with `logrotate -s STATE -f`. Checks that a line logged before a
# rotation is in the rotated file, that perfgate survives SIGUSR1 and reopens its access log (a
# line logged after it is in the new file, not the moved one), and that delaycompress and compress
# do what they say (the newest rotated file plain, the one before gzipped). Also checks the
# directives of the installed file (`logrotate -d`, rotation policy, postrotate command).
# The backend is 127.0.0.1:9 (nothing listens): requests get 502, which is logged like any other.
# Exit 0 all good, 1 on a failure, 77 (skip) without logrotate, curl or gzip.
# Usage: tests/ops/logrotate_check.sh PERFGATE_BINARY
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "${1:?usage: logrotate_check.sh PERFGATE_BINARY}")
# shellcheck source=docker/lib.sh
. "$root/docker/lib.sh"
conf="$root/conf/logrotate/perfgate"
for tool in logrotate curl gzip; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (scripts/deps.sh test installs it)"; exit 77; }
done
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }

tmp=$(mktemp -d)
pid="" watchdog=""
cleanup() {
  [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the installed file
grep -qE '^/var/log/perfgate/\S+' "$conf" && ok "rotates files under /var/log/perfgate/" || fail "no /var/log/perfgate/ pattern"
grep -qF '/var/log/perfgate/*.log' "$conf" && ok "pattern /var/log/perfgate/*.log" || fail "no /var/log/perfgate/*.log pattern"
for directive in daily 'rotate 14' compress delaycompress missingok notifempty sharedscripts postrotate endscript; do
  grep -qE "^[[:space:]]+$directive\$" "$conf" && ok "directive: $directive" || fail "directive missing: $directive"
done
postrotate=$(sed -n '/^[[:space:]]*postrotate$/,/^[[:space:]]*endscript$/p' "$conf")
grep -qF 'systemctl kill -s USR1 perfgate.service' <<<"$postrotate" && grep -qF 'pkill -USR1 -x perfgate' <<<"$postrotate" &&
  ok "postrotate: systemctl kill -s USR1 perfgate.service, else pkill -USR1 -x perfgate" ||
  fail "postrotate does not send SIGUSR1 by systemctl kill with pkill as fallback: $postrotate"
if out=$(logrotate -d -s "$tmp/debug.state" "$conf" 2>&1) && ! grep -qi '^error' <<<"$out"; then
  ok "logrotate -d accepts $conf"
else
  fail "logrotate -d $conf: $(grep -i '^error' <<<"$out" | head -n3)"
fi

# --- a real rotation against a running perfgate
mkdir -p "$tmp/log"
log="$tmp/log/access.jsonl"
cat > "$tmp/perfgate.toml" <<EOF
[server]
listen = "127.0.0.1:0"
workers = 1
drain_timeout = "1s"

[admin]
listen = "127.0.0.1:0"

[log]
level = "warn"
access_log = "$log"

[upstream.app]
url = "http://127.0.0.1:9"
connect_timeout = "1s"

[[route]]
name = "site"
prefix = "/"
upstream = "app"
cache = false
EOF
"$bin" --config "$tmp/perfgate.toml" > "$tmp/stdout" 2> "$tmp/stderr" &
pid=$!
# Whatever happens to this script, perfgate stops within two minutes.
(sleep 120; kill "$pid" 2>/dev/null) >/dev/null 2>&1 &
watchdog=$!
listen=""
for _ in $(seq 50); do
  listen=$(sed -n 's/^perfgate ready: listen=\([^ ]*\) .*/\1/p' "$tmp/stdout")
  [ -n "$listen" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$listen" ]; then
  fail "perfgate did not start: $(tail -n5 "$tmp/stderr")"
  echo "$failures failed"
  exit 1
fi
ok "perfgate started ($(head -n1 "$tmp/stdout"))"

# wait_for_line FILE TEXT: up to 3 s for TEXT to appear in FILE.
wait_for_line() {
  for _ in $(seq 30); do
    grep -qF "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
request() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$listen$1"; }

# The copy: paths into $tmp/log, postrotate signals this perfgate.
awk -v dir="$tmp/log/" -v pid="$pid" '
  /^[[:space:]]*postrotate$/ { print; print "        kill -USR1 " pid; skip = 1; next }
  /^[[:space:]]*endscript$/  { skip = 0 }
  skip { next }
  { gsub("/var/log/perfgate/", dir); print }' "$conf" > "$tmp/logrotate.conf"
chmod 644 "$tmp/logrotate.conf"
grep -qF "$tmp/log/access.jsonl" "$tmp/logrotate.conf" && grep -qF "kill -USR1 $pid" "$tmp/logrotate.conf" ||
  fail "could not make the test copy of $conf: $(cat "$tmp/logrotate.conf")"

# rotate N: one forced logrotate run; checks it succeeded and perfgate survived the signal.
rotate() {
  local out
  if out=$(logrotate -v -s "$tmp/state" -f "$tmp/logrotate.conf" 2>&1) && ! grep -qi '^error' <<<"$out"; then
    ok "rotation $1: logrotate -f ran without error"
  else
    fail "rotation $1: logrotate -f: $(grep -i 'error' <<<"$out" | head -n3)"
  fi
  sleep 0.2
  if kill -0 "$pid" 2>/dev/null; then
    ok "rotation $1: perfgate is still running after SIGUSR1"
  else
    wait "$pid" 2>/dev/null
    local code=$?
    pid=""
    fail "rotation $1: perfgate exited (status $code$([ "$code" -eq 138 ] && echo ': killed by SIGUSR1, which it does not handle')) after SIGUSR1"
    echo "$failures failed"
    exit 1
  fi
}

code=$(request /logrotate-first)
wait_for_line "$log" '/logrotate-first' && ok "line 1 logged (status $code)" || fail "line 1 (/logrotate-first) not in $log"
rotate 1
wait_for_line "$log.1" '/logrotate-first' && ok "line 1 is in the rotated file access.jsonl.1" ||
  fail "line 1 not in the rotated file: $(ls "$tmp/log")"
code=$(request /logrotate-second)
if wait_for_line "$log" '/logrotate-second'; then
  ok "line 2 (after SIGUSR1) is in the new access.jsonl: perfgate reopened its log"
else
  fail "line 2 (/logrotate-second) not in a new $log within 3 s$(grep -qF '/logrotate-second' "$log.1" 2>/dev/null && echo ': it went to the rotated file, perfgate did not reopen')"
fi
grep -qF '/logrotate-second' "$log.1" 2>/dev/null && fail "line 2 also went to the rotated file" || ok "the rotated file has no line written after the rotation"

rotate 2
if [ -f "$log.2.gz" ] && gzip -dc "$log.2.gz" | grep -qF '/logrotate-first'; then
  ok "compress: the older rotation is access.jsonl.2.gz with line 1"
else
  fail "no access.jsonl.2.gz holding line 1: $(ls "$tmp/log")"
fi
if [ -f "$log.1" ] && grep -qF '/logrotate-second' "$log.1"; then
  ok "delaycompress: the newest rotation access.jsonl.1 is plain, with line 2"
else
  fail "no plain access.jsonl.1 holding line 2: $(ls "$tmp/log")"
fi
code=$(request /logrotate-third)
wait_for_line "$log" '/logrotate-third' && ok "line 3 is in the new access.jsonl after the second rotation" ||
  fail "line 3 (/logrotate-third) not in a new $log within 3 s"

echo "$failures failed"
[ "$failures" -eq 0 ]
