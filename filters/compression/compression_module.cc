#include "filters/compression/compression_module.h"

#include <string>

#include "filters/compression/compression_filter.h"

namespace perfgate {
namespace {

const MetricFamily kCompressed{"perfgate_compression_responses_total", "counter",
                               "Response bodies encoded, by coding (a stored object once per coding)."};
const MetricFamily kBytes{"perfgate_compression_bytes_total", "counter",
                          "Body bytes into and out of encoding, by coding."};
const MetricFamily kDecoded{"perfgate_compression_decoded_total", "counter",
                            "Bodies decoded for a client that does not take their coding (from the backend or the store), by coding."};

constexpr ContentCoding kEncodings[] = {ContentCoding::Gzip, ContentCoding::Br, ContentCoding::Zstd};

}  // namespace

std::shared_ptr<const Filter> CompressionModule::makeFilter(const std::shared_ptr<const Config>& config) {
  return std::make_shared<CompressionFilter>(config->section<CompressionConfig>(), stats_);
}

void CompressionModule::collectMetrics(MetricsSink& sink) const {
  CompressionTotals totals = stats_->merged();
  uint64_t compressed = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  for (ContentCoding coding : kEncodings) {
    size_t i = codingIndex(coding);
    std::string name(codingName(coding));
    std::string json = "cache:compression.codings." + name;
    sink.sample(kCompressed, {{"coding", name}}, totals.compressed[i], json + ".compressed");
    sink.sample(kBytes, {{"coding", name}, {"direction", "in"}}, totals.bytes_in[i], json + ".bytes_in");
    sink.sample(kBytes, {{"coding", name}, {"direction", "out"}}, totals.bytes_out[i], json + ".bytes_out");
    sink.sample(kDecoded, {{"coding", name}}, totals.decoded[i], json + ".decoded");
    compressed += totals.compressed[i];
    bytes_in += totals.bytes_in[i];
    bytes_out += totals.bytes_out[i];
  }
  sink.json("cache:compression.compressed", {}, compressed);
  sink.json("cache:compression.bytes_in", {}, bytes_in);
  sink.json("cache:compression.bytes_out", {}, bytes_out);
}

}  // namespace perfgate
