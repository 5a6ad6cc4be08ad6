// GET /api/monitoring/latency: the request-duration histogram of all configured routes together,
// its non-empty buckets only. A poller takes the difference of two answers to get quantiles of
// just the requests in between (the dashboard's latency chart), at the histogram's precision
// (1.6%) rather than the coarse bounds of the Prometheus buckets.
#pragma once

#include <nlohmann/json.hpp>

namespace perfgate {

class Gateway;

// {"timing": bool, "count": N, "buckets": [[lower_ns, upper_ns, count], ...]} in ascending order;
// a bucket holds values in [lower_ns, upper_ns). Empty when timing is off ([metrics] enabled).
nlohmann::json latencyBucketsJson(const Gateway& gateway);

}  // namespace perfgate
