// What the cache filter remembers about one exchange, shared by the filter's files
// (cache_filter.cc: lookup, cache_fill.cc: storing).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "filters/cache/cache_config.h"
#include "filters/cache/cache_entry.h"
#include "filters/cache/cache_serve.h"
#include "filters/cache/cache_stats.h"
#include "filters/cache/freshness.h"
#include "filters/filter.h"
#include "gateway/config/config.h"
#include "gateway/http/cache_control.h"

namespace perfgate {

enum class Lookup : uint8_t { Bypass, Miss, Expired };

struct CacheExchange final : FilterState {
  Lookup lookup = Lookup::Miss;
  std::string key;
  uint64_t hash = 0;
  std::optional<ContentCoding> asked_coding;  // the coding looked up (ExchangeNotes::coding_variant then)
  CacheControl request_cc;
  int64_t request_time = 0;
  CacheEntryPtr stale;        // a stored response being revalidated with the backend
  CacheEntryPtr fallback;     // the stored response, when not fresh: stale-if-error material
  bool validating = false;    // the forwarded request carries our validators
  bool invalidate = false;    // an unsafe method: a success invalidates the URL (§4.4)
  bool store_post = false;    // a POST whose response may be stored for GETs (store_post_responses)
  bool leader = false;        // this exchange fetches for the others waiting on its key
  bool waiting = false;       // suspended behind a leader
  bool waited = false;        // has waited once: never waits again (no serialized queue)
  bool not_storable = false;  // the backend's response was not storable
  bool l2_asked = false;      // L2 was asked (once per exchange)
  bool l2_waiting = false;    // suspended until L2 answers or its timeout
  bool refresh = false;       // a background refresh (ExchangeNotes::background): ends the key's refresh
  std::optional<CacheOutcome> outcome;  // a forwarded response's outcome, counted on completion
  uint64_t bytes = 0;                   // its body bytes
  std::shared_ptr<CacheEntry> filling;  // the response being captured for the store
  // Partial content (route `partial_content`): the client's Range goes to the backend, or only
  // the span of it the stored parts lack (`missing`, validated with If-Range: `if_range`).
  bool ranged = false;
  std::optional<ByteRange> missing;
  std::string if_range;
  uint64_t part_first = 0;  // where the 206 being captured starts (its Content-Range)
  uint64_t part_last = 0;
};

// The route's storage settings as the freshness rules take them.
StoragePolicy policyOf(const CacheRouteSettings& route);

}  // namespace perfgate
