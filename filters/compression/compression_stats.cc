#include "filters/compression/compression_stats.h"

#include <unordered_map>

namespace perfgate {

std::atomic<uint64_t> CompressionStats::next_id_{1};

CompressionCounters& CompressionStats::local() {
  thread_local std::unordered_map<uint64_t, std::shared_ptr<CompressionCounters>> mine;
  std::shared_ptr<CompressionCounters>& slab = mine[id_];
  if (slab == nullptr) {
    slab = std::make_shared<CompressionCounters>();
    std::lock_guard<std::mutex> lock(mutex_);
    slabs_.push_back(slab);
  }
  return *slab;
}

CompressionTotals CompressionStats::merged() const {
  std::lock_guard<std::mutex> lock(mutex_);
  CompressionTotals totals;
  for (const auto& slab : slabs_) {
    totals.compressed += slab->compressed.load(std::memory_order_relaxed);
    totals.bytes_in += slab->bytes_in.load(std::memory_order_relaxed);
    totals.bytes_out += slab->bytes_out.load(std::memory_order_relaxed);
    totals.decompressed += slab->decompressed.load(std::memory_order_relaxed);
  }
  return totals;
}

}  // namespace perfgate
