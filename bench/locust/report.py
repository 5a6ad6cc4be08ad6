#!/usr/bin/env python3
"""The report of one bench/locust/run.sh: reads DIR/meta.txt, DIR/runs.csv and each run's CSVs,
writes DIR/report.txt and DIR/report.md (direct and perfgate side by side, per user level and
task: requests, req/s, p50/p95/p99, failures, perfgate's X-Cache HIT share) and, through gnuplot,
DIR/plot.png (p95 per level, per task and target) with DIR/plot.gp and DIR/plot.dat.

Per run (u<USERS>-r<ROUND>-<TARGET>):
  _stats_final.csv    Locust's statistics at the end of the run (requests, failures, req/s, and
                      its own percentiles in whole ms); _stats.csv when the final file is missing
  _latency.csv        the locustfile's full-resolution percentiles (p50/p95/p99 here come from it)
  _extra.json         the X-Cache answers per request name and all requests sent
With several rounds, each figure is the median over the rounds; requests and failures are sums.

Usage: bench/locust/report.py DIR
"""
import csv
import json
import os
import statistics
import subprocess
import sys

# The seven tasks of the journey (locustfile.py names each request "TASK METHOD PATH").
TASKS = ["home", "items", "item", "search", "static", "order", "login"]
TASK_TITLES = {
    "home": "home GET /",
    "items": "items GET /api/items",
    "item": "item GET /api/items/[id]",
    "search": "search GET /api/search?q=[term]",
    "static": "static GET /static/app.js",
    "order": "order POST /api/orders?item=[id]",
    "login": "login POST /api/login",
    "login at start": "login at start (once per user, outside the weights)",
    "all": "all requests",
}
TARGETS = ["direct", "perfgate"]
LOCUST_BOUND_PCT = 90.0   # Locust's CPU use over a run, % of one core, from which its timing is suspect
BUSY_LOAD = 1.5           # other runnable tasks before a run (bench/run's --max-load default)
FEW_FOR_P99 = 100         # below this many requests, p99 is about the maximum


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                meta[key] = value
    return meta


def task_of(name):
    if name == "Aggregated":
        return "all"
    if name == "login at start":
        return name
    first = name.split(" ", 1)[0]
    return first if first in TASKS else None


def read_run(directory, prefix):
    """{task: {...figures...}} of one run, and the run's extra.json."""
    base = os.path.join(directory, prefix)
    stats_path = base + "_stats_final.csv"
    if not os.path.exists(stats_path):
        stats_path = base + "_stats.csv"
    figures = {}
    with open(stats_path, newline="") as f:
        for row in csv.DictReader(f):
            task = task_of(row["Name"])
            if task is None:
                continue
            figures[task] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "locust_p95": number(row.get("95%")),
            }
    latency_path = base + "_latency.csv"
    if os.path.exists(latency_path):
        with open(latency_path, newline="") as f:
            for row in csv.DictReader(f):
                task = task_of(row["name"])
                if task is None:
                    continue
                figures.setdefault(task, {"requests": 0, "failures": 0, "rps": None, "locust_p95": None})
                for key in ("mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"):
                    figures[task][key] = float(row[key])
    extra = {}
    if os.path.exists(base + "_extra.json"):
        with open(base + "_extra.json") as f:
            extra = json.load(f)
    hits = {}
    for name, values in extra.get("x_cache", {}).items():
        task = task_of(name)
        if task is not None:
            hits[task] = values
    codings = {}
    for name, values in extra.get("content_encoding", {}).items():
        task = task_of(name)
        if task is not None:
            codings[task] = values
    for key, per_task in (("x_cache", hits), ("content_encoding", codings)):
        all_values = {}
        for task, values in per_task.items():
            if task in TASKS:
                for value, count in values.items():
                    all_values[value] = all_values.get(value, 0) + count
        per_task["all"] = all_values
        for task, values in per_task.items():
            figures.setdefault(task, {"requests": 0, "failures": 0, "rps": None, "locust_p95": None})
            figures[task][key] = values
    return figures, extra


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def combine(runs):
    """The figures of one (users, target) over its rounds: {task: figures}."""
    tasks = {}
    for figures, _ in runs:
        for task, f in figures.items():
            tasks.setdefault(task, []).append(f)
    out = {}
    for task, fs in tasks.items():
        c = {"requests": sum(f["requests"] for f in fs), "failures": sum(f["failures"] for f in fs)}
        for key in ("rps", "locust_p95", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"):
            c[key] = median(f.get(key) for f in fs)
        for key in ("x_cache", "content_encoding"):
            summed = {}
            for f in fs:
                for value, count in f.get(key, {}).items():
                    summed[value] = summed.get(value, 0) + count
            c[key] = summed
        counted = sum(c["x_cache"].values())
        c["hit_share"] = c["x_cache"].get("HIT", 0) / counted if counted and set(c["x_cache"]) != {"-"} else None
        counted = sum(c["content_encoding"].values())
        c["gzip_share"] = c["content_encoding"].get("gzip", 0) / counted if counted else None
        out[task] = c
    return out


def fmt_ms(v):
    if v is None:
        return "-"
    if v < 10:
        return f"{v:.2f}"
    if v < 100:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def fmt_num(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def fmt_pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def text_table(headers, rows, right_from=1):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    def line(cells):
        return "  ".join(str(c).ljust(w) if i < right_from else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def md_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench/locust/report.py DIR")
    directory = sys.argv[1]
    meta = read_meta(os.path.join(directory, "meta.txt"))
    with open(os.path.join(directory, "runs.csv"), newline="") as f:
        runs = list(csv.DictReader(f))
    if not runs:
        sys.exit("report.py: runs.csv has no runs")

    levels = sorted({int(r["users"]) for r in runs})
    rounds = max(int(r["round"]) for r in runs)
    wait = [float(x) for x in meta.get("wait_s", "1-3").split("-")]
    mean_wait = sum(wait) / 2
    duration = int(meta.get("duration_s", "0") or 0)
    cpus = int(meta.get("cpus", "0") or 0) or os.cpu_count() or 1

    # (users, target) -> combined figures, run-level facts
    combined, facts = {}, {}
    for users in levels:
        for target in TARGETS:
            rows = [r for r in runs if int(r["users"]) == users and r["target"] == target]
            if not rows:
                continue
            data = [read_run(directory, r["prefix"]) for r in rows]
            combined[(users, target)] = combine(data)
            requests_all = sum(e.get("requests_all", 0) for _, e in data)
            backend = sum(int(r["backend_requests"]) for r in rows)
            facts[(users, target)] = {
                "locust_cpu": median(float(r["locust_cpu_pct"]) for r in rows),
                "cpu_warnings": sum(e.get("cpu_warnings", 0) for _, e in data),
                "load_before": max(float(r["load_before"]) for r in rows),
                "load_after": max(number(r["load_average_1m"]) or 0 for r in rows),
                "backend_share": backend / requests_all if requests_all else None,
                "server_cpu": median((float(r["backend_cpu_s"]) + float(r["perfgate_cpu_s"])) / float(r["locust_wall_s"])
                                     for r in rows if float(r["locust_wall_s"]) > 0),
                "first": sum(1 for r in rows if r["position"] == "1"),
            }

    def flags(users, target):
        f = facts[(users, target)]
        out = []
        if (f["locust_cpu"] or 0) >= LOCUST_BOUND_PCT or f["cpu_warnings"]:
            out.append("locust-bound")
        if f["load_before"] > BUSY_LOAD or f["load_after"] > cpus:
            out.append("busy")
        return ", ".join(out)

    # ---- the summary: all requests, per level and target
    summary_headers = ["users", "target", "requests", "req/s", "expected req/s", "p50 ms", "p95 ms", "p99 ms",
                       "Locust p95 ms", "failed", "gzip answers", "X-Cache HIT", "backend saw", "Locust CPU", "servers CPU", "flags"]
    summary_rows = []
    for users in levels:
        for target in TARGETS:
            if (users, target) not in combined:
                continue
            a = combined[(users, target)].get("all", {})
            f = facts[(users, target)]
            mean_s = (a.get("mean_ms") or 0) / 1000
            expected = users / (mean_wait + mean_s) if mean_wait + mean_s > 0 else None
            p99 = fmt_ms(a.get("p99_ms")) + ("*" if a.get("requests", 0) < FEW_FOR_P99 * rounds else "")
            summary_rows.append([
                users, target, fmt_num(a.get("requests")), fmt_num(a.get("rps"), 1), fmt_num(expected, 1),
                fmt_ms(a.get("p50_ms")), fmt_ms(a.get("p95_ms")), p99, fmt_num(a.get("locust_p95")),
                f"{a.get('failures', 0)} ({fmt_pct(a['failures'] / a['requests']) if a.get('requests') else '-'})",
                fmt_pct(a.get("gzip_share")), fmt_pct(a.get("hit_share")), fmt_pct(f["backend_share"]),
                f"{f['locust_cpu']:.0f}%" if f["locust_cpu"] is not None else "-",
                f"{100 * f['server_cpu']:.1f}%" if f["server_cpu"] is not None else "-",
                flags(users, target)])

    # ---- per level: the tasks side by side
    task_headers = ["task", "requests d / pg", "req/s d / pg", "p50 ms d / pg", "p95 ms d / pg", "p99 ms d / pg",
                    "failed d / pg", "pg X-Cache HIT"]
    level_tables = []
    for users in levels:
        d = combined.get((users, "direct"), {})
        p = combined.get((users, "perfgate"), {})
        rows = []
        for task in TASKS + ["login at start", "all"]:
            dt, pt = d.get(task), p.get(task)
            if not (dt or {}).get("requests") and not (pt or {}).get("requests"):
                continue
            dt, pt = dt or {}, pt or {}

            def pair(key, fn):
                return f"{fn(dt.get(key))} / {fn(pt.get(key))}"

            def p99(t):
                v = fmt_ms(t.get("p99_ms"))
                return v + ("*" if v != "-" and t.get("requests", 0) < FEW_FOR_P99 * rounds else "")

            rows.append([TASK_TITLES.get(task, task), pair("requests", fmt_num), pair("rps", lambda v: fmt_num(v, 1)),
                         pair("p50_ms", fmt_ms), pair("p95_ms", fmt_ms), f"{p99(dt)} / {p99(pt)}",
                         pair("failures", fmt_num), fmt_pct(pt.get("hit_share"))])
        first = "direct" if facts.get((users, "direct"), {}).get("first", 0) >= facts.get((users, "perfgate"), {}).get("first", 0) else "perfgate"
        level_tables.append((users, first, rows))

    # ---- header lines
    smoke = duration < 60 or rounds < 3
    header = [
        "Locust: the mixed journey as shop visitors, the sample backend alone (direct) and through perfgate",
        f"run {meta.get('started', '?')} to {meta.get('finished', '?')}: {meta.get('command', '')}",
        f"machine: {meta.get('cpu_model', '?')}, {meta.get('cpus', '?')} CPUs, {meta.get('memory', '?')}, "
        f"{meta.get('kernel', '?')}",
        f"load average (1, 5, 15 min) before: {meta.get('load_average_before', '?')}; after: "
        f"{meta.get('load_average_after', '?')}",
        f"placement: {meta.get('placement', '?')}",
        f"backend: {meta.get('backend', '?')}; perfgate: {meta.get('perfgate', '?')}, "
        f"{meta.get('version.perfgate', '?')}, commit {meta.get('version.commit', '?')}",
        f"locust {meta.get('version.locust', '?')} ({'FastHttpUser' if meta.get('client') == 'fast' else 'HttpUser'}), "
        f"one process; think time {meta.get('wait_s', '?')} s (uniform); spawn rate {meta.get('spawn_rate', '?')}/s; "
        f"levels {meta.get('levels', '?')} users; about {duration} s measured per run (statistics reset once "
        f"every user has started and logged in); {rounds} round(s), targets alternating first; seed {meta.get('seed', '?')}",
    ]
    notes = [
        "How to read it:",
        "- Users wait for each answer, then think (closed model): the load is about users / (mean think "
        "time + response time) requests per second (\"expected req/s\"), a few hundred req/s at 500 users, "
        "far below what bench/run measures as capacity. These levels show what visitors see at realistic "
        "numbers of users, not how much the servers can take.",
        "- p50/p95/p99 are from every request's time at full resolution (time.perf_counter() in the "
        "locustfile, _latency.csv); \"Locust p95\" is Locust's own, which keeps whole milliseconds below "
        "100 ms (FastHttpUser truncates each time to the ms, so cache hits on localhost read 0). "
        f"A p99 marked * comes from fewer than {FEW_FOR_P99} requests per round: it is about the maximum.",
        "- \"gzip answers\": the share of answers with Content-Encoding: gzip. Every request asks for "
        "gzip; the sample backend alone answers identity, perfgate compresses (bench/conf/hits.toml), "
        "so perfgate's times include the client's gunzip, as a browser's would.",
        "- \"X-Cache HIT\": the share of perfgate's answers that said X-Cache: HIT (the measured window). "
        "\"backend saw\": requests the sample backend counted during the run (its /__stats) against all "
        "requests Locust sent in it, spawning included (a little over 100% when Locust stops users "
        "whose requests the backend already counted).",
        "- \"Locust CPU\": Locust's CPU time over the run's wall time, % of one core (it is pinned to one). "
        f"At {LOCUST_BOUND_PCT:.0f}% or more (or when Locust warned about its CPU) the run is flagged "
        "locust-bound: its response times include waiting for Locust's own event loop. \"servers CPU\": "
        "the sample backend's and perfgate's CPU time over the run, % of one core. "
        f"\"busy\": more than {BUSY_LOAD} other tasks were runnable before the run, or the 1-minute load "
        "average at its end was above the number of CPUs (this run's own processes add about 1).",
    ]
    if smoke:
        notes.insert(0, f"A smoke, not a result: {duration} s per run and {rounds} round(s) (a result wants at "
                        "least 60 s and 3 rounds, and a quiet machine).")

    text = ["\n".join(header), ""]
    text.append(text_table(summary_headers, summary_rows, right_from=2))
    for users, first, rows in level_tables:
        text += ["", f"{users} users (direct = d, perfgate = pg; {first} ran first)",
                 text_table(task_headers, rows)]
    text += ["", "\n".join(notes), ""]
    with open(os.path.join(directory, "report.txt"), "w") as f:
        f.write("\n".join(text))

    md = ["# " + header[0], ""] + [f"- {h}" for h in header[1:]] + [""]
    md += ["## All requests, per level", "", md_table(summary_headers, summary_rows), ""]
    for users, first, rows in level_tables:
        md += [f"## {users} users ({first} ran first)", "", md_table(task_headers, rows), ""]
    md += ["![p95 per level, per task and target](plot.png)", ""]
    for note in notes:
        md += [note] if note.startswith("- ") else [note, ""]
    md += [""]
    with open(os.path.join(directory, "report.md"), "w") as f:
        f.write("\n".join(md))

    plot(directory, levels, combined)


def plot(directory, levels, combined):
    panels = ["all"] + TASKS
    with open(os.path.join(directory, "plot.dat"), "w") as f:
        for task in panels:
            f.write(f"# {TASK_TITLES[task]}: users direct_p95_ms perfgate_p95_ms\n")
            for users in levels:
                values = []
                for target in TARGETS:
                    v = combined.get((users, target), {}).get(task, {}).get("p95_ms")
                    values.append("?" if v is None else f"{v:.3f}")
                f.write(f"{users} {values[0]} {values[1]}\n")
            f.write("\n\n")
    log_x = len(levels) > 1 and max(levels) / min(levels) >= 10
    cairo = has_cairo()
    lines = [
        f"set terminal {'pngcairo' if cairo else 'png'} size 1600,800" + (" font 'sans,10'" if cairo else ""),
        f"set output '{os.path.join(directory, 'plot.png')}'",
        "set datafile missing '?'",
        "set multiplot layout 2,4 title 'Locust, mixed journey: p95 response time per user level (ms)'",
        "set key top left",
        "set grid",
        "set xlabel 'users'",
        "set ylabel 'p95 ms'",
        "set yrange [0:*]",
        f"set xtics ({', '.join(str(u) for u in levels)})",
    ]
    if log_x:
        lines.append("set logscale x")
    data = os.path.join(directory, "plot.dat")
    for i, task in enumerate(panels):
        lines.append(f"set title \"{TASK_TITLES[task]}\" noenhanced")
        lines.append(f"plot '{data}' index {i} using 1:2 with linespoints lw 2 pt 7 title 'direct', "
                     f"'' index {i} using 1:3 with linespoints lw 2 pt 5 title 'perfgate'")
    lines.append("unset multiplot")
    script = os.path.join(directory, "plot.gp")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    done = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        sys.exit(f"report.py: gnuplot failed on {script}")


def has_cairo():
    out = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (out.stdout + out.stderr)


if __name__ == "__main__":
    main()
