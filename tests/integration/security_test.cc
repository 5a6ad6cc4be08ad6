// Regression tests of the attacks an attacker's client and a sloppy or hostile backend can mount
// (remote crash, upstream desync into the cache, response splitting, admin forgery, fat GET,
// forged forwarding fields, route bypass through path tricks, TRACE, bad Host), each with the
// bytes that showed it, over real sockets against the real binary (the sanitizer stage runs
// them under ASan and UBSan).
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "integration/gateway_fixture.h"
#include "support/sample_backend_process.h"
#include "support/scripted_backend.h"

namespace perfgate::test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// A chunk framing error in the same segment as the head, with the backend pool warm (an idle
// keep-alive connection that the request's transfer takes at once) or cold: a 4xx, never a crash.

struct FramingCase {
  const char* name;
  const char* chunk;  // what follows the head
  int status;
};

class ChunkErrorWithPool : public ::testing::TestWithParam<std::tuple<FramingCase, bool>> {};

TEST_P(ChunkErrorWithPool, IsRefusedAndTheProcessLives) {
  const auto& [framing, warm] = GetParam();
  SampleBackendProcess backend;
  ASSERT_GT(backend.port(), 0) << "the sample backend did not start";
  auto gateway = GatewayProcess::withArgs({"--upstream", backend.url(), "--listen", "127.0.0.1:0", "--admin",
                                           "127.0.0.1:0", "--workers", "1"});
  ASSERT_TRUE(gateway->ready()) << gateway->failure();
  for (int round = 0; round < 5; ++round) {
    if (warm) {  // leaves an idle connection in the pool
      HttpResponse warmup = request(gateway->listenPort(), "GET", "/", {{"Connection", "close"}});
      ASSERT_EQ(warmup.status, 200) << warmup.summary();
    }
    HttpConnection conn(gateway->listenPort());
    ASSERT_TRUE(conn.connected());
    conn.send(std::string("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") + framing.chunk);
    HttpResponse refused = conn.readResponse();
    EXPECT_TRUE(isGatewayError(refused, framing.status)) << refused.summary();
    conn.shutdownWrite();  // the client's FIN, as in the report
    EXPECT_TRUE(conn.closedByPeer());
  }
  HttpResponse after = request(gateway->listenPort(), "GET", "/");
  EXPECT_EQ(after.status, 200) << "the gateway stopped answering: " << after.summary() << "\n" << gateway->stderrText();
  EXPECT_TRUE(gateway->running()) << gateway->stderrText();
}

INSTANTIATE_TEST_SUITE_P(
    Security, ChunkErrorWithPool,
    ::testing::Combine(::testing::Values(FramingCase{"NotHex", "Z\r\n", 400},
                                         FramingCase{"SixtyFiveDigits",
                                                     "11111111111111111111111111111111111111111111111111111111111111111\r\n",
                                                     400},
                                         FramingCase{"BareLf", "5\nhello\r\n", 400},
                                         FramingCase{"QuotedCrInExtension", "5;a=\"\r\"\r\nhello\r\n", 400},
                                         FramingCase{"OverMaxBodyBytes", "4000001\r\n", 413},
                                         FramingCase{"BadTrailer", "0\r\nno colon here\r\n\r\n", 400}),
                       ::testing::Bool()),
    [](const auto& param_info) {
      return std::string(std::get<0>(param_info.param).name) + (std::get<1>(param_info.param) ? "Warm" : "Cold");
    });

// ---------------------------------------------------------------------------------------------
// Upstream desync: bytes a backend sends past a response's framing must never become the
// response to another request, nor be stored.

const std::string kPoison =
    "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nCache-Control: max-age=60\r\n\r\nPOISON";

std::string victimResponse(const std::string& head) {
  std::string body = "victim " + head.substr(0, head.find(' ', 4));
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nCache-Control: max-age=60\r\n\r\n" + body;
}

std::unique_ptr<GatewayProcess> gatewayFor(const ScriptedBackend& backend, bool trusted = false) {
  GatewayConfig config;
  config.backend_port = backend.port();
  config.workers = 1;
  config.upstream["response_timeout"] = "\"3s\"";
  config.upstream["max_connections"] = "1";  // requests queue for one connection: the worst case
  if (trusted) config.upstream["trust_bodiless_length"] = "true";
  auto gateway = std::make_unique<GatewayProcess>(config.toToml());
  EXPECT_TRUE(gateway->ready()) << gateway->failure();
  return gateway;
}

uint64_t closedFor(const GatewayProcess& gateway, const std::string& reason) {
  nlohmann::json metrics =
      nlohmann::json::parse(adminRequest(gateway.adminPort(), "GET", "/api/monitoring/metrics").body, nullptr, false);
  const nlohmann::json& closed = metrics["upstreams"]["backend"]["connections_closed"];
  return closed.contains(reason) ? closed[reason].get<uint64_t>() : 0;
}

struct BodilessCase {
  const char* name;
  const char* method;       // what the client sends for /a
  const char* status_line;  // what the backend answers it with
};

class BodilessWithLength : public ::testing::TestWithParam<BodilessCase> {};

TEST_P(BodilessWithLength, ALateBodyNeverBecomesTheNextResponse) {
  const BodilessCase& c = GetParam();
  ScriptedBackend backend([&](int, int, const std::string& head) {
    if (head.rfind("GET /victim", 0) == 0) return Reply{victimResponse(head)};
    // A head that declares a body where none may follow, then, in a later write, that many bytes
    // that read as a response of their own.
    return Reply{std::string(c.status_line) + "\r\nContent-Length: " + std::to_string(kPoison.size()) +
                     "\r\nCache-Control: max-age=60\r\n\r\n",
                 false, kPoison};
  });
  auto gateway = gatewayFor(backend);
  for (int round = 0; round < 5; ++round) {
    std::string victim = "/victim" + std::to_string(round);
    HttpConnection conn(gateway->listenPort());
    ASSERT_TRUE(conn.connected());
    conn.send(std::string(c.method) + " /a" + std::to_string(round) + " HTTP/1.1\r\nHost: x\r\n\r\nGET " + victim +
              " HTTP/1.1\r\nHost: x\r\n\r\n");
    HttpResponse first = conn.readResponse(kDefaultTimeout, std::string(c.method) == "HEAD");
    ASSERT_TRUE(first.ok()) << first.summary();
    HttpResponse second = conn.readResponse();
    ASSERT_EQ(second.status, 200) << second.summary();
    EXPECT_EQ(second.body, "victim GET " + victim);
    HttpResponse again = request(gateway->listenPort(), "GET", victim, {{"Host", "x"}});
    EXPECT_EQ(again.body, "victim GET " + victim) << "the cache holds another response for " << victim;
  }
  EXPECT_GE(closedFor(*gateway, "bodiless_with_length"), 5u);
}

INSTANTIATE_TEST_SUITE_P(Security, BodilessWithLength,
                         ::testing::Values(BodilessCase{"Head", "HEAD", "HTTP/1.1 200 OK"},
                                           BodilessCase{"NotModified", "GET", "HTTP/1.1 304 Not Modified"},
                                           BodilessCase{"NoContent", "GET", "HTTP/1.1 204 No Content"}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Security, BytesPastContentLengthBeyondAReadBoundaryAreNeitherServedNorStored) {
  ScriptedBackend backend([](int, int, const std::string& head) {
    if (head.rfind("GET /victim", 0) == 0) return Reply{victimResponse(head)};
    // 6000 body bytes (past any 4 KiB read), then a whole response, in one write.
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 6000\r\nCache-Control: max-age=60\r\n\r\n" +
                 std::string(6000, 'a') + kPoison};
  });
  auto gateway = gatewayFor(backend);
  HttpConnection conn(gateway->listenPort());
  ASSERT_TRUE(conn.connected());
  conn.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /victim HTTP/1.1\r\nHost: x\r\n\r\n");
  HttpResponse first = conn.readResponse();
  EXPECT_EQ(first.body_bytes, 6000u) << first.summary();
  HttpResponse second = conn.readResponse();
  EXPECT_FALSE(contains(second.body, "POISON")) << second.summary();

  HttpResponse victim = request(gateway->listenPort(), "GET", "/victim", {{"Host", "x"}});
  EXPECT_EQ(victim.body, "victim GET /victim");
  // The response the stray bytes followed is not trusted either: not stored.
  int before = backend.requests();
  HttpResponse a = request(gateway->listenPort(), "GET", "/a", {{"Host", "x"}});
  EXPECT_NE(a.header("X-Cache"), "HIT") << a.summary();
  EXPECT_EQ(backend.requests(), before + 1);
  EXPECT_GE(closedFor(*gateway, "overrun"), 1u);
}

TEST(Security, BytesABackendWritesOnAnIdleConnectionAreNeverTakenForAResponse) {
  ScriptedBackend backend([](int, int, const std::string& head) {
    if (head.rfind("GET /victim", 0) == 0) return Reply{victimResponse(head)};
    // A complete answer, then, while the connection sits idle in the pool, a response of its own
    // that nobody asked for.
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\nok", false, kPoison};
  });
  auto gateway = gatewayFor(backend);  // one backend connection: the victim would get the same one
  for (int round = 0; round < 3; ++round) {
    uint64_t dropped = closedFor(*gateway, "unsolicited_bytes");
    HttpResponse first = request(gateway->listenPort(), "GET", "/a" + std::to_string(round), {{"Host", "x"}});
    ASSERT_EQ(first.body, "ok") << first.summary();
    // The stray bytes arrive a little later; the gateway sees them on the idle connection and
    // drops it. Whatever comes after must not be answered with them.
    for (int i = 0; i < 200 && closedFor(*gateway, "unsolicited_bytes") == dropped; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(closedFor(*gateway, "unsolicited_bytes"), dropped + 1) << "the idle connection's stray bytes went unnoticed";
    std::string victim = "/victim" + std::to_string(round);
    HttpResponse answer = request(gateway->listenPort(), "GET", victim, {{"Host", "x"}});
    EXPECT_EQ(answer.body, "victim GET " + victim) << answer.summary();
  }
  // /a0 | /victim0 /a1 | /victim1 /a2 | /victim2: a connection that carried stray bytes is not used again.
  EXPECT_EQ(backend.connections(), 4);
}

TEST(Security, ATrustedBackendKeepsItsConnectionAfterAHead) {
  for (bool trusted : {false, true}) {
    SCOPED_TRACE(trusted ? "trust_bodiless_length = true" : "default");
    ScriptedBackend backend([](int, int, const std::string& head) {
      if (head.rfind("HEAD", 0) == 0) return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n"};
      return Reply{victimResponse(head)};
    });
    auto gateway = gatewayFor(backend, trusted);
    HttpConnection conn(gateway->listenPort());
    ASSERT_TRUE(conn.connected());
    conn.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(conn.readResponse(kDefaultTimeout, true).status, 200);
    conn.send("GET /victim HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(conn.readResponse().status, 200);
    EXPECT_EQ(backend.connections(), trusted ? 1 : 2);
  }
}

// ---------------------------------------------------------------------------------------------
// The admin listener: bounded JSON, and no state change from a web page.

class AdminSecurityTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayConfig config = baseConfig();
    config.workers = 1;
    ASSERT_TRUE(startGateway(config));
  }
  int admin() const { return gateway_->adminPort(); }
};

TEST_F(AdminSecurityTest, DeeplyNestedJsonIsRefusedWithoutEchoingIt) {
  std::string body = std::string(100'000, '[') + std::string(100'000, ']');
  for (const char* target : {"/api/cache/warmup", "/api/cache/clear"}) {
    HttpResponse resp = adminRequest(admin(), "POST", target, body);
    EXPECT_TRUE(isGatewayError(resp, 400)) << resp.summary();
    EXPECT_LT(resp.body.size(), 512u);
  }
  std::string long_key = "{\"" + std::string(100'000, 'k') + "\": 1}";
  HttpResponse unknown = adminRequest(admin(), "POST", "/api/cache/clear", long_key);
  EXPECT_TRUE(isGatewayError(unknown, 400)) << unknown.summary();
  EXPECT_LT(unknown.body.size(), 512u) << "the error echoes the whole key";
  EXPECT_TRUE(gateway_->running());
  EXPECT_EQ(adminRequest(admin(), "GET", "/api/monitoring/health").status, 200);
}

TEST_F(AdminSecurityTest, AWebPageCannotClearTheCache) {
  const std::string target = "/cache/admin-csrf?cc=max-age%3D300";
  ASSERT_EQ(get(target).status, 200);
  ASSERT_EQ(get(target).header("X-Cache"), "HIT");
  const std::string self = "127.0.0.1:" + std::to_string(admin());
  struct Forgery {
    const char* what;
    Headers headers;
    int status;
  };
  std::vector<Forgery> forgeries = {
      {"text/plain form post", {{"Host", self}, {"Content-Type", "text/plain"}, {"Origin", "http://evil.example"}}, 403},
      {"text/plain without origin", {{"Host", self}, {"Content-Type", "text/plain"}}, 415},
      {"no content type", {{"Host", self}}, 415},
      {"foreign origin", {{"Host", self}, {"Content-Type", "application/json"}, {"Origin", "http://evil.example"}}, 403},
      {"null origin", {{"Host", self}, {"Content-Type", "application/json"}, {"Origin", "null"}}, 403},
      {"rebound name", {{"Host", "evil.example:" + std::to_string(admin())}, {"Content-Type", "application/json"}}, 403},
      {"other port", {{"Host", "127.0.0.1:1"}, {"Content-Type", "application/json"}}, 403},
  };
  for (const Forgery& f : forgeries) {
    HttpResponse resp = request(admin(), "POST", "/api/cache/clear", f.headers, "{}");
    EXPECT_TRUE(isGatewayError(resp, f.status)) << f.what << ": " << resp.summary();
  }
  EXPECT_EQ(get(target).header("X-Cache"), "HIT") << "a forged call cleared the cache";
  HttpResponse same_origin = request(admin(), "POST", "/api/cache/clear",
                                     {{"Host", self}, {"Content-Type", "application/json; charset=utf-8"},
                                      {"Origin", "http://" + self}},
                                     "{}");
  EXPECT_EQ(same_origin.status, 200) << same_origin.summary();
  EXPECT_EQ(get(target).header("X-Cache"), "MISS");
}

// ---------------------------------------------------------------------------------------------
// Requests whose response is not the keyed resource's, and fields the key ignores.

TEST_F(GatewayTest, AFatGetIsForwardedButNeverStoredNorServedFromTheCache) {
  GatewayConfig config = baseConfig();
  config.workers = 1;
  ASSERT_TRUE(startGateway(config));
  const std::string target = "/cache/fat-get?cc=max-age%3D300";
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  conn.send(buildRequest("GET", target, {{"Content-Length", "3"}}, "x=1"));
  HttpResponse fat = conn.readResponse();
  EXPECT_EQ(fat.status, 200) << fat.summary();
  EXPECT_EQ(fat.header("X-Cache"), "BYPASS");
  EXPECT_EQ(backend_.lastRequest().body, "x=1");
  EXPECT_EQ(get(target).header("X-Cache"), "MISS") << "the fat GET's response was stored";
  EXPECT_EQ(get(target).header("X-Cache"), "HIT");
  conn.send(buildRequest("GET", target, {{"Content-Length", "3"}}, "x=2"));
  EXPECT_EQ(conn.readResponse().header("X-Cache"), "BYPASS") << "a fat GET was answered from the cache";
}

const Headers kForwardingFields = {{"Forwarded", "for=6.6.6.6;host=evil.example;proto=https"},
                                   {"X-Forwarded-Port", "8443"},
                                   {"X-Forwarded-Prefix", "/evil"},
                                   {"X-Forwarded-Scheme", "https"},
                                   {"X-Forwarded-Server", "evil.example"},
                                   {"X-Forwarded-Ssl", "on"},
                                   {"X-Host", "evil.example"},
                                   {"X-Real-IP", "6.6.6.6"},
                                   {"X_Forwarded_Prefix", "/evil"}};

TEST_F(GatewayTest, ClientForwardingFieldsNeverReachTheBackend) {
  ASSERT_TRUE(startGateway(baseConfig()));
  HttpResponse resp = get("/echo", kForwardingFields);
  ASSERT_EQ(resp.status, 200) << resp.summary();
  ReceivedRequest seen = backend_.lastRequest();
  for (const auto& [name, value] : kForwardingFields) EXPECT_FALSE(seen.hasHeader(name)) << name << " reached the backend";
  EXPECT_EQ(seen.header("X-Forwarded-Host"), "test.local");
  EXPECT_EQ(seen.header("X-Forwarded-Proto"), "http");
}

TEST_F(GatewayTest, ATrustedFrontProxysForwardingFieldsPassOn) {
  GatewayConfig config = baseConfig();
  config.upstream["trust_forwarded"] = "true";
  ASSERT_TRUE(startGateway(config));
  Headers headers = {{"Forwarded", "for=10.0.0.1;proto=https"},
                     {"X-Forwarded-Proto", "https"},
                     {"X-Forwarded-Host", "shop.example"},
                     {"X-Forwarded-Port", "443"},
                     {"X-Forwarded-For", "10.0.0.1"}};
  ASSERT_EQ(get("/echo", headers).status, 200);
  ReceivedRequest seen = backend_.lastRequest();
  EXPECT_EQ(seen.header("Forwarded"), "for=10.0.0.1;proto=https");
  EXPECT_EQ(seen.header("X-Forwarded-Proto"), "https");
  EXPECT_EQ(seen.header("X-Forwarded-Host"), "shop.example");
  EXPECT_EQ(seen.header("X-Forwarded-Port"), "443");
  EXPECT_EQ(seen.header("X-Forwarded-For"), "10.0.0.1, 127.0.0.1");
  EXPECT_EQ(seen.headerCount("X-Forwarded-Proto"), 1u);
}

// ---------------------------------------------------------------------------------------------
// Routing on the normalised path: no spelling of /private/ reaches the "/" route.

class PathRoutingTest : public GatewayTest {
 protected:
  ::testing::AssertionResult start(const char* forward_path) {
    GatewayConfig config = baseConfig();
    config.workers = 1;
    config.server["forward_path"] = std::string("\"") + forward_path + "\"";
    // The private route's upstream is the same backend under a base path the echo shows.
    config.routes =
        "[[route]]\nname = \"private\"\nprefix = \"/private/\"\nupstream = \"private\"\n\n"
        "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n";
    config.extra = "[upstream.private]\nurl = \"http://127.0.0.1:" + std::to_string(backend_.port()) + "/routed-private\"\n";
    return startGateway(config);
  }
};

const char* const kPrivateSpellings[] = {"/x/../private/a", "//private/a",        "/x/..;/private/a",
                                         "/%2e%2e/private/a", "/private/./a",     "/%70rivate/a",
                                         "/x/%2E%2E/private/a", "/./private/a"};

TEST_F(PathRoutingTest, EverySpellingOfAPrivatePathTakesItsRoute) {
  ASSERT_TRUE(start("original"));
  for (const char* path : kPrivateSpellings) {
    HttpResponse resp = get(path);
    ASSERT_EQ(resp.status, 200) << path << ": " << resp.summary();
    EXPECT_EQ(backend_.lastRequest().target, std::string("/routed-private") + path) << "forwarded as sent";
    // The backend resolves the original spelling itself: nothing is stored under the normal key.
    EXPECT_EQ(resp.header("X-Cache"), "BYPASS") << path;
  }
}

TEST_F(PathRoutingTest, NormalizedForwardingSendsAndKeysTheNormalPath) {
  ASSERT_TRUE(start("normalized"));
  for (const char* path : kPrivateSpellings) {
    HttpResponse resp = get(std::string(path) + "?q=1");
    ASSERT_EQ(resp.status, 200) << path << ": " << resp.summary();
    EXPECT_EQ(backend_.lastRequest().target, "/routed-private/private/a?q=1") << path;
  }
}

// ---------------------------------------------------------------------------------------------
// TRACE and Host.

TEST_F(GatewayTest, TraceIsRefusedUnlessTheRouteAllowsIt) {
  GatewayConfig config = baseConfig();
  config.routes =
      "[[route]]\nname = \"debug\"\nprefix = \"/debug/\"\nupstream = \"backend\"\nallow_trace = true\n\n"
      "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n";
  ASSERT_TRUE(startGateway(config));
  size_t before = backend_.requestCount();
  HttpResponse refused = request(port(), "TRACE", "/echo", {{"Cookie", "session=secret"}});
  EXPECT_TRUE(isGatewayError(refused, 405)) << refused.summary();
  EXPECT_FALSE(refused.header("Allow").empty());
  EXPECT_FALSE(contains(refused.header("Allow"), "TRACE"));
  EXPECT_EQ(backend_.requestCount(), before);
  HttpResponse allowed = request(port(), "TRACE", "/debug/echo");
  EXPECT_EQ(allowed.status, 200) << allowed.summary();
  EXPECT_EQ(backend_.lastRequest().method, "TRACE");
}

TEST_F(GatewayTest, AHostThatIsNotAnAuthorityIsRefused) {
  ASSERT_TRUE(startGateway(baseConfig()));
  for (const char* host : {"a,b", "a b", "a;b", "a@b", "a/b", "[::1", "a:b", "a:123456", "%61", ""}) {
    EXPECT_TRUE(rejects(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n", 400)) << "Host: " << host;
  }
  for (const char* host : {"a.example", "A.Example:8080", "127.0.0.1:1", "[::1]:80", "xn--bcher-kva.example"}) {
    EXPECT_EQ(get("/echo", {{"Host", host}}).status, 200) << "Host: " << host;
  }
}

}  // namespace
}  // namespace perfgate::test
