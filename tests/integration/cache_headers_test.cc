// End to end through a real perfgate to a real TestBackend: per-route Cache-Control and Expires
// for backends that send none, generated strong ETags, and 304 Not Modified with the fields RFC
// 9110 §15.4.5 requires, both for generated ETags and from the cache.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <string>
#include <utility>

#include "integration/gateway_fixture.h"
#include "support/cache_target.h"

namespace perfgate::test {
namespace {


// The ETag the gateway generates for `body`: XXH3-128 as 32 hex digits, quoted.
std::string xxh128Tag(const std::string& body) {
  XXH128_hash_t hash = XXH3_128bits(body.data(), body.size());
  char tag[40];
  std::snprintf(tag, sizeof tag, "\"%016llx%016llx\"", static_cast<unsigned long long>(hash.high64),
                static_cast<unsigned long long>(hash.low64));
  return tag;
}

// A 304 with exactly the validator and caching fields of `full` that §15.4.5 lists, and no body.
::testing::AssertionResult isNotModifiedFor(const HttpResponse& resp, const HttpResponse& full) {
  if (resp.status != 304) return ::testing::AssertionFailure() << "expected 304, got " << resp.summary();
  if (!resp.body.empty() || resp.hasHeader("Content-Length") || resp.hasHeader("Transfer-Encoding")) {
    return ::testing::AssertionFailure() << "a 304 with a body or framing: " << resp.summary();
  }
  for (const char* name : {"ETag", "Cache-Control", "Expires", "Vary", "Content-Location", "Last-Modified"}) {
    if (resp.header(name) != full.header(name)) {
      return ::testing::AssertionFailure() << name << ": 304 has '" << resp.header(name) << "', the 200 had '"
                                           << full.header(name) << "'";
    }
  }
  if (!resp.hasHeader("Date")) return ::testing::AssertionFailure() << "a 304 without Date";
  if (resp.hasHeader("Content-Type") || resp.hasHeader("Content-Encoding")) {
    return ::testing::AssertionFailure() << "representation fields on a 304: " << resp.summary();
  }
  return ::testing::AssertionSuccess();
}

class CacheHeadersTest : public GatewayTest {
 protected:
  ::testing::AssertionResult start(const std::string& route_settings, const std::string& extra = "") {
    GatewayConfig c = baseConfig();
    c.workers = 1;
    c.routes = "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n" + route_settings + "\n";
    c.extra = extra;
    return startGateway(c);
  }
};

TEST_F(CacheHeadersTest, CacheControlAndExpiresAddedWhenTheBackendSendsNone) {
  ASSERT_TRUE(start("cache = false\ncache_control = \"public, max-age=300\""));
  HttpResponse resp = get(cacheTarget("cc", {{"date", "now"}}));
  ASSERT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("Cache-Control"), "public, max-age=300");
  std::time_t date = parseHttpDate(resp.header("Date"));
  ASSERT_GT(date, 0);
  EXPECT_EQ(parseHttpDate(resp.header("Expires")), date + 300) << resp.header("Expires");
  // No Date from the backend: Expires counts from now.
  std::time_t before = std::time(nullptr);
  HttpResponse undated = get(cacheTarget("cc-undated", {}));
  std::time_t expires = parseHttpDate(undated.header("Expires"));
  EXPECT_GE(expires, before + 300);
  EXPECT_LE(expires, std::time(nullptr) + 300);
  // The backend's own Cache-Control (and Expires) stay in "add" mode.
  HttpResponse own = get(cacheTarget("cc-own", {{"cc", "no-cache"}, {"expires", "0"}}));
  EXPECT_EQ(own.headerValues("Cache-Control"), std::vector<std::string>{"no-cache"});
  EXPECT_EQ(own.header("Expires"), "0");
  // Errors are left alone.
  HttpResponse error = get(cacheTarget("cc-503", {{"status", "503"}}));
  EXPECT_EQ(error.status, 503);
  EXPECT_FALSE(error.hasHeader("Cache-Control"));
  EXPECT_FALSE(error.hasHeader("Expires"));
}

TEST_F(CacheHeadersTest, OverrideModeReplacesTheBackendsCacheControl) {
  ASSERT_TRUE(start("cache = false\ncache_control = \"public, max-age=60\"\ncache_control_mode = \"override\""));
  HttpResponse resp = get(cacheTarget("ov", {{"cc", "private"}, {"cc", "max-age=5"}, {"expires", "0"}, {"date", "now"}}));
  EXPECT_EQ(resp.headerValues("Cache-Control"), std::vector<std::string>{"public, max-age=60"});
  EXPECT_EQ(parseHttpDate(resp.header("Expires")), parseHttpDate(resp.header("Date")) + 60);
}

TEST_F(CacheHeadersTest, StrongEtagGeneratedAndConditionalRequestsAnswered) {
  ASSERT_TRUE(start("cache = false\netag = true\ncache_control = \"public, max-age=30\""));
  const std::string body = pattern(5000);
  const std::string target = cacheTarget("tagged", {{"size", "5000"}, {"header", "Content-Location:/tagged"}});
  HttpResponse full = get(target);
  ASSERT_EQ(full.status, 200);
  EXPECT_EQ(full.body, body);
  EXPECT_EQ(full.header("ETag"), xxh128Tag(body));
  EXPECT_EQ(full.header("Content-Length"), "5000");
  EXPECT_FALSE(full.hasHeader("Last-Modified"));  // never made up
  for (const std::string& inm : {full.header("ETag"), "W/" + full.header("ETag"), "\"x\", " + full.header("ETag"),
                                 std::string("*")}) {
    HttpResponse conditional = get(target, {{"If-None-Match", inm}});
    EXPECT_TRUE(isNotModifiedFor(conditional, full)) << inm;
  }
  HttpResponse changed = get(target, {{"If-None-Match", "\"something-else\""}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body, body);
  // The backend saw every request: these 304s are the gateway's, for the tag it made.
  EXPECT_EQ(backend_.requestsFor(target), 6u);
}

TEST_F(CacheHeadersTest, EachEncodingGetsItsOwnTag) {
  ASSERT_TRUE(start("cache = false\netag = true"));
  const std::string target = cacheTarget("enc", {{"size", "5000"}});
  HttpResponse identity = get(target);
  HttpResponse gzip = get(target, {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(gzip.header("Content-Encoding"), "gzip");
  EXPECT_EQ(gzip.header("ETag"), xxh128Tag(gzip.body));  // names the bytes sent
  EXPECT_NE(gzip.header("ETag"), identity.header("ETag"));
  EXPECT_EQ(get(target, {{"Accept-Encoding", "gzip"}}).header("ETag"), gzip.header("ETag"));  // stable
  HttpResponse conditional = get(target, {{"Accept-Encoding", "gzip"}, {"If-None-Match", gzip.header("ETag")}});
  EXPECT_TRUE(isNotModifiedFor(conditional, gzip));
  EXPECT_EQ(conditional.header("Vary"), "Accept-Encoding");
}

TEST_F(CacheHeadersTest, NoEtagWhereItDoesNotBelong) {
  ASSERT_TRUE(start("cache = false\netag = true", "[cache]\nmax_object_bytes = \"64KiB\"\n"));
  EXPECT_EQ(get(cacheTarget("own", {{"etag", "\"backend\""}})).header("ETag"), "\"backend\"");
  EXPECT_FALSE(get(cacheTarget("ns", {{"cc", "no-store"}})).hasHeader("ETag"));
  EXPECT_FALSE(get(cacheTarget("pv", {{"cc", "private"}})).hasHeader("ETag"));
  EXPECT_FALSE(get(cacheTarget("404", {{"status", "404"}})).hasHeader("ETag"));
  // Larger than the hold limit: streamed on without one.
  HttpResponse big = get(cacheTarget("big", {{"size", "100000"}, {"header", "Content-Type:image/png"}}));
  EXPECT_EQ(big.body, pattern(100000));
  EXPECT_FALSE(big.hasHeader("ETag"));
  HttpResponse big_chunked = get(cacheTarget("bigc", {{"size", "100000"}, {"chunked", "1"}}));
  EXPECT_EQ(big_chunked.body, pattern(100000));
  EXPECT_FALSE(big_chunked.hasHeader("ETag"));
  // Last-Modified passes through as it is.
  EXPECT_EQ(get(cacheTarget("lm", {{"lm", "Sun, 06 Nov 1994 08:49:37 GMT"}})).header("Last-Modified"),
            "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST_F(CacheHeadersTest, CachedRouteAnswers304FromCacheWithTheRequiredFields) {
  ASSERT_TRUE(start("etag = true\ncache_control = \"public, max-age=120\""));
  const std::string target = cacheTarget("stored", {{"size", "3000"}, {"header", "Content-Location:/stored"},
                                                    {"lm", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"date", "now"}});
  HttpResponse miss = get(target, {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(miss.header("X-Cache"), "MISS");
  ASSERT_EQ(miss.header("Content-Encoding"), "gzip");
  EXPECT_EQ(miss.header("ETag"), xxh128Tag(miss.body));
  HttpResponse hit = get(target, {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_EQ(hit.header("ETag"), miss.header("ETag"));
  EXPECT_EQ(hit.header("Expires"), miss.header("Expires"));
  HttpResponse by_tag = get(target, {{"Accept-Encoding", "gzip"}, {"If-None-Match", miss.header("ETag")}});
  EXPECT_EQ(by_tag.header("X-Cache"), "HIT");
  EXPECT_TRUE(isNotModifiedFor(by_tag, miss));
  EXPECT_EQ(by_tag.header("Date"), miss.header("Date"));
  HttpResponse by_date = get(target, {{"Accept-Encoding", "gzip"}, {"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}});
  EXPECT_TRUE(isNotModifiedFor(by_date, miss));
  // The identity variant, decoded from the stored gzip one, carries the tag of its own bytes.
  HttpResponse identity = get(target);
  EXPECT_EQ(identity.header("X-Cache"), "HIT");
  EXPECT_EQ(identity.body, pattern(3000));
  EXPECT_EQ(identity.header("ETag"), xxh128Tag(identity.body));
  EXPECT_TRUE(isNotModifiedFor(get(target, {{"If-None-Match", identity.header("ETag")}}), identity));
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

}  // namespace
}  // namespace perfgate::test
