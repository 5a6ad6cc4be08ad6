// Per-route timing as a module: the counters and histograms (which outlive reloads), its filter
// (TimingFilter, while the core's [metrics] enabled is on), its figures, and GET
// /api/monitoring/latency.
#pragma once

#include <memory>

#include "filters/module.h"
#include "filters/timing/timing_config.h"
#include "filters/timing/timing_stats.h"

namespace perfgate {

class TimingModule final : public Module {
 public:
  static void declareConfig(ConfigSchema& schema) { declareTimingConfig(schema); }

  std::string_view name() const override { return "timing"; }
  std::shared_ptr<const Filter> makeFilter(const std::shared_ptr<const Config>& config) override;
  void registerAdmin(AdminRoutes& routes) override;
  void collectMetrics(MetricsSink& sink) const override;

 private:
  // {"timing": bool, "count": N, "buckets": [[lower_ns, upper_ns, count], ...]}: the request
  // duration histogram of all configured routes together, its non-empty buckets only, in
  // ascending order (a bucket holds [lower, upper)). A poller takes the difference of two
  // answers to get quantiles of just the requests in between (the dashboard's latency chart).
  nlohmann::json latencyBuckets() const;

  std::shared_ptr<TimingStats> stats_ = std::make_shared<TimingStats>();
  std::shared_ptr<const Config> config_;
};

}  // namespace perfgate
