#include "gateway/upstream/upstream_stats.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace perfgate {
namespace {

using Steady = std::chrono::steady_clock;

TEST(UpstreamStatsTest, ThreadsCountApartAndReadersSeeTheSum) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([] {
      UpstreamCounters& counters = upstreamCounters("stats-test-sum");
      EXPECT_EQ(&counters, &upstreamCounters("stats-test-sum"));  // stable per thread
      for (int i = 0; i < kPerThread; ++i) {
        Steady::time_point sent = Steady::now();
        recordUpstreamExchange(counters, GatewayError::None, sent, sent + std::chrono::milliseconds(3), Steady::now());
      }
      UpstreamCounters::bump(counters.closed[static_cast<size_t>(UpstreamClose::Overrun)]);
    });
  }
  for (auto& t : threads) t.join();
  UpstreamTotals totals = upstreamTotals()["stats-test-sum"];
  EXPECT_EQ(totals.requests, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(totals.closed[static_cast<size_t>(UpstreamClose::Overrun)], uint64_t{kThreads});
  EXPECT_NE(totals.last_ok_ns, 0);
  EXPECT_EQ(totals.last_error_ns, 0);
  // Every response took 3 ms: all in the (2.5 ms, 5 ms] bucket, and the sum says so.
  size_t bucket = 0;
  while (kUpstreamLatencyBounds[bucket] < 0.003) ++bucket;
  EXPECT_EQ(totals.latency[bucket], uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(totals.latency_sum_ns, uint64_t{kThreads} * kPerThread * 3'000'000);
}

TEST(UpstreamStatsTest, TheLatestOutcomeWinsAcrossThreads) {
  Steady::time_point start = Steady::now();
  UpstreamCounters& here = upstreamCounters("stats-test-latest");
  recordUpstreamExchange(here, GatewayError::None, start, start, start);
  std::thread([&] {
    UpstreamCounters& there = upstreamCounters("stats-test-latest");
    recordUpstreamExchange(there, GatewayError::UpstreamRefused, start, {}, start + std::chrono::seconds(1));
  }).join();
  UpstreamTotals totals = upstreamTotals()["stats-test-latest"];
  EXPECT_EQ(totals.requests, 2u);
  EXPECT_EQ(totals.errors[static_cast<size_t>(GatewayError::UpstreamRefused)], 1u);
  EXPECT_GT(totals.last_error_ns, totals.last_ok_ns);
  EXPECT_EQ(totals.last_error, GatewayError::UpstreamRefused);
}

TEST(UpstreamStatsTest, ClientFailuresAreNotTheUpstreams) {
  UpstreamCounters& counters = upstreamCounters("stats-test-client");
  recordUpstreamExchange(counters, GatewayError::ClientTimeout, Steady::now(), {}, Steady::now());
  UpstreamTotals totals = upstreamTotals()["stats-test-client"];
  EXPECT_EQ(totals.requests, 1u);
  EXPECT_EQ(totals.last_error_ns, 0);
  EXPECT_EQ(totals.errors[static_cast<size_t>(GatewayError::ClientTimeout)], 0u);
}

}  // namespace
}  // namespace perfgate
