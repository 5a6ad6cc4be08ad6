// Cache poisoning: request fields that are not part of the cache key must not change what the
// cache stores for everyone. The TestBackend reflects a named request field into the body
// (/cache?echo=NAME), standing in for a backend that acts on it: a body stored with an attacker's
// value in it is a poisoned entry.
#include <gtest/gtest.h>

#include <string>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class CachePoisoningTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayConfig config = baseConfig();
    config.workers = 1;  // one cache-filling event loop: a hit is deterministic
    ASSERT_TRUE(startGateway(config));
  }

  // A cacheable resource (max-age=300) whose body shows the request's `field` as the backend saw it.
  static std::string target(const std::string& name, const std::string& field) {
    return "/cache/" + name + "?cc=max-age%3D300&echo=" + field;
  }
};

// Fields that backends (IIS URL Rewrite, Symfony, Laravel, Express method-override and others)
// act on in place of the request line: the response answers another URL or method.
class OverrideFieldTest : public CachePoisoningTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(OverrideFieldTest, ResponseToARequestCarryingItIsNeverStored) {
  const std::string field = GetParam();
  const std::string value = field.find("Method") != std::string::npos ? "DELETE" : "/admin/secret";
  const std::string url = target("override-" + field, field);

  HttpResponse poisoned = get(url, {{field, value}});
  ASSERT_EQ(poisoned.status, 200) << poisoned.summary();
  ASSERT_TRUE(contains(poisoned.body, field + ": " + value)) << "the backend did not see the field: " << poisoned.body;

  HttpResponse plain = get(url);
  ASSERT_EQ(plain.status, 200) << plain.summary();
  EXPECT_TRUE(contains(plain.body, field + ": (absent)"))
      << "a client without " << field << " got the response made for it: " << plain.body;
  EXPECT_FALSE(contains(plain.body, value));

  HttpResponse hit = get(url);
  EXPECT_EQ(hit.header("X-Cache"), "HIT") << hit.summary();
  EXPECT_EQ(hit.body, plain.body);

  // With the entry stored, a request carrying the field neither replaces it nor is answered with
  // a response made for it by anyone else.
  HttpResponse again = get(url, {{field, value}});
  ASSERT_EQ(again.status, 200) << again.summary();
  HttpResponse after = get(url);
  EXPECT_EQ(after.header("X-Cache"), "HIT") << after.summary();
  EXPECT_EQ(after.body, plain.body) << "the stored response changed";
}

INSTANTIATE_TEST_SUITE_P(Fields, OverrideFieldTest,
                         ::testing::Values("X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override",
                                           "X-HTTP-Method", "X-Method-Override"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string name = p.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST_F(CachePoisoningTest, ForwardedHostFromTheClientNeverReachesTheBackend) {
  // The backend gets X-Forwarded-Host from the gateway (the Host that is in the key), so the
  // stored response is the one every client of that Host gets.
  const std::string url = target("xfh", "X-Forwarded-Host");
  HttpResponse poisoned = get(url, {{"X-Forwarded-Host", "evil.example"}});
  ASSERT_EQ(poisoned.status, 200) << poisoned.summary();
  EXPECT_TRUE(contains(poisoned.body, "X-Forwarded-Host: test.local")) << poisoned.body;
  EXPECT_FALSE(contains(poisoned.body, "evil.example")) << poisoned.body;

  HttpResponse plain = get(url);
  EXPECT_EQ(plain.header("X-Cache"), "HIT") << plain.summary();
  EXPECT_EQ(plain.body, poisoned.body);
  for (const ReceivedRequest& r : backend_.requests()) {
    for (const std::string& v : r.headerValues("X-Forwarded-Host")) EXPECT_NE(v, "evil.example");
  }
}

TEST_F(CachePoisoningTest, ForwardedProtoFromTheClientNeverReachesTheBackend) {
  // A backend that builds absolute links from X-Forwarded-Proto would otherwise store https://
  // links (or redirects) for plain-HTTP clients.
  const std::string url = target("xfp", "X-Forwarded-Proto");
  HttpResponse poisoned = get(url, {{"X-Forwarded-Proto", "https"}});
  ASSERT_EQ(poisoned.status, 200) << poisoned.summary();
  EXPECT_TRUE(contains(poisoned.body, "X-Forwarded-Proto: http\n")) << poisoned.body;
  HttpResponse plain = get(url);
  EXPECT_EQ(plain.header("X-Cache"), "HIT") << plain.summary();
  EXPECT_EQ(plain.body, poisoned.body);
}

TEST_F(CachePoisoningTest, HostIsPartOfTheKey) {
  const std::string url = target("host", "Host");
  HttpResponse evil = get(url, {{"Host", "evil.example"}});
  ASSERT_EQ(evil.status, 200) << evil.summary();
  HttpResponse good = get(url, {{"Host", "test.local"}});
  ASSERT_EQ(good.status, 200) << good.summary();
  EXPECT_TRUE(contains(good.body, "Host: test.local")) << good.body;
  EXPECT_FALSE(contains(good.body, "evil.example")) << good.body;
}

}  // namespace
}  // namespace perfgate::test
