#include "filters/tracing/tracing_config.h"

namespace perfgate {

void declareTracingConfig(ConfigSchema& schema) {
  schema.global<TracingConfig>("tracing")
      .custom(
          "otlp_endpoint",
          "OTLP/HTTP JSON traces endpoint of a collector (`http://127.0.0.1:4318/v1/traces`): a span per request; "
          "empty: no spans (`traceparent`/`tracestate` still pass through untouched)",
          [](TracingConfig& t, const ConfigValue& v) {
            t.otlp_endpoint = v.string();
            if (!t.otlp_endpoint.empty() && t.otlp_endpoint.rfind("http://", 0) != 0 &&
                t.otlp_endpoint.rfind("https://", 0) != 0) {
              throw v.error("'otlp_endpoint' must be an http:// or https:// URL");
            }
          },
          [](const TracingConfig& t) -> std::optional<std::string> {
            return tomlQuote(t.otlp_endpoint) + (t.otlp_endpoint.empty() ? "  # off" : "");
          })
      .documentedDefault("`\"\"`")
      .string("service_name", &TracingConfig::service_name, "the spans' `service.name` resource attribute")
      .integer("sample_percent", &TracingConfig::sample_percent, 0, 100,
               "share of the traces perfgate starts that are recorded; a request whose `traceparent` says sampled is "
               "always recorded, one that says not sampled never")
      .integer("batch_size", &TracingConfig::batch_size, 1, 10'000, "spans per export request")
      .duration("flush_interval", &TracingConfig::flush_interval, "longest a span waits before it is exported")
      .integer("max_queue", &TracingConfig::max_queue, 1, 1'000'000,
               "spans waiting for export; more are dropped (counted in `perfgate_tracing_spans_total`)")
      .duration("export_timeout", &TracingConfig::export_timeout, "longest an export request may take")
      .check([](TracingConfig& t, const Config&) {
        if (t.flush_interval < Millis(10)) throw KeyError("'flush_interval' must be at least 10ms", "flush_interval");
        if (t.export_timeout < Millis(10)) throw KeyError("'export_timeout' must be at least 10ms", "export_timeout");
      });
}

}  // namespace perfgate
