// Unit tests for request coalescing state shared by the workers (filters/cache/fill_registry.h).
#include "filters/cache/fill_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "filters/cache/cache_key.h"

namespace perfgate {
namespace {

using Join = FillRegistry::Join;

struct Key {
  std::string key;
  uint64_t hash;
  explicit Key(std::string_view path) : key(makeCacheKey("http", "example.test", path, "")), hash(hashKey(key)) {}
};

TEST(FillRegistryTest, FirstGetLeadsLaterOnesWaitAndAreWokenOnce) {
  FillRegistry fills;
  Key k("/a");
  int leader_wakes = 0;
  int woken = 0;
  int tag[3];
  EXPECT_EQ(fills.join(k.key, k.hash, &tag[0], [&] { ++leader_wakes; }, true, 100), Join::Lead);
  EXPECT_EQ(fills.join(k.key, k.hash, &tag[1], [&] { ++woken; }, true, 100), Join::Wait);
  EXPECT_EQ(fills.join(k.key, k.hash, &tag[2], [&] { ++woken; }, false, 100), Join::Wait);  // a HEAD waits too
  fills.finish(k.key, k.hash, true, 100);
  EXPECT_EQ(woken, 2);
  EXPECT_EQ(leader_wakes, 0);
  fills.finish(k.key, k.hash, true, 100);  // nothing left to wake
  EXPECT_EQ(woken, 2);
  // The fill is over: the next miss leads again.
  EXPECT_EQ(fills.join(k.key, k.hash, &tag[1], [] {}, true, 101), Join::Lead);
}

TEST(FillRegistryTest, AHeadMissLeadsNobody) {
  FillRegistry fills;
  Key k("/head");
  int tag[2];
  EXPECT_EQ(fills.join(k.key, k.hash, &tag[0], [] {}, false, 100), Join::Pass);
  EXPECT_EQ(fills.join(k.key, k.hash, &tag[1], [] {}, true, 100), Join::Lead);
}

TEST(FillRegistryTest, AWaiterThatLeavesIsNotWoken) {
  FillRegistry fills;
  Key k("/leave");
  int tag[3];
  int stayed = 0;
  int left = 0;
  ASSERT_EQ(fills.join(k.key, k.hash, &tag[0], [] {}, true, 100), Join::Lead);
  ASSERT_EQ(fills.join(k.key, k.hash, &tag[1], [&] { ++left; }, true, 100), Join::Wait);
  ASSERT_EQ(fills.join(k.key, k.hash, &tag[2], [&] { ++stayed; }, true, 100), Join::Wait);
  fills.leave(k.key, k.hash, &tag[1]);
  fills.leave(k.key, k.hash, &tag[1]);  // twice is harmless
  fills.finish(k.key, k.hash, true, 100);
  EXPECT_EQ(left, 0);
  EXPECT_EQ(stayed, 1);
  fills.leave(k.key, k.hash, &tag[2]);  // after the fill ended: nothing to do
}

TEST(FillRegistryTest, NotStorableKeysPassWithoutQueueingUntilTheyExpire) {
  FillRegistry fills;
  Key k("/no-store");
  Key other("/other");
  int tag[2];
  ASSERT_EQ(fills.join(k.key, k.hash, &tag[0], [] {}, true, 100), Join::Lead);
  fills.finish(k.key, k.hash, false, 100);
  // Hit-for-miss: nobody leads, nobody waits, for kHitForMissSeconds.
  EXPECT_EQ(fills.join(k.key, k.hash, &tag[0], [] {}, true, 101), Join::Pass);
  EXPECT_EQ(fills.join(k.key, k.hash, &tag[1], [] {}, true, 101), Join::Pass);
  EXPECT_EQ(fills.join(other.key, other.hash, &tag[0], [] {}, true, 101), Join::Lead);  // other keys unaffected
  EXPECT_EQ(fills.join(k.key, k.hash, &tag[0], [] {}, true, 100 + FillRegistry::kHitForMissSeconds), Join::Lead);
}

TEST(FillRegistryTest, AStoredResponseEndsHitForMiss) {
  FillRegistry fills;
  Key k("/became-cacheable");
  int tag;
  ASSERT_EQ(fills.join(k.key, k.hash, &tag, [] {}, true, 100), Join::Lead);
  fills.finish(k.key, k.hash, false, 100);
  ASSERT_EQ(fills.join(k.key, k.hash, &tag, [] {}, true, 101), Join::Pass);
  fills.stored(k.key, k.hash);
  EXPECT_EQ(fills.join(k.key, k.hash, &tag, [] {}, true, 101), Join::Lead);
}

TEST(FillRegistryTest, OneRefreshPerKey) {
  FillRegistry fills;
  Key a("/swr-a");
  Key b("/swr-b");
  EXPECT_TRUE(fills.beginRefresh(a.key, a.hash, 1000));
  EXPECT_FALSE(fills.beginRefresh(a.key, a.hash, 1000));
  EXPECT_TRUE(fills.beginRefresh(b.key, b.hash, 1000));
  fills.endRefresh(a.key, a.hash);
  EXPECT_TRUE(fills.beginRefresh(a.key, a.hash, 1001));
}

TEST(FillRegistryTest, ARefreshThatNeverEndedIsGivenUpOn) {
  FillRegistry fills;
  Key a("/swr-lost");
  EXPECT_TRUE(fills.beginRefresh(a.key, a.hash, 1000));
  EXPECT_FALSE(fills.beginRefresh(a.key, a.hash, 1000 + FillRegistry::kRefreshGiveUpSeconds - 1));
  EXPECT_TRUE(fills.beginRefresh(a.key, a.hash, 1000 + FillRegistry::kRefreshGiveUpSeconds));
  EXPECT_FALSE(fills.beginRefresh(a.key, a.hash, 1000 + FillRegistry::kRefreshGiveUpSeconds));
}

// Many threads miss on one key at once: exactly one leads, and every other is woken exactly once.
TEST(FillRegistryTest, ConcurrentJoinsHaveOneLeaderAndWakeEveryWaiter) {
  FillRegistry fills;
  Key k("/race");
  constexpr int kThreads = 8;
  std::atomic<int> leaders{0};
  std::atomic<int> waiters{0};
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  std::vector<int> tags(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Join join = fills.join(k.key, k.hash, &tags[i], [&] { woken.fetch_add(1); }, true, 100);
      if (join == Join::Lead) leaders.fetch_add(1);
      if (join == Join::Wait) waiters.fetch_add(1);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(leaders.load(), 1);
  EXPECT_EQ(waiters.load(), kThreads - 1);
  fills.finish(k.key, k.hash, true, 100);
  EXPECT_EQ(woken.load(), kThreads - 1);
}

}  // namespace
}  // namespace perfgate
