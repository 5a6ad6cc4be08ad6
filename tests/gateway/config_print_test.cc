// Unit tests for the effective-config printer (gateway/config/print.h): every key is printed with
// the value in force, the text loads back to the same config, and the printer, the loader and
// README's configuration table name the same keys.
#include "gateway/config/print.h"

#include "filters/cache/cache_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace perfgate {
namespace {

// Every key the loader accepts, none at its default, written the way the printer writes it.
const char* const kEveryKey = R"([server]
listen = "127.0.0.1:18080"
workers = 3
max_connections = 500
header_timeout = "3s"
idle_timeout = "2m"
request_timeout = "45s"
send_timeout = "1500ms"
drain_timeout = "1h"
io_uring = false
max_request_line = "4KiB"
max_header_bytes = "64KiB"
max_headers = 64
max_body_bytes = 1000
merge_slashes = false
forward_path = "normalized"
request_id_header = "X-Correlation-Id"

[admin]
listen = "[::1]:19901"
token = "s3cr\"et\\\t\u001B\u007Fé"

[log]
level = "warn"
access_log = "/var/log/perfgate/access.jsonl"
access_log_format = "json"
access_log_fields = ["time", "status", "request_id"]
access_log_sample_percent = 50

[cache]
max_bytes = "1GiB"
max_object_bytes = "512KiB"
targeted_fields = ["Perfgate-Cache-Control", "CDN-Cache-Control"]
forward_targeted_fields = false

[cache.l2]
redis = "redis://:pw@10.0.0.5:6380/2"
timeout = "80ms"
connect_timeout = "2s"
reconnect_max = "10s"
key_prefix = "site-a:"
max_pending = 500
broadcast_route_toggles = false

[compression]
enabled = false
codings = ["br", "gzip"]
level = 9
stream_level = 3
br_level = 9
br_stream_level = 2
zstd_level = 12
zstd_stream_level = 5
background_threads = 2
background_queue = 16
min_bytes = 1000
types = ["text/html", "application/json"]

[metrics]
enabled = false
listen = "0.0.0.0:9902"
jsonl_path = "/var/log/perfgate/metrics.jsonl"
interval = "30s"
jsonl_max_bytes = "16MiB"
jsonl_max_files = 5

[tracing]
otlp_endpoint = "http://127.0.0.1:4318/v1/traces"
service_name = "edge"
sample_percent = 25
batch_size = 100
flush_interval = "500ms"
max_queue = 1000
export_timeout = "1s"

[upstream.app]
url = "http://127.0.0.1:8000/base"
max_connections = 16
max_idle_connections = 4
connect_timeout = "250ms"
response_timeout = "5s"
host_header = "www.example.com"
trust_bodiless_length = true
trust_forwarded = true

[upstream."cdn origin"]
url = "https://cdn.example.com"
max_connections = 8
max_idle_connections = 0
connect_timeout = "1s"
response_timeout = "90s"
host_header = "upstream"
trust_bodiless_length = false
trust_forwarded = false
tls_ca_file = "/etc/ssl/ca.pem"

[[route]]
name = "api"
prefix = "/api/"
upstream = "app"
cache = false
ttl = "30s"
ttl_override = "10s"
stale_if_error = "5m"
heuristic_freshness = true
allow_cookies = true
ignore_client_no_cache = true
partial_content = true
store_post_responses = true
compression = false
cache_control = "public, max-age=300"
cache_control_mode = "override"
etag = true
server_timing = true
allow_trace = true

[[route]]
name = "logo"
path = "/logo.png"
upstream = "cdn origin"
cache = true
ttl = "24h"
ttl_override = "1h"
stale_if_error = "1500ms"
heuristic_freshness = false
allow_cookies = false
ignore_client_no_cache = false
partial_content = false
store_post_responses = false
compression = true
etag = false
server_timing = false
allow_trace = false
)";

// TOML text as "section -> its `key = value` lines": "[server]", "[upstream.app]", and
// "[[route]]#1", "[[route]]#2"... for array tables. Comments and blank lines are dropped.
std::map<std::string, std::set<std::string>> keyLines(const std::string& toml) {
  std::map<std::string, std::set<std::string>> sections;
  std::map<std::string, int> array_counts;
  std::string section = "(top)";
  std::istringstream in(toml);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("[[", 0) == 0) {
      section = line + "#" + std::to_string(++array_counts[line]);
    } else if (line[0] == '[') {
      section = line;
    } else {
      size_t comment = line.find("  # ");
      sections[section].insert(line.substr(0, comment));
    }
  }
  return sections;
}

// "[server]" -> "server", "[upstream.NAME]" / "[upstream.\"x\"]" -> "upstream", "[[route]]#2" -> "route".
std::string sectionKind(const std::string& section) {
  size_t start = section.find_first_not_of('[');
  size_t end = section.find_first_of(".]", start);
  return section.substr(start, end - start);
}

// "kind key" for every key line of `toml`.
std::set<std::string> keyNames(const std::string& toml) {
  std::set<std::string> names;
  for (const auto& [section, lines] : keyLines(toml)) {
    for (const std::string& line : lines) names.insert(sectionKind(section) + " " + line.substr(0, line.find(" = ")));
  }
  return names;
}

std::string printed(const std::string& toml) {
  ConfigResult result = loadConfigString(toml, "every.toml");
  EXPECT_TRUE(result) << result.error;
  return result ? printConfig(*result.config) : "";
}

TEST(ConfigPrintTest, EveryKeyIsPrintedWithItsValue) {
  auto expected = keyLines(kEveryKey);
  auto actual = keyLines(printed(kEveryKey));
  EXPECT_EQ(actual, expected);
}

TEST(ConfigPrintTest, PrintedTextLoadsBackToTheSameConfig) {
  std::string first = printed(kEveryKey);
  // Loaded under the same file name, so that the first line (naming the file) matches too.
  ConfigResult again = loadConfigString(first, "every.toml");
  ASSERT_TRUE(again) << again.error << "\n" << first;
  // Same config: same printout, and the values the printer formats in its own ways.
  EXPECT_EQ(printConfig(*again.config), first);
  EXPECT_EQ(again.config->admin.token, "s3cr\"et\\\t\x1b\x7f\xc3\xa9");
  EXPECT_EQ(again.config->server.max_body_bytes, 1000u);
  EXPECT_EQ(again.config->server.send_timeout, Millis(1500));
  EXPECT_EQ(again.config->admin.listen.host, "::1");
  ASSERT_EQ(again.config->upstreams.size(), 2u);
  EXPECT_EQ(again.config->upstreams[1].name, "cdn origin");
  EXPECT_EQ(again.config->upstreams[0].host_mode, HostHeaderMode::Fixed);
  EXPECT_EQ(again.config->upstreams[0].host_value, "www.example.com");
  EXPECT_EQ(again.config->routes[1].path, "/logo.png");
  EXPECT_EQ(again.config->routes[1].settings<CacheRouteSettings>().ttl, Millis(24 * 3'600'000));
}

TEST(ConfigPrintTest, DefaultsAreFilledIn) {
  const char* minimal = R"([upstream.app]
url = "http://127.0.0.1:8000"
[[route]]
name = "all"
prefix = "/"
upstream = "app"
)";
  std::string text = printed(minimal);
  auto lines = keyLines(text);
  EXPECT_TRUE(lines["[server]"].count("listen = \"0.0.0.0:8080\"")) << text;
  EXPECT_TRUE(lines["[server]"].count("workers = 0")) << text;
  EXPECT_TRUE(lines["[server]"].count("header_timeout = \"10s\"")) << text;
  EXPECT_TRUE(lines["[server]"].count("max_body_bytes = \"64MiB\"")) << text;
  EXPECT_TRUE(lines["[admin]"].count("listen = \"127.0.0.1:9901\"")) << text;
  EXPECT_TRUE(lines["[cache]"].count("max_bytes = \"256MiB\"")) << text;
  EXPECT_TRUE(lines["[upstream.app]"].count("connect_timeout = \"2s\"")) << text;
  EXPECT_TRUE(lines["[[route]]#1"].count("cache = true")) << text;
  // Unset optional keys are named in comments; tls_ca_file only exists for https upstreams.
  EXPECT_NE(text.find("# ttl: not set\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("tls_ca_file"), std::string::npos) << text;
  ConfigResult again = loadConfigString(text, "every.toml");
  ASSERT_TRUE(again) << again.error;
  EXPECT_EQ(printConfig(*again.config), text);
  EXPECT_FALSE(again.config->routes[0].settings<CacheRouteSettings>().ttl.has_value());
}

TEST(ConfigPrintTest, DropInConfigRoundTrips) {
  ConfigResult drop_in = makeDropInConfig("http://127.0.0.1:8000");
  ASSERT_TRUE(drop_in) << drop_in.error;
  std::string text = printConfig(*drop_in.config);
  EXPECT_NE(text.find("drop-in"), std::string::npos) << text;
  ConfigResult again = loadConfigString(text, "printed.toml");
  ASSERT_TRUE(again) << again.error << "\n" << text;
  EXPECT_EQ(keyLines(printConfig(*again.config)), keyLines(text));
}

TEST(ConfigPrintTest, QuotesStringsAsToml) {
  EXPECT_EQ(tomlQuote("plain"), "\"plain\"");
  EXPECT_EQ(tomlQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(tomlQuote("\b\t\n\f\r"), "\"\\b\\t\\n\\f\\r\"");
  EXPECT_EQ(tomlQuote(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001F\\u007F\"");
  EXPECT_EQ(tomlQuote(std::string("\0", 1)), "\"\\u0000\"");
  EXPECT_EQ(tomlQuote("\xc3\xa9"), "\"\xc3\xa9\"");
}

// README's configuration table, the printer and the full config above name the same keys, so a key
// added to the loader without a README row or a printer line fails here (kEveryKey has every key
// the loader accepts: EveryKeyIsPrintedWithItsValue shows it prints back whole).
TEST(ConfigPrintTest, ReadmeTableListsExactlyThePrintedKeys) {
  std::ifstream readme(PERFGATE_SOURCE_DIR "/README.md");
  ASSERT_TRUE(readme) << "cannot read README.md";
  std::set<std::string> documented;
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind("| `[", 0) != 0) continue;
    std::string cell = line.substr(2, line.find(" |", 2) - 2);
    std::string kind;
    for (size_t open = cell.find('`'); open != std::string::npos; open = cell.find('`', open)) {
      size_t close = cell.find('`', open + 1);
      std::string token = cell.substr(open + 1, close - open - 1);
      if (token[0] == '[') {
        size_t space = token.rfind(' ');
        kind = sectionKind(token.substr(0, space));
        token = token.substr(space + 1);
      }
      documented.insert(kind + " " + token);
      open = close + 1;
    }
  }
  EXPECT_EQ(documented, keyNames(printed(kEveryKey)));
}

// The keys the loader accepts: every key of every section in the schema (the core's and the
// modules').
std::set<std::string> loaderKeys() {
  std::set<std::string> keys;
  for (const SectionSpec& spec : configSchema().sections()) {
    std::string kind = spec.scope == Scope::Upstream ? "upstream"
                       : spec.scope == Scope::Route  ? "route"
                                                     : sectionKind("[" + spec.name + "]");
    for (const KeySpec& key : spec.keys) keys.insert(kind + " " + key.name);
  }
  return keys;
}

// kEveryKey sets every key the loader accepts, so the tests above cover all of them.
TEST(ConfigPrintTest, EveryKeyCoversTheLoader) {
  std::set<std::string> loader = loaderKeys();
  EXPECT_GE(loader.size(), 30u) << "the schema declares too few keys";
  EXPECT_EQ(loader, keyNames(kEveryKey));
}

}  // namespace
}  // namespace perfgate
