#include "filters/cache/background_encoder.h"

#include <pthread.h>

#include "filters/cache/stored_response.h"

namespace perfgate {

BackgroundEncoder::BackgroundEncoder(std::shared_ptr<CacheStore> store, std::shared_ptr<CompressionStats> stats,
                                     int threads, size_t queue_limit)
    : store_(std::move(store)), stats_(std::move(stats)), queue_limit_(queue_limit) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "perfgate-encode");
      run();
    });
  }
}

BackgroundEncoder::~BackgroundEncoder() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

std::string BackgroundEncoder::identity(const Job& job) {
  std::string id = job.source->key;
  id.push_back('\0');
  id.append(job.variant);
  return id;
}

bool BackgroundEncoder::submit(Job job) {
  std::string id = identity(job);
  {
    std::lock_guard lock(mutex_);
    if (pending_.count(id) != 0) return true;
    if (auto failed = failed_.find(id); failed != failed_.end()) {
      if (failed->second.lock() == job.source) return true;  // it would fail again
      failed_.erase(failed);
    }
    if (queue_.size() >= queue_limit_ || threads_.empty()) {
      ++totals_.dropped;
      return false;
    }
    pending_.insert(std::move(id));
    queue_.push_back(std::move(job));
    ++totals_.submitted;
  }
  wake_.notify_one();
  return true;
}

BackgroundEncoder::Totals BackgroundEncoder::totals() const {
  std::lock_guard lock(mutex_);
  Totals totals = totals_;
  totals.queued = queue_.size();
  return totals;
}

void BackgroundEncoder::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && busy_ == 0; });
}

void BackgroundEncoder::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();

    uint64_t identity_bytes = 0;
    std::shared_ptr<CacheEntry> made = recodedEntry(*job.source, job.coding, job.level, job.variant, job.max_bytes,
                                                    job.generated_etags, &identity_bytes);
    enum { Stored, Superseded, Failed } result = Failed;
    if (made != nullptr) {
      stats_->local().encoded(job.coding, identity_bytes, made->body.size());
      // Stored only beside the response it was made from: a refresh or purge meanwhile wins.
      if (store_->lookup(job.source->key, job.source->hash, job.source->variant) == job.source) {
        store_->insert(std::move(made));
        result = Stored;
      } else {
        result = Superseded;
      }
    }

    lock.lock();
    std::string id = identity(job);
    if (result == Failed) {
      if (failed_.size() >= kFailedMemory) failed_.clear();
      failed_[id] = job.source;
    }
    pending_.erase(id);
    --busy_;
    (result == Stored ? totals_.stored : result == Superseded ? totals_.superseded : totals_.failed) += 1;
    if (queue_.empty() && busy_ == 0) idle_.notify_all();
  }
}

}  // namespace perfgate
