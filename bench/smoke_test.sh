#!/usr/bin/env bash
# CI smoke test of the benchmark harness (ctest "bench_smoke", label bench-smoke): runs
# bench/run --quick with the binaries of BUILD_DIR and checks that it produced what it promises —
# the CSV with a row per scenario, target and level, the JSON report with capacities and hit
# rates, the tables and a PNG plot — and that the harness measured what it meant to (perfgate's
# hit-small requests were all cache hits, the direct target none), with the bytes per response,
# the checks' answers and every figure refused (a quick run is never published). It never judges
# speed.
# Exits 77 (skipped) when a tool bench/run needs is not installed.
#   bench/smoke_test.sh BUILD_DIR
set -euo pipefail
build_dir="${1:?usage: bench/smoke_test.sh BUILD_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for tool in wrk curl gzip python3 gnuplot; do
  command -v "$tool" >/dev/null || { echo "bench_smoke: $tool is not installed (scripts/deps.sh bench): skipped"; exit 77; }
done
out="$(mktemp -d "${TMPDIR:-/tmp}/perfgate-bench-smoke.XXXXXX")"
trap 'rm -rf "$out"' EXIT

# direct and perfgate only: the peers double the time, and the harness paths they add (starting
# them, their hit checks) are the same for every target.
BENCH_BUILD_DIR="$build_dir" "$root/bench/run" --quick --no-build --targets direct,perfgate --out "$out/run"

python3 - "$out/run" <<'PY'
import csv, json, sys, os
d = sys.argv[1]
def fail(msg):
    sys.exit(f"bench_smoke: {msg}")
report = json.load(open(os.path.join(d, "report.json")))
rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
scenarios = ["hit-small", "hit-gzip", "pass", "mixed", "revalidate"]
targets = report["targets"]
for t in ("direct", "perfgate"):
    if t not in targets:
        fail(f"target {t} missing from the report: {targets}")
levels = report["levels"]
if levels != [1, 50]:
    fail(f"--quick should run levels 1 and 50, the report says {levels}")
not_measured = report.get("not_measured", {})
for s in scenarios:
    if s not in report["scenarios"]:
        fail(f"scenario {s} missing from report.json")
    for t in targets:
        if t in not_measured.get(s, {}):
            continue
        got = sorted(int(r["connections"]) for r in rows if r["scenario"] == s and r["target"] == t)
        if got != levels:
            fail(f"{s}/{t}: CSV rows for connections {got}, expected {levels}")
        for r in rows:
            if r["scenario"] == s and r["target"] == t and not int(r["requests"]) > 0:
                fail(f"{s}/{t}: a run with no requests: {r}")
        entry = report["scenarios"][s]["targets"][t]
        if len(entry["levels"]) != len(levels):
            fail(f"{s}/{t}: report.json has {len(entry['levels'])} levels")
    vs = report["scenarios"][s]["perfgate"].get("vs_direct")
    if not vs or "capacity_improvement_pct" not in vs or len(vs["per_level"]) != len(levels):
        fail(f"{s}: no perfgate-vs-direct comparison in report.json")
small = report["scenarios"]["hit-small"]["targets"]
if small["perfgate"]["hit_rate"] is None or small["perfgate"]["hit_rate"] < 0.99:
    fail(f"hit-small through perfgate: hit rate {small['perfgate']['hit_rate']}, expected all hits")
if small["direct"]["hit_rate"] != 0:
    fail(f"hit-small direct: hit rate {small['direct']['hit_rate']}, expected 0")
if report["scenarios"]["hit-gzip"]["targets"]["perfgate"]["sent"]["encoding"] != "gzip":
    fail("hit-gzip through perfgate was not answered gzip")
if report["scenarios"]["revalidate"]["targets"]["perfgate"]["sent"]["status"] != 304:
    fail("revalidate through perfgate was not answered 304")
# The new columns and the refusals: bytes per response and mean latency in every run, the
# checks' answers on file, and a quick run never published (every ratio refused, saying why).
for r in rows:
    if not float(r["bytes_per_response"] or 0) > 0 or r["mean_ms"] == "":
        fail(f"a run without bytes per response or mean latency: {r}")
checks = list(csv.DictReader(open(os.path.join(d, "checks.csv"))))
if not any(c["scenario"] == "hit-small" and c["target"] == "perfgate" for c in checks):
    fail("checks.csv has no answer of perfgate in hit-small")
if report["published"] is not False or report["quick"] is not True:
    fail(f"a quick run must not be published: published={report['published']} quick={report['quick']}")
for s in scenarios:
    vs = report["scenarios"][s]["perfgate"]["vs_direct"]
    if not str(vs["capacity_improvement_pct"]).startswith("refused: quick run"):
        fail(f"{s}: the quick run's improvement is not refused: {vs['capacity_improvement_pct']}")
with open(os.path.join(d, "report.txt")) as f:
    text = f.read()
if "bytes/resp" not in text or "refused: quick run" not in text:
    fail("report.txt lacks the bytes/resp column or the refusals")
with open(os.path.join(d, "plot.png"), "rb") as f:
    if f.read(8) != b"\x89PNG\r\n\x1a\n":
        fail("plot.png is not a PNG")
for name in ("report.txt", "report.md"):
    if os.path.getsize(os.path.join(d, name)) == 0:
        fail(f"{name} is empty")
print(f"bench_smoke: ok ({len(rows)} runs, targets {' '.join(targets)})")
PY
