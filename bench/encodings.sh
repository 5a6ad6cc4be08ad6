#!/usr/bin/env bash
# Bytes per content coding: what perfgate sends for the sample backend's HTML page and JavaScript
# bundle in identity, gzip, br and zstd, what the peers send a browser for the same objects, and
# the bytes of one page view of the page-load sample site through each. No load, no timing.
# Run with --help for the options.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/encodings.sh [options]

Measures bytes, not speed: what each target sends per response body, in each content coding,
for two cached objects of perfgate-sample-backend:
  /page               20 KB HTML (text/html, max-age=60)
  /assets/bundle.js   ~200 KB minified JavaScript (application/javascript, max-age=60)
and for one page view of the page-load sample site (bench/pageload/: /site/, the 40 assets it
links and its API call GET /api/items, 42 responses).

perfgate (bench/conf/hits.toml, one worker, cache on): each object once per coding, asked with
  Accept-Encoding: (none) / gzip / br / zstd   -> identity, gzip-6, br-11, zstd-19
and with a browser's "gzip, deflate, br, zstd" (it prefers zstd, then br, then gzip). br 11 and
zstd 19 are slow levels that perfgate's background encoder makes once per stored object: until it
has, the object goes out in the best fast coding the client takes (gzip) or identity. The script
asks again until the answer is in the coding asked for (bounded by --coding-wait), so every row is
what a warm cache sends; the browser's first answer (before the background encoder) is shown too.
Every answer is decoded and checked against the backend's identity body length.

The peers that are installed, configured as for bench/hits.sh (bench/peers/, bench/lib.sh), asked
with the browser's Accept-Encoding once their cache holds the object: nginx proxy_cache + gzip on
(level 6, per hit), Varnish (beresp.do_gzip, level 6, stored once), HAProxy cache + compression
filter (gzip; Debian's libslz has one level). A peer that is not installed is skipped and named.

The table: per object and target, the encoding and body bytes sent and their ratio to perfgate's
gzip-6 body of the same object; then the bytes per page view: the body bytes of the 42 responses
summed, per target (the backend directly and perfgate's first, cold-cache view included). Every
figure also goes to build-release/bench/encodings-<timestamp>.csv.

Options:
  --targets LIST     comma-separated subset of perfgate,nginx,varnish,haproxy (default: perfgate
                     and the peers that are installed)
  --coding-wait S    how long perfgate may take to make a slow coding of one object, or of all the
                     site's objects, in the background (default 60)
  --no-build         use the binaries already in the build directory instead of (re)building
  -h, --help         this text

Everything listens on 127.0.0.1 only (the servers on CPU 0 when there are two) and is stopped
when the script exits; every request times out after 5 s.

Environment: BENCH_BACKEND_PORT (18200), BENCH_PERFGATE_PORT (18280), BENCH_ADMIN_PORT (19921),
BENCH_NGINX_PORT (18281), BENCH_HAPROXY_PORT (18282), BENCH_VARNISH_PORT (18283);
BENCH_BUILD_DIR (build-release) for the binaries and the CSV.

Needs: cmake and a C++ toolchain, curl built with brotli and zstd (Debian's is); nginx, varnishd
(and a C compiler for its VCL) and haproxy when they are to be measured.
EOF
}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- options
targets_csv=""
coding_wait=60
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) targets_csv="${2:?--targets needs a value}"; shift 2 ;;
    --coding-wait) coding_wait="${2:?--coding-wait needs a value}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
[[ "$coding_wait" =~ ^[1-9][0-9]*$ ]] || die "--coding-wait wants a positive number of seconds, got '$coding_wait'"

bench_init encodings.sh
build_dir="${BENCH_BUILD_DIR:-build-release}"
perfgate_bin="$root/$build_dir/perfgate"
backend_bin="$root/$build_dir/bench/perfgate-sample-backend"

command -v curl >/dev/null || die "curl is not installed"
curl_features="$(curl --version)"
if ! grep -qw brotli <<<"$curl_features" || ! grep -qw zstd <<<"$curl_features"; then
  die "this curl cannot decode br and zstd (curl --version lists no brotli or zstd feature)"
fi
declare -A peer_bin=([nginx]="$(find_bin nginx)" [varnish]="$(find_bin varnishd)" [haproxy]="$(find_bin haproxy)")
skipped=()
if [ -z "$targets_csv" ]; then
  targets_csv=perfgate
  for peer in nginx varnish haproxy; do
    if [ -n "${peer_bin[$peer]}" ]; then targets_csv="$targets_csv,$peer"; else skipped+=("$peer"); fi
  done
fi
IFS=',' read -r -a targets <<< "$targets_csv"
[ ${#targets[@]} -gt 0 ] || die "--targets is empty"
for t in "${targets[@]}"; do
  case "$t" in
    perfgate) ;;
    nginx|varnish|haproxy) [ -n "${peer_bin[$t]}" ] || die "$t is not installed (scripts/deps.sh bench), or leave it out: --targets" ;;
    *) die "unknown target '$t' (perfgate, nginx, varnish, haproxy)" ;;
  esac
done
wants() { [[ ",$targets_csv," == *",$1,"* ]]; }

backend_port="${BENCH_BACKEND_PORT:-18200}"
perfgate_port="${BENCH_PERFGATE_PORT:-18280}"
admin_port="${BENCH_ADMIN_PORT:-19921}"
nginx_port="${BENCH_NGINX_PORT:-18281}"
haproxy_port="${BENCH_HAPROXY_PORT:-18282}"
varnish_port="${BENCH_VARNISH_PORT:-18283}"

# ---------------------------------------------------------------- build and start
if [ "$build" -eq 1 ]; then
  build_targets=(perfgate-sample-backend)
  wants perfgate && build_targets+=(perfgate)
  build_release "$root/$build_dir" "${build_targets[@]}"
fi
[ -x "$backend_bin" ] || die "$backend_bin is missing (build it, or drop --no-build)"
wants perfgate && { [ -x "$perfgate_bin" ] || die "$perfgate_bin is missing (build it, or drop --no-build)"; }

ports=("$backend_port")
wants perfgate && ports+=("$perfgate_port" "$admin_port")
wants nginx && ports+=("$nginx_port")
wants haproxy && ports+=("$haproxy_port")
wants varnish && ports+=("$varnish_port")
check_ports "${ports[@]}"

declare -A base
backend="127.0.0.1:$backend_port"
start_sample_backend "$backend_bin" "$backend_port"
base[direct]="http://$backend"
if wants perfgate; then
  start_perfgate "$perfgate_bin" "$root/bench/conf/hits.toml" "$perfgate_port" "$admin_port" "$backend"
  base[perfgate]="http://127.0.0.1:$perfgate_port"
fi
if wants nginx; then
  start_nginx "${peer_bin[nginx]}" "$root/bench/peers/nginx-cache.conf" "$nginx_port" "$backend"
  base[nginx]="http://127.0.0.1:$nginx_port"
fi
if wants varnish; then
  start_varnish "${peer_bin[varnish]}" "$varnish_port" "$backend" 8
  base[varnish]="http://127.0.0.1:$varnish_port"
fi
if wants haproxy; then
  start_haproxy "${peer_bin[haproxy]}" "$haproxy_port" "$backend"
  base[haproxy]="http://127.0.0.1:$haproxy_port"
fi

browser="gzip, deflate, br, zstd"
stamp="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$root/$build_dir/bench"
csv="$root/$build_dir/bench/encodings-$stamp.csv"
# One row per answer (responses 1) and per page view (responses 42: bytes summed, encoding the
# count per coding, text_bytes the HTML, CSS, JavaScript, JSON and SVG bodies).
echo "timestamp,object,target,accept_encoding,state,status,encoding,bytes,identity_bytes,ratio_vs_gzip6,responses,text_bytes" >"$csv"

# record OBJECT TARGET ACCEPT STATE STATUS ENCODING BYTES IDENTITY RATIO RESPONSES: one CSV row
# (a field with a comma or a quote is quoted).
record() {
  local line field
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for field in "$@"; do
    if [[ "$field" == *[,\"]* ]]; then field="\"${field//\"/\"\"}\""; fi
    line+=",$field"
  done
  echo "$line" >>"$csv"
}

# ---------------------------------------------------------------- one object per coding
objects=(/page /assets/bundle.js)
declare -A identity_of gzip6_of
rows=()  # "object|target|request|encoding|bytes" for the table

# row OBJECT TARGET REQUEST_LABEL ACCEPT STATE ANSWER: checks the answer (http_fetch's fields) and
# keeps it for the table and the CSV.
row() {
  local object="$1" target="$2" label="$3" accept="$4" state="$5" status encoding bytes identity cache ratio
  read -r status encoding bytes identity cache <<<"$6"
  [ "$status" = 200 ] || die "$target: $object answered $status ($label)"
  [ "$identity" = "${identity_of[$object]}" ] \
    || die "$target: $object decoded to $identity bytes ($encoding, $label), the backend's body has ${identity_of[$object]}"
  ratio="$(awk -v b="$bytes" -v g="${gzip6_of[$object]}" 'BEGIN {printf "%.3f", b / g}')"
  rows+=("$object|$target|$label|$encoding|$bytes|$ratio")
  record "$object" "$target" "${accept:-none}" "$state" "$status" "$encoding" "$bytes" "$identity" "$ratio" 1 ""
}

# cached TARGET OBJECT ACCEPT: asks until the target says it answered from its cache (nginx writes
# its cache file when the first response ends).
cached() {
  local out cache
  for _ in $(seq 1 20); do
    out="$(http_fetch "${base[$1]}$2" "$3")"
    read -r _ _ _ _ cache <<<"$out"
    [ "$cache" = HIT ] && return 0
    sleep 0.2
  done
  die "$1: ${base[$1]}$2 is not served from its cache (X-Cache/X-Cache-Status: '$cache')"
}

for object in "${objects[@]}"; do
  read -r status _ _ identity _ <<<"$(http_fetch "${base[direct]}$object")"
  [ "$status" = 200 ] || die "the backend answered $status for $object"
  identity_of[$object]="$identity"
  if wants perfgate; then
    url="${base[perfgate]}$object"
    # The browser's first request is a miss: stored in gzip, the fast coding it takes.
    first="$(http_fetch "$url" "$browser")"
    read -r _ _ gzip6 _ <<<"$(http_fetch "$url" gzip)"
    gzip6_of[$object]="$gzip6"
    row "$object" perfgate "browser, first answer" "$browser" first "$first"
    row "$object" perfgate "(none)" "" warm "$(http_fetch "$url")"
    row "$object" perfgate "gzip (level 6)" gzip warm "$(http_fetch "$url" gzip)"
    for coding in br zstd; do
      log "perfgate: waiting (up to ${coding_wait}s) until $object is answered in $coding"
      out="$(await_coding "$url" "$coding" "$coding" "$coding_wait")" \
        || die "perfgate: $object is still answered $(awk '{print $2}' <<<"$out") after ${coding_wait}s, not $coding"
      label="br (level 11)"
      [ "$coding" = zstd ] && label="zstd (level 19)"
      row "$object" perfgate "$label" "$coding" warm "$out"
    done
    out="$(await_coding "$url" "$browser" zstd "$coding_wait")" \
      || log "perfgate: $object still goes out in $(awk '{print $2}' <<<"$out") to the browser after ${coding_wait}s"
    row "$object" perfgate "browser, warm" "$browser" warm "$out"
  else
    # Without perfgate, gzip 6 as the sample backend's zlib makes it (deflate.h) is the reference.
    gzip6_of[$object]="$(curl -sS --max-time 5 "${base[direct]}$object" | gzip -6 -n | wc -c)"
  fi
  for t in nginx varnish haproxy; do
    wants "$t" || continue
    cached "$t" "$object" "$browser"
    row "$object" "$t" "browser" "$browser" warm "$(http_fetch "${base[$t]}$object" "$browser")"
  done
done

# ---------------------------------------------------------------- one page view
# The page, every /site/assets/ URL it links (its meta perfgate-site-assets says how many) and
# the API call its script makes.
site_html="$(curl -sS --max-time 30 "${base[direct]}/site/")" || die "the backend does not serve /site/"
expected_assets="$(sed -n 's/.*name="perfgate-site-assets" content="\([0-9]*\)".*/\1/p' <<<"$site_html")"
mapfile -t assets < <(grep -o '/site/assets/[^"]*' <<<"$site_html" | sort -u)
[ "${#assets[@]}" = "$expected_assets" ] \
  || die "/site/ links ${#assets[@]} assets, its meta perfgate-site-assets says '$expected_assets'"
view_paths=(/site/ "${assets[@]}" /api/items)

# page_view BASE ACCEPT: fetches every response of the view once (one connection, in order);
# prints "responses body_bytes text_bytes non_200 encodings": text_bytes of the responses whose
# type the bench's compression policy covers (HTML, CSS, JavaScript, JSON, SVG; the rest are PNG
# and JPEG images), encodings as "zstd:26,identity:16".
page_view() {
  local args=(-sS --max-time 30 -w '%{http_code}|%{size_download}|%header{content-encoding}|%{content_type}\n') path
  [ -n "$2" ] && args+=(--compressed -H "Accept-Encoding: $2")
  for path in "${view_paths[@]}"; do args+=(-o /dev/null "$1$path"); done
  curl "${args[@]}" | awk -F'|' '
    {
      n++; bytes += $2; if ($1 != 200) bad++
      e = ($3 == "" ? "identity" : tolower($3)); count[e]++
      if (tolower($4) ~ /^(text\/|application\/(javascript|json)|image\/svg\+xml)/) text += $2
    }
    END {
      list = ""
      for (e in count) list = list (list == "" ? "" : ",") e ":" count[e]
      printf "%d %d %d %d %s\n", n, bytes, text, bad + 0, list
    }'
}

view_rows=()  # "target|label|responses|bytes|text_bytes|encodings"
# view TARGET LABEL ACCEPT STATE RESULT: checks and keeps one page view.
view() {
  local responses bytes text bad encodings
  read -r responses bytes text bad encodings <<<"$5"
  [ "$bad" = 0 ] || die "$1: $bad of the page view's $responses responses were not 200"
  [ "$responses" = "${#view_paths[@]}" ] || die "$1: the page view got $responses responses of ${#view_paths[@]}"
  view_rows+=("$1|$2|$responses|$bytes|$text|$encodings")
  record "page view (/site/)" "$1" "${3:-none}" "$4" 200 "$encodings" "$bytes" "$view_identity" "" "$responses" "$text"
}

read -r _ view_identity view_identity_text _ <<<"$(page_view "${base[direct]}" "")"
view direct "no Accept-Encoding" "" identity "$(page_view "${base[direct]}" "")"
view direct "browser" "$browser" direct "$(page_view "${base[direct]}" "$browser")"
if wants perfgate; then
  view perfgate "browser, first view (cold cache)" "$browser" first "$(page_view "${base[perfgate]}" "$browser")"
  # Warm: asked again until no response goes out in gzip any more (each compressible one is made
  # in zstd by the background encoder, set off by the requests for it).
  log "perfgate: waiting (up to ${coding_wait}s) until the page view is answered in zstd"
  deadline=$(( SECONDS + coding_wait ))
  while :; do
    result="$(page_view "${base[perfgate]}" "$browser")"
    [[ "$result" != *gzip:* ]] && break
    [ "$SECONDS" -ge "$deadline" ] && { log "perfgate: part of the page view still goes out in gzip after ${coding_wait}s"; break; }
    sleep 0.5
  done
  view perfgate "browser, warm" "$browser" warm "$result"
fi
for t in nginx varnish haproxy; do
  wants "$t" || continue
  page_view "${base[$t]}" "$browser" >/dev/null  # fills the cache
  view "$t" "browser, warm" "$browser" warm "$(page_view "${base[$t]}" "$browser")"
done

# ---------------------------------------------------------------- report
echo
echo "perfgate encodings: bytes per response body, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "browser Accept-Encoding: \"$browser\"; every answer decoded and checked against the backend's body"
wants perfgate && echo "perfgate: --workers 1, bench/conf/hits.toml (gzip level 6, br_level 11, zstd_level 19; br and zstd made by 1 background thread)"
wants nginx && echo "nginx: $(nginx_version "${peer_bin[nginx]}"), proxy_cache + gzip on, gzip_comp_level 6 (bench/peers/nginx-cache.conf)"
wants varnish && echo "varnish: $(varnish_version "${peer_bin[varnish]}"), beresp.do_gzip, gzip_level 6 (bench/peers/varnish-cache.vcl)"
wants haproxy && echo "haproxy: $(haproxy_version "${peer_bin[haproxy]}"), cache + compression filter, $haproxy_gzip (bench/peers/haproxy-cache.cfg)"
[ ${#skipped[@]} -gt 0 ] && echo "not installed, skipped: ${skipped[*]}"
gzip_ref="perfgate's gzip-6"
wants perfgate || gzip_ref="gzip -6 of the backend's body"
echo
for object in "${objects[@]}"; do
  echo "$object (${identity_of[$object]} B identity); ratio: bytes / $gzip_ref (${gzip6_of[$object]} B)"
  printf '  %-9s %-24s %-9s %10s %9s\n' target "Accept-Encoding" encoding bytes "/ gzip-6"
  for r in "${rows[@]}"; do
    IFS='|' read -r o t label encoding bytes ratio <<<"$r"
    [ "$o" = "$object" ] || continue
    printf '  %-9s %-24s %-9s %10s %9s\n' "$t" "$label" "$encoding" "$bytes" "$ratio"
  done
  echo
done

echo "bytes per page view: /site/ + ${#assets[@]} assets + /api/items (${#view_paths[@]} responses), body bytes summed;"
echo "text: the HTML, CSS, JavaScript, JSON and SVG among them ($view_identity_text B of $view_identity identity; the rest are PNG and JPEG)"
printf '  %-9s %-34s %11s %11s %11s %9s   %s\n' target "Accept-Encoding" "body bytes" "/ identity" "text bytes" "/ identity" "encodings (responses)"
for r in "${view_rows[@]}"; do
  IFS='|' read -r t label responses bytes text encodings <<<"$r"
  printf '  %-9s %-34s %11s %11s %11s %9s   %s\n' "$t" "$label" "$bytes" \
    "$(awk -v b="$bytes" -v i="$view_identity" 'BEGIN {printf "%.3f", b / i}')" "$text" \
    "$(awk -v b="$text" -v i="$view_identity_text" 'BEGIN {printf "%.3f", b / i}')" "${encodings//,/, }"
done
echo
echo "CSV: ${csv#"$root"/}"
