#!/usr/bin/env bash
# System calls and allocations per request on a loaded keep-alive worker, for a cache hit and a
# pass-through request. Run with --help for the options.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/bench/lib.sh"

usage() {
  cat <<'EOF'
Usage: bench/syscalls.sh [options]

Counts what one perfgate worker does per request under load (wrk -t1, 64 keep-alive connections):
the system calls it enters (perf stat on the syscalls tracepoints of its process) and the mallocs
it makes (a uprobe on libc's malloc), over a window of the load, divided by the requests it
answered in that window (its admin metrics before and after). Three loads, all in front of the
sample backend: a cache hit (GET /api/small, bench/conf/hits.toml), a pass-through request
(GET /api/pass, bench/conf/pass.toml: a route with cache = false) and the same request in drop-in
mode (--upstream, no config file: the route caches, and the no-store answer is hit-for-miss).
The uprobe slows each malloc, so the request rate under it is not a benchmark; the counts are
what this script is for.

Options:
  --seconds S        length of the counted window (default 4)
  --no-build         use the binaries already in the build directory instead of (re)building
  -h, --help         this text

Needs: root (tracepoints and uprobes), perf (Debian: linux-perf), wrk, curl, python3.
EOF
}

seconds=4
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null || die "perf is missing (Debian: apt-get install linux-perf)"

bench_init syscalls
bd="${BENCH_BUILD_DIR:-build-release}"
[ "$build" = 1 ] && build_release "$root/$bd"
libc="$(ldd "$root/$bd/perfgate" | awk '$1 ~ /^libc\.so/ {print $3}')"
[ -n "$libc" ] || die "cannot find the libc perfgate links"
perf probe -q -d 'probe_libc:*' >/dev/null 2>&1 || true
perf probe -q -x "$libc" malloc >/dev/null 2>&1 || die "cannot place a uprobe on malloc in $libc"
trap 'perf probe -q -d "probe_libc:*" >/dev/null 2>&1 || true; bench_cleanup' EXIT

backend_port="${BENCH_BACKEND_PORT:-18000}"
start_sample_backend "$root/$bd/bench/perfgate-sample-backend" "$backend_port"
start_perfgate "$root/$bd/perfgate" "$root/bench/conf/pass.toml" 18080 19901 "127.0.0.1:$backend_port"
pass_pid="$spawned_pid"
start_perfgate "$root/$bd/perfgate" "$root/bench/conf/hits.toml" 18082 19902 "127.0.0.1:$backend_port"
hit_pid="$spawned_pid"
log "starting perfgate (drop-in) on 127.0.0.1:18084"
bench_spawn "perfgate (drop-in)" "$run_dir/perfgate-dropin.log" "perfgate ready:" 18084 "$root/$bd/perfgate" \
  --upstream "http://127.0.0.1:$backend_port" --listen 127.0.0.1:18084 --admin 127.0.0.1:19904 --workers 1
dropin_pid="$spawned_pid"

export -f admin_metric  # run by perf's child: the requests answered, read inside its window
events='syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_io_uring_enter,probe_libc:malloc'
for spec in "hit:18082:19902:$hit_pid:/api/small" "pass:18080:19901:$pass_pid:/api/pass" \
            "pass-dropin:18084:19904:$dropin_pid:/api/pass"; do
  IFS=: read -r name port admin pid path <<<"$spec"
  url="http://127.0.0.1:$port$path"
  wrk_run 2 64 "$url" >/dev/null  # fills the cache, warms the pools
  wrk_run $((seconds + 4)) 64 "$url" >/dev/null &
  load=$!
  sleep 2
  # The requests answered are read inside perf's window, as its first and last acts.
  perf stat -x, -e "$events" -p "$pid" -o "$run_dir/$name.stat" -- \
    bash -c 'admin_metric "$1" "$4" >"$2.before"; sleep "$3"; admin_metric "$1" "$4" >"$2.after"' \
    _ "$admin" "$run_dir/$name" "$seconds" 'd["global"]["requests"]'
  wait "$load"
  requests=$(($(cat "$run_dir/$name.after") - $(cat "$run_dir/$name.before")))
  echo "$name ($path): $requests requests in ${seconds} s counted"
  awk -F, -v n="$requests" '$1 ~ /^[0-9]+$/ {sub(/^syscalls:sys_enter_/, "", $3); printf "  %-18s %10d  %6.3f per request\n", $3, $1, $1 / n}' \
    "$run_dir/$name.stat"
done
