// What the core counts of each upstream, per worker thread and merged when read (the admin's
// health view, the JSON and Prometheus metrics): requests sent, gateway errors by kind, the last
// success and failure, and the connections the pool closed to keep reuse safe. Kept by the core,
// not by a module, so that health works whatever modules are on.
#pragma once

#include <array>
#include <chrono>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>

#include "filters/filter.h"

namespace perfgate {

// Why a pool closed a backend connection that was otherwise reusable, to keep every reused
// connection provably clean (an upstream desync must never reach another request).
enum class UpstreamClose : uint8_t {
  Overrun,         // bytes after the end of a response (already read, or waiting in the socket)
  BodilessLength,  // a HEAD/204/304 response that declared a body length or a transfer coding
  Unsolicited,     // bytes arriving on an idle connection
  kCount
};
inline constexpr size_t kUpstreamCloseReasons = static_cast<size_t>(UpstreamClose::kCount);
const char* upstreamCloseName(UpstreamClose reason);

// Upper bounds (seconds) of the upstream response-time histogram's buckets.
inline constexpr double kUpstreamLatencyBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,   5,     10, 30};
inline constexpr size_t kUpstreamLatencyBuckets = std::size(kUpstreamLatencyBounds) + 1;  // + "over the last"

// One upstream's counters on one worker: single writer, relaxed atomics.
struct UpstreamCounters {
  std::atomic<uint64_t> requests{0};
  std::array<std::atomic<uint64_t>, kGatewayErrorKinds> errors{};
  std::atomic<int64_t> last_ok_ns{0};  // steady_clock since its epoch; 0: never
  std::atomic<int64_t> last_error_ns{0};
  std::atomic<uint8_t> last_error{0};  // GatewayError
  std::array<std::atomic<uint64_t>, kUpstreamCloseReasons> closed{};
  // Request handed to the pool -> the backend's response head, by bucket of kUpstreamLatencyBounds.
  std::array<std::atomic<uint64_t>, kUpstreamLatencyBuckets> latency{};
  std::atomic<uint64_t> latency_sum_ns{0};
  // The pool's state as it last changed (gauges): connections open, of them idle, and requests
  // waiting for a connection.
  std::atomic<int64_t> open{0};
  std::atomic<int64_t> idle{0};
  std::atomic<int64_t> queued{0};

  static void bump(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

struct UpstreamTotals {
  uint64_t requests = 0;
  std::array<uint64_t, kGatewayErrorKinds> errors{};
  int64_t last_ok_ns = 0;
  int64_t last_error_ns = 0;
  GatewayError last_error = GatewayError::None;
  std::array<uint64_t, kUpstreamCloseReasons> closed{};
  std::array<uint64_t, kUpstreamLatencyBuckets> latency{};
  uint64_t latency_sum_ns = 0;
  int64_t open = 0;
  int64_t idle = 0;
  int64_t queued = 0;
};

// The calling thread's counters of upstream `name`, made on first use and stable afterwards
// (a pool looks its own up once).
UpstreamCounters& upstreamCounters(const std::string& name);

// Every upstream's counters summed over the threads.
std::map<std::string, UpstreamTotals> upstreamTotals();

// One exchange that went to `counters`' upstream: its gateway error (an upstream one counts as a
// failure at `ended`), else a success when the backend's head arrived (`headers` set).
// `started` is when the request was handed to the pool (its response time is to `headers`).
void recordUpstreamExchange(UpstreamCounters& counters, GatewayError error, std::chrono::steady_clock::time_point started,
                            std::chrono::steady_clock::time_point headers, std::chrono::steady_clock::time_point ended);

}  // namespace perfgate
