// What the core reports of itself: its upstreams (requests, errors, connections closed), the
// connections, the workers and the process as /proc and getrusage see it; and the passive part
// of GET /api/monitoring/health. Runs on the main thread, off the workers' request path.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "gateway/admin/metrics_sink.h"

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

// The core's figures: "metrics:uptime_seconds", "metrics:upstreams.*", the "system" view and the
// Prometheus families perfgate_upstream_*, perfgate_connections, perfgate_workers,
// perfgate_build_info and process_*.
void collectCoreMetrics(const Gateway& gateway, MetricsSink& sink);

// GET /api/monitoring/health as far as it is known without a probe: {"status": "ok"|"degraded",
// "version", "uptime_seconds", "connections", "upstreams": {NAME: {...}}} and each module's part.
// With `judge_upstreams`, an upstream whose latest exchange failed makes it "degraded" (a probe
// judges them instead).
nlohmann::json healthJson(const Gateway& gateway, bool judge_upstreams);

}  // namespace perfgate
