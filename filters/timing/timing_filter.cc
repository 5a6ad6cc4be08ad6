#include "filters/timing/timing_filter.h"

#include <cstdio>

#include "gateway/http/request_parser.h"
#include "gateway/upstream.h"

namespace perfgate {
namespace {

using Clock = ExchangeFacts::Clock;

uint64_t nanosBetween(Clock::time_point a, Clock::time_point b) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
  return ns > 0 ? static_cast<uint64_t>(ns) : 0;
}

void count(RouteTiming& t, const ExchangeFacts& facts, bool complete) {
  singleWriterAdd(t.requests);
  if (!complete) singleWriterAdd(t.incomplete);
  if (facts.status >= kLowestStatus && facts.status < kLowestStatus + static_cast<int>(kStatusCodes)) {
    singleWriterAdd(t.status[static_cast<size_t>(facts.status - kLowestStatus)]);
  } else {
    singleWriterAdd(t.no_status);
  }
  if (facts.error != GatewayError::None) singleWriterAdd(t.errors[static_cast<size_t>(facts.error)]);
  if (facts.bytes_in != 0) singleWriterAdd(t.bytes_in, facts.bytes_in);
  if (facts.bytes_out != 0) singleWriterAdd(t.bytes_out, facts.bytes_out);
}

bool isUpstreamError(GatewayError e) {
  return e == GatewayError::UpstreamTimeout || e == GatewayError::UpstreamRefused ||
         e == GatewayError::UpstreamReset || e == GatewayError::UpstreamParse || e == GatewayError::UpstreamOther;
}

double upstreamMillis(const ExchangeFacts& facts) {
  if (facts.upstream_headers == Clock::time_point() || facts.upstream_started == Clock::time_point()) return -1;
  return static_cast<double>(nanosBetween(facts.upstream_started, facts.upstream_headers)) / 1e6;
}

}  // namespace

std::string serverTimingValue(std::string_view cache_verdict, double upstream_ms) {
  std::string value;
  if (!cache_verdict.empty()) {
    value.append("cache;desc=");
    value.append(cache_verdict);
  }
  if (upstream_ms >= 0) {
    char number[32];
    std::snprintf(number, sizeof number, "%.1f", upstream_ms);
    if (!value.empty()) value.append(", ");
    value.append("upstream;dur=");
    value.append(number);
  }
  return value;
}

TimingFilter::TimingFilter(std::shared_ptr<TimingStats> stats, std::shared_ptr<const Config> config)
    : stats_(std::move(stats)), config_(std::move(config)) {
  std::vector<uint32_t> upstream_ids;
  for (const UpstreamConfig& upstream : config_->upstreams) upstream_ids.push_back(stats_->upstreamId(upstream.name));
  for (const RouteConfig& route : config_->routes) {
    ids_.push_back(RouteIds{stats_->routeId(route.name), upstream_ids.at(route.upstream_index)});
  }
}

const TimingFilter::RouteIds* TimingFilter::idsOf(const RouteConfig& route) const {
  // The exchange's route is an element of config_->routes (the same snapshot built this filter).
  auto at = reinterpret_cast<uintptr_t>(&route);
  auto first = reinterpret_cast<uintptr_t>(config_->routes.data());
  if (at < first) return nullptr;
  size_t index = (at - first) / sizeof(RouteConfig);
  return index < ids_.size() ? &ids_[index] : nullptr;
}

FilterAction TimingFilter::onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const {
  onLocalResponse(exchange, index, head);
  return FilterAction::Continue;
}

void TimingFilter::onLocalResponse(Exchange& exchange, size_t, ResponseHead& head) const {
  if (!exchange.route().server_timing) return;
  std::string value = serverTimingValue(head.headers.get("x-cache").value_or(std::string_view()),
                                        upstreamMillis(exchange.facts()));
  if (!value.empty()) head.headers.add("Server-Timing", value);
}

void TimingFilter::onComplete(Exchange& exchange, size_t, bool complete) const {
  const RouteIds* ids = idsOf(exchange.route());
  if (ids == nullptr) return;
  ExchangeFacts facts = exchange.facts();
  RouteTiming& t = stats_->route(ids->route);
  count(t, facts, complete);
  if (facts.finished != Clock::time_point()) t.total.record(nanosBetween(facts.started, facts.finished));
  if (facts.upstream_started == Clock::time_point()) return;  // answered without the backend

  UpstreamTiming& u = stats_->upstream(ids->upstream);
  singleWriterAdd(u.requests);
  if (isUpstreamError(facts.error)) {
    singleWriterAdd(u.errors[static_cast<size_t>(facts.error)]);
    Clock::time_point when = facts.finished != Clock::time_point() ? facts.finished : facts.upstream_started;
    u.last_error_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count(),
                          std::memory_order_relaxed);
    u.last_error.store(static_cast<uint8_t>(facts.error), std::memory_order_relaxed);
  }
  if (facts.upstream_headers != Clock::time_point()) {
    t.upstream.record(nanosBetween(facts.upstream_started, facts.upstream_headers));
    if (!isUpstreamError(facts.error)) {
      u.last_ok_ns.store(
          std::chrono::duration_cast<std::chrono::nanoseconds>(facts.upstream_headers.time_since_epoch()).count(),
          std::memory_order_relaxed);
    }
  }
}

void TimingFilter::onUnrouted(const RequestHead*, const ExchangeFacts& facts) const { count(stats_->unrouted(), facts, true); }

}  // namespace perfgate
