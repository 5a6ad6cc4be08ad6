// Compression counters per content coding, kept per worker thread and merged when read (as
// CacheStats): the request path only touches its own thread's counters, never a lock or a shared
// cache line. The cache's background encoder counts into the same object (its own slab).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "gateway/http/content_coding.h"
#include "gateway/thread_slabs.h"

namespace perfgate {

struct CompressionCounters {
  // Indexed by ContentCoding (identity unused).
  std::array<std::atomic<uint64_t>, kContentCodings> compressed{};  // bodies encoded
  std::array<std::atomic<uint64_t>, kContentCodings> bytes_in{};    // their identity bytes
  std::array<std::atomic<uint64_t>, kContentCodings> bytes_out{};   // their encoded bytes
  std::array<std::atomic<uint64_t>, kContentCodings> decoded{};     // bodies decoded for a client
                                                                     // that does not take their coding

  // Single writer: the owning thread.
  static void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  // One body encoded in `coding`.
  void encoded(ContentCoding coding, uint64_t in, uint64_t out) {
    size_t i = codingIndex(coding);
    bump(compressed[i]);
    bump(bytes_in[i], in);
    bump(bytes_out[i], out);
  }
};

struct CompressionTotals {
  std::array<uint64_t, kContentCodings> compressed{};
  std::array<uint64_t, kContentCodings> bytes_in{};
  std::array<uint64_t, kContentCodings> bytes_out{};
  std::array<uint64_t, kContentCodings> decoded{};
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
