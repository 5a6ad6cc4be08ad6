// The process: ready line, --workers, SIGHUP reloads (good and bad files), SIGTERM/SIGINT drain,
// --check-config diagnostics with line:column, the access log.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const char* kApiRoute = "[[route]]\nname = \"api\"\nprefix = \"/api/\"\nupstream = \"backend\"\n";
const char* kNewRoute = "\n[[route]]\nname = \"new\"\nprefix = \"/new/\"\nupstream = \"backend\"\n";

// Polls `target` until it answers `status` (true) or `timeout` passes (false).
bool eventuallyStatus(int port, const std::string& target, int status, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (request(port, "GET", target).status == status) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(GatewayTest, ReadyLineReportsPortsAndWorkers) {
  GatewayConfig config = baseConfig();
  config.workers = 3;
  ASSERT_TRUE(startGateway(config));
  SCOPED_TRACE(gateway_->readyLine());
  EXPECT_EQ(gateway_->stdoutText().find("perfgate ready: listen=127.0.0.1:"), 0u)
      << "stdout must start with the ready line: " << gateway_->stdoutText();
  EXPECT_GT(gateway_->listenPort(), 0);
  EXPECT_GT(gateway_->adminPort(), 0);
  EXPECT_NE(gateway_->listenPort(), gateway_->adminPort());
  EXPECT_EQ(gateway_->workers(), 3);
  EXPECT_EQ(get("/echo").status, 200);
}

TEST_F(GatewayTest, WorkersFlagOverridesTheConfig) {
  GatewayConfig config = baseConfig();
  config.workers = 3;
  GatewayProcess::Options options;
  options.extra_args = {"--workers", "1"};
  ASSERT_TRUE(startGateway(config, options));
  EXPECT_EQ(gateway_->workers(), 1) << gateway_->readyLine();
  EXPECT_EQ(get("/echo").status, 200);
}

TEST_F(GatewayTest, SighupWithAGoodFileAddsARoute) {
  GatewayConfig config = baseConfig();
  config.routes = kApiRoute;
  ASSERT_TRUE(startGateway(config));
  EXPECT_EQ(get("/api/echo").status, 200);
  EXPECT_TRUE(isGatewayError(get("/new/echo"), 404));

  config.routes = std::string(kApiRoute) + kNewRoute;
  gateway_->rewriteConfig(config.toToml());
  ASSERT_TRUE(gateway_->signal(SIGHUP));
  EXPECT_TRUE(eventuallyStatus(port(), "/new/echo", 200, seconds(5))) << "the new route never appeared";
  EXPECT_EQ(backend_.lastRequest().path, "/new/echo");
  EXPECT_EQ(get("/api/echo").status, 200);
  EXPECT_TRUE(gateway_->running());
}

TEST_F(GatewayTest, SighupWithABadFileKeepsTheOldConfig) {
  GatewayConfig config = baseConfig();
  config.routes = kApiRoute;
  ASSERT_TRUE(startGateway(config));
  ASSERT_EQ(get("/api/echo").status, 200);

  // A syntax error, then a well-formed file that fails validation: neither may replace the config.
  std::string bad_files[] = {
      "[server\nlisten = \"127.0.0.1:0\"\n",
      config.toToml() + kNewRoute + "\n[[route]]\nname = \"broken\"\nprefix = \"/b/\"\nupstream = \"nope\"\n",
  };
  for (const std::string& bad : bad_files) {
    SCOPED_TRACE("bad file:\n" + bad);
    size_t err_before = gateway_->stderrText().size();
    gateway_->rewriteConfig(bad);
    ASSERT_TRUE(gateway_->signal(SIGHUP));
    // The failure is reported on stderr naming the file.
    auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while (!contains(gateway_->stderrText().substr(err_before), gateway_->configPath()) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    EXPECT_TRUE(contains(gateway_->stderrText().substr(err_before), gateway_->configPath()))
        << "no error naming the file was logged; stderr since: " << gateway_->stderrText().substr(err_before);
    EXPECT_TRUE(gateway_->running());
    EXPECT_EQ(get("/api/echo").status, 200) << "the old config stopped serving";
    EXPECT_TRUE(isGatewayError(get("/new/echo"), 404)) << "part of a rejected file was applied";
  }

  // A good file afterwards is still picked up.
  config.routes = std::string(kApiRoute) + kNewRoute;
  gateway_->rewriteConfig(config.toToml());
  ASSERT_TRUE(gateway_->signal(SIGHUP));
  EXPECT_TRUE(eventuallyStatus(port(), "/new/echo", 200, seconds(5)));
}

TEST_F(GatewayTest, SighupDoesNotDropARequestInFlight) {
  GatewayConfig config = baseConfig();
  config.routes = kApiRoute;
  ASSERT_TRUE(startGateway(config));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/api/delay/1000")));
  ASSERT_TRUE(backend_.waitForRequests(1, seconds(5)));
  config.routes = std::string(kApiRoute) + kNewRoute;
  gateway_->rewriteConfig(config.toToml());
  ASSERT_TRUE(gateway_->signal(SIGHUP));
  HttpResponse resp = conn.readResponse();
  EXPECT_EQ(resp.status, 200) << resp.summary();
  EXPECT_TRUE(resp.complete);
  // The same client connection carries on under the new config.
  EXPECT_TRUE(eventuallyStatus(port(), "/new/echo", 200, seconds(5)));
  ASSERT_TRUE(conn.send(buildRequest("GET", "/new/echo")));
  EXPECT_EQ(conn.readResponse().status, 200);
}

TEST_F(GatewayTest, SigtermLetsTheRequestInFlightCompleteThenExitsZero) {
  GatewayConfig config = baseConfig();
  config.server["drain_timeout"] = "\"8s\"";
  ASSERT_TRUE(startGateway(config));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/delay/1500")));
  ASSERT_TRUE(backend_.waitForRequests(1, seconds(5))) << "the request never reached the backend";
  ASSERT_TRUE(gateway_->signal(SIGTERM));
  HttpResponse resp = conn.readResponse();
  EXPECT_EQ(resp.status, 200) << "request in flight at SIGTERM: " << resp.summary();
  EXPECT_TRUE(resp.complete);
  // RFC 9112 9.6: a server about to close SHOULD say so in the response.
  EXPECT_TRUE(saysClose(resp)) << "a response sent while draining lacks Connection: close";
  std::optional<ExitStatus> status = gateway_->waitExit(seconds(10));
  ASSERT_TRUE(status.has_value()) << "perfgate did not exit within 10 s of SIGTERM";
  EXPECT_EQ(status->describe(), "exit code 0");
  // Once it has exited nothing listens any more.
  HttpConnection after(port(), milliseconds(500));
  EXPECT_FALSE(after.connected());
}

// [metrics] listen: scrapers and probes get the read-only endpoints there, and nothing that
// changes state; /readyz turns 503 as soon as a drain starts, while requests in flight finish.
TEST_F(GatewayTest, MetricsListenerServesReadOnlyEndpointsAndReadinessFollowsTheDrain) {
  GatewayConfig config = baseConfig();
  config.server["drain_timeout"] = "\"8s\"";
  config.extra = "[metrics]\nlisten = \"127.0.0.1:0\"\n";
  ASSERT_TRUE(startGateway(config));
  int metrics = gateway_->metricsPort();
  ASSERT_GT(metrics, 0) << gateway_->readyLine();
  HttpResponse scrape = request(metrics, "GET", "/metrics");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_TRUE(contains(scrape.body, "perfgate_build_info")) << scrape.body.substr(0, 200);
  EXPECT_EQ(request(metrics, "GET", "/api/monitoring/metrics").status, 200);
  EXPECT_EQ(request(metrics, "GET", "/healthz").status, 200);
  HttpResponse ready = request(metrics, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ready.body)["phase"], "ready");
  // Nothing that changes state, even with everything a mutating admin call needs.
  const Headers json = {{"Content-Type", "application/json"}, {"Host", "127.0.0.1:" + std::to_string(metrics)}};
  EXPECT_EQ(request(metrics, "POST", "/api/cache/clear", json, "{}").status, 404);
  EXPECT_EQ(request(metrics, "POST", "/api/admin/reload", json, "{}").status, 404);
  EXPECT_EQ(request(metrics, "PUT", "/api/cache/routes/all", json, "{\"enabled\": false}").status, 404);
  EXPECT_EQ(request(metrics, "POST", "/metrics", json, "{}").status, 405);
  // The admin listener has the probes too, and still its own endpoints.
  EXPECT_EQ(request(gateway_->adminPort(), "GET", "/readyz").status, 200);

  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/delay/1500")));
  ASSERT_TRUE(backend_.waitForRequests(1, seconds(5)));
  ASSERT_TRUE(gateway_->signal(SIGTERM));
  EXPECT_TRUE(eventuallyStatus(metrics, "/readyz", 503, seconds(2))) << "still ready while draining";
  HttpResponse draining = request(metrics, "GET", "/readyz");
  EXPECT_EQ(nlohmann::json::parse(draining.body)["phase"], "draining");
  EXPECT_EQ(request(metrics, "GET", "/healthz").status, 200) << "alive while draining";
  EXPECT_EQ(conn.readResponse().status, 200) << "the request in flight completes";
  std::optional<ExitStatus> status = gateway_->waitExit(seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->describe(), "exit code 0");
}

TEST_F(GatewayTest, SigtermFinishesAStreamingResponse) {
  GatewayConfig config = baseConfig();
  config.server["drain_timeout"] = "\"8s\"";
  ASSERT_TRUE(startGateway(config));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/drip/5/200")));
  ASSERT_TRUE(backend_.waitForRequests(1, seconds(5)));
  std::this_thread::sleep_for(milliseconds(300));  // some of the body is on its way
  ASSERT_TRUE(gateway_->signal(SIGTERM));
  HttpResponse resp = conn.readResponse();
  EXPECT_EQ(resp.status, 200) << resp.summary();
  EXPECT_TRUE(resp.complete) << resp.summary();
  EXPECT_EQ(resp.body, "drip 0\ndrip 1\ndrip 2\ndrip 3\ndrip 4\n");
  std::optional<ExitStatus> status = gateway_->waitExit(seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->describe(), "exit code 0");
}

TEST_F(GatewayTest, SigtermWithIdleKeepAliveClientsExitsZero) {
  GatewayConfig config = baseConfig();
  config.server["drain_timeout"] = "\"3s\"";
  ASSERT_TRUE(startGateway(config));
  HttpConnection idle(port());
  ASSERT_TRUE(idle.send(buildRequest("GET", "/echo")));
  ASSERT_EQ(idle.readResponse().status, 200);
  HttpConnection silent(port());
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(gateway_->signal(SIGTERM));
  std::optional<ExitStatus> status = gateway_->waitExit(seconds(10));
  ASSERT_TRUE(status.has_value()) << "idle connections held perfgate past its drain timeout";
  EXPECT_EQ(status->describe(), "exit code 0");
  EXPECT_TRUE(idle.closedByPeer());
}

TEST_F(GatewayTest, DrainTimeoutBoundsTheShutdown) {
  // A request that would take 8 s cannot hold a gateway with drain_timeout = 1s for long.
  GatewayConfig config = baseConfig();
  config.server["drain_timeout"] = "\"1s\"";
  ASSERT_TRUE(startGateway(config));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/delay/8000")));
  ASSERT_TRUE(backend_.waitForRequests(1, seconds(5)));
  ASSERT_TRUE(gateway_->signal(SIGTERM));
  std::optional<ExitStatus> status = gateway_->waitExit(seconds(6));
  ASSERT_TRUE(status.has_value()) << "still running 6 s after SIGTERM with drain_timeout 1s";
  EXPECT_EQ(status->describe(), "exit code 0");
  HttpResponse resp = conn.readResponse(seconds(2));
  EXPECT_FALSE(resp.status == 200 && resp.complete) << "impossible: the backend had not answered";
  EXPECT_TRUE(resp.peer_closed || !resp.ok()) << resp.summary();
}

TEST_F(GatewayTest, SigtermStopsAcceptingWhileDraining) {
  GatewayConfig config = baseConfig();
  config.server["drain_timeout"] = "\"8s\"";
  ASSERT_TRUE(startGateway(config));
  HttpConnection in_flight(port());
  ASSERT_TRUE(in_flight.send(buildRequest("GET", "/delay/3000")));
  ASSERT_TRUE(backend_.waitForRequests(1, seconds(5)));
  ASSERT_TRUE(gateway_->signal(SIGTERM));
  // While the slow request drains, new clients are turned away: refused, closed, or a 503.
  bool turned_away = false;
  std::string last;
  auto deadline = std::chrono::steady_clock::now() + milliseconds(2000);
  while (!turned_away && std::chrono::steady_clock::now() < deadline) {
    HttpResponse resp = request(port(), "GET", "/echo?late", {}, {}, seconds(2));
    turned_away = resp.status != 200;
    last = resp.summary();
    if (!turned_away) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(turned_away) << "new requests were still served 2 s into the drain: " << last;
  HttpResponse resp = in_flight.readResponse();
  EXPECT_EQ(resp.status, 200) << resp.summary();
  std::optional<ExitStatus> status = gateway_->waitExit(seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->describe(), "exit code 0");
}

TEST_F(GatewayTest, DropInCommandLineProxiesEverything) {
  ASSERT_TRUE(backend_.ok());
  gateway_ = GatewayProcess::withArgs(
      {"--upstream", backend_.url(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "1"});
  ASSERT_TRUE(gateway_->ready()) << gateway_->failure();
  EXPECT_EQ(gateway_->workers(), 1);
  HttpResponse resp = get("/any/path/echo?x=1");
  ASSERT_EQ(resp.status, 200) << resp.summary();
  EXPECT_EQ(backend_.lastRequest().target, "/any/path/echo?x=1");
  resp = request(port(), "POST", "/mirror", {}, "drop-in");
  EXPECT_EQ(resp.body, "drop-in") << resp.summary();
}

TEST_F(GatewayTest, SigintExitsZero) {
  ASSERT_TRUE(startGateway(baseConfig()));
  ASSERT_EQ(get("/echo").status, 200);
  ASSERT_TRUE(gateway_->signal(SIGINT));
  std::optional<ExitStatus> status = gateway_->waitExit(seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->describe(), "exit code 0");
}

TEST_F(GatewayTest, AccessLogHasOneJsonLinePerRequest) {
  TempDir logs;
  GatewayConfig config = baseConfig();
  config.access_log = logs.file("access.jsonl");
  ASSERT_TRUE(startGateway(config));
  ASSERT_EQ(get("/echo?x=1").status, 200);
  ASSERT_EQ(request(port(), "POST", "/status/201", {}, "abc").status, 201);
  ASSERT_TRUE(gateway_->signal(SIGTERM));
  ASSERT_TRUE(gateway_->waitExit(seconds(10)).has_value());

  std::ifstream f(config.access_log);
  ASSERT_TRUE(f.good()) << "no access log at " << config.access_log;
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    lines.push_back(j);
  }
  ASSERT_EQ(lines.size(), 2u);
  SCOPED_TRACE(lines[0].dump() + "\n" + lines[1].dump());
  EXPECT_EQ(lines[0].value("method", ""), "GET");
  EXPECT_TRUE(contains(lines[0].value("path", ""), "/echo"));
  EXPECT_EQ(lines[0].value("status", 0), 200);
  EXPECT_EQ(lines[1].value("method", ""), "POST");
  EXPECT_EQ(lines[1].value("status", 0), 201);
  EXPECT_EQ(lines[0].value("route", ""), "all");
  EXPECT_EQ(lines[0].value("client", ""), "127.0.0.1");
  EXPECT_TRUE(lines[0].contains("time"));
  // Bytes, total and upstream time: named as the gateway likes ("bytes_out", "total_us", ...).
  auto hasKeyWith = [&](const std::string& part) {
    for (auto it = lines[0].begin(); it != lines[0].end(); ++it) {
      if (contains(it.key(), part) && it->is_number()) return true;
    }
    return false;
  };
  for (const char* part : {"bytes", "total", "upstream"}) EXPECT_TRUE(hasKeyWith(part)) << "no numeric *" << part << "* field";
}

TEST_F(GatewayTest, BadConfigAtStartupExitsNonZeroNamingTheLine) {
  GatewayProcess::Options options;
  options.expect_ready = false;
  std::string toml = baseConfig().toToml() + "\n[server.nonsense]\nx = 1\n";
  startGatewayToml(toml, options);  // not ready: that is the point
  std::optional<ExitStatus> status = gateway_->waitExit(seconds(10));
  ASSERT_TRUE(status.has_value()) << "perfgate kept running with a bad config";
  EXPECT_FALSE(status->exited && status->code == 0) << status->describe();
  EXPECT_TRUE(status->exited) << status->describe();
  EXPECT_FALSE(contains(gateway_->stdoutText(), "perfgate ready")) << gateway_->stdoutText();
  EXPECT_TRUE(contains(gateway_->stderrText(), gateway_->configPath() + ":")) << gateway_->stderrText();
}

TEST(CheckConfigTest, GoodFileExitsZero) {
  GatewayConfig config;
  config.backend_port = 8000;
  CheckConfigResult r = checkConfig(config.toToml());
  EXPECT_EQ(r.run.status.describe(), "exit code 0") << r.run.err;
}

struct BadConfig {
  std::string name;
  std::string toml;
  std::string where;  // ":line:" or ":line:col:" expected right after the path
};
void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

std::vector<BadConfig> badConfigs() {
  const std::string upstream = "[upstream.backend]\nurl = \"http://127.0.0.1:8000\"\n";
  const std::string route = "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n";
  return {
      {"UnknownKey", "[server]\nlisten = \"127.0.0.1:0\"\nbogus_key = 1\n" + upstream + route, ":3:1:"},
      {"UnknownKeyIndented", "[server]\nlisten = \"127.0.0.1:0\"\n  bogus_key = 1\n" + upstream + route, ":3:3:"},
      {"UnknownSection", upstream + route + "[nonsense]\nx = 1\n", ":7:"},
      {"SyntaxError", "[server]\nlisten = \n" + upstream + route, ":2:"},
      {"UnclosedTable", "[server\nlisten = \"127.0.0.1:0\"\n" + upstream + route, ":1:"},
      {"WrongType", "[server]\nlisten = \"127.0.0.1:0\"\nworkers = \"two\"\n" + upstream + route, ":3:"},
      {"BadDuration", "[server]\nheader_timeout = \"10 parsecs\"\n" + upstream + route, ":2:"},
      {"BadSize", "[server]\nmax_body_bytes = \"lots\"\n" + upstream + route, ":2:"},
      {"BadListen", "[server]\nlisten = \"not-an-address\"\n" + upstream + route, ":2:"},
      {"UnknownUpstreamInRoute",
       upstream + "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"nope\"\n", ":6:"},
      {"DuplicateRouteName",
       upstream + route + "[[route]]\nname = \"all\"\nprefix = \"/x/\"\nupstream = \"backend\"\n", ":8:"},
      {"UnknownRouteKey",
       upstream + "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\ncolour = \"blue\"\n", ":7:1:"},
      {"UnknownUpstreamKey", "[upstream.backend]\nurl = \"http://127.0.0.1:8000\"\nretries = 3\n" + route, ":3:1:"},
  };
}

class CheckConfigBadTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(CheckConfigBadTest, ExitsNonZeroNamingFileLineAndColumn) {
  const BadConfig& c = GetParam();
  CheckConfigResult r = checkConfig(c.toml, "bad.toml");
  SCOPED_TRACE("config:\n" + c.toml + "\nstderr:\n" + r.run.err);
  EXPECT_FALSE(r.run.timed_out);
  EXPECT_EQ(r.run.status.describe(), "exit code 1");
  EXPECT_TRUE(contains(r.run.err, r.path + c.where)) << "expected '" << r.path + c.where << "'";
  // file:line:col: message
  size_t at = r.run.err.find(r.path + ":");
  ASSERT_NE(at, std::string::npos);
  std::string rest = r.run.err.substr(at + r.path.size());
  int line = 0;
  int col = 0;
  char sep = 0;
  EXPECT_EQ(std::sscanf(rest.c_str(), ":%d:%d%c", &line, &col, &sep), 3) << "not file:line:col: " << rest;
  EXPECT_GT(line, 0);
  EXPECT_GT(col, 0);
  EXPECT_EQ(sep, ':');
}

INSTANTIATE_TEST_SUITE_P(Files, CheckConfigBadTest, ::testing::ValuesIn(badConfigs()),
                         [](const ::testing::TestParamInfo<BadConfig>& p) { return p.param.name; });

TEST(CheckConfigTest, MissingFileFails) {
  RunResult r = runPerfgate({"--check-config", "/nonexistent/perfgate.toml"});
  EXPECT_FALSE(r.status.exited && r.status.code == 0) << r.status.describe();
  EXPECT_TRUE(contains(r.err, "/nonexistent/perfgate.toml")) << r.err;
}

TEST(CliTest, VersionPrintsAndExitsZero) {
  RunResult r = runPerfgate({"--version"});
  EXPECT_EQ(r.status.describe(), "exit code 0") << r.err;
  EXPECT_TRUE(contains(r.out + r.err, "perfgate")) << r.out << r.err;
}

}  // namespace
}  // namespace perfgate::test
