// The gateway's configuration: parsed once from TOML (or built from the drop-in command line)
// through the key table (schema.h), validated, then frozen and shared by every worker as
// `std::shared_ptr<const Config>`. The core's sections are members here; each module's live in
// slots, read with Config::section<T>() and RouteConfig::settings<T>().
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config/schema.h"
#include "gateway/http/request_parser.h"

namespace perfgate {

struct ListenAddress {
  std::string host;  // numeric IPv4/IPv6 address or a name; "[::1]" is stored as "::1"
  uint16_t port = 0;
  std::string toString() const;
};

struct ServerConfig {
  ListenAddress listen{"0.0.0.0", 8080};
  unsigned workers = 0;  // 0: one per core
  unsigned max_connections = 10000;
  Millis header_timeout{10'000};   // first byte of a request head to its end
  Millis idle_timeout{60'000};     // keep-alive wait for the next request
  Millis request_timeout{60'000};  // longest gap while receiving a request body
  Millis send_timeout{60'000};     // longest gap while the client reads our response
  Millis drain_timeout{10'000};    // graceful shutdown: longest wait for requests in flight
  uint64_t max_request_line = 8 * 1024;
  uint64_t max_header_bytes = 32 * 1024;
  uint64_t max_headers = 100;
  uint64_t max_body_bytes = 64ull * 1024 * 1024;
  // Request paths are normalised for routing and cache keys (RFC 3986 §6.2.2: unreserved
  // percent-escapes decoded, dot segments removed); with merge_slashes "//" reads as "/" too.
  bool merge_slashes = true;
  // What goes upstream: the client's bytes unchanged (default; then a request whose path
  // normalisation changed is not cached: the backend may not resolve it to the keyed resource),
  // or the normalised path (then it is keyed and cached under that path).
  bool forward_original_path = true;
  // The request id field: a client's acceptable id is kept, else a UUIDv7 is made; it goes
  // upstream, back to the client and into the access log. Empty: no request ids.
  std::string request_id_header = "X-Request-Id";
  // The sends of a loop turn (responses to clients, requests to backends) go to the kernel in one
  // io_uring call; false, or where io_uring cannot be had, one sendmsg per connection.
  bool io_uring = true;

  // The request parser's limits these settings make.
  ParseLimits parseLimits() const {
    return ParseLimits{max_request_line, max_header_bytes, max_headers, max_body_bytes, merge_slashes};
  }
};

struct AdminConfig {
  ListenAddress listen{"127.0.0.1", 9901};
  std::string token;  // empty: no token (allowed on loopback only)
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
};

enum class HostHeaderMode : uint8_t { Client, Upstream, Fixed };

struct UpstreamConfig {
  std::string name;
  std::string url;        // scheme://host[:port][/base-path], no query
  std::string origin;     // scheme://host[:port]
  std::string base_path;  // url's path without a trailing '/', prepended to the request target
  std::string authority;  // host[:port] of url, for host_header = "upstream"
  bool tls = false;       // https://
  // Resolved when the config is loaded (plain-HTTP upstreams; libcurl resolves https ones).
  sockaddr_storage address{};
  socklen_t address_length = 0;
  unsigned max_connections = 64;  // across all workers (each worker gets its share)
  unsigned max_idle_connections = 0;  // 0: same as max_connections
  Millis connect_timeout{2'000};
  Millis response_timeout{30'000};  // request sent to response headers received
  HostHeaderMode host_mode = HostHeaderMode::Client;
  std::string host_value;   // for HostHeaderMode::Fixed
  std::string tls_ca_file;  // https upstreams: CA bundle to verify against; empty: system CAs
  // Reuse a connection after a HEAD/204/304 response that declares a body length: only for a
  // backend trusted never to send a body there (bytes it sent would be read as the next response).
  bool trust_bodiless_length = false;
  // Keep the client's forwarding fields (Forwarded, X-Forwarded-*, X-Real-IP, X-Host, ...): only
  // behind a trusted front proxy that sets them itself. Otherwise they are dropped or replaced.
  bool trust_forwarded = false;
};

// [metrics]: per-route timing on or off, and the metrics history file (the admin's JSON view,
// one line per interval).
struct MetricsConfig {
  bool enabled = true;         // false: no timing filter at all (no per-request cost)
  // A read-only listener for scrapers and probes (/metrics, /api/monitoring/*, /healthz,
  // /readyz); unset: none (the admin listener serves them too).
  std::optional<ListenAddress> listen;
  std::string jsonl_path;      // one JSON snapshot per interval; empty: off
  Millis interval{10'000};     // between two JSON lines
  uint64_t jsonl_max_bytes = 64ull * 1024 * 1024;  // rotate the file past this size
  unsigned jsonl_max_files = 3;                    // rotated files kept besides the current one
};

// The largest response body the gateway keeps whole for any purpose: a cache fill, an ETag
// hashed from the body, a body compressed in one piece. Larger ones stream through. Written as
// [cache] max_object_bytes (the cache is its main user).
struct BufferLimits {
  uint64_t max_object_bytes = 8ull * 1024 * 1024;
};

struct RouteConfig {
  std::string name;
  std::string prefix;  // one of prefix / path is set
  std::string path;
  std::string upstream;
  size_t upstream_index = 0;  // into Config::upstreams, resolved at load
  size_t index = 0;           // its position in Config::routes (filters index per-route data by it)
  bool allow_trace = false;   // forward TRACE (else 405: it would echo cookies back)
  // The modules' per-route settings (ConfigSchema), by slot.
  std::vector<std::shared_ptr<const void>> module_settings;

  // The settings struct T a module declared for routes (gateway/config/schema.h).
  template <typename T>
  const T& settings() const {
    return *static_cast<const T*>(module_settings[SectionSlot<T>::index].get());
  }
};

struct Config {
  std::string source;  // file the config came from; empty for the drop-in command line
  ServerConfig server;
  AdminConfig admin;
  LogConfig log;
  MetricsConfig metrics;
  BufferLimits buffers;
  std::vector<UpstreamConfig> upstreams;  // sorted by name
  std::vector<RouteConfig> routes;        // in file order
  // The modules' global sections (ConfigSchema), by slot.
  std::vector<std::shared_ptr<const void>> module_sections;

  // The section struct T a module declared (gateway/config/schema.h).
  template <typename T>
  const T& section() const {
    return *static_cast<const T*>(module_sections[SectionSlot<T>::index].get());
  }
  const UpstreamConfig* findUpstream(const std::string& name) const;
};

// Result of loading: a frozen config, or an error message "file:line:col: message".
struct ConfigResult {
  std::shared_ptr<const Config> config;
  std::string error;
  explicit operator bool() const { return config != nullptr; }
};

ConfigResult loadConfigFile(const std::string& path);
ConfigResult loadConfigString(std::string_view toml, const std::string& source_name);

// The drop-in configuration: one route "/" to `upstream_url`, defaults elsewhere.
ConfigResult makeDropInConfig(const std::string& upstream_url);

// "256MiB", "64KB", "1024" -> bytes; "30s", "250ms", "2m", "1h" -> milliseconds.
std::optional<uint64_t> parseSize(std::string_view text);
std::optional<Millis> parseDuration(std::string_view text);
std::optional<ListenAddress> parseListenAddress(std::string_view text);

// True for 127.0.0.0/8, ::1 and "localhost".
bool isLoopback(const std::string& host);

}  // namespace perfgate
