// Unit tests for the TOML configuration loader (gateway/config/config.h).
#include "gateway/config/config.h"

#include "filters/access_log/access_log_config.h"
#include "filters/cache/cache_config.h"
#include "filters/cache_headers/cache_headers_config.h"
#include "filters/compression/compression_config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace perfgate {
namespace {

using std::chrono::milliseconds;

const char* const kFullConfig = R"([server]
listen = "127.0.0.1:0"
workers = 2
max_connections = 100
header_timeout = "300ms"
idle_timeout = "5s"
request_timeout = "5s"
send_timeout = "5s"
drain_timeout = "2s"
max_request_line = "4KiB"
max_header_bytes = "16KiB"
max_headers = 50
max_body_bytes = "10MiB"
[admin]
listen = "127.0.0.1:0"
token = "secret"
[log]
level = "debug"
access_log = "/tmp/x.jsonl"
[upstream.backend]
url = "http://127.0.0.1:8000"
max_connections = 8
connect_timeout = "1s"
response_timeout = "2s"
host_header = "upstream"
[[route]]
name = "api"
prefix = "/api/"
upstream = "backend"
[[route]]
name = "health"
path = "/health"
upstream = "backend"
)";

const char* const kMinimalConfig = R"([upstream.app]
url = "http://127.0.0.1:9000"
[[route]]
name = "all"
prefix = "/"
upstream = "app"
)";

// "source:line:col: " of the nth occurrence (1-based) of `marker` in `text`.
std::string where(std::string_view source, std::string_view text, std::string_view marker,
                  int nth = 1, int col_offset = 0) {
  size_t pos = std::string_view::npos;
  size_t from = 0;
  for (int i = 0; i < nth; ++i) {
    pos = text.find(marker, from);
    if (pos == std::string_view::npos) {
      ADD_FAILURE() << "marker not in test config: " << marker;
      return "?";
    }
    from = pos + 1;
  }
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  col += col_offset;
  return std::string(source) + ":" + std::to_string(line) + ":" + std::to_string(col) + ": ";
}

std::string lineCol(std::string_view source, int line, int col) {
  return std::string(source) + ":" + std::to_string(line) + ":" + std::to_string(col) + ": ";
}

// `text` with `from` (which must occur) replaced by `to`.
std::string replaced(std::string text, std::string_view from, std::string_view to) {
  size_t pos = text.find(from);
  if (pos == std::string::npos) {
    ADD_FAILURE() << "not in the config: " << from;
    return text;
  }
  text.replace(pos, from.size(), to);
  return text;
}

std::string fullWith(std::string_view from, std::string_view to) {
  return replaced(kFullConfig, from, to);
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// ---------------------------------------------------------------------------------------------
// Valid configurations.

TEST(ConfigLoad, FullConfig) {
  ConfigResult r = loadConfigString(kFullConfig, "full.toml");
  ASSERT_TRUE(r) << r.error;
  EXPECT_TRUE(r.error.empty());
  const Config& c = *r.config;
  EXPECT_EQ(c.source, "full.toml");

  EXPECT_EQ(c.server.listen.host, "127.0.0.1");
  EXPECT_EQ(c.server.listen.port, 0);
  EXPECT_EQ(c.server.workers, 2u);
  EXPECT_EQ(c.server.max_connections, 100u);
  EXPECT_EQ(c.server.header_timeout, milliseconds(300));
  EXPECT_EQ(c.server.idle_timeout, milliseconds(5000));
  EXPECT_EQ(c.server.request_timeout, milliseconds(5000));
  EXPECT_EQ(c.server.send_timeout, milliseconds(5000));
  EXPECT_EQ(c.server.drain_timeout, milliseconds(2000));
  EXPECT_EQ(c.server.max_request_line, 4096u);
  EXPECT_EQ(c.server.max_header_bytes, 16384u);
  EXPECT_EQ(c.server.max_headers, 50u);
  EXPECT_EQ(c.server.max_body_bytes, 10u * 1024 * 1024);

  EXPECT_EQ(c.admin.listen.host, "127.0.0.1");
  EXPECT_EQ(c.admin.listen.port, 0);
  EXPECT_EQ(c.admin.token, "secret");

  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.section<AccessLogConfig>().access_log, "/tmp/x.jsonl");

  ASSERT_EQ(c.upstreams.size(), 1u);
  const UpstreamConfig& u = c.upstreams[0];
  EXPECT_EQ(u.name, "backend");
  EXPECT_EQ(u.url, "http://127.0.0.1:8000");
  EXPECT_EQ(u.origin, "http://127.0.0.1:8000");
  EXPECT_EQ(u.base_path, "");
  EXPECT_EQ(u.authority, "127.0.0.1:8000");
  EXPECT_EQ(u.max_connections, 8u);
  EXPECT_EQ(u.connect_timeout, milliseconds(1000));
  EXPECT_EQ(u.response_timeout, milliseconds(2000));
  EXPECT_EQ(u.host_mode, HostHeaderMode::Upstream);

  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].name, "api");
  EXPECT_EQ(c.routes[0].prefix, "/api/");
  EXPECT_EQ(c.routes[0].path, "");
  EXPECT_EQ(c.routes[0].upstream, "backend");
  EXPECT_EQ(c.routes[0].upstream_index, 0u);
  EXPECT_EQ(c.routes[1].name, "health");
  EXPECT_EQ(c.routes[1].prefix, "");
  EXPECT_EQ(c.routes[1].path, "/health");
  EXPECT_EQ(c.routes[1].upstream_index, 0u);

  ASSERT_NE(c.findUpstream("backend"), nullptr);
  EXPECT_EQ(c.findUpstream("backend")->url, "http://127.0.0.1:8000");
  EXPECT_EQ(c.findUpstream("nope"), nullptr);
}

TEST(ConfigLoad, MinimalConfigKeepsDefaults) {
  ConfigResult r = loadConfigString(kMinimalConfig, "min.toml");
  ASSERT_TRUE(r) << r.error;
  const Config& c = *r.config;
  const ServerConfig defaults;
  EXPECT_EQ(c.server.listen.host, "0.0.0.0");
  EXPECT_EQ(c.server.listen.port, 8080);
  EXPECT_EQ(c.server.workers, defaults.workers);
  EXPECT_EQ(c.server.max_connections, defaults.max_connections);
  EXPECT_EQ(c.server.header_timeout, defaults.header_timeout);
  EXPECT_EQ(c.server.idle_timeout, defaults.idle_timeout);
  EXPECT_EQ(c.server.max_request_line, defaults.max_request_line);
  EXPECT_EQ(c.server.max_header_bytes, defaults.max_header_bytes);
  EXPECT_EQ(c.server.max_headers, defaults.max_headers);
  EXPECT_EQ(c.server.max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(c.admin.listen.host, "127.0.0.1");
  EXPECT_EQ(c.admin.listen.port, 9901);
  EXPECT_EQ(c.admin.token, "");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.section<AccessLogConfig>().access_log, "");
  ASSERT_EQ(c.upstreams.size(), 1u);
  const UpstreamConfig udef;
  EXPECT_EQ(c.upstreams[0].max_connections, udef.max_connections);
  EXPECT_EQ(c.upstreams[0].connect_timeout, udef.connect_timeout);
  EXPECT_EQ(c.upstreams[0].response_timeout, udef.response_timeout);
  EXPECT_EQ(c.upstreams[0].host_mode, HostHeaderMode::Client);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].prefix, "/");
}

TEST(ConfigLoad, SizesAsPlainIntegersAndDecimalUnits) {
  std::string text = fullWith("max_body_bytes = \"10MiB\"", "max_body_bytes = 1048576");
  text = replaced(text, "max_header_bytes = \"16KiB\"", "max_header_bytes = \"20KB\"");
  text = replaced(text, "max_request_line = \"4KiB\"", "max_request_line = \"2048\"");
  ConfigResult r = loadConfigString(text, "sizes.toml");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.config->server.max_body_bytes, 1048576u);
  EXPECT_EQ(r.config->server.max_header_bytes, 20000u);
  EXPECT_EQ(r.config->server.max_request_line, 2048u);
}

TEST(ConfigLoad, DurationsInMinutes) {
  std::string text = fullWith("idle_timeout = \"5s\"", "idle_timeout = \"2m\"");
  ConfigResult r = loadConfigString(text, "d.toml");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.config->server.idle_timeout, milliseconds(120'000));
}

TEST(ConfigLoad, UpstreamsSortedByNameRoutesResolved) {
  const char* text = R"([upstream.zeta]
url = "http://10.0.0.2:81"
[upstream.alpha]
url = "https://alpha.example/base/"
host_header = "client"
max_idle_connections = 4
[upstream.mid]
url = "http://localhost:8080/"
host_header = "api.example.com"
[[route]]
name = "z"
prefix = "/z/"
upstream = "zeta"
[[route]]
name = "a"
path = "/a"
upstream = "alpha"
[[route]]
name = "m"
prefix = "/"
upstream = "mid"
)";
  ConfigResult r = loadConfigString(text, "multi.toml");
  ASSERT_TRUE(r) << r.error;
  const Config& c = *r.config;
  ASSERT_EQ(c.upstreams.size(), 3u);
  EXPECT_EQ(c.upstreams[0].name, "alpha");
  EXPECT_EQ(c.upstreams[1].name, "mid");
  EXPECT_EQ(c.upstreams[2].name, "zeta");

  ASSERT_EQ(c.routes.size(), 3u);  // file order
  EXPECT_EQ(c.routes[0].name, "z");
  EXPECT_EQ(c.routes[0].upstream_index, 2u);
  EXPECT_EQ(c.routes[1].name, "a");
  EXPECT_EQ(c.routes[1].upstream_index, 0u);
  EXPECT_EQ(c.routes[2].name, "m");
  EXPECT_EQ(c.routes[2].upstream_index, 1u);

  const UpstreamConfig& alpha = c.upstreams[0];
  EXPECT_EQ(alpha.origin, "https://alpha.example");
  EXPECT_EQ(alpha.base_path, "/base");
  EXPECT_TRUE(alpha.tls);
  EXPECT_EQ(alpha.address_length, 0u);  // libcurl resolves https upstreams
  EXPECT_EQ(alpha.authority, "alpha.example");
  EXPECT_EQ(alpha.host_mode, HostHeaderMode::Client);
  EXPECT_EQ(alpha.max_idle_connections, 4u);

  const UpstreamConfig& mid = c.upstreams[1];
  EXPECT_EQ(mid.origin, "http://localhost:8080");
  EXPECT_EQ(mid.base_path, "");
  EXPECT_FALSE(mid.tls);
  EXPECT_GT(mid.address_length, 0u);  // resolved at load
  EXPECT_EQ(mid.authority, "localhost:8080");
  EXPECT_EQ(mid.host_mode, HostHeaderMode::Fixed);
  EXPECT_EQ(mid.host_value, "api.example.com");

  const UpstreamConfig& zeta = c.upstreams[2];
  EXPECT_EQ(zeta.authority, "10.0.0.2:81");
  EXPECT_EQ(c.findUpstream("mid"), &c.upstreams[1]);
}

TEST(ConfigLoad, CompressionAndCacheHeaders) {
  ConfigResult defaults = loadConfigString(kMinimalConfig, "min.toml");
  ASSERT_TRUE(defaults) << defaults.error;
  const CompressionConfig& d = defaults.config->section<CompressionConfig>();
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.level, 6);
  EXPECT_EQ(d.stream_level, 1);
  EXPECT_EQ(d.min_bytes, 256u);
  EXPECT_EQ(d.types, (std::vector<std::string>{"text/*", "application/json", "application/javascript",
                                               "application/xml", "image/svg+xml"}));
  const RouteConfig& plain = defaults.config->routes[0];
  EXPECT_TRUE(plain.settings<CompressionRouteSettings>().compression);
  EXPECT_TRUE(plain.settings<CacheHeadersRouteSettings>().cache_control.empty());
  EXPECT_FALSE(plain.settings<CacheHeadersRouteSettings>().etag);

  ConfigResult r = loadConfigString(std::string(kMinimalConfig) + R"(cache_control = "public, s-maxage=60, Max-Age=300"
cache_control_mode = "override"
etag = true
[[route]]
name = "raw"
prefix = "/raw/"
upstream = "app"
compression = true
[compression]
enabled = false
level = 9
stream_level = 2
min_bytes = "1KiB"
types = ["Text/HTML", "application/*"]
)", "c.toml");
  ASSERT_TRUE(r) << r.error;
  const CompressionConfig& c = r.config->section<CompressionConfig>();
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.level, 9);
  EXPECT_EQ(c.stream_level, 2);
  EXPECT_EQ(c.min_bytes, 1024u);
  EXPECT_EQ(c.types, (std::vector<std::string>{"text/html", "application/*"}));
  const CacheHeadersRouteSettings& all = r.config->routes[0].settings<CacheHeadersRouteSettings>();
  EXPECT_FALSE(r.config->routes[0].settings<CompressionRouteSettings>().compression);  // follows [compression] enabled
  EXPECT_EQ(all.cache_control, "public, s-maxage=60, Max-Age=300");
  EXPECT_TRUE(all.cache_control_override);
  EXPECT_EQ(all.cache_control_max_age, 300);
  EXPECT_TRUE(all.etag);
  EXPECT_TRUE(r.config->routes[1].settings<CompressionRouteSettings>().compression);  // set per route
  EXPECT_FALSE(r.config->routes[1].settings<CacheHeadersRouteSettings>().cache_control_max_age);
}

TEST(ConfigLoad, DropInConfig) {
  ConfigResult r = makeDropInConfig("http://127.0.0.1:8000");
  ASSERT_TRUE(r) << r.error;
  const Config& c = *r.config;
  EXPECT_EQ(c.source, "");
  ASSERT_EQ(c.upstreams.size(), 1u);
  EXPECT_EQ(c.upstreams[0].url, "http://127.0.0.1:8000");
  EXPECT_EQ(c.upstreams[0].origin, "http://127.0.0.1:8000");
  EXPECT_EQ(c.upstreams[0].authority, "127.0.0.1:8000");
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].prefix, "/");
  EXPECT_EQ(c.routes[0].path, "");
  EXPECT_EQ(c.routes[0].upstream, c.upstreams[0].name);
  EXPECT_EQ(c.routes[0].upstream_index, 0u);
  EXPECT_EQ(c.server.listen.host, "0.0.0.0");
  EXPECT_EQ(c.server.listen.port, 8080);
  EXPECT_EQ(c.admin.listen.port, 9901);
  EXPECT_TRUE(c.section<CompressionConfig>().enabled);  // gzip on in the drop-in mode
  EXPECT_TRUE(c.routes[0].settings<CompressionRouteSettings>().compression);
}

TEST(ConfigLoad, DropInConfigRejectsBadUrl) {
  EXPECT_FALSE(makeDropInConfig("ftp://127.0.0.1:8000"));
  EXPECT_FALSE(makeDropInConfig("127.0.0.1:8000"));
  EXPECT_FALSE(makeDropInConfig(""));
  ConfigResult r = makeDropInConfig("gopher://x");
  EXPECT_FALSE(r.error.empty());
}

TEST(ConfigLoad, FromFile) {
  char path[] = "/tmp/perfgate_config_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream f(path);
    f << kFullConfig;
  }
  ConfigResult r = loadConfigFile(path);
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.config->source, path);
  EXPECT_EQ(r.config->server.workers, 2u);

  const std::string bad = fullWith("workers = 2", "workers = \"two\"");
  {
    std::ofstream f(path, std::ios::trunc);
    f << bad;
  }
  r = loadConfigFile(path);
  EXPECT_FALSE(r);
  EXPECT_PRED2(startsWith, r.error, where(path, bad, "\"two\""));
  std::remove(path);
}

TEST(ConfigLoad, MissingFile) {
  ConfigResult r = loadConfigFile("/nonexistent/perfgate.toml");
  EXPECT_FALSE(r);
  // No made-up position ("file:0:0"): the path and the system's reason.
  EXPECT_EQ(r.error, "/nonexistent/perfgate.toml: cannot read the config file: No such file or directory");
}

// ---------------------------------------------------------------------------------------------
// Errors: "source:line:col: message", the message naming the key at fault.

struct ConfigErrorCase {
  std::string name;
  std::string text;
  std::string prefix;   // expected "src.toml:L:C: "
  std::string mention;  // must appear in the message
};

void PrintTo(const ConfigErrorCase& c, std::ostream* os) { *os << c.name; }

constexpr std::string_view kSrc = "src.toml";

// The error is expected at `marker` (its nth occurrence), `col_offset` columns to the right.
ConfigErrorCase at(std::string name, std::string text, std::string_view marker,
                   std::string mention, int nth = 1, int col_offset = 0) {
  std::string prefix = where(kSrc, text, marker, nth, col_offset);
  return {std::move(name), std::move(text), std::move(prefix), std::move(mention)};
}

std::vector<ConfigErrorCase> errorCases() {
  std::vector<ConfigErrorCase> v;
  // Unknown keys are reported where the key is.
  v.push_back(at("UnknownServerKey", fullWith("[server]\n", "[server]\nbogus = 1\n"), "bogus",
                 "bogus"));
  v.push_back(at("UnknownAdminKey", fullWith("[admin]\n", "[admin]\nbogus_admin = 1\n"),
                 "bogus_admin", "bogus_admin"));
  v.push_back(at("UnknownLogKey", fullWith("[log]\n", "[log]\ncolour = true\n"), "colour",
                 "colour"));
  v.push_back(at("UnknownUpstreamKey",
                 fullWith("[upstream.backend]\n", "[upstream.backend]\nretries = 3\n"), "retries",
                 "retries"));
  v.push_back(at("UnknownRouteKey",
                 fullWith("name = \"health\"\n", "name = \"health\"\nbogus_route = 1\n"),
                 "bogus_route", "bogus_route"));
  v.push_back(at("UnknownL2Key", std::string(kFullConfig) + "[cache.l2]\nredis = \"redis://127.0.0.1\"\npool = 4\n",
                 "pool", "pool"));
  v.push_back(at("L2BadScheme", std::string(kFullConfig) + "[cache.l2]\nredis = \"http://127.0.0.1:6379\"\n",
                 "\"http://127.0.0.1:6379", "redis://"));
  v.push_back(at("L2BadPort", std::string(kFullConfig) + "[cache.l2]\nredis = \"redis://127.0.0.1:99999/0\"\n",
                 "\"redis://", "port"));
  v.push_back(at("L2BadDb", std::string(kFullConfig) + "[cache.l2]\nredis = \"redis://127.0.0.1/zero\"\n",
                 "\"redis://", "database"));
  v.push_back(at("L2TimeoutTooLong", std::string(kFullConfig) + "[cache.l2]\nredis = \"redis://h\"\ntimeout = \"30s\"\n",
                 "\"30s\"", "timeout"));
  v.push_back(at("L2NotATable", std::string(kFullConfig) + "[cache]\nl2 = \"redis://h\"\n", "l2", "l2"));
  v.push_back(at("UnknownTopLevelTable", std::string(kFullConfig) + "[bogus]\nx = 1\n", "bogus",
                 "bogus"));
  v.push_back(at("UnknownTopLevelKey", "verbose = true\n" + std::string(kFullConfig), "verbose",
                 "verbose"));
  // Bad values are reported where the value is.
  v.push_back(at("WrongTypeWorkers", fullWith("workers = 2", "workers = \"two\""), "\"two\"",
                 "workers"));
  v.push_back(at("NegativeWorkers", fullWith("workers = 2", "workers = -1"), "-1", "workers"));
  v.push_back(at("WrongTypeListen", fullWith("listen = \"127.0.0.1:0\"", "listen = 8080"),
                 "8080", "listen"));
  v.push_back(at("WrongTypeToken", fullWith("token = \"secret\"", "token = 5"), "5\n", "token"));
  v.push_back(at("BadSize", fullWith("\"10MiB\"", "\"10 parsecs\""), "\"10 parsecs\"",
                 "max_body_bytes"));
  v.push_back(at("BadSizeUnit", fullWith("\"16KiB\"", "\"16XB\""), "\"16XB\"",
                 "max_header_bytes"));
  v.push_back(at("BadDuration", fullWith("idle_timeout = \"5s\"", "idle_timeout = \"5 weeks\""),
                 "\"5 weeks\"", "idle_timeout"));
  v.push_back(at("BadUpstreamDuration", fullWith("\"1s\"", "\"soon\""), "\"soon\"",
                 "connect_timeout"));
  v.push_back(at("BadListenMissingPort", fullWith("\"127.0.0.1:0\"", "\"127.0.0.1\""),
                 "\"127.0.0.1\"", "listen"));
  v.push_back(at("BadListenPortRange", fullWith("\"127.0.0.1:0\"", "\"127.0.0.1:70000\""),
                 "\"127.0.0.1:70000\"", "listen"));
  v.push_back(at("BadAdminListen",
                 fullWith("[admin]\nlisten = \"127.0.0.1:0\"", "[admin]\nlisten = \"nope\""),
                 "\"nope\"", "listen"));
  v.push_back(at("BadLogLevel", fullWith("\"debug\"", "\"loud\""), "\"loud\"", "level"));
  v.push_back(at("RouteUnknownUpstream",
                 fullWith("prefix = \"/api/\"\nupstream = \"backend\"",
                          "prefix = \"/api/\"\nupstream = \"nowhere\""),
                 "\"nowhere\"", "nowhere"));
  v.push_back(at("DuplicateRouteName", fullWith("name = \"health\"", "name = \"api\""),
                 "\"api\"", "api", 2));
  v.push_back(at("UrlBadScheme",
                 fullWith("\"http://127.0.0.1:8000\"", "\"ftp://127.0.0.1:8000\""),
                 "\"ftp://", "url"));
  v.push_back(at("UrlWithoutScheme", fullWith("\"http://127.0.0.1:8000\"", "\"127.0.0.1:8000\""),
                 "\"127.0.0.1:8000\"", "url"));
  v.push_back(at("UrlWithQuery",
                 fullWith("\"http://127.0.0.1:8000\"", "\"http://127.0.0.1:8000/?x=1\""),
                 "\"http://127.0.0.1:8000/?x=1\"", "url"));
  v.push_back(at("UrlWithoutHost", fullWith("\"http://127.0.0.1:8000\"", "\"http://\""),
                 "\"http://\"", "url"));
  v.push_back(at("RoutePrefixNotAbsolute", fullWith("\"/api/\"", "\"api/\""), "\"api/\"",
                 "'api'"));
  v.push_back(at("HostHeaderModeInvalid", fullWith("host_header = \"upstream\"", "host_header = \"a/b\""),
                 "\"a/b\"", "host_header"));
  v.push_back(at("MaxHeadersZero", fullWith("max_headers = 50", "max_headers = 0"),
                 "max_headers = 0", "max_headers", 1, 14));
  v.push_back(at("ServerNotATable", "server = 5\n" + std::string(kMinimalConfig), "5\n", "server"));
  // Errors about a whole table are reported at its header.
  v.push_back(at("RouteWithoutUpstream",
                 fullWith("path = \"/health\"\nupstream = \"backend\"\n", "path = \"/health\"\n"),
                 "[[route]]", "upstream", 2));
  v.push_back(at("RouteWithoutName", fullWith("name = \"health\"\n", ""), "[[route]]", "name",
                 2));
  v.push_back(at("RouteWithPrefixAndPath",
                 fullWith("path = \"/health\"\n", "path = \"/health\"\nprefix = \"/h\"\n"),
                 "[[route]]", "prefix", 2));
  v.push_back(at("RouteWithoutPrefixOrPath", fullWith("path = \"/health\"\n", ""), "[[route]]",
                 "prefix", 2));
  v.push_back(at("UpstreamWithoutUrl", fullWith("url = \"http://127.0.0.1:8000\"\n", ""),
                 "[upstream.backend]", "url"));
  // [compression] and the per-route cache header settings.
  const std::string compression = std::string(kFullConfig) + "[compression]\n";
  v.push_back(at("UnknownCompressionKey", compression + "gzip_level = 3\n", "gzip_level", "gzip_level"));
  v.push_back(at("CompressionLevelRange", compression + "level = 10\n", "10\n", "level"));
  v.push_back(at("CompressionStreamLevelRange", compression + "stream_level = 0\n", "stream_level = 0", "stream_level",
                 1, 15));
  v.push_back(at("CompressionEnabledType", compression + "enabled = \"yes\"\n", "\"yes\"", "enabled"));
  v.push_back(at("CompressionMinBytes", compression + "min_bytes = \"big\"\n", "\"big\"", "min_bytes"));
  v.push_back(at("CompressionTypesNotArray", compression + "types = \"text/html\"\n", "\"text/html\"", "types"));
  v.push_back(at("CompressionTypeInvalid", compression + "types = [\"text/html\", \"html\"]\n", "\"html\"", "media type"));
  v.push_back(at("RouteCompressionType", fullWith("name = \"health\"\n", "name = \"health\"\ncompression = 1\n"),
                 "1\n", "compression"));
  v.push_back(at("RouteCacheControlInvalid",
                 fullWith("name = \"health\"\n", "name = \"health\"\ncache_control = \"max-age=soon\"\n"),
                 "\"max-age=soon\"", "cache_control"));
  v.push_back(at("RouteCacheControlEmpty",
                 fullWith("name = \"health\"\n", "name = \"health\"\ncache_control = \"\"\n"), "\"\"\n",
                 "cache_control"));
  v.push_back(at("RouteCacheControlMode",
                 fullWith("name = \"health\"\n",
                          "name = \"health\"\ncache_control = \"max-age=5\"\ncache_control_mode = \"replace\"\n"),
                 "\"replace\"", "cache_control_mode"));
  v.push_back(at("RouteCacheControlModeAlone",
                 fullWith("name = \"health\"\n", "name = \"health\"\ncache_control_mode = \"add\"\n"),
                 "\"add\"", "needs 'cache_control'"));
  v.push_back(at("RouteEtagType", fullWith("name = \"health\"\n", "name = \"health\"\netag = \"strong\"\n"),
                 "\"strong\"", "etag"));
  // TOML syntax errors carry toml++'s position.
  {
    std::string text = fullWith("workers = 2", "workers = ");
    v.push_back({"TomlMissingValue", text, lineCol(kSrc, 3, 11), ""});
  }
  {
    std::string text = fullWith("workers = 2", "workers = 2\nworkers = 3");
    v.push_back({"TomlDuplicateKey", text, lineCol(kSrc, 4, 11), ""});
  }
  {
    std::string text = fullWith("[log]", "[log");
    v.push_back({"TomlUnclosedTableHeader", text, lineCol(kSrc, 17, 5), ""});
  }
  return v;
}

class ConfigError : public ::testing::TestWithParam<ConfigErrorCase> {};

TEST_P(ConfigError, ReportsPositionAndKey) {
  const ConfigErrorCase& c = GetParam();
  ConfigResult r = loadConfigString(c.text, std::string(kSrc));
  ASSERT_FALSE(r) << "accepted:\n" << c.text;
  EXPECT_EQ(r.config, nullptr);
  EXPECT_PRED2(startsWith, r.error, c.prefix);
  EXPECT_GT(r.error.size(), c.prefix.size()) << "no message after the position";
  if (!c.mention.empty()) {
    EXPECT_NE(r.error.find(c.mention), std::string::npos)
        << "message does not mention '" << c.mention << "': " << r.error;
  }
}

INSTANTIATE_TEST_SUITE_P(Config, ConfigError, ::testing::ValuesIn(errorCases()),
                         [](const ::testing::TestParamInfo<ConfigErrorCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(ConfigLoad, L2OffByDefaultAndParsedFromItsUrl) {
  ConfigResult plain = loadConfigString(kFullConfig, "src.toml");
  ASSERT_TRUE(plain) << plain.error;
  EXPECT_FALSE(plain.config->section<L2Config>().enabled());

  ConfigResult r = loadConfigString(std::string(kFullConfig) +
                                        "[cache.l2]\nredis = \"redis://:s3cret@[::1]:6380/3\"\ntimeout = \"20ms\"\n"
                                        "key_prefix = \"shop:\"\nmax_pending = 10\nbroadcast_route_toggles = false\n",
                                    "src.toml");
  ASSERT_TRUE(r) << r.error;
  const L2Config& l2 = r.config->section<L2Config>();
  EXPECT_TRUE(l2.enabled());
  EXPECT_EQ(l2.host, "::1");
  EXPECT_EQ(l2.port, 6380);
  EXPECT_EQ(l2.password, "s3cret");
  EXPECT_EQ(l2.db, 3u);
  EXPECT_EQ(l2.timeout, Millis(20));
  EXPECT_EQ(l2.connect_timeout, Millis(500));
  EXPECT_EQ(l2.key_prefix, "shop:");
  EXPECT_EQ(l2.max_pending, 10u);
  EXPECT_FALSE(l2.broadcast_route_toggles);

  L2Config unix_socket;
  EXPECT_EQ(parseRedisUrl("unix:///run/redis/redis.sock?db=2", unix_socket), "");
  EXPECT_EQ(unix_socket.socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(unix_socket.db, 2u);
  L2Config defaults;
  EXPECT_EQ(parseRedisUrl("redis://cache.internal", defaults), "");
  EXPECT_EQ(defaults.host, "cache.internal");
  EXPECT_EQ(defaults.port, 6379);
  EXPECT_EQ(defaults.db, 0u);
  L2Config bad;
  EXPECT_NE(parseRedisUrl("redis://", bad), "");
  EXPECT_NE(parseRedisUrl("redis://user:pw@h", bad), "");
  EXPECT_NE(parseRedisUrl("unix://relative.sock", bad), "");
  EXPECT_NE(parseRedisUrl("redis://h:0", bad), "");
}

// ---------------------------------------------------------------------------------------------
// parseSize / parseDuration / parseListenAddress.

TEST(ConfigParseSize, Good) {
  EXPECT_EQ(parseSize("0"), 0u);
  EXPECT_EQ(parseSize("1024"), 1024u);
  EXPECT_EQ(parseSize("1KB"), 1000u);
  EXPECT_EQ(parseSize("1KiB"), 1024u);
  EXPECT_EQ(parseSize("64KiB"), 65536u);
  EXPECT_EQ(parseSize("2MB"), 2'000'000u);
  EXPECT_EQ(parseSize("256MiB"), 256ull * 1024 * 1024);
  EXPECT_EQ(parseSize("1GiB"), 1024ull * 1024 * 1024);
  EXPECT_EQ(parseSize("18446744073709551615"), UINT64_MAX);
}

TEST(ConfigParseSize, Bad) {
  EXPECT_FALSE(parseSize(""));
  EXPECT_FALSE(parseSize("MiB"));
  EXPECT_FALSE(parseSize("12XB"));
  EXPECT_FALSE(parseSize("-1"));
  EXPECT_FALSE(parseSize("-1KiB"));
  EXPECT_FALSE(parseSize("1 2"));
  EXPECT_FALSE(parseSize("ten"));
  EXPECT_FALSE(parseSize("0x10"));
  EXPECT_FALSE(parseSize("18446744073709551616"));  // 2^64
  EXPECT_FALSE(parseSize("99999999999999999999"));
  EXPECT_FALSE(parseSize("18446744073709551615GiB"));
  EXPECT_FALSE(parseSize("17179869184GiB"));  // 2^64 bytes exactly
}

TEST(ConfigParseDuration, Good) {
  EXPECT_EQ(parseDuration("0s"), milliseconds(0));
  EXPECT_EQ(parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(parseDuration("30s"), milliseconds(30'000));
  EXPECT_EQ(parseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3'600'000));
}

TEST(ConfigParseDuration, Bad) {
  EXPECT_FALSE(parseDuration(""));
  EXPECT_FALSE(parseDuration("s"));
  EXPECT_FALSE(parseDuration("ms"));
  EXPECT_FALSE(parseDuration("10x"));
  EXPECT_FALSE(parseDuration("-1s"));
  EXPECT_FALSE(parseDuration("1d2"));
  EXPECT_FALSE(parseDuration("5 weeks"));
  EXPECT_FALSE(parseDuration("99999999999999999999h"));
  EXPECT_FALSE(parseDuration("18446744073709551615h"));
}

TEST(ConfigParseListenAddress, Good) {
  auto a = parseListenAddress("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->toString(), "127.0.0.1:8080");

  a = parseListenAddress("[::1]:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->toString(), "[::1]:8080");

  a = parseListenAddress("0.0.0.0:0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 0);

  a = parseListenAddress("localhost:65535");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 65535);

  a = parseListenAddress("[::]:443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::");
  EXPECT_EQ(a->port, 443);
}

TEST(ConfigParseListenAddress, Bad) {
  EXPECT_FALSE(parseListenAddress(""));
  EXPECT_FALSE(parseListenAddress("127.0.0.1"));
  EXPECT_FALSE(parseListenAddress("127.0.0.1:"));
  EXPECT_FALSE(parseListenAddress("127.0.0.1:70000"));
  EXPECT_FALSE(parseListenAddress("127.0.0.1:65536"));
  EXPECT_FALSE(parseListenAddress("127.0.0.1:-1"));
  EXPECT_FALSE(parseListenAddress("127.0.0.1:80a"));
  EXPECT_FALSE(parseListenAddress("127.0.0.1:99999999999999999999"));
  EXPECT_FALSE(parseListenAddress("[::1]"));
  EXPECT_FALSE(parseListenAddress("[::1]:"));
  EXPECT_FALSE(parseListenAddress("[::1:8080"));
}

}  // namespace
}  // namespace perfgate
