// Slow content-coding levels (brotli 10-11, zstd 17+: content_codec.h's slowLevel) made for
// stored objects on threads of their own, never on a worker: a worker that finds a URL's variant
// in such a coding missing serves the client's best fast coding and submits the slow one here
// (cache_filter.cc); when it is made it replaces nothing and joins the store beside the others,
// so the next request for that coding is a hit.
//
// The queue is bounded ([compression] background_queue); a submission that finds it full is
// dropped and counted, and is submitted again by a later request. A variant already queued or
// being made is not queued twice, nor one whose stored source failed to decode. A result whose source is no longer the stored one (refreshed,
// purged, evicted meanwhile) is thrown away rather than stored beside a newer response.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "filters/cache/cache_entry.h"
#include "filters/cache/cache_store.h"
#include "filters/compression/compression_stats.h"
#include "gateway/http/content_coding.h"

namespace perfgate {

class BackgroundEncoder {
 public:
  struct Job {
    CacheEntryPtr source;  // the stored variant to make it from
    ContentCoding coding = ContentCoding::Identity;
    int level = 0;
    std::string variant;  // the new variant's key
    uint64_t max_bytes = 0;
    bool generated_etags = false;
  };

  struct Totals {
    uint64_t submitted = 0;   // accepted into the queue
    uint64_t stored = 0;      // made and stored
    uint64_t dropped = 0;     // refused: the queue was full
    uint64_t superseded = 0;  // made, but its source was no longer stored
    uint64_t failed = 0;      // the source did not decode
    uint64_t queued = 0;      // waiting now
  };

  BackgroundEncoder(std::shared_ptr<CacheStore> store, std::shared_ptr<CompressionStats> stats, int threads,
                    size_t queue_limit);
  ~BackgroundEncoder();  // stops the threads; what is still queued is not made
  BackgroundEncoder(const BackgroundEncoder&) = delete;
  BackgroundEncoder& operator=(const BackgroundEncoder&) = delete;

  // From any thread. False when the job was not queued (the queue is full: counted as dropped);
  // true when it was, or when the same variant is already queued or being made.
  bool submit(Job job);

  Totals totals() const;
  int threads() const { return static_cast<int>(threads_.size()); }
  size_t queueLimit() const { return queue_limit_; }

  // Blocks until nothing is queued or being made (for tests and orderly shutdown checks).
  void drain();

 private:
  void run();
  static std::string identity(const Job& job);

  std::shared_ptr<CacheStore> store_;
  std::shared_ptr<CompressionStats> stats_;
  size_t queue_limit_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> queue_;
  std::unordered_set<std::string> pending_;  // identity() of each job queued or being made
  // Sources that did not decode, by identity(): not tried again while they are stored.
  static constexpr size_t kFailedMemory = 1024;
  std::unordered_map<std::string, std::weak_ptr<const CacheEntry>> failed_;
  size_t busy_ = 0;
  bool stopping_ = false;
  Totals totals_;
  std::vector<std::thread> threads_;
};

}  // namespace perfgate
