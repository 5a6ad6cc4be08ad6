#!/usr/bin/env bash
# Pass-through benchmark: the sample backend hit directly, through perfgate's uncached route, and
# through nginx with upstream keep-alive; wrk on GET /api/pass (789-byte JSON, no-store).
# Run with --help for the options.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/passthrough.sh [options]

Measures the uncached pass-through cost of perfgate against the backend alone and against nginx
(upstream keepalive 64), all in front of the same perfgate-sample-backend, with wrk on
GET /api/pass (789-byte JSON, Cache-Control: no-store). Rounds are interleaved
(direct perfgate nginx direct perfgate nginx ...); the table shows per-target medians of req/s,
p50 and p99 (wrk --latency), then the perfgate/nginx ratio. Every round goes to
build-release/bench/passthrough-<timestamp>.csv. It builds perfgate and the sample backend (Release) first.

Options:
  --rounds N         interleaved rounds (default 3)
  --duration S       seconds per wrk run (default 10)
  --connections C    wrk connections, -t1 (default 64)
  --warmup S         seconds of unmeasured load per target before the rounds (default 2)
  --quick            1 round of 3 s, 1 s warm-up
  --targets LIST     comma-separated subset of direct,perfgate,nginx (default: all three)
  --no-build         use the binaries already in build/ instead of (re)building
  -h, --help         this text

CPU placement (2-core machine): the server under test and the sample backend (--threads 1) run
on CPU 0, wrk -t1 on CPU 1 (taskset). perfgate runs with --workers 1 and nginx with
worker_processes 1. Everything listens on 127.0.0.1 only and is stopped when the script exits.

Environment: BENCH_BACKEND_PORT (18000), BENCH_PERFGATE_PORT (18080), BENCH_ADMIN_PORT (19901),
BENCH_NGINX_PORT (18081); BENCH_BUILD_DIR (build-release) for the binaries and the CSV.

Needs: cmake and a C++ toolchain, wrk, nginx, taskset; scripts/deps.sh bench installs what is
missing.
EOF
}

die() { echo "passthrough.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

# ---------------------------------------------------------------- options
rounds=3
duration=10
connections=64
warmup=2
targets_csv="direct,perfgate,nginx"
build=1

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a value}"; shift 2 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --connections) connections="${2:?--connections needs a value}"; shift 2 ;;
    --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
    --quick) rounds=1; duration=3; warmup=1; shift ;;
    --targets) targets_csv="${2:?--targets needs a value}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

for v in rounds duration connections; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v wants a positive integer, got '${!v}'"
done
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup wants a number of seconds, got '$warmup'"

IFS=',' read -r -a targets <<< "$targets_csv"
[ ${#targets[@]} -gt 0 ] || die "--targets is empty"
for t in "${targets[@]}"; do
  case "$t" in direct|perfgate|nginx) ;; *) die "unknown target '$t' (direct, perfgate, nginx)" ;; esac
done
wants() { [[ ",$targets_csv," == *",$1,"* ]]; }

backend_port="${BENCH_BACKEND_PORT:-18000}"
perfgate_port="${BENCH_PERFGATE_PORT:-18080}"
admin_port="${BENCH_ADMIN_PORT:-19901}"
nginx_port="${BENCH_NGINX_PORT:-18081}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build_dir="${BENCH_BUILD_DIR:-build-release}"
perfgate_bin="$root/$build_dir/perfgate"
backend_bin="$root/$build_dir/bench/perfgate-sample-backend"

# ---------------------------------------------------------------- processes and cleanup
run_dir="$(mktemp -d "${TMPDIR:-/tmp}/perfgate-passthrough.XXXXXX")"
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# CPU placement: servers on CPU 0, load generator on CPU 1, when there are two CPUs to split.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  on_server_cpu=(taskset -c 0)
  on_load_cpu=(taskset -c 1)
  placement="servers under test + sample backend on CPU 0, wrk -t1 on CPU 1 (taskset)"
else
  on_server_cpu=()
  on_load_cpu=()
  placement="not pinned (fewer than 2 CPUs or no taskset): figures are not comparable to pinned runs"
fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready NAME PID LOGFILE PATTERN PORT: until the log shows PATTERN (when not empty) or the
# port answers; fails when the process exits first.
wait_ready() {
  local name="$1" pid="$2" logfile="$3" pattern="$4" port="$5"
  for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "---- $name output:" >&2; tail -n 30 "$logfile" >&2 || true
      die "$name exited before it was ready"
    fi
    if { [ -n "$pattern" ] && grep -q "$pattern" "$logfile" 2>/dev/null; } || port_in_use "$port"; then return 0; fi
    sleep 0.1
  done
  echo "---- $name output:" >&2; tail -n 30 "$logfile" >&2 || true
  die "$name was not ready on 127.0.0.1:$port after 15 s"
}

# check_target NAME URL: one request must give 200 and the 789-byte body.
check_target() {
  local name="$1" url="$2" out
  command -v curl >/dev/null || return 0
  out="$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' --max-time 5 "$url" 2>&1)" \
    || die "$name: request to $url failed: $out"
  [ "$out" = "200 789" ] || die "$name: $url answered '$out' (status, bytes), expected '200 789'"
}

# ---------------------------------------------------------------- build and dependencies
"$root/scripts/deps.sh" bench || log "scripts/deps.sh bench failed; continuing with what is installed"
for tool in wrk cmake; do command -v "$tool" >/dev/null || die "$tool is not installed (scripts/deps.sh bench)"; done
if wants nginx; then
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx is not installed (scripts/deps.sh bench)"
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

if [ "$build" -eq 1 ]; then
  build_targets=(perfgate-sample-backend)
  wants perfgate && build_targets+=(perfgate)
  log "building ${build_targets[*]} (Release)"
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >"$run_dir/cmake.log" 2>&1 \
    || { tail -n 30 "$run_dir/cmake.log" >&2; die "cmake configure failed"; }
  cmake --build "$build_dir" -j "$(nproc)" --target "${build_targets[@]}" >>"$run_dir/cmake.log" 2>&1 \
    || { grep -E 'error|Error' "$run_dir/cmake.log" | head -n 20 >&2; die "build failed (cmake --build $build_dir --target ${build_targets[*]})"; }
fi
[ -x "$backend_bin" ] || die "$backend_bin is missing (build it, or drop --no-build)"
if wants perfgate && [ ! -x "$perfgate_bin" ]; then
  die "$perfgate_bin is missing; build perfgate first, or run without it: --targets direct,nginx"
fi

for port in "$backend_port" "$perfgate_port" "$admin_port" "$nginx_port"; do
  port_in_use "$port" && die "127.0.0.1:$port is already in use (set BENCH_*_PORT to move it)"
done

# ---------------------------------------------------------------- start the servers
log "starting perfgate-sample-backend on 127.0.0.1:$backend_port"
"${on_server_cpu[@]}" "$backend_bin" --listen "127.0.0.1:$backend_port" --threads 1 >"$run_dir/backend.log" 2>&1 &
pids+=($!)
wait_ready "sample backend" "${pids[-1]}" "$run_dir/backend.log" "sample-backend ready:" "$backend_port"
check_target "sample backend" "http://127.0.0.1:$backend_port/api/pass"

declare -A url
url[direct]="http://127.0.0.1:$backend_port/api/pass"

if wants perfgate; then
  log "starting perfgate on 127.0.0.1:$perfgate_port (admin $admin_port)"
  sed -e "s/127\.0\.0\.1:18080/127.0.0.1:$perfgate_port/" \
      -e "s/127\.0\.0\.1:19901/127.0.0.1:$admin_port/" \
      -e "s/127\.0\.0\.1:18000/127.0.0.1:$backend_port/" \
      "$root/bench/conf/pass.toml" >"$run_dir/pass.toml"
  "${on_server_cpu[@]}" "$perfgate_bin" --config "$run_dir/pass.toml" --workers 1 >"$run_dir/perfgate.log" 2>&1 &
  pids+=($!)
  wait_ready perfgate "${pids[-1]}" "$run_dir/perfgate.log" "perfgate ready:" "$perfgate_port"
  url[perfgate]="http://127.0.0.1:$perfgate_port/api/pass"
  check_target perfgate "${url[perfgate]}"
fi

if wants nginx; then
  log "starting nginx on 127.0.0.1:$nginx_port"
  mkdir -p "$run_dir/nginx"
  user_line=""
  [ "$(id -u)" -eq 0 ] && user_line="user root;"  # workers must reach the root-owned temp dir
  sed -e "s|@USER_LINE@|$user_line|" -e "s|@RUN_DIR@|$run_dir/nginx|g" \
      -e "s|@BACKEND_PORT@|$backend_port|g" -e "s|@LISTEN_PORT@|$nginx_port|g" \
      "$root/bench/peers/nginx-pass.conf" >"$run_dir/nginx/nginx.conf"
  "${on_server_cpu[@]}" "$nginx_bin" -c "$run_dir/nginx/nginx.conf" -p "$run_dir/nginx" -g 'daemon off;' \
    >"$run_dir/nginx/stdout.log" 2>&1 &
  pids+=($!)
  wait_ready nginx "${pids[-1]}" "$run_dir/nginx/stdout.log" "" "$nginx_port"
  url[nginx]="http://127.0.0.1:$nginx_port/api/pass"
  check_target nginx "${url[nginx]}"
fi

# ---------------------------------------------------------------- load
# to_ms VALUE: wrk's "792.00us" / "1.69ms" / "1.02s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

# run_wrk URL SECONDS: prints "req_per_s p50_ms p99_ms non2xx socket_errors".
run_wrk() {
  local out rps p50 p99 non2xx errors
  out="$("${on_load_cpu[@]}" wrk -t1 -c"$connections" -d"${2}s" --latency "$1" 2>&1)" \
    || { echo "$out" >&2; die "wrk failed against $1"; }
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
  errors="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")"
  if [ -z "$rps" ] || [ -z "$p50" ] || [ -z "$p99" ]; then
    echo "$out" >&2
    die "could not read wrk's output for $1"
  fi
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${non2xx:-0} ${errors:-0}"
}

mkdir -p "$root/$build_dir/bench"
stamp="$(date +%Y%m%d-%H%M%S)"
csv="$root/$build_dir/bench/passthrough-$stamp.csv"
echo "timestamp,round,target,url,connections,duration_s,requests_per_s,p50_ms,p99_ms,non_2xx_3xx,socket_errors" >"$csv"

echo
echo "perfgate pass-through benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs"
echo "load: wrk -t1 -c$connections, $rounds round(s) x ${duration}s interleaved (${targets[*]}), ${warmup}s warm-up each"
echo "body: GET /api/pass, 789-byte JSON, Cache-Control: no-store (perfgate-sample-backend --threads 1)"
echo "CPU placement: $placement"
wants perfgate && echo "perfgate: --workers 1, bench/conf/pass.toml (upstream max_connections 64)"
wants nginx && echo "nginx: $("$nginx_bin" -v 2>&1 | sed 's|.*/||'), worker_processes 1, upstream keepalive 64 (bench/peers/nginx-pass.conf)"
echo

if [ "$warmup" -gt 0 ]; then
  for t in "${targets[@]}"; do
    log "warm-up: $t (${warmup}s)"
    run_wrk "${url[$t]}" "$warmup" >/dev/null
  done
fi

for r in $(seq 1 "$rounds"); do
  for t in "${targets[@]}"; do
    log "round $r/$rounds: $t"
    result="$(run_wrk "${url[$t]}" "$duration")"
    read -r rps p50 p99 non2xx errors <<<"$result"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$r,$t,${url[$t]},$connections,$duration,$rps,$p50,$p99,$non2xx,$errors" >>"$csv"
  done
done

# ---------------------------------------------------------------- report
# median TARGET COLUMN: the median of one CSV column over the target's rounds.
median() {
  awk -F, -v t="$1" -v c="$2" 'NR > 1 && $3 == t {print $c}' "$csv" | sort -g |
    awk '{v[NR] = $1} END {if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
column_sum() { awk -F, -v t="$1" -v c="$2" 'NR > 1 && $3 == t {s += $c} END {print s + 0}' "$csv"; }

printf '%-10s %12s %10s %10s   %s\n' target "req/s" "p50 ms" "p99 ms" "req/s per round"
declare -A median_rps
for t in "${targets[@]}"; do
  median_rps[$t]="$(median "$t" 7)"
  per_round="$(awk -F, -v t="$t" 'NR > 1 && $3 == t {printf "%s%.0f", sep, $7; sep = " "}' "$csv")"
  bad=$(( $(column_sum "$t" 10) + $(column_sum "$t" 11) ))
  note=""
  [ "$bad" -gt 0 ] && note="  (!) $bad non-2xx/3xx responses or socket errors"
  printf '%-10s %12.0f %10.3f %10.3f   %s%s\n' "$t" "${median_rps[$t]}" "$(median "$t" 8)" "$(median "$t" 9)" "$per_round" "$note"
done
echo
if wants perfgate && wants nginx; then
  awk -v p="${median_rps[perfgate]}" -v n="${median_rps[nginx]}" \
    'BEGIN {printf "perfgate / nginx (median req/s): %.2fx   (target >= 1.00x)\n", p / n}'
fi
if wants perfgate && wants direct; then
  awk -v p="$(median perfgate 8)" -v d="$(median direct 8)" -v c="$connections" \
    'BEGIN {printf "perfgate p50 - direct p50: %+.3f ms (at %s connections)\n", p - d, c}'
fi
echo "CSV: ${csv#"$root"/}"
