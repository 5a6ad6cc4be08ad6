-- hit-gzip-origin: the 20 KB HTML page of hit-gzip, but compressed by the origin (sample
-- backend: GET /page-gz, Content-Encoding: gzip, Vary: Accept-Encoding, max-age=60), asked for
-- with Accept-Encoding: gzip. Every cache stores the backend's gzip body and sends it as it is,
-- so no target compresses per hit: the like-for-like row beside hit-gzip.
dofile((os.getenv("BENCH_SCENARIO_DIR") or "bench/scenarios") .. "/common.lua").single("hit-gzip-origin")
