#include "filters/cache/fill_registry.h"

#include <algorithm>

namespace perfgate {

FillRegistry::Join FillRegistry::join(const std::string& key, uint64_t hash, const void* waiter, Wake wake,
                                      bool can_lead, int64_t now) {
  Shard& shard = shardOf(hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (auto found = shard.uncacheable.find(key); found != shard.uncacheable.end()) {
    if (found->second > now) return Join::Pass;
    shard.uncacheable.erase(found);
  }
  if (auto found = shard.inflight.find(key); found != shard.inflight.end()) {
    found->second.emplace_back(waiter, std::move(wake));
    return Join::Wait;
  }
  if (!can_lead) return Join::Pass;
  shard.inflight.try_emplace(key);
  return Join::Lead;
}

void FillRegistry::leave(const std::string& key, uint64_t hash, const void* waiter) {
  Shard& shard = shardOf(hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  auto found = shard.inflight.find(key);
  if (found == shard.inflight.end()) return;
  auto& waiters = found->second;
  waiters.erase(std::remove_if(waiters.begin(), waiters.end(), [&](const auto& w) { return w.first == waiter; }),
                waiters.end());
}

void FillRegistry::finish(const std::string& key, uint64_t hash, bool storable, int64_t now) {
  std::vector<std::pair<const void*, Wake>> waiters;
  {
    Shard& shard = shardOf(hash);
    std::lock_guard<std::mutex> lock(shard.mutex);
    if (storable) {
      shard.uncacheable.erase(key);
    } else {
      if (shard.uncacheable.size() >= kMaxHitForMissPerShard) shard.uncacheable.clear();
      shard.uncacheable[key] = now + kHitForMissSeconds;
    }
    auto node = shard.inflight.extract(key);
    if (!node.empty()) waiters = std::move(node.mapped());
  }
  for (auto& [waiter, wake] : waiters) wake();  // outside the lock: a wake only posts to a worker
}

void FillRegistry::stored(const std::string& key, uint64_t hash) {
  Shard& shard = shardOf(hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  shard.uncacheable.erase(key);
}

bool FillRegistry::beginRefresh(const std::string& key, uint64_t hash, int64_t now) {
  Shard& shard = shardOf(hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  auto [it, inserted] = shard.refreshing.try_emplace(key, now);
  if (inserted) return true;
  if (now - it->second < kRefreshGiveUpSeconds) return false;
  it->second = now;
  return true;
}

void FillRegistry::endRefresh(const std::string& key, uint64_t hash) {
  Shard& shard = shardOf(hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  shard.refreshing.erase(key);
}
}  // namespace perfgate
