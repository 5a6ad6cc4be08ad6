// Answering from a stored response: in full, a single byte range of it (206, or 416 when it lies
// past the end), or 304 when the client's own validators match (RFC 9110 §13, §14; RFC 9111 §4).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "filters/cache/cache_entry.h"
#include "filters/cache/cache_stats.h"
#include "filters/filter.h"

namespace perfgate {

// A single byte range of a `size`-byte body (RFC 9110 §14.1.2): "bytes=a-b", "bytes=a-" or
// "bytes=-n". Nothing for a header we do not serve from cache (several ranges, other units, bad
// syntax: the full response is sent, as §14.2 allows); `unsatisfiable` for a range past the end.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  bool unsatisfiable = false;
};
std::optional<ByteRange> singleRange(std::string_view header, uint64_t size);

// The single byte range a GET asks of `entry` (as singleRange()), when If-Range lets it apply.
std::optional<ByteRange> rangeAsked(const RequestHead& request, const CacheEntry& entry);

// Whether `entry` can answer `request`: a complete entry always can; a partial one (RFC 9111
// §3.3) when the client's validators match it (304), or its single range lies past the end
// (416) or within one stored part (206).
bool storedAnswers(const RequestHead& request, const CacheEntry& entry);

// Answers `exchange` from `entry` (one that storedAnswers() the request) at `now` (seconds), with X-Cache for `outcome` and
// Cache-Status "perfgate; <cache_status>; ttl=N". Returns the body bytes sent.
uint64_t serveStored(Exchange& exchange, const CacheEntryPtr& entry, int64_t now, CacheOutcome outcome,
                     std::string_view cache_status);

}  // namespace perfgate
