// Per-thread counter slabs of one statistics object: each worker thread writes only its own slab
// (single writer, no lock, no shared cache line on the request path) and readers merge every
// slab. The one mechanism under the cache, compression and timing statistics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace perfgate {

template <typename Slab>
class ThreadSlabs {
 public:
  ThreadSlabs() : serial_(nextSerial()), alive_(std::make_shared<char>()) {}
  ThreadSlabs(const ThreadSlabs&) = delete;
  ThreadSlabs& operator=(const ThreadSlabs&) = delete;

  // The calling thread's slab, made on first use and stable afterwards. The fast path is one
  // thread-local comparison: a thread almost always writes to the one live object.
  Slab& local() {
    thread_local uint64_t cached_serial = 0;
    thread_local Slab* cached = nullptr;
    if (cached_serial != serial_) {
      cached = &registerHere();
      cached_serial = serial_;
    }
    return *cached;
  }

  // Calls fn(Slab&) for every thread's slab, under the registry's lock; fn only reads (slabs
  // with a shape that grows guard it with a lock of their own).
  template <typename Fn>
  void forEach(Fn&& fn) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::shared_ptr<Slab>& slab : slabs_) fn(*slab);
  }

 private:
  struct Mine {
    uint64_t serial;
    std::weak_ptr<char> owner;  // expires with the statistics object
    std::shared_ptr<Slab> slab;
  };

  static uint64_t nextSerial() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
  }

  // Slow path: this thread's slab of this object. The thread's list forgets the slabs of objects
  // that are gone, so a thread that outlives many of them (reloads, tests) does not keep theirs.
  Slab& registerHere() {
    thread_local std::vector<Mine> mine;
    std::erase_if(mine, [](const Mine& m) { return m.owner.expired(); });
    for (const Mine& m : mine) {
      if (m.serial == serial_) return *m.slab;
    }
    auto slab = std::make_shared<Slab>();
    mine.push_back(Mine{serial_, alive_, slab});
    std::lock_guard<std::mutex> lock(mutex_);
    slabs_.push_back(slab);
    return *slab;
  }

  const uint64_t serial_;  // tells this object from a later one at the same address
  std::shared_ptr<char> alive_;
  mutable std::mutex mutex_;  // guards slabs_
  std::vector<std::shared_ptr<Slab>> slabs_;
};

}  // namespace perfgate
