#!/usr/bin/env bash
# Checks conf/systemd/perfgate.service with `systemd-analyze verify` (a copy whose ExecStart and
# ExecStartPre point at BUILD_DIR/perfgate, since verify needs the binary to exist), and that it
# reloads with SIGHUP, restarts on failure, gives the drain time to finish, is Type=notify with a
# watchdog, and rates under 3.0 in `systemd-analyze security`.
# Exit 0 all good, 1 on a failure, 77 (skip) without systemd-analyze.
# Usage: conf/systemd/check.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: check.sh BUILD_DIR}" && pwd)
# shellcheck source=docker/lib.sh
. "$root/docker/lib.sh"
unit="$here/perfgate.service"
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed (package systemd)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/local/bin/perfgate#$build/perfgate#g" "$unit" > "$tmp/perfgate.service"
verify() { systemd-analyze verify "$1" 2>&1 | grep -F "$(basename "$1")"; }
out=$(verify "$tmp/perfgate.service")
[ -z "$out" ] && ok "systemd-analyze verify: no complaint" || fail "systemd-analyze verify: $out"
# The same verifier must notice a broken copy, or the line above proves nothing.
sed 's/^Restart=on-failure/Restart=sometimes/' "$tmp/perfgate.service" > "$tmp/broken.service"
[ -n "$(verify "$tmp/broken.service")" ] && ok "systemd-analyze verify rejects a bad Restart= value" ||
  fail "systemd-analyze verify accepted Restart=sometimes"

grep -qE '^ExecReload=/bin/kill -HUP \$MAINPID$' "$unit" && ok "ExecReload sends SIGHUP" || fail "no ExecReload sending SIGHUP"
grep -qx 'Restart=on-failure' "$unit" && ok "Restart=on-failure" || fail "no Restart=on-failure"
grep -qE '^ExecStart=/usr/local/bin/perfgate --config /etc/perfgate/perfgate.toml$' "$unit" &&
  ok "ExecStart runs /etc/perfgate/perfgate.toml" || fail "ExecStart does not run --config /etc/perfgate/perfgate.toml"
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$unit")
drain=$("$build/perfgate" --print-config --config "$root/conf/perfgate.toml" | sed -n 's/^drain_timeout = "\([0-9]*\)s"$/\1/p')
[ -n "$stop" ] && [ -n "$drain" ] && [ "$stop" -gt "$drain" ] &&
  ok "TimeoutStopSec ${stop}s > drain_timeout ${drain}s of conf/perfgate.toml" ||
  fail "TimeoutStopSec '${stop}' must exceed drain_timeout '${drain}'s"
grep -qx 'Type=notify' "$unit" && grep -qE '^WatchdogSec=[0-9]+s$' "$unit" &&
  ok "Type=notify with WatchdogSec (perfgate sends READY=1 and WATCHDOG=1)" || fail "not Type=notify with a WatchdogSec"
# The exposure rating of the hardening options (0 best, 10 worst): README states it; keep it under 3.
score=$(systemd-analyze security --offline=true "$tmp/perfgate.service" 2>/dev/null |
  sed -n 's/.*Overall exposure level for perfgate.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s < 3.0) }' &&
  ok "systemd-analyze security: exposure $score (< 3.0)" || fail "systemd-analyze security exposure '${score}' is not under 3.0"
echo "$failures failed"
[ "$failures" -eq 0 ]
