// Per-route request counters and latency histograms, kept per worker thread and
// merged when read (same scheme as the cache's counters, CacheStats): a worker only ever writes
// its own slab, through single-writer relaxed atomics (latency_histogram.h explains the memory
// ordering), so the request path takes no lock and shares no cache line. Routes are numbered once,
// by name, when a config snapshot is built; the request path indexes a vector.
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

inline constexpr int kLowestStatus = 100;
inline constexpr size_t kStatusCodes = 500;  // 100..599

// Request methods as the metrics label them; anything else is "other".
enum class MethodKind : uint8_t { Get, Head, Post, Put, Delete, Patch, Options, Other, kCount };
inline constexpr size_t kMethodKinds = static_cast<size_t>(MethodKind::kCount);
MethodKind methodKind(std::string_view method);
const char* methodLabel(MethodKind kind);  // "GET", ..., "other"

// Counts of one route (or of requests without one), one worker.
struct RouteTiming {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> incomplete{0};  // the response did not reach the output whole
  // By method, then code - 100.
  std::array<std::array<std::atomic<uint64_t>, kStatusCodes>, kMethodKinds> status{};
  std::array<std::atomic<uint64_t>, kMethodKinds> no_status{};  // ended before any status was sent
  std::array<std::atomic<uint64_t>, kGatewayErrorKinds> errors{};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  LatencyHistogram total;     // request head parsed -> response queued whole
  LatencyHistogram upstream;  // request handed to the upstream -> backend response head
};

struct RouteTimingTotals {
  uint64_t requests = 0;
  uint64_t incomplete = 0;
  std::array<uint64_t, kStatusCodes> status{};  // by code - 100, every method
  std::array<std::array<uint64_t, kStatusCodes>, kMethodKinds> by_method{};
  uint64_t no_status = 0;
  std::array<uint64_t, kMethodKinds> no_status_by_method{};
  std::array<uint64_t, kGatewayErrorKinds> errors{};
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  HistogramTotals total;
  HistogramTotals upstream;

  void add(const RouteTimingTotals& other);
  // Requests by status class: [0] 1xx ... [4] 5xx.
  std::array<uint64_t, 5> statusClasses() const;
};

struct TimingTotals {
  std::map<std::string, RouteTimingTotals> routes;  // by route name
  RouteTimingTotals unrouted;                       // requests that never had a route
};

class TimingStats {
 public:
  TimingStats();
  TimingStats(const TimingStats&) = delete;
  TimingStats& operator=(const TimingStats&) = delete;

  // Stable ids, created on first sight of a name (config load; any thread).
  uint32_t routeId(const std::string& name);

  // The calling thread's counters (created on first use; stable afterwards). Hot path: one
  // thread-local compare and a vector index once warm.
  RouteTiming& route(uint32_t id) { return *slab().route(id); }
  RouteTiming& unrouted() { return *slab().route(kUnrouted); }

  TimingTotals merged() const;

 private:
  static constexpr uint32_t kUnrouted = 0;

  struct Slab {
    std::mutex mutex;  // guards the vectors' shape against readers; the owner reads without it
    std::vector<std::unique_ptr<RouteTiming>> routes;
    RouteTiming* route(uint32_t id) {
      if (id < routes.size() && routes[id]) return routes[id].get();
      return grow(id);
    }
    RouteTiming* grow(uint32_t id);
  };
  Slab& slab() { return slabs_.local(); }

  mutable std::mutex mutex_;  // guards the name tables
  std::vector<std::string> route_names_;  // by id; [0] is the unrouted bucket
  ThreadSlabs<Slab> slabs_;
};

}  // namespace perfgate
