// A stale-while-revalidate refresh (RFC 5861 §3), or the one a soft purge starts: fetches the
// URL with the stored response's validators on nobody's behalf and stores what comes back (a
// 304 refreshes the stored entry; a full, storable answer of the same variant replaces it).
// Frees itself when the transfer ends.
#pragma once

#include <cstdint>
#include <memory>

#include "filters/cache/cache_entry.h"
#include "filters/cache/cache_store.h"
#include "filters/cache/fill_registry.h"
#include "filters/cache/freshness.h"
#include "filters/cache/l2_cache.h"
#include "gateway/clock.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {

class BackgroundRefresh final : public UpstreamObserver {
 public:
  BackgroundRefresh(std::shared_ptr<CacheStore> store, std::shared_ptr<FillRegistry> fills,
                    std::shared_ptr<L2Cache> l2, CacheEntryPtr stale, StoragePolicy policy, uint64_t max_object_bytes,
                    bool had_authorization, const Clock& clock);

  void onUpstreamHeaders(ResponseHead& head) override;
  bool onUpstreamData(std::string_view data) override;
  size_t onUpstreamReadBody(char*, size_t) override { return 0; }
  void onUpstreamDone(UpstreamResult result, const char* detail) override;

 private:
  void store(const CacheEntryPtr& entry);

  std::shared_ptr<CacheStore> store_;
  std::shared_ptr<FillRegistry> fills_;
  std::shared_ptr<L2Cache> l2_;
  CacheEntryPtr stale_;
  StoragePolicy policy_;
  uint64_t max_object_bytes_;
  bool had_authorization_;
  const Clock& clock_;
  int64_t request_time_;
  std::shared_ptr<CacheEntry> filling_;
};

}  // namespace perfgate
