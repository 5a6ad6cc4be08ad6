// CacheStore: the in-memory (L1) response store — sharded, byte-bounded, least-recently-used.
//
// Entries are found by (key, variant), where the key is compared in full on every hit: the XXH3
// hash only picks the shard and the hash-table slot, so a collision can never serve another URL's
// response. Each shard has its own mutex, budget (max_bytes / shards) and LRU list; the sum of
// CacheEntry::charge() over stored entries never exceeds the budget.
//
// Bookkeeping is intrusive and index-based so that it fits in CacheEntry::kStoreOverhead: one
// 40-byte slot per entry, in slabs of fixed size (no per-entry allocation), holding the entry
// pointer, the hash, the LRU links and the hash-chain link as 32-bit slot numbers; plus a bucket
// array of 32-bit slot numbers at a load factor between 1/2 and 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "filters/cache/cache_entry.h"
#include "gateway/http/content_coding.h"
#include "gateway/http/request_parser.h"

namespace perfgate {

class CacheStore {
 public:
  // Variants kept per key (Vary); storing one more evicts the key's least recently used variant,
  // so one URL with a high-cardinality Vary cannot crowd out the rest of the cache.
  static constexpr size_t kMaxVariants = 8;

  struct Stats {
    uint64_t entries = 0;
    uint64_t bytes = 0;      // sum of charge() of the stored entries
    uint64_t evictions = 0;  // entries removed to make room (budget or variant cap)
    std::map<std::string, uint64_t> evictions_by_route;  // the same, by the entries' routes
    uint64_t inserts = 0;    // successful insert() calls, replacements included
    uint64_t replaced = 0;   // inserts that replaced an entry with the same key and variant
  };

  // `shards` is rounded up to a power of two (at least 1); each shard may hold
  // max_bytes / shards bytes of charge.
  explicit CacheStore(uint64_t max_bytes, size_t shards = 16);
  ~CacheStore();

  CacheStore(const CacheStore&) = delete;
  CacheStore& operator=(const CacheStore&) = delete;

  // The entry stored for exactly this key and variant (hash = hashKey(key)), made the most
  // recently used; nullptr when there is none.
  CacheEntryPtr lookup(std::string_view key, uint64_t hash, std::string_view variant);

  // RFC 9111 §4.1 selection: among the entries stored for this key, the one whose own Vary list
  // applied to `request_fields` (makeVariantKey) gives its stored variant — the most recent by
  // Date when several do. Lets a caller look up without knowing the Vary list beforehand, and
  // copes with a backend whose Vary changed between responses. Made the most recently used.
  // `coding` as in makeVariantKey.
  CacheEntryPtr lookup(std::string_view key, uint64_t hash, const HeaderBlock& request_fields,
                       std::optional<ContentCoding> coding = std::nullopt);

  // Stores `entry` under (entry->key, entry->variant) in the shard of entry->hash, replacing an
  // entry with the same key and variant, then evicts the shard's least recently used entries
  // until its charge is within budget. False (nothing changes) when entry is null or its charge
  // exceeds a shard's budget (or 4 GiB). Entries pushed out are released after the shard's lock
  // is dropped, so freeing a large body never holds up other threads.
  bool insert(CacheEntryPtr entry);

  // Removes every variant stored for `key`; returns how many entries went.
  size_t erase(std::string_view key, uint64_t hash);
  // Removes the entry stored for exactly this key and variant, if any.
  size_t erase(std::string_view key, uint64_t hash, std::string_view variant);

  // Removes every entry for which `pred` is true (clear by route or path prefix); returns how
  // many went. `pred` runs under a shard's lock: it must be quick and must not call the store.
  size_t eraseIf(const std::function<bool(const CacheEntry&)>& pred);

  // Removes / marks stale (as markStaleIf) the entries that carry purge tag `tag`, through each
  // shard's tag index: the work is proportional to the tagged entries, not to the store.
  size_t eraseTagged(const std::string& tag);
  size_t markStaleTagged(const std::string& tag, int64_t now);

  // Soft purge: marks every entry for which `pred` is true stale as of `now` (in place; an
  // entry already marked keeps its earlier mark); returns how many matched. Same rules for
  // `pred` as eraseIf.
  size_t markStaleIf(const std::function<bool(const CacheEntry&)>& pred, int64_t now);

  // Removes everything and releases the store's bookkeeping memory; returns how many entries went.
  size_t clear();

  // Summed over shards, each read under its lock (so each shard's figures are consistent).
  Stats stats() const;

  uint64_t maxBytes() const { return max_bytes_; }
  size_t shardCount() const { return shard_count_; }

  // Walks every shard and checks its structure: LRU list and hash chains hold the same entries,
  // counts and byte totals match, budgets and the variant cap hold. O(entries); for tests.
  bool checkInvariants() const;

 private:
  class Shard;

  Shard& shardFor(uint64_t hash) const;

  uint64_t max_bytes_;
  size_t shard_count_;
  size_t shard_mask_;  // shard = (hash >> 40) & shard_mask_; buckets use the low bits
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace perfgate
