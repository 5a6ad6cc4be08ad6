// The value a stored response has in the shared L2 cache (Redis): a versioned binary record of a
// CacheEntry. Everything a hit needs travels (status, stored fields, body, the RFC 9111 §4.2.3
// freshness inputs, validators, Vary and purge tags); the serialized head does not (it is made
// again from the fields when the record is read).
//
// Layout, integers little-endian:
//   "PGL2"  u8 version (1)  u8 flags (bit 0 must_revalidate, bit 1 no_cache; others must be 0)
//   u16 status
//   str key, variant, route, reason, fields, body, etag, last_modified   (str: u32 length, bytes)
//   u16 count, str × count: vary names;  u16 count, str × count: tags
//   i64 request_time, response_time, date_value, age_value, freshness_lifetime,
//       stale_while_revalidate, stale_if_error
// Nothing may follow. A reader accepts only the versions it knows.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "filters/cache/cache_entry.h"

namespace perfgate {

inline constexpr uint8_t kL2RecordVersion = 1;

// The record of `entry`.
std::string encodeL2Record(const CacheEntry& entry);

// Why a value was refused.
enum class L2DecodeError : uint8_t { None, Magic, Version, Truncated, Malformed, TooLarge };
const char* describe(L2DecodeError error);

// The entry a record holds (its `head` and `hash` left empty: the caller finishes it), or null
// with `error` set when `record` is not a well-formed record of a known version, or its body is
// larger than `max_body_bytes`.
std::shared_ptr<CacheEntry> decodeL2Record(std::string_view record, uint64_t max_body_bytes, L2DecodeError& error);

}  // namespace perfgate
