#include "filters/timing/timing_stats.h"

#include <algorithm>

namespace perfgate {
namespace {


void addTotals(RouteTimingTotals& t, const RouteTiming& c) {
  t.requests += c.requests.load(std::memory_order_relaxed);
  t.incomplete += c.incomplete.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kStatusCodes; ++i) t.status[i] += c.status[i].load(std::memory_order_relaxed);
  t.no_status += c.no_status.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kGatewayErrorKinds; ++i) t.errors[i] += c.errors[i].load(std::memory_order_relaxed);
  t.bytes_in += c.bytes_in.load(std::memory_order_relaxed);
  t.bytes_out += c.bytes_out.load(std::memory_order_relaxed);
  t.total.add(c.total);
  t.upstream.add(c.upstream);
}

void addTotals(UpstreamTimingTotals& t, const UpstreamTiming& c) {
  t.requests += c.requests.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kGatewayErrorKinds; ++i) t.errors[i] += c.errors[i].load(std::memory_order_relaxed);
  t.last_ok_ns = std::max(t.last_ok_ns, c.last_ok_ns.load(std::memory_order_relaxed));
  int64_t last_error = c.last_error_ns.load(std::memory_order_relaxed);
  if (last_error > t.last_error_ns) {
    t.last_error_ns = last_error;
    t.last_error = static_cast<GatewayError>(c.last_error.load(std::memory_order_relaxed));
  }
}

uint32_t idOf(std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return static_cast<uint32_t>(it - names.begin());
  names.push_back(name);
  return static_cast<uint32_t>(names.size() - 1);
}

}  // namespace

const char* gatewayErrorName(GatewayError kind) {
  switch (kind) {
    case GatewayError::None: return "";
    case GatewayError::UpstreamTimeout: return "timeout";
    case GatewayError::UpstreamRefused: return "refused";
    case GatewayError::UpstreamReset: return "reset";
    case GatewayError::UpstreamParse: return "parse";
    case GatewayError::UpstreamOther: return "upstream_other";
    case GatewayError::ClientTimeout: return "client_timeout";
    case GatewayError::ClientRejected: return "client_rejected";
    case GatewayError::kCount: break;
  }
  return "unknown";
}

void RouteTimingTotals::add(const RouteTimingTotals& o) {
  requests += o.requests;
  incomplete += o.incomplete;
  for (size_t i = 0; i < kStatusCodes; ++i) status[i] += o.status[i];
  no_status += o.no_status;
  for (size_t i = 0; i < kGatewayErrorKinds; ++i) errors[i] += o.errors[i];
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  total.add(o.total);
  upstream.add(o.upstream);
}

std::array<uint64_t, 5> RouteTimingTotals::statusClasses() const {
  std::array<uint64_t, 5> classes{};
  for (size_t i = 0; i < kStatusCodes; ++i) classes[i / 100] += status[i];
  return classes;
}

TimingStats::TimingStats() : route_names_{""} {}

uint32_t TimingStats::routeId(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (name.empty()) return kUnrouted;
  return idOf(route_names_, name);
}

uint32_t TimingStats::upstreamId(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  return idOf(upstream_names_, name);
}

template <typename T>
T* TimingStats::Slab::grow(std::vector<std::unique_ptr<T>>& v, uint32_t id) {
  std::lock_guard<std::mutex> lock(mutex);
  if (id >= v.size()) v.resize(id + 1);
  if (!v[id]) v[id] = std::make_unique<T>();
  return v[id].get();
}
template RouteTiming* TimingStats::Slab::grow(std::vector<std::unique_ptr<RouteTiming>>&, uint32_t);
template UpstreamTiming* TimingStats::Slab::grow(std::vector<std::unique_ptr<UpstreamTiming>>&, uint32_t);

TimingTotals TimingStats::merged() const {
  std::vector<std::string> route_names;
  std::vector<std::string> upstream_names;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    route_names = route_names_;
    upstream_names = upstream_names_;
  }
  TimingTotals totals;
  slabs_.forEach([&](Slab& slab) {
    std::lock_guard<std::mutex> lock(slab.mutex);
    for (size_t id = 0; id < slab.routes.size() && id < route_names.size(); ++id) {
      if (!slab.routes[id]) continue;
      addTotals(id == kUnrouted ? totals.unrouted : totals.routes[route_names[id]], *slab.routes[id]);
    }
    for (size_t id = 0; id < slab.upstreams.size() && id < upstream_names.size(); ++id) {
      if (slab.upstreams[id]) addTotals(totals.upstreams[upstream_names[id]], *slab.upstreams[id]);
    }
  });
  return totals;
}

}  // namespace perfgate
