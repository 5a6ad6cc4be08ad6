// One stored response (RFC 9111 §3): immutable once stored, shared by reference between the
// store and every hit being written out, so eviction never frees bytes still being sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace perfgate {

struct CacheEntry {
  std::string key;          // primary cache key (method, scheme, host, path, query), compared in full
  uint64_t hash = 0;        // XXH3-64 of `key`: finds the shard and slot, never decides a match
  std::string variant;      // normalized values of the request fields named by Vary; "" without Vary
  std::vector<std::string> vary;  // lower-case field names from the response's Vary
  std::string route;        // route name, for per-route clear and stats
  std::vector<std::string> tags;  // from Surrogate-Key / Cache-Tag, for clear by tag

  int status = 200;
  std::string reason;       // reason phrase
  std::string fields;       // stored response fields, "Name: value\r\n" each; hop-by-hop ones,
                            // Age, Date, Content-Length and the cache's own headers excluded
  std::string body;         // the whole body (as sent: gzip in a gzip variant); empty when partial
  std::string head;         // status line, fields, Content-Length and Via, serialized once when
                            // stored (finishEntry): a hit adds only Age and the cache's fields

  // A partial entry (RFC 9111 §3.3), status 206: byte ranges of a `complete_length`-byte
  // representation, in `parts` (sorted by `first`, neither overlapping nor adjacent), `body`
  // empty and `fields` without Content-Range. It answers the ranges one part covers; the parts
  // of later 206 responses for the same representation are combined into it (§3.4), and once
  // they cover the whole it is stored as the complete 200.
  struct Part {
    uint64_t first = 0;
    std::string bytes;
    uint64_t last() const { return first + bytes.size() - 1; }
  };
  std::vector<Part> parts;
  uint64_t complete_length = 0;
  bool partial() const { return status == 206; }

  std::string etag;           // as received (W/ prefix kept), "" when none
  std::string last_modified;  // as received, "" when none

  // RFC 9111 §4.2.3 inputs, seconds since the Unix epoch.
  int64_t request_time = 0;   // when the request that produced the response was sent
  int64_t response_time = 0;  // when the response was received
  int64_t date_value = 0;     // the response's Date (response_time when absent or invalid)
  int64_t age_value = 0;      // the response's Age (0 when absent)
  int64_t freshness_lifetime = 0;  // §4.2.1, seconds
  int64_t stale_while_revalidate = 0;  // seconds a stale entry may be served while refreshing
  int64_t stale_if_error = 0;          // seconds a stale entry may be served when the backend fails
  bool must_revalidate = false;  // must-revalidate / proxy-revalidate / s-maxage: never serve stale
  bool no_cache = false;         // response no-cache: validate before every use

  // Set in place, while stored, by a soft purge (seconds since the epoch; 0: not purged): the
  // entry is stale from then on. The only field that changes after storing; a copy starts
  // unpurged.
  struct PurgeMark {
    std::atomic<int64_t> at{0};
    PurgeMark() = default;
    PurgeMark(const PurgeMark&) {}
    PurgeMark& operator=(const PurgeMark&) { return *this; }
  };
  mutable PurgeMark soft_purged;

  // Bytes this entry is charged against the cache's byte budget: everything it holds plus a fixed
  // per-entry overhead for the store's own bookkeeping.
  size_t charge() const {
    size_t fields_bytes = 0;
    for (const std::string& name : vary) fields_bytes += name.size() + 32;
    for (const std::string& tag : tags) fields_bytes += tag.size() + 32;
    for (const Part& part : parts) fields_bytes += part.bytes.size() + sizeof(Part);
    return sizeof(CacheEntry) + key.size() + variant.size() + route.size() + reason.size() + fields.size() +
           body.size() + head.size() + etag.size() + last_modified.size() + fields_bytes + kStoreOverhead;
  }
  static constexpr size_t kStoreOverhead = 64;  // hash-table node and LRU links in CacheStore
};

using CacheEntryPtr = std::shared_ptr<const CacheEntry>;

}  // namespace perfgate
