// Building and updating stored responses (CacheEntry) from what the backend sent: the fields a
// hit replays, the head serialized once, the entry refreshed by a 304 (RFC 9111 §4.3.4), and one
// coding's variant made once from another's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "filters/cache/cache_entry.h"
#include "filters/cache/freshness.h"
#include "gateway/http/cache_control.h"
#include "gateway/http/content_coding.h"
#include "gateway/http/header_block.h"
#include "gateway/http/response_parser.h"

namespace perfgate {

// Lower-case field names listed by every Vary field, in order, without duplicates.
std::vector<std::string> varyNames(const HeaderBlock& fields);

// Purge tags a response carries: `Surrogate-Key` (space-separated) and `Cache-Tag`
// (comma-separated), as CDNs read them; exact, case-sensitive, without duplicates.
std::vector<std::string> purgeTags(const HeaderBlock& fields);

// A new entry for a storable response head; the body is appended as it arrives, then
// finishEntry() serializes what every hit sends.
// `policy_fields` are those the cache's policy is read from (head.headers, or their targeted
// view: targetedPolicyFields); `response_cc` is parsed from them.
std::shared_ptr<CacheEntry> newEntry(const std::string& key, uint64_t hash, std::vector<std::string> vary,
                                     std::string variant, const std::string& route, const ResponseHead& head,
                                     const HeaderBlock& policy_fields, const CacheControl& response_cc,
                                     int64_t request_time, int64_t now, const StoragePolicy& policy);
void finishEntry(CacheEntry& entry);

// The stored entry brought up to date by a 304 (RFC 9111 §4.3.4): every field the 304 carries
// replaces the stored fields of that name, and freshness is computed again (from the targeted
// field of `targeted` the merged fields carry, if any; see targetedPolicyFields).
CacheEntryPtr refreshedEntry(const CacheEntry& stale, const ResponseHead& head, const CacheControl& response_cc,
                             const std::vector<std::string>& targeted, int64_t request_time, int64_t now,
                             const StoragePolicy& policy);

// The content coding of a stored entry's body (its Content-Encoding); nullopt for one the
// gateway does not know.
std::optional<ContentCoding> storedCoding(const CacheEntry& entry);

// The variant in `coding` made from a stored one in another (once: the caller stores it): the
// body decoded and encoded again at `level`, Content-Encoding set to fit, the ETag made to fit
// the new bytes (the strong tag of the bytes when the route generates tags, else the weak form);
// `variant` is its variant key. Null when `source` is partial, in a coding the gateway does not
// know, or does not decode within `max_bytes`. `identity_bytes`, when given, is set to the size
// of the decoded body.
std::shared_ptr<CacheEntry> recodedEntry(const CacheEntry& source, ContentCoding coding, int level,
                                         std::string variant, uint64_t max_bytes, bool generated_etags,
                                         uint64_t* identity_bytes = nullptr);

// The stored fields a 304 carries (RFC 9110 §15.4.5), into `out`.
void addNotModifiedFields(std::string_view stored_fields, HeaderBlock& out);

// Within the stored response's stale-if-error window (RFC 5861 §4) at `now`?
bool staleIfErrorAllows(const CacheEntry& entry, int64_t now);

}  // namespace perfgate
