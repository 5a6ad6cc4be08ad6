// Unit tests for the sharded, byte-bounded LRU response store (filters/cache/cache_store.h).
#include "filters/cache/cache_store.h"

#include <gtest/gtest.h>

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "filters/cache/cache_key.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PERFGATE_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define PERFGATE_UNDER_SANITIZER 1
#endif
#endif

namespace perfgate {
namespace {

std::shared_ptr<CacheEntry> makeEntry(std::string_view path, size_t body_bytes = 100, std::string variant = "",
                                      std::string route = "default") {
  auto entry = std::make_shared<CacheEntry>();
  entry->key = makeCacheKey("http", "example.com", path, "");
  entry->hash = hashKey(entry->key);
  entry->variant = std::move(variant);
  entry->route = std::move(route);
  entry->body.assign(body_bytes, 'x');
  return entry;
}

CacheEntryPtr lookupPath(CacheStore& store, std::string_view path, std::string_view variant = "") {
  std::string key = makeCacheKey("http", "example.com", path, "");
  return store.lookup(key, hashKey(key), variant);
}

TEST(CacheStoreTest, ShardCountIsAPowerOfTwo) {
  EXPECT_EQ(CacheStore(1 << 20).shardCount(), 16u);
  EXPECT_EQ(CacheStore(1 << 20, 5).shardCount(), 8u);
  EXPECT_EQ(CacheStore(1 << 20, 0).shardCount(), 1u);
  EXPECT_EQ(CacheStore(1 << 20, 1).shardCount(), 1u);
}

TEST(CacheStoreTest, InsertThenLookup) {
  CacheStore store(1 << 20);
  auto a = makeEntry("/a");
  ASSERT_TRUE(store.insert(a));
  EXPECT_EQ(lookupPath(store, "/a"), a);
  EXPECT_EQ(lookupPath(store, "/b"), nullptr);
  EXPECT_EQ(lookupPath(store, "/a", "other-variant"), nullptr);
  EXPECT_EQ(store.lookup(a->key, a->hash ^ 1, ""), nullptr);  // the hash finds the slot

  CacheStore::Stats stats = store.stats();
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, a->charge());
  EXPECT_EQ(stats.inserts, 1u);
  EXPECT_EQ(stats.replaced, 0u);
  EXPECT_EQ(stats.evictions, 0u);
  EXPECT_FALSE(store.insert(nullptr));
  EXPECT_TRUE(store.checkInvariants());
}

TEST(CacheStoreTest, ReplacementUpdatesBytes) {
  CacheStore store(1 << 20);
  auto small = makeEntry("/a", 100);
  auto large = makeEntry("/a", 5000);
  ASSERT_TRUE(store.insert(small));
  ASSERT_TRUE(store.insert(large));
  EXPECT_EQ(lookupPath(store, "/a"), large);
  CacheStore::Stats stats = store.stats();
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, large->charge());
  EXPECT_EQ(stats.inserts, 2u);
  EXPECT_EQ(stats.replaced, 1u);

  ASSERT_TRUE(store.insert(makeEntry("/a", 10)));
  EXPECT_EQ(store.stats().bytes, makeEntry("/a", 10)->charge());
  EXPECT_TRUE(store.checkInvariants());
}

TEST(CacheStoreTest, RefusesAnEntryBiggerThanAShard) {
  CacheStore store(16 * 10000, 16);  // 10000 bytes per shard
  auto big = makeEntry("/big", 10000);
  EXPECT_FALSE(store.insert(big));
  EXPECT_EQ(lookupPath(store, "/big"), nullptr);
  EXPECT_EQ(store.stats().entries, 0u);
  EXPECT_EQ(store.stats().inserts, 0u);

  auto fits = makeEntry("/fits", 10000 - makeEntry("/fits", 0)->charge());
  ASSERT_EQ(fits->charge(), 10000u);
  EXPECT_TRUE(store.insert(fits));
}

TEST(CacheStoreTest, BudgetIsNeverExceeded) {
  constexpr uint64_t kMax = 256 * 1024;
  CacheStore store(kMax, 4);
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; ++i) {
    store.insert(makeEntry("/item/" + std::to_string(rng() % 3000), rng() % 4000));
    CacheStore::Stats stats = store.stats();
    ASSERT_LE(stats.bytes, kMax) << "after insert " << i;
    if (i % 1000 == 0) {
      ASSERT_TRUE(store.checkInvariants());
    }
  }
  CacheStore::Stats stats = store.stats();
  EXPECT_GT(stats.evictions, 0u);
  EXPECT_GT(stats.bytes, kMax / 2);  // evicts only what it must
  EXPECT_TRUE(store.checkInvariants());
}

TEST(CacheStoreTest, LeastRecentlyUsedGoesFirst) {
  const size_t charge = makeEntry("/0")->charge();
  CacheStore store(4 * charge, 1);  // room for exactly four entries
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(store.insert(makeEntry("/" + std::to_string(i))));
  ASSERT_NE(lookupPath(store, "/0"), nullptr);  // /0 becomes the most recently used; /1 the least

  ASSERT_TRUE(store.insert(makeEntry("/4")));
  EXPECT_NE(lookupPath(store, "/0"), nullptr);
  EXPECT_EQ(lookupPath(store, "/1"), nullptr);
  EXPECT_NE(lookupPath(store, "/2"), nullptr);

  ASSERT_TRUE(store.insert(makeEntry("/5")));  // /3 is now the least recently used
  EXPECT_EQ(lookupPath(store, "/3"), nullptr);
  EXPECT_NE(lookupPath(store, "/4"), nullptr);
  EXPECT_EQ(store.stats().evictions, 2u);
  EXPECT_EQ(store.stats().entries, 4u);

  // One big entry pushes out as many as it needs, least recently used first.
  ASSERT_TRUE(store.insert(makeEntry("/big", 100 + 2 * charge - 200)));
  EXPECT_EQ(store.stats().entries, 2u);
  EXPECT_NE(lookupPath(store, "/big"), nullptr);
  EXPECT_NE(lookupPath(store, "/4"), nullptr);  // looked up last, so it stays
  EXPECT_TRUE(store.checkInvariants());
}

TEST(CacheStoreTest, EvictedEntryStaysValidForItsHolder) {
  const size_t charge = makeEntry("/a", 1000)->charge();
  CacheStore store(charge, 1);
  ASSERT_TRUE(store.insert(makeEntry("/a", 1000)));
  CacheEntryPtr held = lookupPath(store, "/a");
  ASSERT_TRUE(store.insert(makeEntry("/b", 1000)));
  EXPECT_EQ(lookupPath(store, "/a"), nullptr);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->body, std::string(1000, 'x'));  // a hit being written out keeps its bytes
}

// Two different keys forced onto the same hash: the store compares the full key, so neither
// lookup can return the other's response.
TEST(CacheStoreTest, HashCollisionNeverServesAnotherKey) {
  constexpr uint64_t kHash = 0x1234'5678'9abc'def0;
  CacheStore store(1 << 20);
  auto a = makeEntry("/a");
  auto b = makeEntry("/b");
  a->hash = kHash;
  b->hash = kHash;
  ASSERT_TRUE(store.insert(a));
  ASSERT_TRUE(store.insert(b));
  EXPECT_EQ(store.stats().entries, 2u);
  EXPECT_EQ(store.lookup(a->key, kHash, ""), a);
  EXPECT_EQ(store.lookup(b->key, kHash, ""), b);
  EXPECT_EQ(store.lookup(makeCacheKey("http", "example.com", "/c", ""), kHash, ""), nullptr);
  EXPECT_EQ(store.lookup(a->key, kHash, HeaderBlock{}), a);

  EXPECT_EQ(store.erase(a->key, kHash), 1u);
  EXPECT_EQ(store.lookup(a->key, kHash, ""), nullptr);
  EXPECT_EQ(store.lookup(b->key, kHash, ""), b);

  // Replacing one never touches the other.
  auto b2 = makeEntry("/b", 300);
  b2->hash = kHash;
  ASSERT_TRUE(store.insert(a));
  ASSERT_TRUE(store.insert(b2));
  EXPECT_EQ(store.lookup(a->key, kHash, ""), a);
  EXPECT_EQ(store.lookup(b->key, kHash, ""), b2);
  EXPECT_TRUE(store.checkInvariants());
}

TEST(CacheStoreTest, VariantsAreCappedPerKey) {
  CacheStore store(1 << 20, 1);
  auto other = makeEntry("/other");
  ASSERT_TRUE(store.insert(other));
  for (size_t v = 0; v < CacheStore::kMaxVariants; ++v) {
    ASSERT_TRUE(store.insert(makeEntry("/a", 100, "v" + std::to_string(v))));
  }
  EXPECT_EQ(store.stats().entries, CacheStore::kMaxVariants + 1);
  EXPECT_EQ(store.stats().evictions, 0u);
  ASSERT_NE(lookupPath(store, "/a", "v0"), nullptr);  // v1 is now the key's least recently used

  ASSERT_TRUE(store.insert(makeEntry("/a", 100, "v-new")));
  EXPECT_EQ(store.stats().entries, CacheStore::kMaxVariants + 1);
  EXPECT_EQ(store.stats().evictions, 1u);
  EXPECT_EQ(lookupPath(store, "/a", "v1"), nullptr);
  EXPECT_NE(lookupPath(store, "/a", "v0"), nullptr);
  EXPECT_NE(lookupPath(store, "/a", "v-new"), nullptr);
  EXPECT_EQ(lookupPath(store, "/other"), other);  // another key's entry is not a variant

  // Replacing an existing variant does not evict one.
  ASSERT_TRUE(store.insert(makeEntry("/a", 200, "v2")));
  EXPECT_EQ(store.stats().evictions, 1u);
  EXPECT_TRUE(store.checkInvariants());

  EXPECT_EQ(store.erase(makeEntry("/a")->key, makeEntry("/a")->hash), CacheStore::kMaxVariants);
  EXPECT_EQ(store.stats().entries, 1u);
  EXPECT_TRUE(store.checkInvariants());
}

TEST(CacheStoreTest, SelectsTheVariantMatchingTheRequest) {
  CacheStore store(1 << 20);
  std::vector<std::string> vary{"accept-encoding"};
  auto gzip = makeEntry("/v", 100, makeVariantKey(vary, {{"Accept-Encoding", "gzip, deflate"}}));
  gzip->vary = vary;
  auto none = makeEntry("/v", 200, makeVariantKey(vary, {}));
  none->vary = vary;
  ASSERT_TRUE(store.insert(gzip));
  ASSERT_TRUE(store.insert(none));
  const std::string& key = gzip->key;
  uint64_t hash = gzip->hash;

  EXPECT_EQ(store.lookup(key, hash, HeaderBlock{{"accept-encoding", "deflate,GZIP"}}), gzip);
  EXPECT_EQ(store.lookup(key, hash, HeaderBlock{{"Host", "example.com"}}), none);
  EXPECT_EQ(store.lookup(key, hash, HeaderBlock{{"Accept-Encoding", "br"}}), nullptr);

  // An entry without Vary matches any request.
  auto plain = makeEntry("/plain");
  ASSERT_TRUE(store.insert(plain));
  EXPECT_EQ(store.lookup(plain->key, plain->hash, HeaderBlock{{"Accept-Encoding", "br"}}), plain);

  // When the Vary list changed between responses and both match, the newer Date wins.
  auto old_plain = makeEntry("/mixed");
  old_plain->date_value = 100;
  auto new_varied = makeEntry("/mixed", 100, makeVariantKey(vary, {{"Accept-Encoding", "br"}}));
  new_varied->vary = vary;
  new_varied->date_value = 200;
  ASSERT_TRUE(store.insert(new_varied));
  ASSERT_TRUE(store.insert(old_plain));
  EXPECT_EQ(store.lookup(old_plain->key, old_plain->hash, HeaderBlock{{"Accept-Encoding", "br"}}),
            new_varied);
  EXPECT_EQ(store.lookup(old_plain->key, old_plain->hash, HeaderBlock{}), old_plain);
  EXPECT_TRUE(store.checkInvariants());
}

TEST(CacheStoreTest, EraseIfByRouteAndPrefix) {
  CacheStore store(1 << 22);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(store.insert(makeEntry("/api/items/" + std::to_string(i), 50, "", "api")));
    ASSERT_TRUE(store.insert(makeEntry("/static/" + std::to_string(i), 50, "", "static")));
  }
  ASSERT_TRUE(store.insert(makeEntry("/api/users/1", 50, "", "api")));

  size_t erased = store.eraseIf([](const CacheEntry& e) {
    CacheKeyParts parts;
    return splitCacheKey(e.key, parts) && parts.path.starts_with("/api/items");
  });
  EXPECT_EQ(erased, 100u);
  EXPECT_EQ(lookupPath(store, "/api/items/7"), nullptr);
  EXPECT_NE(lookupPath(store, "/api/users/1"), nullptr);
  EXPECT_EQ(store.stats().entries, 101u);

  EXPECT_EQ(store.eraseIf([](const CacheEntry& e) { return e.route == "static"; }), 100u);
  EXPECT_EQ(lookupPath(store, "/static/3"), nullptr);
  EXPECT_NE(lookupPath(store, "/api/users/1"), nullptr);
  CacheStore::Stats stats = store.stats();
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, makeEntry("/api/users/1", 50, "", "api")->charge());
  EXPECT_EQ(stats.evictions, 0u);  // removals asked for are not evictions
  EXPECT_TRUE(store.checkInvariants());
}

TEST(CacheStoreTest, ClearEmptiesAndStaysUsable) {
  CacheStore store(1 << 22);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(store.insert(makeEntry("/" + std::to_string(i))));
  EXPECT_EQ(store.clear(), 1000u);
  CacheStore::Stats stats = store.stats();
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.bytes, 0u);
  EXPECT_EQ(lookupPath(store, "/5"), nullptr);
  EXPECT_TRUE(store.checkInvariants());
  EXPECT_EQ(store.clear(), 0u);

  auto again = makeEntry("/5");
  ASSERT_TRUE(store.insert(again));
  EXPECT_EQ(lookupPath(store, "/5"), again);
  EXPECT_EQ(store.stats().entries, 1u);
  EXPECT_TRUE(store.checkInvariants());
}

TEST(CacheStoreTest, ConcurrentUseKeepsInvariants) {
  constexpr uint64_t kMax = 512 * 1024;
#ifdef PERFGATE_UNDER_SANITIZER
  constexpr int kOpsPerThread = 20000;
#else
  constexpr int kOpsPerThread = 100000;
#endif
  CacheStore store(kMax, 8);
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      for (int op = 0; op < kOpsPerThread && !failed; ++op) {
        std::string path = "/k/" + std::to_string(rng() % 1500);
        std::string variant = "v" + std::to_string(rng() % 3);
        unsigned dice = rng() % 100;
        if (dice < 55) {
          CacheEntryPtr hit = lookupPath(store, path, variant);
          if (hit && (hit->key != makeCacheKey("http", "example.com", path, "") || hit->variant != variant ||
                      hit->body.find_first_not_of('x') != std::string::npos)) {
            failed = true;
          }
        } else if (dice < 85) {
          store.insert(makeEntry(path, rng() % 2000, variant, t % 2 ? "odd" : "even"));
        } else if (dice < 95) {
          auto probe = makeEntry(path);
          store.erase(probe->key, probe->hash);
        } else if (dice < 96) {
          std::string route = rng() % 2 ? "odd" : "even";
          size_t limit = rng() % 200;
          store.eraseIf([&](const CacheEntry& e) { return e.route == route && e.body.size() < limit; });
        } else {
          if (store.stats().bytes > kMax) failed = true;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_FALSE(failed);
  CacheStore::Stats stats = store.stats();
  EXPECT_LE(stats.bytes, kMax);
  EXPECT_GT(stats.evictions, 0u);
  EXPECT_TRUE(store.checkInvariants());
}

// Resident set size of this process, in bytes.
[[maybe_unused]] uint64_t residentBytes() {  // unused under sanitizers
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

[[maybe_unused]] uint64_t mallocBytes() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// The byte budget is only meaningful if charge() tracks real memory: 100k small entries (a
// 789-byte JSON body, like the benchmark's) must cost about what they are charged, and the
// store's own bookkeeping must fit CacheEntry::kStoreOverhead.
TEST(CacheStoreTest, ChargeTracksMemoryForManySmallEntries) {
#ifdef PERFGATE_UNDER_SANITIZER
  GTEST_SKIP() << "sanitizer allocators change memory figures";
#else
  constexpr size_t kEntries = 100000;
  std::vector<CacheEntryPtr> entries;
  entries.reserve(kEntries);
  malloc_trim(0);
  const uint64_t rss_before = residentBytes();
  const uint64_t malloc_before = mallocBytes();

  for (size_t i = 0; i < kEntries; ++i) {
    auto entry = makeEntry("/api/items/" + std::to_string(i) + "?fields=all", 789, "", "api");
    entry->reason = "OK";
    entry->fields = "Content-Type: application/json\r\nCache-Control: max-age=60\r\nETag: \"abcdef0123\"\r\n";
    entry->etag = "\"abcdef0123\"";
    entries.push_back(std::move(entry));
  }
  const uint64_t malloc_entries = mallocBytes();

  CacheStore store(uint64_t{4} << 30);
  for (CacheEntryPtr& entry : entries) ASSERT_TRUE(store.insert(std::move(entry)));
  const uint64_t malloc_stored = mallocBytes();
  const uint64_t rss_stored = residentBytes();
  CacheStore::Stats stats = store.stats();
  ASSERT_EQ(stats.entries, kEntries);

  const double charge_per_entry = static_cast<double>(stats.bytes) / kEntries;
  const double bookkeeping_per_entry = static_cast<double>(malloc_stored - malloc_entries) / kEntries;
  const double malloc_per_entry = static_cast<double>(malloc_stored - malloc_before) / kEntries;
  const double rss_per_entry = static_cast<double>(rss_stored - rss_before) / kEntries;
  std::printf("[ memory   ] per entry: charge %.0f B, heap %.0f B, RSS %.0f B, store bookkeeping %.1f B "
              "(kStoreOverhead %zu)\n",
              charge_per_entry, malloc_per_entry, rss_per_entry, bookkeeping_per_entry,
              CacheEntry::kStoreOverhead);

  EXPECT_LE(bookkeeping_per_entry, static_cast<double>(CacheEntry::kStoreOverhead));
  EXPECT_GT(malloc_per_entry, 0.8 * charge_per_entry);
  EXPECT_LT(malloc_per_entry, 1.25 * charge_per_entry);
  EXPECT_LT(rss_per_entry, 1.5 * charge_per_entry);
#endif
}

TEST(CacheStoreTest, EvictionsAreCountedPerRoute) {
  CacheStore small(makeEntry("/size", 1000)->charge() * 3, 1);  // room for three entries
  ASSERT_TRUE(small.insert(makeEntry("/a1", 1000, "", "a")));
  ASSERT_TRUE(small.insert(makeEntry("/a2", 1000, "", "a")));
  ASSERT_TRUE(small.insert(makeEntry("/b1", 1000, "", "b")));
  ASSERT_TRUE(small.insert(makeEntry("/b2", 1000, "", "b")));  // evicts /a1
  ASSERT_TRUE(small.insert(makeEntry("/b3", 1000, "", "b")));  // evicts /a2
  ASSERT_TRUE(small.insert(makeEntry("/c1", 1000, "", "c")));  // evicts /b1
  CacheStore::Stats stats = small.stats();
  EXPECT_EQ(stats.evictions, 3u);
  EXPECT_EQ(stats.evictions_by_route, (std::map<std::string, uint64_t>{{"a", 2}, {"b", 1}}));
  CacheStore tiny(1, 1);  // a one-byte budget: nothing fits, nothing is evicted for it
  EXPECT_FALSE(tiny.insert(makeEntry("/none")));
  EXPECT_TRUE(tiny.stats().evictions_by_route.empty());
}

// Purge by tag goes through each shard's tag index: exactly the tagged entries, whatever else
// the store holds, and the index follows replacement, eviction and erasure.
TEST(CacheStoreTest, TagIndexFindsExactlyTheTaggedEntries) {
  CacheStore store(1 << 20, 4);
  auto tagged = [](std::string_view path, std::vector<std::string> tags, std::string variant = "") {
    auto entry = makeEntry(path, 100, std::move(variant));
    entry->tags = std::move(tags);
    return entry;
  };
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(store.insert(makeEntry("/plain/" + std::to_string(i))));
  ASSERT_TRUE(store.insert(tagged("/p/1", {"product-1", "home"})));
  ASSERT_TRUE(store.insert(tagged("/p/1", {"product-1", "home"}, "gzip")));
  ASSERT_TRUE(store.insert(tagged("/p/2", {"product-2", "home"})));
  ASSERT_TRUE(store.insert(tagged("/p/3", {"product-3"})));
  EXPECT_TRUE(store.checkInvariants());

  // A replacement drops the old entry's tags from the index.
  ASSERT_TRUE(store.insert(tagged("/p/3", {"product-3b"})));
  EXPECT_TRUE(store.checkInvariants());
  EXPECT_EQ(store.eraseTagged("product-3"), 0u);

  EXPECT_EQ(store.markStaleTagged("home", 1000), 3u);
  EXPECT_NE(lookupPath(store, "/p/2")->soft_purged.at.load(), 0);
  EXPECT_EQ(lookupPath(store, "/p/3")->soft_purged.at.load(), 0);
  EXPECT_EQ(store.eraseTagged("product-1"), 2u);  // both variants
  EXPECT_EQ(lookupPath(store, "/p/1"), nullptr);
  EXPECT_EQ(store.eraseTagged("home"), 1u);       // /p/2 is left with it
  EXPECT_EQ(store.eraseTagged("home"), 0u);
  EXPECT_EQ(store.eraseTagged("nobody"), 0u);
  EXPECT_EQ(store.stats().entries, 201u);
  EXPECT_TRUE(store.checkInvariants());

  // Eviction keeps the index right too.
  CacheStore small(makeEntry("/size", 1000)->charge() * 2 + 64, 1);
  for (int i = 0; i < 10; ++i) {
    auto entry = makeEntry("/e/" + std::to_string(i), 1000);
    entry->tags = {"t" + std::to_string(i % 3), "all"};
    ASSERT_TRUE(small.insert(entry));
    ASSERT_TRUE(small.checkInvariants()) << i;
  }
  size_t resident = small.stats().entries;
  ASSERT_GE(resident, 1u);
  EXPECT_LT(resident, 10u) << "nothing was evicted";
  EXPECT_EQ(small.eraseTagged("all"), resident);
  EXPECT_EQ(small.stats().entries, 0u);
  EXPECT_TRUE(small.checkInvariants());
}

}  // namespace
}  // namespace perfgate
