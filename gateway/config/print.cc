#include "gateway/config/print.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

namespace perfgate {
namespace {

// A bare TOML key (A-Za-z0-9_-), or a quoted one.
std::string tomlKey(std::string_view key) {
  bool bare = !key.empty();
  for (char c : key) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    bare = bare && ok;
  }
  return bare ? std::string(key) : tomlQuote(key);
}

void printKeys(const SectionSpec& spec, const void* owner, std::string& out) {
  for (const KeySpec& key : spec.keys) {
    std::optional<std::string> value = key.print(owner);
    if (!value) {
      out += "# " + key.name + ": not set\n";
      continue;
    }
    if (value->empty()) continue;  // does not apply here
    out += tomlKey(key.name) + " = " + *value;
    if (!key.note.empty()) out += "  # " + key.note;
    out += "\n";
  }
}

// The owner struct of `spec` in `config` (for a route or upstream: in `route` / `upstream`).
const void* ownerOf(const SectionSpec& spec, const Config& config, const UpstreamConfig* upstream,
                    const RouteConfig* route) {
  if (spec.member) {
    return spec.member(const_cast<Config&>(config), const_cast<UpstreamConfig*>(upstream),
                       const_cast<RouteConfig*>(route));
  }
  if (spec.scope == Scope::Route) return route->module_settings.at(spec.slot).get();
  return config.module_sections.at(spec.slot).get();
}

}  // namespace

std::string tomlQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04X", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string printSize(uint64_t bytes) {
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  for (const auto& [unit, scale] : kUnits) {
    if (bytes != 0 && bytes % scale == 0) return tomlQuote(std::to_string(bytes / scale) + unit);
  }
  // TOML integers are signed 64-bit; larger sizes stay strings, which the loader also reads.
  if (bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return tomlQuote(std::to_string(bytes));
  return std::to_string(bytes);
}

std::string printDuration(Millis value) {
  static const std::pair<const char*, int64_t> kUnits[] = {{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}};
  int64_t ms = value.count();
  for (const auto& [unit, scale] : kUnits) {
    if (ms != 0 && ms % scale == 0) return tomlQuote(std::to_string(ms / scale) + unit);
  }
  return tomlQuote(std::to_string(ms) + "ms");
}

std::string printConfig(const Config& config) {
  std::string out = "# perfgate " PERFGATE_VERSION " effective configuration (";
  out += config.source.empty() ? "drop-in: --upstream" : "from " + config.source;
  out += "), defaults filled in.\n";
  const std::vector<SectionSpec>& sections = configSchema().sections();
  std::vector<std::string> printed;
  for (const SectionSpec& first : sections) {
    if (first.scope != Scope::Global ||
        std::find(printed.begin(), printed.end(), first.name) != printed.end()) {
      continue;
    }
    printed.push_back(first.name);
    out += "\n[" + first.name + "]\n";
    for (const SectionSpec& spec : sections) {
      if (spec.scope == Scope::Global && spec.name == first.name) printKeys(spec, ownerOf(spec, config, nullptr, nullptr), out);
    }
  }
  for (const UpstreamConfig& upstream : config.upstreams) {
    out += "\n[upstream." + tomlKey(upstream.name) + "]\n";
    for (const SectionSpec& spec : sections) {
      if (spec.scope == Scope::Upstream) printKeys(spec, ownerOf(spec, config, &upstream, nullptr), out);
    }
  }
  for (const RouteConfig& route : config.routes) {
    out += "\n[[route]]\n";
    for (const SectionSpec& spec : sections) {
      if (spec.scope == Scope::Route) printKeys(spec, ownerOf(spec, config, nullptr, &route), out);
    }
  }
  return out;
}

}  // namespace perfgate
