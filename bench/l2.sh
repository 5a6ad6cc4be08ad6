#!/usr/bin/env bash
# Shared L2 cache benchmark: L2 hits against L1 hits and the backend, and the cold-start hit ratio
# of a second instance with and without L2. Run with --help for the options.
set -euo pipefail

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
one without each get the same REQUESTS requests (random URLs, wrk) and report their hit ratio
(hits / cache-eligible requests, from /api/monitoring/metrics).

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

die() { echo "l2.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

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

cd "$(dirname "$0")/.."
build_dir="${BENCH_BUILD_DIR:-build}"
base="${BENCH_BASE_PORT:-18300}"
for tool in wrk redis-server curl taskset; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh bench test)"; done
if [ "$build" = 1 ]; then
  cmake -S . -B "$build_dir" >/dev/null
  nice -n 10 cmake --build "$build_dir" -j2 --target perfgate perfgate-sample-backend >/dev/null
fi
perfgate="$build_dir/perfgate"
backend_bin="$build_dir/bench/perfgate-sample-backend"
[ -x "$perfgate" ] && [ -x "$backend_bin" ] || die "build $perfgate and $backend_bin first"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

on_server_cpu=(taskset -c 0)
on_load_cpu=(taskset -c 1)
backend_port=$base
redis_port=$((base + 1))

wait_port() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  die "nothing listens on port $1"
}

# start_perfgate NAME PORT ADMIN_PORT L2(0|1) CACHE(true|false) L1_BYTES
start_perfgate() {
  local l2=""
  [ "$4" = 1 ] && l2=$'[cache.l2]\nredis = "redis://127.0.0.1:'"$redis_port"$'/0"\nkey_prefix = "bench:"\n'
  cat >"$work/$1.toml" <<EOF_TOML
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
  "${on_server_cpu[@]}" "$perfgate" --config "$work/$1.toml" >"$work/$1.out" 2>"$work/$1.err" &
  pids+=($!)
  wait_port "$2"
  if [ "$4" = 1 ]; then
    for _ in $(seq 100); do
      curl -fsS "http://127.0.0.1:$3/api/monitoring/metrics" | grep -q '"status":"up"' && return 0
      sleep 0.1
    done
    die "$1: L2 not up: $(tail -n 3 "$work/$1.err")"
  fi
}

# wrk over the keys at random, Host shop.bench.
cat >"$work/keys.lua" <<EOF_LUA
local keys = $keys
wrk.headers["Host"] = "shop.bench"
request = function()
  return wrk.format("GET", "/api/small?k=" .. math.random(keys))
end
EOF_LUA

# run_wrk PORT SCRIPT SECONDS -> "req_per_s p50 p99 non2xx"
run_wrk() {
  local out
  out="$("${on_load_cpu[@]}" wrk -t1 -c"$connections" -d"${3}s" --latency -s "$2" "http://127.0.0.1:$1" 2>&1)" || { echo "$out" >&2; die "wrk failed"; }
  echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(awk '$1 == "50%" {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out") $(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
}
metric() { curl -fsS "http://127.0.0.1:$1/api/monitoring/metrics" | python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$2"; }
# Every URL once through the instance on port $1 (same Host as wrk: the Host is in the cache key).
warm() {
  for k in $(seq "$keys"); do printf 'url = "http://127.0.0.1:%s/api/small?k=%s"\noutput = "/dev/null"\n' "$1" "$k"; done >"$work/urls"
  curl -fsS -H "Host: shop.bench" -K "$work/urls" -Z --parallel-max 16
}

log "starting redis-server :$redis_port and the sample backend :$backend_port"
"${on_server_cpu[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --logfile "$work/redis.log" &
pids+=($!)
"${on_server_cpu[@]}" "$backend_bin" --listen "127.0.0.1:$backend_port" --threads 1 >/dev/null 2>&1 &
pids+=($!)
wait_port "$redis_port"
wait_port "$backend_port"

start_perfgate pass $((base + 2)) $((base + 12)) 0 false 256MiB
start_perfgate l1 $((base + 3)) $((base + 13)) 0 true 256MiB
start_perfgate writer $((base + 4)) $((base + 14)) 1 true 256MiB
start_perfgate l2 $((base + 5)) $((base + 15)) 1 true 64KiB

log "warming: l1 (its own L1) and writer (Redis) with $keys URLs"
warm $((base + 3))
warm $((base + 4))
sleep 0.5
stored=$(redis-cli -p "$redis_port" --scan --pattern 'bench:e:*' | wc -l)
[ "$stored" -ge "$keys" ] || die "Redis holds $stored of $keys URLs after the warm-up"

printf '\n%-8s %12s %10s %10s %8s %s\n' target req/s p50 p99 non2xx note
for target in backend pass l1-hit l2-hit; do
  case "$target" in
    backend) port=$backend_port ;;
    pass) port=$((base + 2)) ;;
    l1-hit) port=$((base + 3)) ;;
    l2-hit) port=$((base + 5)) ;;
  esac
  note=""
  [ "$target" = l2-hit ] && before=$(metric $((base + 15)) 'd["l2"]["hits"]')
  [ "$target" = l1-hit ] && before_hits=$(metric $((base + 13)) 'd["global"]["cache"]["hit_ratio"]')
  read -r rps p50 p99 non2xx < <(run_wrk "$port" "$work/keys.lua" "$duration")
  if [ "$target" = l2-hit ]; then
    hits=$(( $(metric $((base + 15)) 'd["l2"]["hits"]') - before ))
    note="L2 hits during the run: $hits ($(awk -v h="$hits" -v r="$rps" -v d="$duration" 'BEGIN {printf "%.0f%%", 100 * h / (r * d)}') of requests)"
  fi
  printf '%-8s %12s %10s %10s %8s %s\n' "$target" "$rps" "$p50" "$p99" "${non2xx:-0}" "$note"
done

log "cold start: two fresh instances, one with L2 (Redis warm) and one without"
start_perfgate cold-l2 $((base + 6)) $((base + 16)) 1 true 256MiB
start_perfgate cold $((base + 7)) $((base + 17)) 0 true 256MiB
printf '\n%-14s %10s %s\n' instance hit_ratio "backend requests"
for name in cold-l2 cold; do
  case "$name" in cold-l2) port=$((base + 6)); admin=$((base + 16)) ;; cold) port=$((base + 7)); admin=$((base + 17)) ;; esac
  b0=$(curl -fsS "http://127.0.0.1:$backend_port/__stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
  run_wrk "$port" "$work/keys.lua" "$duration" >/dev/null
  b1=$(curl -fsS "http://127.0.0.1:$backend_port/__stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
  printf '%-14s %10s %s\n' "$name" "$(metric "$admin" 'round(d["global"]["cache"]["hit_ratio"], 4)')" "$((b1 - b0))"
done
