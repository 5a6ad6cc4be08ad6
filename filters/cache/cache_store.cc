#include "filters/cache/cache_store.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "filters/cache/cache_key.h"

namespace perfgate {
namespace {

// Holds the references a shard lets go of, so that the last reference to a large entry is
// dropped (and its body freed) after the shard's lock is released. Declared before the lock.
class Graveyard {
 public:
  void bury(CacheEntryPtr&& entry) {
    if (!first_) {
      first_ = std::move(entry);
    } else {
      more_.push_back(std::move(entry));
    }
  }

 private:
  CacheEntryPtr first_;  // the usual single eviction costs no allocation
  std::vector<CacheEntryPtr> more_;
};

}  // namespace

class alignas(64) CacheStore::Shard {
 public:
  static constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
  static constexpr uint32_t kSlabShift = 8;  // 256 slots (10 KiB) per slab
  static constexpr uint32_t kSlabSize = 1u << kSlabShift;
  static constexpr size_t kInitialBuckets = 64;

  struct Slot {
    CacheEntryPtr entry;  // null while the slot is free
    uint64_t hash = 0;
    uint32_t prev = kNil;   // LRU neighbour towards the most recently used end
    uint32_t next = kNil;   // LRU neighbour towards the least recently used end
    uint32_t chain = kNil;  // next slot in the same bucket; next free slot while free
    uint32_t charge = 0;
  };
  static_assert(sizeof(Slot) <= 40, "per-entry bookkeeping must fit CacheEntry::kStoreOverhead");

  void setBudget(uint64_t budget) { budget_ = budget; }

  CacheEntryPtr lookup(std::string_view key, uint64_t hash, std::string_view variant) {
    std::lock_guard<std::mutex> lock(mu_);
    if (buckets_.empty()) return nullptr;
    uint32_t prev = kNil;
    for (uint32_t i = bucket(hash); i != kNil; prev = i, i = at(i).chain) {
      const Slot& s = at(i);
      if (s.hash == hash && s.entry->key == key && s.entry->variant == variant) {
        touch(i, prev);
        return s.entry;
      }
    }
    return nullptr;
  }

  CacheEntryPtr select(std::string_view key, uint64_t hash, const HeaderBlock& fields, std::optional<ContentCoding> coding) {
    std::lock_guard<std::mutex> lock(mu_);
    if (buckets_.empty()) return nullptr;
    const std::vector<std::string>* computed_for = nullptr;  // variants usually share one Vary list
    thread_local std::string variant;  // its capacity kept: no allocation per lookup
    uint32_t best = kNil;
    uint32_t best_prev = kNil;
    uint32_t prev = kNil;
    for (uint32_t i = bucket(hash); i != kNil; prev = i, i = at(i).chain) {
      const Slot& s = at(i);
      if (s.hash != hash || s.entry->key != key) continue;
      if (computed_for == nullptr || *computed_for != s.entry->vary) {
        makeVariantKey(variant, s.entry->vary, fields, coding);
        computed_for = &s.entry->vary;
      }
      if (s.entry->variant != variant) continue;
      // Same-key slots are in most-recently-used order; a later one wins only by a newer Date.
      if (best == kNil || s.entry->date_value > at(best).entry->date_value) {
        best = i;
        best_prev = prev;
      }
    }
    if (best == kNil) return nullptr;
    touch(best, best_prev);
    return at(best).entry;
  }

  bool insert(CacheEntryPtr&& entry, uint32_t charge, Graveyard& graveyard) {
    std::lock_guard<std::mutex> lock(mu_);
    if (buckets_.empty()) buckets_.assign(kInitialBuckets, kNil);
    const uint64_t hash = entry->hash;

    uint32_t match = kNil, match_prev = kNil;
    uint32_t oldest = kNil, oldest_prev = kNil;  // the key's least recently used variant
    size_t variants = 0;
    uint32_t prev = kNil;
    for (uint32_t i = bucket(hash); i != kNil; prev = i, i = at(i).chain) {
      const Slot& s = at(i);
      if (s.hash != hash || s.entry->key != entry->key) continue;
      ++variants;
      oldest = i;
      oldest_prev = prev;
      if (s.entry->variant == entry->variant) {
        match = i;
        match_prev = prev;
      }
    }

    ++inserts_;
    uint32_t placed;
    if (match != kNil) {
      Slot& s = at(match);
      bytes_ = bytes_ - s.charge + charge;
      unindexTags(match);
      graveyard.bury(std::move(s.entry));
      s.entry = std::move(entry);
      s.charge = charge;
      ++replaced_;
      touch(match, match_prev);
      placed = match;
    } else {
      if (variants >= kMaxVariants) evict(oldest, oldest_prev, graveyard);
      placed = allocSlot();
      Slot& s = at(placed);
      s.entry = std::move(entry);
      s.hash = hash;
      s.charge = charge;
      uint32_t& head = bucket(hash);
      s.chain = head;
      head = placed;
      lruPushFront(placed);
      bytes_ += charge;
      ++entries_;
      if (entries_ > buckets_.size()) growBuckets();
    }

    for (const std::string& tag : at(placed).entry->tags) tagged_[tag].insert(placed);
    // The caller checked charge <= budget_, so this stops before reaching `placed`.
    while (bytes_ > budget_ && tail_ != placed) {
      uint32_t victim = tail_;
      evict(victim, chainPrev(victim), graveyard);
    }
    return true;
  }

  size_t erase(std::string_view key, uint64_t hash, const std::string_view* variant, Graveyard& graveyard) {
    std::lock_guard<std::mutex> lock(mu_);
    if (buckets_.empty()) return 0;
    size_t erased = 0;
    uint32_t prev = kNil;
    uint32_t i = bucket(hash);
    while (i != kNil) {
      uint32_t next = at(i).chain;
      if (at(i).hash == hash && at(i).entry->key == key && (variant == nullptr || at(i).entry->variant == *variant)) {
        remove(i, prev, graveyard);
        ++erased;
      } else {
        prev = i;
      }
      i = next;
    }
    return erased;
  }

  size_t eraseIf(const std::function<bool(const CacheEntry&)>& pred, Graveyard& graveyard) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t erased = 0;
    for (uint32_t i = head_; i != kNil;) {
      uint32_t next = at(i).next;
      if (pred(*at(i).entry)) {
        remove(i, chainPrev(i), graveyard);
        ++erased;
      }
      i = next;
    }
    return erased;
  }

  // The entries tagged `tag`, found through the tag index: O(tagged entries), not O(entries).
  size_t eraseTagged(const std::string& tag, Graveyard& graveyard) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tagged_.find(tag);
    if (it == tagged_.end()) return 0;
    std::vector<uint32_t> slots(it->second.begin(), it->second.end());  // remove() edits the index
    for (uint32_t i : slots) remove(i, chainPrev(i), graveyard);
    return slots.size();
  }

  size_t markStaleTagged(const std::string& tag, int64_t now) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tagged_.find(tag);
    if (it == tagged_.end()) return 0;
    for (uint32_t i : it->second) {
      int64_t unmarked = 0;
      at(i).entry->soft_purged.at.compare_exchange_strong(unmarked, now, std::memory_order_relaxed);
    }
    return it->second.size();
  }

  size_t markStaleIf(const std::function<bool(const CacheEntry&)>& pred, int64_t now) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t marked = 0;
    for (uint32_t i = head_; i != kNil; i = at(i).next) {
      const CacheEntry& entry = *at(i).entry;
      if (!pred(entry)) continue;
      int64_t unmarked = 0;
      entry.soft_purged.at.compare_exchange_strong(unmarked, now, std::memory_order_relaxed);
      ++marked;
    }
    return marked;
  }

  // Hands the slabs (and the entries in them) to the caller to free outside the lock.
  size_t clear(std::vector<std::unique_ptr<Slot[]>>& slabs) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t erased = entries_;
    slabs.swap(slabs_);
    std::vector<uint32_t>().swap(buckets_);
    tagged_.clear();
    slot_count_ = 0;
    free_ = head_ = tail_ = kNil;
    entries_ = bytes_ = 0;
    return erased;
  }

  void addStats(Stats& out) const {
    std::lock_guard<std::mutex> lock(mu_);
    out.entries += entries_;
    out.bytes += bytes_;
    out.evictions += evictions_;
    for (const auto& [route, count] : evictions_by_route_) out.evictions_by_route[route] += count;
    out.inserts += inserts_;
    out.replaced += replaced_;
  }

  bool checkInvariants() const {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t count = 0, bytes = 0;
    uint32_t prev = kNil;
    for (uint32_t i = head_; i != kNil; prev = i, i = at(i).next) {
      const Slot& s = at(i);
      if (!s.entry || s.prev != prev || s.hash != s.entry->hash || s.charge != s.entry->charge()) return false;
      if (++count > entries_) return false;  // also stops a cycle
      bytes += s.charge;
    }
    if (prev != tail_ || count != entries_ || bytes != bytes_ || bytes_ > budget_) return false;

    uint64_t chained = 0;
    for (size_t b = 0; b < buckets_.size(); ++b) {
      for (uint32_t i = buckets_[b]; i != kNil; i = at(i).chain) {
        const Slot& s = at(i);
        if (!s.entry || (s.hash & (buckets_.size() - 1)) != b) return false;
        if (++chained > entries_) return false;
        size_t variants = 0;
        for (uint32_t j = buckets_[b]; j != kNil; j = at(j).chain) {
          if (at(j).hash != s.hash || at(j).entry->key != s.entry->key) continue;
          ++variants;
          if (j != i && at(j).entry->variant == s.entry->variant) return false;
        }
        if (variants > kMaxVariants) return false;
      }
    }
    if (chained != entries_) return false;
    // The tag index names exactly the slots whose entries carry each tag.
    size_t indexed = 0;
    for (const auto& [tag, slots] : tagged_) {
      for (uint32_t i : slots) {
        const Slot& s = at(i);
        if (!s.entry || std::find(s.entry->tags.begin(), s.entry->tags.end(), tag) == s.entry->tags.end()) return false;
        ++indexed;
      }
    }
    size_t tags = 0;
    for (uint32_t i = head_; i != kNil; i = at(i).next) tags += at(i).entry->tags.size();
    return indexed == tags;
  }


 private:
  Slot& at(uint32_t i) { return slabs_[i >> kSlabShift][i & (kSlabSize - 1)]; }
  const Slot& at(uint32_t i) const { return slabs_[i >> kSlabShift][i & (kSlabSize - 1)]; }
  uint32_t& bucket(uint64_t hash) { return buckets_[hash & (buckets_.size() - 1)]; }

  uint32_t allocSlot() {
    if (free_ != kNil) {
      uint32_t i = free_;
      free_ = at(i).chain;
      return i;
    }
    if (slot_count_ == slabs_.size() * kSlabSize) slabs_.push_back(std::make_unique<Slot[]>(kSlabSize));
    return slot_count_++;
  }

  // The slot before `i` in its bucket's chain (kNil when first). Chains average under one slot.
  uint32_t chainPrev(uint32_t i) {
    uint32_t prev = kNil;
    for (uint32_t j = bucket(at(i).hash); j != i; j = at(j).chain) prev = j;
    return prev;
  }

  // Makes `i` (whose chain predecessor is `chain_prev`) the most recently used: front of the LRU
  // list and of its bucket chain. The latter keeps a key's variants in recency order, which the
  // variant cap and select() rely on, and puts hot entries first in their chain.
  void touch(uint32_t i, uint32_t chain_prev) {
    if (chain_prev != kNil) {
      uint32_t& head = bucket(at(i).hash);
      at(chain_prev).chain = at(i).chain;
      at(i).chain = head;
      head = i;
    }
    if (head_ != i) {
      lruUnlink(i);
      lruPushFront(i);
    }
  }

  void lruPushFront(uint32_t i) {
    Slot& s = at(i);
    s.prev = kNil;
    s.next = head_;
    if (head_ != kNil) at(head_).prev = i;
    head_ = i;
    if (tail_ == kNil) tail_ = i;
  }

  void lruUnlink(uint32_t i) {
    Slot& s = at(i);
    if (s.prev != kNil) at(s.prev).next = s.next; else head_ = s.next;
    if (s.next != kNil) at(s.next).prev = s.prev; else tail_ = s.prev;
    s.prev = s.next = kNil;
  }

  // Removes an entry to make room, counted (in total and for its route).
  void evict(uint32_t i, uint32_t chain_prev, Graveyard& graveyard) {
    ++evictions_;
    ++evictions_by_route_[at(i).entry->route];
    remove(i, chain_prev, graveyard);
  }

  void remove(uint32_t i, uint32_t chain_prev, Graveyard& graveyard) {
    unindexTags(i);
    Slot& s = at(i);
    if (chain_prev != kNil) at(chain_prev).chain = s.chain; else bucket(s.hash) = s.chain;
    lruUnlink(i);
    bytes_ -= s.charge;
    --entries_;
    graveyard.bury(std::move(s.entry));
    s.entry.reset();
    s.hash = 0;
    s.charge = 0;
    s.chain = free_;
    free_ = i;
  }

  void unindexTags(uint32_t i) {
    for (const std::string& tag : at(i).entry->tags) {
      auto it = tagged_.find(tag);
      if (it == tagged_.end()) continue;
      it->second.erase(i);
      if (it->second.empty()) tagged_.erase(it);
    }
  }

  // Doubles the bucket array. Each old chain splits into two new ones in its original order,
  // so a key's variants stay in recency order.
  void growBuckets() {
    size_t old_size = buckets_.size();
    std::vector<uint32_t> grown(old_size * 2, kNil);
    for (size_t b = 0; b < old_size; ++b) {
      uint32_t lo_tail = kNil, hi_tail = kNil;
      for (uint32_t i = buckets_[b]; i != kNil;) {
        uint32_t next = at(i).chain;
        at(i).chain = kNil;
        bool hi = (at(i).hash & old_size) != 0;
        uint32_t& tail = hi ? hi_tail : lo_tail;
        if (tail == kNil) grown[hi ? b + old_size : b] = i; else at(tail).chain = i;
        tail = i;
        i = next;
      }
    }
    buckets_.swap(grown);
  }

  mutable std::mutex mu_;
  uint64_t budget_ = 0;
  std::unordered_map<std::string, std::unordered_set<uint32_t>> tagged_;  // tag -> slots of entries with it
  std::vector<std::unique_ptr<Slot[]>> slabs_;
  uint32_t slot_count_ = 0;  // slots handed out of the slabs so far, in use or free
  uint32_t free_ = kNil;     // free slots, linked through Slot::chain
  std::vector<uint32_t> buckets_;  // power-of-two size, empty until the first insert
  uint32_t head_ = kNil;     // most recently used
  uint32_t tail_ = kNil;     // least recently used: evicted first
  uint64_t entries_ = 0;
  uint64_t bytes_ = 0;
  uint64_t evictions_ = 0;
  std::unordered_map<std::string, uint64_t> evictions_by_route_;
  uint64_t inserts_ = 0;
  uint64_t replaced_ = 0;
};

CacheStore::CacheStore(uint64_t max_bytes, size_t shards)
    : max_bytes_(max_bytes),
      shard_count_(std::bit_ceil(std::max<size_t>(shards, 1))),
      shard_mask_(shard_count_ - 1),
      shards_(std::make_unique<Shard[]>(shard_count_)) {
  for (size_t i = 0; i < shard_count_; ++i) shards_[i].setBudget(max_bytes_ / shard_count_);
}

CacheStore::~CacheStore() = default;

CacheStore::Shard& CacheStore::shardFor(uint64_t hash) const {
  return shards_[static_cast<size_t>(hash >> 40) & shard_mask_];
}

CacheEntryPtr CacheStore::lookup(std::string_view key, uint64_t hash, std::string_view variant) {
  return shardFor(hash).lookup(key, hash, variant);
}

CacheEntryPtr CacheStore::lookup(std::string_view key, uint64_t hash, const HeaderBlock& request_fields,
                                 std::optional<ContentCoding> coding) {
  return shardFor(hash).select(key, hash, request_fields, coding);
}

bool CacheStore::insert(CacheEntryPtr entry) {
  if (!entry) return false;
  size_t charge = entry->charge();
  if (charge > max_bytes_ / shard_count_ || charge > std::numeric_limits<uint32_t>::max()) return false;
  Graveyard graveyard;  // outlives the shard's lock
  Shard& shard = shardFor(entry->hash);
  return shard.insert(std::move(entry), static_cast<uint32_t>(charge), graveyard);
}

size_t CacheStore::erase(std::string_view key, uint64_t hash) {
  Graveyard graveyard;
  return shardFor(hash).erase(key, hash, nullptr, graveyard);
}

size_t CacheStore::erase(std::string_view key, uint64_t hash, std::string_view variant) {
  Graveyard graveyard;
  return shardFor(hash).erase(key, hash, &variant, graveyard);
}

size_t CacheStore::eraseIf(const std::function<bool(const CacheEntry&)>& pred) {
  size_t erased = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    Graveyard graveyard;
    erased += shards_[i].eraseIf(pred, graveyard);
  }
  return erased;
}

size_t CacheStore::eraseTagged(const std::string& tag) {
  size_t erased = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    Graveyard graveyard;
    erased += shards_[i].eraseTagged(tag, graveyard);
  }
  return erased;
}

size_t CacheStore::markStaleTagged(const std::string& tag, int64_t now) {
  size_t marked = 0;
  for (size_t i = 0; i < shard_count_; ++i) marked += shards_[i].markStaleTagged(tag, now);
  return marked;
}

size_t CacheStore::markStaleIf(const std::function<bool(const CacheEntry&)>& pred, int64_t now) {
  size_t marked = 0;
  for (size_t i = 0; i < shard_count_; ++i) marked += shards_[i].markStaleIf(pred, now);
  return marked;
}

size_t CacheStore::clear() {
  size_t erased = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    std::vector<std::unique_ptr<Shard::Slot[]>> slabs;  // freed here, outside the shard's lock
    erased += shards_[i].clear(slabs);
  }
  return erased;
}

CacheStore::Stats CacheStore::stats() const {
  Stats out;
  for (size_t i = 0; i < shard_count_; ++i) shards_[i].addStats(out);
  return out;
}

bool CacheStore::checkInvariants() const {
  for (size_t i = 0; i < shard_count_; ++i) {
    if (!shards_[i].checkInvariants()) return false;
  }
  return true;
}

}  // namespace perfgate
