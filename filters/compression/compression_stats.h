// Compression counters, kept per worker thread and merged when read (as CacheStats): the request
// path only touches its own thread's counters, never a lock or a shared cache line.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace perfgate {

struct CompressionCounters {
  std::atomic<uint64_t> compressed{0};    // bodies gzipped
  std::atomic<uint64_t> bytes_in{0};      // their identity bytes
  std::atomic<uint64_t> bytes_out{0};     // their gzip bytes
  std::atomic<uint64_t> decompressed{0};  // stored gzip bodies decoded once for identity clients

  // Single writer: the owning worker thread.
  static void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
};

struct CompressionTotals {
  uint64_t compressed = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t decompressed = 0;
};

class CompressionStats {
 public:
  // The calling thread's counters (created on first use; stable afterwards).
  CompressionCounters& local();
  CompressionTotals merged() const;

 private:
  static std::atomic<uint64_t> next_id_;
  const uint64_t id_ = next_id_.fetch_add(1);  // keys the per-thread slabs (addresses get reused)
  mutable std::mutex mutex_;  // guards slabs_
  std::vector<std::shared_ptr<CompressionCounters>> slabs_;
};

}  // namespace perfgate
