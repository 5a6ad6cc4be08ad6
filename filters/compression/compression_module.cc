#include "filters/compression/compression_module.h"

#include "filters/compression/compression_filter.h"

namespace perfgate {
namespace {

const MetricFamily kCompressed{"perfgate_compression_responses_total", "counter",
                               "Response bodies gzip-compressed (a cache fill once per object)."};
const MetricFamily kBytes{"perfgate_compression_bytes_total", "counter",
                          "Body bytes into and out of gzip compression."};

}  // namespace

std::shared_ptr<const Filter> CompressionModule::makeFilter(const std::shared_ptr<const Config>& config) {
  return std::make_shared<CompressionFilter>(config->section<CompressionConfig>(), stats_);
}

void CompressionModule::collectMetrics(MetricsSink& sink) const {
  CompressionTotals totals = stats_->merged();
  sink.sample(kCompressed, {}, totals.compressed, "cache:compression.compressed");
  sink.sample(kBytes, {{"direction", "in"}}, totals.bytes_in, "cache:compression.bytes_in");
  sink.sample(kBytes, {{"direction", "out"}}, totals.bytes_out, "cache:compression.bytes_out");
}

}  // namespace perfgate
