#include "filters/timing/latency_histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

namespace perfgate {
namespace {

using L = HistogramLayout;

TEST(HistogramLayoutTest, BucketsTileTheRangeWithBoundedWidth) {
  // Every value falls in the bucket whose bounds contain it, and buckets are contiguous.
  uint64_t expected_lower = 0;
  for (size_t i = 0; i < L::kTracked; ++i) {
    ASSERT_EQ(L::lowerBound(i), expected_lower) << "bucket " << i;
    ASSERT_EQ(L::indexOf(L::lowerBound(i)), i);
    ASSERT_EQ(L::indexOf(L::lowerBound(i) + L::width(i) - 1), i);
    if (L::lowerBound(i) >= 64) {
      ASSERT_LE(static_cast<double>(L::width(i)) / static_cast<double>(L::lowerBound(i)), 1.0 / 32) << i;
    }
    expected_lower += L::width(i);
  }
  EXPECT_EQ(expected_lower - 1, L::kMaxTracked);
  EXPECT_EQ(L::indexOf(L::kMaxTracked + 1), L::kTracked);  // overflow
  EXPECT_EQ(L::indexOf(UINT64_MAX), L::kTracked);
}

TEST(LatencyHistogramTest, SingleValuesComeBackWithinTwoPercent) {
  // From 50 us to 60 s, one value recorded alone is reported within 2% at every quantile.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(std::log(50e3), std::log(60e9));
  for (int n = 0; n < 2000; ++n) {
    auto value = static_cast<uint64_t>(std::exp(exponent(rng)));
    auto h = std::make_unique<LatencyHistogram>();
    h->record(value);
    HistogramTotals t;
    t.add(*h);
    ASSERT_EQ(t.count, 1u);
    for (double q : {0.5, 0.9, 0.99, 0.999}) {
      double reported = t.quantile(q);
      ASSERT_LE(std::abs(reported - static_cast<double>(value)) / static_cast<double>(value), 0.02)
          << "value " << value << " q " << q << " reported " << reported;
    }
    ASSERT_EQ(t.max_ns, value);
  }
}

TEST(LatencyHistogramTest, QuantilesOfAKnownDistribution) {
  // 1..10000 microseconds, once each: the q-quantile is q * 10 ms.
  auto h = std::make_unique<LatencyHistogram>();
  for (uint64_t us = 1; us <= 10000; ++us) h->record(us * 1000);
  HistogramTotals t;
  t.add(*h);
  EXPECT_EQ(t.count, 10000u);
  EXPECT_EQ(t.max_ns, 10'000'000u);
  EXPECT_EQ(t.sum_ns, 1000ull * 10000 * 10001 / 2);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    double truth = q * 10'000'000;
    EXPECT_NEAR(t.quantile(q), truth, truth * 0.02) << q;
  }
  EXPECT_EQ(t.quantile(1.0), 10'000'000.0);  // clamped to the maximum
  EXPECT_DOUBLE_EQ(t.meanNs(), 5'000'500.0);
}

TEST(LatencyHistogramTest, MergesAndCountsBelowABound) {
  auto fast = std::make_unique<LatencyHistogram>();
  auto slow = std::make_unique<LatencyHistogram>();
  for (int i = 0; i < 90; ++i) fast->record(1'000'000);   // 1 ms
  for (int i = 0; i < 10; ++i) slow->record(200'000'000);  // 200 ms
  HistogramTotals a;
  a.add(*fast);
  HistogramTotals b;
  b.add(*slow);
  HistogramTotals all;
  all.add(a);
  all.add(b);
  EXPECT_EQ(all.count, 100u);
  EXPECT_EQ(all.max_ns, 200'000'000u);
  EXPECT_NEAR(all.quantile(0.5), 1e6, 1e6 * 0.02);
  EXPECT_NEAR(all.quantile(0.9), 1e6, 1e6 * 0.02);
  EXPECT_NEAR(all.quantile(0.91), 2e8, 2e8 * 0.02);
  EXPECT_EQ(all.countAtOrBelow(500'000), 0u);
  EXPECT_EQ(all.countAtOrBelow(2'500'000), 90u);
  EXPECT_EQ(all.countAtOrBelow(1'000'000'000), 100u);
}

TEST(LatencyHistogramTest, EmptyAndOverflow) {
  HistogramTotals empty;
  EXPECT_EQ(empty.quantile(0.5), 0.0);
  EXPECT_EQ(empty.meanNs(), 0.0);
  auto h = std::make_unique<LatencyHistogram>();
  h->record(100'000'000'000);  // 100 s: beyond the tracked range
  HistogramTotals t;
  t.add(*h);
  EXPECT_EQ(t.count, 1u);
  EXPECT_EQ(t.quantile(0.5), 1e11);  // the exact maximum
}

}  // namespace
}  // namespace perfgate
