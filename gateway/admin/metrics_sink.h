// Where the core and the modules report their figures, each figure once: its Prometheus family
// and labels, and where the JSON views put the same value. The Prometheus text of GET /metrics
// and the JSON of the admin API (/api/monitoring/metrics, /api/cache/stats, ...) and of the
// metrics file are all rendered from one pass of reports over a sink.
//
// A JSON place is "view:path", e.g. "metrics:routes.{route}.codes.{code}": the view names the
// document ("metrics", "cache", "system"), the dotted path the place in it, and "{label}"
// stands for that label's value in this report.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace perfgate {

struct MetricFamily {
  const char* name;  // "perfgate_requests_total"
  const char* type;  // "counter", "gauge" or "histogram"
  const char* help;
};

struct Label {
  std::string_view name;
  std::string_view value;
};
using Labels = std::initializer_list<Label>;

// A histogram as Prometheus counts it: cumulative counts at upper bounds (seconds).
struct HistogramSample {
  std::vector<std::pair<double, uint64_t>> buckets;  // (le, count of values <= le), ascending
  uint64_t count = 0;
  double sum = 0;  // seconds
};

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  // A counter or gauge sample; `json` ("view:path", may be empty) is where the JSON views put it.
  virtual void sample(const MetricFamily& family, Labels labels, uint64_t value, std::string_view json = {}) = 0;
  virtual void sample(const MetricFamily& family, Labels labels, double value, std::string_view json = {}) = 0;
  virtual void histogram(const MetricFamily& family, Labels labels, const HistogramSample& histogram) = 0;
  // A figure only the JSON views carry (a ratio, quantiles, a state object).
  virtual void json(std::string_view place, Labels labels, nlohmann::json value) = 0;
};

// Renders the Prometheus text exposition (format 0.0.4): each family's HELP and TYPE once, its
// samples together, families in the order first reported.
class PrometheusSink final : public MetricsSink {
 public:
  void sample(const MetricFamily& family, Labels labels, uint64_t value, std::string_view json = {}) override;
  void sample(const MetricFamily& family, Labels labels, double value, std::string_view json = {}) override;
  void histogram(const MetricFamily& family, Labels labels, const HistogramSample& histogram) override;
  void json(std::string_view, Labels, nlohmann::json) override {}
  std::string text() const;

 private:
  std::string& lines(const MetricFamily& family);
  void line(const MetricFamily& family, std::string_view suffix, const std::string& labels, const std::string& value);

  std::vector<std::pair<std::string, std::string>> families_;  // name -> header and samples
};

// Builds the JSON views (the document of each view name).
class JsonSink final : public MetricsSink {
 public:
  void sample(const MetricFamily&, Labels labels, uint64_t value, std::string_view json = {}) override;
  void sample(const MetricFamily&, Labels labels, double value, std::string_view json = {}) override;
  void histogram(const MetricFamily&, Labels, const HistogramSample&) override {}
  void json(std::string_view place, Labels labels, nlohmann::json value) override;
  // The document of `view` (an empty object when nothing was reported to it).
  nlohmann::json view(std::string_view name) const;

 private:
  std::map<std::string, nlohmann::json, std::less<>> views_;
};

// Prometheus label value escaping (text format 0.0.4): backslash, double quote, newline.
std::string escapeLabel(std::string_view value);

}  // namespace perfgate
