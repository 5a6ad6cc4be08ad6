// Compression counters, kept per worker thread and merged when read (as CacheStats): the request
// path only touches its own thread's counters, never a lock or a shared cache line.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "gateway/thread_slabs.h"

namespace perfgate {

struct CompressionCounters {
  std::atomic<uint64_t> compressed{0};    // bodies gzipped
  std::atomic<uint64_t> bytes_in{0};      // their identity bytes
  std::atomic<uint64_t> bytes_out{0};     // their gzip bytes

  // Single writer: the owning worker thread.
  static void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
};

struct CompressionTotals {
  uint64_t compressed = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

class CompressionStats {
 public:
  // The calling thread's counters (created on first use; stable afterwards).
  CompressionCounters& local() { return slabs_.local(); }
  CompressionTotals merged() const;

 private:
  ThreadSlabs<CompressionCounters> slabs_;
};

}  // namespace perfgate
