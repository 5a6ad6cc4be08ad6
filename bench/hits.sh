#!/usr/bin/env bash
# Cache-hit benchmark: perfgate's cache against HAProxy's cache, nginx proxy_cache and Varnish, all
# in front of the same sample backend (and the backend alone as a reference), in one run.
# Run with --help for the options.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/hits.sh [options]

Measures cache hits: perfgate against HAProxy's cache, nginx proxy_cache (on tmpfs) and Varnish
(malloc storage), all in front of the same perfgate-sample-backend, plus the backend alone as a
reference. Scenarios (wrk -t1, keep-alive):
  small  GET /api/small: 789-byte JSON, Cache-Control: public, max-age=60
  gzip   GET /page with Accept-Encoding: gzip: 20 KB HTML, max-age=60. HAProxy (compression
         filter) and nginx (gzip on) compress on every hit; Varnish (beresp.do_gzip) and
         perfgate ([compression], on by default) store the object gzipped once. The table shows what each target actually sent (encoding and
         bytes per response): a target that answers identity is not compared like for like.
Each cache is warmed and checked before the rounds: one request stores the object, the next must
say HIT (perfgate: X-Cache, peers: X-Cache-Status set by bench/peers/*), and the warm-up run must
not add a single request to the backend's /__stats counter. Rounds are interleaved (direct
perfgate haproxy nginx varnish direct ... per scenario); the table shows per-target medians of
req/s, p50 and p99 (wrk --latency) and the backend requests during the measured runs, then the
perfgate/peer ratios. Every run goes to build-release/bench/hits-<timestamp>.csv. It builds
perfgate and the sample backend (Release) first.

Options:
  --rounds N         interleaved rounds (default 3)
  --duration S       seconds per wrk run (default 10)
  --connections C    wrk connections, -t1 (default 64)
  --warmup S         seconds of warm-up (and hit check) per target and scenario (default 2;
                     at least 1 s is always run, for the check)
  --quick            1 round of 3 s, 1 s warm-up
  --targets LIST     comma-separated subset of direct,perfgate,haproxy,nginx,varnish (default all)
  --scenarios LIST   comma-separated subset of small,gzip (default both)
  --no-build         use the binaries already in the build directory instead of (re)building
  -h, --help         this text

CPU placement (2-core machine): the servers under test and the sample backend (--threads 1) run
on CPU 0, wrk -t1 on CPU 1 (taskset). One worker each: perfgate --workers 1, HAProxy nbthread 1,
nginx worker_processes 1, Varnish one thread pool (Varnish needs a thread per request in
progress, so its pool is sized to the connections; taskset keeps it on one core). Everything
listens on 127.0.0.1 only and is stopped when the script exits. nginx's cache and Varnish's
working directory are on /dev/shm (tmpfs) when it is writable.

Environment: BENCH_BACKEND_PORT (18100), BENCH_PERFGATE_PORT (18180), BENCH_ADMIN_PORT (19911),
BENCH_HAPROXY_PORT (18182), BENCH_NGINX_PORT (18181), BENCH_VARNISH_PORT (18183);
BENCH_BUILD_DIR (build-release) for the binaries and the CSV.

Needs: cmake and a C++ toolchain, wrk, haproxy, nginx, varnishd (and a C compiler for its VCL),
curl, gzip, taskset; scripts/deps.sh bench installs what is missing.
EOF
}

die() { echo "hits.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

# ---------------------------------------------------------------- options
rounds=3
duration=10
connections=64
warmup=2
targets_csv="direct,perfgate,haproxy,nginx,varnish"
scenarios_csv="small,gzip"
build=1

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a value}"; shift 2 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --connections) connections="${2:?--connections needs a value}"; shift 2 ;;
    --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
    --quick) rounds=1; duration=3; warmup=1; shift ;;
    --targets) targets_csv="${2:?--targets needs a value}"; shift 2 ;;
    --scenarios) scenarios_csv="${2:?--scenarios needs a value}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

for v in rounds duration connections; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v wants a positive integer, got '${!v}'"
done
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup wants a number of seconds, got '$warmup'"
check_seconds=$(( warmup > 0 ? warmup : 1 ))

IFS=',' read -r -a targets <<< "$targets_csv"
[ ${#targets[@]} -gt 0 ] || die "--targets is empty"
for t in "${targets[@]}"; do
  case "$t" in
    direct|perfgate|haproxy|nginx|varnish) ;;
    *) die "unknown target '$t' (direct, perfgate, haproxy, nginx, varnish)" ;;
  esac
done
IFS=',' read -r -a scenarios <<< "$scenarios_csv"
[ ${#scenarios[@]} -gt 0 ] || die "--scenarios is empty"
for s in "${scenarios[@]}"; do
  case "$s" in small|gzip) ;; *) die "unknown scenario '$s' (small, gzip)" ;; esac
done
wants() { [[ ",$targets_csv," == *",$1,"* ]]; }
cached() { [ "$1" != direct ]; }

backend_port="${BENCH_BACKEND_PORT:-18100}"
perfgate_port="${BENCH_PERFGATE_PORT:-18180}"
admin_port="${BENCH_ADMIN_PORT:-19911}"
nginx_port="${BENCH_NGINX_PORT:-18181}"
haproxy_port="${BENCH_HAPROXY_PORT:-18182}"
varnish_port="${BENCH_VARNISH_PORT:-18183}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build_dir="${BENCH_BUILD_DIR:-build-release}"
perfgate_bin="$root/$build_dir/perfgate"
backend_bin="$root/$build_dir/bench/perfgate-sample-backend"

# Scenario definitions: path, extra request header, expected identity body size.
declare -A scenario_path=([small]=/api/small [gzip]=/page)
declare -A scenario_header=([small]="" [gzip]="Accept-Encoding: gzip")

# ---------------------------------------------------------------- processes and cleanup
run_dir="$(mktemp -d "${TMPDIR:-/tmp}/perfgate-hits.XXXXXX")"
# tmpfs for nginx's cache files and Varnish's working directory (shared memory log, VCL).
if [ -d /dev/shm ] && [ -w /dev/shm ] && shm_dir="$(mktemp -d /dev/shm/perfgate-hits.XXXXXX 2>/dev/null)"; then
  shm_note="/dev/shm (tmpfs)"
else
  shm_dir="$run_dir/shm"
  mkdir -p "$shm_dir"
  shm_note="$shm_dir (no writable /dev/shm: not tmpfs unless ${TMPDIR:-/tmp} is)"
fi
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$run_dir" "$shm_dir"
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
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "---- $name output:" >&2; tail -n 30 "$logfile" >&2 || true
      die "$name exited before it was ready"
    fi
    if { [ -n "$pattern" ] && grep -q "$pattern" "$logfile" 2>/dev/null; } || port_in_use "$port"; then return 0; fi
    sleep 0.1
  done
  echo "---- $name output:" >&2; tail -n 30 "$logfile" >&2 || true
  die "$name was not ready on 127.0.0.1:$port after 30 s"
}

# backend_requests: the sample backend's request counter (/__stats does not count itself).
backend_requests() {
  local out
  out="$(curl -sS --max-time 5 "http://127.0.0.1:$backend_port/__stats" 2>&1)" || die "sample backend /__stats failed: $out"
  sed -n 's/.*"requests": *\([0-9][0-9]*\).*/\1/p' <<<"$out" | grep . || die "sample backend /__stats answered '$out'"
}

# fetch SCENARIO URL: one request as wrk sends it; prints "status encoding bytes identity_bytes
# cache_header" (cache_header: the X-Cache or X-Cache-Status value, '-' when absent).
fetch() {
  local scenario="$1" url="$2" head="$run_dir/fetch.head" body="$run_dir/fetch.body" status encoding cache identity
  local args=(-sS --max-time 5 -D "$head" -o "$body" -w '%{http_code}')
  [ -n "${scenario_header[$scenario]}" ] && args+=(-H "${scenario_header[$scenario]}")
  status="$(curl "${args[@]}" "$url" 2>&1)" || die "request to $url failed: $status"
  encoding="$(awk -F': *' 'tolower($1) == "content-encoding" {gsub("\r", "", $2); print tolower($2)}' "$head")"
  cache="$(awk -F': *' 'tolower($1) == "x-cache" || tolower($1) == "x-cache-status" {gsub("\r", "", $2); print $2; exit}' "$head")"
  if [ "$encoding" = gzip ]; then
    identity="$(gzip -dc <"$body" 2>/dev/null | wc -c)" || identity=0
  else
    identity="$(wc -c <"$body")"
  fi
  echo "$status ${encoding:-identity} $(wc -c <"$body") $identity ${cache:--}"
}

# ---------------------------------------------------------------- build and dependencies
"$root/scripts/deps.sh" bench || log "scripts/deps.sh bench failed; continuing with what is installed"
for tool in wrk cmake curl gzip; do command -v "$tool" >/dev/null || die "$tool is not installed (scripts/deps.sh bench)"; done
find_bin() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true; }
haproxy_bin="$(find_bin haproxy)"
nginx_bin="$(find_bin nginx)"
varnish_bin="$(find_bin varnishd)"
wants haproxy && [ -z "$haproxy_bin" ] && die "haproxy is not installed (scripts/deps.sh bench), or leave it out: --targets"
wants nginx && [ -z "$nginx_bin" ] && die "nginx is not installed (scripts/deps.sh bench), or leave it out: --targets"
wants varnish && [ -z "$varnish_bin" ] && die "varnishd is not installed (scripts/deps.sh bench), or leave it out: --targets"

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
  die "$perfgate_bin is missing; build perfgate first, or run without it: --targets direct,haproxy,nginx,varnish"
fi

ports=("$backend_port")
wants perfgate && ports+=("$perfgate_port" "$admin_port")
wants haproxy && ports+=("$haproxy_port")
wants nginx && ports+=("$nginx_port")
wants varnish && ports+=("$varnish_port")
for port in "${ports[@]}"; do
  port_in_use "$port" && die "127.0.0.1:$port is already in use (set BENCH_*_PORT to move it)"
done

# ---------------------------------------------------------------- start the servers
declare -A base

log "starting perfgate-sample-backend on 127.0.0.1:$backend_port"
"${on_server_cpu[@]}" "$backend_bin" --listen "127.0.0.1:$backend_port" --threads 1 >"$run_dir/backend.log" 2>&1 &
pids+=($!)
wait_ready "sample backend" "${pids[-1]}" "$run_dir/backend.log" "sample-backend ready:" "$backend_port"
base[direct]="http://127.0.0.1:$backend_port"

if wants perfgate; then
  log "starting perfgate on 127.0.0.1:$perfgate_port (admin $admin_port)"
  sed -e "s/127\.0\.0\.1:18080/127.0.0.1:$perfgate_port/" \
      -e "s/127\.0\.0\.1:19901/127.0.0.1:$admin_port/" \
      -e "s/127\.0\.0\.1:18000/127.0.0.1:$backend_port/" \
      "$root/bench/conf/hits.toml" >"$run_dir/hits.toml"
  "${on_server_cpu[@]}" "$perfgate_bin" --config "$run_dir/hits.toml" --workers 1 >"$run_dir/perfgate.log" 2>&1 &
  pids+=($!)
  wait_ready perfgate "${pids[-1]}" "$run_dir/perfgate.log" "perfgate ready:" "$perfgate_port"
  base[perfgate]="http://127.0.0.1:$perfgate_port"
fi

if wants haproxy; then
  log "starting haproxy on 127.0.0.1:$haproxy_port"
  mkdir -p "$run_dir/haproxy"
  sed -e "s|@BACKEND_PORT@|$backend_port|g" -e "s|@LISTEN_PORT@|$haproxy_port|g" \
      "$root/bench/peers/haproxy-cache.cfg" >"$run_dir/haproxy/haproxy.cfg"
  "$haproxy_bin" -c -q -f "$run_dir/haproxy/haproxy.cfg" >"$run_dir/haproxy/check.log" 2>&1 \
    || { cat "$run_dir/haproxy/check.log" >&2; die "haproxy refused bench/peers/haproxy-cache.cfg"; }
  "${on_server_cpu[@]}" "$haproxy_bin" -db -f "$run_dir/haproxy/haproxy.cfg" >"$run_dir/haproxy/stdout.log" 2>&1 &
  pids+=($!)
  wait_ready haproxy "${pids[-1]}" "$run_dir/haproxy/stdout.log" "" "$haproxy_port"
  base[haproxy]="http://127.0.0.1:$haproxy_port"
fi

if wants nginx; then
  log "starting nginx on 127.0.0.1:$nginx_port"
  mkdir -p "$run_dir/nginx" "$shm_dir/nginx-cache"
  user_line=""
  [ "$(id -u)" -eq 0 ] && user_line="user root;"  # workers must reach the root-owned temp and cache dirs
  sed -e "s|@USER_LINE@|$user_line|" -e "s|@RUN_DIR@|$run_dir/nginx|g" -e "s|@CACHE_DIR@|$shm_dir/nginx-cache|g" \
      -e "s|@BACKEND_PORT@|$backend_port|g" -e "s|@LISTEN_PORT@|$nginx_port|g" \
      "$root/bench/peers/nginx-cache.conf" >"$run_dir/nginx/nginx.conf"
  "${on_server_cpu[@]}" "$nginx_bin" -c "$run_dir/nginx/nginx.conf" -p "$run_dir/nginx" -g 'daemon off;' \
    >"$run_dir/nginx/stdout.log" 2>&1 &
  pids+=($!)
  wait_ready nginx "${pids[-1]}" "$run_dir/nginx/stdout.log" "" "$nginx_port"
  base[nginx]="http://127.0.0.1:$nginx_port"
fi

# Varnish: -j none runs manager and child as the calling user, which works both as root (the
# default unix jail would switch to the varnish/vcache users, and needs them) and as anyone else.
# One thread pool; a request in progress holds a worker thread, so the pool gets as many threads
# as there are connections (plus a few for the acceptor and backend fetches). taskset keeps the
# whole process on CPU 0 as the other servers.
varnish_threads_min=$(( connections + 8 ))
varnish_threads_max=$(( connections * 2 + 16 ))
if wants varnish; then
  log "starting varnishd on 127.0.0.1:$varnish_port"
  mkdir -p "$run_dir/varnish"
  sed -e "s|@BACKEND_PORT@|$backend_port|g" "$root/bench/peers/varnish-cache.vcl" >"$run_dir/varnish/hits.vcl"
  # Its working directory holds the shared-memory log (on tmpfs, as packagers advise) and the
  # compiled VCL, which it must be able to dlopen: not on a noexec mount.
  varnish_dir="$shm_dir/varnish"
  if command -v findmnt >/dev/null && findmnt -no OPTIONS -T "$shm_dir" 2>/dev/null | grep -qw noexec; then
    varnish_dir="$run_dir/varnish/work"
  fi
  "${on_server_cpu[@]}" "$varnish_bin" -F -j none -a "127.0.0.1:$varnish_port" -T 127.0.0.1:0 \
    -s malloc,256m -f "$run_dir/varnish/hits.vcl" -n "$varnish_dir" \
    -p thread_pools=1 -p thread_pool_min="$varnish_threads_min" -p thread_pool_max="$varnish_threads_max" \
    >"$run_dir/varnish/stdout.log" 2>&1 &
  pids+=($!)
  wait_ready varnishd "${pids[-1]}" "$run_dir/varnish/stdout.log" "" "$varnish_port"
  base[varnish]="http://127.0.0.1:$varnish_port"
fi

# ---------------------------------------------------------------- load
# to_ms VALUE: wrk's "792.00us" / "1.69ms" / "1.02s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

# run_wrk SCENARIO URL SECONDS: prints "requests req_per_s p50_ms p99_ms non2xx socket_errors".
run_wrk() {
  local out requests rps p50 p99 non2xx errors args=(-t1 -c"$connections" -d"${3}s" --latency)
  [ -n "${scenario_header[$1]}" ] && args+=(-H "${scenario_header[$1]}")
  out="$("${on_load_cpu[@]}" wrk "${args[@]}" "$2" 2>&1)" || { echo "$out" >&2; die "wrk failed against $2"; }
  requests="$(awk '/ requests in / {print $1}' <<<"$out")"
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
  errors="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")"
  if [ -z "$requests" ] || [ -z "$rps" ] || [ -z "$p50" ] || [ -z "$p99" ]; then
    echo "$out" >&2
    die "could not read wrk's output for $2"
  fi
  echo "$requests $rps $(to_ms "$p50") $(to_ms "$p99") ${non2xx:-0} ${errors:-0}"
}

# What each target sends per scenario, found while warming: encoding and bytes per response.
declare -A encoding_of bytes_of

# warm_and_check SCENARIO TARGET: store the object, check that the next request is a hit with the
# right body, then run the warm-up load and check that the backend saw none of it.
warm_and_check() {
  local s="$1" t="$2" url="${base[$2]}${scenario_path[$1]}" status encoding bytes identity cache
  local expected before after result tries out
  [ "$s" = small ] && expected=789 || expected=20451
  out="$(fetch "$s" "$url")"
  read -r status encoding bytes identity cache <<<"$out"
  [ "$status" = 200 ] || die "$t: $url answered $status"
  if cached "$t"; then
    # nginx writes its cache file when the first response ends: allow it a moment.
    for tries in 1 2 3 4 5 6 7 8 9 10; do
      out="$(fetch "$s" "$url")"
      read -r status encoding bytes identity cache <<<"$out"
      [ "$cache" = HIT ] && break
      sleep 0.2
    done
    [ "$cache" = HIT ] || die "$t: $url is not served from cache (X-Cache/X-Cache-Status: '$cache' after $tries tries)"
  fi
  [ "$status" = 200 ] || die "$t: $url answered $status on a hit"
  [ "$identity" = "$expected" ] \
    || die "$t: $url gave $identity body bytes ($encoding, $bytes on the wire), expected $expected"
  encoding_of[$s,$t]="$encoding"
  bytes_of[$s,$t]="$bytes"

  log "warm-up: $s $t (${check_seconds}s)"
  before="$(backend_requests)"
  result="$(run_wrk "$s" "$url" "$check_seconds")"
  after="$(backend_requests)"
  if cached "$t"; then
    [ "$after" -eq "$before" ] \
      || die "$t: the backend got $(( after - before )) of $(awk '{print $1}' <<<"$result") requests during the $s warm-up run: not all hits"
  fi
}

mkdir -p "$root/$build_dir/bench"
stamp="$(date +%Y%m%d-%H%M%S)"
csv="$root/$build_dir/bench/hits-$stamp.csv"
echo "timestamp,round,scenario,target,url,connections,duration_s,encoding,response_bytes,requests,requests_per_s,p50_ms,p99_ms,non_2xx_3xx,socket_errors,backend_requests" >"$csv"

for s in "${scenarios[@]}"; do
  for t in "${targets[@]}"; do warm_and_check "$s" "$t"; done
done

echo
echo "perfgate cache-hit benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs"
echo "load: wrk -t1 -c$connections, $rounds round(s) x ${duration}s interleaved (${targets[*]}), ${check_seconds}s warm-up + hit check each"
echo "backend: perfgate-sample-backend --threads 1; caches warmed, a hit checked, 0 backend requests during warm-up"
echo "CPU placement: $placement"
echo "load average before the rounds: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) (other work on CPU 0 skews the servers' figures)"
wants perfgate && echo "perfgate: --workers 1, bench/conf/hits.toml (256 MiB cache)"
wants haproxy && echo "haproxy: $("$haproxy_bin" -v 2>&1 | head -n 1 | awk '{print $3}'), nbthread 1, cache 256 MB, compression filter gzip level 1 (bench/peers/haproxy-cache.cfg)"
wants nginx && echo "nginx: $("$nginx_bin" -v 2>&1 | sed 's|.*/||'), worker_processes 1, proxy_cache on $shm_note, gzip level 1 (bench/peers/nginx-cache.conf)"
wants varnish && echo "varnish: $("$varnish_bin" -V 2>&1 | head -n 1 | sed 's/.*(varnish-\([^ ]*\).*/\1/'), malloc 256m, 1 thread pool of $varnish_threads_min-$varnish_threads_max threads, do_gzip for text/* (bench/peers/varnish-cache.vcl)"
echo

for r in $(seq 1 "$rounds"); do
  for s in "${scenarios[@]}"; do
    for t in "${targets[@]}"; do
      url="${base[$t]}${scenario_path[$s]}"
      log "round $r/$rounds: $s $t"
      before="$(backend_requests)"
      result="$(run_wrk "$s" "$url" "$duration")"
      after="$(backend_requests)"
      read -r requests rps p50 p99 non2xx errors <<<"$result"
      echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$r,$s,$t,$url,$connections,$duration,${encoding_of[$s,$t]},${bytes_of[$s,$t]},$requests,$rps,$p50,$p99,$non2xx,$errors,$(( after - before ))" >>"$csv"
    done
  done
done

# ---------------------------------------------------------------- report
# median SCENARIO TARGET COLUMN: the median of one CSV column over the target's rounds.
median() {
  awk -F, -v s="$1" -v t="$2" -v c="$3" 'NR > 1 && $3 == s && $4 == t {print $c}' "$csv" | sort -g |
    awk '{v[NR] = $1} END {if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
column_sum() { awk -F, -v s="$1" -v t="$2" -v c="$3" 'NR > 1 && $3 == s && $4 == t {n += $c} END {print n + 0}' "$csv"; }

declare -A target_rps target_p99
declare -A scenario_title=([small]="small: GET /api/small, 789-byte JSON"
                           [gzip]="gzip: GET /page, 20 KB HTML, Accept-Encoding: gzip")
for s in "${scenarios[@]}"; do
  echo "${scenario_title[$s]}"
  printf '  %-9s %12s %10s %10s %10s %9s %14s   %s\n' target "req/s" "p50 ms" "p99 ms" encoding "bytes" "backend reqs" "req/s per round"
  for t in "${targets[@]}"; do
    target_rps[$s,$t]="$(median "$s" "$t" 11)"
    target_p99[$s,$t]="$(median "$s" "$t" 13)"
    per_round="$(awk -F, -v s="$s" -v t="$t" 'NR > 1 && $3 == s && $4 == t {printf "%s%.0f", sep, $11; sep = " "}' "$csv")"
    bad=$(( $(column_sum "$s" "$t" 14) + $(column_sum "$s" "$t" 15) ))
    note=""
    [ "$bad" -gt 0 ] && note="  (!) $bad non-2xx/3xx responses or socket errors"
    backend="$(column_sum "$s" "$t" 16)"
    if cached "$t" && [ "$backend" -gt 0 ]; then
      note="$note  ($backend of $(column_sum "$s" "$t" 10) requests reached the backend: expiry refreshes, max-age=60)"
    fi
    [ "$t" = direct ] && backend="(all)"
    printf '  %-9s %12.0f %10.3f %10.3f %10s %9s %14s   %s%s\n' "$t" "${target_rps[$s,$t]}" "$(median "$s" "$t" 12)" \
      "${target_p99[$s,$t]}" "${encoding_of[$s,$t]}" "${bytes_of[$s,$t]}" "$backend" "$per_round" "$note"
  done
  echo
done

# ratio SCENARIO PEER RPS_TARGET CHECK_P99: one line of perfgate/peer figures.
ratio() {
  local s="$1" peer="$2" goal="$3" check_p99="$4" line like=""
  wants perfgate && wants "$peer" || return 0
  if [ "${encoding_of[$s,perfgate]}" != "${encoding_of[$s,$peer]}" ]; then
    # Not the same work: show the figures, judge nothing.
    like="  [not like for like: perfgate sends ${encoding_of[$s,perfgate]} (${bytes_of[$s,perfgate]} B), $peer ${encoding_of[$s,$peer]} (${bytes_of[$s,$peer]} B); target${goal:+ >= ${goal}x} not judged]"
    goal=""
    check_p99=0
  fi
  line="$(awk -v p="${target_rps[$s,perfgate]}" -v n="${target_rps[$s,$peer]}" -v g="$goal" \
    'BEGIN {r = p / n; printf "%.2fx", r; if (g != "") printf " (target >= %.2fx: %s)", g, (r >= g ? "met" : "NOT met")}')"
  if [ "$check_p99" = 1 ]; then
    line="$line; p99 $(awk -v p="${target_p99[$s,perfgate]}" -v n="${target_p99[$s,$peer]}" \
      'BEGIN {printf "%.3f vs %.3f ms (target: no worse: %s)", p, n, (p <= n ? "met" : "NOT met")}')"
  else
    line="$line; p99 ${target_p99[$s,perfgate]} vs ${target_p99[$s,$peer]} ms"
  fi
  printf '  perfgate / %-8s %s%s\n' "$peer" "$line" "$like"
}

if wants perfgate; then
  for s in "${scenarios[@]}"; do
    echo "ratios, $s (median req/s):"
    if [ "$s" = small ]; then
      ratio small haproxy 1.5 1
      ratio small nginx 2.0 1
      ratio small varnish "" 0
    else
      ratio gzip haproxy 5.0 0
      ratio gzip nginx 5.0 0
      ratio gzip varnish 1.2 0
      if [ "${encoding_of[gzip,perfgate]}" != gzip ]; then
        echo "  note: perfgate answered this scenario without compression (${encoding_of[gzip,perfgate]}, ${bytes_of[gzip,perfgate]} B per"
        echo "        response): its row is not a gzip result (is [compression] off in bench/conf/hits.toml?)."
      fi
    fi
  done
fi
echo "CSV: ${csv#"$root"/}"
