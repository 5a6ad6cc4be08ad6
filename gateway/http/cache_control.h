// Cache-Control (RFC 9111 §5.2), parsed once per message into plain values.
//
// Choices where the RFC leaves room, all toward the more restrictive reading (§4.2.1: "If
// directives conflict ..., the most restrictive directive should be honored"):
// - Several Cache-Control field lines form one list, read in order (RFC 9110 §5.3).
// - A directive given twice: the first occurrence wins for valued directives (§4.2.1 allows
//   "either the first occurrence should be used or the response should be considered stale");
//   flags are set by any occurrence; qualified no-cache / private lists are merged.
// - max-age and s-maxage with a missing or invalid argument count as present with the value 0,
//   so the response is stale (§4.2.1: "Caches are encouraged to consider responses that have
//   invalid freshness information ... to be stale"). max-stale, min-fresh,
//   stale-while-revalidate and stale-if-error with an invalid argument are ignored: none of them
//   may loosen anything unless it is well-formed.
// - Restrictive flags (no-store, must-revalidate, proxy-revalidate, no-transform, only-if-cached,
//   must-understand) are honoured even when malformed (e.g. given an argument); the permissive
//   public and immutable only when written exactly, without an argument.
// - no-cache / private with a field-name list that is malformed or empty act unqualified.
// - Unknown directives (extensions) are ignored (§5.2.3).
// Arguments are accepted as token or quoted-string for every directive (§5.2: "recipients
// SHOULD accept both forms").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http/header_block.h"

namespace perfgate {

// §1.2.2: "If a cache receives a delta-seconds value greater than the greatest integer it can
// represent, or if any of its subsequent calculations overflows, the cache MUST consider the
// value to be 2147483648 (2^31)".
constexpr int64_t kDeltaSecondsMax = 2147483648;

struct CacheControl {
  // Delta-seconds, each clamped to kDeltaSecondsMax.
  std::optional<int64_t> max_age;                 // §5.2.1.1 / §5.2.2.1; 0 when invalid
  std::optional<int64_t> s_maxage;                // §5.2.2.10; 0 when invalid
  std::optional<int64_t> max_stale;               // §5.2.1.2, with a value
  bool any_stale = false;                         // §5.2.1.2, max-stale without a value
  std::optional<int64_t> min_fresh;               // §5.2.1.3
  std::optional<int64_t> stale_while_revalidate;  // RFC 5861 §3
  std::optional<int64_t> stale_if_error;          // RFC 5861 §4

  bool no_cache = false;  // unqualified no-cache only (§5.2.1.4 / §5.2.2.4)
  bool no_store = false;
  bool private_ = false;  // unqualified private only (§5.2.2.7)
  bool public_ = false;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  bool no_transform = false;
  bool only_if_cached = false;
  bool must_understand = false;
  bool immutable = false;  // RFC 8246

  // Qualified forms (§5.2.2.4, §5.2.2.7), lower-cased field names. A shared cache may store the
  // response, but must not store (private) or serve without revalidation (no-cache) these fields.
  std::vector<std::string> no_cache_fields;
  std::vector<std::string> private_fields;
};

// delta-seconds = 1*DIGIT (§1.2.2), clamped to kDeltaSecondsMax; nullopt unless all digits.
std::optional<int64_t> parseDeltaSeconds(std::string_view s);

// Every field named Cache-Control in `fields`, combined in order.
CacheControl parseCacheControl(const HeaderBlock& fields);

// One Cache-Control field value.
CacheControl parseCacheControl(std::string_view value);

// Adds the directives of one more Cache-Control field value to `cc`, with the rules above.
void mergeCacheControl(CacheControl& cc, std::string_view value);

}  // namespace perfgate
