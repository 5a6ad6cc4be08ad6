// The cache module's configuration: [cache], [cache.l2] and the per-route cache keys, declared
// once for the loader, the printer and README (gateway/config/schema.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.h"

namespace perfgate {

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

// [cache]; its max_object_bytes is the core's (BufferLimits: other filters keep bodies whole too).
struct CacheConfig {
  uint64_t max_bytes = 256ull * 1024 * 1024;  // L1 budget: stored heads, bodies, keys, overhead
  // Targeted cache-control fields (RFC 9213), in precedence order: the first a response carries
  // with a valid value is this cache's policy in place of Cache-Control and Expires.
  std::vector<std::string> targeted_fields{"CDN-Cache-Control"};
  bool forward_targeted_fields = true;  // false: removed from what clients get (and from the store)
};

// Per route: the RFC 9111 rules decide what is stored; these only widen or narrow them.
struct CacheRouteSettings {
  bool cache = true;
  std::optional<Millis> ttl;             // lifetime when the backend gives none
  std::optional<Millis> ttl_override;    // lifetime whatever the backend says
  std::optional<Millis> stale_if_error;  // window when the backend gives none
  bool heuristic_freshness = false;      // 10% of the Last-Modified age (RFC 9111 §4.2.2)
  bool allow_cookies = false;            // store responses that set cookies
  bool ignore_client_no_cache = false;   // serve fresh entries despite request no-cache/max-age=0
  bool partial_content = false;          // ranges go upstream; 206 parts stored and combined
  bool store_post_responses = false;     // a POST response naming its own URL answers later GETs
};

// Declares [cache], [cache.l2] and the route keys.
void declareCacheConfig(ConfigSchema& schema);

// Fills l2's host, port, socket_path, password and db from "redis://[[user]:password@]host[:port][/db]"
// ("[v6]" hosts too) or "unix:///path[?db=N]"; returns "" or what is wrong.
std::string parseRedisUrl(std::string_view url, L2Config& l2);

}  // namespace perfgate
