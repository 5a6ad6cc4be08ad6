-- hit-small: a small cached JSON response (sample backend: GET /api/small, 789 bytes,
-- Cache-Control: public, max-age=60). Through a cache every request is a hit.
dofile((os.getenv("BENCH_SCENARIO_DIR") or "bench/scenarios") .. "/common.lua").single("hit-small")
