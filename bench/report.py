#!/usr/bin/env python3
"""The report of one bench/run: reads DIR/results.csv, DIR/meta.txt and DIR/checks.csv, writes
DIR/report.json (the baseline report), DIR/report.txt and DIR/report.md (tables), DIR/plot.gp and
DIR/plot-*.dat and, through gnuplot, DIR/plot.png.

Per scenario, target and concurrency level it takes the median over the rounds of req/s, p50, p90,
p99, mean latency, bytes per response and hit rate. Capacity is the highest of those median req/s
among the levels whose median p99 is within the SLO and whose failed responses (non-2xx/3xx and
socket errors, over all rounds) stay under 1% of the requests. perfgate is compared with the
backend alone (improvement in %) and with each peer (ratios).

A figure a skeptic would not accept is refused: its row says "refused: REASON" where the ratio
would be, in report.txt, report.md and report.json (see REFUSAL_RULES). A ratio is published only
when perfgate's row and the other target's row both are.

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
    "hit-gzip-origin": "cached 20 KB HTML, gzipped by the origin",
    "pass": "uncached route",
    "mixed": "user journey, 7 tasks",
    "revalidate": "conditional requests",
}
MAX_FAILED_SHARE = 0.01

# The checks that refuse a figure. Each is a reason a skeptic would give for not believing it.
MIN_ROUNDS = 5               # fewer rounds: a median of too few samples
LITTLE_FACTOR = 3.0          # connections / req/s against the mean latency (Little's law)
DIRECT_DROP = 0.20           # a round where direct falls this far below its median: the machine moved
BYTES_REL, BYTES_ABS = 0.25, 256   # bytes per response against perfgate's: heads differ, bodies should not
GZIP_BODY_REL = 0.25         # gzip bodies differ by compressor and level
NON2XX_SHARE = 0.01          # share of non-2xx/3xx answers against perfgate's
REFUSAL_RULES = {
    "quick": "a --quick run is never published",
    "rounds": f"a published ratio needs at least {MIN_ROUNDS} rounds",
    "littles_law": f"at the capacity level, connections / median req/s and the median of wrk's mean latency "
                   f"differ by at most a factor of {LITTLE_FACTOR:g} (Little's law: the load generator kept "
                   f"every connection busy, and no request was lost)",
    "noisy_round": f"no round at the capacity level where direct fell more than {DIRECT_DROP:.0%} below its "
                   f"median there, or where more than max_load other tasks were runnable before the round "
                   f"(after waiting up to 60 s)",
    "same_answers": f"a peer answers the scenario's requests as perfgate does: same status and content coding, "
                    f"the same identity body size, gzip bodies within {GZIP_BODY_REL:.0%}; non-2xx/3xx shares "
                    f"within {NON2XX_SHARE:.0%}; bytes per response (wrk) within {BYTES_REL:.0%} + {BYTES_ABS} B",
    "varnish_sessions": "Varnish dropped no session (MAIN.sess_dropped) at the capacity level",
}


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


def refused(reasons):
    return "refused: " + "; ".join(reasons)


def summarize(rows, slo_ms, order=()):
    """{scenario: {target: {"levels": [...], "capacity": {...}, "hit_rate": x}}}: scenarios in run
    order, targets in ORDER (the run's target list; the rounds ran them shuffled)."""
    rank = {t: i for i, t in enumerate(order)}
    rows = sorted(rows, key=lambda r: rank.get(r["target"], len(rank)))  # stable: keeps the rest
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
                non2xx = sum(int(r["non_2xx_3xx"]) for r in runs)
                failed = non2xx + sum(int(r["socket_errors"]) for r in runs)
                dropped = [number(r.get("sess_dropped")) for r in runs]
                queued = [number(r.get("sess_queued")) for r in runs]
                entry = {
                    "connections": connections,
                    "rounds": len(runs),
                    "requests_per_s": round(median(number(r["requests_per_s"]) for r in runs), 1),
                    "p50_ms": median(number(r["p50_ms"]) for r in runs),
                    "p90_ms": median(number(r["p90_ms"]) for r in runs),
                    "p99_ms": median(number(r["p99_ms"]) for r in runs),
                    "mean_ms": median(number(r.get("mean_ms")) for r in runs),
                    "bytes_per_response": median(number(r.get("bytes_per_response")) for r in runs),
                    "hit_rate": median(number(r["hit_rate"]) for r in runs),
                    "requests": requests,
                    "failed": failed,
                    "non_2xx_3xx": non2xx,
                    "requests_per_s_per_round": [number(r["requests_per_s"]) for r in runs],
                    "rounds_run": [int(r["round"]) for r in runs],
                    "sess_dropped": (sum(int(d) for d in dropped if d is not None)
                                     if any(d is not None for d in dropped) else None),
                    "sess_queued": (sum(int(q) for q in queued if q is not None)
                                    if any(q is not None for q in queued) else None),
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
            all_runs = [r for runs in levels.values() for r in runs]
            out[scenario][target] = {
                "levels": entries,
                "capacity": capacity,
                "hit_rate": (round(sum(h * n for h, n in rates) / sum(n for _, n in rates), 4)
                             if rates and sum(n for _, n in rates) else None),
                "failed": sum(e["failed"] for e in entries),
                "requests": requests,
                "sent": sent,
                "bytes_per_response": median(number(r.get("bytes_per_response")) for r in all_runs),
            }
    return out


def level_of(target, connections):
    for e in target["levels"]:
        if e["connections"] == connections:
            return e
    return None


# ---------------------------------------------------------------- the checks

def noisy_rounds(rows, max_load):
    """{(scenario, connections): {round: [reasons]}}: rounds whose figures the machine, not the
    targets, may have moved."""
    out = {}
    by_level = {}
    for r in rows:
        by_level.setdefault((r["scenario"], int(r["connections"])), []).append(r)
    for (scenario, connections), runs in by_level.items():
        noisy = {}
        if max_load is not None:
            for r in runs:
                load = number(r.get("load_before"))
                if load is not None and load > max_load:
                    noisy.setdefault(int(r["round"]), set()).add(
                        f"round {r['round']} at c={connections} began with {load:g} other tasks runnable "
                        f"(more than {max_load:g})")
        direct = [r for r in runs if r["target"] == "direct"]
        mid = median(number(r["requests_per_s"]) for r in direct)
        if mid:
            for r in direct:
                rps = number(r["requests_per_s"])
                if rps is not None and rps < (1 - DIRECT_DROP) * mid:
                    noisy.setdefault(int(r["round"]), set()).add(
                        f"round {r['round']} at c={connections}: direct {rps:,.0f} req/s, "
                        f"{(1 - rps / mid) * 100:.0f}% below its median {mid:,.0f}")
        if noisy:
            out[(scenario, connections)] = {k: sorted(v) for k, v in noisy.items()}
    return out


def level_reasons(scenario, target, e, noisy):
    """Why the figures of one target at one level are not to be believed (empty: they are)."""
    reasons = []
    c, rps = e["connections"], e["requests_per_s"]
    latency = e["mean_ms"] if e["mean_ms"] else e["p50_ms"]
    kind = "mean" if e["mean_ms"] else "p50"
    if not rps:
        reasons.append(f"no responses at c={c}")
    elif latency:
        expected = c / rps * 1000
        factor = max(expected, latency) / max(min(expected, latency), 1e-9)
        e["littles_law"] = {"connections_over_rps_ms": round(expected, 3), f"{kind}_ms": latency,
                            "factor": round(factor, 2)}
        if factor > LITTLE_FACTOR:
            reasons.append(f"Little's law off at c={c}: {c} conns / {rps:,.0f} req/s = {expected:.3g} ms, "
                           f"{kind} latency {latency:.3g} ms ({factor:.1f}x)")
    for why in (w for ws in noisy.get((scenario, c), {}).values() for w in ws):
        reasons.append("noisy " + why)
    if e.get("sess_dropped"):
        reasons.append(f"varnish dropped {e['sess_dropped']} sessions at c={c}")
    return reasons


def read_checks(path):
    """{scenario: {target: {line: row}}} from checks.csv (empty when the run wrote none)."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for r in csv.DictReader(f):
            out.setdefault(r["scenario"], {}).setdefault(r["target"], {})[int(r["line"])] = r
    return out


def answer_reasons(scenario, target, t, pg, checks):
    """How a peer's answers differ from perfgate's in a scenario (empty: they agree)."""
    reasons = []
    mine, ref = checks.get(scenario, {}).get(target, {}), checks.get(scenario, {}).get("perfgate", {})
    for line, p in sorted(ref.items()):
        q = mine.get(line)
        if not q:
            continue
        what = q["request"]
        if q["status"] != p["status"]:
            reasons.append(f"answers {what} with {q['status']} where perfgate answers {p['status']}")
        elif q["status"] == "304":
            continue  # no body: a Content-Encoding on a 304 only describes the stored variant
        elif q["encoding"] != p["encoding"]:
            reasons.append(f"sends {what} {q['encoding']} where perfgate sends {p['encoding']}")
        else:
            a, b = int(q["body_bytes"]), int(p["body_bytes"])
            if q["encoding"] == "identity" and a != b:
                reasons.append(f"{what}: body {a:,} B where perfgate's is {b:,} B")
            elif q["encoding"] != "identity" and abs(a - b) > GZIP_BODY_REL * max(a, b):
                reasons.append(f"{what}: {q['encoding']} body {a:,} B where perfgate's is {b:,} B "
                               f"(more than {GZIP_BODY_REL:.0%} apart)")
    a, b = t.get("bytes_per_response"), pg.get("bytes_per_response")
    if a is not None and b is not None and abs(a - b) > BYTES_REL * max(a, b) + BYTES_ABS:
        reasons.append(f"{a:,.0f} bytes per response where perfgate's are {b:,.0f}")
    for e in t["levels"]:
        p = level_of(pg, e["connections"])
        if not p or not e["requests"] or not p["requests"]:
            continue
        mine_share, ref_share = e["non_2xx_3xx"] / e["requests"], p["non_2xx_3xx"] / p["requests"]
        if abs(mine_share - ref_share) > NON2XX_SHARE:
            reasons.append(f"{mine_share:.1%} non-2xx/3xx answers at c={e['connections']} where perfgate "
                           f"has {ref_share:.1%}")
    return reasons


def judge(summary, rows, meta, checks):
    """Sets "refused" (a list of reasons; empty: published) on every target of every scenario and
    on each of its levels. Returns the noisy rounds."""
    quick = meta.get("quick") == "1"
    rounds = int(meta.get("rounds", 0) or 0)
    max_load = number(meta.get("max_load"))
    noisy = noisy_rounds(rows, max_load)
    for scenario, targets in summary.items():
        pg = targets.get("perfgate")
        for target, t in targets.items():
            run_reasons = []
            if quick:
                run_reasons.append("quick run, never published")
            if rounds < MIN_ROUNDS:
                run_reasons.append(f"{rounds} round{'s' if rounds != 1 else ''}, {MIN_ROUNDS} needed")
            for e in t["levels"]:
                e["failed_checks"] = level_reasons(scenario, target, e, noisy)
                e["refused"] = run_reasons + e["failed_checks"]
            reasons = list(run_reasons)
            if t["capacity"]:
                cap = level_of(t, t["capacity"]["connections"])
                reasons += [r for r in cap["refused"] if r not in run_reasons]
            if pg and target not in ("perfgate", "direct"):
                reasons += answer_reasons(scenario, target, t, pg, checks)
            t["refused"] = reasons
    return noisy


def both_refused(pg, t, name):
    """The reasons a ratio of perfgate against target t is not published (empty: it is)."""
    reasons = list(t["refused"])
    reasons += [f"perfgate: {r}" for r in pg["refused"] if r not in t["refused"]]
    return reasons


def compare(summary):
    """perfgate against direct (improvement in %) and against each peer (ratios); a refused figure
    is the string "refused: REASONS" in place of the number."""
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
                level_refused = d["refused"] + [f"perfgate: {r}" for r in e["refused"] if r not in d["refused"]]
                per_level.append({
                    "connections": e["connections"],
                    "requests_per_s": [d["requests_per_s"], e["requests_per_s"]],
                    "requests_per_s_improvement_pct": (refused(level_refused) if level_refused else
                                                       pct(e["requests_per_s"], d["requests_per_s"])),
                    "p50_ms": [d["p50_ms"], e["p50_ms"]],
                    "p50_reduction_pct": reduction(e["p50_ms"], d["p50_ms"]),
                    "p99_ms": [d["p99_ms"], e["p99_ms"]],
                    "p99_reduction_pct": reduction(e["p99_ms"], d["p99_ms"]),
                })
            dc, pc = direct["capacity"], pg["capacity"]
            why = both_refused(pg, direct, "direct")
            entry["vs_direct"] = {
                "note": "pairs are [direct, perfgate]; improvement_pct = perfgate / direct - 1 (req/s), "
                        "reduction_pct = 1 - perfgate / direct (latency)",
                "capacity_requests_per_s": [dc and dc["requests_per_s"], pc and pc["requests_per_s"]],
                "capacity_improvement_pct": (refused(why) if why else
                                             pct(pc and pc["requests_per_s"], dc and dc["requests_per_s"])),
                "capacity_ratio": (refused(why) if why else
                                   ratio(pc and pc["requests_per_s"], dc and dc["requests_per_s"])),
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
            why = both_refused(pg, p, peer)
            per_level = {}
            for e in pg["levels"]:
                q = level_of(p, e["connections"]) or {}
                level_refused = q.get("refused", []) + [f"perfgate: {r}" for r in e["refused"]
                                                        if r not in q.get("refused", [])]
                per_level[str(e["connections"])] = (refused(level_refused) if level_refused else
                                                    ratio(e["requests_per_s"], q.get("requests_per_s")))
            peers[peer] = {
                "capacity_ratio": (refused(why) if why else
                                   ratio(pc and pc["requests_per_s"], qc and qc["requests_per_s"])),
                "requests_per_s_ratio_per_level": per_level,
                "p99_ms_at_capacity": [pc and pc["p99_ms"], qc and qc["p99_ms"]],
                "hit_rate": [pg["hit_rate"], p["hit_rate"]],
                "bytes_per_response": [pg["bytes_per_response"], p["bytes_per_response"]],
                "same_response": (pg["sent"] == p["sent"]) if pg["sent"] and p["sent"] else None,
            }
        if peers:
            entry["vs_peers"] = peers
        out[scenario] = entry
    return out


# ---------------------------------------------------------------- text

def fmt(value, digits=0, suffix=""):
    if value is None:
        return "-"
    if digits == 0:
        return f"{value:,.0f}{suffix}"
    return f"{value:,.{digits}f}{suffix}"


def signed(value):
    if isinstance(value, str):
        return value
    return "-" if value is None else f"{value:+.1f}%"


def neg(value):
    return value if value is None or isinstance(value, str) else -value


def table_rows(summary):
    """One row per scenario and target: the figures at capacity and the ratio, or why not."""
    rows = []
    for scenario, targets in summary.items():
        pg = targets.get("perfgate")
        for target, t in targets.items():
            cap = t["capacity"]
            sent = t["sent"]
            if pg and target != "perfgate":
                why = both_refused(pg, t, target)
                vs = refused(why) if why else fmt(ratio(pg["capacity"] and pg["capacity"]["requests_per_s"],
                                                        cap and cap["requests_per_s"]), 2, "x")
            else:
                vs = refused(t["refused"]) if t["refused"] else ""
            rows.append([
                scenario, target,
                fmt(cap and cap["requests_per_s"]),
                str(cap["connections"]) if cap else "-",
                fmt(cap and cap["p50_ms"], 2),
                fmt(cap and cap["p99_ms"], 2),
                fmt(t["hit_rate"] * 100 if t["hit_rate"] is not None else None, 1, "%"),
                (f'{sent["status"]} {sent["encoding"]} {sent["response_bytes"]:,} B' if sent else ""),
                fmt(t["bytes_per_response"]),
                str(t["failed"]) if t["failed"] else "0",
                vs,
            ])
    return rows


HEADER = ["scenario", "target", "capacity req/s", "at conns", "p50 ms", "p99 ms", "hit rate",
          "sent", "bytes/resp", "failed", "perfgate / target"]
LEFT = {0, 1, 7, 10}  # left-aligned columns (text); the others are numbers


def text_table(rows):
    widths = [max(len(HEADER[i]), *(len(r[i]) for r in rows)) for i in range(len(HEADER))]
    widths[-1] = len(HEADER[-1])  # the last column is not padded: a refusal can be long
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths)).rstrip()]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i in LEFT else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
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
        width = max(len("target"), *(len(t) for t in targets))
        lines.append("  " + "target".ljust(width) + "".join(f"{'c=' + str(c):>21}" for c in levels))
        for target, t in targets.items():
            cells = []
            for c in levels:
                e = level_of(t, c)
                cell = f"{fmt(e['requests_per_s'])} | {fmt(e['p99_ms'], 2)}" if e else "-"
                if e and not e["within_slo"]:
                    cell += "*"
                if e and e.get("failed_checks"):
                    cell += "!"
                cells.append(f"{cell:>21}")
            lines.append("  " + target.ljust(width) + "".join(cells))
    lines.append("  (* beyond the SLO or more than 1% failed responses; ! a check failed at that level: "
                 "see report.json, levels[].refused)")
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
                f"c={e['connections']}: "
                + ("refused" if isinstance(e["requests_per_s_improvement_pct"], str) else
                   f"{signed(e['requests_per_s_improvement_pct'])} / {signed(neg(e['p50_reduction_pct']))} / "
                   f"{signed(neg(e['p99_reduction_pct']))}")
                for e in vd["per_level"]))
        for peer, p in c.get("vs_peers", {}).items():
            r = p["capacity_ratio"]
            lines.append(f"  perfgate / {peer}: capacity {r if isinstance(r, str) else fmt(r, 2, 'x')}")
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
    published = "" if any_published(summary) else ", NOT PUBLISHED (see report.txt)"
    gp = [
        f"set terminal pngcairo size 1400,{330 * rows + 60} font 'sans,10'" if has_cairo() else
        f"set terminal png size 1400,{330 * rows + 60}",
        f"set output '{os.path.join(directory, 'plot.png')}'",
        f"set multiplot layout {rows},2 title \"perfgate bench/run, {meta.get('started', '')}, "
        f"{meta.get('cpus', '?')} CPUs, SLO p99 {meta.get('slo_p99_ms', '?')} ms{published}\"",
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
    """{scenario: {target: why}}: targets the harness did not measure in a scenario."""
    out = {}
    for key, value in meta.items():
        if key.startswith("excluded."):
            _, scenario, target = key.split(".", 2)
            out.setdefault(scenario, {})[target] = value
    return out


def any_published(summary):
    """Whether any perfgate ratio of the run is published."""
    for targets in summary.values():
        pg = targets.get("perfgate")
        if pg and any(not both_refused(pg, t, n) for n, t in targets.items() if n != "perfgate"):
            return True
    return False


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
    summary = summarize(rows, slo_ms, meta.get("targets", "").split())
    checks = read_checks(os.path.join(directory, "checks.csv"))
    noisy = judge(summary, rows, meta, checks)
    comparison = compare(summary)
    published = any_published(summary)

    report = {
        "command": meta.get("command"),
        "started": meta.get("started"),
        "finished": meta.get("finished"),
        "published": published,
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
        "quick": meta.get("quick") == "1",
        "seed": meta.get("seed"),
        "order_seed": meta.get("order_seed"),
        "max_load": number(meta.get("max_load")),
        "ports": meta.get("ports"),
        "peer_settings": {k: meta[k] for k in ("varnish_threads", "varnish_sessions", "haproxy_gzip",
                                               "haproxy_gzip_minimum") if k in meta},
        "slo_p99_ms": slo_ms,
        "capacity_rule": f"highest median req/s among levels with median p99 <= {slo_ms:g} ms and "
                         f"failed responses <= {MAX_FAILED_SHARE:.0%}",
        "refusal_rules": REFUSAL_RULES,
        "noisy_rounds": [{"scenario": s, "connections": c, "round": r, "reasons": why}
                         for (s, c), rounds in sorted(noisy.items()) for r, why in sorted(rounds.items())],
        "not_measured": excluded(meta),
        "scenarios": {s: {"title": SCENARIO_TITLES.get(s, s), "targets": t, "perfgate": comparison.get(s, {})}
                      for s, t in summary.items()},
    }
    with open(os.path.join(directory, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    rows_out = table_rows(summary)
    head = [
        f"perfgate benchmark suite, {meta.get('started')} - {meta.get('finished')}, {meta.get('cpus')} CPUs",
        f"command: {meta.get('command')}",
        f"backend: {meta.get('backend')}",
        f"load: wrk -t1, levels {meta.get('levels')} connections, {meta.get('rounds')} round(s) x "
        f"{meta.get('duration_s')} s interleaved ({meta.get('targets')}; order shuffled per round, "
        f"seed {meta.get('order_seed', '?')}), {meta.get('warmup_s')} s warm-up",
        f"CPU placement: {meta.get('placement')}",
        f"load average before / after: {meta.get('load_average_before')} / {meta.get('load_average_after')}; "
        f"rounds wait for at most {meta.get('max_load', '?')} other runnable tasks",
        "versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
    ]
    for key, label in (("varnish_threads", "varnish threads"), ("varnish_sessions", "varnish sessions"),
                       ("haproxy_gzip", "haproxy gzip"),
                       ("haproxy_gzip_minimum", "haproxy gzip 256-byte minimum")):
        if key in meta:
            head.append(f"{label}: {meta[key]}")
    if report["skipped_peers"]:
        head.append("skipped (not installed): " + " ".join(report["skipped_peers"]))
    head.append(f"capacity: {report['capacity_rule']}")
    for scenario, targets in report["not_measured"].items():
        for target, why in targets.items():
            head.append(f"not measured: {target} in {scenario}: {why}")
    for n in report["noisy_rounds"]:
        head.append(f"noisy: {n['scenario']}: " + "; ".join(n["reasons"]))
    head.append("published: " + ("yes, the ratios not marked refused" if published else
                                 "NO: every ratio is refused (reasons in the last column)"))
    text = head + [""] + text_table(rows_out) + [""] + level_lines(summary) + [""] + improvement_lines(comparison)
    with open(os.path.join(directory, "report.txt"), "w") as f:
        f.write("\n".join(text) + "\n")
    with open(os.path.join(directory, "report.md"), "w") as f:
        f.write("\n".join(markdown_table(rows_out)) + "\n")
    plot(directory, summary, meta)


if __name__ == "__main__":
    main()
