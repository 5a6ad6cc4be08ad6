#include "filters/timing/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace perfgate {

void HistogramTotals::add(const LatencyHistogram& h) {
  for (size_t i = 0; i < HistogramLayout::kBuckets; ++i) {
    uint64_t n = h.buckets_[i].load(std::memory_order_relaxed);
    buckets[i] += n;
    count += n;
  }
  sum_ns += h.sum_ns_.load(std::memory_order_relaxed);
  max_ns = std::max(max_ns, h.max_ns_.load(std::memory_order_relaxed));
}

void HistogramTotals::add(const HistogramTotals& other) {
  for (size_t i = 0; i < HistogramLayout::kBuckets; ++i) buckets[i] += other.buckets[i];
  count += other.count;
  sum_ns += other.sum_ns;
  max_ns = std::max(max_ns, other.max_ns);
}

double HistogramTotals::quantile(double q) const {
  if (count == 0) return 0.0;
  auto rank = static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < HistogramLayout::kTracked; ++i) {
    seen += buckets[i];
    if (seen >= rank) {
      double mid = static_cast<double>(HistogramLayout::lowerBound(i)) +
                   static_cast<double>(HistogramLayout::width(i) - 1) / 2.0;
      return std::min(mid, static_cast<double>(max_ns));
    }
  }
  return static_cast<double>(max_ns);  // in the overflow bucket
}

uint64_t HistogramTotals::countAtOrBelow(uint64_t ns) const {
  uint64_t total = 0;
  for (size_t i = 0; i < HistogramLayout::kTracked; ++i) {
    uint64_t upper = HistogramLayout::lowerBound(i) + HistogramLayout::width(i) - 1;
    if (upper > ns) break;
    total += buckets[i];
  }
  return total;
}

}  // namespace perfgate
