#include "filters/timing/timing_filter.h"

#include <cstdio>

#include "gateway/http/request_parser.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {
namespace {

using Clock = ExchangeFacts::Clock;

uint64_t nanosBetween(Clock::time_point a, Clock::time_point b) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
  return ns > 0 ? static_cast<uint64_t>(ns) : 0;
}

void count(RouteTiming& t, std::string_view method, const ExchangeFacts& facts, bool complete) {
  singleWriterAdd(t.requests);
  if (!complete) singleWriterAdd(t.incomplete);
  size_t kind = static_cast<size_t>(methodKind(method));
  if (facts.status >= kLowestStatus && facts.status < kLowestStatus + static_cast<int>(kStatusCodes)) {
    singleWriterAdd(t.status[kind][static_cast<size_t>(facts.status - kLowestStatus)]);
  } else {
    singleWriterAdd(t.no_status[kind]);
  }
  if (facts.error != GatewayError::None) singleWriterAdd(t.errors[static_cast<size_t>(facts.error)]);
  if (facts.bytes_in != 0) singleWriterAdd(t.bytes_in, facts.bytes_in);
  if (facts.bytes_out != 0) singleWriterAdd(t.bytes_out, facts.bytes_out);
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
    : stats_(std::move(stats)) {
  for (const RouteConfig& route : config->routes) ids_.push_back(stats_->routeId(route.name));
}

FilterAction TimingFilter::onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const {
  onLocalResponse(exchange, index, head);
  return FilterAction::Continue;
}

void TimingFilter::onLocalResponse(Exchange& exchange, size_t, ResponseHead& head) const {
  if (!exchange.route().settings<TimingRouteSettings>().server_timing) return;
  std::string value = serverTimingValue(head.headers.get("x-cache").value_or(std::string_view()),
                                        upstreamMillis(exchange.facts()));
  if (!value.empty()) head.headers.add("Server-Timing", value);
}

void TimingFilter::onComplete(Exchange& exchange, size_t, bool complete) const {
  size_t index = exchange.route().index;
  if (index >= ids_.size() || exchange.notes().background) return;  // a refresh: no client's request
  ExchangeFacts facts = exchange.facts();
  RouteTiming& t = stats_->route(ids_[index]);
  count(t, exchange.request().method, facts, complete);
  if (facts.finished != Clock::time_point()) t.total.record(nanosBetween(facts.started, facts.finished));
  if (facts.upstream_started != Clock::time_point() && facts.upstream_headers != Clock::time_point()) {
    t.upstream.record(nanosBetween(facts.upstream_started, facts.upstream_headers));
  }
}

void TimingFilter::onUnrouted(const RequestHead* request, const ExchangeFacts& facts) const {
  count(stats_->unrouted(), request != nullptr ? std::string_view(request->method) : std::string_view(), facts, true);
}

}  // namespace perfgate
