// End-to-end tests of per-route timing and the monitoring side of the admin API, over real
// sockets: requests flow through a real perfgate to a TestBackend, and the admin listener's
// answers must move with them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;
using nlohmann::json;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Inserts `lines` into the [admin] table of a harness config.
std::string withAdmin(std::string toml, const std::string& lines) {
  size_t at = toml.find("[admin]\n");
  toml.insert(at + 8, lines);
  return toml;
}

class MetricsTest : public GatewayTest {
 protected:
  HttpResponse admin(const std::string& method, const std::string& target, const std::string& body = "",
                     Headers headers = {}) {
    return adminRequest(gateway_->adminPort(), method, target, body, std::move(headers));
  }

  // The metrics once settled: a worker records an exchange just after its response is written,
  // so the last response a test read may be counted a moment after the client got it.
  json adminJson(const std::string& target) {
    json j = adminJsonOnce(target);
    for (int i = 0; i < 50 && target == "/api/monitoring/metrics"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      json again = adminJsonOnce(target);
      if (again["global"]["requests"] == j["global"]["requests"]) break;
      j = std::move(again);
    }
    return j;
  }

  json adminJsonOnce(const std::string& target) {
    HttpResponse resp = admin("GET", target);
    EXPECT_EQ(resp.status, 200) << resp.summary() << " " << resp.body;
    EXPECT_EQ(resp.header("Content-Type"), "application/json");
    json j = json::parse(resp.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << resp.body;
    return j;
  }

  // `count` GETs of `target` on one keep-alive connection; all must be answered `status`.
  ::testing::AssertionResult sendMany(const std::string& target, int count, int status = 200) {
    HttpConnection conn(port());
    for (int i = 0; i < count; ++i) {
      if (!conn.send(buildRequest("GET", target))) return ::testing::AssertionFailure() << "send " << i;
      HttpResponse resp = conn.readResponse();
      if (resp.status != status) return ::testing::AssertionFailure() << "request " << i << ": " << resp.summary();
    }
    return ::testing::AssertionSuccess();
  }

  // Routes "api" (/api/, cache off) and "cached" (/cache/) to the backend; only those prefixes.
  GatewayConfig twoRoutes(bool server_timing = false) {
    GatewayConfig c = baseConfig();
    c.routes = "[[route]]\nname = \"api\"\nprefix = \"/api/\"\nupstream = \"backend\"\ncache = false\n\n"
               "[[route]]\nname = \"cached\"\nprefix = \"/cache/\"\nupstream = \"backend\"\n" +
               std::string(server_timing ? "server_timing = true\n" : "") + "\n";
    return c;
  }
};

// --- GET /api/monitoring/metrics ------------------------------------------------------------

TEST_F(MetricsTest, HundredRequestsShowAsHundredWithHonestQuantiles) {
  ASSERT_TRUE(startGateway(twoRoutes()));
  // 90 requests the backend answers after 10 ms, 10 after 100 ms.
  ASSERT_TRUE(sendMany("/api/delay/10", 90));
  ASSERT_TRUE(sendMany("/api/delay/100", 10));
  json m = adminJson("/api/monitoring/metrics");
  const json& api = m["routes"]["api"];
  EXPECT_EQ(api["requests"], 100) << api.dump();
  EXPECT_EQ(api["status"]["2xx"], 100);
  EXPECT_EQ(api["codes"]["200"], 100);
  EXPECT_EQ(api["incomplete"], 0);
  EXPECT_EQ(api["upstream"], "backend");
  EXPECT_EQ(m["routes"]["cached"]["requests"], 0);
  EXPECT_EQ(m["global"]["requests"], 100);
  EXPECT_EQ(m["upstreams"]["backend"]["requests"], 100);

  const json& up = api["latency_ms"]["upstream"];
  const json& total = api["latency_ms"]["total"];
  EXPECT_EQ(up["count"], 100);
  EXPECT_EQ(total["count"], 100);
  // The backend sleeps at least its delay, so from below the bound is the bucket error (2%);
  // the median is one of the 10 ms requests, the 99th percentile one of the 100 ms ones.
  double p50 = up["p50"].get<double>();
  EXPECT_GE(p50, 10 * 0.98) << up.dump();
  EXPECT_LT(p50, 100 * 0.98) << up.dump();
  EXPECT_GE(up["p90"].get<double>(), 10 * 0.98) << up.dump();
  EXPECT_GE(up["p99"].get<double>(), 100 * 0.98) << up.dump();
  EXPECT_GE(up["p99.9"].get<double>(), up["p99"].get<double>());
  EXPECT_GE(up["max"].get<double>(), up["p99.9"].get<double>());
  EXPECT_GE(up["max"].get<double>(), 100.0);
  // Each request's total time contains its backend time, so every quantile does too.
  for (const char* q : {"p50", "p90", "p99", "max"}) {
    EXPECT_GE(total[q].get<double>(), up[q].get<double>() * 0.97) << q << ": " << api["latency_ms"].dump();
  }
  EXPECT_GE(api["bytes"]["out"].get<uint64_t>(), 100u);
}

TEST_F(MetricsTest, StatusClassesErrorsAndUnroutedRequests) {
  GatewayConfig c = twoRoutes();
  c.upstream["response_timeout"] = "\"300ms\"";
  c.extra = "[upstream.down]\nurl = \"http://127.0.0.1:" + std::to_string(closedPort()) + "\"\n"
            "[[route]]\nname = \"dead\"\nprefix = \"/dead/\"\nupstream = \"down\"\n";
  ASSERT_TRUE(startGateway(c));
  ASSERT_TRUE(sendMany("/api/status/404", 3, 404));
  ASSERT_TRUE(sendMany("/api/status/503", 2, 503));
  ASSERT_TRUE(sendMany("/api/status/204", 1, 204));
  EXPECT_TRUE(isGatewayError(get("/api/delay/2000"), 504));  // response_timeout 300ms
  EXPECT_TRUE(isGatewayError(get("/dead/x"), 502));          // connection refused
  EXPECT_TRUE(isGatewayError(get("/nowhere"), 404));         // no route
  EXPECT_TRUE(rejects("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400));

  json m = adminJson("/api/monitoring/metrics");
  const json& api = m["routes"]["api"];
  EXPECT_EQ(api["requests"], 7) << api.dump();
  EXPECT_EQ(api["status"]["2xx"], 1);
  EXPECT_EQ(api["status"]["4xx"], 3);
  EXPECT_EQ(api["status"]["5xx"], 3);
  EXPECT_EQ(api["codes"]["504"], 1);
  EXPECT_EQ(api["errors"]["timeout"], 1);
  EXPECT_EQ(api["errors"]["refused"], 0);
  EXPECT_EQ(api["latency_ms"]["total"]["count"], 7);
  EXPECT_EQ(api["latency_ms"]["upstream"]["count"], 6);  // the timeout had no response head
  EXPECT_EQ(api["incomplete"], 0);  // a gateway error queued whole is a complete response
  const json& dead = m["routes"]["dead"];
  EXPECT_EQ(dead["requests"], 1);
  EXPECT_EQ(dead["incomplete"], 0);
  EXPECT_EQ(dead["errors"]["refused"], 1);
  EXPECT_EQ(dead["codes"]["502"], 1);
  EXPECT_EQ(m["upstreams"]["down"]["errors"]["refused"], 1);
  EXPECT_EQ(m["upstreams"]["backend"]["errors"]["timeout"], 1);

  const json& unrouted = m["unrouted"];
  EXPECT_EQ(unrouted["requests"], 2) << unrouted.dump();
  EXPECT_EQ(unrouted["codes"]["404"], 1);
  EXPECT_EQ(unrouted["codes"]["400"], 1);
  EXPECT_EQ(unrouted["errors"]["client_rejected"], 2);
  EXPECT_EQ(m["global"]["requests"], 10);
  EXPECT_EQ(m["global"]["status"]["4xx"], 5);
  EXPECT_EQ(m["global"]["errors"]["timeout"], 1);
}

TEST_F(MetricsTest, CacheOutcomesAndHitRatio) {
  ASSERT_TRUE(startGateway(twoRoutes()));
  const std::string target = "/cache/one?cc=" + urlEncode("max-age=60");
  EXPECT_EQ(get(target).header("X-Cache"), "MISS");
  EXPECT_EQ(get(target).header("X-Cache"), "HIT");
  EXPECT_EQ(get(target).header("X-Cache"), "HIT");
  EXPECT_EQ(get(target).header("X-Cache"), "HIT");
  json m = adminJson("/api/monitoring/metrics");
  const json& cached = m["routes"]["cached"];
  EXPECT_EQ(cached["requests"], 4);
  EXPECT_EQ(cached["cache"]["hit"], 3) << cached.dump();
  EXPECT_EQ(cached["cache"]["miss"], 1);
  EXPECT_DOUBLE_EQ(cached["cache"]["hit_ratio"].get<double>(), 0.75);
  EXPECT_EQ(cached["latency_ms"]["total"]["count"], 4);
  EXPECT_EQ(cached["latency_ms"]["upstream"]["count"], 1);  // hits never reach the backend
  EXPECT_EQ(m["global"]["cache"]["hit"], 3);

  // Toggled off at runtime: BYPASS, the backend sees the request, and the metrics say so.
  ASSERT_EQ(admin("PUT", "/api/cache/routes/cached", "{\"enabled\": false}").status, 200);
  size_t before = backend_.requestsFor(target);
  EXPECT_EQ(get(target).header("X-Cache"), "BYPASS");
  EXPECT_EQ(backend_.requestsFor(target), before + 1);
  m = adminJson("/api/monitoring/metrics");
  EXPECT_EQ(m["routes"]["cached"]["cache"]["bypass"], 1);
  ASSERT_EQ(admin("PUT", "/api/cache/routes/cached", "{\"enabled\": true}").status, 200);
  EXPECT_EQ(get(target).header("X-Cache"), "HIT");
}

TEST_F(MetricsTest, ServerTimingHeaderWhereTheRouteAsksForIt) {
  ASSERT_TRUE(startGateway(twoRoutes(/*server_timing=*/true)));
  const std::string target = "/cache/st?cc=" + urlEncode("max-age=60") + "&delay=20";
  HttpResponse miss = get(target);
  ASSERT_EQ(miss.status, 200);
  std::string st = miss.header("Server-Timing");
  EXPECT_TRUE(contains(st, "cache;desc=MISS, upstream;dur=")) << st;
  double dur = -1;
  ASSERT_EQ(std::sscanf(st.c_str() + st.find("dur=") + 4, "%lf", &dur), 1) << st;
  EXPECT_GE(dur, 20.0);  // the backend waited 20 ms before its head
  HttpResponse hit = get(target);
  EXPECT_EQ(hit.header("Server-Timing"), "cache;desc=HIT");
  // Not on routes that did not ask.
  EXPECT_FALSE(get("/api/echo").hasHeader("Server-Timing"));
}

TEST_F(MetricsTest, TimingSwitchedOff) {
  GatewayConfig c = twoRoutes(/*server_timing=*/true);
  c.extra = "[metrics]\nenabled = false\n";
  ASSERT_TRUE(startGateway(c));
  ASSERT_TRUE(sendMany("/api/echo", 5));
  HttpResponse resp = get("/cache/off?cc=" + urlEncode("max-age=60"));
  EXPECT_FALSE(resp.hasHeader("Server-Timing"));
  json m = adminJson("/api/monitoring/metrics");
  EXPECT_EQ(m["timing"], false);
  EXPECT_EQ(m["routes"]["api"]["requests"], 0);
  EXPECT_FALSE(m["routes"]["api"].contains("latency_ms"));
  EXPECT_EQ(m["routes"]["cached"]["cache"]["miss"], 1);  // the cache still counts its own
}

TEST_F(MetricsTest, CountersSurviveAReloadAndNewRoutesAppear) {
  ASSERT_TRUE(startGateway(twoRoutes()));
  ASSERT_TRUE(sendMany("/api/echo", 4));
  GatewayConfig next = twoRoutes();
  next.extra = "[[route]]\nname = \"more\"\nprefix = \"/more/\"\nupstream = \"backend\"\n";
  gateway_->rewriteConfig(next.toToml());
  HttpResponse ok = admin("POST", "/api/admin/reload");
  ASSERT_EQ(ok.status, 200) << ok.body;
  ASSERT_TRUE(sendMany("/more/echo", 2));
  ASSERT_TRUE(sendMany("/api/echo", 1));
  json m = adminJson("/api/monitoring/metrics");
  EXPECT_EQ(m["routes"]["api"]["requests"], 5);
  EXPECT_EQ(m["routes"]["more"]["requests"], 2);

  // A bad file: 400 with the position, the running config stays.
  gateway_->rewriteConfig(next.toToml() + "bogus = 1\n");
  HttpResponse bad = admin("POST", "/api/admin/reload");
  EXPECT_TRUE(isGatewayError(bad, 400));
  EXPECT_TRUE(contains(bad.body, gateway_->configPath() + ":")) << bad.body;
  ASSERT_TRUE(sendMany("/more/echo", 1));
  EXPECT_EQ(adminJson("/api/monitoring/metrics")["routes"]["more"]["requests"], 3);
}

// --- GET /metrics (Prometheus) ---------------------------------------------------------------

TEST_F(MetricsTest, PrometheusExpositionIsValid) {
  GatewayConfig c = twoRoutes();
  c.routes += "[[route]]\nname = \"we\\\"ird\\\\name\"\nprefix = \"/weird/\"\nupstream = \"backend\"\n";
  ASSERT_TRUE(startGateway(c));
  ASSERT_TRUE(sendMany("/api/delay/5", 20));
  ASSERT_TRUE(sendMany("/api/status/500", 2, 500));
  get("/cache/p?cc=" + urlEncode("max-age=60"));
  get("/cache/p?cc=" + urlEncode("max-age=60"));
  get("/weird/echo");
  get("/nowhere");
  HttpResponse resp = admin("GET", "/metrics");
  ASSERT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& b = resp.body;
  EXPECT_TRUE(contains(b, "perfgate_requests_total{route=\"api\",method=\"GET\",code=\"200\"} 20\n")) << b;
  EXPECT_TRUE(contains(b, "perfgate_requests_total{route=\"api\",method=\"GET\",code=\"500\"} 2\n")) << b;
  EXPECT_TRUE(contains(b, "perfgate_requests_total{route=\"_unrouted\",method=\"GET\",code=\"404\"} 1\n")) << b;
  EXPECT_TRUE(contains(b, "perfgate_requests_total{route=\"we\\\"ird\\\\name\",method=\"GET\",code=\"200\"} 1\n")) << b;
  EXPECT_TRUE(contains(b, "# TYPE perfgate_request_duration_seconds histogram\n")) << b;
  EXPECT_TRUE(contains(b, "perfgate_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 22\n")) << b;
  EXPECT_TRUE(contains(b, "perfgate_request_duration_seconds_count{route=\"api\"} 22\n")) << b;
  // Every one of the 20 requests waited >= 5 ms at the backend: none is under 2.5 ms.
  EXPECT_TRUE(contains(b, "perfgate_upstream_duration_seconds_bucket{route=\"api\",le=\"0.0025\"} 0\n") ||
              contains(b, "perfgate_upstream_duration_seconds_bucket{route=\"api\",le=\"0.0025\"} 1\n") ||
              contains(b, "perfgate_upstream_duration_seconds_bucket{route=\"api\",le=\"0.0025\"} 2\n"))
      << b;
  EXPECT_TRUE(contains(b, "perfgate_cache_requests_total{route=\"cached\",result=\"hit\"} 1\n")) << b;
  EXPECT_TRUE(contains(b, "perfgate_cache_requests_total{route=\"cached\",result=\"miss\"} 1\n")) << b;
  EXPECT_TRUE(contains(b, "\nperfgate_cache_entries 1\n")) << b;
  EXPECT_TRUE(contains(b, "\nperfgate_cache_bytes ")) << b;
  EXPECT_TRUE(contains(b, "perfgate_connections{side=\"client\"} ")) << b;
  EXPECT_TRUE(contains(b, "perfgate_connections{side=\"backend\"} ")) << b;
  EXPECT_TRUE(contains(b, "\nprocess_cpu_seconds_total ")) << b;
  EXPECT_TRUE(contains(b, "\nprocess_resident_memory_bytes ")) << b;
  EXPECT_TRUE(contains(b, "\nprocess_open_fds ")) << b;

  if (::access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package 'prometheus'; scripts/deps.sh test installs it)";
  }
  TempDir dir;
  std::string file = dir.write("metrics.txt", b);
  std::string command = "/usr/bin/promtool check metrics < " + file + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[512];
  while (size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  int rc = ::pclose(pipe);
  EXPECT_EQ(rc, 0) << "promtool check metrics failed:\n" << output;
  EXPECT_EQ(output, "") << "promtool reported problems:\n" << output;
}

// --- GET /api/monitoring/system and /health --------------------------------------------------

TEST_F(MetricsTest, SystemReportsTheProcess) {
  ASSERT_TRUE(startGateway(twoRoutes()));
  HttpConnection held(port());  // an open client connection
  ASSERT_TRUE(held.send(buildRequest("GET", "/api/echo")));
  ASSERT_EQ(held.readResponse().status, 200);
  json s = adminJson("/api/monitoring/system");
  EXPECT_TRUE(s["version"].is_string());
  EXPECT_EQ(s["pid"], gateway_->pid());
  EXPECT_EQ(s["workers"], 2);
  EXPECT_GE(s["connections"]["client"].get<int>(), 1) << s.dump();
  EXPECT_GE(s["connections"]["backend"].get<int>(), 1) << s.dump();  // kept alive after the request
  EXPECT_GT(s["memory"]["rss_bytes"].get<uint64_t>(), 1u << 20);
  EXPECT_GE(s["open_fds"].get<int>(), 4);
  EXPECT_GE(s["threads"].get<int>(), 3);  // main + 2 workers
  EXPECT_GE(s["cpu"]["user_seconds"].get<double>() + s["cpu"]["system_seconds"].get<double>(), 0.0);
  EXPECT_EQ(s["load_average"].size(), 3u);
  EXPECT_EQ(s["cache"]["entries"], 0);
  EXPECT_GT(s["cache"]["max_bytes"].get<uint64_t>(), 0u);
  // The figures are live: the fd count follows the process's own.
  int fds = gateway_->openFds();
  EXPECT_NEAR(s["open_fds"].get<int>(), fds, 4);
}

TEST_F(MetricsTest, HealthProbesEachUpstream) {
  GatewayConfig c = twoRoutes();
  c.extra = "[upstream.down]\nurl = \"http://127.0.0.1:" + std::to_string(closedPort()) + "\"\n"
            "[[route]]\nname = \"dead\"\nprefix = \"/dead/\"\nupstream = \"down\"\n";
  ASSERT_TRUE(startGateway(c));
  json h = adminJson("/api/monitoring/health");
  EXPECT_EQ(h["status"], "degraded") << h.dump();
  EXPECT_EQ(h["upstreams"]["backend"]["reachable"], true) << h.dump();
  EXPECT_EQ(h["upstreams"]["backend"]["probe"]["ok"], true);
  EXPECT_EQ(h["upstreams"]["down"]["reachable"], false);
  EXPECT_EQ(h["upstreams"]["down"]["probe"]["ok"], false);
  EXPECT_TRUE(contains(h["upstreams"]["down"]["probe"]["error"].get<std::string>(), "connect")) << h.dump();

  // Passive only: what traffic showed (nothing yet -> null), then the outcomes.
  json passive = adminJson("/api/monitoring/health?probe=0");
  EXPECT_TRUE(passive["upstreams"]["down"]["reachable"].is_null()) << passive.dump();
  EXPECT_FALSE(passive["upstreams"]["down"].contains("probe"));
  get("/dead/x");
  ASSERT_TRUE(sendMany("/api/echo", 1));
  passive = adminJson("/api/monitoring/health?probe=0");
  EXPECT_EQ(passive["upstreams"]["down"]["reachable"], false) << passive.dump();
  EXPECT_EQ(passive["upstreams"]["down"]["last_error"], "refused");
  EXPECT_EQ(passive["upstreams"]["backend"]["reachable"], true);
  EXPECT_TRUE(passive["upstreams"]["backend"]["last_success_seconds_ago"].is_number());
  EXPECT_EQ(passive["status"], "degraded");
}

TEST_F(MetricsTest, HealthIsOkWhenAllUpstreamsAnswer) {
  ASSERT_TRUE(startGateway(twoRoutes()));
  json h = adminJson("/api/monitoring/health");
  EXPECT_EQ(h["status"], "ok") << h.dump();
  EXPECT_EQ(h["upstreams"]["backend"]["probe"]["ok"], true);
  EXPECT_GE(h["uptime_seconds"].get<double>(), 0.0);
}

// --- The metrics file --------------------------------------------------------------------------

TEST_F(MetricsTest, JsonLinesFileGetsASnapshotPerInterval) {
  TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  GatewayConfig c = twoRoutes();
  c.extra = "[metrics]\njsonl_path = \"" + path + "\"\ninterval = \"200ms\"\n";
  ASSERT_TRUE(startGateway(c));
  ASSERT_TRUE(sendMany("/api/echo", 7));
  // Wait (bounded) for two lines written after the requests.
  std::vector<json> lines;
  for (int i = 0; i < 100; ++i) {
    lines.clear();
    std::istringstream in(readFile(path));
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
      lines.push_back(j);
    }
    if (lines.size() >= 2 && lines.back()["routes"]["api"]["requests"] == 7 &&
        lines[lines.size() - 2]["routes"]["api"]["requests"] == 7) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GE(lines.size(), 2u);
  const json& last = lines.back();
  EXPECT_EQ(last["routes"]["api"]["requests"], 7) << last.dump();
  EXPECT_TRUE(last["time"].is_number());
  EXPECT_GT(last["time"].get<double>(), lines[lines.size() - 2]["time"].get<double>());
  EXPECT_EQ(last["routes"]["api"]["latency_ms"]["total"]["count"], 7);
}

// --- Admin API behaviour -------------------------------------------------------------------------

TEST_F(MetricsTest, AdminErrorsAreJsonWithTheRightStatus) {
  ASSERT_TRUE(startGateway(twoRoutes()));
  EXPECT_TRUE(isGatewayError(admin("GET", "/api/nothing"), 404));
  HttpResponse wrong = admin("DELETE", "/api/cache/stats");
  EXPECT_TRUE(isGatewayError(wrong, 405));
  EXPECT_EQ(wrong.header("Allow"), "GET, HEAD");
  wrong = admin("GET", "/api/cache/clear");
  EXPECT_TRUE(isGatewayError(wrong, 405));
  EXPECT_EQ(wrong.header("Allow"), "POST");
  wrong = admin("POST", "/metrics", "{}");
  EXPECT_TRUE(isGatewayError(wrong, 405));
  wrong = admin("GET", "/api/cache/routes/api");
  EXPECT_TRUE(isGatewayError(wrong, 405));
  EXPECT_EQ(wrong.header("Allow"), "PUT");
  EXPECT_TRUE(isGatewayError(admin("POST", "/api/cache/clear", "{not json"), 400));
  EXPECT_TRUE(isGatewayError(admin("POST", "/api/cache/clear", "{\"colour\": \"red\"}"), 400));
  EXPECT_TRUE(isGatewayError(admin("POST", "/api/cache/clear", "{\"route\": \"nope\"}"), 400));
  EXPECT_TRUE(isGatewayError(admin("PUT", "/api/cache/routes/nope", "{\"enabled\": false}"), 400));
  EXPECT_TRUE(isGatewayError(admin("PUT", "/api/cache/routes/api", "{\"enabled\": false, \"x\": 1}"), 400));
  EXPECT_TRUE(isGatewayError(admin("PUT", "/api/cache/routes/api", "[1"), 400));
  HttpResponse head = request(gateway_->adminPort(), "HEAD", "/api/monitoring/metrics");
  EXPECT_EQ(head.status, 200);
}

TEST_F(MetricsTest, TokenGuardsMutatingCalls) {
  ASSERT_TRUE(startGatewayToml(withAdmin(twoRoutes().toToml(), "token = \"s3cret-token\"\n")));
  HttpResponse none = admin("POST", "/api/cache/clear", "{}");
  EXPECT_TRUE(isGatewayError(none, 401));
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer");
  EXPECT_TRUE(isGatewayError(admin("POST", "/api/cache/clear", "{}", {{"Authorization", "Bearer s3cret-tokeX"}}), 401));
  EXPECT_TRUE(isGatewayError(admin("POST", "/api/cache/clear", "{}", {{"Authorization", "Bearer s3cret"}}), 401));
  EXPECT_TRUE(isGatewayError(admin("POST", "/api/cache/clear", "{}", {{"Authorization", "Basic s3cret-token"}}), 401));
  EXPECT_TRUE(isGatewayError(admin("PUT", "/api/cache/routes/api", "{\"enabled\": true}"), 401));
  EXPECT_TRUE(isGatewayError(admin("POST", "/api/admin/reload"), 401));
  EXPECT_EQ(admin("POST", "/api/cache/clear", "{}", {{"Authorization", "Bearer s3cret-token"}}).status, 200);
  EXPECT_EQ(admin("POST", "/api/cache/clear", "{}", {{"Authorization", "bearer s3cret-token"}}).status, 200);
  // Reading needs no token.
  EXPECT_EQ(admin("GET", "/api/monitoring/metrics").status, 200);
  EXPECT_EQ(admin("GET", "/metrics").status, 200);
}

TEST_F(MetricsTest, NonLoopbackAdminNeedsAToken) {
  GatewayConfig c = twoRoutes();
  std::string toml = c.toToml();
  size_t at = toml.find("[admin]\nlisten = \"127.0.0.1:0\"");
  toml.replace(at, 30, "[admin]\nlisten = \"0.0.0.0:0\"");
  CheckConfigResult check = checkConfig(toml, "admin.toml");
  EXPECT_EQ(check.run.status.describe(), "exit code 1");
  EXPECT_TRUE(contains(check.run.err, check.path + ":")) << check.run.err;
  EXPECT_TRUE(contains(check.run.err, "not loopback: set [admin] token")) << check.run.err;
  EXPECT_EQ(checkConfig(withAdmin(toml, "token = \"t\"\n")).run.status.describe(), "exit code 0");

  // The command-line override is checked at startup too.
  GatewayProcess::Options options;
  options.expect_ready = false;
  options.extra_args = {"--admin", "0.0.0.0:0"};
  startGatewayToml(c.toToml(), options);
  std::optional<ExitStatus> status = gateway_->waitExit(std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value()) << "perfgate started with an open admin listener and no token";
  EXPECT_EQ(status->describe(), "exit code 1");
  EXPECT_TRUE(contains(gateway_->stderrText(), "not loopback")) << gateway_->stderrText();
}

TEST_F(MetricsTest, MetricsSectionIsValidated) {
  GatewayConfig c = twoRoutes();
  c.extra = "[metrics]\ninterval = \"5ms\"\n";
  CheckConfigResult r = checkConfig(c.toToml(), "m.toml");
  EXPECT_EQ(r.run.status.describe(), "exit code 1");
  EXPECT_TRUE(contains(r.run.err, "'interval' must be at least 100ms")) << r.run.err;
  c.extra = "[metrics]\ncolour = 1\n";
  r = checkConfig(c.toToml(), "m.toml");
  EXPECT_TRUE(contains(r.run.err, "unknown key 'colour' in [metrics]")) << r.run.err;
  TempDir dir;
  std::string file = dir.write("plain-file", "x");  // a file where a directory should be
  c.extra = "[metrics]\njsonl_path = \"" + file + "/m.jsonl\"\n";
  GatewayProcess::Options options;
  options.expect_ready = false;
  startGatewayToml(c.toToml(), options);
  std::optional<ExitStatus> status = gateway_->waitExit(std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->describe(), "exit code 1");
  EXPECT_TRUE(contains(gateway_->stderrText(), "jsonl_path")) << gateway_->stderrText();
}

TEST_F(MetricsTest, ListenersDoNotAnswerForEachOther) {
  ASSERT_TRUE(startGateway(baseConfig()));  // one route "/" to the backend
  // The public port forwards /metrics to the backend like any path; it never serves admin data.
  HttpResponse pub = get("/metrics");
  EXPECT_EQ(pub.status, 200);
  EXPECT_FALSE(contains(pub.body, "perfgate_requests_total")) << pub.body;
  EXPECT_EQ(backend_.requestsFor("/metrics"), 1u);
  HttpResponse pub_api = get("/api/monitoring/metrics");
  EXPECT_FALSE(contains(pub_api.body, "\"routes\"")) << pub_api.body;
  EXPECT_EQ(backend_.requestsFor("/api/monitoring/metrics"), 1u);
  // The admin port never forwards.
  size_t before = backend_.requestCount();
  EXPECT_TRUE(isGatewayError(admin("GET", "/echo"), 404));
  EXPECT_EQ(backend_.requestCount(), before);
}

}  // namespace
}  // namespace perfgate::test
