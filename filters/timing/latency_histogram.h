// A log-linear latency histogram (HdrHistogram's layout, base 2): values in nanoseconds, each
// power of two split into 32 equal buckets, so a bucket is at most 1/32 of its lower bound wide
// and a quantile reported at its bucket's midpoint is within 1/64 (1.6%) of a recorded value.
// Exact below 64 ns; tracked up to 2^36 ns (68.7 s), beyond which values land in one overflow
// bucket (the recorded maximum stays exact).
//
// LatencyHistogram has one writer (the worker thread that owns it) and any number of readers.
// The writer updates with relaxed load + store (a plain add on x86, no locked instruction, no
// contention); readers load relaxed. Every field is individually coherent; a reader racing the
// writer may see a record in one field and not yet in another, which is why readers derive the
// count from the buckets they read and clamp quantiles to the maximum they read.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace perfgate {

// Adds to a counter that only the calling thread writes (see the file comment).
inline void singleWriterAdd(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct HistogramLayout {
  static constexpr unsigned kSubBits = 5;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;      // buckets per power of two
  static constexpr unsigned kTopExponent = 35;                   // largest tracked msb
  static constexpr size_t kTracked = (kTopExponent - kSubBits + 2) * kSub;
  static constexpr size_t kBuckets = kTracked + 1;               // + overflow
  static constexpr uint64_t kMaxTracked = (uint64_t{1} << (kTopExponent + 1)) - 1;

  static size_t indexOf(uint64_t ns) {
    if (ns < kSub) return static_cast<size_t>(ns);
    if (ns > kMaxTracked) return kTracked;
    unsigned exponent = 63u - static_cast<unsigned>(std::countl_zero(ns));
    unsigned shift = exponent - kSubBits;
    return (shift + 1) * kSub + static_cast<size_t>((ns >> shift) - kSub);
  }
  // [lower, lower + width) of bucket `index` (< kTracked).
  static uint64_t lowerBound(size_t index) {
    if (index < kSub) return index;
    size_t group = index / kSub;
    return (kSub + index % kSub) << (group - 1);
  }
  static uint64_t width(size_t index) { return index < kSub ? 1 : uint64_t{1} << (index / kSub - 1); }
};

class LatencyHistogram {
 public:
  void record(uint64_t ns) {
    singleWriterAdd(buckets_[HistogramLayout::indexOf(ns)]);
    singleWriterAdd(sum_ns_, ns);
    if (ns > max_ns_.load(std::memory_order_relaxed)) max_ns_.store(ns, std::memory_order_relaxed);
  }

 private:
  friend struct HistogramTotals;
  std::array<std::atomic<uint64_t>, HistogramLayout::kBuckets> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
  std::atomic<uint64_t> max_ns_{0};
};

// A plain copy of one or more histograms, merged; what readers compute with.
struct HistogramTotals {
  std::array<uint64_t, HistogramLayout::kBuckets> buckets{};
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  uint64_t max_ns = 0;

  void add(const LatencyHistogram& h);
  void add(const HistogramTotals& other);
  // The value at quantile q (0 < q <= 1) in nanoseconds: the midpoint of the bucket holding the
  // ceil(q * count)-th smallest value, never above the maximum. 0 when empty.
  double quantile(double q) const;
  // Values recorded that are certainly <= `ns`: whole buckets whose upper bound is <= ns (for
  // Prometheus `le` buckets; a bucket straddling `ns` counts toward the next boundary).
  uint64_t countAtOrBelow(uint64_t ns) const;
  double meanNs() const { return count == 0 ? 0.0 : static_cast<double>(sum_ns) / static_cast<double>(count); }
};

}  // namespace perfgate
