#include "gateway/config_print.h"

#include <cstdint>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

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

// The largest unit that divides the value exactly, as the loader reads it back.
std::string sizeValue(uint64_t bytes) {
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  for (const auto& [unit, scale] : kUnits) {
    if (bytes != 0 && bytes % scale == 0) return tomlQuote(std::to_string(bytes / scale) + unit);
  }
  // TOML integers are signed 64-bit; larger sizes stay strings, which the loader also reads.
  if (bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return tomlQuote(std::to_string(bytes));
  return std::to_string(bytes);
}

std::string durationValue(Millis value) {
  static const std::pair<const char*, int64_t> kUnits[] = {{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}};
  int64_t ms = value.count();
  for (const auto& [unit, scale] : kUnits) {
    if (ms != 0 && ms % scale == 0) return tomlQuote(std::to_string(ms / scale) + unit);
  }
  return tomlQuote(std::to_string(ms) + "ms");
}

// Appends one `key = value` line per call, values formatted the way the loader reads them.
class TomlWriter {
 public:
  explicit TomlWriter(std::string& out) : out_(out) {}

  void table(const std::string& header) { out_ += "\n" + header + "\n"; }
  void string(std::string_view key, std::string_view value, std::string_view note = {}) {
    line(key, tomlQuote(value), note);
  }
  void boolean(std::string_view key, bool value) { line(key, value ? "true" : "false"); }
  void integer(std::string_view key, uint64_t value, std::string_view note = {}) {
    line(key, std::to_string(value), note);
  }
  void size(std::string_view key, uint64_t bytes) { line(key, sizeValue(bytes)); }
  void duration(std::string_view key, Millis value) { line(key, durationValue(value)); }
  // An optional duration; when unset the key is printed as a comment.
  void duration(std::string_view key, const std::optional<Millis>& value) {
    if (value) {
      duration(key, *value);
    } else {
      comment(std::string(key) + ": not set");
    }
  }
  void address(std::string_view key, const ListenAddress& value) { line(key, tomlQuote(value.toString())); }
  void comment(std::string_view text) { out_ += "# " + std::string(text) + "\n"; }
  void strings(std::string_view key, const std::vector<std::string>& values) {
    std::string list = "[";
    for (const std::string& value : values) list += (list.size() > 1 ? ", " : "") + tomlQuote(value);
    line(key, list + "]");
  }

 private:
  void line(std::string_view key, const std::string& value, std::string_view note = {}) {
    out_ += tomlKey(key) + " = " + value;
    if (!note.empty()) out_ += "  # " + std::string(note);
    out_ += "\n";
  }

  std::string& out_;
};

const char* hostHeaderValue(const UpstreamConfig& upstream) {
  switch (upstream.host_mode) {
    case HostHeaderMode::Client: return "client";
    case HostHeaderMode::Upstream: return "upstream";
    case HostHeaderMode::Fixed: return upstream.host_value.c_str();
  }
  return "client";
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

std::string printConfig(const Config& config) {
  std::string out = "# perfgate " PERFGATE_VERSION " effective configuration (";
  out += config.source.empty() ? "drop-in: --upstream" : "from " + config.source;
  out += "), defaults filled in.\n";
  TomlWriter w(out);

  const ServerConfig& server = config.server;
  w.table("[server]");
  w.address("listen", server.listen);
  w.integer("workers", server.workers, "0 = one per core");
  w.integer("max_connections", server.max_connections);
  w.duration("header_timeout", server.header_timeout);
  w.duration("idle_timeout", server.idle_timeout);
  w.duration("request_timeout", server.request_timeout);
  w.duration("send_timeout", server.send_timeout);
  w.duration("drain_timeout", server.drain_timeout);
  w.size("max_request_line", server.max_request_line);
  w.size("max_header_bytes", server.max_header_bytes);
  w.integer("max_headers", server.max_headers);
  w.size("max_body_bytes", server.max_body_bytes);
  w.boolean("merge_slashes", server.merge_slashes);
  w.string("forward_path", server.forward_original_path ? "original" : "normalized");

  w.table("[admin]");
  w.address("listen", config.admin.listen);
  w.string("token", config.admin.token);

  w.table("[log]");
  w.string("level", config.log.level);
  w.string("access_log", config.log.access_log, config.log.access_log.empty() ? "off" : "");

  w.table("[cache]");
  w.size("max_bytes", config.cache.max_bytes);
  w.size("max_object_bytes", config.cache.max_object_bytes);

  const L2Config& l2 = config.cache.l2;
  w.table("[cache.l2]");
  w.string("redis", l2.redis, l2.enabled() ? "" : "off");
  w.duration("timeout", l2.timeout);
  w.duration("connect_timeout", l2.connect_timeout);
  w.duration("reconnect_max", l2.reconnect_max);
  w.string("key_prefix", l2.key_prefix);
  w.integer("max_pending", l2.max_pending);
  w.boolean("broadcast_route_toggles", l2.broadcast_route_toggles);

  w.table("[compression]");
  w.boolean("enabled", config.compression.enabled);
  w.integer("level", static_cast<uint64_t>(config.compression.level));
  w.integer("stream_level", static_cast<uint64_t>(config.compression.stream_level));
  w.size("min_bytes", config.compression.min_bytes);
  w.strings("types", config.compression.types);

  w.table("[metrics]");
  w.boolean("enabled", config.metrics.enabled);
  w.string("jsonl_path", config.metrics.jsonl_path, config.metrics.jsonl_path.empty() ? "off" : "");
  w.duration("interval", config.metrics.interval);
  w.size("jsonl_max_bytes", config.metrics.jsonl_max_bytes);
  w.integer("jsonl_max_files", config.metrics.jsonl_max_files);

  for (const UpstreamConfig& upstream : config.upstreams) {
    w.table("[upstream." + tomlKey(upstream.name) + "]");
    w.string("url", upstream.url);
    w.integer("max_connections", upstream.max_connections);
    w.integer("max_idle_connections", upstream.max_idle_connections, "0 = max_connections");
    w.duration("connect_timeout", upstream.connect_timeout);
    w.duration("response_timeout", upstream.response_timeout);
    w.string("host_header", hostHeaderValue(upstream));
    w.boolean("trust_bodiless_length", upstream.trust_bodiless_length);
    w.boolean("trust_forwarded", upstream.trust_forwarded);
    if (upstream.tls) w.string("tls_ca_file", upstream.tls_ca_file, upstream.tls_ca_file.empty() ? "system CAs" : "");
  }

  for (const RouteConfig& route : config.routes) {
    w.table("[[route]]");
    w.string("name", route.name);
    if (route.path.empty()) {
      w.string("prefix", route.prefix);
    } else {
      w.string("path", route.path);
    }
    w.string("upstream", route.upstream);
    w.boolean("cache", route.cache);
    w.duration("ttl", route.ttl);
    w.duration("ttl_override", route.ttl_override);
    w.duration("stale_if_error", route.stale_if_error);
    w.boolean("heuristic_freshness", route.heuristic_freshness);
    w.boolean("allow_cookies", route.allow_cookies);
    w.boolean("ignore_client_no_cache", route.ignore_client_no_cache);
    w.boolean("compression", route.compression);
    if (route.cache_control.empty()) {
      w.comment("cache_control: not set");
    } else {
      w.string("cache_control", route.cache_control);
      w.string("cache_control_mode", route.cache_control_override ? "override" : "add");
    }
    w.boolean("etag", route.etag);
    w.boolean("server_timing", route.server_timing);
    w.boolean("allow_trace", route.allow_trace);
  }
  return out;
}

}  // namespace perfgate
