// Per-route and per-upstream request counters and latency histograms, kept per worker thread and
// merged when read (same scheme as the cache's counters, CacheStats): a worker only ever writes
// its own slab, through single-writer relaxed atomics (latency_histogram.h explains the memory
// ordering), so the request path takes no lock and shares no cache line. Routes and upstreams are
// numbered once, by name, when a config snapshot is built; the request path indexes a vector.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/thread_slabs.h"

#include "filters/filter.h"
#include "filters/timing/latency_histogram.h"

namespace perfgate {

inline constexpr size_t kGatewayErrorKinds = static_cast<size_t>(GatewayError::kCount);
inline constexpr int kLowestStatus = 100;
inline constexpr size_t kStatusCodes = 500;  // 100..599

const char* gatewayErrorName(GatewayError kind);  // "timeout", "refused", ... ("" for None)

// Counts of one route (or of requests without one), one worker.
struct RouteTiming {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> incomplete{0};  // the response did not reach the output whole
  std::array<std::atomic<uint64_t>, kStatusCodes> status{};  // by code - 100
  std::atomic<uint64_t> no_status{0};   // ended before any status was sent
  std::array<std::atomic<uint64_t>, kGatewayErrorKinds> errors{};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  LatencyHistogram total;     // request head parsed -> response queued whole
  LatencyHistogram upstream;  // request handed to the upstream -> backend response head
};

// Backend outcomes of one upstream, one worker (passive health).
struct UpstreamTiming {
  std::atomic<uint64_t> requests{0};
  std::array<std::atomic<uint64_t>, kGatewayErrorKinds> errors{};
  std::atomic<int64_t> last_ok_ns{0};     // steady_clock, since its epoch; 0: never
  std::atomic<int64_t> last_error_ns{0};
  std::atomic<uint8_t> last_error{0};     // GatewayError
};

struct RouteTimingTotals {
  uint64_t requests = 0;
  uint64_t incomplete = 0;
  std::array<uint64_t, kStatusCodes> status{};
  uint64_t no_status = 0;
  std::array<uint64_t, kGatewayErrorKinds> errors{};
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  HistogramTotals total;
  HistogramTotals upstream;

  void add(const RouteTimingTotals& other);
  // Requests by status class: [0] 1xx ... [4] 5xx.
  std::array<uint64_t, 5> statusClasses() const;
};

struct UpstreamTimingTotals {
  uint64_t requests = 0;
  std::array<uint64_t, kGatewayErrorKinds> errors{};
  int64_t last_ok_ns = 0;
  int64_t last_error_ns = 0;
  GatewayError last_error = GatewayError::None;
};

struct TimingTotals {
  std::map<std::string, RouteTimingTotals> routes;  // by route name
  RouteTimingTotals unrouted;                       // requests that never had a route
  std::map<std::string, UpstreamTimingTotals> upstreams;
};

class TimingStats {
 public:
  TimingStats();
  TimingStats(const TimingStats&) = delete;
  TimingStats& operator=(const TimingStats&) = delete;

  // Stable ids, created on first sight of a name (config load; any thread).
  uint32_t routeId(const std::string& name);
  uint32_t upstreamId(const std::string& name);

  // The calling thread's counters (created on first use; stable afterwards). Hot path: one
  // thread-local compare and a vector index once warm.
  RouteTiming& route(uint32_t id) { return *slab().route(id); }
  RouteTiming& unrouted() { return *slab().route(kUnrouted); }
  UpstreamTiming& upstream(uint32_t id) { return *slab().upstream(id); }

  TimingTotals merged() const;

 private:
  static constexpr uint32_t kUnrouted = 0;

  struct Slab {
    std::mutex mutex;  // guards the vectors' shape against readers; the owner reads without it
    std::vector<std::unique_ptr<RouteTiming>> routes;
    std::vector<std::unique_ptr<UpstreamTiming>> upstreams;
    RouteTiming* route(uint32_t id) {
      if (id < routes.size() && routes[id]) return routes[id].get();
      return grow(routes, id);
    }
    UpstreamTiming* upstream(uint32_t id) {
      if (id < upstreams.size() && upstreams[id]) return upstreams[id].get();
      return grow(upstreams, id);
    }
    template <typename T>
    T* grow(std::vector<std::unique_ptr<T>>& v, uint32_t id);
  };
  Slab& slab() { return slabs_.local(); }

  mutable std::mutex mutex_;  // guards the name tables
  std::vector<std::string> route_names_;  // by id; [0] is the unrouted bucket
  std::vector<std::string> upstream_names_;
  ThreadSlabs<Slab> slabs_;
};

}  // namespace perfgate
