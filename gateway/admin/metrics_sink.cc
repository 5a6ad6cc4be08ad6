#include "gateway/admin/metrics_sink.h"

#include <charconv>

namespace perfgate {
namespace {

// The shortest text that reads back as `v` ("0.0025", not "0.0025000000000000001").
std::string number(double v) {
  char text[64];
  auto [end, ec] = std::to_chars(text, text + sizeof text, v);
  return ec == std::errc() ? std::string(text, end) : "NaN";
}

std::string labelText(Labels labels, std::string_view extra = {}) {
  std::string out;
  for (const Label& l : labels) {
    if (!out.empty()) out.push_back(',');
    out.append(l.name);
    out.append("=\"");
    out.append(escapeLabel(l.value));
    out.push_back('"');
  }
  if (!extra.empty()) {
    if (!out.empty()) out.push_back(',');
    out.append(extra);
  }
  return out;
}

}  // namespace

std::string escapeLabel(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string& PrometheusSink::lines(const MetricFamily& family) {
  for (auto& [name, text] : families_) {
    if (name == family.name) return text;
  }
  std::string header = std::string("# HELP ") + family.name + " " + family.help + "\n# TYPE " + family.name + " " +
                       family.type + "\n";
  families_.emplace_back(family.name, std::move(header));
  return families_.back().second;
}

void PrometheusSink::line(const MetricFamily& family, std::string_view suffix, const std::string& labels,
                          const std::string& value) {
  std::string& out = lines(family);
  out.append(family.name);
  out.append(suffix);
  if (!labels.empty()) {
    out.push_back('{');
    out.append(labels);
    out.push_back('}');
  }
  out.push_back(' ');
  out.append(value);
  out.push_back('\n');
}

void PrometheusSink::sample(const MetricFamily& family, Labels labels, uint64_t value, std::string_view) {
  line(family, "", labelText(labels), std::to_string(value));
}

void PrometheusSink::sample(const MetricFamily& family, Labels labels, double value, std::string_view) {
  line(family, "", labelText(labels), number(value));
}

void PrometheusSink::histogram(const MetricFamily& family, Labels labels, const HistogramSample& h) {
  for (const auto& [le, count] : h.buckets) {
    line(family, "_bucket", labelText(labels, "le=\"" + number(le) + "\""), std::to_string(count));
  }
  line(family, "_bucket", labelText(labels, "le=\"+Inf\""), std::to_string(h.count));
  line(family, "_sum", labelText(labels), number(h.sum));
  line(family, "_count", labelText(labels), std::to_string(h.count));
}

std::string PrometheusSink::text() const {
  std::string out;
  for (const auto& [name, text] : families_) out.append(text);
  return out;
}

void JsonSink::sample(const MetricFamily&, Labels labels, uint64_t value, std::string_view place) {
  if (!place.empty()) json(place, labels, value);
}

void JsonSink::sample(const MetricFamily&, Labels labels, double value, std::string_view place) {
  if (!place.empty()) json(place, labels, value);
}

void JsonSink::json(std::string_view place, Labels labels, nlohmann::json value) {
  size_t colon = place.find(':');
  nlohmann::json* at = &views_[std::string(place.substr(0, colon))];
  std::string_view path = place.substr(colon + 1);
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view part = path.substr(0, dot);
    std::string key;
    if (part.size() > 2 && part.front() == '{' && part.back() == '}') {
      for (const Label& l : labels) {
        if (l.name == part.substr(1, part.size() - 2)) key = std::string(l.value);
      }
    } else {
      key = std::string(part);
    }
    at = &(*at)[key];
    path.remove_prefix(dot == std::string_view::npos ? path.size() : dot + 1);
  }
  *at = std::move(value);
}

nlohmann::json JsonSink::view(std::string_view name) const {
  auto it = views_.find(name);
  return it == views_.end() ? nlohmann::json::object() : it->second;
}

}  // namespace perfgate
