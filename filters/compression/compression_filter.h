// gzip toward clients that accept it (RFC 9110 §8.4, §12.5.3). Decides once per response, at
// the head, with a row of early exits (h2o's compress filter reads the same way); when it
// applies it fixes every field the new body makes wrong: Content-Encoding, Content-Length (gone:
// the body goes out chunked), Vary, and a strong ETag (weakened: the gzip bytes are not the
// bytes it named).
//
// Placed before the cache in the chain, so a cache fill stores the gzip bytes and every later
// hit is served as stored: compression is paid once per object, not once per hit. Bodies of a
// known length that a later filter keeps whole (Exchange::bodyKeptUpTo(): a cache fill) are
// compressed whole (libdeflate, at `level`); others as a zlib stream at `stream_level`, chunk by
// chunk with bounded memory.
#pragma once

#include <memory>

#include "filters/compression/compression_config.h"
#include "filters/compression/compression_stats.h"
#include "filters/filter.h"

namespace perfgate {

// True when `content_type` (a Content-Type field value) names a type listed in `types`
// ("type/subtype", or "type/*"); parameters and case are ignored.
bool compressibleType(std::string_view content_type, const std::vector<std::string>& types);

class CompressionFilter final : public Filter {
 public:
  CompressionFilter(const CompressionConfig& config, std::shared_ptr<CompressionStats> stats);

  std::string_view name() const override { return "compression"; }
  FilterAction onRequest(Exchange& exchange, size_t index) const override;
  void onUpstreamRequest(Exchange& exchange, size_t index, UpstreamRequest& request) const override;
  FilterAction onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const override;

 private:
  CompressionConfig config_;
  std::shared_ptr<CompressionStats> stats_;
};

}  // namespace perfgate
