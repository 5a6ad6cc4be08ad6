#include "gateway/upstream/upstream_stats.h"

#include <memory>
#include <mutex>
#include <unordered_map>

#include "gateway/thread_slabs.h"

namespace perfgate {
namespace {

struct Slab {
  std::mutex mutex;  // guards the map's shape (a new upstream), not the counters
  std::unordered_map<std::string, std::unique_ptr<UpstreamCounters>> upstreams;
};

ThreadSlabs<Slab>& slabs() {
  static ThreadSlabs<Slab> all;
  return all;
}

}  // namespace

const char* upstreamCloseName(UpstreamClose reason) {
  switch (reason) {
    case UpstreamClose::Overrun: return "overrun";
    case UpstreamClose::BodilessLength: return "bodiless_with_length";
    case UpstreamClose::Unsolicited: return "unsolicited_bytes";
    case UpstreamClose::kCount: break;
  }
  return "unknown";
}

UpstreamCounters& upstreamCounters(const std::string& name) {
  Slab& slab = slabs().local();
  std::lock_guard<std::mutex> lock(slab.mutex);
  std::unique_ptr<UpstreamCounters>& counters = slab.upstreams[name];
  if (counters == nullptr) counters = std::make_unique<UpstreamCounters>();
  return *counters;
}

std::map<std::string, UpstreamTotals> upstreamTotals() {
  std::map<std::string, UpstreamTotals> totals;
  slabs().forEach([&](Slab& slab) {
    std::lock_guard<std::mutex> lock(slab.mutex);
    for (const auto& [name, c] : slab.upstreams) {
      UpstreamTotals& t = totals[name];
      t.requests += c->requests.load(std::memory_order_relaxed);
      for (size_t i = 0; i < kGatewayErrorKinds; ++i) t.errors[i] += c->errors[i].load(std::memory_order_relaxed);
      for (size_t i = 0; i < kUpstreamCloseReasons; ++i) t.closed[i] += c->closed[i].load(std::memory_order_relaxed);
      for (size_t i = 0; i < kUpstreamLatencyBuckets; ++i) t.latency[i] += c->latency[i].load(std::memory_order_relaxed);
      t.latency_sum_ns += c->latency_sum_ns.load(std::memory_order_relaxed);
      t.open += c->open.load(std::memory_order_relaxed);
      t.idle += c->idle.load(std::memory_order_relaxed);
      t.queued += c->queued.load(std::memory_order_relaxed);
      int64_t ok = c->last_ok_ns.load(std::memory_order_relaxed);
      int64_t error = c->last_error_ns.load(std::memory_order_relaxed);
      if (ok > t.last_ok_ns) t.last_ok_ns = ok;
      if (error > t.last_error_ns) {
        t.last_error_ns = error;
        t.last_error = static_cast<GatewayError>(c->last_error.load(std::memory_order_relaxed));
      }
    }
  });
  return totals;
}

void recordUpstreamExchange(UpstreamCounters& counters, GatewayError error, std::chrono::steady_clock::time_point started,
                            std::chrono::steady_clock::time_point headers, std::chrono::steady_clock::time_point ended) {
  auto ns = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  UpstreamCounters::bump(counters.requests);
  bool upstream_error = error == GatewayError::UpstreamTimeout || error == GatewayError::UpstreamRefused ||
                        error == GatewayError::UpstreamReset || error == GatewayError::UpstreamParse ||
                        error == GatewayError::UpstreamOther;
  if (upstream_error) {
    UpstreamCounters::bump(counters.errors[static_cast<size_t>(error)]);
    counters.last_error_ns.store(ns(ended), std::memory_order_relaxed);
    counters.last_error.store(static_cast<uint8_t>(error), std::memory_order_relaxed);
  } else if (headers != std::chrono::steady_clock::time_point()) {
    counters.last_ok_ns.store(ns(headers), std::memory_order_relaxed);
  }
  if (headers != std::chrono::steady_clock::time_point() && headers >= started) {
    int64_t took = ns(headers) - ns(started);
    double seconds = static_cast<double>(took) / 1e9;
    size_t bucket = 0;
    while (bucket < std::size(kUpstreamLatencyBounds) && seconds > kUpstreamLatencyBounds[bucket]) ++bucket;
    UpstreamCounters::bump(counters.latency[bucket]);
    counters.latency_sum_ns.store(counters.latency_sum_ns.load(std::memory_order_relaxed) + static_cast<uint64_t>(took),
                                  std::memory_order_relaxed);
  }
}

}  // namespace perfgate
