// HTTP cache headers for backends that send none, per route:
//  - `cache_control` added when the response has no Cache-Control (or always, in "override"
//    mode), with the Expires equivalent of its max-age for HTTP/1.0 caches (RFC 9111 §5.3);
//  - `etag`: a strong ETag, XXH3-128 of the body the client gets, for cacheable 200 responses
//    that have none. The head waits for the body (FilterAction::Hold, bounded by the cache's
//    object limit; a larger body goes out without one), and a client whose If-None-Match or
//    If-Modified-Since already matches gets 304 Not Modified with the fields §15.4.5 requires.
// Last-Modified is passed through and never made up.
//
// Placed after compression and before the cache in the chain: the ETag names the bytes sent
// (a gzip body gets its own tag), and the cache stores what this filter added, so hits and 304s
// from the cache carry the same fields.
#pragma once

#include "filters/cache_headers/cache_headers_config.h"
#include "filters/filter.h"

namespace perfgate {

class CacheHeadersFilter final : public Filter {
 public:
  explicit CacheHeadersFilter(uint64_t max_hold_bytes) : max_hold_bytes_(max_hold_bytes) {}

  std::string_view name() const override { return "cache_headers"; }
  FilterAction onRequest(Exchange& exchange, size_t index) const override;
  FilterAction onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const override;
  FilterAction onResponseBody(Exchange& exchange, size_t index, ResponseHead& head, std::string_view body,
                              bool complete) const override;
  uint64_t holdLimit() const override { return max_hold_bytes_; }

 private:
  uint64_t max_hold_bytes_;
};

}  // namespace perfgate
