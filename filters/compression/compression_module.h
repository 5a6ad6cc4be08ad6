// gzip as a module: [compression] and the per-route switch, the counters (which outlive
// reloads), and its filter, CompressionFilter.
#pragma once

#include <memory>

#include "filters/compression/compression_config.h"
#include "filters/compression/compression_stats.h"
#include "filters/module.h"

namespace perfgate {

class CompressionModule final : public Module {
 public:
  static void declareConfig(ConfigSchema& schema) { declareCompressionConfig(schema); }

  std::string_view name() const override { return "compression"; }
  std::shared_ptr<const Filter> makeFilter(const std::shared_ptr<const Config>& config) override;
  void collectMetrics(MetricsSink& sink) const override;

 private:
  std::shared_ptr<CompressionStats> stats_ = std::make_shared<CompressionStats>();
};

}  // namespace perfgate
