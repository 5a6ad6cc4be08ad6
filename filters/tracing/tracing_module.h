// Tracing as a module: [tracing], the exporter (its thread and queue kept across reloads while
// the settings stay), the filter, and the span counters.
#pragma once

#include <memory>

#include "filters/module.h"
#include "filters/tracing/otlp_exporter.h"
#include "filters/tracing/tracing_config.h"

namespace perfgate {

class TracingModule final : public Module {
 public:
  static void declareConfig(ConfigSchema& schema) { declareTracingConfig(schema); }

  std::string_view name() const override { return "tracing"; }
  std::string configure(const Config& config) override;
  std::shared_ptr<const Filter> makeFilter(const std::shared_ptr<const Config>& config) override;
  void stop() override;
  void collectMetrics(MetricsSink& sink) const override;

 private:
  std::shared_ptr<OtlpExporter> exporter_;  // in force
  std::shared_ptr<OtlpExporter> pending_;   // for the config being put in force
  // Spans of exporters no longer in force, so the counters never go back.
  uint64_t retired_exported_ = 0;
  uint64_t retired_dropped_ = 0;
  uint64_t retired_failed_ = 0;
};

}  // namespace perfgate
