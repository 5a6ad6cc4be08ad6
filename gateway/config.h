// The gateway's configuration: parsed once from TOML (or built from the drop-in command line),
// validated, then frozen and shared by every worker as `std::shared_ptr<const Config>`.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace perfgate {

using Millis = std::chrono::milliseconds;

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
};

struct AdminConfig {
  ListenAddress listen{"127.0.0.1", 9901};
  std::string token;  // empty: no token (allowed on loopback only)
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string access_log;      // JSON-lines file; empty: access log off
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

// Per-route timing and the metrics history file.
struct MetricsConfig {
  bool enabled = true;         // false: no timing filter at all (no per-request cost)
  std::string jsonl_path;      // one JSON snapshot per interval; empty: off
  Millis interval{10'000};     // between two JSON lines
  uint64_t jsonl_max_bytes = 64ull * 1024 * 1024;  // rotate the file past this size
  unsigned jsonl_max_files = 3;                    // rotated files kept besides the current one
};

// [cache.l2]: the shared second cache layer on Redis (filters/cache/l2_cache.h). Off while
// `redis` is empty.
struct L2Config {
  std::string redis;            // "redis://[:password@]host[:port][/db]" or "unix:///path[?db=N]"
  // Parsed from `redis` when the config is loaded.
  std::string host;             // empty for a Unix socket
  uint16_t port = 6379;
  std::string socket_path;      // unix:// only
  std::string password;
  unsigned db = 0;
  Millis timeout{50};           // longest wait for a lookup's reply; then it counts as a miss
  Millis connect_timeout{500};  // longest connect (and AUTH/SELECT) before a retry
  Millis reconnect_max{5'000};  // backoff between reconnects doubles from 100ms up to this
  std::string key_prefix = "perfgate:";  // Redis keys and the purge channel start with it
  unsigned max_pending = 1'000;  // commands in flight per connection; writes beyond are dropped
  bool broadcast_route_toggles = true;  // PUT /api/cache/routes/NAME reaches every instance

  bool enabled() const { return !redis.empty(); }
};

struct CacheConfig {
  uint64_t max_bytes = 256ull * 1024 * 1024;  // L1 budget: stored heads, bodies, keys, overhead
  uint64_t max_object_bytes = 8ull * 1024 * 1024;  // larger responses stream through unstored
  L2Config l2;
};

// [compression]: gzip toward clients that accept it (filters/compression/).
struct CompressionConfig {
  bool enabled = true;       // default of every route's `compression`
  int level = 6;             // zlib level (1-9) for bodies compressed whole (cache fills)
  int stream_level = 1;      // zlib level (1-9) for bodies compressed as a stream
  uint64_t min_bytes = 256;  // smaller bodies (by Content-Length) go out as they are
  // Media types compressed: "type/subtype" exactly, or "type/*".
  std::vector<std::string> types{"text/*", "application/json", "application/javascript", "application/xml",
                                 "image/svg+xml"};
};

struct RouteConfig {
  std::string name;
  std::string prefix;  // one of prefix / path is set
  std::string path;
  std::string upstream;
  size_t upstream_index = 0;  // into Config::upstreams, resolved at load
  // Response cache (RFC 9111 rules; the settings below only widen or narrow them per route).
  bool cache = true;
  std::optional<Millis> ttl;           // lifetime when the backend gives none
  std::optional<Millis> ttl_override;  // lifetime whatever the backend says
  std::optional<Millis> stale_if_error;  // window when the backend gives none
  bool heuristic_freshness = false;    // 10% of the Last-Modified age (RFC 9111 §4.2.2)
  bool allow_cookies = false;          // store responses that set cookies
  bool ignore_client_no_cache = false;  // serve fresh entries despite request no-cache/max-age=0
  // Compression: gzip where the client accepts it ([compression] enabled when not set).
  bool compression = true;
  // Cache headers for backends that send none (filters/cache_headers/).
  std::string cache_control;              // added when the response has no Cache-Control; "" none
  bool cache_control_override = false;    // replace the backend's Cache-Control too
  std::optional<int64_t> cache_control_max_age;  // max-age of cache_control, for Expires
  bool etag = false;                      // strong ETag (XXH3-128 of the body) where none is sent
  bool server_timing = false;          // add a Server-Timing response header (cache, upstream time)
  bool allow_trace = false;            // forward TRACE (else 405: it would echo cookies back)
  // Runtime switch set by the admin API, kept across reloads: -1 follows `cache`, 0 off, 1 on.
  // Attached when the config is put into service (null in configs that only get checked).
  const std::atomic<int8_t>* cache_switch = nullptr;

  bool cacheEnabled() const {
    int8_t forced = cache_switch != nullptr ? cache_switch->load(std::memory_order_relaxed) : -1;
    return forced < 0 ? cache : forced != 0;
  }
};

struct Config {
  std::string source;  // file the config came from; empty for the drop-in command line
  ServerConfig server;
  AdminConfig admin;
  LogConfig log;
  CacheConfig cache;
  CompressionConfig compression;
  MetricsConfig metrics;
  std::vector<UpstreamConfig> upstreams;  // sorted by name
  std::vector<RouteConfig> routes;        // in file order

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

// Fills l2's host, port, socket_path, password and db from "redis://[[user]:password@]host[:port][/db]"
// ("[v6]" hosts too) or "unix:///path[?db=N]"; returns "" or what is wrong.
std::string parseRedisUrl(std::string_view url, L2Config& l2);

// True for 127.0.0.0/8, ::1 and "localhost".
bool isLoopback(const std::string& host);

}  // namespace perfgate
