#!/usr/bin/env python3
"""The report of one bench/run: reads DIR/results.csv and DIR/meta.txt, writes DIR/report.json
(the baseline report), DIR/report.txt and DIR/report.md (tables), DIR/plot.gp and DIR/plot-*.dat
and, through gnuplot, DIR/plot.png.

Per scenario, target and concurrency level it takes the median over the rounds of req/s, p50, p90,
p99 and hit rate. Capacity is the highest of those median req/s among the levels whose median p99
is within the SLO and whose failed responses (non-2xx/3xx and socket errors, over all rounds) stay
under 1% of the requests. perfgate is compared with the backend alone (improvement in %) and with
each peer (ratios).

Usage: bench/report.py DIR
"""
import csv
import json
import os
import statistics
import subprocess
import sys

SCENARIO_TITLES = {
    "hit-small": "cached 789-byte JSON",
    "hit-gzip": "cached 20 KB HTML, gzip",
    "pass": "uncached route",
    "mixed": "user journey, 7 tasks",
    "revalidate": "conditional requests",
}
MAX_FAILED_SHARE = 0.01


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            meta[key] = value
    return meta


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def number(text):
    return float(text) if text not in ("", None) else None


def pct(new, old):
    """Change from old to new in %, None when it cannot be computed."""
    if new is None or old in (None, 0):
        return None
    return round((new / old - 1) * 100, 1)


def reduction(new, old):
    """How much lower new is than old, in %."""
    if new is None or old in (None, 0):
        return None
    return round((1 - new / old) * 100, 1)


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return round(a / b, 2)


def summarize(rows, slo_ms):
    """{scenario: {target: {"levels": [...], "capacity": {...}, "hit_rate": x}}}, keeping run order."""
    grouped = {}
    for row in rows:
        grouped.setdefault(row["scenario"], {}).setdefault(row["target"], {}).setdefault(
            int(row["connections"]), []).append(row)
    out = {}
    for scenario, targets in grouped.items():
        out[scenario] = {}
        for target, levels in targets.items():
            entries = []
            for connections in sorted(levels):
                runs = levels[connections]
                requests = sum(int(r["requests"]) for r in runs)
                failed = sum(int(r["non_2xx_3xx"]) + int(r["socket_errors"]) for r in runs)
                entry = {
                    "connections": connections,
                    "rounds": len(runs),
                    "requests_per_s": round(median(number(r["requests_per_s"]) for r in runs), 1),
                    "p50_ms": median(number(r["p50_ms"]) for r in runs),
                    "p90_ms": median(number(r["p90_ms"]) for r in runs),
                    "p99_ms": median(number(r["p99_ms"]) for r in runs),
                    "hit_rate": median(number(r["hit_rate"]) for r in runs),
                    "requests": requests,
                    "failed": failed,
                    "requests_per_s_per_round": [number(r["requests_per_s"]) for r in runs],
                }
                entry["within_slo"] = (entry["p99_ms"] <= slo_ms and
                                       failed <= MAX_FAILED_SHARE * max(requests, 1))
                entries.append(entry)
            within = [e for e in entries if e["within_slo"]]
            best = max(within, key=lambda e: e["requests_per_s"]) if within else None
            capacity = None
            if best:
                capacity = {k: best[k] for k in ("requests_per_s", "connections", "p50_ms", "p99_ms")}
            first = levels[min(levels)][0]
            sent = None
            if first["status"]:
                sent = {"status": int(first["status"]), "encoding": first["encoding"],
                        "response_bytes": int(first["response_bytes"])}
            requests = sum(e["requests"] for e in entries)
            rates = [(e["hit_rate"], e["requests"]) for e in entries if e["hit_rate"] is not None]
            out[scenario][target] = {
                "levels": entries,
                "capacity": capacity,
                "hit_rate": (round(sum(h * n for h, n in rates) / sum(n for _, n in rates), 4)
                             if rates and sum(n for _, n in rates) else None),
                "failed": sum(e["failed"] for e in entries),
                "requests": requests,
                "sent": sent,
            }
    return out


def level_of(target, connections):
    for e in target["levels"]:
        if e["connections"] == connections:
            return e
    return None


def compare(summary):
    """perfgate against direct (improvement in %) and against each peer (ratios)."""
    out = {}
    for scenario, targets in summary.items():
        pg = targets.get("perfgate")
        if not pg:
            continue
        entry = {}
        direct = targets.get("direct")
        if direct:
            per_level = []
            for e in pg["levels"]:
                d = level_of(direct, e["connections"])
                if not d:
                    continue
                per_level.append({
                    "connections": e["connections"],
                    "requests_per_s": [d["requests_per_s"], e["requests_per_s"]],
                    "requests_per_s_improvement_pct": pct(e["requests_per_s"], d["requests_per_s"]),
                    "p50_ms": [d["p50_ms"], e["p50_ms"]],
                    "p50_reduction_pct": reduction(e["p50_ms"], d["p50_ms"]),
                    "p99_ms": [d["p99_ms"], e["p99_ms"]],
                    "p99_reduction_pct": reduction(e["p99_ms"], d["p99_ms"]),
                })
            dc, pc = direct["capacity"], pg["capacity"]
            entry["vs_direct"] = {
                "note": "pairs are [direct, perfgate]; improvement_pct = perfgate / direct - 1 (req/s), "
                        "reduction_pct = 1 - perfgate / direct (latency)",
                "capacity_requests_per_s": [dc and dc["requests_per_s"], pc and pc["requests_per_s"]],
                "capacity_improvement_pct": pct(pc and pc["requests_per_s"], dc and dc["requests_per_s"]),
                "capacity_ratio": ratio(pc and pc["requests_per_s"], dc and dc["requests_per_s"]),
                "p50_ms_at_capacity": [dc and dc["p50_ms"], pc and pc["p50_ms"]],
                "p99_ms_at_capacity": [dc and dc["p99_ms"], pc and pc["p99_ms"]],
                "hit_rate": [direct["hit_rate"], pg["hit_rate"]],
                "per_level": per_level,
            }
        peers = {}
        for peer, p in targets.items():
            if peer in ("perfgate", "direct"):
                continue
            pc, qc = pg["capacity"], p["capacity"]
            peers[peer] = {
                "capacity_ratio": ratio(pc and pc["requests_per_s"], qc and qc["requests_per_s"]),
                "requests_per_s_ratio_per_level": {
                    str(e["connections"]): ratio(e["requests_per_s"],
                                                 (level_of(p, e["connections"]) or {}).get("requests_per_s"))
                    for e in pg["levels"]},
                "p99_ms_at_capacity": [pc and pc["p99_ms"], qc and qc["p99_ms"]],
                "hit_rate": [pg["hit_rate"], p["hit_rate"]],
                "same_response": (pg["sent"] == p["sent"]) if pg["sent"] and p["sent"] else None,
            }
        if peers:
            entry["vs_peers"] = peers
        out[scenario] = entry
    return out


def fmt(value, digits=0, suffix=""):
    if value is None:
        return "-"
    if digits == 0:
        return f"{value:,.0f}{suffix}"
    return f"{value:,.{digits}f}{suffix}"


def signed(value):
    return "-" if value is None else f"{value:+.1f}%"


def neg(value):
    return None if value is None else -value


def table_rows(summary, comparison):
    """One row per scenario and target: the figures at capacity and the ratios."""
    rows = []
    for scenario, targets in summary.items():
        pg = targets.get("perfgate")
        for target, t in targets.items():
            cap = t["capacity"]
            sent = t["sent"]
            if pg and target != "perfgate":
                r = ratio(pg["capacity"] and pg["capacity"]["requests_per_s"],
                          cap and cap["requests_per_s"])
                vs = fmt(r, 2, "x")
            else:
                vs = ""
            rows.append([
                scenario, target,
                fmt(cap and cap["requests_per_s"]),
                str(cap["connections"]) if cap else "-",
                fmt(cap and cap["p50_ms"], 2),
                fmt(cap and cap["p99_ms"], 2),
                fmt(t["hit_rate"] * 100 if t["hit_rate"] is not None else None, 1, "%"),
                (f'{sent["status"]} {sent["encoding"]} {sent["response_bytes"]:,} B' if sent else ""),
                str(t["failed"]) if t["failed"] else "0",
                vs,
            ])
    return rows


HEADER = ["scenario", "target", "capacity req/s", "at conns", "p50 ms", "p99 ms", "hit rate",
          "sent", "failed", "perfgate / target"]


def text_table(rows):
    widths = [max(len(HEADER[i]), *(len(r[i]) for r in rows)) for i in range(len(HEADER))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths))]
    for r in rows:
        lines.append("  ".join(c.rjust(w) if i >= 2 and i != 7 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
    return lines


def markdown_table(rows):
    lines = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    for r in rows:
        lines.append("| " + " | ".join(c if c else " " for c in r) + " |")
    return lines


def level_lines(summary):
    """Per scenario: req/s and p99 of every target at every level."""
    lines = []
    for scenario, targets in summary.items():
        lines.append(f"{scenario} ({SCENARIO_TITLES.get(scenario, '')}): median req/s | p99 ms per level")
        levels = sorted({e["connections"] for t in targets.values() for e in t["levels"]})
        lines.append("  " + "target".ljust(9) + "".join(f"{'c=' + str(c):>20}" for c in levels))
        for target, t in targets.items():
            cells = []
            for c in levels:
                e = level_of(t, c)
                cell = f"{fmt(e['requests_per_s'])} | {fmt(e['p99_ms'], 2)}" if e else "-"
                if e and not e["within_slo"]:
                    cell += "*"
                cells.append(f"{cell:>20}")
            lines.append("  " + target.ljust(9) + "".join(cells))
    lines.append("  (* beyond the SLO or more than 1% failed responses)")
    return lines


def improvement_lines(comparison):
    lines = []
    for scenario, c in comparison.items():
        vd = c.get("vs_direct")
        if vd:
            cap = vd["capacity_requests_per_s"]
            lines.append(f"{scenario}: perfgate vs direct: capacity {fmt(cap[0])} -> {fmt(cap[1])} req/s "
                         f"({signed(vd['capacity_improvement_pct'])})")
            lines.append("  per level, req/s / p50 / p99 against direct: " + ", ".join(
                f"c={e['connections']}: {signed(e['requests_per_s_improvement_pct'])} / "
                f"{signed(neg(e['p50_reduction_pct']))} / {signed(neg(e['p99_reduction_pct']))}"
                for e in vd["per_level"]))
        for peer, p in c.get("vs_peers", {}).items():
            note = "" if p["same_response"] in (True, None) else " (not the same response: see 'sent')"
            lines.append(f"  perfgate / {peer}: capacity {fmt(p['capacity_ratio'], 2, 'x')}{note}")
    return lines


def plot(directory, summary, meta):
    """plot.png: for each scenario, req/s and p99 against connections, one line per target."""
    scenarios = list(summary)
    targets = []
    for t in summary.values():
        for name in t:
            if name not in targets:
                targets.append(name)
    for scenario, ts in summary.items():
        levels = sorted({e["connections"] for t in ts.values() for e in t["levels"]})
        with open(os.path.join(directory, f"plot-{scenario}.dat"), "w") as f:
            f.write("# connections " + " ".join(f"{t}_rps {t}_p99" for t in targets) + "\n")
            for c in levels:
                cells = [str(c)]
                for t in targets:
                    e = level_of(ts[t], c) if t in ts else None
                    cells += [str(e["requests_per_s"]), str(e["p99_ms"])] if e else ["NaN", "NaN"]
                f.write(" ".join(cells) + "\n")
    rows = len(scenarios)
    gp = [
        f"set terminal pngcairo size 1400,{330 * rows + 60} font 'sans,10'" if has_cairo() else
        f"set terminal png size 1400,{330 * rows + 60}",
        f"set output '{os.path.join(directory, 'plot.png')}'",
        f"set multiplot layout {rows},2 title \"perfgate bench/run, {meta.get('started', '')}, "
        f"{meta.get('cpus', '?')} CPUs, SLO p99 {meta.get('slo_p99_ms', '?')} ms\"",
        "set logscale x", "set xlabel 'connections'", "set grid", "set key outside right top",
        "set datafile missing 'NaN'",
        f"targets = \"{' '.join(targets)}\"",
    ]
    for s in scenarios:
        data = os.path.join(directory, f"plot-{s}.dat")
        gp += [
            f"set title '{s}: throughput'", "set ylabel 'req/s'", "unset logscale y", "set yrange [0:*]",
            f"plot for [i=1:words(targets)] '{data}' using 1:(column(2*i)) with linespoints title word(targets, i)",
            f"set title '{s}: p99 latency'", "set ylabel 'p99 ms'", "set logscale y", "set yrange [*:*]",
            f"plot for [i=1:words(targets)] '{data}' using 1:(column(2*i+1)) with linespoints title word(targets, i)",
        ]
    gp.append("unset multiplot")
    script = os.path.join(directory, "plot.gp")
    with open(script, "w") as f:
        f.write("\n".join(gp) + "\n")
    # A target left out of a scenario has no points there; gnuplot's warning about it is noise.
    done = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    for line in done.stderr.splitlines():
        if "no valid points" not in line:
            print(line, file=sys.stderr)
    if done.returncode != 0:
        sys.exit(f"report.py: gnuplot failed on {script}")


def has_cairo():
    out = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (out.stdout + out.stderr)


def excluded(meta):
    """{scenario: {target: why}}: targets the harness could not measure in a scenario."""
    out = {}
    for key, value in meta.items():
        if key.startswith("excluded."):
            _, scenario, target = key.split(".", 2)
            out.setdefault(scenario, {})[target] = value
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    directory = sys.argv[1]
    meta = read_meta(os.path.join(directory, "meta.txt"))
    with open(os.path.join(directory, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"report.py: no runs in {directory}/results.csv")
    slo_ms = float(meta["slo_p99_ms"])
    summary = summarize(rows, slo_ms)
    comparison = compare(summary)

    report = {
        "command": meta.get("command"),
        "started": meta.get("started"),
        "finished": meta.get("finished"),
        "machine": {"cpus": int(meta.get("cpus", 0)), "placement": meta.get("placement"),
                    "load_average_before": meta.get("load_average_before"),
                    "load_average_after": meta.get("load_average_after")},
        "backend": meta.get("backend"),
        "versions": {k[len("version."):]: v for k, v in meta.items() if k.startswith("version.")},
        "targets": meta.get("targets", "").split(),
        "skipped_peers": meta.get("skipped", "").split(),
        "levels": [int(c) for c in meta.get("levels", "").split()],
        "rounds": int(meta.get("rounds", 0)),
        "duration_s": int(meta.get("duration_s", 0)),
        "slo_p99_ms": slo_ms,
        "capacity_rule": f"highest median req/s among levels with median p99 <= {slo_ms:g} ms and "
                         f"failed responses <= {MAX_FAILED_SHARE:.0%}",
        "not_measured": excluded(meta),
        "scenarios": {s: {"title": SCENARIO_TITLES.get(s, s), "targets": t, "perfgate": comparison.get(s, {})}
                      for s, t in summary.items()},
    }
    with open(os.path.join(directory, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    rows_out = table_rows(summary, comparison)
    head = [
        f"perfgate benchmark suite, {meta.get('started')} - {meta.get('finished')}, {meta.get('cpus')} CPUs",
        f"command: {meta.get('command')}",
        f"backend: {meta.get('backend')}",
        f"load: wrk -t1, levels {meta.get('levels')} connections, {meta.get('rounds')} round(s) x "
        f"{meta.get('duration_s')} s interleaved ({meta.get('targets')}), {meta.get('warmup_s')} s warm-up",
        f"CPU placement: {meta.get('placement')}",
        f"load average before / after: {meta.get('load_average_before')} / {meta.get('load_average_after')}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
    ]
    if report["skipped_peers"]:
        head.append("skipped (not installed): " + " ".join(report["skipped_peers"]))
    head.append(f"capacity: {report['capacity_rule']}")
    for scenario, targets in report["not_measured"].items():
        for target, why in targets.items():
            head.append(f"not measured: {target} in {scenario}: {why}")
    text = head + [""] + text_table(rows_out) + [""] + level_lines(summary) + [""] + improvement_lines(comparison)
    with open(os.path.join(directory, "report.txt"), "w") as f:
        f.write("\n".join(text) + "\n")
    with open(os.path.join(directory, "report.md"), "w") as f:
        f.write("\n".join(markdown_table(rows_out)) + "\n")
    plot(directory, summary, meta)


if __name__ == "__main__":
    main()
