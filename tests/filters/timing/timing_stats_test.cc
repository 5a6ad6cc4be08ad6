#include "filters/timing/timing_stats.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace perfgate {
namespace {

TEST(TimingStatsTest, IdsAreStableByName) {
  TimingStats stats;
  uint32_t api = stats.routeId("api");
  uint32_t site = stats.routeId("site");
  EXPECT_NE(api, site);
  EXPECT_EQ(stats.routeId("api"), api);
}

TEST(TimingStatsTest, ThreadsWriteTheirOwnSlabsAndReadersMergeThem) {
  TimingStats stats;
  uint32_t api = stats.routeId("api");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        RouteTiming& r = stats.route(api);
        singleWriterAdd(r.requests);
        singleWriterAdd(r.status[0][200 - kLowestStatus]);
        singleWriterAdd(r.bytes_out, 10);
        r.total.record(1'000'000);
      }
      singleWriterAdd(stats.unrouted().requests);
    });
  }
  // A reader merging while the writers run sees counts that only grow.
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    uint64_t now = stats.merged().routes["api"].requests;
    EXPECT_GE(now, last);
    last = now;
  }
  for (auto& t : threads) t.join();
  TimingTotals totals = stats.merged();
  const RouteTimingTotals& r = totals.routes["api"];
  EXPECT_EQ(r.requests, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(r.statusClasses()[1], uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(r.bytes_out, uint64_t{kThreads} * kPerThread * 10);
  EXPECT_EQ(r.total.count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(totals.unrouted.requests, uint64_t{kThreads});
}

TEST(TimingStatsTest, AThreadTalkingToTwoRegistriesKeepsThemApart) {
  TimingStats a;
  TimingStats b;
  singleWriterAdd(a.route(a.routeId("x")).requests);
  singleWriterAdd(b.route(b.routeId("x")).requests, 5);
  singleWriterAdd(a.route(a.routeId("x")).requests);
  EXPECT_EQ(a.merged().routes["x"].requests, 2u);
  EXPECT_EQ(b.merged().routes["x"].requests, 5u);
}

}  // namespace
}  // namespace perfgate
