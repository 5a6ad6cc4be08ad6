-- hit-gzip: a cached 20 KB HTML page asked for with Accept-Encoding: gzip (sample backend: GET
-- /page, max-age=60). Shows whether a cache stores the compressed body or compresses every hit.
dofile((os.getenv("BENCH_SCENARIO_DIR") or "bench/scenarios") .. "/common.lua").single("hit-gzip")
