#!/usr/bin/env bash
# Shared L2 cache benchmark: L2 hits against L1 hits and the backend, and the cold-start hit ratio
# of a second instance with and without L2. Run with --help for the options.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: bench/l2.sh [options]

Starts a redis-server, the sample backend and perfgate instances on 127.0.0.1 and measures, with
wrk -t1 over KEYS distinct URLs (/api/small?k=N, 789-byte JSON, max-age=60), one worker each:
  backend    the sample backend alone (no perfgate)
  pass       perfgate with the cache off: every request goes to the backend
  l1-hit     perfgate, every URL in its L1 (warmed first)
  l2-hit     perfgate whose L1 is kept too small to hold the URLs (64 KiB), while Redis holds
             them all (written by another instance): nearly every request is an L1 miss answered
             from Redis (the table shows the L2 hits counted during the run)
Then the cold start: instance A warms Redis with every URL; a fresh instance with L2 and a fresh
one without each get the same load (random URLs, wrk, DURATION seconds) and report their hit
ratio (hits / cache-eligible requests, from /api/monitoring/metrics) and the requests that
reached the backend.

Options:
  --duration S     seconds per wrk run (default 5)
  --connections C  wrk connections (default 32)
  --keys N         distinct URLs (default 2000)
  --no-build       use the binaries in the build directory as they are
  -h, --help       this text

CPU placement (2 cores): servers on CPU 0, wrk on CPU 1 (taskset). Environment: BENCH_BUILD_DIR
(build), BENCH_BASE_PORT (18300: the next 8 ports are used). Needs wrk, redis-server, curl,
taskset (scripts/deps.sh bench test).
EOF_USAGE
}

duration=5
connections=32
keys=2000
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="${2:?}"; shift 2 ;;
    --connections) connections="${2:?}"; shift 2 ;;
    --keys) keys="${2:?}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

bench_init l2.sh
build_dir="${BENCH_BUILD_DIR:-build}"
base="${BENCH_BASE_PORT:-18300}"
for tool in wrk redis-server redis-cli curl; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh bench test)"; done
if [ "$build" = 1 ]; then
  cmake -S . -B "$build_dir" >/dev/null
  nice -n 10 cmake --build "$build_dir" -j2 --target perfgate perfgate-sample-backend >/dev/null
fi
perfgate="$build_dir/perfgate"
backend_bin="$build_dir/bench/perfgate-sample-backend"
[ -x "$perfgate" ] && [ -x "$backend_bin" ] || die "build $perfgate and $backend_bin first"

backend_port=$base
redis_port=$((base + 1))
check_ports $(seq "$base" $((base + 7))) $(seq $((base + 12)) $((base + 17)))

# start_l2_perfgate NAME PORT ADMIN_PORT L2(0|1) CACHE(true|false) L1_BYTES: one worker, its config
# written here; with L2 it waits until the worker's Redis link is up.
start_l2_perfgate() {
  local l2=""
  [ "$4" = 1 ] && l2=$'[cache.l2]\nredis = "redis://127.0.0.1:'"$redis_port"$'/0"\nkey_prefix = "bench:"\n'
  cat >"$run_dir/$1.toml" <<EOF_TOML
[server]
listen = "127.0.0.1:$2"
workers = 1
[admin]
listen = "127.0.0.1:$3"
[metrics]
enabled = true
[cache]
max_bytes = "$6"
max_object_bytes = "16KiB"
$l2
[upstream.backend]
url = "http://127.0.0.1:$backend_port"
max_connections = 64
[[route]]
name = "site"
prefix = "/"
upstream = "backend"
cache = $5
EOF_TOML
  log "starting perfgate $1 on 127.0.0.1:$2 (admin $3)"
  bench_spawn "perfgate $1" "$run_dir/$1.log" "perfgate ready:" "$2" "$perfgate" --config "$run_dir/$1.toml"
  if [ "$4" = 1 ]; then
    for _ in $(seq 100); do
      curl -fsS "http://127.0.0.1:$3/api/monitoring/metrics" | grep -q '"status":"up"' && return 0
      sleep 0.1
    done
    die "$1: L2 not up: $(tail -n 3 "$run_dir/$1.log")"
  fi
}

# wrk over the keys at random, Host shop.bench.
cat >"$run_dir/keys.lua" <<EOF_LUA
local keys = $keys
wrk.headers["Host"] = "shop.bench"
request = function()
  return wrk.format("GET", "/api/small?k=" .. math.random(keys))
end
EOF_LUA

# run_wrk PORT -> "req_per_s p50_ms p99_ms non2xx" (a failed wrk run ends the script)
run_wrk() {
  local out requests rps p50 p90 p99 non2xx errors
  out="$(wrk_run "$duration" "$connections" "http://127.0.0.1:$1" -s "$run_dir/keys.lua")" || exit 1
  read -r requests rps p50 p90 p99 non2xx errors <<<"$out"
  echo "$rps $p50 $p99 $non2xx"
}
# Every URL once through the instance on port $1 (same Host as wrk: the Host is in the cache key).
warm() {
  for k in $(seq "$keys"); do printf 'url = "http://127.0.0.1:%s/api/small?k=%s"\noutput = "/dev/null"\n' "$1" "$k"; done >"$run_dir/urls"
  curl -fsS --no-progress-meter -H "Host: shop.bench" -K "$run_dir/urls" -Z --parallel-max 16
}

log "starting redis-server on 127.0.0.1:$redis_port"
bench_spawn redis-server "$run_dir/redis.out" "" "$redis_port" redis-server --port "$redis_port" --bind 127.0.0.1 \
  --save "" --appendonly no --dir "$run_dir" --logfile "$run_dir/redis.log"
start_sample_backend "$backend_bin" "$backend_port"

start_l2_perfgate pass $((base + 2)) $((base + 12)) 0 false 256MiB
start_l2_perfgate l1 $((base + 3)) $((base + 13)) 0 true 256MiB
start_l2_perfgate writer $((base + 4)) $((base + 14)) 1 true 256MiB
start_l2_perfgate l2 $((base + 5)) $((base + 15)) 1 true 64KiB

log "warming: l1 (its own L1) and writer (Redis) with $keys URLs"
warm $((base + 3))
warm $((base + 4))
sleep 0.5
stored=$(redis-cli -p "$redis_port" --scan --pattern 'bench:e:*' | wc -l)
[ "$stored" -ge "$keys" ] || die "Redis holds $stored of $keys URLs after the warm-up"

printf '\n%-8s %12s %10s %10s %8s %s\n' target req/s "p50 ms" "p99 ms" non2xx note
for target in backend pass l1-hit l2-hit; do
  case "$target" in
    backend) port=$backend_port ;;
    pass) port=$((base + 2)) ;;
    l1-hit) port=$((base + 3)) ;;
    l2-hit) port=$((base + 5)) ;;
  esac
  note=""
  [ "$target" = l2-hit ] && before=$(admin_metric $((base + 15)) 'd["l2"]["hits"]')
  result="$(run_wrk "$port")"
  read -r rps p50 p99 non2xx <<<"$result"
  if [ "$target" = l2-hit ]; then
    hits=$(( $(admin_metric $((base + 15)) 'd["l2"]["hits"]') - before ))
    note="L2 hits during the run: $hits ($(awk -v h="$hits" -v r="$rps" -v d="$duration" 'BEGIN {printf "%.0f%%", 100 * h / (r * d)}') of requests)"
  fi
  printf '%-8s %12s %10s %10s %8s %s\n' "$target" "$rps" "$p50" "$p99" "$non2xx" "$note"
done

log "cold start: two fresh instances, one with L2 (Redis warm) and one without"
start_l2_perfgate cold-l2 $((base + 6)) $((base + 16)) 1 true 256MiB
start_l2_perfgate cold $((base + 7)) $((base + 17)) 0 true 256MiB
printf '\n%-14s %10s %s\n' instance hit_ratio "backend requests"
for name in cold-l2 cold; do
  case "$name" in cold-l2) port=$((base + 6)); admin=$((base + 16)) ;; cold) port=$((base + 7)); admin=$((base + 17)) ;; esac
  b0=$(sample_backend_requests "$backend_port")
  run_wrk "$port" >/dev/null
  b1=$(sample_backend_requests "$backend_port")
  printf '%-14s %10s %s\n' "$name" "$(admin_metric "$admin" 'round(d["global"]["cache"]["hit_ratio"], 4)')" "$((b1 - b0))"
done
