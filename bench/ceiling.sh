#!/usr/bin/env bash
# The machine's own limit for a cache-hit load, beside perfgate's hit: a minimal epoll server of
# ours (bench/ceiling/ceiling_server.c) answering a pre-serialized copy of perfgate's own hit
# response (same head, same 789-byte JSON body), nginx answering the same body with `return 200`,
# and perfgate's cache hit, in interleaved rounds. Run with --help for the options.
set -euo pipefail

usage() {
  cat <<'EOF_USAGE'
Usage: bench/ceiling.sh [options]

GET /api/small (789-byte JSON) with wrk -t1 and keep-alive against:
  ceiling   bench/ceiling/ceiling_server.c: one thread, epoll, one recv and one send per request,
            the response serialized once (a byte-for-byte copy of perfgate's HIT answer)
  nginx     worker_processes 1, `return 200` of the same body (no proxying, no cache)
  perfgate  --workers 1, bench/conf/hits.toml, the object cached (checked: X-Cache HIT)
Rounds are interleaved (ceiling nginx perfgate ceiling ...); the table shows per-target medians of
req/s, p50, p99 and server CPU per request (user + system time of the server's processes over the
run, from /proc, divided by the requests), and the ratios to the ceiling. On two cores one wrk
thread may be what limits req/s for all three; CPU per request then still tells them apart. Every run goes to
build-release/bench/ceiling-<timestamp>.csv. Builds perfgate and the sample backend (Release) and
compiles the ceiling server with cc -O2 first.

Options:
  --rounds N         interleaved rounds (default 5)
  --duration S       seconds per wrk run (default 8)
  --connections C    wrk connections, -t1 (default 64)
  --no-build         use the binaries already in the build directory

CPU placement (2-core machine): every server (and the sample backend) on CPU 0, wrk on CPU 1.
Environment: BENCH_BUILD_DIR (build-release). Ports are picked free in 20000-31999.
EOF_USAGE
}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=5
duration=8
connections=64
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a value}"; shift 2 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --connections) connections="${2:?--connections needs a value}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
for v in rounds duration connections; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v wants a positive integer, got '${!v}'"
done

bench_init ceiling
command -v wrk >/dev/null || die "wrk is not installed (scripts/deps.sh bench)"
command -v cc >/dev/null || die "no C compiler (cc)"
nginx_bin="$(find_bin nginx)"
[ -n "$nginx_bin" ] || die "nginx is not installed (scripts/deps.sh bench)"
build_dir="$root/${BENCH_BUILD_DIR:-build-release}"
[ "$build" -eq 1 ] && build_release "$build_dir" perfgate perfgate-sample-backend
mkdir -p "$build_dir/bench"
ceiling_bin="$build_dir/bench/perfgate-ceiling"
cc -O2 -Wall -Wextra -o "$ceiling_bin" "$root/bench/ceiling/ceiling_server.c" || die "the ceiling server does not compile"

backend_port="$(free_port)"
perfgate_port="$(free_port)"
admin_port="$(free_port)"
nginx_port="$(free_port)"
ceiling_port="$(free_port)"
start_sample_backend "$build_dir/bench/perfgate-sample-backend" "$backend_port"
start_perfgate "$build_dir/perfgate" "$root/bench/conf/hits.toml" "$perfgate_port" "$admin_port" "127.0.0.1:$backend_port"

# perfgate's hit, byte for byte: what the ceiling server replays and whose body nginx returns.
url="http://127.0.0.1:$perfgate_port/api/small"
curl -sS -o /dev/null "$url"
curl -sS --raw -i "$url" >"$run_dir/hit.http"
grep -qi '^X-Cache: HIT' "$run_dir/hit.http" || die "perfgate did not answer /api/small from its cache: $(head -c 300 "$run_dir/hit.http")"
body="$(curl -sS "$url")"
[ "${#body}" -eq 789 ] || die "expected a 789-byte body, got ${#body}"
case "$body" in *"'"*|*'$'*|*'\'*) die "the body holds a quote, \$ or backslash: nginx's return string would change it" ;; esac

perfgate_pid="$spawned_pid"

log "starting the ceiling server on 127.0.0.1:$ceiling_port ($(wc -c <"$run_dir/hit.http")-byte response)"
bench_spawn ceiling "$run_dir/ceiling.log" "ceiling ready" "$ceiling_port" "$ceiling_bin" "$ceiling_port" "$run_dir/hit.http"
ceiling_pid="$spawned_pid"

mkdir -p "$run_dir/nginx"
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$run_dir/nginx/nginx.conf" <<EOF_NGINX
$user_line
worker_processes 1;
error_log $run_dir/nginx/error.log warn;
pid $run_dir/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port reuseport;
    location = /api/small { default_type application/json; return 200 '$body'; }
  }
}
EOF_NGINX
log "starting nginx (return 200) on 127.0.0.1:$nginx_port"
bench_spawn nginx "$run_dir/nginx/stdout.log" "" "$nginx_port" "$nginx_bin" -c "$run_dir/nginx/nginx.conf" -p "$run_dir/nginx" -g 'daemon off;'
nginx_pid="$spawned_pid"
[ "$(curl -sS "http://127.0.0.1:$nginx_port/api/small")" = "$body" ] || die "nginx does not return the same body"
[ "$(curl -sS "http://127.0.0.1:$ceiling_port/api/small")" = "$body" ] || die "the ceiling server does not answer the same body"

declare -A port_of=([ceiling]=$ceiling_port [nginx]=$nginx_port [perfgate]=$perfgate_port)
declare -A pid_of=([ceiling]=$ceiling_pid [nginx]=$nginx_pid [perfgate]=$perfgate_pid)
targets=(ceiling nginx perfgate)
csv="$build_dir/bench/ceiling-$(date -u +%Y%m%dT%H%M%SZ).csv"
echo "round,target,requests,req_per_s,p50_ms,p90_ms,p99_ms,non2xx,socket_errors,load1,cpu_us_per_request" >"$csv"
log "warming up (2 s each)"
for t in "${targets[@]}"; do wrk_run 2 "$connections" "http://127.0.0.1:${port_of[$t]}/api/small" >/dev/null; done
for r in $(seq 1 "$rounds"); do
  for t in "${targets[@]}"; do
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    before="$(cpu_ticks "${pid_of[$t]}")"
    read -r requests rps p50 p90 p99 non2xx errors <<<"$(wrk_run "$duration" "$connections" "http://127.0.0.1:${port_of[$t]}/api/small")"
    after="$(cpu_ticks "${pid_of[$t]}")"
    [ "$non2xx" = 0 ] && [ "$errors" = 0 ] || die "$t answered $non2xx non-2xx responses and $errors socket errors in round $r"
    cpu_us="$(cpu_us_per_request $(( after - before )) "$requests")"
    echo "$r,$t,$requests,$rps,$p50,$p90,$p99,$non2xx,$errors,$load1,$cpu_us" >>"$csv"
    log "round $r $t: $rps req/s, p50 $p50 ms, p99 $p99 ms, $cpu_us us CPU per request (load $load1)"
  done
done

col() { awk -F, -v t="$1" -v c="$2" 'NR > 1 && $2 == t {print $c}' "$csv" | median; }
ceiling_rps="$(col ceiling 4)"
echo
echo "GET /api/small, wrk -t1 -c$connections, $rounds interleaved rounds of ${duration}s, medians; $placement"
ceiling_cpu="$(col ceiling 11)"
printf '%-9s %12s %9s %9s %12s %14s %12s\n' target "req/s" "p50 ms" "p99 ms" "/ ceiling" "CPU us/req" "/ ceiling"
for t in "${targets[@]}"; do
  rps="$(col "$t" 4)"
  cpu="$(col "$t" 11)"
  printf '%-9s %12.0f %9.3f %9.3f %11.2fx %14.2f %11.2fx\n' "$t" "$rps" "$(col "$t" 5)" "$(col "$t" 7)" \
    "$(awk -v a="$rps" -v b="$ceiling_rps" 'BEGIN {print a / b}')" "$cpu" \
    "$(awk -v a="$cpu" -v b="$ceiling_cpu" 'BEGIN {print a / b}')"
done
echo "load average (1 min) during the rounds: $(awk -F, 'NR > 1 {print $10}' "$csv" | median) (median)"
echo "raw runs: $csv"
