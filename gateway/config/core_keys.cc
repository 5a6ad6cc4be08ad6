// The core's config keys: [server], [admin], [cache] max_object_bytes, [metrics], [log] level,
// and those of every [upstream.NAME] and [[route]]. The modules declare theirs beside their code
// (filters/*/..._config.cc); gateway/modules.cc puts them all in one schema.
#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <set>
#include <string>

#include "gateway/config/config.h"
#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

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

}  // namespace

void declareCoreConfig(ConfigSchema& schema) {
  schema.coreGlobal<ServerConfig>("server", &Config::server)
      .custom("listen", "public listener (`\"[::]:8080\"` for IPv6)",
              [](ServerConfig& s, const ConfigValue& v) { s.listen = v.address(); },
              [](const ServerConfig& s) -> std::optional<std::string> { return tomlQuote(s.listen.toString()); })
      .integer("workers", &ServerConfig::workers, 0, 1024, "worker threads; 0 = one per core", "0 = one per core")
      .integer("max_connections", &ServerConfig::max_connections, 1, 10'000'000,
               "client connections across workers; more are answered 503")
      .duration("header_timeout", &ServerConfig::header_timeout, "first byte of a request head to its end, else 408")
      .duration("idle_timeout", &ServerConfig::idle_timeout, "keep-alive wait for the next request")
      .duration("request_timeout", &ServerConfig::request_timeout,
                "longest silence while receiving a request body, else 408")
      .duration("send_timeout", &ServerConfig::send_timeout, "longest time a client may leave a response unread")
      .duration("drain_timeout", &ServerConfig::drain_timeout, "graceful shutdown bound")
      .boolean("io_uring", &ServerConfig::io_uring,
               "the sends of a loop turn go to the kernel in one io_uring call; `false` (or where io_uring "
               "cannot be had, logged at start) one `sendmsg` per connection")
      .size("max_request_line", &ServerConfig::max_request_line, "longer request line: 414")
      .size("max_header_bytes", &ServerConfig::max_header_bytes, "bigger request head: 431")
      .integer("max_headers", &ServerConfig::max_headers, 1, 10'000, "more header fields: 431")
      .size("max_body_bytes", &ServerConfig::max_body_bytes, "bigger request body: 413")
      .boolean("merge_slashes", &ServerConfig::merge_slashes,
               "`//` in a request path reads as `/` for routing and cache keys (see [Security and limits](#security-and-limits))")
      .custom("forward_path",
              "path sent upstream: the client's bytes (`\"original\"`; a request whose path normalisation changed is "
              "then not cached) or `\"normalized\"` (then keyed and cached under the normalised path)",
              [](ServerConfig& s, const ConfigValue& v) {
                std::string text = v.string();
                if (text != "normalized" && text != "original") {
                  throw v.error("'forward_path' must be \"normalized\" or \"original\"");
                }
                s.forward_original_path = text == "original";
              },
              [](const ServerConfig& s) -> std::optional<std::string> {
                return tomlQuote(s.forward_original_path ? "original" : "normalized");
              })
      .string("request_id_header", &ServerConfig::request_id_header,
              "request id field: a client's id (1–128 of `A-Za-z0-9-_.:/+=@`) is kept, else a UUIDv7 is made; "
              "sent upstream, returned, logged; `\"\"` = off")
      .check([](ServerConfig& s, const Config&) {
        if (!s.request_id_header.empty() && !isToken(s.request_id_header)) {
          throw KeyError("'request_id_header' must be a field name", "request_id_header");
        }
        if (s.max_request_line < 16) throw KeyError("'max_request_line' must be at least 16 bytes", "max_request_line");
        if (s.max_header_bytes < s.max_request_line) {
          throw KeyError("'max_header_bytes' must be at least 'max_request_line'", "max_header_bytes");
        }
      });

  schema.coreGlobal<AdminConfig>("admin", &Config::admin)
      .custom("listen", "admin listener; non-loopback without a token is a config error",
              [](AdminConfig& a, const ConfigValue& v) { a.listen = v.address(); },
              [](const AdminConfig& a) -> std::optional<std::string> { return tomlQuote(a.listen.toString()); })
      .string("token", &AdminConfig::token, "bearer token for mutating admin calls")
      .check([](AdminConfig& a, const Config&) {
        // Anyone who can reach a non-loopback admin listener could purge the cache or reload.
        if (!isLoopback(a.listen.host) && a.token.empty()) {
          throw KeyError("admin listener " + a.listen.toString() +
                             " is not loopback: set [admin] token (mutating calls then need it)",
                         "listen");
        }
      });

  schema.coreGlobal<BufferLimits>("cache", &Config::buffers)
      .size("max_object_bytes", &BufferLimits::max_object_bytes,
            "larger responses stream through unstored (nor are they hashed for an ETag or compressed whole)");

  schema.coreGlobal<MetricsConfig>("metrics", &Config::metrics)
      .boolean("enabled", &MetricsConfig::enabled,
               "per-route timing (counters, latency histograms, Server-Timing); `false` takes the timing filter out "
               "of the chain")
      .custom("listen",
              "read-only listener for scrapers and probes: `/metrics`, `/api/monitoring/*`, `/healthz`, `/readyz`, "
              "nothing that changes state (so it may face a pod network without a token); unset: none",
              [](MetricsConfig& m, const ConfigValue& v) { m.listen = v.address(); },
              [](const MetricsConfig& m) -> std::optional<std::string> {
                if (!m.listen) return std::nullopt;
                return tomlQuote(m.listen->toString());
              })
      .documentedDefault("none")
      .custom("jsonl_path", "metrics history file: one JSON snapshot per `interval`; empty = off",
              [](MetricsConfig& m, const ConfigValue& v) { m.jsonl_path = v.string(); },
              [](const MetricsConfig& m) -> std::optional<std::string> {
                return tomlQuote(m.jsonl_path) + (m.jsonl_path.empty() ? "  # off" : "");
              })
      .documentedDefault("`\"\"`")
      .duration("interval", &MetricsConfig::interval, "between two lines of the metrics file (at least `100ms`)")
      .size("jsonl_max_bytes", &MetricsConfig::jsonl_max_bytes, "the metrics file rotates past this size")
      .integer("jsonl_max_files", &MetricsConfig::jsonl_max_files, 0, 1000,
               "rotated metrics files kept (`FILE.1.jsonl` …)")
      .check([](MetricsConfig& m, const Config&) {
        if (m.interval < Millis(100)) throw KeyError("'interval' must be at least 100ms", "interval");
        if (m.jsonl_max_bytes < 4096) throw KeyError("'jsonl_max_bytes' must be at least 4KiB", "jsonl_max_bytes");
      });

  schema.coreGlobal<LogConfig>("log", &Config::log)
      .custom("level", "trace … critical, off",
              [](LogConfig& l, const ConfigValue& v) {
                static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
                l.level = v.string();
                if (!kLevels.count(l.level)) {
                  throw v.error("'level' must be one of trace, debug, info, warn, error, critical, off");
                }
              },
              [](const LogConfig& l) -> std::optional<std::string> { return tomlQuote(l.level); });

  schema.coreUpstream()
      .custom("url", "`http(s)://host[:port][/base-path]`",
              [](UpstreamConfig& u, const ConfigValue& v) {
                u.url = v.string();
                if (std::string error = resolveUpstreamUrl(u); !error.empty()) throw v.error(error);
              },
              [](const UpstreamConfig& u) -> std::optional<std::string> { return tomlQuote(u.url); })
      .documentedDefault("—")
      .integer("max_connections", &UpstreamConfig::max_connections, 1, 100'000,
               "backend connections across all workers")
      .integer("max_idle_connections", &UpstreamConfig::max_idle_connections, 0, 100'000,
               "idle keep-alive connections kept", "0 = max_connections")
      .documentedDefault("`= max_connections`")
      .duration("connect_timeout", &UpstreamConfig::connect_timeout, "refused/unreachable: 502; too slow: 504")
      .duration("response_timeout", &UpstreamConfig::response_timeout,
                "longest backend silence before the response is complete: 504")
      .custom("host_header", "Host sent upstream: `\"client\"`, `\"upstream\"` or a literal",
              [](UpstreamConfig& u, const ConfigValue& v) {
                std::string text = v.string();
                if (text == "client") {
                  u.host_mode = HostHeaderMode::Client;
                } else if (text == "upstream") {
                  u.host_mode = HostHeaderMode::Upstream;
                } else if (!text.empty() && text.find_first_of(" \t\r\n/@") == std::string::npos) {
                  u.host_mode = HostHeaderMode::Fixed;
                  u.host_value = text;
                } else {
                  throw v.error("'host_header' must be \"client\", \"upstream\" or a host name");
                }
              },
              [](const UpstreamConfig& u) -> std::optional<std::string> {
                switch (u.host_mode) {
                  case HostHeaderMode::Client: return tomlQuote("client");
                  case HostHeaderMode::Upstream: return tomlQuote("upstream");
                  case HostHeaderMode::Fixed: return tomlQuote(u.host_value);
                }
                return tomlQuote("client");
              })
      .boolean("trust_bodiless_length", &UpstreamConfig::trust_bodiless_length,
               "reuse the connection after a HEAD/204/304 answer that declares a body length (only for a backend "
               "trusted never to send that body)")
      .boolean("trust_forwarded", &UpstreamConfig::trust_forwarded,
               "pass the client's `Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `X-Host` fields on (a trusted proxy in "
               "front sets them); otherwise they are dropped or replaced")
      .custom("tls_ca_file", "https upstreams: CA bundle to verify the backend against (default: system CAs)",
              [](UpstreamConfig& u, const ConfigValue& v) {
                u.tls_ca_file = v.string();
                if (!u.url.empty() && !u.tls) throw v.error("'tls_ca_file' needs an https:// url");
              },
              [](const UpstreamConfig& u) -> std::optional<std::string> {
                if (!u.tls) return std::string();  // plain http: not printed
                return tomlQuote(u.tls_ca_file) + (u.tls_ca_file.empty() ? "  # system CAs" : "");
              })
      .documentedDefault("`\"\"`")
      .check([](UpstreamConfig& u, const Config&) {
        if (u.url.empty()) throw KeyError("[upstream." + u.name + "] needs a 'url'");
        if (!u.tls_ca_file.empty() && !u.tls) throw KeyError("'tls_ca_file' needs an https:// url", "tls_ca_file");
      });

  schema.coreRoute()
      .string("name", &RouteConfig::name, "unique name")
      .documentedDefault("—")
      .custom("prefix", "exactly one: exact path, or path prefix (longest wins; exact first)",
              [](RouteConfig& r, const ConfigValue& v) { r.prefix = v.string(); },
              [](const RouteConfig& r) -> std::optional<std::string> {
                return r.prefix.empty() ? std::string() : tomlQuote(r.prefix);  // one of prefix / path
              })
      .documentedDefault("—")
      .custom("path", "exactly one: exact path, or path prefix (longest wins; exact first)",
              [](RouteConfig& r, const ConfigValue& v) { r.path = v.string(); },
              [](const RouteConfig& r) -> std::optional<std::string> {
                return r.path.empty() ? std::string() : tomlQuote(r.path);
              })
      .documentedDefault("—")
      .string("upstream", &RouteConfig::upstream, "an `[upstream.NAME]`")
      .documentedDefault("—")
      .boolean("allow_trace", &RouteConfig::allow_trace,
               "forward `TRACE` (otherwise 405: it echoes cookies and credentials back)")
      .check([](RouteConfig& r, const Config& config) {
        if (r.name.empty()) throw KeyError("route #" + std::to_string(r.index + 1) + " needs a 'name'");
        for (const RouteConfig& other : config.routes) {
          if (other.name == r.name) throw KeyError("duplicate route name '" + r.name + "'", "name");
        }
        if (r.prefix.empty() == r.path.empty()) {
          throw KeyError("route '" + r.name + "' needs exactly one of 'prefix' or 'path'");
        }
        const char* key = r.prefix.empty() ? "path" : "prefix";
        const std::string& match = r.prefix.empty() ? r.path : r.prefix;
        if (match.front() != '/') {
          throw KeyError("route '" + r.name + "': '" + key + "' must start with '/'", key);
        }
        if (r.upstream.empty()) throw KeyError("route '" + r.name + "' needs an 'upstream'");
        const UpstreamConfig* target = config.findUpstream(r.upstream);
        if (target == nullptr) {
          throw KeyError("route '" + r.name + "' names unknown upstream '" + r.upstream + "'", "upstream");
        }
        r.upstream_index = static_cast<size_t>(target - config.upstreams.data());
      });
}

}  // namespace perfgate
