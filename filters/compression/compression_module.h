// Compression as a module: [compression] and the per-route switch, the counters (which outlive
// reloads; shared with the cache, whose background encoder counts into them), and its filter,
// CompressionFilter.
#pragma once

#include <memory>

#include "filters/compression/compression_config.h"
#include "filters/compression/compression_stats.h"
#include "filters/module.h"

namespace perfgate {

class CompressionModule final : public Module {
 public:
  static void declareConfig(ConfigSchema& schema) { declareCompressionConfig(schema); }

  explicit CompressionModule(std::shared_ptr<CompressionStats> stats) : stats_(std::move(stats)) {}

  std::string_view name() const override { return "compression"; }
  std::shared_ptr<const Filter> makeFilter(const std::shared_ptr<const Config>& config) override;
  void collectMetrics(MetricsSink& sink) const override;

 private:
  std::shared_ptr<CompressionStats> stats_;
};

}  // namespace perfgate
