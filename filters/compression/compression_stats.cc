#include "filters/compression/compression_stats.h"


namespace perfgate {

CompressionTotals CompressionStats::merged() const {
  CompressionTotals totals;
  slabs_.forEach([&](const CompressionCounters& slab) {
    totals.compressed += slab.compressed.load(std::memory_order_relaxed);
    totals.bytes_in += slab.bytes_in.load(std::memory_order_relaxed);
    totals.bytes_out += slab.bytes_out.load(std::memory_order_relaxed);
  });
  return totals;
}

}  // namespace perfgate
