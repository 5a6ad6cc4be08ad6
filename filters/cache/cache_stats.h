// Per-route cache counters, kept per worker thread and merged when read: the request path only
// ever touches its own thread's counters (single writer, relaxed atomics: plain loads and stores
// on x86), never a lock or a shared cache line.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/thread_slabs.h"

namespace perfgate {

enum class CacheOutcome : uint8_t { Hit, Miss, Expired, Stale, Revalidated, Bypass, kCount };

// Room for every NotStorableReason value (freshness.h), indexed by the enum's value.
inline constexpr size_t kNotStorableReasons = 16;

// Counts of one route, one worker.
struct RouteCacheCounters {
  std::atomic<uint64_t> requests[static_cast<size_t>(CacheOutcome::kCount)] = {};
  std::atomic<uint64_t> bytes[static_cast<size_t>(CacheOutcome::kCount)] = {};  // body bytes sent
  std::atomic<uint64_t> stored{0};
  std::atomic<uint64_t> stored_bytes{0};
  std::atomic<uint64_t> not_stored{0};
  std::atomic<uint64_t> recoded{0};  // coding variants made on a worker from another stored one
  std::atomic<uint64_t> not_stored_by[kNotStorableReasons] = {};  // by NotStorableReason

  // Single writer: the owning worker thread.
  static void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
};

// Merged figures of one route.
struct RouteCacheTotals {
  uint64_t requests[static_cast<size_t>(CacheOutcome::kCount)] = {};
  uint64_t bytes[static_cast<size_t>(CacheOutcome::kCount)] = {};
  uint64_t stored = 0;
  uint64_t stored_bytes = 0;
  uint64_t not_stored = 0;
  uint64_t recoded = 0;
  uint64_t not_stored_by[kNotStorableReasons] = {};
};

const char* outcomeName(CacheOutcome outcome);  // "hit", "miss", "expired", ...

// Share of cache-eligible requests (all but bypass) answered from the cache (hit, stale,
// revalidated); 0 when there were none.
double hitRatio(const RouteCacheTotals& totals);

class CacheStats {
 public:
  // The calling thread's counters for `route` (created on first use; stable afterwards).
  RouteCacheCounters& local(const std::string& route);
  // Every route's counters summed over all threads.
  std::map<std::string, RouteCacheTotals> merged() const;

 private:
  struct ThreadSlab {
    std::mutex mutex;  // guards the map's shape (new routes), not the counters
    std::unordered_map<std::string, std::unique_ptr<RouteCacheCounters>> routes;
  };
  ThreadSlabs<ThreadSlab> slabs_;
};

}  // namespace perfgate
