// FillRegistry: request coalescing across every worker. For each cache key it knows whether a
// fetch from the backend is under way (one "leader" exchange, on any worker) and which exchanges
// wait for it; which keys were recently found not storable ("hit-for-miss": their requests go
// straight to the backend, nobody queues behind them); and which keys have a
// stale-while-revalidate refresh running (one per key).
//
// Waiters live on any worker. Each joins with a Wake: a thread-safe callable that resumes it on
// its own worker (Exchange::waker()), so the leader's worker never touches another worker's
// exchange. Sharded like the store, one mutex per shard; only misses come here, never hits.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace perfgate {

class FillRegistry {
 public:
  using Wake = std::function<void()>;

  enum class Join : uint8_t {
    Lead,  // no fetch for the key: the caller fetches it and calls finish() when done
    Wait,  // a fetch is under way: `wake` is called when it ends (or leave() first)
    Pass,  // go to the backend without coalescing (hit-for-miss key, or a non-leader miss)
  };

  // How long a key stays "not storable" after a response that could not be stored, and how many
  // such keys a shard remembers (beyond that the oldest memory is dropped whole).
  static constexpr int64_t kHitForMissSeconds = 10;
  static constexpr size_t kMaxHitForMissPerShard = 1024;

  // A miss for `key` at `now` (seconds). `waiter` identifies the exchange for leave(); a caller
  // that `can_lead` (a GET: its response can be stored) becomes the leader when none runs.
  Join join(const std::string& key, uint64_t hash, const void* waiter, Wake wake, bool can_lead, int64_t now);
  // A waiter gives up (its client left); its Wake is dropped uncalled.
  void leave(const std::string& key, uint64_t hash, const void* waiter);
  // The leader is done: remembers whether the response was storable, then wakes every waiter.
  void finish(const std::string& key, uint64_t hash, bool storable, int64_t now);
  // A response for `key` was stored (by anyone): the key is cacheable again.
  void stored(const std::string& key, uint64_t hash);

  // Stale-while-revalidate: true when the caller should start the key's refresh at `now`
  // (seconds): none running, or the one running began kRefreshGiveUpSeconds ago (it was lost
  // without ending: a refresh must never be blocked for good).
  static constexpr int64_t kRefreshGiveUpSeconds = 120;
  bool beginRefresh(const std::string& key, uint64_t hash, int64_t now);
  void endRefresh(const std::string& key, uint64_t hash);

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<std::pair<const void*, Wake>>> inflight;
    std::unordered_map<std::string, int64_t> uncacheable;  // key -> until (seconds)
    std::unordered_map<std::string, int64_t> refreshing;  // key -> began (seconds)
  };
  Shard& shardOf(uint64_t hash) { return shards_[(hash >> 32) % kShards]; }

  std::array<Shard, kShards> shards_;
};

}  // namespace perfgate
