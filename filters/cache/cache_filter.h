// The response cache as a filter (RFC 9111, shared cache): looks a request up before it is
// forwarded and answers fresh hits from memory (cache_filter.cc, cache_serve.cc); on a miss it
// watches the backend's response and stores it when the rules allow (cache_fill.cc). X-Cache and
// Cache-Status (RFC 9211) say what happened and why. Stale entries are revalidated with their
// validators, or refreshed in the background (background_refresh.cc).
//
// On a route with compression a URL has one representation per content coding (the compression
// filter asks the backend for the negotiated coding alone), so Accept-Encoding selects a variant
// by one answer: ExchangeNotes::coding_variant. A client whose coding is not stored while
// another is gets it made from the stored one, once, and stored beside it; a slow level
// (brotli 11, zstd 19) is made by the background encoder instead, the client served its best
// fast coding meanwhile.
//
// With [cache.l2], an L1 miss parks the exchange while its worker asks Redis (bounded by the L2
// timeout); what Redis holds for the URL goes into L1 and the exchange looks again. Every stored
// or refreshed response is written to L2 behind the client's back (l2_cache.h).
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "filters/cache/background_encoder.h"
#include "filters/cache/cache_stats.h"
#include "filters/cache/cache_store.h"
#include "filters/cache/fill_registry.h"
#include "filters/cache/l2_cache.h"
#include "filters/filter.h"
#include "gateway/clock.h"
#include "filters/cache/cache_config.h"
#include "filters/compression/compression_config.h"
#include "gateway/http/cache_control.h"

namespace perfgate {

struct CacheExchange;

class CacheFilter final : public Filter {
 public:
  // What one config snapshot says.
  struct Settings {
    uint64_t max_object_bytes = 0;
    // The runtime cache switches of the snapshot's routes, by route index (-1: follow the
    // route's `cache`, 0 off, 1 on; see CacheModule).
    std::vector<const std::atomic<int8_t>*> switches;
    std::vector<std::string> targeted_fields;  // [cache] targeted_fields
    bool forward_targeted_fields = true;
    CompressionConfig compression;  // levels and rules of the variants made from stored ones
  };

  CacheFilter(std::shared_ptr<CacheStore> store, std::shared_ptr<FillRegistry> fills, std::shared_ptr<CacheStats> stats,
              std::shared_ptr<L2Cache> l2, std::shared_ptr<BackgroundEncoder> encoder,
              std::shared_ptr<CompressionStats> compression_stats, Settings settings, const Clock& clock);

  std::string_view name() const override { return "cache"; }
  FilterAction onRequest(Exchange& exchange, size_t index) const override;
  void onUpstreamRequest(Exchange& exchange, size_t index, UpstreamRequest& request) const override;
  FilterAction onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const override;
  FilterAction onUpstreamError(Exchange& exchange, size_t index, int status) const override;
  FilterAction onResponseBody(Exchange& exchange, size_t index, ResponseHead& head, std::string_view body,
                              bool complete) const override;
  uint64_t holdLimit() const override { return settings_.max_object_bytes; }
  void onResponseData(Exchange& exchange, size_t index, std::string_view data) const override;
  void onComplete(Exchange& exchange, size_t index, bool complete) const override;

 private:
  void count(const RouteConfig& route, CacheOutcome outcome, uint64_t bytes) const;
  bool enabledOn(const RouteConfig& route) const;
  // The lookup of a background refresh (ExchangeNotes::background).
  FilterAction startRefresh(Exchange& exchange, CacheExchange& st, bool enabled) const;
  // Stores the response captured in st.filling (a part combined with the stored ones first);
  // returns what was stored, or null when the capture was not the response it claimed to be.
  CacheEntryPtr storeFilling(Exchange& exchange, CacheExchange& st) const;
  // A POST's response, when it is its target's new representation (store_post_responses):
  // captured in st.filling for storing.
  void storePostResponse(Exchange& exchange, CacheExchange& st, ResponseHead& head) const;
  // The URL's variant for this request's coding made from another stored one (null when none
  // is stored fresh, or it cannot be made); a slow coding is submitted to the background encoder
  // and the client's best fast coding answered meanwhile.
  // Hands `source` to the background encoder to be made into `coding` (variant key `variant`).
  void makeInBackground(CacheEntryPtr source, ContentCoding coding, std::string variant, bool generated_etags) const;
  // May `source` (a stored variant) be made into `coding`?
  bool recodable(const CacheEntry& source, ContentCoding coding) const;
  CacheEntryPtr variantFromSibling(Exchange& exchange, std::string_view key, uint64_t hash,
                                   const CacheControl& request_cc, int64_t now, bool honour_no_cache) const;

  std::shared_ptr<CacheStore> store_;
  std::shared_ptr<FillRegistry> fills_;  // coalescing state, shared by every worker
  std::shared_ptr<CacheStats> stats_;
  std::shared_ptr<L2Cache> l2_;  // null: no [cache.l2]
  std::shared_ptr<BackgroundEncoder> encoder_;  // null: slow levels are made inline
  std::shared_ptr<CompressionStats> compression_stats_;  // what variants made here encode and decode
  std::vector<ContentCoding> fast_codings_;     // settings_.compression's not made in the background
  Settings settings_;
  const Clock& clock_;
};

}  // namespace perfgate
