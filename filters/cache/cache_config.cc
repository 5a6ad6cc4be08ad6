#include "filters/cache/cache_config.h"

#include "gateway/http/tokens.h"

#include <charconv>

namespace perfgate {

void declareCacheConfig(ConfigSchema& schema) {
  schema.global<CacheConfig>("cache")
      .size("max_bytes", &CacheConfig::max_bytes, "memory budget of the cache: bodies, fields, keys and bookkeeping")
      .custom("targeted_fields",
              "targeted cache-control fields (RFC 9213), first present wins: its directives replace "
              "`Cache-Control` and `Expires` for this cache (e.g. `[\"Perfgate-Cache-Control\", \"CDN-Cache-Control\"]`; "
              "`[]`: off)",
              [](CacheConfig& c, const ConfigValue& v) {
                c.targeted_fields.clear();
                for (const ConfigValue& item : v.array("an array of field names")) {
                  std::string name;
                  try {
                    name = item.string();
                  } catch (const KeyError&) {
                    throw item.error("'targeted_fields' entries must be field names such as \"CDN-Cache-Control\"");
                  }
                  if (!isToken(name) || equalsIgnoreCase(name, "cache-control") || equalsIgnoreCase(name, "expires")) {
                    throw item.error("'targeted_fields' entries must be field names other than Cache-Control and "
                                     "Expires, such as \"CDN-Cache-Control\"");
                  }
                  c.targeted_fields.push_back(std::move(name));
                }
              },
              [](const CacheConfig& c) -> std::optional<std::string> {
                std::string list = "[";
                for (const std::string& name : c.targeted_fields) list += (list.size() > 1 ? ", " : "") + tomlQuote(name);
                return list + "]";
              })
      .documentedDefault("`[\"CDN-Cache-Control\"]`")
      .boolean("forward_targeted_fields", &CacheConfig::forward_targeted_fields,
               "send the targeted fields on to clients (`false`: this cache consumes them)")
      .check([](CacheConfig& c, const Config& config) {
        if (config.buffers.max_object_bytes > c.max_bytes) {
          throw KeyError("'max_object_bytes' must not exceed 'max_bytes'", "max_object_bytes");
        }
      });

  schema.global<L2Config>("cache.l2")
      .custom("redis",
              "shared L2 cache: `\"redis://[:password@]host[:port][/db]\"` or `\"unix:///path[?db=N]\"`; empty = off "
              "(see [Shared L2 cache](#shared-l2-cache-redis))",
              [](L2Config& l2, const ConfigValue& v) {
                l2.redis = v.string();
                if (l2.redis.empty()) return;
                if (std::string error = parseRedisUrl(l2.redis, l2); !error.empty()) {
                  throw v.error("'redis': " + error);
                }
              },
              [](const L2Config& l2) -> std::optional<std::string> {
                return tomlQuote(l2.redis) + (l2.enabled() ? "" : "  # off");
              })
      .documentedDefault("`\"\"`")
      .duration("timeout", &L2Config::timeout,
                "longest wait for an L2 lookup (1ms–10s); then the request goes on as a miss")
      .duration("connect_timeout", &L2Config::connect_timeout, "longest connect (with AUTH/SELECT) before a retry")
      .duration("reconnect_max", &L2Config::reconnect_max, "reconnect backoff doubles from 100ms up to this")
      .string("key_prefix", &L2Config::key_prefix,
              "start of every Redis key and of the purge channel (`PREFIXpurge`); instances sharing it share the cache")
      .integer("max_pending", &L2Config::max_pending, 1, 1'000'000,
               "commands in flight per Redis connection; writes beyond are dropped (counted)")
      .boolean("broadcast_route_toggles", &L2Config::broadcast_route_toggles,
               "`PUT /api/cache/routes/NAME` reaches every instance")
      .check([](L2Config& l2, const Config&) {
        if (l2.timeout < Millis(1) || l2.timeout > Millis(10'000)) {
          throw KeyError("'timeout' must be between 1ms and 10s (a lookup holds the client that long at most)",
                         "timeout");
        }
        if (l2.connect_timeout < Millis(1)) throw KeyError("'connect_timeout' must be at least 1ms", "connect_timeout");
        if (l2.reconnect_max < Millis(100)) throw KeyError("'reconnect_max' must be at least 100ms", "reconnect_max");
      });

  schema.route<CacheRouteSettings>()
      .boolean("cache", &CacheRouteSettings::cache,
               "response cache for this route (RFC 9111 rules decide what is stored)")
      .duration("ttl", &CacheRouteSettings::ttl, "lifetime for responses that give none (no max-age/s-maxage/Expires)")
      .duration("ttl_override", &CacheRouteSettings::ttl_override, "lifetime whatever the backend says")
      .duration("stale_if_error", &CacheRouteSettings::stale_if_error,
                "serve a stale response this long past expiry when the backend fails")
      .boolean("heuristic_freshness", &CacheRouteSettings::heuristic_freshness,
               "10% of the Last-Modified age as lifetime (RFC 9111 §4.2.2)")
      .boolean("allow_cookies", &CacheRouteSettings::allow_cookies, "store responses that carry Set-Cookie")
      .boolean("ignore_client_no_cache", &CacheRouteSettings::ignore_client_no_cache,
               "serve fresh entries despite request `no-cache` / `max-age=0`")
      .boolean("partial_content", &CacheRouteSettings::partial_content,
               "a `Range` the store cannot answer asks the backend for the missing bytes only, and 206 "
               "answers are stored and combined (RFC 9111 §3.3, §3.4); off: a ranged miss fetches the whole "
               "object")
      .boolean("store_post_responses", &CacheRouteSettings::store_post_responses,
               "a 200/203 answer to a POST with explicit freshness and `Content-Location` equal to the "
               "request's URL is stored and answers later GETs of it (RFC 9110 §9.3.3, RFC 9111 §4)");
}

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
