#!/usr/bin/env bash
# Cost of per-route timing on cache hits: two perfgate processes from the same binary in front of
# one sample backend, one with [metrics] enabled = true (the timing filter in the chain), one with
# enabled = false, loaded in alternating wrk rounds (on, off, on, off, ...) so both see the same
# machine conditions. Prints each round and the medians.
#
# Usage: bench/timing_overhead.sh [--rounds N] [--duration S] [--connections C]
# Env: BENCH_BUILD_DIR (default build-release), BENCH_BASE_PORT (default 18300).
# Placement: perfgate (one worker) and the backend on CPU 0, wrk -t1 on CPU 1 (2-core machine).
set -euo pipefail

rounds=5
duration=5
connections=64
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--duration S] [--connections C]" >&2; exit 2 ;;
  esac
done

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init timing_overhead.sh
build_dir="$root/${BENCH_BUILD_DIR:-build-release}"
base="${BENCH_BASE_PORT:-18300}"
backend_port=$base; on_port=$((base + 1)); off_port=$((base + 2))
for bin in "$build_dir/perfgate" "$build_dir/bench/perfgate-sample-backend"; do
  [ -x "$bin" ] || die "missing $bin (cmake --build ${build_dir#$root/})"
done
command -v wrk >/dev/null || die "wrk is not installed (scripts/deps.sh bench)"
check_ports "$backend_port" "$on_port" "$off_port"

start_sample_backend "$build_dir/bench/perfgate-sample-backend" "$backend_port"

start_gateway() {  # NAME PORT ENABLED
  local conf="$run_dir/$1.toml"
  cat >"$conf" <<CONF
[server]
listen = "127.0.0.1:$2"
workers = 1
[admin]
listen = "127.0.0.1:0"
[metrics]
enabled = $3
[upstream.backend]
url = "http://127.0.0.1:$backend_port"
[[route]]
name = "site"
prefix = "/"
upstream = "backend"
CONF
  bench_spawn "perfgate ($1)" "$run_dir/$1.log" "perfgate ready:" "$2" "$build_dir/perfgate" --config "$conf"
}
start_gateway on "$on_port" true
start_gateway off "$off_port" false
for port in "$on_port" "$off_port"; do curl -fsS -o /dev/null "http://127.0.0.1:$port/api/small"; done
for port in "$on_port" "$off_port"; do
  cache="$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$port/api/small" | tr -d '\r' | sed -n 's/^X-Cache: //p')"
  [ "$cache" = HIT ] || die "port $port: expected a cache hit, got X-Cache '$cache'"
done

one_round() {  # PORT -> req/s
  wrk_run "$duration" "$connections" "http://127.0.0.1:$1/api/small" | awk '{print $2}'
}
on=(); off=()
echo "round timing_on_req_s timing_off_req_s"
for r in $(seq 1 "$rounds"); do
  a="$(one_round "$on_port")"; b="$(one_round "$off_port")"
  on+=("$a"); off+=("$b")
  echo "$r $a $b"
done
m_on="$(printf '%s\n' "${on[@]}" | median)"; m_off="$(printf '%s\n' "${off[@]}" | median)"
awk -v on="$m_on" -v off="$m_off" 'BEGIN {printf "median: on %.0f req/s, off %.0f req/s, on/off %.4f (overhead %.2f%%)\n", on, off, on/off, (1-on/off)*100}'
