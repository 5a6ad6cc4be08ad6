// What ops read about each request: the request id (kept from the client when acceptable, else a
// UUIDv7; sent upstream, returned, logged, on errors and cache hits too) and the access log's
// formats (JSON with selectable fields, nginx's combined, a template), its sampling, and its
// reopening on SIGUSR1 after logrotate moved the file.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::regex kUuidV7("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");

std::vector<std::string> lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The log's lines once it holds at least `count` (the writer is asynchronous), within 5 s.
std::vector<std::string> waitForLines(const std::string& path, size_t count) {
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  std::vector<std::string> got;
  while ((got = lines(path)).size() < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  return got;
}

TEST_F(GatewayTest, RequestIdsAreKeptOrMadeAndTravelEveryWay) {
  TempDir logs;
  GatewayConfig config = baseConfig();
  config.access_log = logs.file("access.jsonl");
  config.upstream["response_timeout"] = "\"300ms\"";
  ASSERT_TRUE(startGateway(config));

  HttpResponse given = get("/echo?a=1", {{"X-Request-Id", "req-42.abc"}});
  EXPECT_EQ(given.header("X-Request-Id"), "req-42.abc");
  EXPECT_EQ(backend_.requestsTo("/echo?a=1").at(0).header("X-Request-Id"), "req-42.abc");

  HttpResponse made = get("/echo?a=2");
  std::string id = made.header("X-Request-Id");
  EXPECT_TRUE(std::regex_match(id, kUuidV7)) << id;
  EXPECT_EQ(backend_.requestsTo("/echo?a=2").at(0).header("X-Request-Id"), id);

  // A value that could break a log line or a header is replaced, not passed on.
  HttpResponse replaced = get("/echo?a=3", {{"X-Request-Id", "a b\"c"}});
  EXPECT_TRUE(std::regex_match(replaced.header("X-Request-Id"), kUuidV7)) << replaced.header("X-Request-Id");
  EXPECT_EQ(backend_.requestsTo("/echo?a=3").at(0).header("X-Request-Id"), replaced.header("X-Request-Id"));

  // A cache hit and the gateway's own 504 carry one as well.
  const std::string cached = "/cache/id?cc=" + urlEncode("max-age=60");
  get(cached);
  HttpResponse hit = get(cached, {{"X-Request-Id", "hit-1"}});
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_EQ(hit.header("X-Request-Id"), "hit-1");
  HttpResponse timeout = get("/delay/2000", {{"X-Request-Id", "slow-1"}});
  EXPECT_EQ(timeout.status, 504);
  EXPECT_EQ(timeout.header("X-Request-Id"), "slow-1");

  std::vector<std::string> logged = waitForLines(config.access_log, 6);
  ASSERT_GE(logged.size(), 6u);
  nlohmann::json first = nlohmann::json::parse(logged[0]);
  EXPECT_EQ(first["request_id"], "req-42.abc");
  EXPECT_EQ(first["query"], "a=1");
  EXPECT_EQ(first["protocol"], "HTTP/1.1");
  EXPECT_EQ(first["upstream"], "backend");
  EXPECT_EQ(first["upstream_addr"], "127.0.0.1:" + std::to_string(backend_.port()));
  nlohmann::json last = nlohmann::json::parse(logged.back());
  EXPECT_EQ(last["request_id"], "slow-1");
  EXPECT_EQ(last["status"], 504);
  nlohmann::json hit_line = nlohmann::json::parse(logged[logged.size() - 2]);
  EXPECT_EQ(hit_line["cache"], "hit");
  EXPECT_FALSE(hit_line.contains("upstream")) << "a hit involved no upstream: " << hit_line.dump();
}

TEST_F(GatewayTest, AccessLogFormatsFieldsAndSampling) {
  TempDir logs;
  GatewayConfig config = baseConfig();
  config.access_log = logs.file("combined.log");
  config.extra = "";  // [log] keys go with access_log: see below
  std::string toml = config.toToml();
  toml.replace(toml.find("access_log = "), 0, "access_log_format = \"combined\"\n");
  ASSERT_TRUE(startGatewayToml(toml));
  get("/echo?q=1", {{"User-Agent", "curl/8.0 \"quoted\""}, {"Referer", "http://ref.example/"}});
  std::vector<std::string> combined = waitForLines(config.access_log, 1);
  ASSERT_EQ(combined.size(), 1u);
  std::regex line(R"re(127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /echo\?q=1 HTTP/1\.1" 200 \d+ "http://ref\.example/" "curl/8\.0 \\x22quoted\\x22")re");
  EXPECT_TRUE(std::regex_match(combined[0], line)) << combined[0];
  gateway_.reset();

  // A template, and JSON with chosen fields; sampling keeps every 5xx.
  TempDir more;
  GatewayConfig templated = baseConfig();
  templated.access_log = more.file("t.log");
  toml = templated.toToml();
  toml.replace(toml.find("access_log = "), 0,
               "access_log_format = \"$request_id $status $cache_status $upstream_response_time rt=$request_time\"\n");
  ASSERT_TRUE(startGatewayToml(toml));
  get("/echo", {{"X-Request-Id", "t-1"}});
  std::vector<std::string> got = waitForLines(templated.access_log, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(std::regex_match(got[0], std::regex(R"(t-1 200 (miss|bypass|-) \d+\.\d{3} rt=\d+\.\d{3})"))) << got[0];
  gateway_.reset();

  GatewayConfig sampled = baseConfig();
  sampled.access_log = more.file("s.jsonl");
  toml = sampled.toToml();
  toml.replace(toml.find("access_log = "), 0,
               "access_log_fields = [\"status\", \"request_id\"]\naccess_log_sample_percent = 10\n");
  ASSERT_TRUE(startGatewayToml(toml));
  for (int i = 0; i < 100; ++i) get("/echo?n=" + std::to_string(i));
  for (int i = 0; i < 3; ++i) get("/status/503");
  gateway_->signal(SIGTERM);
  gateway_->waitExit(seconds(10));
  std::vector<std::string> kept = lines(sampled.access_log);
  int ok = 0;
  int errors = 0;
  for (const std::string& l : kept) {
    nlohmann::json j = nlohmann::json::parse(l);
    EXPECT_EQ(j.size(), 2u) << "only the chosen fields: " << l;
    (j["status"] == 503 ? errors : ok) += 1;
  }
  EXPECT_EQ(errors, 3) << "every 5xx is logged";
  EXPECT_GE(ok, 5);
  EXPECT_LE(ok, 15) << "about 10% of the rest";
}

TEST_F(GatewayTest, AccessLogIsReopenedOnSigusr1AfterARename) {
  TempDir logs;
  GatewayConfig config = baseConfig();
  config.access_log = logs.file("access.jsonl");
  ASSERT_TRUE(startGateway(config));
  get("/echo?before");
  ASSERT_EQ(waitForLines(config.access_log, 1).size(), 1u);
  std::filesystem::rename(config.access_log, logs.file("access.jsonl.1"));
  ASSERT_TRUE(gateway_->signal(SIGUSR1));
  // The reopen happens on the log's writer thread; the file appears once it has.
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (!std::filesystem::exists(config.access_log) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  get("/echo?after");
  std::vector<std::string> fresh = waitForLines(config.access_log, 1);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_NE(fresh[0].find("/echo"), std::string::npos);
  EXPECT_NE(fresh[0].find("\"query\":\"after\""), std::string::npos) << fresh[0];
  EXPECT_EQ(lines(logs.file("access.jsonl.1")).size(), 1u);
  EXPECT_TRUE(gateway_->signal(0)) << "SIGUSR1 must not end the process";
}

TEST(AccessLogConfigTest, UnknownVariablesAndFieldsAreConfigErrors) {
  for (const char* bad : {"access_log_format = \"$status $nonsense\"", "access_log_fields = [\"status\", \"bogus\"]"}) {
    SCOPED_TRACE(bad);
    std::string toml = "[log]\naccess_log = \"/tmp/x.log\"\n" + std::string(bad) +
                       "\n[upstream.b]\nurl = \"http://127.0.0.1:9\"\n[[route]]\nname = \"a\"\nprefix = \"/\"\nupstream = \"b\"\n";
    CheckConfigResult result = checkConfig(toml);
    EXPECT_NE(result.run.status.describe(), "exit code 0");
    EXPECT_NE(result.run.err.find("check.toml:"), std::string::npos) << result.run.err;
  }
}

}  // namespace
}  // namespace perfgate::test
