#include "filters/tracing/tracing_filter.h"

#include <chrono>

#include "filters/tracing/trace_context.h"
#include "gateway/config/config.h"
#include "gateway/random.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {
namespace {

struct TraceState final : FilterState {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  std::array<uint8_t, 8> parent_id{};
  uint8_t flags = 0;
  bool recorded() const { return (flags & 1) != 0; }
};

int64_t unixNanos(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

FilterAction TracingFilter::onRequest(Exchange& exchange, size_t index) const {
  std::unique_ptr<FilterState>& slot = exchange.state(index);
  if (slot != nullptr || exchange.notes().background) return FilterAction::Continue;  // resumed; or no client
  auto state = std::make_unique<TraceState>();
  std::optional<std::string_view> header = exchange.request().header("traceparent");
  std::optional<TraceParent> parent = header ? parseTraceparent(*header) : std::nullopt;
  if (parent) {
    state->trace_id = parent->trace_id;
    state->parent_id = parent->parent_id;
    state->flags = parent->flags;
  } else {
    state->trace_id = newTraceId();
    unsigned percent = exporter_->config().sample_percent;
    state->flags = percent >= 100 || (percent > 0 && randomBits() % 100 < percent) ? 1 : 0;
  }
  state->span_id = newSpanId();
  slot = std::move(state);
  return FilterAction::Continue;
}

void TracingFilter::onUpstreamRequest(Exchange& exchange, size_t index, UpstreamRequest& request) const {
  auto* state = static_cast<TraceState*>(exchange.state(index).get());
  if (state == nullptr) return;
  // This span is the backend's parent; the flags go on as they were decided.
  request.headers.set("traceparent", formatTraceparent(state->trace_id, state->span_id, state->flags));
}

void TracingFilter::onComplete(Exchange& exchange, size_t index, bool) const {
  auto* state = static_cast<TraceState*>(exchange.state(index).get());
  if (state == nullptr || !state->recorded()) return;
  ExchangeFacts facts = exchange.facts();
  const RequestHead& request = exchange.request();
  // The facts' times are steady-clock: placed on the wall clock by their distance from now.
  auto steady_now = ExchangeFacts::Clock::now();
  auto wall_now = std::chrono::system_clock::now();
  auto wall = [&](ExchangeFacts::Clock::time_point t) {
    return unixNanos(wall_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(steady_now - t));
  };
  SpanRecord span;
  span.trace_id = state->trace_id;
  span.span_id = state->span_id;
  span.parent_id = state->parent_id;
  span.start_unix_ns = wall(facts.started);
  span.end_unix_ns = facts.finished != ExchangeFacts::Clock::time_point() ? wall(facts.finished) : unixNanos(wall_now);
  span.method = request.method;
  span.route = exchange.route().name;
  span.path = request.path;
  span.host = request.host;
  span.client = facts.client;
  if (exchange.notes().cache_verdict != nullptr) span.cache = exchange.notes().cache_verdict;
  span.request_id = facts.request_id;
  span.status = facts.status;
  if (facts.upstream_started != ExchangeFacts::Clock::time_point() &&
      facts.upstream_headers != ExchangeFacts::Clock::time_point()) {
    span.upstream = exchange.route().upstream;
    span.upstream_ms =
        std::chrono::duration<double, std::milli>(facts.upstream_headers - facts.upstream_started).count();
  }
  span.error = facts.status >= 500 || facts.status == 0 || facts.error != GatewayError::None;
  exporter_->add(std::move(span));
}

}  // namespace perfgate
