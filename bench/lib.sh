# Shared scaffolding of the bench/ scripts (sourced, not run): logging, the run directory and the
# cleanup of everything started, CPU placement, ports, starting and waiting for the sample
# backend, perfgate and the peers (nginx, HAProxy, Varnish, Traffic Server) from the configs in
# bench/conf and bench/peers, building the Release binaries, running wrk, fetching one response
# in a given content coding, and reading how busy the machine is.
#
# Usage from a script in bench/:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_init NAME          # NAME prefixes messages and names the temporary directories
# Afterwards: $root (repository root, also the working directory), $run_dir (temporary, removed on
# exit), $shm_dir (tmpfs when /dev/shm is writable), $shm_note, the CPU placement arrays
# $on_server_cpu / $on_load_cpu and $placement; every process started with bench_spawn is stopped
# on exit.

bench_name=bench
die() { echo "$bench_name: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

bench_init() {
  bench_name="$1"
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cd "$root"
  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/perfgate-$bench_name.XXXXXX")"
  # tmpfs for nginx's cache files and Varnish's working directory (shared memory log, VCL).
  if [ -d /dev/shm ] && [ -w /dev/shm ] && shm_dir="$(mktemp -d "/dev/shm/perfgate-$bench_name.XXXXXX" 2>/dev/null)"; then
    shm_note="/dev/shm (tmpfs)"
  else
    shm_dir="$run_dir/shm"
    mkdir -p "$shm_dir"
    shm_note="$shm_dir (no writable /dev/shm: not tmpfs unless ${TMPDIR:-/tmp} is)"
  fi
  bench_pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # CPU placement: servers on CPU 0, load generator on CPU 1, when there are two CPUs to split.
  if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    on_server_cpu=(taskset -c 0)
    on_load_cpu=(taskset -c 1)
    placement="servers under test + backend on CPU 0, wrk -t1 on CPU 1 (taskset)"
  else
    on_server_cpu=()
    on_load_cpu=()
    placement="not pinned (fewer than 2 CPUs or no taskset): figures are not comparable to pinned runs"
  fi
}

# Stops what bench_spawn started (TERM, then KILL after 3 s) and removes the temporary directories.
bench_cleanup() {
  local pid
  for pid in "${bench_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${bench_pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$run_dir" "$shm_dir"
}

# bench_stop PID: stops one process started with bench_spawn before the script ends.
bench_stop() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for i in "${!bench_pids[@]}"; do [ "${bench_pids[$i]}" = "$pid" ] && unset 'bench_pids[i]'; done
  bench_pids=("${bench_pids[@]}")
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a port nothing listens on, below the kernel's ephemeral range (so outgoing
# connections do not take it meanwhile), picked at random so that runs side by side do not collide.
declare -A bench_ports_taken=()
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$(( 20000 + RANDOM % 12000 ))
    [ -n "${bench_ports_taken[$port]:-}" ] && continue
    port_in_use "$port" && continue
    bench_ports_taken[$port]=1
    echo "$port"
    return 0
  done
  die "found no free port in 20000-31999"
}

# check_ports PORT...: dies when one is taken (for fixed ports given by the user). The message
# names what moves the ports: $bench_port_hint when the script sets it (bench/run: its
# --port-base), otherwise the script's --help, which lists the variables that script reads.
check_ports() {
  local port
  for port in "$@"; do
    port_in_use "$port" \
      && die "127.0.0.1:$port is already in use (${bench_port_hint:-see $bench_name --help for the variables that move its ports})"
  done
  return 0
}

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

# bench_spawn NAME LOGFILE PATTERN PORT CMD...: starts CMD on the server CPU, waits until it is
# ready (see wait_ready), and sets spawned_pid.
bench_spawn() {
  local name="$1" logfile="$2" pattern="$3" port="$4"
  shift 4
  "${on_server_cpu[@]}" "$@" >"$logfile" 2>&1 &
  spawned_pid=$!
  bench_pids+=("$spawned_pid")
  wait_ready "$name" "$spawned_pid" "$logfile" "$pattern" "$port"
}

# cpu_ticks PID: CPU time (clock ticks, user + system) of a server process, all its threads, and
# its children (nginx's worker, Varnish's child). With one wrk thread the client may be what
# limits req/s; CPU per request says what each server spends on a request whatever the client
# manages.
cpu_ticks() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    [ -r "/proc/$p/stat" ] || continue
    total=$(( total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat") ))
  done
  echo "$total"
}

# cpu_us_per_request TICKS REQUESTS: microseconds of CPU per request.
cpu_us_per_request() {
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN {printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0)}'
}

find_bin() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true; }

# build_release BUILD_DIR TARGET...: configures (Release) and builds the targets.
build_release() {
  local dir="$1"
  shift
  log "building $* (Release, $dir)"
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release >"$run_dir/cmake.log" 2>&1 \
    || { tail -n 30 "$run_dir/cmake.log" >&2; die "cmake configure failed"; }
  cmake --build "$dir" -j "$(nproc)" --target "$@" >>"$run_dir/cmake.log" 2>&1 \
    || { grep -E 'error|Error' "$run_dir/cmake.log" | head -n 20 >&2; die "build failed (cmake --build $dir --target $*)"; }
}

# build_baseline REV BUILD_DIR: builds perfgate as it was at git revision REV (Release), from an
# export of that commit under BUILD_DIR/baseline/, once per commit; sets baseline_bin and
# baseline_label ("abc1234 subject").
build_baseline() {
  local rev="$1" sha dir
  sha="$(git -C "$root" rev-parse --verify --quiet "$rev^{commit}")" || die "--baseline: no commit '$rev'"
  dir="$2/baseline/${sha:0:12}"
  baseline_bin="$dir/build/perfgate"
  baseline_label="$(git -C "$root" log -1 --format='%h %s' "$sha")"
  [ -x "$baseline_bin" ] && return 0
  log "building the baseline perfgate at ${sha:0:12} (Release, $dir)"
  rm -rf "$dir"
  mkdir -p "$dir/src"
  git -C "$root" archive "$sha" | tar -x -C "$dir/src"
  cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DPERFGATE_TESTS=OFF >"$run_dir/baseline.log" 2>&1 \
    || { tail -n 30 "$run_dir/baseline.log" >&2; die "baseline: cmake configure failed"; }
  cmake --build "$dir/build" -j "$(nproc)" --target perfgate >>"$run_dir/baseline.log" 2>&1 \
    || { grep -E 'error|Error' "$run_dir/baseline.log" | head -n 20 >&2; die "baseline: build failed"; }
}

# ---------------------------------------------------------------- the servers
# Each start_* function takes the listen port and the backend as HOST:PORT, writes its config to
# $run_dir and sets spawned_pid.

# start_sample_backend BINARY PORT [ARGS...]: perfgate-sample-backend with one thread.
start_sample_backend() {
  local bin="$1" port="$2"
  shift 2
  log "starting perfgate-sample-backend on 127.0.0.1:$port"
  bench_spawn "sample backend" "$run_dir/backend-$port.log" "sample-backend ready:" "$port" \
    "$bin" --listen "127.0.0.1:$port" --threads 1 "$@"
}

# start_perfgate BINARY CONF PORT ADMIN_PORT BACKEND: CONF is one of bench/conf/*.toml, whose
# 127.0.0.1:18080 (listen), :19901 (admin) and :18000 (upstream) are replaced.
start_perfgate() {
  local bin="$1" conf="$2" port="$3" admin="$4" backend="$5" out="$run_dir/perfgate-$3.toml"
  log "starting perfgate on 127.0.0.1:$port (admin $admin, $(basename "$conf"))"
  sed -e "s/127\.0\.0\.1:18080/127.0.0.1:$port/" -e "s/127\.0\.0\.1:19901/127.0.0.1:$admin/" \
      -e "s|http://127\.0\.0\.1:18000|http://$backend|" "$conf" >"$out"
  bench_spawn perfgate "$run_dir/perfgate-$port.log" "perfgate ready:" "$port" "$bin" --config "$out" --workers 1
}

# fill_peer_template TEMPLATE OUT PORT BACKEND [SED_ARGS...]: the @PLACEHOLDERS@ of bench/peers/*.
fill_peer_template() {
  local template="$1" out="$2" port="$3" backend="$4"
  shift 4
  sed -e "s|@BACKEND_HOST@|${backend%:*}|g" -e "s|@BACKEND_PORT@|${backend##*:}|g" \
      -e "s|@LISTEN_PORT@|$port|g" "$@" "$template" >"$out"
}

# start_haproxy BINARY PORT BACKEND: sets haproxy_minsize ("yes" when this HAProxy applies the
# gzip policy's 256-byte minimum, "no (HAProxy VERSION has no compression minsize-res)" otherwise)
# and haproxy_gzip (its compressor: libslz has a single level, zlib honours tune.comp.maxlevel).
start_haproxy() {
  local bin="$1" port="$2" backend="$3" dir="$run_dir/haproxy-$2"
  log "starting haproxy on 127.0.0.1:$port"
  mkdir -p "$dir"
  local vv
  vv="$("$bin" -vv 2>&1 || true)"  # read whole: grep -q stopping early would SIGPIPE haproxy
  if [[ "$vv" == *"Built with libslz"* ]]; then
    haproxy_gzip="libslz (one level, about zlib's 1: tune.comp.maxlevel 6 has no effect)"
  else
    haproxy_gzip="zlib, level 6 (tune.comp.maxlevel)"
  fi
  # The gzip policy's minimum size: "compression minsize-res" exists from HAProxy 3.2 on. Try it;
  # a HAProxy that refuses the config with it gets a comment instead (and compresses small
  # bodies too, said in haproxy_minsize).
  haproxy_minsize=yes
  fill_peer_template "$root/bench/peers/haproxy-cache.cfg" "$dir/haproxy.cfg" "$port" "$backend" \
    -e "s|@COMP_MINSIZE@|compression minsize-res 256|"
  if ! "$bin" -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1; then
    haproxy_minsize="no (HAProxy $(haproxy_version "$bin") has no compression minsize-res)"
    fill_peer_template "$root/bench/peers/haproxy-cache.cfg" "$dir/haproxy.cfg" "$port" "$backend" \
      -e "s|@COMP_MINSIZE@|# compression minsize-res: not in this HAProxy|"
    "$bin" -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1 \
      || { cat "$dir/check.log" >&2; die "haproxy refused bench/peers/haproxy-cache.cfg"; }
  fi
  bench_spawn haproxy "$dir/stdout.log" "" "$port" "$bin" -db -f "$dir/haproxy.cfg"
}

# start_nginx BINARY TEMPLATE PORT BACKEND [SED_ARGS...]: TEMPLATE is bench/peers/nginx-cache.conf
# or nginx-pass.conf; the cache lives on $shm_dir; SED_ARGS fill in the template's own placeholders.
start_nginx() {
  local bin="$1" template="$2" port="$3" backend="$4" dir="$run_dir/nginx-$3" user_line=""
  shift 4
  log "starting nginx on 127.0.0.1:$port ($(basename "$template"))"
  mkdir -p "$dir" "$shm_dir/nginx-cache-$port"
  [ "$(id -u)" -eq 0 ] && user_line="user root;"  # workers must reach the root-owned temp and cache dirs
  fill_peer_template "$template" "$dir/nginx.conf" "$port" "$backend" \
    -e "s|@USER_LINE@|$user_line|" -e "s|@RUN_DIR@|$dir|g" -e "s|@CACHE_DIR@|$shm_dir/nginx-cache-$port|g" "$@"
  bench_spawn nginx "$dir/stdout.log" "" "$port" "$bin" -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;'
}

# start_varnish BINARY PORT BACKEND CONNECTIONS: -j none runs manager and child as the calling
# user, which works both as root (the default unix jail would switch to the varnish/vcache users,
# and needs them) and as anyone else. One thread pool, sized for CONNECTIONS (the highest level
# the script will use): a request in progress holds a worker thread and a miss a second one for
# the backend fetch, so thread_pool_min is 2 * CONNECTIONS + 16 (the 16 for the acceptor, the
# expiry and ban threads and slack), created at start; a session that still finds no idle thread
# waits in a queue (thread_queue_limit) as long as every connection, instead of being dropped
# (MAIN.sess_dropped, which bench/run reads after each Varnish run). gzip_level 6: the bench
# gzip policy. taskset keeps the whole process on the server CPU. Sets varnish_workdir (for
# varnishstat -n) and varnish_threads_min / _max / varnish_queue_limit.
start_varnish() {
  local bin="$1" port="$2" backend="$3" connections="$4" dir="$run_dir/varnish-$2" work
  varnish_threads_min=$(( connections * 2 + 16 ))
  varnish_threads_max=$(( varnish_threads_min * 2 ))
  varnish_queue_limit=$(( connections * 2 + 16 ))
  log "starting varnishd on 127.0.0.1:$port"
  mkdir -p "$dir"
  fill_peer_template "$root/bench/peers/varnish-cache.vcl" "$dir/cache.vcl" "$port" "$backend"
  # Its working directory holds the shared-memory log (on tmpfs, as packagers advise) and the
  # compiled VCL, which it must be able to dlopen: not on a noexec mount.
  work="$shm_dir/varnish-$port"
  if command -v findmnt >/dev/null && findmnt -no OPTIONS -T "$shm_dir" 2>/dev/null | grep -qw noexec; then
    work="$dir/work"
  fi
  varnish_workdir="$work"
  bench_spawn varnishd "$dir/stdout.log" "" "$port" \
    "$bin" -F -j none -a "127.0.0.1:$port" -T 127.0.0.1:0 -s malloc,256m -f "$dir/cache.vcl" -n "$work" \
    -p thread_pools=1 -p thread_pool_min="$varnish_threads_min" -p thread_pool_max="$varnish_threads_max" \
    -p thread_queue_limit="$varnish_queue_limit" -p gzip_level=6
}

# varnish_sessions WORKDIR: "SESS_DROPPED SESS_QUEUED", Varnish's counters so far (sessions it
# dropped or queued for want of a worker thread); empty when varnishstat is not installed or
# cannot read them.
varnish_sessions() {
  command -v varnishstat >/dev/null || return 0
  varnishstat -n "$1" -1 -f MAIN.sess_dropped -f MAIN.sess_queued 2>/dev/null |
    awk '$1 == "MAIN.sess_dropped" {d = $2} $1 == "MAIN.sess_queued" {q = $2}
         END {if (d != "" && q != "") print d, q}'
}

# start_trafficserver BINARY PORT BACKEND [HOST]: Apache Traffic Server from
# bench/peers/trafficserver/ (copied, @PLACEHOLDERS@ filled in) with its config, logs and
# runtime files under $run_dir and its cache file on $shm_dir; HOST (a --host NAME) gets a remap
# rule of its own. Listens only once its cache is up (wait_for_cache in records.config).
start_trafficserver() {
  local bin="$1" port="$2" backend="$3" host="${4:-}" dir="$run_dir/trafficserver-$2" etc cache f host_map=""
  etc="$dir/etc"
  cache="$shm_dir/trafficserver-$port"
  log "starting traffic_server on 127.0.0.1:$port"
  mkdir -p "$etc" "$dir/run" "$dir/log" "$cache"
  [ -n "$host" ] && host_map="map http://$host/ http://$backend/"
  for f in "$root"/bench/peers/trafficserver/*; do
    fill_peer_template "$f" "$etc/$(basename "$f")" "$port" "$backend" \
      -e "s|@RUN_DIR@|$dir|g" -e "s|@CONFIG_DIR@|$etc|g" -e "s|@CACHE_DIR@|$cache|g" \
      -e "s|@BIN_DIR@|$(dirname "$bin")|g" -e "s|@HOST_MAP@|$host_map|"
  done
  # Its error page templates (body factory) come from the package, when it ships them.
  [ -d /etc/trafficserver/body_factory ] && ln -s /etc/trafficserver/body_factory "$etc/body_factory"
  trafficserver_dir="$dir"
  bench_spawn traffic_server "$dir/stdout.log" "" "$port" "$bin" --run-root="$etc/runroot.yaml"
}

# Version strings of the peers, from their binaries. The filters read all the output: a reader that
# stops early (head) can make the binary die of SIGPIPE, which pipefail turns into a failure.
haproxy_version() { "$1" -v 2>&1 | awk 'NR == 1 {print $3}'; }
nginx_version() { "$1" -v 2>&1 | sed 's|.*/||'; }
varnish_version() { "$1" -V 2>&1 | sed -n '1s/.*(varnish-\([^ ]*\).*/\1/p'; }
trafficserver_version() { "$1" -V 2>&1 | awk 'NR == 1 && $1 == "Traffic" {print $3}'; }

# ---------------------------------------------------------------- load
# to_ms VALUE: wrk's "792.00us" / "1.69ms" / "1.02s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

# wrk_run SECONDS CONNECTIONS URL [WRK_ARGS...] [-- SCRIPT_ARGS...]: one wrk -t1 run on the load
# CPU; prints "requests req_per_s p50_ms p90_ms p99_ms non2xx socket_errors".
wrk_run() {
  local out
  out="$(wrk_run_ext "$@")" || exit 1
  cut -d' ' -f1-7 <<<"$out"
}

# to_bytes VALUE: wrk's "1.23MB" (binary units: its KB is 1024 B) in bytes.
to_bytes() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /KB$/) n *= 1024; else if (v ~ /MB$/) n *= 1048576; else if (v ~ /GB$/) n *= 1073741824
    else if (v ~ /TB$/) n *= 1099511627776
    printf "%.0f", n }'
}

# wrk_run_ext ...: as wrk_run, and two more fields: "... mean_ms bytes_read", wrk's mean latency
# and the bytes it read (headers and bodies). A scenario script of bench/scenarios/ reports both
# exactly (its done() prints "bench-summary: ..."); otherwise they come from wrk's text, the bytes
# to three digits.
wrk_run_ext() {
  local seconds="$1" connections="$2" url="$3" out requests rps p50 p90 p99 non2xx errors mean bytes
  local -a options=() script_args=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
  [ $# -gt 0 ] && script_args=("$@")  # "--" and what follows
  out="$("${on_load_cpu[@]}" wrk -t1 -c"$connections" -d"${seconds}s" --latency "${options[@]}" "$url" \
    "${script_args[@]}" 2>&1)" \
    || { echo "$out" >&2; die "wrk failed against $url"; }
  requests="$(awk '/ requests in / {print $1}' <<<"$out")"
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p90="$(awk '$1 == "90%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
  errors="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")"
  if [ -z "$requests" ] || [ -z "$rps" ] || [ -z "$p50" ] || [ -z "$p99" ]; then
    echo "$out" >&2
    die "could not read wrk's output for $url"
  fi
  # "Latency   1.02ms  ..." (thread stats: avg, stdev, max) and "N requests in 1.00s, 1.23MB read".
  mean="$(to_ms "$(awk '$1 == "Latency" && NF >= 4 {print $2; exit}' <<<"$out")")"
  bytes="$(to_bytes "$(awk '/ requests in / {print $(NF - 1)}' <<<"$out")")"
  if grep -q '^bench-summary: ' <<<"$out"; then
    mean="$(awk '/^bench-summary: / {for (i = 2; i <= NF; i++) if ($i ~ /^mean_us=/) printf "%.3f", substr($i, 9) / 1000}' <<<"$out")"
    bytes="$(awk '/^bench-summary: / {for (i = 2; i <= NF; i++) if ($i ~ /^bytes=/) print substr($i, 7)}' <<<"$out")"
  fi
  echo "$requests $rps $(to_ms "$p50") $(to_ms "${p90:-$p99}") $(to_ms "$p99") ${non2xx:-0} ${errors:-0} ${mean:-0} ${bytes:-0}"
}

# current_load SAMPLES: how many tasks besides this one are runnable, averaged over SAMPLES
# readings 0.1 s apart (the 4th field of /proc/loadavg, "running/total", counts the reading shell
# itself, hence the - 1). This is the quantity the load average averages, taken now: the 1-minute
# average itself still carries the harness's own previous round (it decays with a 1-minute time
# constant, and a 500-connection Varnish run puts hundreds of runnable threads into it), so
# it would call every round after a busy one noisy. Prints the mean with two decimals.
current_load() {
  local samples="${1:-10}" i sum=0 running rest
  for (( i = 0; i < samples; i++ )); do
    read -r _ _ _ running rest </proc/loadavg || { echo 0; return 0; }
    sum=$(( sum + ${running%%/*} - 1 ))
    [ "$i" -lt $(( samples - 1 )) ] && sleep 0.1
  done
  awk -v s="$sum" -v n="$samples" 'BEGIN {v = s / n; if (v < 0) v = 0; printf "%.2f", v}'
}

# load_average: the 1-minute load average (for the record).
load_average() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo unknown; }

# sample_backend_requests PORT: the sample backend's request counter (/__stats does not count itself).
sample_backend_requests() {
  local out
  out="$(curl -sS --max-time 5 "http://127.0.0.1:$1/__stats" 2>&1)" || die "sample backend /__stats failed: $out"
  sed -n 's/.*"requests": *\([0-9][0-9]*\).*/\1/p' <<<"$out" | grep . || die "sample backend /__stats answered '$out'"
}

# admin_metric ADMIN_PORT EXPR: a figure from perfgate's /api/monitoring/metrics; EXPR is a Python
# expression over the parsed report `d` (d["global"]["requests"], d["l2"]["hits"]).
admin_metric() {
  curl -fsS "http://127.0.0.1:$1/api/monitoring/metrics" |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}

# ---------------------------------------------------------------- content codings
# http_fetch URL [ACCEPT_ENCODING]: one GET with that Accept-Encoding (none when empty); prints
# "status encoding wire_bytes identity_bytes cache": the Content-Encoding answered ("identity"
# when none), the body's bytes as sent, its length decoded (curl --compressed sends the field as
# given and decodes gzip, br and zstd) and the X-Cache or X-Cache-Status value ('-' when absent).
http_fetch() {
  local url="$1" accept="${2:-}" head="$run_dir/http_fetch.head" body="$run_dir/http_fetch.body"
  local out status wire encoding cache
  local args=(-sS --max-time 5 -D "$head" -o "$body" -w '%{http_code} %{size_download}')
  [ -n "$accept" ] && args+=(--compressed -H "Accept-Encoding: $accept")
  out="$(curl "${args[@]}" "$url" 2>&1)" || die "request to $url failed: $out"
  read -r status wire <<<"$out"
  encoding="$(awk -F': *' 'tolower($1) == "content-encoding" {gsub("\r", "", $2); print tolower($2)}' "$head")"
  cache="$(awk -F': *' 'tolower($1) == "x-cache" || tolower($1) == "x-cache-status" {gsub("\r", "", $2); print $2; exit}' "$head")"
  echo "$status ${encoding:-identity} $wire $(wc -c <"$body") ${cache:--}"
}

# await_coding URL ACCEPT_ENCODING CODING SECONDS: repeats http_fetch (every 0.2 s) until the
# answer is in CODING, for at most SECONDS; prints the last answer (http_fetch's fields) and
# returns 1 when it never was (2 when a request failed). perfgate makes the slow levels of a stored object (br 10-11, zstd
# 17+: the defaults) on its background encoder, which a request for that coding sets off; until
# it is done the object goes out in the client's best fast coding (gzip), or identity.
await_coding() {
  local url="$1" accept="$2" coding="$3" seconds="$4" out encoding deadline
  deadline=$(( SECONDS + seconds ))
  while :; do
    out="$(http_fetch "$url" "$accept")" || return 2
    read -r _ encoding _ <<<"$out"
    if [ "$encoding" = "$coding" ] || [ "$SECONDS" -ge "$deadline" ]; then break; fi
    sleep 0.2
  done
  echo "$out"
  [ "$encoding" = "$coding" ]
}

# median: the median of the numbers on stdin, one per line (empty when none).
median() {
  sort -g | awk '{v[NR] = $1} END {if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
