#!/usr/bin/env bash
# Checks the Prometheus and Grafana files of docker/ with promtool, and perfgate's exposition:
#  - docker/prometheus/perfgate-rules.yml: `promtool check rules`, and its unit tests
#    `promtool test rules docker/prometheus/perfgate-rules.test.yml`;
#  - docker/prometheus/prometheus.yml: `promtool check config` on a copy laid out as
#    docker/compose.yml mounts it into /etc/prometheus (so rule_files resolve as in the container),
#    and it scrapes the compose perfgate services on the port of their [metrics] listen;
#  - docker/grafana/perfgate.json: valid JSON, a dashboard (schemaVersion, uid, unique panel ids,
#    every query on the ${DS_PROMETHEUS} data source), every PromQL expression valid (promtool, with
#    Grafana's variables filled in) and naming only the metrics of METRICS below; the alert rules
#    name only those metrics too;
#  - with PERFGATE_BINARY: perfgate started on loopback ports (a backend that refuses, an L2 that
#    is down), its /metrics (admin listener: its port is on the ready line) through
#    `promtool check metrics`, which must report nothing; and the exposition must carry every family
#    of METRICS with the labels the rules and dashboard group by.
# Exit 0 all good, 1 on a failure, 77 (skip) without promtool or python3 (with its yaml module).
# Usage: tests/ops/promtool_check.sh [PERFGATE_BINARY]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:+$(realpath "$1")}
# shellcheck source=docker/lib.sh
. "$root/docker/lib.sh"
for tool in promtool python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (scripts/deps.sh test installs prometheus and python3)"; exit 77; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: python3 has no yaml module (package python3-yaml)"; exit 77; }
rules="$root/docker/prometheus/perfgate-rules.yml"
rules_test="$root/docker/prometheus/perfgate-rules.test.yml"
prom_config="$root/docker/prometheus/prometheus.yml"
dashboard="$root/docker/grafana/perfgate.json"
compose="$root/docker/compose.yml"

# The metrics perfgate exposes that the dashboard and the rules may use: "NAME TYPE LABELS"
# (LABELS: the label names of its samples, comma-separated, "-" for none; a histogram's `le` and
# its _bucket/_sum/_count series are implied).
METRICS=(
  "perfgate_requests_total counter code,method,route"
  "perfgate_request_duration_seconds histogram route"
  "perfgate_gateway_errors_total counter kind,route"
  "perfgate_cache_requests_total counter result,route"
  "perfgate_cache_bytes gauge -"
  "perfgate_cache_max_bytes gauge -"
  "perfgate_cache_entries gauge -"
  "perfgate_cache_evictions_total counter -"
  "perfgate_cache_not_stored_total counter reason,route"
  "perfgate_upstream_requests_total counter upstream"
  "perfgate_upstream_errors_total counter kind,upstream"
  "perfgate_upstream_response_seconds histogram upstream"
  "perfgate_upstream_up gauge upstream"
  "perfgate_upstream_connections gauge state,upstream"
  "perfgate_upstream_queue_depth gauge upstream"
  "perfgate_l2_lookups_total counter result"
  "perfgate_l2_up gauge -"
  "perfgate_access_log_lines_total counter -"
  "perfgate_access_log_dropped_total counter -"
  "perfgate_ready gauge -"
  "perfgate_compression_responses_total counter coding"
  "perfgate_compression_bytes_total counter coding,direction"
  "perfgate_compression_decoded_total counter coding"
  "perfgate_compression_background_total counter result"
  "perfgate_compression_background_queued gauge -"
  "perfgate_cache_variants_recoded_total counter -"
  "perfgate_build_info gauge version"
  "process_cpu_seconds_total counter -"
  "process_resident_memory_bytes gauge -"
  "process_open_fds gauge -"
  "process_max_fds gauge -"
)
# Label values the rules and the dashboard select on: "NAME LABEL VALUE|VALUE...".
LABEL_VALUES=(
  "perfgate_cache_requests_total result hit|miss|expired|revalidated|stale|bypass"
  "perfgate_upstream_errors_total kind timeout|refused|reset|parse|other"
  "perfgate_l2_lookups_total result hit|miss|timeout|unavailable|corrupt|error"
  "perfgate_upstream_connections state idle|busy"
  "perfgate_compression_bytes_total direction in|out"
  "perfgate_compression_bytes_total coding gzip|br|zstd"
  "perfgate_compression_background_total result submitted|stored|dropped|superseded|failed"
)

tmp=$(mktemp -d)
pid="" watchdog=""
cleanup() {
  [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
metric_list="$tmp/metrics.txt"
printf '%s\n' "${METRICS[@]}" > "$metric_list"
printf '%s\n' "${LABEL_VALUES[@]}" > "$tmp/label_values.txt"

# --- rules
if out=$(promtool check rules "$rules" 2>&1); then ok "promtool check rules: $(grep -o '[0-9]* rules found' <<<"$out")"; else fail "promtool check rules: $out"; fi
if out=$(promtool test rules "$rules_test" 2>&1); then ok "promtool test rules $(basename "$rules_test"): SUCCESS"; else fail "promtool test rules: $out"; fi
for alert in PerfgateHitRatioDrop PerfgateHigh5xxRate PerfgateUpstreamDown PerfgateCacheNearlyFull PerfgateP99AboveSLO \
             PerfgateNotReady PerfgateAccessLogDropping; do
  grep -qE "^[[:space:]]+- alert: $alert\$" "$rules" || fail "rule $alert missing"
  # Every alert has a test that makes it fire (exp_alerts with labels) and one where it stays silent.
  tests=$(awk -v a="$alert" '$0 ~ "alertname: " a "$" { getline; print }' "$rules_test")
  grep -q 'exp_alerts: \[\]' <<<"$tests" && grep -q 'exp_alerts:$' <<<"$tests" &&
    ok "$alert: unit tests where it fires and where it does not" || fail "$alert: no unit test both firing and silent"
done
# Each alert has a severity label and summary/description annotations.
if out=$(python3 - "$rules" <<'EOF'
import sys, yaml
bad = []
for group in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for rule in group["rules"]:
        if "alert" not in rule:
            continue
        if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            bad.append(f'{rule["alert"]}: severity label')
        for key in ("summary", "description"):
            if not rule.get("annotations", {}).get(key):
                bad.append(f'{rule["alert"]}: {key} annotation')
print("; ".join(bad))
sys.exit(1 if bad else 0)
EOF
); then ok "every alert has a severity label and summary/description annotations"; else fail "missing: $out"; fi

# --- prometheus.yml, laid out as compose mounts it
mkdir -p "$tmp/etc-prometheus"
mounts=$(sed -n 's#^ *- \./prometheus/\([^:]*\):/etc/prometheus/\([^:]*\):ro$#\1 \2#p' "$compose")
[ -n "$mounts" ] || fail "docker/compose.yml mounts nothing from prometheus/ into /etc/prometheus"
while read -r src dst; do
  [ -n "$src" ] || continue
  cp "$root/docker/prometheus/$src" "$tmp/etc-prometheus/$dst" || fail "compose mounts prometheus/$src, which does not exist"
done <<<"$mounts"
if out=$(cd "$tmp" && promtool check config etc-prometheus/prometheus.yml 2>&1); then
  ok "promtool check config prometheus.yml (as mounted by compose: $(grep -o '[0-9]* rule files found' <<<"$out"))"
else
  fail "promtool check config: $out"
fi
# The scrape targets are the compose perfgate services, on the port of [metrics] listen of the
# config compose mounts into them.
mounted_toml=$(sed -n 's#^ *- \./\([^:]*\):/etc/perfgate/perfgate.toml.*#\1#p' "$compose" | head -n1)
metrics_port=$(awk '/^\[/ { section = $0 } section == "[metrics]" && /^listen *=/ { gsub(/[" ]/, "", $3); sub(/.*:/, "", $3); print $3 }' \
               "$root/docker/${mounted_toml:-perfgate.toml}" | head -n1)
if [ -z "$metrics_port" ]; then
  fail "docker/${mounted_toml:-perfgate.toml} has no [metrics] listen"
else
  for service in $(sed -n 's/^  \(perfgate-[a-z0-9]*\):$/\1/p' "$compose"); do
    grep -qE "^[[:space:]]+- $service:$metrics_port\$" "$prom_config" &&
      ok "prometheus.yml scrapes $service:$metrics_port ([metrics] listen of docker/$mounted_toml)" ||
      fail "prometheus.yml does not scrape $service:$metrics_port"
  done
fi

# --- the dashboard, and the metric names in the rules
# Writes the dashboard's expressions as recording rules (Grafana variables filled in) to
# $tmp/dashboard-rules.yml for promtool, and checks structure and metric names.
if out=$(python3 - "$dashboard" "$rules" "$metric_list" "$tmp/dashboard-rules.yml" <<'EOF'
import json, re, sys, yaml
dashboard_path, rules_path, metrics_path, out_path = sys.argv[1:5]
problems = []
known = {}
for line in open(metrics_path):
    name, kind, _ = line.split()
    known[name] = kind
allowed = set()
for name, kind in known.items():
    allowed.add(name)
    if kind == "histogram":
        allowed.update(name + s for s in ("_bucket", "_sum", "_count"))

NAME = re.compile(r"(?<![A-Za-z0-9_:])((?:perfgate|process)_[A-Za-z0-9_]*)")
def names(expr):
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)      # not inside label values
    expr = re.sub(r"#[^\n]*", "", expr)                   # PromQL comments
    return set(NAME.findall(expr))

try:
    d = json.load(open(dashboard_path))
except ValueError as e:
    print(f"{dashboard_path} is not JSON: {e}")
    sys.exit(1)
if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
    problems.append(f"schemaVersion {d.get('schemaVersion')!r} (want 36 or later)")
for key in ("uid", "title"):
    if not d.get(key):
        problems.append(f"no {key}")
variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
ds = variables.get("DS_PROMETHEUS")
if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    problems.append("no data source variable DS_PROMETHEUS of type prometheus")

def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
panels = list(walk(d.get("panels", [])))
ids = [p.get("id") for p in panels]
if len(ids) != len(set(ids)) or None in ids:
    problems.append(f"panel ids not unique: {ids}")
queries = []   # (where, promql)
for p in panels:
    if p.get("type") == "row":
        continue
    if not p.get("targets"):
        problems.append(f"panel {p.get('title')!r} has no query")
    prometheus = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    if p.get("datasource") != prometheus:
        problems.append(f"panel {p.get('title')!r}: data source {p.get('datasource')!r} is not ${{DS_PROMETHEUS}}")
    for t in p.get("targets", []):
        where = f"panel {p.get('title')!r} {t.get('refId')}"
        if t.get("datasource") != prometheus:
            problems.append(f"{where}: data source {t.get('datasource')!r} is not ${{DS_PROMETHEUS}}")
        if not t.get("expr"):
            problems.append(f"{where}: no expr")
        else:
            queries.append((where, t["expr"]))
for name, v in variables.items():
    if v.get("type") != "query":
        continue
    q = v.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    m = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", q or "")
    if not m:
        problems.append(f"variable {name}: query {q!r} is not label_values(SELECTOR, LABEL)")
    else:
        queries.append((f"variable {name}", m.group(1)))

def fill(expr):
    expr = re.sub(r"\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}", "5m", expr)
    expr = re.sub(r"\$\{?(" + "|".join(re.escape(n) for n in variables) + r")\}?(?![A-Za-z0-9_])", ".*", expr)
    return expr

rules_out = []
for i, (where, expr) in enumerate(queries):
    filled = fill(expr)
    stray = re.findall(r"\$(?!\{[0-9]+\})[A-Za-z_{][A-Za-z0-9_}]*", filled)
    if stray:
        problems.append(f"{where}: unknown variable(s) {stray}")
    rules_out.append({"record": f"dashboard:query_{i}", "expr": filled})
    for n in sorted(names(expr) - allowed):
        problems.append(f"{where}: metric {n} is not one perfgate exposes (METRICS in promtool_check.sh)")
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules_out}]}, open(out_path, "w"))

for group in yaml.safe_load(open(rules_path))["groups"]:
    for rule in group["rules"]:
        for n in sorted(names(rule["expr"]) - allowed):
            problems.append(f"rule {rule.get('alert') or rule.get('record')}: metric {n} is not one perfgate exposes")
used = set()
for _, expr in queries:
    used |= names(expr)
print(f"{len(panels)} panels, {len(queries)} queries, {len(used)} metric names used")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
); then
  ok "docker/grafana/perfgate.json: $out; every metric name in it and in the rules is in METRICS"
else
  note "docker/grafana/perfgate.json: $(head -n1 <<<"$out")"
  while read -r line; do fail "perfgate.json/rules: $line"; done < <(tail -n +2 <<<"$out")
fi
if [ -s "$tmp/dashboard-rules.yml" ]; then
  if out=$(promtool check rules "$tmp/dashboard-rules.yml" 2>&1); then
    ok "every dashboard query is valid PromQL (promtool, Grafana variables filled in)"
  else
    fail "dashboard PromQL: $out"
  fi
fi

# --- perfgate's own exposition
if [ -z "$bin" ]; then
  note "no PERFGATE_BINARY given: the exposition is not checked"
  echo "$failures failed"
  [ "$failures" -eq 0 ]
  exit
fi
[ -x "$bin" ] || { fail "$bin is not an executable"; echo "$failures failed"; exit 1; }
cat > "$tmp/perfgate.toml" <<EOF
[server]
listen = "127.0.0.1:0"
workers = 1
drain_timeout = "1s"

[admin]
listen = "127.0.0.1:0"

[log]
level = "error"
access_log = "$tmp/access.jsonl"

[cache.l2]
redis = "redis://127.0.0.1:9/0"   # nothing listens: the L2 families are there, down
timeout = "10ms"

[upstream.app]
url = "http://127.0.0.1:9"        # nothing listens: 502, counted as a refused upstream
connect_timeout = "1s"

[[route]]
name = "api"
prefix = "/api/"
upstream = "app"

[[route]]
name = "site"
prefix = "/"
upstream = "app"
cache = false
EOF
"$bin" --config "$tmp/perfgate.toml" > "$tmp/stdout" 2> "$tmp/stderr" &
pid=$!
(sleep 120; kill "$pid" 2>/dev/null) >/dev/null 2>&1 &
watchdog=$!
admin="" listen=""
for _ in $(seq 50); do
  admin=$(sed -n 's/^perfgate ready: .*admin=\([^ ]*\) .*/\1/p' "$tmp/stdout")
  listen=$(sed -n 's/^perfgate ready: listen=\([^ ]*\) .*/\1/p' "$tmp/stdout")
  [ -n "$admin" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$admin" ]; then
  fail "perfgate did not start: $(tail -n5 "$tmp/stderr")"
  echo "$failures failed"
  exit 1
fi
ok "perfgate started ($(head -n1 "$tmp/stdout"))"
for path in /api/items /api/items /index.html; do
  curl -s -o /dev/null --max-time 5 "http://$listen$path"
done
sleep 0.3
if ! curl -fsS --max-time 5 -o "$tmp/metrics.prom" "http://$admin/metrics"; then
  fail "GET http://$admin/metrics failed"
else
  if out=$(promtool check metrics < "$tmp/metrics.prom" 2>&1) && [ -z "$out" ]; then
    ok "promtool check metrics: no problem in $(grep -c '^# TYPE' "$tmp/metrics.prom") families"
  else
    while read -r line; do fail "promtool check metrics: $line"; done <<<"$out"
  fi
  if out=$(python3 - "$tmp/metrics.prom" "$metric_list" "$tmp/label_values.txt" <<'EOF'
import re, sys
exposition, metrics_path, values_path = sys.argv[1:4]
types, samples = {}, {}
for line in open(exposition):
    m = re.match(r"# TYPE (\S+) (\S+)", line)
    if m:
        types[m.group(1)] = m.group(2)
        continue
    if line.startswith("#") or not line.strip():
        continue
    m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})? ", line)
    if m:
        labels = dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        samples.setdefault(m.group(1), []).append(labels)
missing, problems = [], []
for line in open(metrics_path):
    name, kind, labels = line.split()
    want = set() if labels == "-" else set(labels.split(","))
    if name not in types:
        missing.append(name)
        continue
    if types[name] != kind:
        problems.append(f"{name} is a {types[name]}, not a {kind}")
    series = samples.get(name + "_count" if kind == "histogram" else name, [])
    for got in {frozenset(s) for s in series}:
        if set(got) != want:
            problems.append(f"{name} has labels {{{','.join(sorted(got))}}}, want {{{','.join(sorted(want))}}}")
for line in open(values_path):
    name, label, allowed = line.split()
    for s in samples.get(name, []):
        if label in s and s[label] not in allowed.split("|"):
            problems.append(f'{name}{{{label}="{s[label]}"}}: {label} is one of {allowed}')
if missing:
    problems.insert(0, "families missing: " + " ".join(missing))
for p in sorted(set(problems), key=problems.index):
    print(p)
sys.exit(1 if problems else 0)
EOF
  ); then
    ok "/metrics carries every family of METRICS with the labels the rules and dashboard use"
  else
    while read -r line; do fail "/metrics against METRICS: $line"; done <<<"$out"
  fi
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
