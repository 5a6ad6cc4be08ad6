#!/usr/bin/env bash
# Pass-through benchmark: the sample backend hit directly, through perfgate's uncached route and
# in drop-in mode, through nginx with upstream keep-alive (bare, and sending the forwarding fields
# perfgate sends), and through the minimal relays that give the machine's limit for the load
# (epoll and io_uring); wrk on GET /api/pass (789-byte JSON, no-store).
# Run with --help for the options.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/passthrough.sh [options]

Measures the uncached pass-through cost of perfgate against the backend alone, against nginx
(upstream keepalive 512) and against the machine's own limit for the load, all in front of the
same perfgate-sample-backend, with wrk on GET /api/pass (789-byte JSON, Cache-Control: no-store).
The limit is two minimal relays of ours, each one thread with one keep-alive backend connection
per client connection, relaying bytes as they come without parsing them (one receive and one send
per direction and request, what any proxy must at least do):
  ceiling        bench/ceiling/ceiling_proxy.c, epoll, one system call per receive and send
  ceiling-uring  bench/ceiling/ceiling_proxy_uring.c, the same on io_uring, the operations of
                 every connection ready at once submitted together in one io_uring_enter
perfgate runs twice: "perfgate" with bench/conf/pass.toml (a route with cache = false) and
"perfgate-dropin" in drop-in mode (--upstream, no config file: the route caches, and the backend's
no-store answer is learned as hit-for-miss, so later requests go to the backend with no cache
work). perfgate adds X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, Via and X-Request-Id
to every request it forwards (and Via and X-Request-Id to the answer); "nginx" is configured
without any of them, "nginx-fwd" is the same nginx made to send the same fields (the like-for-like
pair; the backend parses five more fields behind both).
A perfgate-sendmsg target (not in the default set) is perfgate with `[server] io_uring = false`:
the same send batch, made of one sendmsg per connection instead of one io_uring_enter.
Rounds are interleaved (direct perfgate perfgate-dropin nginx nginx-fwd ceiling ceiling-uring
direct ...); the table shows per-target medians of req/s, p50 and p99 (wrk --latency), of the
server's CPU per request (the proxy's own user + system time from /proc over the run divided by
its requests; for direct, the backend's) and of the backend's CPU per request behind that proxy
(both share CPU 0, so together they set the rate), then the ratios. Every round goes to
build-release/bench/passthrough-<timestamp>.csv. It builds perfgate and the sample backend
(Release) first.

Options:
  --rounds N         interleaved rounds (default 3)
  --duration S       seconds per wrk run (default 10)
  --connections C    wrk connections, -t1 (default 64)
  --warmup S         seconds of unmeasured load per target before the rounds (default 2)
  --quick            1 round of 3 s, 1 s warm-up
  --targets LIST     comma-separated subset of direct,perfgate,perfgate-dropin,perfgate-sendmsg,
                     nginx,nginx-fwd,ceiling,ceiling-uring (default: all but perfgate-sendmsg)
  --backend KIND     sample (default): perfgate-sample-backend --threads 1; minimal: the
                     minimal epoll server of bench/ceiling/ceiling_server.c replaying a
                     byte-for-byte copy of the sample backend's /api/pass answer (one recv and
                     one send per request), so that the backend's share of CPU 0 is the least
                     any backend's can be and the proxies' own costs weigh more in the rate
  --no-build         use the binaries already in build/ instead of (re)building
  --baseline REV     also run perfgate as built from git revision REV (target "baseline", same
                     config and placement), interleaved with the others: a change measured
                     against the commit before it, in one run
  -h, --help         this text

CPU placement (2-core machine): the server under test and the sample backend (--threads 1) run
on CPU 0, wrk -t1 on CPU 1 (taskset). perfgate runs with --workers 1, nginx with
worker_processes 1; the relays are single-threaded. Everything listens on 127.0.0.1 only and is stopped when the script exits.

Environment: BENCH_BACKEND_PORT (18000), BENCH_PERFGATE_PORT (18080), BENCH_ADMIN_PORT (19901),
BENCH_NGINX_PORT (18081), BENCH_BASELINE_PORT (18084), BENCH_BASELINE_ADMIN_PORT (19902),
BENCH_DROPIN_PORT (18088), BENCH_DROPIN_ADMIN_PORT (19904), BENCH_NGINX_FWD_PORT (18089);
BENCH_BUILD_DIR (build-release) for the binaries and the CSV.

Needs: cmake and a C++ toolchain, wrk, nginx, taskset, liburing (ceiling-uring); scripts/deps.sh
bench installs what is missing.
EOF
}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- options
rounds=3
duration=10
connections=64
warmup=2
targets_csv="direct,perfgate,perfgate-dropin,nginx,nginx-fwd,ceiling,ceiling-uring"
build=1
baseline_rev=""
backend_kind=sample

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
    --backend) backend_kind="${2:?--backend needs sample or minimal}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

for v in rounds duration connections; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v wants a positive integer, got '${!v}'"
done
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup wants a number of seconds, got '$warmup'"
case "$backend_kind" in sample|minimal) ;; *) die "--backend is sample or minimal, got '$backend_kind'" ;; esac

[ -n "$baseline_rev" ] && targets_csv="$targets_csv,baseline"
IFS=',' read -r -a targets <<< "$targets_csv"
[ ${#targets[@]} -gt 0 ] || die "--targets is empty"
for t in "${targets[@]}"; do
  case "$t" in direct|perfgate|perfgate-dropin|perfgate-sendmsg|nginx|nginx-fwd|ceiling|ceiling-uring|baseline) ;;
    *) die "unknown target '$t' (direct, perfgate, perfgate-dropin, perfgate-sendmsg, nginx, nginx-fwd, ceiling, ceiling-uring)" ;; esac
done
wants() { [[ ",$targets_csv," == *",$1,"* ]]; }
wants_perfgate_binary() { wants perfgate || wants perfgate-dropin || wants perfgate-sendmsg; }

backend_port="${BENCH_BACKEND_PORT:-18000}"
perfgate_port="${BENCH_PERFGATE_PORT:-18080}"
admin_port="${BENCH_ADMIN_PORT:-19901}"
nginx_port="${BENCH_NGINX_PORT:-18081}"
baseline_port="${BENCH_BASELINE_PORT:-18084}"
baseline_admin_port="${BENCH_BASELINE_ADMIN_PORT:-19902}"
ceiling_port="${BENCH_CEILING_PORT:-18085}"
ceiling_uring_port="${BENCH_CEILING_URING_PORT:-18086}"
sendmsg_port="${BENCH_SENDMSG_PORT:-18087}"
sendmsg_admin_port="${BENCH_SENDMSG_ADMIN_PORT:-19903}"
dropin_port="${BENCH_DROPIN_PORT:-18088}"
dropin_admin_port="${BENCH_DROPIN_ADMIN_PORT:-19904}"
nginx_fwd_port="${BENCH_NGINX_FWD_PORT:-18089}"
capture_port="${BENCH_CAPTURE_PORT:-18009}"

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
if wants nginx || wants nginx-fwd; then
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx is not installed (scripts/deps.sh bench)"
fi
nginx_bin="$(find_bin nginx)"

if [ "$build" -eq 1 ]; then
  build_targets=(perfgate-sample-backend)
  wants_perfgate_binary && build_targets+=(perfgate)
  build_release "$root/$build_dir" "${build_targets[@]}"
fi
[ -x "$backend_bin" ] || die "$backend_bin is missing (build it, or drop --no-build)"
if wants_perfgate_binary && [ ! -x "$perfgate_bin" ]; then
  die "$perfgate_bin is missing; build perfgate first, or run without it: --targets direct,nginx"
fi
[ -n "$baseline_rev" ] && build_baseline "$baseline_rev" "$root/$build_dir"
mkdir -p "$root/$build_dir/bench"
if wants ceiling; then
  cc -O2 -Wall -Wextra -o "$root/$build_dir/bench/perfgate-ceiling-proxy" "$root/bench/ceiling/ceiling_proxy.c" \
    || die "the epoll relay does not compile"
fi
if wants ceiling-uring; then
  cc -O2 -Wall -Wextra -o "$root/$build_dir/bench/perfgate-ceiling-proxy-uring" "$root/bench/ceiling/ceiling_proxy_uring.c" -luring \
    || die "the io_uring relay does not compile (liburing-dev: scripts/deps.sh bench)"
fi
if [ "$backend_kind" = minimal ]; then
  cc -O2 -Wall -Wextra -o "$root/$build_dir/bench/perfgate-ceiling-server" "$root/bench/ceiling/ceiling_server.c" \
    || die "the minimal server does not compile"
fi

ports=("$backend_port" "$perfgate_port" "$admin_port" "$nginx_port")
wants baseline && ports+=("$baseline_port" "$baseline_admin_port")
wants perfgate-sendmsg && ports+=("$sendmsg_port" "$sendmsg_admin_port")
wants perfgate-dropin && ports+=("$dropin_port" "$dropin_admin_port")
wants nginx-fwd && ports+=("$nginx_fwd_port")
[ "$backend_kind" = minimal ] && ports+=("$capture_port")
wants ceiling && ports+=("$ceiling_port")
wants ceiling-uring && ports+=("$ceiling_uring_port")
check_ports "${ports[@]}"

# ---------------------------------------------------------------- start the servers
declare -A url pid_of
if [ "$backend_kind" = minimal ]; then
  # The sample backend's answer, captured once, replayed by the minimal server for every request.
  start_sample_backend "$backend_bin" "$capture_port"
  check_target "sample backend" "http://127.0.0.1:$capture_port/api/pass"
  curl -sS --raw -i "http://127.0.0.1:$capture_port/api/pass" >"$run_dir/pass.http" || die "cannot capture /api/pass"
  log "starting the minimal server on 127.0.0.1:$backend_port ($(wc -c <"$run_dir/pass.http") bytes per answer)"
  bench_spawn "minimal server" "$run_dir/minimal.log" "ceiling ready" "$backend_port" \
    "$root/$build_dir/bench/perfgate-ceiling-server" "$backend_port" "$run_dir/pass.http"
else
  start_sample_backend "$backend_bin" "$backend_port"
fi
pid_of[direct]="$spawned_pid"
check_target "backend" "http://127.0.0.1:$backend_port/api/pass"
url[direct]="http://127.0.0.1:$backend_port/api/pass"

if wants perfgate; then
  start_perfgate "$perfgate_bin" "$root/bench/conf/pass.toml" "$perfgate_port" "$admin_port" "127.0.0.1:$backend_port"
  pid_of[perfgate]="$spawned_pid"
  url[perfgate]="http://127.0.0.1:$perfgate_port/api/pass"
  check_target perfgate "${url[perfgate]}"
fi

if wants perfgate-dropin; then
  # Drop-in mode: no config file, the defaults (one route, /, which caches: the backend's no-store
  # answer is learned as hit-for-miss and later requests go straight to the backend).
  log "starting perfgate (drop-in) on 127.0.0.1:$dropin_port (admin $dropin_admin_port)"
  bench_spawn "perfgate (drop-in)" "$run_dir/perfgate-dropin.log" "perfgate ready:" "$dropin_port" "$perfgate_bin" \
    --upstream "http://127.0.0.1:$backend_port" --listen "127.0.0.1:$dropin_port" --admin "127.0.0.1:$dropin_admin_port" --workers 1
  pid_of[perfgate-dropin]="$spawned_pid"
  url[perfgate-dropin]="http://127.0.0.1:$dropin_port/api/pass"
  check_target "perfgate (drop-in)" "${url[perfgate-dropin]}"
fi

if wants perfgate-sendmsg; then
  sed '/^\[server\]/a io_uring = false' "$root/bench/conf/pass.toml" >"$run_dir/pass-sendmsg.toml"
  start_perfgate "$perfgate_bin" "$run_dir/pass-sendmsg.toml" "$sendmsg_port" "$sendmsg_admin_port" "127.0.0.1:$backend_port"
  pid_of[perfgate-sendmsg]="$spawned_pid"
  url[perfgate-sendmsg]="http://127.0.0.1:$sendmsg_port/api/pass"
  check_target perfgate-sendmsg "${url[perfgate-sendmsg]}"
fi

if wants baseline; then
  start_perfgate "$baseline_bin" "$root/bench/conf/pass.toml" "$baseline_port" "$baseline_admin_port" "127.0.0.1:$backend_port"
  pid_of[baseline]="$spawned_pid"
  url[baseline]="http://127.0.0.1:$baseline_port/api/pass"
  check_target baseline "${url[baseline]}"
fi

if wants nginx; then
  start_nginx "$nginx_bin" "$root/bench/peers/nginx-pass.conf" "$nginx_port" "127.0.0.1:$backend_port" -e "s|@FORWARDING@||"
  pid_of[nginx]="$spawned_pid"
  url[nginx]="http://127.0.0.1:$nginx_port/api/pass"
  check_target nginx "${url[nginx]}"
fi

if wants nginx-fwd; then
  # The fields perfgate adds to every request by default, made by nginx.
  forwarding='proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto $scheme;'
  forwarding+=' proxy_set_header X-Forwarded-Host $http_host; proxy_set_header Via "1.1 nginx";'
  forwarding+=' proxy_set_header X-Request-Id $request_id; add_header X-Request-Id $request_id; add_header Via "1.1 nginx";'
  start_nginx "$nginx_bin" "$root/bench/peers/nginx-pass.conf" "$nginx_fwd_port" "127.0.0.1:$backend_port" \
    -e "s|@FORWARDING@|$forwarding|"
  pid_of[nginx-fwd]="$spawned_pid"
  url[nginx-fwd]="http://127.0.0.1:$nginx_fwd_port/api/pass"
  check_target nginx-fwd "${url[nginx-fwd]}"
fi

if wants ceiling; then
  log "starting the epoll relay on 127.0.0.1:$ceiling_port"
  bench_spawn "epoll relay" "$run_dir/ceiling.log" "ceiling proxy ready" "$ceiling_port" \
    "$root/$build_dir/bench/perfgate-ceiling-proxy" "$ceiling_port" "$backend_port"
  pid_of[ceiling]="$spawned_pid"
  url[ceiling]="http://127.0.0.1:$ceiling_port/api/pass"
  check_target "epoll relay" "${url[ceiling]}"
fi

if wants ceiling-uring; then
  log "starting the io_uring relay on 127.0.0.1:$ceiling_uring_port"
  bench_spawn "io_uring relay" "$run_dir/ceiling-uring.log" "ceiling proxy ready" "$ceiling_uring_port" \
    "$root/$build_dir/bench/perfgate-ceiling-proxy-uring" "$ceiling_uring_port" "$backend_port"
  pid_of[ceiling-uring]="$spawned_pid"
  url[ceiling-uring]="http://127.0.0.1:$ceiling_uring_port/api/pass"
  check_target "io_uring relay" "${url[ceiling-uring]}"
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
echo "timestamp,round,target,url,connections,duration_s,requests_per_s,p50_ms,p99_ms,non_2xx_3xx,socket_errors,cpu_us_per_request,backend_cpu_us_per_request" >"$csv"

echo
echo "perfgate pass-through benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs"
echo "load: wrk -t1 -c$connections, $rounds round(s) x ${duration}s interleaved (${targets[*]}), ${warmup}s warm-up each"
backend_label="perfgate-sample-backend --threads 1"
[ "$backend_kind" = minimal ] && backend_label="the minimal server replaying the sample backend's answer"
echo "body: GET /api/pass, 789-byte JSON, Cache-Control: no-store ($backend_label)"
echo "CPU placement: $placement"
wants perfgate && echo "perfgate: --workers 1, bench/conf/pass.toml (upstream max_connections 512, cache = false on the route)"
wants perfgate-dropin && echo "perfgate-dropin: perfgate --upstream URL --workers 1, no config file (drop-in: the route caches; the no-store answer is hit-for-miss)"
wants perfgate-sendmsg && echo "perfgate-sendmsg: perfgate with [server] io_uring = false, same config and placement otherwise"
wants baseline && echo "baseline: perfgate at $baseline_label, same config and placement"
wants nginx && echo "nginx: $(nginx_version "$nginx_bin"), worker_processes 1, upstream keepalive 512 (bench/peers/nginx-pass.conf)"
wants nginx-fwd && echo "nginx-fwd: nginx as above, also sending the fields perfgate adds by default (X-Forwarded-For/-Proto/-Host, Via, X-Request-Id; X-Request-Id and Via to the client)"
wants ceiling && echo "ceiling: the epoll relay (bench/ceiling/ceiling_proxy.c), one backend connection per client connection"
wants ceiling-uring && echo "ceiling-uring: the io_uring relay (bench/ceiling/ceiling_proxy_uring.c), $(grep -o '(io_uring[^)]*)' "$run_dir/ceiling-uring.log" | head -1)"
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
    backend_before="$(cpu_ticks "${pid_of[direct]}")"
    result="$(run_wrk "${url[$t]}" "$duration")"
    cpu_after="$(cpu_ticks "${pid_of[$t]}")"
    backend_after="$(cpu_ticks "${pid_of[direct]}")"
    read -r requests rps p50 p99 non2xx errors <<<"$result"
    cpu_us="$(cpu_us_per_request $(( cpu_after - cpu_before )) "$requests")"
    backend_us="$(cpu_us_per_request $(( backend_after - backend_before )) "$requests")"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$r,$t,${url[$t]},$connections,$duration,$rps,$p50,$p99,$non2xx,$errors,$cpu_us,$backend_us" >>"$csv"
  done
done

# ---------------------------------------------------------------- report
# median TARGET COLUMN: the median of one CSV column over the target's rounds.
column_median() { awk -F, -v t="$1" -v c="$2" 'NR > 1 && $3 == t {print $c}' "$csv" | median; }
column_sum() { awk -F, -v t="$1" -v c="$2" 'NR > 1 && $3 == t {s += $c} END {print s + 0}' "$csv"; }

printf '%-16s %12s %10s %10s %11s %11s   %s\n' target "req/s" "p50 ms" "p99 ms" "CPU us/req" "backend us" "req/s per round"
declare -A median_rps median_cpu
for t in "${targets[@]}"; do
  median_rps[$t]="$(column_median "$t" 7)"
  per_round="$(awk -F, -v t="$t" 'NR > 1 && $3 == t {printf "%s%.0f", sep, $7; sep = " "}' "$csv")"
  bad=$(( $(column_sum "$t" 10) + $(column_sum "$t" 11) ))
  note=""
  [ "$bad" -gt 0 ] && note="  (!) $bad non-2xx/3xx responses or socket errors"
  median_cpu[$t]="$(column_median "$t" 12)"
  printf '%-16s %12.0f %10.3f %10.3f %11.2f %11.2f   %s%s\n' "$t" "${median_rps[$t]}" "$(column_median "$t" 8)" "$(column_median "$t" 9)" \
    "${median_cpu[$t]}" "$(column_median "$t" 13)" "$per_round" "$note"
done
echo
for p in perfgate perfgate-dropin; do
  for n in nginx nginx-fwd; do
    wants "$p" && wants "$n" || continue
    awk -v pn="$p" -v nn="$n" -v p="${median_rps[$p]}" -v n="${median_rps[$n]}" \
      'BEGIN {printf "%s / %s (median req/s): %.2fx   (target >= 1.10x: %s)\n", pn, nn, p / n, (p / n >= 1.1 ? "met" : "NOT met")}'
  done
done
if wants perfgate && wants nginx; then
  awk -v p="${median_cpu[perfgate]}" -v n="${median_cpu[nginx]}" \
    'BEGIN {printf "server CPU per request (the proxy alone, not the backend): perfgate %.2f us, nginx %.2f us: nginx / perfgate %.2fx\n", p, n, (p > 0 ? n / p : 0)}'
fi
for limit in ceiling ceiling-uring; do
  wants "$limit" || continue
  for t in perfgate nginx; do
    wants "$t" || continue
    awk -v t="$t" -v l="$limit" -v a="${median_rps[$t]}" -v b="${median_rps[$limit]}" -v ca="${median_cpu[$t]}" -v cb="${median_cpu[$limit]}" \
      'BEGIN {printf "%s / %s: %.2fx req/s, %.2fx CPU per request\n", t, l, a / b, (cb > 0 ? ca / cb : 0)}'
  done
  if wants nginx; then
    awk -v l="$limit" -v a="${median_rps[$limit]}" -v n="${median_rps[nginx]}" \
      'BEGIN {printf "%s / nginx: %.2fx (what a proxy making at least the relay system calls can reach over nginx here)\n", l, a / n}'
  fi
done
if wants perfgate && wants perfgate-sendmsg; then
  awk -v p="${median_rps[perfgate]}" -v b="${median_rps[perfgate-sendmsg]}" \
    'BEGIN {printf "perfgate / perfgate-sendmsg (median req/s): %.3fx\n", p / b}'
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
