#!/usr/bin/env bash
# The mixed journey as Locust users (bench/locust/locustfile.py), against the sample backend alone
# and through perfgate, at staged user levels, interleaved. Run with --help for the options.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/locust/run.sh [options]

Starts perfgate-sample-backend and perfgate (bench/conf/hits.toml) and runs Locust headless
(bench/locust/locustfile.py: the seven tasks of the mixed journey as shop visitors with think
time, a session cookie and Accept-Encoding: gzip) against two targets:
  direct    the sample backend alone
  perfgate  perfgate in front of it
at each user level. Each level is a separate headless Locust run per target, and the two targets
take turns at each level (the one that goes first alternates from level to level and round to
round), so a drift of the machine hits both. A run spawns its users at --spawn-rate, each logs
in, then it measures for about --duration seconds: the statistics are reset once the last user
has logged in, and Locust runs for the spawning time plus --duration. perfgate keeps its cache
from one level to the next, as a running server does.

Before the levels, a probe run per target (1 user, 3 s) checks that the journey answers without
a failure, that the session cookie from the login comes back with the next request and that
Accept-Encoding: gzip is sent (GET /echo, the backend's echo of the request).

Options:
  --levels LIST        users per level (default 10,50,100,250,500)
  --duration S         measured seconds per level and target (default 60)
  --spawn-rate R       users started per second (default 50)
  --rounds N           runs per level and target, interleaved; the report takes medians (default 1)
  --wait MIN-MAX       think time between tasks, seconds, uniform (default 1-3)
  --client NAME        fast (FastHttpUser, geventhttpclient; default) or requests (HttpUser)
  --backend-latency MS|MIN-MAX
                       the sample backend delays its /api/* answers by MS (or uniformly MIN-MAX)
                       ms, as an application with a database does (default 0)
  --out DIR            where the results go (default BUILD_DIR/bench/locust-<timestamp>)
  -h, --help           this text

Output (DIR):
  runs.csv                  one line per Locust run: level, round, target, position, load before,
                            Locust's CPU time, the servers' CPU time, the backend's request count
  meta.txt                  the machine, versions and settings
  u<USERS>-r<ROUND>-<TARGET>_*.csv   Locust's CSVs of each run (--csv), kept raw, and
                            _stats_final.csv (Locust's figures at the end), _latency.csv (full-
                            resolution percentiles) and _extra.json (X-Cache answers) from the
                            locustfile; .log is Locust's output
  probe-<TARGET>_*          the probe runs
  report.txt / report.md    direct and perfgate side by side per task and level
  plot.png                  p95 per level, per task and target (gnuplot)

CPU placement (2 or more CPUs): the sample backend (one thread) and perfgate (one worker) on
CPU 0, Locust (one process) on CPU 1 (taskset). Locust, a Python process, costs far more CPU per
request than the servers it measures: runs.csv and the report show its CPU use, and a run where it
used 90% of its core or more is flagged, since its response times then include its own waiting.

Environment: BENCH_BUILD_DIR (build-release) for the binaries; BENCH_SEED (1) seeds the users'
draws. Never builds: build-release/perfgate and build-release/bench/perfgate-sample-backend must
exist (cmake --build build-release --target perfgate perfgate-sample-backend).
Needs: locust (Debian python3-locust; scripts/deps.sh bench), curl, taskset, python3, gnuplot.
Everything listens on 127.0.0.1 and is stopped when the script exits.
EOF
}

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

levels_arg="10,50,100,250,500"
duration=60
spawn_rate=50
rounds=1
wait_arg="1-3"
client=fast
backend_latency=""
out_dir=""
command_line="bench/locust/run.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --levels) levels_arg="${2:?--levels needs a list}"; shift 2 ;;
    --duration) duration="${2:?--duration needs seconds}"; shift 2 ;;
    --spawn-rate) spawn_rate="${2:?--spawn-rate needs users per second}"; shift 2 ;;
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    --wait) wait_arg="${2:?--wait needs MIN-MAX}"; shift 2 ;;
    --client) client="${2:?--client needs fast or requests}"; shift 2 ;;
    --backend-latency) backend_latency="${2:?--backend-latency needs MS or MIN-MAX}"; shift 2 ;;
    --out) out_dir="${2:?--out needs a directory}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench/locust/run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

bench_name="bench/locust/run.sh"
[[ "$levels_arg" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--levels wants positive numbers separated by commas, got '$levels_arg'"
[[ "$duration" =~ ^[1-9][0-9]*$ ]] || die "--duration wants whole seconds, got '$duration'"
[[ "$spawn_rate" =~ ^[1-9][0-9]*$ ]] || die "--spawn-rate wants a whole number of users per second, got '$spawn_rate'"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive number, got '$rounds'"
[[ "$wait_arg" =~ ^([0-9]+(\.[0-9]+)?)-([0-9]+(\.[0-9]+)?)$ ]] || die "--wait wants MIN-MAX seconds, got '$wait_arg'"
wait_min="${BASH_REMATCH[1]}"
wait_max="${BASH_REMATCH[3]}"
awk -v a="$wait_min" -v b="$wait_max" 'BEGIN {exit !(a <= b)}' || die "--wait: MIN is above MAX"
case "$client" in fast|requests) ;; *) die "--client wants fast or requests, got '$client'" ;; esac
[ -z "$backend_latency" ] || [[ "$backend_latency" =~ ^[0-9]+(-[0-9]+)?$ ]] \
  || die "--backend-latency wants MS or MIN-MAX, got '$backend_latency'"
IFS=, read -r -a levels <<<"$levels_arg"

command -v locust >/dev/null || die "locust is not installed (Debian: apt-get install python3-locust, or scripts/deps.sh bench)"
command -v curl >/dev/null || die "curl is not installed"

bench_init locust
bench_name="bench/locust/run.sh"
build_dir="${BENCH_BUILD_DIR:-build-release}"
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
perfgate_bin="$build_dir/perfgate"
backend_bin="$build_dir/bench/perfgate-sample-backend"
for bin in "$perfgate_bin" "$backend_bin"; do
  [ -x "$bin" ] || die "$bin is missing: build it first (cmake --build $build_dir --target perfgate perfgate-sample-backend); this script never builds"
done
locustfile="$root/bench/locust/locustfile.py"
seed="${BENCH_SEED:-1}"

stamp="$(date -u +%Y%m%d-%H%M%S)"
out_dir="${out_dir:-$build_dir/bench/locust-$stamp}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"

backend_port="$(free_port)"
perfgate_port="$(free_port)"
admin_port="$(free_port)"
latency_args=()
[ -n "$backend_latency" ] && latency_args=(--latency "$backend_latency")
start_sample_backend "$backend_bin" "$backend_port" "${latency_args[@]}"
backend_pid="$spawned_pid"
start_perfgate "$perfgate_bin" "$root/bench/conf/hits.toml" "$perfgate_port" "$admin_port" "127.0.0.1:$backend_port"
perfgate_pid="$spawned_pid"
declare -A target_url=([direct]="http://127.0.0.1:$backend_port" [perfgate]="http://127.0.0.1:$perfgate_port")

clk_tck="$(getconf CLK_TCK)"
# cpu_ticks PID: user + system CPU time of a process so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
ticks_to_s() { awk -v t="$1" -v hz="$clk_tck" 'BEGIN {printf "%.2f", t / hz}'; }

# locust_run PREFIX URL USERS SPAWN_RATE RUN_TIME_S [NAME=VALUE...]: one headless Locust run on the
# load CPU, bounded by its --run-time (and by timeout, should it hang), with the locustfile's
# settings (NAME=VALUE overrides them); sets locust_rc and locust_times ("user_s sys_s wall_s",
# bash's time of the run). Locust runs under timeout in the background, and the script waits for
# it: an interrupted script stops it at once (bench_cleanup sends timeout a TERM, which timeout
# passes on to Locust).
locust_run() {
  local prefix="$1" url="$2" users="$3" rate="$4" run_time="$5" pid
  shift 5
  rm -f "$prefix.time"
  env BENCH_LOCUST_WAIT_MIN="$wait_min" BENCH_LOCUST_WAIT_MAX="$wait_max" BENCH_LOCUST_CLIENT="$client" \
      BENCH_SEED="$seed" BENCH_LOCUST_RESET_AFTER_START=1 "$@" \
    timeout --kill-after=10 $(( run_time + 60 )) \
      bash -c 'TIMEFORMAT="%U %S %R"; { time "$@" >"$0.log" 2>&1; } 2>"$0.time"' "$prefix" \
        "${on_load_cpu[@]}" locust -f "$locustfile" --headless --only-summary --host "$url" \
          --users "$users" --spawn-rate "$rate" --run-time "${run_time}s" --stop-timeout 0 --csv "$prefix" &
  pid=$!
  bench_pids+=("$pid")
  locust_rc=0
  wait "$pid" || locust_rc=$?
  bench_stop "$pid"
  locust_times="$(cat "$prefix.time" 2>/dev/null || echo "0 0 0")"
  rm -f "$prefix.time"
  if [ ! -s "${prefix}_stats_final.csv" ]; then
    tail -n 30 "$prefix.log" >&2
    die "locust did not finish its run against $url (exit $locust_rc; log $prefix.log)"
  fi
}

# The probe: one user per target, 3 s, the cookie and gzip checked by the locustfile (GET /echo).
for target in direct perfgate; do
  log "probe: $target (1 user, 3 s, cookie and Accept-Encoding checked)"
  prefix="$out_dir/probe-$target"
  locust_run "$prefix" "${target_url[$target]}" 1 1 3 BENCH_LOCUST_PROBE=1 BENCH_LOCUST_WAIT_MIN=0.1 BENCH_LOCUST_WAIT_MAX=0.3 \
    BENCH_LOCUST_RESET_AFTER_START=0
  python3 - "${prefix}_stats_final.csv" "$target" <<'EOF' || die "probe against $target failed (see $prefix.log and ${prefix}_failures_final.csv)"
import csv, sys
rows = {r["Name"]: r for r in csv.DictReader(open(sys.argv[1]))}
probe, total = rows.get("probe GET /echo"), rows.get("Aggregated")
if not probe or int(probe["Request Count"]) < 1:
    sys.exit(f"probe {sys.argv[2]}: no GET /echo request was made")
if int(total["Failure Count"]) > 0:
    sys.exit(f"probe {sys.argv[2]}: {total['Failure Count']} of {total['Request Count']} requests failed")
print(f"probe {sys.argv[2]}: {total['Request Count']} requests, none failed; cookie and gzip sent", file=sys.stderr)
EOF
done

runs_csv="$out_dir/runs.csv"
echo "users,round,target,position,spawn_rate,run_time_s,measured_s,started,load_before,load_average_1m,locust_user_s,locust_sys_s,locust_wall_s,locust_cpu_pct,backend_cpu_s,perfgate_cpu_s,backend_requests,locust_exit,prefix" >"$runs_csv"
total_runs=$(( ${#levels[@]} * rounds * 2 ))
n=0
for i in "${!levels[@]}"; do
  users="${levels[$i]}"
  ramp=$(( (users + spawn_rate - 1) / spawn_rate ))
  run_time=$(( ramp + duration ))
  for (( round = 1; round <= rounds; round++ )); do
    if (( (i + round) % 2 == 1 )); then order=(direct perfgate); else order=(perfgate direct); fi
    for position in 1 2; do
      target="${order[$((position - 1))]}"
      n=$(( n + 1 ))
      prefix="$out_dir/u$users-r$round-$target"
      run_load="$(current_load 10)"
      log "run $n/$total_runs: $users users, round $round, $target (${run_time} s: ~$ramp s spawning, $duration s measured; $run_load other tasks runnable)"
      backend_before="$(sample_backend_requests "$backend_port")"
      backend_ticks="$(cpu_ticks "$backend_pid")"
      perfgate_ticks="$(cpu_ticks "$perfgate_pid")"
      run_started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
      locust_run "$prefix" "${target_url[$target]}" "$users" "$spawn_rate" "$run_time"
      backend_ticks=$(( $(cpu_ticks "$backend_pid") - backend_ticks ))
      perfgate_ticks=$(( $(cpu_ticks "$perfgate_pid") - perfgate_ticks ))
      backend_seen=$(( $(sample_backend_requests "$backend_port") - backend_before ))
      read -r l_user l_sys l_wall <<<"$locust_times"
      l_pct="$(awk -v u="$l_user" -v s="$l_sys" -v w="$l_wall" 'BEGIN {printf "%.1f", (w > 0 ? 100 * (u + s) / w : 0)}')"
      echo "$users,$round,$target,$position,$spawn_rate,$run_time,$duration,$run_started,$run_load,$(load_average),$l_user,$l_sys,$l_wall,$l_pct,$(ticks_to_s "$backend_ticks"),$(ticks_to_s "$perfgate_ticks"),$backend_seen,$locust_rc,$(basename "$prefix")" >>"$runs_csv"
    done
  done
done

{
  echo "command=$command_line"
  echo "started=$started"
  echo "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "load_average_before=$load_before"
  echo "load_average_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
  echo "cpus=$(nproc)"
  echo "cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
  echo "memory=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)"
  echo "kernel=$(uname -sr)"
  echo "placement=${placement/wrk -t1/Locust (one process)}"
  echo "backend=perfgate-sample-backend --threads 1${backend_latency:+ --latency $backend_latency} (127.0.0.1:$backend_port)"
  echo "perfgate=bench/conf/hits.toml, --workers 1 (127.0.0.1:$perfgate_port)"
  echo "levels=${levels[*]}"
  echo "rounds=$rounds"
  echo "duration_s=$duration"
  echo "spawn_rate=$spawn_rate"
  echo "wait_s=$wait_min-$wait_max"
  echo "client=$client"
  echo "seed=$seed"
  echo "version.locust=$(dpkg-query -W -f='${Version}' python3-locust 2>/dev/null || locust --version 2>&1 | head -n 1)"
  echo "version.perfgate=$("$perfgate_bin" --version 2>&1 | awk 'NR == 1')"
  echo "version.commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
} >"$out_dir/meta.txt"

python3 "$root/bench/locust/report.py" "$out_dir" || die "the report failed (results so far: $out_dir)"
cat "$out_dir/report.txt"
log "results in $out_dir"
