"""The `mixed` journey of bench/scenarios/ (bench/scenarios/sample.paths) as Locust users: shop
visitors who think between clicks, keep their session cookie and ask for gzip, as a browser does.

Seven tasks, with the weights of the mixed scenario (they add up to 100):
  home     10  GET  /
  items    20  GET  /api/items
  item     35  GET  /api/items/ID            ID Zipf-like over 1..1000 (s = 1: id k 1/k as often as 1)
  search   10  GET  /api/search?q=TERM       TERM Zipf-ranked over the 50 terms of common.lua
  static   15  GET  /static/app.js
  order     5  POST /api/orders?item=ID      {"qty":1} (201; Content-Location drops the item)
  login     5  POST /api/login               user=demo&password=demo (200, private, Set-Cookie)
Each request is named by its task ("item GET /api/items/[id]", ...), so ids and terms do not
explode the statistics. A user logs in once when it starts ("login at start", outside the
seven tasks' weights) and again on the login task; the client keeps the session cookie and sends
it with every later request, as a browser would. Every request carries Accept-Encoding: gzip.
A request fails when the status is not the expected one (201 for an order, 200 otherwise), and
a login fails without a session cookie.

Environment:
  BENCH_LOCUST_WAIT_MIN, BENCH_LOCUST_WAIT_MAX
                        think time between tasks, seconds, uniform (default 1 and 3)
  BENCH_LOCUST_CLIENT   fast (default: FastHttpUser, geventhttpclient, several times less CPU per
                        request) or requests (HttpUser, python-requests)
  BENCH_SEED            seeds the draws (default 1); users run concurrently, so the sequence
                        is only as repeatable as the interleaving of their greenlets
  BENCH_LOCUST_RESET_AFTER_START
                        1: reset the statistics once every user has started and logged in (what
                        bench/locust/run.sh measures; see user_started below)
  BENCH_LOCUST_PROBE    1: each user first checks, with GET /echo (the sample backend's echo of
                        the request), that its requests carry the session cookie and
                        Accept-Encoding: gzip ("probe GET /echo"; bench/locust/run.sh runs
                        this once per target before measuring)

Besides Locust's CSVs (--csv PREFIX), it writes these when Locust quits:
  PREFIX_stats_final.csv, PREFIX_failures_final.csv
      Locust's statistics as they end: Locust 2.12 rewrites PREFIX_stats.csv once a second and
      not at the end, so that file can miss the last second's requests.
  PREFIX_latency.csv
      per request name (and "Aggregated") the count, mean, p50, p95, p99 and max response time in
      ms at full resolution (time.perf_counter() around each request): Locust's own statistics
      keep whole milliseconds below 100 ms (10 ms steps up to 1 s), and FastHttpUser truncates
      each time to whole milliseconds, so its p50 of a cache hit on localhost reads 0.
  PREFIX_extra.json
      per request name the X-Cache values answered (perfgate says HIT, MISS, BYPASS, ...; the
      backend alone says nothing: "-") and the Content-Encoding of the answers, counted like
      Locust's statistics (from their reset, if any); all requests sent, the spawning phase
      included (to set against the backend's /__stats counter); how often Locust warned that
      its CPU was above 90%.

Run alone: locust -f bench/locust/locustfile.py --host http://127.0.0.1:8000 (the web UI), or
headless as bench/locust/run.sh does.
"""
import collections
import csv
import itertools
import json
import os
import random
import time

from locust import HttpUser, between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

WAIT_MIN = float(os.environ.get("BENCH_LOCUST_WAIT_MIN", "1"))
WAIT_MAX = float(os.environ.get("BENCH_LOCUST_WAIT_MAX", "3"))
CLIENT = os.environ.get("BENCH_LOCUST_CLIENT", "fast")
SEED = int(os.environ.get("BENCH_SEED", "1"))
PROBE = os.environ.get("BENCH_LOCUST_PROBE", "") == "1"
RESET_AFTER_START = os.environ.get("BENCH_LOCUST_RESET_AFTER_START", "") == "1"
if CLIENT not in ("fast", "requests"):
    raise SystemExit(f"locustfile: BENCH_LOCUST_CLIENT must be fast or requests, not {CLIENT!r}")
if not 0 <= WAIT_MIN <= WAIT_MAX:
    raise SystemExit(f"locustfile: want 0 <= BENCH_LOCUST_WAIT_MIN <= BENCH_LOCUST_WAIT_MAX, got {WAIT_MIN}, {WAIT_MAX}")

# The 50 search terms of bench/scenarios/common.lua, in rank order.
TERMS = [
    "shoes", "coffee", "laptop", "phone", "chair", "lamp", "book", "jacket", "watch", "camera",
    "desk", "bottle", "bag", "headphones", "keyboard", "mouse", "monitor", "tent", "bike", "helmet",
    "socks", "tea", "pan", "knife", "pillow", "blanket", "candle", "mug", "plant", "rug",
    "sofa", "table", "shelf", "mirror", "clock", "speaker", "router", "cable", "charger", "case",
    "wallet", "belt", "scarf", "gloves", "boots", "hat", "sunglasses", "umbrella", "towel", "soap",
]
ITEMS = 1000


def zipf_cdf(n):
    """Cumulative weights of ranks 1..n, weight 1/k (as common.lua's zipfCdf)."""
    weights = [1 / k for k in range(1, n + 1)]
    return list(itertools.accumulate(weights))


ITEM_CDF = zipf_cdf(ITEMS)
TERM_CDF = zipf_cdf(len(TERMS))
ITEM_IDS = list(range(1, ITEMS + 1))

# Task selection and think time use the module's random; seed it once (per process).
random.seed(SEED)
_user_numbers = itertools.count(1)

GZIP = {"Accept-Encoding": "gzip"}
JSON_POST = {"Accept-Encoding": "gzip", "Content-Type": "application/json"}
FORM_POST = {"Accept-Encoding": "gzip", "Content-Type": "application/x-www-form-urlencoded"}

# name -> X-Cache value -> count, and name -> response times in ms (the measured window: reset
# with Locust's statistics).
x_cache = collections.defaultdict(collections.Counter)
timings = collections.defaultdict(list)
encodings = collections.defaultdict(collections.Counter)  # name -> Content-Encoding -> count
totals = {"requests_all": 0, "cpu_warnings": 0, "users_started": 0, "reset_at": None}
_env = {}  # the Environment, from the init event


@events.request.add_listener
def count_x_cache(name, response=None, **_):
    totals["requests_all"] += 1
    headers = getattr(response, "headers", None)
    value = (headers.get("X-Cache") if headers is not None else None) or "-"
    x_cache[name][value] += 1
    coding = (headers.get("Content-Encoding") if headers is not None else None) or "identity"
    encodings[name][coding] += 1


def reset_window():
    x_cache.clear()
    timings.clear()
    encodings.clear()
    totals["reset_at"] = time.time()


@events.spawning_complete.add_listener
def reset_with_stats(user_count, **_):
    # Locust resets its statistics here under --reset-stats: count the X-Cache values alike.
    env = _env.get("environment")
    if env is not None and env.reset_stats:
        reset_window()


def user_started():
    """Under BENCH_LOCUST_RESET_AFTER_START=1, the statistics (Locust's and these) are reset when
    the last user has finished on_start (logged in): --reset-stats resets them when the last user
    is spawned, before its on_start, so a burst of logins would land in the measured window."""
    totals["users_started"] += 1
    env = _env.get("environment")
    if not RESET_AFTER_START or totals["reset_at"] is not None or env is None or env.runner is None:
        return
    if totals["users_started"] >= env.runner.target_user_count > 0:
        env.stats.reset_all()
        reset_window()


@events.cpu_warning.add_listener
def count_cpu_warning(**_):
    totals["cpu_warnings"] += 1


@events.init.add_listener
def remember_environment(environment, **_):
    _env["environment"] = environment


@events.quitting.add_listener
def write_extra(environment, **_):
    prefix = getattr(environment.parsed_options, "csv_prefix", None) if environment.parsed_options else None
    if not prefix:
        return
    write_latency(f"{prefix}_latency.csv")
    # Locust (2.12) writes PREFIX_stats.csv once a second and not again when it quits: the last
    # second's requests can be missing there. The final figures, in the same columns:
    final = StatsCSV(environment, PERCENTILES_TO_REPORT)
    with open(f"{prefix}_stats_final.csv", "w", newline="") as f:
        final.requests_csv(csv.writer(f))
    with open(f"{prefix}_failures_final.csv", "w", newline="") as f:
        final.failures_csv(csv.writer(f))
    with open(f"{prefix}_extra.json", "w") as f:
        json.dump({
            "client": CLIENT,
            "wait_s": [WAIT_MIN, WAIT_MAX],
            "seed": SEED,
            "requests_all": totals["requests_all"],
            "users_started": totals["users_started"],
            "measured_from": totals["reset_at"],
            "cpu_warnings": totals["cpu_warnings"],
            "x_cache": {name: dict(values) for name, values in sorted(x_cache.items())},
            "content_encoding": {name: dict(values) for name, values in sorted(encodings.items())},
        }, f, indent=1, sort_keys=True)
        f.write("\n")


def percentile(ordered, q):
    """The q-th percentile (0-100) of sorted values: the smallest value with at least q% of the
    values at or below it (as Locust's, without its rounding)."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


def write_latency(path):
    rows = {name: sorted(values) for name, values in timings.items()}
    rows["Aggregated"] = sorted(v for values in timings.values() for v in values)
    with open(path, "w") as f:
        f.write("name,requests,mean_ms,p50_ms,p95_ms,p99_ms,max_ms\n")
        for name in sorted(rows, key=lambda n: (n == "Aggregated", n)):
            values = rows[name]
            if not values:
                continue
            figures = [sum(values) / len(values)] + [percentile(values, q) for q in (50, 95, 99)] + [values[-1]]
            quoted = '"' + name.replace('"', '""') + '"'
            f.write(f"{quoted},{len(values)}," + ",".join(f"{v:.3f}" for v in figures) + "\n")


class ShopVisitor(FastHttpUser if CLIENT == "fast" else HttpUser):
    """A shop visitor: the seven tasks of the mixed journey, with think time between them."""

    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self):
        self.rng = random.Random(SEED * 1_000_003 + next(_user_numbers))
        try:
            self.login("login at start")
            if PROBE:
                self.probe()
        finally:
            user_started()

    # ---- helpers
    def item_id(self):
        return self.rng.choices(ITEM_IDS, cum_weights=ITEM_CDF)[0]

    def term(self):
        return self.rng.choices(TERMS, cum_weights=TERM_CDF)[0]

    def request(self, method, path, name, headers, body=None):
        """The request, its time kept at full resolution (Locust keeps whole milliseconds, and
        FastHttpUser truncates to them): from the call to the body read, as Locust times it.
        The response is a context manager (catch_response)."""
        start = time.perf_counter()
        r = self.client.request(method, path, name=name, headers=dict(headers), data=body, catch_response=True)
        timings[name].append((time.perf_counter() - start) * 1000)
        return r

    def call(self, method, path, name, headers, expect, body=None):
        with self.request(method, path, name, headers, body) as r:
            if r.status_code != expect:
                r.failure(f"status {r.status_code}, want {expect}")
            else:
                r.success()
            return r

    def session_cookie(self):
        if CLIENT == "fast":
            jar = self.client.cookiejar
        else:
            jar = self.client.cookies
        return next((c.value for c in jar if c.name == "session"), None)

    def login(self, name):
        with self.request("POST", "/api/login", name, FORM_POST, "user=demo&password=demo") as r:
            set_cookie = r.headers.get("Set-Cookie") or ""
            if r.status_code != 200:
                r.failure(f"status {r.status_code}, want 200")
            elif "session=" not in set_cookie or self.session_cookie() is None:
                r.failure(f"no session cookie kept (Set-Cookie: {set_cookie!r})")
            else:
                r.success()

    def probe(self):
        """GET /echo: the backend echoes the request's headers; the cookie and gzip must be there."""
        with self.request("GET", "/echo", "probe GET /echo", GZIP) as r:
            try:
                echoed = {k.lower(): v for k, v in json.loads(r.content)["headers"]}
            except (ValueError, KeyError, TypeError) as e:
                r.failure(f"echo unreadable: {e}")
                return
            cookie = self.session_cookie()
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
            elif not cookie or f"session={cookie}" not in echoed.get("cookie", ""):
                r.failure(f"session cookie {cookie!r} not sent (Cookie: {echoed.get('cookie')!r})")
            elif "gzip" not in echoed.get("accept-encoding", ""):
                r.failure(f"Accept-Encoding: {echoed.get('accept-encoding')!r}")
            else:
                r.success()

    # ---- the seven tasks of the mixed journey, weights as in sample.paths
    @task(10)
    def home(self):
        self.call("GET", "/", "home GET /", GZIP, 200)

    @task(20)
    def items(self):
        self.call("GET", "/api/items", "items GET /api/items", GZIP, 200)

    @task(35)
    def item(self):
        self.call("GET", f"/api/items/{self.item_id()}", "item GET /api/items/[id]", GZIP, 200)

    @task(10)
    def search(self):
        self.call("GET", f"/api/search?q={self.term()}", "search GET /api/search?q=[term]", GZIP, 200)

    @task(15)
    def static(self):
        self.call("GET", "/static/app.js", "static GET /static/app.js", GZIP, 200)

    @task(5)
    def order(self):
        self.call("POST", f"/api/orders?item={self.item_id()}", "order POST /api/orders?item=[id]",
                  JSON_POST, 201, body='{"qty":1}')

    @task(5)
    def login_task(self):
        self.login("login POST /api/login")


if CLIENT == "fast":
    # One connection per user, as one browser tab keeps one (keep-alive); FastHttpUser's
    # defaults are 10 and 60 s.
    ShopVisitor.concurrency = 1
    ShopVisitor.network_timeout = 30.0
    ShopVisitor.connection_timeout = 10.0
