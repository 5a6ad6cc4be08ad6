#include "filters/tracing/tracing_module.h"

#include "filters/tracing/tracing_filter.h"

namespace perfgate {
namespace {

bool sameSettings(const TracingConfig& a, const TracingConfig& b) {
  return a.otlp_endpoint == b.otlp_endpoint && a.service_name == b.service_name &&
         a.sample_percent == b.sample_percent && a.batch_size == b.batch_size &&
         a.flush_interval == b.flush_interval && a.max_queue == b.max_queue && a.export_timeout == b.export_timeout;
}

}  // namespace

std::string TracingModule::configure(const Config& config) {
  const TracingConfig& settings = config.section<TracingConfig>();
  if (settings.otlp_endpoint.empty()) {
    pending_.reset();
  } else if (exporter_ != nullptr && sameSettings(exporter_->config(), settings)) {
    pending_ = exporter_;
  } else {
    pending_ = std::make_shared<OtlpExporter>(settings);
  }
  return "";
}

std::shared_ptr<const Filter> TracingModule::makeFilter(const std::shared_ptr<const Config>&) {
  if (exporter_ != nullptr && exporter_ != pending_) {
    retired_exported_ += exporter_->exported();
    retired_dropped_ += exporter_->dropped();
    retired_failed_ += exporter_->failed();
  }
  exporter_ = pending_;
  if (exporter_ == nullptr) return nullptr;
  return std::make_shared<TracingFilter>(exporter_);
}

void TracingModule::stop() {
  pending_.reset();
  exporter_.reset();  // the filters' references go with the last snapshot; the last one exports what is queued
}

void TracingModule::collectMetrics(MetricsSink& sink) const {
  static constexpr MetricFamily kSpans{"perfgate_tracing_spans_total", "counter",
                                       "Spans sent to the OTLP collector (exported), dropped because the queue was "
                                       "full (dropped), or lost with a failed export (failed)."};
  uint64_t exported = retired_exported_ + (exporter_ ? exporter_->exported() : 0);
  uint64_t dropped = retired_dropped_ + (exporter_ ? exporter_->dropped() : 0);
  uint64_t failed = retired_failed_ + (exporter_ ? exporter_->failed() : 0);
  sink.sample(kSpans, {{"result", "exported"}}, exported, "metrics:tracing.exported");
  sink.sample(kSpans, {{"result", "dropped"}}, dropped, "metrics:tracing.dropped");
  sink.sample(kSpans, {{"result", "failed"}}, failed, "metrics:tracing.failed");
}

}  // namespace perfgate
