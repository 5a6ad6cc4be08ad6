// The admin listener serves the dashboard: the files of filters/dashboard/ byte for byte, with
// their types and a strict Content-Security-Policy, and nothing else under its paths; and the
// latency histogram its chart reads. (The page's behaviour in a browser is checked by
// tests/dashboard/, with Chromium.)
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

std::string sourceFile(const std::string& name) {
  return readFile(std::string(PERFGATE_SOURCE_DIR) + "/filters/dashboard/" + name);
}

class DashboardTest : public GatewayTest {
 protected:
  HttpResponse admin(const std::string& method, const std::string& target) {
    return adminRequest(gateway_->adminPort(), method, target);
  }
  nlohmann::json adminJson(const std::string& target) {
    HttpResponse resp = admin("GET", target);
    EXPECT_EQ(resp.status, 200) << resp.summary();
    return nlohmann::json::parse(resp.body, nullptr, false);
  }
};

TEST_F(DashboardTest, ServesTheEmbeddedFilesWithTypesAndPolicy) {
  ASSERT_TRUE(startGateway(baseConfig()));
  struct File {
    const char* target;
    const char* name;
    const char* type;
  };
  for (const File& f : {File{"/", "index.html", "text/html; charset=utf-8"},
                        File{"/dashboard/app.js", "app.js", "text/javascript; charset=utf-8"},
                        File{"/dashboard/style.css", "style.css", "text/css; charset=utf-8"}}) {
    SCOPED_TRACE(f.target);
    HttpResponse resp = admin("GET", f.target);
    ASSERT_EQ(resp.status, 200) << resp.summary();
    std::string source = sourceFile(f.name);
    ASSERT_FALSE(source.empty());
    EXPECT_EQ(resp.body, source);
    EXPECT_EQ(resp.header("Content-Type"), f.type);
    std::string csp = resp.header("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
    EXPECT_EQ(resp.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(resp.header("Cache-Control"), "no-store");
  }
  HttpResponse head = admin("HEAD", "/");
  EXPECT_EQ(head.status, 200) << head.summary();
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("Content-Type"), "text/html; charset=utf-8");
}

TEST_F(DashboardTest, EveryFileThePageNamesIsServed) {
  ASSERT_TRUE(startGateway(baseConfig()));
  std::string html = sourceFile("index.html");
  std::regex reference(R"re((?:src|href)="([^"]*)")re");
  int local = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), reference); it != std::sregex_iterator(); ++it) {
    std::string target = (*it)[1];
    if (target.rfind("data:", 0) == 0) continue;
    ASSERT_EQ(target.rfind('/', 0), 0u) << "the page names something not on the admin listener: " << target;
    EXPECT_EQ(admin("GET", target).status, 200) << target;
    ++local;
  }
  EXPECT_GE(local, 2);  // the script and the stylesheet
}

TEST_F(DashboardTest, UnknownFilesAndOtherMethodsAreJsonErrors) {
  ASSERT_TRUE(startGateway(baseConfig()));
  EXPECT_TRUE(isGatewayError(admin("GET", "/dashboard/nope.js"), 404));
  EXPECT_TRUE(isGatewayError(admin("GET", "/dashboard/"), 404));
  EXPECT_TRUE(isGatewayError(admin("GET", "/index.html"), 404));
  HttpResponse post = admin("POST", "/");
  EXPECT_TRUE(isGatewayError(post, 405));
  EXPECT_EQ(post.header("Allow"), "GET, HEAD");
  EXPECT_TRUE(isGatewayError(admin("DELETE", "/dashboard/app.js"), 405));
}

TEST_F(DashboardTest, ReadableWithoutTheTokenWhenOneIsSet) {
  GatewayConfig c = baseConfig();
  std::string toml = c.toToml();
  toml.insert(toml.find("[admin]\n") + 8, "token = \"s3cret\"\n");
  ASSERT_TRUE(startGatewayToml(toml));
  EXPECT_EQ(admin("GET", "/").status, 200);
  EXPECT_EQ(admin("GET", "/dashboard/app.js").status, 200);
  // What the page then does with the cache needs it.
  EXPECT_TRUE(isGatewayError(request(gateway_->adminPort(), "PUT", "/api/cache/routes/all", {}, R"({"enabled": false})"), 401));
}

TEST_F(DashboardTest, LatencyBucketsCountEveryTimedRequest) {
  ASSERT_TRUE(startGateway(baseConfig()));
  nlohmann::json empty = adminJson("/api/monitoring/latency");
  EXPECT_EQ(empty["timing"], true);
  EXPECT_EQ(empty["count"], 0);
  EXPECT_TRUE(empty["buckets"].is_array() && empty["buckets"].empty()) << empty.dump();

  HttpConnection conn(port());
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(conn.send(buildRequest("GET", i % 3 == 0 ? "/delay/5" : "/echo")));
    ASSERT_EQ(conn.readResponse().status, 200);
  }
  // A worker records an exchange just after writing its response: wait for the last one.
  nlohmann::json latency;
  for (int i = 0; i < 100; ++i) {
    latency = adminJson("/api/monitoring/latency");
    if (latency["count"] == 30) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(latency["count"], 30) << latency.dump();
  uint64_t total = 0;
  uint64_t previous_upper = 0;
  uint64_t slow = 0;
  for (const auto& bucket : latency["buckets"]) {
    ASSERT_EQ(bucket.size(), 3u);
    uint64_t lower = bucket[0];
    uint64_t upper = bucket[1];
    uint64_t count = bucket[2];
    EXPECT_LT(lower, upper);
    EXPECT_GE(lower, previous_upper) << "buckets ascend without overlap";
    EXPECT_GT(count, 0u);
    if (upper > 5'000'000) slow += count;  // the bucket holding 5 ms starts just below it
    previous_upper = upper;
    total += count;
  }
  EXPECT_EQ(total, 30u);
  EXPECT_GE(slow, 10u) << "the ten /delay/5 requests took 5 ms or more: " << latency.dump();
  nlohmann::json metrics = adminJson("/api/monitoring/metrics");
  EXPECT_EQ(metrics["global"]["latency_ms"]["total"]["count"], 30);
}

TEST_F(DashboardTest, LatencyBucketsSayWhenTimingIsOff) {
  GatewayConfig c = baseConfig();
  c.extra = "[metrics]\nenabled = false\n";
  ASSERT_TRUE(startGateway(c));
  HttpResponse resp = request(port(), "GET", "/echo");
  ASSERT_EQ(resp.status, 200);
  nlohmann::json latency = adminJson("/api/monitoring/latency");
  EXPECT_EQ(latency["timing"], false);
  EXPECT_EQ(latency["count"], 0);
  EXPECT_TRUE(latency["buckets"].empty());
}

}  // namespace
}  // namespace perfgate::test
