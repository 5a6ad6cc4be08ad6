#include "filters/timing/timing_module.h"

#include <algorithm>

#include "filters/timing/timing_filter.h"

namespace perfgate {
namespace {

constexpr const char* kUnroutedLabel = "_unrouted";
const char* const kClassNames[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

// Bucket bounds (seconds) of the Prometheus histograms: a fine bucket is counted under the
// smallest bound at or above its upper edge (see HistogramTotals::countAtOrBelow).
constexpr double kPrometheusBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};

const MetricFamily kRequests{"perfgate_requests_total", "counter",
                             "Requests answered, by route, method and status code (code \"none\": ended before a status was "
                             "sent)."};
const MetricFamily kErrors{"perfgate_gateway_errors_total", "counter",
                           "Errors the gateway answered or cut short itself, by route and kind."};
const MetricFamily kBytesIn{"perfgate_request_body_bytes_total", "counter", "Request body bytes received, by route."};
const MetricFamily kBytesOut{"perfgate_response_body_bytes_total", "counter", "Response body bytes sent, by route."};
const MetricFamily kDuration{"perfgate_request_duration_seconds", "histogram",
                             "Time from the parsed request head to the whole response queued, by route."};
const MetricFamily kUpstreamDuration{"perfgate_upstream_duration_seconds", "histogram",
                                     "Time from handing a request to the backend to its response head, by route."};

nlohmann::json latencyJson(const HistogramTotals& h) {
  auto ms = [](double ns) { return ns / 1e6; };
  return {{"count", h.count},
          {"mean", ms(h.meanNs())},
          {"p50", ms(h.quantile(0.50))},
          {"p90", ms(h.quantile(0.90))},
          {"p99", ms(h.quantile(0.99))},
          {"p99.9", ms(h.quantile(0.999))},
          {"max", ms(static_cast<double>(h.max_ns))}};
}

HistogramSample prometheusHistogram(const HistogramTotals& h) {
  HistogramSample out;
  for (double bound : kPrometheusBounds) {
    auto ns = static_cast<uint64_t>(bound * 1e9 + 0.5);
    out.buckets.emplace_back(bound, h.countAtOrBelow(ns));
  }
  out.count = h.count;
  out.sum = static_cast<double>(h.sum_ns) / 1e9;
  return out;
}

// One route's figures (or the unrouted bucket's, or the sum's) under `place` (a JSON place that
// may say "{route}"); Prometheus samples too when `prometheus`, labelled with `route`.
void report(MetricsSink& sink, const RouteTimingTotals& t, std::string_view route, const std::string& place,
            bool prometheus, bool with_latency) {
  Labels labels = {{"route", route}};
  auto at = [&](const char* key) { return place + "." + key; };
  // A counter both in Prometheus (when asked) and at its JSON place.
  auto counter = [&](const MetricFamily& family, Label label, uint64_t value, const std::string& json) {
    if (prometheus) {
      sink.sample(family, {{"route", route}, label}, value, json);
    } else {
      sink.json(json, {{"route", route}, label}, value);
    }
  };
  sink.json(at("codes"), labels, nlohmann::json::object());  // present even when empty
  for (size_t i = 0; i < kStatusCodes; ++i) {
    if (t.status[i] != 0) sink.json(at("codes.{code}"), {{"route", route}, {"code", std::to_string(i + kLowestStatus)}}, t.status[i]);
  }
  if (prometheus) {  // by method and code
    for (size_t m = 0; m < kMethodKinds; ++m) {
      const char* method = methodLabel(static_cast<MethodKind>(m));
      for (size_t i = 0; i < kStatusCodes; ++i) {
        if (t.by_method[m][i] == 0) continue;
        sink.sample(kRequests, {{"route", route}, {"method", method}, {"code", std::to_string(i + kLowestStatus)}},
                    t.by_method[m][i]);
      }
      if (t.no_status_by_method[m] != 0) {
        sink.sample(kRequests, {{"route", route}, {"method", method}, {"code", "none"}}, t.no_status_by_method[m]);
      }
    }
  }
  for (size_t i = 1; i < kGatewayErrorKinds; ++i) {
    counter(kErrors, {"kind", gatewayErrorName(static_cast<GatewayError>(i))}, t.errors[i], at("errors.{kind}"));
  }
  if (prometheus) {
    sink.sample(kBytesIn, labels, t.bytes_in, at("bytes.in"));
    sink.sample(kBytesOut, labels, t.bytes_out, at("bytes.out"));
  } else {
    sink.json(at("bytes.in"), labels, t.bytes_in);
    sink.json(at("bytes.out"), labels, t.bytes_out);
  }
  sink.json(at("requests"), labels, t.requests);
  sink.json(at("incomplete"), labels, t.incomplete);
  sink.json(at("no_status"), labels, t.no_status);
  std::array<uint64_t, 5> classes = t.statusClasses();
  for (size_t i = 0; i < classes.size(); ++i) {
    sink.json(at("status.{class}"), {{"route", route}, {"class", kClassNames[i]}}, classes[i]);
  }
  if (with_latency) {
    sink.json(at("latency_ms.total"), labels, latencyJson(t.total));
    sink.json(at("latency_ms.upstream"), labels, latencyJson(t.upstream));
  }
}

}  // namespace

std::shared_ptr<const Filter> TimingModule::makeFilter(const std::shared_ptr<const Config>& config) {
  config_ = config;
  if (!config->metrics.enabled) return nullptr;  // no timing: no per-request cost at all
  return std::make_shared<TimingFilter>(stats_, config);
}

void TimingModule::registerAdmin(AdminRoutes& routes) {
  routes.add("/api/monitoring/latency", false, kRead, [this](AdminCall& call) { call.replyJson(200, latencyBuckets()); });
}

void TimingModule::collectMetrics(MetricsSink& sink) const {
  TimingTotals timing = stats_->merged();
  bool with_latency = config_->metrics.enabled;
  sink.json("metrics:timing", {}, with_latency);
  RouteTimingTotals global = timing.unrouted;
  for (const RouteConfig& route : config_->routes) {
    const RouteTimingTotals& t = timing.routes[route.name];
    global.add(t);
    report(sink, t, route.name, "metrics:routes.{route}", true, with_latency);
    sink.json("metrics:routes.{route}.upstream", {{"route", route.name}}, route.upstream);
    if (with_latency) {
      sink.histogram(kDuration, {{"route", route.name}}, prometheusHistogram(t.total));
      sink.histogram(kUpstreamDuration, {{"route", route.name}}, prometheusHistogram(t.upstream));
    }
  }
  report(sink, timing.unrouted, kUnroutedLabel, "metrics:unrouted", true, false);
  report(sink, global, "", "metrics:global", false, with_latency);
}

nlohmann::json TimingModule::latencyBuckets() const {
  HistogramTotals all;
  if (config_->metrics.enabled) {
    TimingTotals timing = stats_->merged();
    for (const RouteConfig& route : config_->routes) all.add(timing.routes[route.name].total);
  }
  nlohmann::json buckets = nlohmann::json::array();
  uint64_t count = 0;
  for (size_t i = 0; i < HistogramLayout::kBuckets; ++i) {
    if (all.buckets[i] == 0) continue;
    count += all.buckets[i];
    uint64_t lower = i < HistogramLayout::kTracked ? HistogramLayout::lowerBound(i) : HistogramLayout::kMaxTracked + 1;
    uint64_t upper = i < HistogramLayout::kTracked ? lower + HistogramLayout::width(i) : std::max(all.max_ns, lower) + 1;
    buckets.push_back({lower, upper, all.buckets[i]});
  }
  return {{"timing", config_->metrics.enabled}, {"count", count}, {"buckets", std::move(buckets)}};
}

}  // namespace perfgate
