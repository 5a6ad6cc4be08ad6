// Tracing as a filter: for each request a server span (W3C trace context): the trace and parent
// from an incoming `traceparent` (a sampled flag is followed, an unsampled one too), or a new
// trace sampled at [tracing] sample_percent; the backend gets `traceparent` naming this span as
// its parent (`tracestate` passes as it came); when the exchange ends the span, with the route,
// status, cache verdict and upstream time, goes to the exporter.
#pragma once

#include <memory>

#include "filters/filter.h"
#include "filters/tracing/otlp_exporter.h"

namespace perfgate {

class TracingFilter final : public Filter {
 public:
  explicit TracingFilter(std::shared_ptr<OtlpExporter> exporter) : exporter_(std::move(exporter)) {}

  std::string_view name() const override { return "tracing"; }
  FilterAction onRequest(Exchange& exchange, size_t index) const override;
  void onUpstreamRequest(Exchange& exchange, size_t index, UpstreamRequest& request) const override;
  void onComplete(Exchange& exchange, size_t index, bool complete) const override;

 private:
  std::shared_ptr<OtlpExporter> exporter_;
};

}  // namespace perfgate
