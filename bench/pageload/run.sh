#!/usr/bin/env bash
# Page load in a real browser: the sample site (/site/ of perfgate-sample-backend) loaded in
# headless Chromium directly from the backend and through perfgate (bench/conf/hits.toml), with a
# cold and a warm perfgate cache, reporting the medians of navigation timing and the bytes
# transferred (bench/pageload/pageload.mjs does the loading). Run with --help for the options.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/pageload/run.sh [options]

Loads the sample site in headless Chromium (playwright-core, Debian's chromium), N times each:
  direct          from the backend alone (it has no cache)
  perfgate-cold   through perfgate, its cache cleared before the load (POST /api/cache/clear)
  perfgate-warm   through perfgate, its cache filled by an unmeasured load just before
in rounds whose order is shuffled (seeded), each load in a fresh browser context (the browser's
cache is cold every time, and its connections new). Reports the medians of TTFB (responseStart -
requestStart of the document), DOMContentLoaded and load (the events' start), "app ready" (the
page's script has fetched /api/items and rendered it), bytes transferred (transferSize of the
document and of every resource) and the requests the backend answered per load.

The site: /site/ of perfgate-sample-backend, a shop front page (about 24 KB of HTML,
Cache-Control: public, max-age=60 with ETag) with 40 assets under versioned names (5 CSS,
11 JS, 8 SVG icons, 6 JPEG photos, 10 PNG images; 1-60 KB each, about 750 KB in all;
public, max-age=31536000, immutable) and one API call (GET /api/items, max-age=30).

HTTP/1.1 over plain TCP on 127.0.0.1 only: perfgate has no TLS or HTTP/2 yet, so neither the
TLS handshake nor HTTP/2 multiplexing is measured (Chromium opens up to 6 connections to a host).

Options:
  --loads N          measured loads per target (default 20)
  --seed N           seeds the order of the loads in each round (default 1)
  --network SPEC     none (default: loopback as it is, where transfer costs next to nothing),
                     cable (28 ms RTT, 5/1 Mbit/s), dsl (50 ms, 1.5 Mbit/s/384 kbit/s), 4g (170 ms,
                     9/9 Mbit/s), 3gfast (150 ms, 1.6 Mbit/s/768 kbit/s), or RTT_MS,DOWN_KBIT,UP_KBIT:
                     Chromium's network emulation (DevTools) on the measured loads. The RTT is a
                     floor per request (a backend delay below it does not show) and is not in TTFB
                     (Chromium holds back the body, not the response head)
  --backend-latency MS|MIN-MAX
                     the sample backend delays the page (/site/) and its /api/* answers (here:
                     /api/items) by MS (or uniformly MIN-MAX) ms, as an application renders them;
                     the assets are not delayed, as a web server sends files (default 0)
  --out DIR          where the results go (default BUILD_DIR/bench/pageload-<timestamp>)
  --build            build perfgate and the sample backend (Release) before running
  --no-build         never build; without either, only missing binaries are built
  -h, --help         this text

Output (DIR): report.txt (the table, also printed), report.md, report.json (medians, every
load, the definitions), loads.csv (every load), meta.txt. playwright-core is installed with
npm ci into BUILD_DIR/bench/pageload-node (again only when bench/pageload/package-lock.json
changes).
Placement (2 CPUs): perfgate and the backend on CPU 0, node and Chromium on CPU 1 (taskset).
Every server started is stopped when the script exits; each load times out after 30 s.
Environment: BENCH_BUILD_DIR (build-release) for the binaries.
Needs: node (18 or later) and npm, chromium, curl: scripts/deps.sh test installs them.
Exit status: 0 when every load passed its checks (every asset 200, every image decoded, the
API's items rendered, no script error), 1 otherwise, 77 when node, npm or chromium is missing.
EOF
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_init pageload
command_line="bench/pageload/run.sh${*:+ $*}"

loads=20
seed=1
network=none
backend_latency=""
out_dir=""
build=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --loads) loads="${2:?--loads needs a number}"; shift 2 ;;
    --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
    --network) network="${2:?--network needs a profile}"; shift 2 ;;
    --backend-latency) backend_latency="${2:?--backend-latency needs MS or MIN-MAX}"; shift 2 ;;
    --out) out_dir="${2:?--out needs a directory}"; shift 2 ;;
    --build) build=always; shift ;;
    --no-build) build=never; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
[[ "$loads" =~ ^[1-9][0-9]*$ ]] || die "--loads wants a positive integer, got '$loads'"
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed wants a number, got '$seed'"
[ -z "$backend_latency" ] || [[ "$backend_latency" =~ ^[0-9]+(-[0-9]+)?$ ]] \
  || die "--backend-latency wants MS or MIN-MAX, got '$backend_latency'"

browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "$bench_name: chromium is not installed (scripts/deps.sh test installs Debian's chromium): skipped" >&2
  exit 77
fi
command -v curl >/dev/null || die "curl is not installed"

build_dir="${BENCH_BUILD_DIR:-build-release}"
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
perfgate_bin="$build_dir/perfgate"
backend_bin="$build_dir/bench/perfgate-sample-backend"
build_targets=()
for pair in "perfgate:$perfgate_bin" "perfgate-sample-backend:$backend_bin"; do
  if [ "$build" = always ] || { [ "$build" = auto ] && [ ! -x "${pair#*:}" ]; }; then build_targets+=("${pair%%:*}"); fi
done
[ ${#build_targets[@]} -gt 0 ] && build_release "$build_dir" "${build_targets[@]}"
for bin in "$perfgate_bin" "$backend_bin"; do
  [ -x "$bin" ] || die "$bin is missing (build it, or drop --no-build)"
done

# playwright-core, pinned by package-lock.json (1.61: later releases need Node.js 20, Debian 12
# ships 18), installed into the build directory as tests/dashboard/check.sh does.
# shellcheck source=scripts/npm_workspace.sh
. "$root/scripts/npm_workspace.sh"
work="$build_dir/bench/pageload-node"
here="$root/bench/pageload"
npm_workspace "$work" playwright-core "$here/package.json" "$here/package-lock.json" "$here/pageload.mjs"

stamp="$(date -u +%Y%m%d-%H%M%S)"
out_dir="${out_dir:-$build_dir/bench/pageload-$stamp}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"

backend_port="$(free_port)"
perfgate_port="$(free_port)"
admin_port="$(free_port)"
latency_args=()
[ -n "$backend_latency" ] && latency_args=(--latency "$backend_latency")
start_sample_backend "$backend_bin" "$backend_port" "${latency_args[@]}"
start_perfgate "$perfgate_bin" "$root/bench/conf/hits.toml" "$perfgate_port" "$admin_port" "127.0.0.1:$backend_port"
# The backend generates the site on the first request for it: not during a measured load.
curl -sS --max-time 30 -o /dev/null "http://127.0.0.1:$backend_port/site/" || die "the backend does not serve /site/"

{
  echo "command=$command_line"
  if [ ${#on_load_cpu[@]} -gt 0 ]; then
    echo "placement=perfgate + backend on CPU 0, node + Chromium on CPU 1 (taskset)"
  else
    echo "placement=$placement"
  fi
  echo "backend=perfgate-sample-backend --threads 1${backend_latency:+ --latency $backend_latency}"
  echo "perfgate=$("$perfgate_bin" --version 2>&1 | awk 'NR == 1'), bench/conf/hits.toml (1 worker, compression level 6)"
  echo "chromium=$("$browser" --version 2>/dev/null | awk 'NR == 1')"
  echo "playwright=$(node -p "require('$work/node_modules/playwright-core/package.json').version" 2>/dev/null || echo unknown)"
  echo "load_average_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
} >"$out_dir/meta.txt"

log "loading http://127.0.0.1:$backend_port/site/ and http://127.0.0.1:$perfgate_port/site/ ($loads loads each, results in $out_dir)"
status=0
"${on_load_cpu[@]}" node "$work/pageload.mjs" --chromium "$browser" \
  --direct "http://127.0.0.1:$backend_port" --perfgate "http://127.0.0.1:$perfgate_port" \
  --admin "http://127.0.0.1:$admin_port" --loads "$loads" --seed "$seed" --network "$network" \
  --out "$out_dir" || status=$?
[ "$status" -eq 0 ] || log "pageload.mjs exited with status $status (results so far: $out_dir)"
exit "$status"
