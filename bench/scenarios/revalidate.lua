-- revalidate: conditional requests (If-None-Match, If-Modified-Since) for cached responses whose
-- validators the client already holds: a cache answers 304 without the body or the backend.
-- request() is defined at load time so that wrk knows the requests vary.
local bench = dofile((os.getenv("BENCH_SCENARIO_DIR") or "bench/scenarios") .. "/common.lua")
bench.weighted("revalidate")
