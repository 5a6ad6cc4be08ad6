// Compression toward clients that accept it (RFC 9110 §8.4, §12.5.3): zstd, br and gzip. Decides
// once per response, at the head, with a row of early exits (h2o's compress filter reads the
// same way); when it applies it fixes every field the new body makes wrong: Content-Encoding,
// Content-Length (gone: the body goes out chunked), Vary, and a strong ETag (weakened: the
// encoded bytes are not the bytes it named).
//
// The coding is negotiated once, in onRequest, among [compression] codings, and the backend is
// asked for that coding alone, so whatever it sends is one of the representations a cache keeps
// per URL (one per coding: ExchangeNotes::coding_variant). A body the backend sent encoded is
// passed on as it is, never encoded twice; one in a coding the client does not take is decoded.
//
// Placed before the cache in the chain, so a cache fill stores the encoded bytes and every later
// hit is served as stored: compression is paid once per object, not once per hit. Bodies of a
// known length that a later filter keeps whole (ExchangeNotes::body_kept_up_to: a cache fill) are
// encoded whole at the coding's level, unless that level is slow: then in the client's best
// fast coding, and the cache makes the slow one in the background (cache_variants.h). Other
// bodies are encoded as a stream at the coding's stream level, with bounded memory.
#pragma once

#include <memory>

#include "filters/compression/compression_config.h"
#include "filters/compression/compression_stats.h"
#include "filters/filter.h"

namespace perfgate {

// True when `content_type` (a Content-Type field value) names a type listed in `types`
// ("type/subtype", or "type/*"); parameters and case are ignored.
bool compressibleType(std::string_view content_type, const std::vector<std::string>& types);

// True when compression may change a response with these fields and status into another coding:
// a status with content, not a part, a listed media type, no no-transform (RFC 9111 §5.2.2.6),
// and a length, when known, of at least `min_bytes`.
bool encodable(const CompressionConfig& config, int status, const HeaderBlock& fields, std::optional<uint64_t> length);

// Adds Accept-Encoding to the response's Vary (RFC 9110 §12.5.5), merging all Vary lines into
// one; leaves "Vary: *" and a Vary that already names it alone.
void addVaryAcceptEncoding(HeaderBlock& fields);

// The ETag of a body re-encoded from one whose tag was `etag`: a strong tag named the other
// bytes (RFC 9110 §8.8.1), so it becomes weak; a weak one stays.
std::string recodedEtag(std::string_view etag);

class CompressionFilter final : public Filter {
 public:
  CompressionFilter(const CompressionConfig& config, std::shared_ptr<CompressionStats> stats);

  std::string_view name() const override { return "compression"; }
  FilterAction onRequest(Exchange& exchange, size_t index) const override;
  void onUpstreamRequest(Exchange& exchange, size_t index, UpstreamRequest& request) const override;
  FilterAction onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const override;

 private:
  FilterAction decode(Exchange& exchange, size_t index, ResponseHead& head, ContentCoding coding) const;

  CompressionConfig config_;
  std::vector<ContentCoding> fast_codings_;  // config_.codings without those made in the background
  std::shared_ptr<CompressionStats> stats_;
};

}  // namespace perfgate
