// Micro-benchmarks of the response cache's store and keys (filters/cache/): the costs a cache hit
// and a cache fill add to a request, without the network.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "filters/cache/cache_key.h"
#include "filters/cache/cache_store.h"

namespace perfgate {
namespace {

constexpr size_t kBodyBytes = 789;  // the end-to-end benchmark's JSON response

CacheEntryPtr makeEntry(size_t i) {
  auto entry = std::make_shared<CacheEntry>();
  entry->key = makeCacheKey("http", "api.example.com", "/api/items/" + std::to_string(i), "fields=all");
  entry->hash = hashKey(entry->key);
  entry->route = "api";
  entry->reason = "OK";
  entry->fields = "Content-Type: application/json\r\nCache-Control: max-age=60\r\n";
  entry->body.assign(kBodyBytes, 'x');
  return entry;
}

struct Keys {
  std::vector<std::string> keys;
  std::vector<uint64_t> hashes;
};

Keys makeKeys(size_t n) {
  Keys out;
  for (size_t i = 0; i < n; ++i) {
    out.keys.push_back(makeCacheKey("http", "api.example.com", "/api/items/" + std::to_string(i), "fields=all"));
    out.hashes.push_back(hashKey(out.keys.back()));
  }
  return out;
}

// A hit on a warm store of state.range(0) entries, keys visited in a scattered order. Runs with
// several threads to show shard-lock contention.
void BM_LookupHit(benchmark::State& state) {
  static std::unique_ptr<CacheStore> store;
  static Keys keys;
  const size_t n = static_cast<size_t>(state.range(0));
  if (state.thread_index() == 0) {
    store = std::make_unique<CacheStore>(uint64_t{8} << 30);
    keys = makeKeys(n);
    for (size_t i = 0; i < n; ++i) store->insert(makeEntry(i));
  }
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    i = (i + 104729) % n;
    CacheEntryPtr hit = store->lookup(keys.keys[i], keys.hashes[i], "");
    benchmark::DoNotOptimize(hit.get());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) store.reset();
}
BENCHMARK(BM_LookupHit)->Arg(1000)->Arg(100000)->Threads(1)->Threads(4);

// A miss on a warm store: the full-key compare never runs unless the hash matches.
void BM_LookupMiss(benchmark::State& state) {
  CacheStore store(uint64_t{1} << 30);
  for (size_t i = 0; i < 100000; ++i) store.insert(makeEntry(i));
  Keys misses = makeKeys(200000);
  size_t i = 100000;
  for (auto _ : state) {
    if (++i == misses.keys.size()) i = 100000;
    benchmark::DoNotOptimize(store.lookup(misses.keys[i], misses.hashes[i], "").get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LookupMiss);

// Inserting into a full store, so every insert evicts the least recently used entry. Entries are
// built beforehand: this measures the store, not building responses.
void BM_InsertWithEviction(benchmark::State& state) {
  constexpr size_t kPool = 20000;
  std::vector<CacheEntryPtr> pool;
  for (size_t i = 0; i < kPool; ++i) pool.push_back(makeEntry(i));
  const uint64_t charge = pool[0]->charge();
  CacheStore store(charge * (kPool / 4), 16);  // room for about a quarter of the pool
  size_t i = 0;
  for (auto _ : state) {
    store.insert(pool[i]);
    if (++i == kPool) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["evictions/insert"] =
      static_cast<double>(store.stats().evictions) / static_cast<double>(store.stats().inserts);
}
BENCHMARK(BM_InsertWithEviction);

// Building and hashing a primary key from request parts: paid on every cacheable request.
void BM_MakeCacheKeyAndHash(benchmark::State& state) {
  for (auto _ : state) {
    std::string key = makeCacheKey("http", "API.example.com:80", "/api/items/12345", "fields=all&page=2");
    benchmark::DoNotOptimize(hashKey(key));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MakeCacheKeyAndHash);

// The variant key for a Vary: Accept-Encoding response, with a typical browser header.
void BM_MakeVariantKeyAcceptEncoding(benchmark::State& state) {
  const std::vector<std::string> vary{"accept-encoding"};
  const HeaderBlock fields{{"Host", "api.example.com"},
                                        {"User-Agent", "Mozilla/5.0"},
                                        {"Accept-Encoding", "gzip, deflate, br, zstd"}};
  for (auto _ : state) benchmark::DoNotOptimize(makeVariantKey(vary, fields));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MakeVariantKeyAcceptEncoding);

}  // namespace
}  // namespace perfgate

BENCHMARK_MAIN();
