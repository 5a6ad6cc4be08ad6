// Wall-clock time in seconds, as HTTP dates and cache freshness count it, behind an interface so
// that tests can set and advance it instead of sleeping.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace perfgate {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch.
  virtual int64_t now() const = 0;
};

// The system's clock (time(2)).
const Clock& systemClock();

// A clock that stands still until told (tests).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start) : now_(start) {}
  int64_t now() const override { return now_.load(std::memory_order_relaxed); }
  void set(int64_t seconds) { now_.store(seconds, std::memory_order_relaxed); }
  void advance(int64_t seconds) { now_.fetch_add(seconds, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace perfgate
