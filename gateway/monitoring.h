// What the admin API and the metrics file report: merged per-route timing and cache counters,
// process figures from /proc, and the Prometheus text exposition of the same (format 0.0.4).
// Everything here runs on the main thread, off the workers' request path.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace perfgate {

class Gateway;

// The process as /proc and getrusage see it.
struct ProcessStats {
  double cpu_user_seconds = 0;
  double cpu_system_seconds = 0;
  uint64_t rss_bytes = 0;
  uint64_t virtual_bytes = 0;
  int64_t open_fds = -1;
  int64_t max_fds = -1;
  int64_t threads = -1;
  double start_time_seconds = 0;  // since the Unix epoch
  double load_average[3] = {-1, -1, -1};
};
ProcessStats readProcessStats();

// GET /api/monitoring/metrics: {"uptime_seconds", "global", "routes": {NAME: ...}, "unrouted",
// "upstreams", "l2"}; also the body of each line of the metrics file (with a timestamp added).
nlohmann::json metricsJson(const Gateway& gateway);
// The L2 layer's state and counters ("l2" of /api/monitoring/metrics and /health); null
// without [cache.l2].
nlohmann::json l2Json(const Gateway& gateway);
// GET /api/monitoring/system.
nlohmann::json systemJson(const Gateway& gateway);
// GET /metrics.
std::string prometheusText(const Gateway& gateway);

}  // namespace perfgate
