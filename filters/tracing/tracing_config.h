// [tracing]: spans of requests exported to an OpenTelemetry collector (OTLP over HTTP, JSON).
#pragma once

#include <string>

#include "gateway/config/config.h"

namespace perfgate {

struct TracingConfig {
  std::string otlp_endpoint;           // "http://host:4318/v1/traces"; empty: no spans (traceparent passes as is)
  std::string service_name = "perfgate";
  unsigned sample_percent = 100;       // of traces perfgate starts; a sampled parent is always followed
  unsigned batch_size = 256;           // spans per export request
  Millis flush_interval{1000};         // longest a span waits for its batch
  unsigned max_queue = 8192;           // spans waiting; beyond, new spans are dropped (counted)
  Millis export_timeout{2000};
};

void declareTracingConfig(ConfigSchema& schema);

}  // namespace perfgate
