#include "filters/cache/cache_stats.h"

namespace perfgate {

const char* outcomeName(CacheOutcome outcome) {
  switch (outcome) {
    case CacheOutcome::Hit: return "hit";
    case CacheOutcome::Miss: return "miss";
    case CacheOutcome::Expired: return "expired";
    case CacheOutcome::Stale: return "stale";
    case CacheOutcome::Revalidated: return "revalidated";
    case CacheOutcome::Bypass: return "bypass";
    case CacheOutcome::kCount: break;
  }
  return "unknown";
}

double hitRatio(const RouteCacheTotals& totals) {
  uint64_t served = 0;
  uint64_t from_cache = 0;
  for (size_t i = 0; i < static_cast<size_t>(CacheOutcome::kCount); ++i) {
    auto outcome = static_cast<CacheOutcome>(i);
    if (outcome != CacheOutcome::Bypass) served += totals.requests[i];
    if (outcome == CacheOutcome::Hit || outcome == CacheOutcome::Stale || outcome == CacheOutcome::Revalidated) {
      from_cache += totals.requests[i];
    }
  }
  return served == 0 ? 0.0 : static_cast<double>(from_cache) / static_cast<double>(served);
}

RouteCacheCounters& CacheStats::local(const std::string& route) {
  ThreadSlab& slab = slabs_.local();
  auto it = slab.routes.find(route);
  if (it != slab.routes.end()) return *it->second;
  std::lock_guard<std::mutex> lock(slab.mutex);
  return *slab.routes.emplace(route, std::make_unique<RouteCacheCounters>()).first->second;
}

std::map<std::string, RouteCacheTotals> CacheStats::merged() const {
  std::map<std::string, RouteCacheTotals> totals;
  slabs_.forEach([&](ThreadSlab& slab) {
    std::lock_guard<std::mutex> lock(slab.mutex);
    for (const auto& [route, counters] : slab.routes) {
      RouteCacheTotals& t = totals[route];
      for (size_t i = 0; i < static_cast<size_t>(CacheOutcome::kCount); ++i) {
        t.requests[i] += counters->requests[i].load(std::memory_order_relaxed);
        t.bytes[i] += counters->bytes[i].load(std::memory_order_relaxed);
      }
      t.stored += counters->stored.load(std::memory_order_relaxed);
      t.stored_bytes += counters->stored_bytes.load(std::memory_order_relaxed);
      t.not_stored += counters->not_stored.load(std::memory_order_relaxed);
      t.recoded += counters->recoded.load(std::memory_order_relaxed);
      for (size_t i = 0; i < kNotStorableReasons; ++i) {
        t.not_stored_by[i] += counters->not_stored_by[i].load(std::memory_order_relaxed);
      }
    }
  });
  return totals;
}

}  // namespace perfgate
