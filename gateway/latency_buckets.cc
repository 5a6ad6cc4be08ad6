#include "gateway/latency_buckets.h"

#include <algorithm>

#include "filters/timing/timing_stats.h"
#include "gateway/gateway.h"

namespace perfgate {

nlohmann::json latencyBucketsJson(const Gateway& gateway) {
  const Config& config = *gateway.snapshot()->config;
  HistogramTotals all;
  if (config.metrics.enabled) {
    TimingTotals timing = gateway.timingStats().merged();
    for (const RouteConfig& route : config.routes) all.add(timing.routes[route.name].total);
  }
  nlohmann::json buckets = nlohmann::json::array();
  uint64_t count = 0;
  for (size_t i = 0; i < HistogramLayout::kBuckets; ++i) {
    if (all.buckets[i] == 0) continue;
    count += all.buckets[i];
    uint64_t lower = i < HistogramLayout::kTracked ? HistogramLayout::lowerBound(i) : HistogramLayout::kMaxTracked + 1;
    uint64_t upper = i < HistogramLayout::kTracked ? lower + HistogramLayout::width(i) : std::max(all.max_ns, lower) + 1;
    buckets.push_back({lower, upper, all.buckets[i]});
  }
  return {{"timing", config.metrics.enabled}, {"count", count}, {"buckets", std::move(buckets)}};
}

}  // namespace perfgate
