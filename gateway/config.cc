#include "gateway/config.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <set>
#include <stdexcept>

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include "gateway/http/request_parser.h"

namespace perfgate {
namespace {

// A config error with the position it belongs to; turned into "file:line:col: message".
struct ConfigError : std::runtime_error {
  ConfigError(const toml::source_region& where, const std::string& message)
      : std::runtime_error(message), line(where.begin.line), column(where.begin.column) {}
  uint32_t line;
  uint32_t column;
};

// Reads one TOML table, remembering which keys were used so unknown ones are reported.
class TableReader {
 public:
  // `subtables`: keys that name a nested table read by a reader of its own ([cache.l2]).
  TableReader(const toml::table& table, std::string name, std::initializer_list<std::string_view> subtables = {})
      : table_(table), name_(std::move(name)), subtables_(subtables) {}

  // Throws for any key not in `known` (nor a subtable).
  void allowOnly(std::initializer_list<std::string_view> known) const {
    for (const auto& [key, node] : table_) {
      if (node.is_table() && std::find(subtables_.begin(), subtables_.end(), key.str()) != subtables_.end()) continue;
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        throw ConfigError(key.source(), "unknown key '" + std::string(key.str()) + "' in [" + name_ + "]");
      }
    }
  }

  const toml::node* find(std::string_view key) const { return table_.get(key); }

  std::optional<std::string> string(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_string()) throw typeError(*node, key, "a string");
    return node->as_string()->get();
  }

  std::optional<bool> boolean(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_boolean()) throw typeError(*node, key, "true or false");
    return node->as_boolean()->get();
  }

  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) const {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_integer()) throw typeError(*node, key, "an integer");
    int64_t value = node->as_integer()->get();
    if (value < min || value > max) {
      throw ConfigError(node->source(), "'" + std::string(key) + "' must be between " +
                                            std::to_string(min) + " and " + std::to_string(max));
    }
    return value;
  }

  // A size: an integer number of bytes or a string such as "256MiB".
  std::optional<uint64_t> size(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (node->is_integer() && node->as_integer()->get() >= 0) {
      return static_cast<uint64_t>(node->as_integer()->get());
    }
    if (node->is_string()) {
      if (auto bytes = parseSize(node->as_string()->get())) return bytes;
      throw ConfigError(node->source(), "'" + std::string(key) + "': invalid size '" +
                                            node->as_string()->get() + "' (e.g. \"64KiB\", \"256MiB\")");
    }
    throw typeError(*node, key, "a size such as \"64KiB\"");
  }

  // A duration: a string such as "30s" or "250ms".
  std::optional<Millis> duration(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_string()) throw typeError(*node, key, "a duration such as \"30s\"");
    if (auto ms = parseDuration(node->as_string()->get())) return ms;
    throw ConfigError(node->source(), "'" + std::string(key) + "': invalid duration '" +
                                          node->as_string()->get() + "' (e.g. \"30s\", \"250ms\")");
  }

  std::optional<ListenAddress> address(std::string_view key) const {
    auto text = string(key);
    if (!text) return std::nullopt;
    if (auto address = parseListenAddress(*text)) return address;
    throw ConfigError(find(key)->source(), "'" + std::string(key) + "': invalid address '" + *text +
                                               "' (expected HOST:PORT, [IPv6]:PORT)");
  }

  ConfigError error(std::string_view key, const std::string& message) const {
    const toml::node* node = find(key);
    return ConfigError(node != nullptr ? node->source() : table_.source(), message);
  }

 private:
  static ConfigError typeError(const toml::node& node, std::string_view key, const char* expected) {
    return ConfigError(node.source(), "'" + std::string(key) + "' must be " + expected);
  }

  const toml::table& table_;
  std::string name_;
  std::vector<std::string_view> subtables_;
};

const toml::table& requireTable(const toml::node& node, const std::string& name) {
  if (!node.is_table()) throw ConfigError(node.source(), "'" + name + "' must be a table");
  return *node.as_table();
}

void readServer(const toml::table& table, ServerConfig& server) {
  TableReader r(table, "server");
  r.allowOnly({"listen", "workers", "max_connections", "header_timeout", "idle_timeout",
               "request_timeout", "send_timeout", "drain_timeout", "max_request_line",
               "max_header_bytes", "max_headers", "max_body_bytes", "merge_slashes", "forward_path"});
  if (auto v = r.address("listen")) server.listen = *v;
  if (auto v = r.integer("workers", 0, 1024)) server.workers = static_cast<unsigned>(*v);
  if (auto v = r.integer("max_connections", 1, 10'000'000)) server.max_connections = static_cast<unsigned>(*v);
  if (auto v = r.duration("header_timeout")) server.header_timeout = *v;
  if (auto v = r.duration("idle_timeout")) server.idle_timeout = *v;
  if (auto v = r.duration("request_timeout")) server.request_timeout = *v;
  if (auto v = r.duration("send_timeout")) server.send_timeout = *v;
  if (auto v = r.duration("drain_timeout")) server.drain_timeout = *v;
  if (auto v = r.size("max_request_line")) server.max_request_line = *v;
  if (auto v = r.size("max_header_bytes")) server.max_header_bytes = *v;
  if (auto v = r.integer("max_headers", 1, 10'000)) server.max_headers = static_cast<uint64_t>(*v);
  if (auto v = r.size("max_body_bytes")) server.max_body_bytes = *v;
  if (auto v = r.boolean("merge_slashes")) server.merge_slashes = *v;
  if (auto v = r.string("forward_path")) {
    if (*v != "normalized" && *v != "original") {
      throw r.error("forward_path", "'forward_path' must be \"normalized\" or \"original\"");
    }
    server.forward_original_path = *v == "original";
  }
  if (server.max_request_line < 16) throw r.error("max_request_line", "'max_request_line' must be at least 16 bytes");
  if (server.max_header_bytes < server.max_request_line) {
    throw r.error("max_header_bytes", "'max_header_bytes' must be at least 'max_request_line'");
  }
}

void readL2(const toml::table& table, L2Config& l2) {
  TableReader r(table, "cache.l2");
  r.allowOnly({"redis", "timeout", "connect_timeout", "reconnect_max", "key_prefix", "max_pending",
               "broadcast_route_toggles"});
  if (auto v = r.string("redis")) {
    if (!v->empty()) {
      if (std::string error = parseRedisUrl(*v, l2); !error.empty()) throw r.error("redis", "'redis': " + error);
    }
    l2.redis = *v;
  }
  if (auto v = r.duration("timeout")) l2.timeout = *v;
  if (auto v = r.duration("connect_timeout")) l2.connect_timeout = *v;
  if (auto v = r.duration("reconnect_max")) l2.reconnect_max = *v;
  if (auto v = r.string("key_prefix")) l2.key_prefix = *v;
  if (auto v = r.integer("max_pending", 1, 1'000'000)) l2.max_pending = static_cast<unsigned>(*v);
  if (auto v = r.boolean("broadcast_route_toggles")) l2.broadcast_route_toggles = *v;
  if (l2.timeout < Millis(1) || l2.timeout > Millis(10'000)) {
    throw r.error("timeout", "'timeout' must be between 1ms and 10s (a lookup holds the client that long at most)");
  }
  if (l2.connect_timeout < Millis(1)) throw r.error("connect_timeout", "'connect_timeout' must be at least 1ms");
  if (l2.reconnect_max < Millis(100)) throw r.error("reconnect_max", "'reconnect_max' must be at least 100ms");
}

void readCache(const toml::table& table, CacheConfig& cache) {
  TableReader r(table, "cache", {"l2"});
  r.allowOnly({"max_bytes", "max_object_bytes"});
  if (auto v = r.size("max_bytes")) cache.max_bytes = *v;
  if (auto v = r.size("max_object_bytes")) cache.max_object_bytes = *v;
  if (cache.max_object_bytes > cache.max_bytes) {
    throw r.error("max_object_bytes", "'max_object_bytes' must not exceed 'max_bytes'");
  }
  if (const toml::node* n = table.get("l2")) readL2(requireTable(*n, "cache.l2"), cache.l2);
}

void readCompression(const toml::table& table, CompressionConfig& compression) {
  TableReader r(table, "compression");
  r.allowOnly({"enabled", "level", "stream_level", "min_bytes", "types"});
  if (auto v = r.boolean("enabled")) compression.enabled = *v;
  if (auto v = r.integer("level", 1, 9)) compression.level = static_cast<int>(*v);
  if (auto v = r.integer("stream_level", 1, 9)) compression.stream_level = static_cast<int>(*v);
  if (auto v = r.size("min_bytes")) compression.min_bytes = *v;
  if (const toml::node* node = r.find("types")) {
    const toml::array* types = node->as_array();
    if (types == nullptr) throw ConfigError(node->source(), "'types' must be an array of media types");
    compression.types.clear();
    for (const toml::node& item : *types) {
      const std::string* type = item.is_string() ? &item.as_string()->get() : nullptr;
      size_t slash = type != nullptr ? type->find('/') : std::string::npos;
      if (type == nullptr || slash == 0 || slash == std::string::npos || slash + 1 == type->size() ||
          type->find_first_of(" \t;,") != std::string::npos) {
        throw ConfigError(item.source(), "'types' entries must be media types such as \"text/html\" or \"text/*\"");
      }
      std::string lowered = *type;
      for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      compression.types.push_back(std::move(lowered));
    }
  }
}

// The max-age of a configured Cache-Control value; throws when the value is not a list of
// directives.
std::optional<int64_t> cacheControlMaxAge(const TableReader& r, const std::string& value) {
  std::optional<int64_t> max_age;
  bool bad = value.empty() || value.find_first_of("\r\n") != std::string::npos;
  size_t start = 0;
  while (!bad && start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? value.size() + 1 : comma + 1;
    size_t first = item.find_first_not_of(" \t");
    size_t last = item.find_last_not_of(" \t");
    if (first == std::string::npos) continue;
    item = item.substr(first, last - first + 1);
    std::string name = item.substr(0, item.find('='));
    for (char c : name) bad = bad || !isTokenChar(static_cast<unsigned char>(c));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "max-age" || name == "s-maxage") {
      std::string number = item.size() > name.size() + 1 ? item.substr(name.size() + 1) : "";
      int64_t seconds = 0;
      auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), seconds);
      if (number.empty() || ec != std::errc() || end != number.data() + number.size() || seconds < 0) bad = true;
      if (name == "max-age") max_age = seconds;
    }
  }
  if (bad) {
    throw r.error("cache_control", "'cache_control' must be Cache-Control directives such as \"public, max-age=300\"");
  }
  return max_age;
}

void readMetrics(const toml::table& table, MetricsConfig& metrics) {
  TableReader r(table, "metrics");
  r.allowOnly({"enabled", "jsonl_path", "interval", "jsonl_max_bytes", "jsonl_max_files"});
  if (auto v = r.boolean("enabled")) metrics.enabled = *v;
  if (auto v = r.string("jsonl_path")) metrics.jsonl_path = *v;
  if (auto v = r.duration("interval")) {
    if (*v < Millis(100)) throw r.error("interval", "'interval' must be at least 100ms");
    metrics.interval = *v;
  }
  if (auto v = r.size("jsonl_max_bytes")) {
    if (*v < 4096) throw r.error("jsonl_max_bytes", "'jsonl_max_bytes' must be at least 4KiB");
    metrics.jsonl_max_bytes = *v;
  }
  if (auto v = r.integer("jsonl_max_files", 0, 1000)) metrics.jsonl_max_files = static_cast<unsigned>(*v);
}

void readAdmin(const toml::table& table, AdminConfig& admin) {
  TableReader r(table, "admin");
  r.allowOnly({"listen", "token"});
  if (auto v = r.address("listen")) admin.listen = *v;
  if (auto v = r.string("token")) admin.token = *v;
  // Anyone who can reach a non-loopback admin listener could purge the cache or reload.
  if (!isLoopback(admin.listen.host) && admin.token.empty()) {
    throw r.error("listen", "admin listener " + admin.listen.toString() +
                                " is not loopback: set [admin] token (mutating calls then need it)");
  }
}

void readLog(const toml::table& table, LogConfig& log) {
  TableReader r(table, "log");
  r.allowOnly({"level", "access_log"});
  if (auto v = r.string("level")) {
    static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!kLevels.count(*v)) throw r.error("level", "'level' must be one of trace, debug, info, warn, error, critical, off");
    log.level = *v;
  }
  if (auto v = r.string("access_log")) log.access_log = *v;
}

// Fills url-derived fields and resolves a plain-HTTP upstream's address; returns an error
// message or "".
std::string resolveUpstreamUrl(UpstreamConfig& upstream) {
  const std::string& url = upstream.url;
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return "upstream url must start with http:// or https://";
  upstream.tls = scheme == "https";
  size_t authority_start = scheme_end + 3;
  size_t path_start = url.find('/', authority_start);
  upstream.authority = url.substr(authority_start, path_start - authority_start);
  if (upstream.authority.empty()) return "upstream url has no host";
  if (upstream.authority.find_first_of("@?# ") != std::string::npos) {
    return "upstream url must be scheme://host[:port][/path] without credentials, query or fragment";
  }
  if (url.find_first_of("?# ", authority_start) != std::string::npos) {
    return "upstream url must not have a query or fragment";
  }
  upstream.origin = url.substr(0, path_start);
  upstream.base_path = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!upstream.base_path.empty() && upstream.base_path.back() == '/') upstream.base_path.pop_back();

  std::string host = upstream.authority;
  std::string port = upstream.tls ? "443" : "80";
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string::npos) return "upstream url has a bad IPv6 address";
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return "upstream url has a bad port";
      port = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  unsigned port_number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || port_number == 0 ||
      port_number > 65535) {
    return "upstream url has a bad port";
  }
  if (upstream.tls) return "";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return "cannot resolve upstream host '" + host + "': " + gai_strerror(rc);
  }
  std::memcpy(&upstream.address, found->ai_addr, found->ai_addrlen);
  upstream.address_length = found->ai_addrlen;
  freeaddrinfo(found);
  return "";
}

void readUpstream(const std::string& name, const toml::table& table, UpstreamConfig& upstream) {
  TableReader r(table, "upstream." + name);
  r.allowOnly({"url", "max_connections", "max_idle_connections", "connect_timeout",
               "response_timeout", "host_header", "tls_ca_file", "trust_bodiless_length", "trust_forwarded"});
  upstream.name = name;
  auto url = r.string("url");
  if (!url) throw ConfigError(table.source(), "[upstream." + name + "] needs a 'url'");
  upstream.url = *url;
  if (std::string error = resolveUpstreamUrl(upstream); !error.empty()) throw r.error("url", error);
  if (auto v = r.integer("max_connections", 1, 100'000)) upstream.max_connections = static_cast<unsigned>(*v);
  if (auto v = r.integer("max_idle_connections", 0, 100'000)) upstream.max_idle_connections = static_cast<unsigned>(*v);
  if (auto v = r.duration("connect_timeout")) upstream.connect_timeout = *v;
  if (auto v = r.duration("response_timeout")) upstream.response_timeout = *v;
  if (auto v = r.boolean("trust_bodiless_length")) upstream.trust_bodiless_length = *v;
  if (auto v = r.boolean("trust_forwarded")) upstream.trust_forwarded = *v;
  if (auto v = r.string("tls_ca_file")) {
    if (!upstream.tls) throw r.error("tls_ca_file", "'tls_ca_file' needs an https:// url");
    upstream.tls_ca_file = *v;
  }
  if (auto v = r.string("host_header")) {
    if (*v == "client") {
      upstream.host_mode = HostHeaderMode::Client;
    } else if (*v == "upstream") {
      upstream.host_mode = HostHeaderMode::Upstream;
    } else if (!v->empty() && v->find_first_of(" \t\r\n/@") == std::string::npos) {
      upstream.host_mode = HostHeaderMode::Fixed;
      upstream.host_value = *v;
    } else {
      throw r.error("host_header", "'host_header' must be \"client\", \"upstream\" or a host name");
    }
  }
}

void readRoute(const toml::table& table, size_t index, Config& config) {
  TableReader r(table, "[route]");
  r.allowOnly({"name", "prefix", "path", "upstream", "cache", "ttl", "ttl_override", "stale_if_error",
               "heuristic_freshness", "allow_cookies", "ignore_client_no_cache", "compression",
               "cache_control", "cache_control_mode", "etag", "server_timing", "allow_trace"});
  RouteConfig route;
  auto name = r.string("name");
  if (!name || name->empty()) throw ConfigError(table.source(), "route #" + std::to_string(index + 1) + " needs a 'name'");
  route.name = *name;
  for (const RouteConfig& other : config.routes) {
    if (other.name == route.name) throw r.error("name", "duplicate route name '" + route.name + "'");
  }
  auto prefix = r.string("prefix");
  auto path = r.string("path");
  if (prefix.has_value() == path.has_value()) {
    throw ConfigError(table.source(), "route '" + route.name + "' needs exactly one of 'prefix' or 'path'");
  }
  const std::string& match = prefix ? *prefix : *path;
  if (match.empty() || match.front() != '/') {
    const char* key = prefix ? "prefix" : "path";
    throw r.error(key, "route '" + route.name + "': '" + key + "' must start with '/'");
  }
  (prefix ? route.prefix : route.path) = match;
  auto upstream = r.string("upstream");
  if (!upstream) throw ConfigError(table.source(), "route '" + route.name + "' needs an 'upstream'");
  const UpstreamConfig* target = config.findUpstream(*upstream);
  if (target == nullptr) throw r.error("upstream", "route '" + route.name + "' names unknown upstream '" + *upstream + "'");
  route.upstream = *upstream;
  route.upstream_index = static_cast<size_t>(target - config.upstreams.data());
  if (auto v = r.boolean("cache")) route.cache = *v;
  route.ttl = r.duration("ttl");
  route.ttl_override = r.duration("ttl_override");
  route.stale_if_error = r.duration("stale_if_error");
  if (auto v = r.boolean("heuristic_freshness")) route.heuristic_freshness = *v;
  if (auto v = r.boolean("allow_cookies")) route.allow_cookies = *v;
  if (auto v = r.boolean("ignore_client_no_cache")) route.ignore_client_no_cache = *v;
  route.compression = r.boolean("compression").value_or(config.compression.enabled);
  if (auto v = r.string("cache_control")) {
    route.cache_control_max_age = cacheControlMaxAge(r, *v);
    route.cache_control = *v;
  }
  if (auto v = r.string("cache_control_mode")) {
    if (*v != "add" && *v != "override") throw r.error("cache_control_mode", "'cache_control_mode' must be \"add\" or \"override\"");
    if (route.cache_control.empty()) throw r.error("cache_control_mode", "'cache_control_mode' needs 'cache_control'");
    route.cache_control_override = *v == "override";
  }
  if (auto v = r.boolean("etag")) route.etag = *v;
  if (auto v = r.boolean("server_timing")) route.server_timing = *v;
  if (auto v = r.boolean("allow_trace")) route.allow_trace = *v;
  config.routes.push_back(std::move(route));
}

std::shared_ptr<const Config> buildConfig(const toml::table& root, const std::string& source) {
  auto config = std::make_shared<Config>();
  config->source = source;
  TableReader top(root, "top level");
  top.allowOnly({"server", "admin", "log", "cache", "compression", "metrics", "upstream", "route"});

  if (const toml::node* n = root.get("server")) readServer(requireTable(*n, "server"), config->server);
  if (const toml::node* n = root.get("admin")) readAdmin(requireTable(*n, "admin"), config->admin);
  if (const toml::node* n = root.get("log")) readLog(requireTable(*n, "log"), config->log);
  if (const toml::node* n = root.get("cache")) readCache(requireTable(*n, "cache"), config->cache);
  if (const toml::node* n = root.get("compression")) {
    readCompression(requireTable(*n, "compression"), config->compression);
  }
  if (const toml::node* n = root.get("metrics")) readMetrics(requireTable(*n, "metrics"), config->metrics);
  if (const toml::node* n = root.get("upstream")) {
    for (const auto& [key, node] : requireTable(*n, "upstream")) {
      UpstreamConfig upstream;
      std::string name(key.str());
      readUpstream(name, requireTable(node, "upstream." + name), upstream);
      config->upstreams.push_back(std::move(upstream));
    }
  }
  std::sort(config->upstreams.begin(), config->upstreams.end(),
            [](const UpstreamConfig& a, const UpstreamConfig& b) { return a.name < b.name; });

  if (const toml::node* n = root.get("route")) {
    const toml::array* routes = n->as_array();
    if (routes == nullptr) throw ConfigError(n->source(), "'route' must be an array of tables ([[route]])");
    for (size_t i = 0; i < routes->size(); ++i) {
      readRoute(requireTable(*routes->get(i), "route"), i, *config);
    }
  }
  if (config->routes.empty()) throw ConfigError(root.source(), "no [[route]] defined");
  return config;
}

std::string positioned(const std::string& source, uint32_t line, uint32_t column, const std::string& message) {
  return source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

ConfigResult build(const toml::table& root, const std::string& source) {
  ConfigResult result;
  try {
    result.config = buildConfig(root, source);
  } catch (const ConfigError& e) {
    result.error = positioned(source, e.line, e.column, e.what());
  }
  return result;
}

}  // namespace

bool isLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

std::string ListenAddress::toString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

const UpstreamConfig* Config::findUpstream(const std::string& name) const {
  for (const UpstreamConfig& upstream : upstreams) {
    if (upstream.name == name) return &upstream;
  }
  return nullptr;
}

ConfigResult loadConfigFile(const std::string& path) {
  try {
    return build(toml::parse_file(path), path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    ConfigResult result;
    result.error = positioned(path, where.line, where.column, std::string(e.description()));
    return result;
  }
}

ConfigResult loadConfigString(std::string_view text, const std::string& source_name) {
  try {
    return build(toml::parse(text, source_name), source_name);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    ConfigResult result;
    result.error = positioned(source_name, where.line, where.column, std::string(e.description()));
    return result;
  }
}

ConfigResult makeDropInConfig(const std::string& upstream_url) {
  auto config = std::make_shared<Config>();
  UpstreamConfig upstream;
  upstream.name = "default";
  upstream.url = upstream_url;
  if (std::string error = resolveUpstreamUrl(upstream); !error.empty()) {
    ConfigResult result;
    result.error = "--upstream " + upstream_url + ": " + error;
    return result;
  }
  config->upstreams.push_back(std::move(upstream));
  RouteConfig route;
  route.name = "default";
  route.prefix = "/";
  route.upstream = "default";
  config->routes.push_back(std::move(route));
  ConfigResult result;
  result.config = std::move(config);
  return result;
}

std::optional<uint64_t> parseSize(std::string_view text) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1}, {"B", 1}, {"K", 1024}, {"KB", 1000}, {"KiB", 1024}, {"M", 1024 * 1024},
      {"MB", 1000 * 1000}, {"MiB", 1024 * 1024}, {"G", 1024ull * 1024 * 1024},
      {"GB", 1000ull * 1000 * 1000}, {"GiB", 1024ull * 1024 * 1024}};
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) {
      if (number > UINT64_MAX / scale) return std::nullopt;
      return number * scale;
    }
  }
  return std::nullopt;
}

std::optional<Millis> parseDuration(std::string_view text) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) {
      if (number > UINT64_MAX / scale / 1000) return std::nullopt;
      return Millis(number * scale);
    }
  }
  return std::nullopt;
}

std::optional<ListenAddress> parseListenAddress(std::string_view text) {
  ListenAddress address;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    address.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    address.host = std::string(text.substr(0, colon));
    if (address.host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
    port_text = text.substr(colon + 1);
  }
  if (address.host.empty() || port_text.empty()) return std::nullopt;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  address.port = static_cast<uint16_t>(port);
  return address;
}

}  // namespace perfgate

namespace perfgate {

std::string parseRedisUrl(std::string_view url, L2Config& l2) {
  auto number = [](std::string_view text, uint64_t max) -> std::optional<uint64_t> {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
    return value;
  };
  L2Config parsed;
  if (url.substr(0, 7) == "unix://") {
    std::string_view rest = url.substr(7);
    size_t query = rest.find('?');
    parsed.socket_path = std::string(rest.substr(0, query));
    if (parsed.socket_path.empty() || parsed.socket_path.front() != '/') return "unix:// needs an absolute socket path";
    if (query != std::string_view::npos) {
      std::string_view q = rest.substr(query + 1);
      if (q.substr(0, 3) != "db=") return "unix:// takes only ?db=N";
      auto db = number(q.substr(3), 1'000'000);
      if (!db) return "invalid database number '" + std::string(q.substr(3)) + "'";
      parsed.db = static_cast<unsigned>(*db);
    }
    parsed.host.clear();
  } else if (url.substr(0, 8) == "redis://") {
    std::string_view rest = url.substr(8);
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos && slash + 1 < rest.size()) {
      auto db = number(rest.substr(slash + 1), 1'000'000);
      if (!db) return "invalid database number '" + std::string(rest.substr(slash + 1)) + "'";
      parsed.db = static_cast<unsigned>(*db);
    }
    if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
      std::string_view userinfo = authority.substr(0, at);
      size_t colon = userinfo.find(':');
      if (colon == std::string_view::npos || colon + 1 == userinfo.size()) return "credentials must be ':password@'";
      if (colon != 0) return "only ':password@' is supported (no ACL user name)";
      parsed.password = std::string(userinfo.substr(colon + 1));
      authority.remove_prefix(at + 1);
    }
    std::string_view host = authority;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
      size_t close = authority.find(']');
      if (close == std::string_view::npos) return "unclosed '[' in the host";
      host = authority.substr(1, close - 1);
      if (close + 1 < authority.size()) {
        if (authority[close + 1] != ':') return "expected ':' after ']'";
        port = authority.substr(close + 2);
      }
    } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty()) return "no host";
    parsed.host = std::string(host);
    if (!port.empty() || authority.find(':') != std::string_view::npos) {
      auto value = number(port, 65535);
      if (!value || *value == 0) return "invalid port '" + std::string(port) + "'";
      parsed.port = static_cast<uint16_t>(*value);
    }
  } else {
    return "must start with redis:// or unix:// (e.g. \"redis://127.0.0.1:6379/0\")";
  }
  l2.host = parsed.host;
  l2.port = parsed.port;
  l2.socket_path = parsed.socket_path;
  l2.password = parsed.password;
  l2.db = parsed.db;
  return "";
}

}  // namespace perfgate
