#include "filters/compression/compression_stats.h"

namespace perfgate {

CompressionTotals CompressionStats::merged() const {
  CompressionTotals totals;
  slabs_.forEach([&](const CompressionCounters& slab) {
    for (size_t i = 0; i < kContentCodings; ++i) {
      totals.compressed[i] += slab.compressed[i].load(std::memory_order_relaxed);
      totals.bytes_in[i] += slab.bytes_in[i].load(std::memory_order_relaxed);
      totals.bytes_out[i] += slab.bytes_out[i].load(std::memory_order_relaxed);
      totals.decoded[i] += slab.decoded[i].load(std::memory_order_relaxed);
    }
  });
  return totals;
}

}  // namespace perfgate
