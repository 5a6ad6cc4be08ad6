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
  br     GET /page with Accept-Encoding: br (not in the default set). perfgate stores the page
         in brotli once, at br_level 11, made by its background encoder (bench/conf/hits.toml):
         it is warmed until it answers br (bounded by --coding-wait). The peers answer what they
         can (nginx and HAProxy compress gzip only, Varnish stores gzip: a client that takes only
         br gets identity from all three; the table shows it).
  zstd   GET /page with Accept-Encoding: zstd (not in the default set): as br, at zstd_level 19.
         One run with --scenarios gzip,br,zstd gives the hit req/s per coding.
Each cache is warmed and checked before the rounds: one request stores the object, the next must
say HIT (perfgate: X-Cache, peers: X-Cache-Status set by bench/peers/*), and the warm-up run must
not add a single request to the backend's /__stats counter. Rounds are interleaved (direct
perfgate haproxy nginx varnish direct ... per scenario); the table shows per-target medians of
req/s, p50 and p99 (wrk --latency), the server's CPU per request (user + system time of its
processes over the run, from /proc, divided by the requests: with one wrk thread the client can
limit req/s, and CPU per request still tells the servers apart) and the backend requests during
the measured runs, then the perfgate/peer ratios (req/s, and peer CPU / perfgate CPU per
request). Every run goes to build-release/bench/hits-<timestamp>.csv. It builds perfgate and the
sample backend (Release) first.

Options:
  --rounds N         interleaved rounds (default 3)
  --duration S       seconds per wrk run (default 10)
  --connections C    wrk connections, -t1 (default 64)
  --warmup S         seconds of warm-up (and hit check) per target and scenario (default 2;
                     at least 1 s is always run, for the check)
  --quick            1 round of 3 s, 1 s warm-up
  --targets LIST     comma-separated subset of direct,perfgate,haproxy,nginx,varnish (default all)
  --scenarios LIST   comma-separated subset of small,gzip,br,zstd (default small,gzip)
  --coding-wait S    how long perfgate may take to make the br or zstd variant of the page in the
                     background before the scenario is given up (default 60)
  --no-build         use the binaries already in the build directory instead of (re)building
  --baseline REV     also run perfgate as built from git revision REV (target "baseline", same
                     config and placement), interleaved with the others: a change measured
                     against the commit before it, in one run
  -h, --help         this text

CPU placement (2-core machine): the servers under test and the sample backend (--threads 1) run
on CPU 0, wrk -t1 on CPU 1 (taskset). One worker each: perfgate --workers 1, HAProxy nbthread 1,
nginx worker_processes 1, Varnish one thread pool (Varnish needs a thread per request in
progress, so its pool is sized to the connections; taskset keeps it on one core). Everything
listens on 127.0.0.1 only and is stopped when the script exits. nginx's cache and Varnish's
working directory are on /dev/shm (tmpfs) when it is writable.

Environment: BENCH_BACKEND_PORT (18100), BENCH_PERFGATE_PORT (18180), BENCH_ADMIN_PORT (19911),
BENCH_HAPROXY_PORT (18182), BENCH_NGINX_PORT (18181), BENCH_VARNISH_PORT (18183),
BENCH_BASELINE_PORT (18184), BENCH_BASELINE_ADMIN_PORT (19912);
BENCH_BUILD_DIR (build-release) for the binaries and the CSV.

Needs: cmake and a C++ toolchain, wrk, haproxy, nginx, varnishd (and a C compiler for its VCL),
curl, gzip, taskset; scripts/deps.sh bench installs what is missing.
EOF
}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- options
rounds=3
duration=10
connections=64
warmup=2
targets_csv="direct,perfgate,haproxy,nginx,varnish"
scenarios_csv="small,gzip"
coding_wait=60
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
    --scenarios) scenarios_csv="${2:?--scenarios needs a value}"; shift 2 ;;
    --coding-wait) coding_wait="${2:?--coding-wait needs a value}"; shift 2 ;;
    --no-build) build=0; shift ;;
    --baseline) baseline_rev="${2:?--baseline needs a git revision}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

for v in rounds duration connections coding_wait; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v wants a positive integer, got '${!v}'"
done
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup wants a number of seconds, got '$warmup'"
check_seconds=$(( warmup > 0 ? warmup : 1 ))

[ -n "$baseline_rev" ] && targets_csv="$targets_csv,baseline"
IFS=',' read -r -a targets <<< "$targets_csv"
[ ${#targets[@]} -gt 0 ] || die "--targets is empty"
for t in "${targets[@]}"; do
  case "$t" in
    direct|perfgate|haproxy|nginx|varnish|baseline) ;;
    *) die "unknown target '$t' (direct, perfgate, haproxy, nginx, varnish)" ;;
  esac
done
IFS=',' read -r -a scenarios <<< "$scenarios_csv"
[ ${#scenarios[@]} -gt 0 ] || die "--scenarios is empty"
for s in "${scenarios[@]}"; do
  case "$s" in small|gzip|br|zstd) ;; *) die "unknown scenario '$s' (small, gzip, br, zstd)" ;; esac
done
wants() { [[ ",$targets_csv," == *",$1,"* ]]; }
cached() { [ "$1" != direct ]; }

backend_port="${BENCH_BACKEND_PORT:-18100}"
perfgate_port="${BENCH_PERFGATE_PORT:-18180}"
admin_port="${BENCH_ADMIN_PORT:-19911}"
nginx_port="${BENCH_NGINX_PORT:-18181}"
haproxy_port="${BENCH_HAPROXY_PORT:-18182}"
varnish_port="${BENCH_VARNISH_PORT:-18183}"
baseline_port="${BENCH_BASELINE_PORT:-18184}"
baseline_admin_port="${BENCH_BASELINE_ADMIN_PORT:-19912}"

bench_init hits.sh
build_dir="${BENCH_BUILD_DIR:-build-release}"
perfgate_bin="$root/$build_dir/perfgate"
backend_bin="$root/$build_dir/bench/perfgate-sample-backend"

# Scenario definitions: path and Accept-Encoding (none when empty).
declare -A scenario_path=([small]=/api/small [gzip]=/page [br]=/page [zstd]=/page)
declare -A scenario_accept=([small]="" [gzip]=gzip [br]=br [zstd]=zstd)
declare -A scenario_header
for s in "${!scenario_accept[@]}"; do
  scenario_header[$s]="${scenario_accept[$s]:+Accept-Encoding: ${scenario_accept[$s]}}"
done

backend_stats() { sample_backend_requests "$backend_port"; }

# fetch SCENARIO URL: one request as wrk sends it; prints "status encoding bytes identity_bytes
# cache_header" (cache_header: the X-Cache or X-Cache-Status value, '-' when absent; lib.sh
# http_fetch).
fetch() { http_fetch "$2" "${scenario_accept[$1]}"; }

# ---------------------------------------------------------------- build and dependencies
"$root/scripts/deps.sh" bench || log "scripts/deps.sh bench failed; continuing with what is installed"
for tool in wrk cmake curl gzip; do command -v "$tool" >/dev/null || die "$tool is not installed (scripts/deps.sh bench)"; done
haproxy_bin="$(find_bin haproxy)"
nginx_bin="$(find_bin nginx)"
varnish_bin="$(find_bin varnishd)"
wants haproxy && [ -z "$haproxy_bin" ] && die "haproxy is not installed (scripts/deps.sh bench), or leave it out: --targets"
wants nginx && [ -z "$nginx_bin" ] && die "nginx is not installed (scripts/deps.sh bench), or leave it out: --targets"
wants varnish && [ -z "$varnish_bin" ] && die "varnishd is not installed (scripts/deps.sh bench), or leave it out: --targets"

if [ "$build" -eq 1 ]; then
  build_targets=(perfgate-sample-backend)
  wants perfgate && build_targets+=(perfgate)
  build_release "$root/$build_dir" "${build_targets[@]}"
fi
[ -x "$backend_bin" ] || die "$backend_bin is missing (build it, or drop --no-build)"
if wants perfgate && [ ! -x "$perfgate_bin" ]; then
  die "$perfgate_bin is missing; build perfgate first, or run without it: --targets direct,haproxy,nginx,varnish"
fi
[ -n "$baseline_rev" ] && build_baseline "$baseline_rev" "$root/$build_dir"

ports=("$backend_port")
wants perfgate && ports+=("$perfgate_port" "$admin_port")
wants haproxy && ports+=("$haproxy_port")
wants nginx && ports+=("$nginx_port")
wants varnish && ports+=("$varnish_port")
wants baseline && ports+=("$baseline_port" "$baseline_admin_port")
check_ports "${ports[@]}"

# ---------------------------------------------------------------- start the servers
declare -A base pid_of

start_sample_backend "$backend_bin" "$backend_port"
base[direct]="http://127.0.0.1:$backend_port"
pid_of[direct]="$spawned_pid"
backend="127.0.0.1:$backend_port"
if wants perfgate; then
  start_perfgate "$perfgate_bin" "$root/bench/conf/hits.toml" "$perfgate_port" "$admin_port" "$backend"
  base[perfgate]="http://127.0.0.1:$perfgate_port"
  pid_of[perfgate]="$spawned_pid"
fi
if wants baseline; then
  start_perfgate "$baseline_bin" "$root/bench/conf/hits.toml" "$baseline_port" "$baseline_admin_port" "$backend"
  base[baseline]="http://127.0.0.1:$baseline_port"
  pid_of[baseline]="$spawned_pid"
fi
if wants haproxy; then
  start_haproxy "$haproxy_bin" "$haproxy_port" "$backend"
  base[haproxy]="http://127.0.0.1:$haproxy_port"
  pid_of[haproxy]="$spawned_pid"
fi
if wants nginx; then
  start_nginx "$nginx_bin" "$root/bench/peers/nginx-cache.conf" "$nginx_port" "$backend"
  base[nginx]="http://127.0.0.1:$nginx_port"
  pid_of[nginx]="$spawned_pid"
fi
if wants varnish; then
  start_varnish "$varnish_bin" "$varnish_port" "$backend" "$connections"
  base[varnish]="http://127.0.0.1:$varnish_port"
  pid_of[varnish]="$spawned_pid"
fi

# ---------------------------------------------------------------- load
# run_wrk SCENARIO URL SECONDS: prints "requests req_per_s p50_ms p99_ms non2xx socket_errors".
run_wrk() {
  local args=() out requests rps p50 p90 p99 non2xx errors
  [ -n "${scenario_header[$1]}" ] && args+=(-H "${scenario_header[$1]}")
  out="$(wrk_run "$3" "$connections" "$2" "${args[@]}")" || exit 1
  read -r requests rps p50 p90 p99 non2xx errors <<<"$out"
  echo "$requests $rps $p50 $p99 $non2xx $errors"
}

# What each target sends per scenario, found while warming: encoding and bytes per response.
declare -A encoding_of bytes_of

# warm_and_check SCENARIO TARGET: store the object, check that the next request is a hit with the
# right body, then run the warm-up load and check that the backend saw none of it.
warm_and_check() {
  local s="$1" t="$2" url="${base[$2]}${scenario_path[$1]}" status encoding bytes identity cache
  local expected before after result tries out ready
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
  if [ "$s" = br ] || [ "$s" = zstd ]; then
    # perfgate makes this coding of the stored page on its background encoder (set off by the
    # requests above); until then it answers identity. The peers answer what they can.
    if [ "$t" = perfgate ] || [ "$t" = baseline ]; then
      log "warm-up: $s $t: waiting (up to ${coding_wait}s) until $url is answered in $s"
      ready=0
      out="$(await_coding "$url" "${scenario_accept[$s]}" "$s" "$coding_wait")" && ready=1
      read -r status encoding bytes identity cache <<<"$out"
      if [ "$ready" = 0 ]; then
        [ "$t" = perfgate ] && die "$t: $url is still answered $encoding after ${coding_wait}s, not $s (is $s in [compression] codings, and background_threads > 0?)"
        log "$t: $url is answered $encoding, not $s (a perfgate without $s): measured as it is"
      fi
    fi
  fi
  [ "$status" = 200 ] || die "$t: $url answered $status on a hit"
  [ "$identity" = "$expected" ] \
    || die "$t: $url gave $identity body bytes ($encoding, $bytes on the wire), expected $expected"
  encoding_of[$s,$t]="$encoding"
  bytes_of[$s,$t]="$bytes"

  log "warm-up: $s $t (${check_seconds}s)"
  before="$(backend_stats)"
  result="$(run_wrk "$s" "$url" "$check_seconds")"
  after="$(backend_stats)"
  if cached "$t"; then
    [ "$after" -eq "$before" ] \
      || die "$t: the backend got $(( after - before )) of $(awk '{print $1}' <<<"$result") requests during the $s warm-up run: not all hits"
  fi
}

mkdir -p "$root/$build_dir/bench"
stamp="$(date +%Y%m%d-%H%M%S)"
csv="$root/$build_dir/bench/hits-$stamp.csv"
echo "timestamp,round,scenario,target,url,connections,duration_s,encoding,response_bytes,requests,requests_per_s,p50_ms,p99_ms,non_2xx_3xx,socket_errors,backend_requests,cpu_us_per_request" >"$csv"

for s in "${scenarios[@]}"; do
  for t in "${targets[@]}"; do warm_and_check "$s" "$t"; done
done

echo
echo "perfgate cache-hit benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs"
echo "load: wrk -t1 -c$connections, $rounds round(s) x ${duration}s interleaved (${targets[*]}), ${check_seconds}s warm-up + hit check each"
echo "backend: perfgate-sample-backend --threads 1; caches warmed, a hit checked, 0 backend requests during warm-up"
echo "CPU placement: $placement"
echo "load average before the rounds: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) (other work on CPU 0 skews the servers' figures)"
wants perfgate && echo "perfgate: --workers 1, bench/conf/hits.toml (256 MiB cache; gzip level 6, br_level 11 and zstd_level 19, the slow two made once per object by 1 background thread)"
wants baseline && echo "baseline: perfgate at $baseline_label, same config and placement"
wants haproxy && echo "haproxy: $(haproxy_version "$haproxy_bin"), nbthread 1, cache 256 MB, compression filter gzip (the shared policy; libslz has one level) (bench/peers/haproxy-cache.cfg)"
wants nginx && echo "nginx: $(nginx_version "$nginx_bin"), worker_processes 1, proxy_cache on $shm_note, gzip level 6 for the shared policy (bench/peers/nginx-cache.conf)"
wants varnish && echo "varnish: $(varnish_version "$varnish_bin"), malloc 256m, 1 thread pool of $varnish_threads_min-$varnish_threads_max threads, do_gzip for the shared policy, level 6 (bench/peers/varnish-cache.vcl)"
echo

for r in $(seq 1 "$rounds"); do
  for s in "${scenarios[@]}"; do
    for t in "${targets[@]}"; do
      url="${base[$t]}${scenario_path[$s]}"
      log "round $r/$rounds: $s $t"
      before="$(backend_stats)"
      cpu_before="$(cpu_ticks "${pid_of[$t]}")"
      result="$(run_wrk "$s" "$url" "$duration")"
      cpu_after="$(cpu_ticks "${pid_of[$t]}")"
      after="$(backend_stats)"
      read -r requests rps p50 p99 non2xx errors <<<"$result"
      cpu_us="$(cpu_us_per_request $(( cpu_after - cpu_before )) "$requests")"
      echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$r,$s,$t,$url,$connections,$duration,${encoding_of[$s,$t]},${bytes_of[$s,$t]},$requests,$rps,$p50,$p99,$non2xx,$errors,$(( after - before )),$cpu_us" >>"$csv"
    done
  done
done

# ---------------------------------------------------------------- report
# median SCENARIO TARGET COLUMN: the median of one CSV column over the target's rounds.
column_median() {
  awk -F, -v s="$1" -v t="$2" -v c="$3" 'NR > 1 && $3 == s && $4 == t {print $c}' "$csv" | median
}
column_sum() { awk -F, -v s="$1" -v t="$2" -v c="$3" 'NR > 1 && $3 == s && $4 == t {n += $c} END {print n + 0}' "$csv"; }

declare -A target_rps target_p99 target_cpu
declare -A scenario_title=([small]="small: GET /api/small, 789-byte JSON"
                           [gzip]="gzip: GET /page, 20 KB HTML, Accept-Encoding: gzip"
                           [br]="br: GET /page, 20 KB HTML, Accept-Encoding: br"
                           [zstd]="zstd: GET /page, 20 KB HTML, Accept-Encoding: zstd")
for s in "${scenarios[@]}"; do
  echo "${scenario_title[$s]}"
  printf '  %-9s %12s %10s %10s %11s %10s %9s %14s   %s\n' target "req/s" "p50 ms" "p99 ms" "CPU us/req" encoding "bytes" "backend reqs" "req/s per round"
  for t in "${targets[@]}"; do
    target_rps[$s,$t]="$(column_median "$s" "$t" 11)"
    target_p99[$s,$t]="$(column_median "$s" "$t" 13)"
    target_cpu[$s,$t]="$(column_median "$s" "$t" 17)"
    per_round="$(awk -F, -v s="$s" -v t="$t" 'NR > 1 && $3 == s && $4 == t {printf "%s%.0f", sep, $11; sep = " "}' "$csv")"
    bad=$(( $(column_sum "$s" "$t" 14) + $(column_sum "$s" "$t" 15) ))
    note=""
    [ "$bad" -gt 0 ] && note="  (!) $bad non-2xx/3xx responses or socket errors"
    backend="$(column_sum "$s" "$t" 16)"
    if cached "$t" && [ "$backend" -gt 0 ]; then
      note="$note  ($backend of $(column_sum "$s" "$t" 10) requests reached the backend: expiry refreshes, max-age=60)"
    fi
    [ "$t" = direct ] && backend="(all)"
    printf '  %-9s %12.0f %10.3f %10.3f %11.2f %10s %9s %14s   %s%s\n' "$t" "${target_rps[$s,$t]}" "$(column_median "$s" "$t" 12)" \
      "${target_p99[$s,$t]}" "${target_cpu[$s,$t]}" "${encoding_of[$s,$t]}" "${bytes_of[$s,$t]}" "$backend" "$per_round" "$note"
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
  # What one request costs each server, whatever rate the client reached: peer CPU / perfgate CPU.
  line="$line; server CPU per request $(awk -v p="${target_cpu[$s,perfgate]}" -v n="${target_cpu[$s,$peer]}" \
    'BEGIN {printf "%.2f vs %.2f us: %.2fx", p, n, (p > 0 ? n / p : 0)}')"
  printf '  perfgate / %-8s %s%s\n' "$peer" "$line" "$like"
}

if wants perfgate; then
  for s in "${scenarios[@]}"; do
    echo "ratios, $s (median req/s):"
    if [ "$s" = small ]; then
      ratio small haproxy 1.5 1
      ratio small nginx 2.0 1
      ratio small varnish "" 0
      ratio small baseline "" 0
    elif [ "$s" = gzip ]; then
      ratio gzip haproxy 5.0 0
      ratio gzip nginx 5.0 0
      ratio gzip varnish 1.2 0
      ratio gzip baseline "" 0
      if [ "${encoding_of[gzip,perfgate]}" != gzip ]; then
        echo "  note: perfgate answered this scenario without compression (${encoding_of[gzip,perfgate]}, ${bytes_of[gzip,perfgate]} B per"
        echo "        response): its row is not a gzip result (is [compression] off in bench/conf/hits.toml?)."
      fi
    else
      # br, zstd: no peer sends these codings; the lines show the figures, marked unlike.
      for peer in haproxy nginx varnish baseline; do ratio "$s" "$peer" "" 0; done
    fi
  done
fi
echo "CSV: ${csv#"$root"/}"
