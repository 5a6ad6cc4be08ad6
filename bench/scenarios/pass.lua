-- pass: an uncached route (sample backend: GET /api/pass, 789 bytes, Cache-Control: no-store):
-- every request goes to the backend; what a proxy adds to it.
dofile((os.getenv("BENCH_SCENARIO_DIR") or "bench/scenarios") .. "/common.lua").single("pass")
