// Targeted cache control (RFC 9213): a CDN-Cache-Control field (or another name the config lists
// first) is this cache's policy, in place of Cache-Control and Expires, for storing and for
// freshness; Cache-Control still goes on to the clients and the caches after this one.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "gateway/http/http_date.h"
#include "support/filter_driver.h"

namespace perfgate::test {
namespace {

std::string config(std::string_view cache_table = "") {
  return "[upstream.backend]\nurl = \"http://127.0.0.1:9\"\n\n[cache]\n" + std::string(cache_table) +
         "\n[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n";
}

// Answers every request with `fields` and a counter in the body.
class Origin {
 public:
  Origin(FilterDriver& driver, HeaderBlock fields) : fields_(std::move(fields)) {
    driver.backend = [this](const UpstreamRequest&) {
      BackendResponse response;
      response.fields = fields_;
      response.fields.add("Content-Type", "text/plain");
      response.body = "fetch " + std::to_string(++fetches) + "\n";
      return response;
    };
  }
  int fetches = 0;

 private:
  HeaderBlock fields_;
};

TEST(TargetedCacheControl, CdnCacheControlOutranksCacheControlForThisCache) {
  FilterDriver driver(config());
  Origin origin(driver, {{"Cache-Control", "no-store"}, {"CDN-Cache-Control", "max-age=60"}});
  ClientResponse first = driver.get("/a");
  EXPECT_EQ(first.header("X-Cache"), "MISS");
  ClientResponse second = driver.get("/a");
  EXPECT_EQ(second.header("X-Cache"), "HIT") << "stored for 60 s despite Cache-Control: no-store";
  EXPECT_EQ(second.header("Cache-Control"), "no-store") << "Cache-Control goes on for the caches after this one";
  EXPECT_EQ(second.header("CDN-Cache-Control"), "max-age=60") << "forwarded by default";
  driver.clock().advance(59);
  EXPECT_EQ(driver.get("/a").header("X-Cache"), "HIT");
  driver.clock().advance(1);
  EXPECT_NE(driver.get("/a").header("X-Cache"), "HIT") << "its lifetime is the targeted max-age";
  EXPECT_EQ(origin.fetches, 2);
}

TEST(TargetedCacheControl, ItsRestrictionsApplyToo) {
  for (const char* directives : {"no-store", "private", "max-age=60, no-store"}) {
    SCOPED_TRACE(directives);
    FilterDriver driver(config());
    Origin origin(driver, {{"Cache-Control", "public, max-age=600"}, {"CDN-Cache-Control", directives}});
    driver.get("/r");
    EXPECT_NE(driver.get("/r").header("X-Cache"), "HIT");
    EXPECT_EQ(origin.fetches, 2);
  }
  // no-cache: stored, validated on every use.
  FilterDriver driver(config());
  Origin origin(driver, {{"Cache-Control", "max-age=600"}, {"CDN-Cache-Control", "no-cache"}, {"ETag", "\"v\""}});
  driver.get("/n");
  EXPECT_NE(driver.get("/n").header("X-Cache"), "HIT");
  EXPECT_EQ(origin.fetches, 2);
}

TEST(TargetedCacheControl, ExpiresIsIgnoredWithATargetedField) {
  FilterDriver driver(config());
  std::string in_an_hour = formatHttpDate(driver.clock().now() + 3600);
  Origin origin(driver, {{"Date", formatHttpDate(driver.clock().now())}, {"Expires", in_an_hour},
                         {"CDN-Cache-Control", "max-age=10"}});
  driver.get("/e");
  driver.clock().advance(10);
  EXPECT_NE(driver.get("/e").header("X-Cache"), "HIT") << "the targeted max-age=10 rules, not Expires";
}

TEST(TargetedCacheControl, AnInvalidOrEmptyTargetedFieldIsIgnored) {
  for (const char* value : {"Max-Age=60", "max-age=60,", "", "max-age=60 no-store"}) {
    SCOPED_TRACE(value);
    FilterDriver driver(config());
    Origin origin(driver, {{"Cache-Control", "no-store"}, {"CDN-Cache-Control", value}});
    driver.get("/i");
    EXPECT_NE(driver.get("/i").header("X-Cache"), "HIT") << "Cache-Control: no-store applies";
  }
}

TEST(TargetedCacheControl, TheFirstConfiguredNameWinsAndTheyCanBeConsumed) {
  FilterDriver driver(config("targeted_fields = [\"Perfgate-Cache-Control\", \"CDN-Cache-Control\"]\n"
                             "forward_targeted_fields = false\n"));
  Origin origin(driver, {{"Cache-Control", "no-store"},
                         {"CDN-Cache-Control", "no-store"},
                         {"Perfgate-Cache-Control", "max-age=30"}});
  ClientResponse first = driver.get("/p");
  ClientResponse second = driver.get("/p");
  EXPECT_EQ(second.header("X-Cache"), "HIT");
  for (const ClientResponse* resp : {&first, &second}) {
    EXPECT_FALSE(resp->has("Perfgate-Cache-Control"));
    EXPECT_FALSE(resp->has("CDN-Cache-Control"));
    EXPECT_EQ(resp->header("Cache-Control"), "no-store");
  }
}

TEST(TargetedCacheControl, AnEmptyListTurnsItOff) {
  FilterDriver driver(config("targeted_fields = []\n"));
  Origin origin(driver, {{"Cache-Control", "no-store"}, {"CDN-Cache-Control", "max-age=60"}});
  driver.get("/off");
  EXPECT_NE(driver.get("/off").header("X-Cache"), "HIT");
}

}  // namespace
}  // namespace perfgate::test
