// Partial content in the store (RFC 9111 §3.3, §3.4): 206 responses kept as byte ranges of their
// representation, combined when they are of the same one, and the part of a requested range that
// is still missing, for asking the backend for only those bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "filters/cache/cache_entry.h"
#include "filters/cache/cache_serve.h"

namespace perfgate {

// "bytes first-last/complete" (RFC 9110 §14.4) with a known complete length and
// first <= last < complete; nothing for anything else ("*" length, other units, bad syntax).
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t complete = 0;
};
std::optional<ContentRange> parseContentRange(std::string_view value);

// The part of `entry` (partial) that holds all of `range`; null when none does.
const CacheEntry::Part* coveringPart(const CacheEntry& entry, const ByteRange& range);

// The smallest span of `range` that `entry`'s parts leave uncovered (from its first missing byte
// to its last); nothing when the parts cover it all.
std::optional<ByteRange> missingSpan(const CacheEntry& entry, const ByteRange& range);

// The validator that makes two responses parts of one representation (§3.4): the strong ETag, or
// a Last-Modified that is strong (RFC 9110 §8.8.2.2: at least 60 s before the response's Date);
// "" when the entry has neither, and then it can be combined with nothing.
std::string_view strongValidator(const CacheEntry& entry);

// Adds to `fresh` (a partial entry: the newer response) the parts of `stored` when both are
// parts of one representation (§3.4: the same strong validator and complete length, the same
// variant) and the union stays within `max_bytes`; `fresh` keeps its own fields and freshness
// ("the new response's"). Then, when its parts cover the whole representation, `fresh` becomes
// the complete 200 response. The caller finishes it (finishEntry) for storing.
void combineParts(CacheEntry& fresh, const CacheEntry* stored, uint64_t max_bytes);

}  // namespace perfgate
