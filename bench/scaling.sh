#!/usr/bin/env bash
# Worker scaling: req/s of perfgate with 1, 2, 4, 8 ... workers on a many-core machine, in one run.
#
#   bench/scaling.sh [--workers "1 2 4 8"] [--duration S] [--scenarios "local pass"]
#
# Scenarios:
#   local  responses the gateway makes itself (a path no route matches: 404 JSON, keep-alive):
#          the front end alone (accept, parse, route, respond), no backend involved
#   pass   pass-through of GET /api/pass (789-byte JSON) to the sample backend
#
# CPU layout (taskset, when available): perfgate workers on the first half of the cores (one
# core each); for `local` wrk gets the other half; for `pass` the sample backend gets a quarter
# and wrk the last quarter. Everything listens on 127.0.0.1 and is stopped on exit.
#
# Binaries: build-release/ (built when missing), or PERFGATE / SAMPLE_BACKEND / WRK; RUN is an
# optional prefix for perfgate and the backend (e.g. a dynamic loader with --library-path).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init scaling.sh

workers_list="1 2 4 8"
duration=5
scenarios="local pass"
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers_list="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --scenarios) scenarios="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done

perfgate="${PERFGATE:-build-release/perfgate}"
backend="${SAMPLE_BACKEND:-build-release/bench/perfgate-sample-backend}"
wrk="${WRK:-wrk}"
run=(${RUN:-})
if [ ! -x "$perfgate" ] || [ ! -x "$backend" ]; then
  scripts/deps.sh bench
  build_release build-release perfgate perfgate-sample-backend
fi

cores=${CORES:-$(nproc)}  # CORES and NO_PIN=1 let a small machine try the script out
half=$((cores / 2))
quarter=$((cores / 4))
[ "$quarter" -ge 1 ] || die "needs at least 4 cores"
pin() {  # pin FIRST LAST CMD...: exec CMD on cores FIRST..LAST; call it in a subshell or with &
  local first=$1 last=$2; shift 2
  if [ -z "${NO_PIN:-}" ] && command -v taskset >/dev/null; then exec taskset -c "$first-$last" "$@"; fi
  exec "$@"
}

tmp="$run_dir"

backend_port=28100
gateway_port=28180
admin_port=28190
cat >"$tmp/scaling.toml" <<EOF
[server]
listen = "127.0.0.1:$gateway_port"
max_connections = 100000
[admin]
listen = "127.0.0.1:$admin_port"
[log]
level = "warn"
[upstream.backend]
url = "http://127.0.0.1:$backend_port"
max_connections = 1024
[[route]]
name = "api"
prefix = "/api/"
upstream = "backend"
EOF

echo "cores: $cores; perfgate workers on cores 0..N-1; wrk -d${duration}s; $(date -u +%FT%TZ)"
printf '%-8s %8s %12s %10s %10s %8s\n' scenario workers req/s p50 p99 speedup
for scenario in $scenarios; do
  base=""
  if [ "$scenario" = pass ]; then
    pin "$half" "$((half + quarter - 1))" "${run[@]}" "$backend" --listen "127.0.0.1:$backend_port" \
      --threads "$quarter" >"$tmp/backend.log" 2>&1 &
    backend_pid=$!
    bench_pids+=("$backend_pid")
    wait_ready "sample backend" "$backend_pid" "$tmp/backend.log" "sample-backend ready:" "$backend_port"
    load_first=$((half + quarter)); path=/api/pass
  else
    load_first=$half; path=/local
  fi
  load_threads=$((cores - load_first))
  for n in $workers_list; do
    [ "$n" -le "$half" ] || continue
    pin 0 "$((n - 1))" "${run[@]}" "$perfgate" --config "$tmp/scaling.toml" --workers "$n" \
      >"$tmp/perfgate.log" 2>&1 &
    gw=$!
    bench_pids+=("$gw")
    wait_ready perfgate "$gw" "$tmp/perfgate.log" "perfgate ready:" "$gateway_port"
    (pin "$load_first" "$((cores - 1))" "$wrk" -t"$load_threads" -c$((64 * load_threads)) -d1s \
      "http://127.0.0.1:$gateway_port$path" >/dev/null)
    out=$(pin "$load_first" "$((cores - 1))" "$wrk" -t"$load_threads" -c$((64 * load_threads)) \
      -d"${duration}s" --latency "http://127.0.0.1:$gateway_port$path")
    bench_stop "$gw"
    rps=$(awk '/^Requests\/sec/ {print int($2)}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
    [ -n "$base" ] || base=$rps
    speedup=$(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.2fx", a / b}')
    printf '%-8s %8s %12s %10s %10s %8s %s\n' "$scenario" "$n" "$rps" "$p50" "$p99" "$speedup" \
      "$([ "$scenario" = local ] && echo "(404s by design)" || echo "$errors")"
  done
  if [ "$scenario" = pass ]; then bench_stop "$backend_pid"; fi
done
