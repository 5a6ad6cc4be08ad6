#include "filters/timing/timing_stats.h"

#include <algorithm>

namespace perfgate {
namespace {

void addTotals(RouteTimingTotals& t, const RouteTiming& c) {
  t.requests += c.requests.load(std::memory_order_relaxed);
  t.incomplete += c.incomplete.load(std::memory_order_relaxed);
  for (size_t m = 0; m < kMethodKinds; ++m) {
    for (size_t i = 0; i < kStatusCodes; ++i) {
      uint64_t n = c.status[m][i].load(std::memory_order_relaxed);
      t.by_method[m][i] += n;
      t.status[i] += n;
    }
    uint64_t none = c.no_status[m].load(std::memory_order_relaxed);
    t.no_status_by_method[m] += none;
    t.no_status += none;
  }
  for (size_t i = 0; i < kGatewayErrorKinds; ++i) t.errors[i] += c.errors[i].load(std::memory_order_relaxed);
  t.bytes_in += c.bytes_in.load(std::memory_order_relaxed);
  t.bytes_out += c.bytes_out.load(std::memory_order_relaxed);
  t.total.add(c.total);
  t.upstream.add(c.upstream);
}

uint32_t idOf(std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return static_cast<uint32_t>(it - names.begin());
  names.push_back(name);
  return static_cast<uint32_t>(names.size() - 1);
}

}  // namespace

MethodKind methodKind(std::string_view method) {
  switch (method.size()) {
    case 3:
      if (method == "GET") return MethodKind::Get;
      if (method == "PUT") return MethodKind::Put;
      break;
    case 4:
      if (method == "HEAD") return MethodKind::Head;
      if (method == "POST") return MethodKind::Post;
      break;
    case 5:
      if (method == "PATCH") return MethodKind::Patch;
      break;
    case 6:
      if (method == "DELETE") return MethodKind::Delete;
      break;
    case 7:
      if (method == "OPTIONS") return MethodKind::Options;
      break;
  }
  return MethodKind::Other;
}

const char* methodLabel(MethodKind kind) {
  static const char* const kLabels[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"};
  return kLabels[static_cast<size_t>(kind) < kMethodKinds ? static_cast<size_t>(kind) : kMethodKinds - 1];
}

void RouteTimingTotals::add(const RouteTimingTotals& o) {
  requests += o.requests;
  incomplete += o.incomplete;
  for (size_t i = 0; i < kStatusCodes; ++i) status[i] += o.status[i];
  for (size_t m = 0; m < kMethodKinds; ++m) {
    for (size_t i = 0; i < kStatusCodes; ++i) by_method[m][i] += o.by_method[m][i];
    no_status_by_method[m] += o.no_status_by_method[m];
  }
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

RouteTiming* TimingStats::Slab::grow(uint32_t id) {
  std::lock_guard<std::mutex> lock(mutex);
  if (id >= routes.size()) routes.resize(id + 1);
  if (!routes[id]) routes[id] = std::make_unique<RouteTiming>();
  return routes[id].get();
}

TimingTotals TimingStats::merged() const {
  std::vector<std::string> route_names;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    route_names = route_names_;
  }
  TimingTotals totals;
  slabs_.forEach([&](Slab& slab) {
    std::lock_guard<std::mutex> lock(slab.mutex);
    for (size_t id = 0; id < slab.routes.size() && id < route_names.size(); ++id) {
      if (!slab.routes[id]) continue;
      addTotals(id == kUnrouted ? totals.unrouted : totals.routes[route_names[id]], *slab.routes[id]);
    }
  });
  return totals;
}

}  // namespace perfgate
