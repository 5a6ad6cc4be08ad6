-- mixed: a user journey of weighted tasks (sample backend, bench/scenarios/sample.paths): home
-- page, list items, view an item by a Zipf-like id, search, a static asset, post an order (unsafe:
-- invalidates the ordered item) and log in (private, never cached). Every target gets the same
-- seeded sequence of requests.
local bench = dofile((os.getenv("BENCH_SCENARIO_DIR") or "bench/scenarios") .. "/common.lua")
bench.weighted("mixed")
