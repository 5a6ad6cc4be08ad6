#!/usr/bin/env bash
# Pass-through benchmark: the sample backend hit directly, through perfgate's uncached route, and
# through nginx with upstream keep-alive; wrk on GET /api/pass (789-byte JSON, no-store).
# Run with --help for the options.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/passthrough.sh [options]

Measures the uncached pass-through cost of perfgate against the backend alone and against nginx
(upstream keepalive 512), all in front of the same perfgate-sample-backend, with wrk on
GET /api/pass (789-byte JSON, Cache-Control: no-store). Rounds are interleaved
(direct perfgate nginx direct perfgate nginx ...); the table shows per-target medians of req/s,
p50 and p99 (wrk --latency) and of the server's CPU per request (the proxy's own user + system
time from /proc over the run divided by its requests; for direct, the backend's), then the
perfgate/nginx ratios. Every round goes to
build-release/bench/passthrough-<timestamp>.csv. It builds perfgate and the sample backend (Release) first.

Options:
  --rounds N         interleaved rounds (default 3)
  --duration S       seconds per wrk run (default 10)
  --connections C    wrk connections, -t1 (default 64)
  --warmup S         seconds of unmeasured load per target before the rounds (default 2)
  --quick            1 round of 3 s, 1 s warm-up
  --targets LIST     comma-separated subset of direct,perfgate,nginx (default: all three)
  --no-build         use the binaries already in build/ instead of (re)building
  --baseline REV     also run perfgate as built from git revision REV (target "baseline", same
                     config and placement), interleaved with the others: a change measured
                     against the commit before it, in one run
  -h, --help         this text

CPU placement (2-core machine): the server under test and the sample backend (--threads 1) run
on CPU 0, wrk -t1 on CPU 1 (taskset). perfgate runs with --workers 1 and nginx with
worker_processes 1. Everything listens on 127.0.0.1 only and is stopped when the script exits.

Environment: BENCH_BACKEND_PORT (18000), BENCH_PERFGATE_PORT (18080), BENCH_ADMIN_PORT (19901),
BENCH_NGINX_PORT (18081), BENCH_BASELINE_PORT (18084), BENCH_BASELINE_ADMIN_PORT (19902);
BENCH_BUILD_DIR (build-release) for the binaries and the CSV.

Needs: cmake and a C++ toolchain, wrk, nginx, taskset; scripts/deps.sh bench installs what is
missing.
EOF
}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- options
rounds=3
duration=10
connections=64
warmup=2
targets_csv="direct,perfgate,nginx"
build=1
baseline_rev=""

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a value}"; shift 2 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --connections) connections="${2:?--connections needs a value}"; shift 2 ;;
    --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
    --quick) rounds=1; duration=3; warmup=1; shift ;;
    --targets) targets_csv="${2:?--targets needs a value}"; shift 2 ;;
    --no-build) build=0; shift ;;
    --baseline) baseline_rev="${2:?--baseline needs a git revision}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

for v in rounds duration connections; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v wants a positive integer, got '${!v}'"
done
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup wants a number of seconds, got '$warmup'"

[ -n "$baseline_rev" ] && targets_csv="$targets_csv,baseline"
IFS=',' read -r -a targets <<< "$targets_csv"
[ ${#targets[@]} -gt 0 ] || die "--targets is empty"
for t in "${targets[@]}"; do
  case "$t" in direct|perfgate|nginx|baseline) ;; *) die "unknown target '$t' (direct, perfgate, nginx)" ;; esac
done
wants() { [[ ",$targets_csv," == *",$1,"* ]]; }

backend_port="${BENCH_BACKEND_PORT:-18000}"
perfgate_port="${BENCH_PERFGATE_PORT:-18080}"
admin_port="${BENCH_ADMIN_PORT:-19901}"
nginx_port="${BENCH_NGINX_PORT:-18081}"
baseline_port="${BENCH_BASELINE_PORT:-18084}"
baseline_admin_port="${BENCH_BASELINE_ADMIN_PORT:-19902}"

bench_init passthrough.sh
build_dir="${BENCH_BUILD_DIR:-build-release}"
perfgate_bin="$root/$build_dir/perfgate"
backend_bin="$root/$build_dir/bench/perfgate-sample-backend"

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
nginx_bin="$(find_bin nginx)"

if [ "$build" -eq 1 ]; then
  build_targets=(perfgate-sample-backend)
  wants perfgate && build_targets+=(perfgate)
  build_release "$root/$build_dir" "${build_targets[@]}"
fi
[ -x "$backend_bin" ] || die "$backend_bin is missing (build it, or drop --no-build)"
if wants perfgate && [ ! -x "$perfgate_bin" ]; then
  die "$perfgate_bin is missing; build perfgate first, or run without it: --targets direct,nginx"
fi
[ -n "$baseline_rev" ] && build_baseline "$baseline_rev" "$root/$build_dir"

ports=("$backend_port" "$perfgate_port" "$admin_port" "$nginx_port")
wants baseline && ports+=("$baseline_port" "$baseline_admin_port")
check_ports "${ports[@]}"

# ---------------------------------------------------------------- start the servers
start_sample_backend "$backend_bin" "$backend_port"
declare -A url pid_of
pid_of[direct]="$spawned_pid"
check_target "sample backend" "http://127.0.0.1:$backend_port/api/pass"
url[direct]="http://127.0.0.1:$backend_port/api/pass"

if wants perfgate; then
  start_perfgate "$perfgate_bin" "$root/bench/conf/pass.toml" "$perfgate_port" "$admin_port" "127.0.0.1:$backend_port"
  pid_of[perfgate]="$spawned_pid"
  url[perfgate]="http://127.0.0.1:$perfgate_port/api/pass"
  check_target perfgate "${url[perfgate]}"
fi

if wants baseline; then
  start_perfgate "$baseline_bin" "$root/bench/conf/pass.toml" "$baseline_port" "$baseline_admin_port" "127.0.0.1:$backend_port"
  pid_of[baseline]="$spawned_pid"
  url[baseline]="http://127.0.0.1:$baseline_port/api/pass"
  check_target baseline "${url[baseline]}"
fi

if wants nginx; then
  start_nginx "$nginx_bin" "$root/bench/peers/nginx-pass.conf" "$nginx_port" "127.0.0.1:$backend_port"
  pid_of[nginx]="$spawned_pid"
  url[nginx]="http://127.0.0.1:$nginx_port/api/pass"
  check_target nginx "${url[nginx]}"
fi

# ---------------------------------------------------------------- load
# run_wrk URL SECONDS: prints "req_per_s p50_ms p99_ms non2xx socket_errors".
run_wrk() {
  local out requests rps p50 p90 p99 non2xx errors
  out="$(wrk_run "$2" "$connections" "$1")" || exit 1
  read -r requests rps p50 p90 p99 non2xx errors <<<"$out"
  echo "$requests $rps $p50 $p99 $non2xx $errors"
}

mkdir -p "$root/$build_dir/bench"
stamp="$(date +%Y%m%d-%H%M%S)"
csv="$root/$build_dir/bench/passthrough-$stamp.csv"
echo "timestamp,round,target,url,connections,duration_s,requests_per_s,p50_ms,p99_ms,non_2xx_3xx,socket_errors,cpu_us_per_request" >"$csv"

echo
echo "perfgate pass-through benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs"
echo "load: wrk -t1 -c$connections, $rounds round(s) x ${duration}s interleaved (${targets[*]}), ${warmup}s warm-up each"
echo "body: GET /api/pass, 789-byte JSON, Cache-Control: no-store (perfgate-sample-backend --threads 1)"
echo "CPU placement: $placement"
wants perfgate && echo "perfgate: --workers 1, bench/conf/pass.toml (upstream max_connections 512, cache = false on the route)"
wants baseline && echo "baseline: perfgate at $baseline_label, same config and placement"
wants nginx && echo "nginx: $(nginx_version "$nginx_bin"), worker_processes 1, upstream keepalive 512 (bench/peers/nginx-pass.conf)"
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
    cpu_before="$(cpu_ticks "${pid_of[$t]}")"
    result="$(run_wrk "${url[$t]}" "$duration")"
    cpu_after="$(cpu_ticks "${pid_of[$t]}")"
    read -r requests rps p50 p99 non2xx errors <<<"$result"
    cpu_us="$(cpu_us_per_request $(( cpu_after - cpu_before )) "$requests")"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$r,$t,${url[$t]},$connections,$duration,$rps,$p50,$p99,$non2xx,$errors,$cpu_us" >>"$csv"
  done
done

# ---------------------------------------------------------------- report
# median TARGET COLUMN: the median of one CSV column over the target's rounds.
column_median() { awk -F, -v t="$1" -v c="$2" 'NR > 1 && $3 == t {print $c}' "$csv" | median; }
column_sum() { awk -F, -v t="$1" -v c="$2" 'NR > 1 && $3 == t {s += $c} END {print s + 0}' "$csv"; }

printf '%-10s %12s %10s %10s %11s   %s\n' target "req/s" "p50 ms" "p99 ms" "CPU us/req" "req/s per round"
declare -A median_rps median_cpu
for t in "${targets[@]}"; do
  median_rps[$t]="$(column_median "$t" 7)"
  per_round="$(awk -F, -v t="$t" 'NR > 1 && $3 == t {printf "%s%.0f", sep, $7; sep = " "}' "$csv")"
  bad=$(( $(column_sum "$t" 10) + $(column_sum "$t" 11) ))
  note=""
  [ "$bad" -gt 0 ] && note="  (!) $bad non-2xx/3xx responses or socket errors"
  median_cpu[$t]="$(column_median "$t" 12)"
  printf '%-10s %12.0f %10.3f %10.3f %11.2f   %s%s\n' "$t" "${median_rps[$t]}" "$(column_median "$t" 8)" "$(column_median "$t" 9)" \
    "${median_cpu[$t]}" "$per_round" "$note"
done
echo
if wants perfgate && wants nginx; then
  awk -v p="${median_rps[perfgate]}" -v n="${median_rps[nginx]}" \
    'BEGIN {printf "perfgate / nginx (median req/s): %.2fx   (target >= 1.10x: %s)\n", p / n, (p / n >= 1.1 ? "met" : "NOT met")}'
  awk -v p="${median_cpu[perfgate]}" -v n="${median_cpu[nginx]}" \
    'BEGIN {printf "server CPU per request (the proxy alone, not the backend): perfgate %.2f us, nginx %.2f us: nginx / perfgate %.2fx\n", p, n, (p > 0 ? n / p : 0)}'
fi
if wants perfgate && wants baseline; then
  awk -v p="${median_rps[perfgate]}" -v b="${median_rps[baseline]}" \
    'BEGIN {printf "perfgate / baseline (median req/s): %.3fx\n", p / b}'
fi
if wants perfgate && wants direct; then
  awk -v p="$(column_median perfgate 8)" -v d="$(column_median direct 8)" -v c="$connections" \
    'BEGIN {printf "perfgate p50 - direct p50: %+.3f ms (at %s connections)\n", p - d, c}'
fi
echo "CSV: ${csv#"$root"/}"
