// Cache headers through the real filter chain and a scripted backend (support/filter_driver.h):
// Cache-Control and Expires added per route, generated strong ETags (XXH3-128, computed here with
// xxhash itself) and the 304s answered for them, by the filter and from the cache.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "gateway/http/http_date.h"
#include "support/filter_driver.h"

namespace perfgate::test {
namespace {

constexpr std::string_view kUpstream = "[upstream.backend]\nurl = \"http://127.0.0.1:9\"\n\n";

// A route `name` for `prefix` with `settings` (TOML lines).
std::string route(std::string_view name, std::string_view prefix, std::string_view settings) {
  return "[[route]]\nname = \"" + std::string(name) + "\"\nprefix = \"" + std::string(prefix) +
         "\"\nupstream = \"backend\"\n" + std::string(settings) + "\n";
}

// The ETag the gateway generates for `body`: XXH3-128 as 32 hex digits, quoted.
std::string xxh128Tag(std::string_view body) {
  XXH128_hash_t hash = XXH3_128bits(body.data(), body.size());
  char tag[40];
  std::snprintf(tag, sizeof tag, "\"%016llx%016llx\"", static_cast<unsigned long long>(hash.high64),
                static_cast<unsigned long long>(hash.low64));
  return tag;
}

std::string text(size_t n) {
  std::string out;
  for (size_t i = 0; out.size() < n; ++i) out += "word" + std::to_string(i) + " ";
  out.resize(n);
  return out;
}

// Answers with `status`, `fields` and `body` (Content-Type text/plain unless given).
FilterDriver::Backend answer(HeaderBlock fields, std::string body = "hello\n", int status = 200) {
  if (!fields.has("content-type")) fields.add("Content-Type", "text/plain");
  return [=](const UpstreamRequest&) {
    BackendResponse response;
    response.status = status;
    response.fields = fields;
    response.body = body;
    return response;
  };
}

// A 304 with the validator and caching fields of `full` that RFC 9110 §15.4.5 lists, a Date,
// and neither body, framing nor representation fields.
::testing::AssertionResult isNotModifiedFor(const ClientResponse& resp, const ClientResponse& full) {
  if (resp.status != 304) return ::testing::AssertionFailure() << "expected 304, got " << resp.status;
  if (!resp.body.empty() || resp.has("Content-Length") || resp.has("Transfer-Encoding")) {
    return ::testing::AssertionFailure() << "a 304 with a body or framing:\n" << resp.headers.serialize();
  }
  for (const char* name : {"ETag", "Cache-Control", "Expires", "Vary", "Content-Location", "Last-Modified"}) {
    if (resp.header(name) != full.header(name)) {
      return ::testing::AssertionFailure() << name << ": the 304 has '" << resp.header(name) << "', the 200 had '"
                                           << full.header(name) << "'";
    }
  }
  if (!resp.has("Date")) return ::testing::AssertionFailure() << "a 304 without Date";
  if (resp.has("Content-Type") || resp.has("Content-Encoding")) {
    return ::testing::AssertionFailure() << "representation fields on a 304:\n" << resp.headers.serialize();
  }
  return ::testing::AssertionSuccess();
}

TEST(CacheHeadersFilter, CacheControlIsAddedPerRouteWithTheMatchingExpires) {
  FilterDriver driver(std::string(kUpstream) +
                      route("add", "/add/", "cache = false\ncache_control = \"public, max-age=300\"") +
                      route("over", "/over/",
                            "cache = false\ncache_control = \"public, max-age=60\"\n"
                            "cache_control_mode = \"override\"") +
                      route("plain", "/", "cache = false"));
  const std::string date = formatHttpDate(driver.clock().now());

  driver.backend = answer({{"Date", date}});
  ClientResponse added = driver.get("/add/page");
  EXPECT_EQ(added.header("Cache-Control"), "public, max-age=300");
  EXPECT_EQ(added.header("Expires"), formatHttpDate(driver.clock().now() + 300)) << "Date + max-age";
  ClientResponse plain = driver.get("/page");
  EXPECT_FALSE(plain.has("Cache-Control"));
  EXPECT_FALSE(plain.has("Expires"));

  // "add" keeps the backend's own; "override" replaces it, Expires included.
  driver.backend = answer({{"Date", date}, {"Cache-Control", "no-cache"}, {"Expires", "0"}});
  ClientResponse own = driver.get("/add/own");
  EXPECT_EQ(own.headers.count("Cache-Control"), 1u);
  EXPECT_EQ(own.header("Cache-Control"), "no-cache");
  EXPECT_EQ(own.header("Expires"), "0");
  ClientResponse overridden = driver.get("/over/own");
  EXPECT_EQ(overridden.headers.count("Cache-Control"), 1u);
  EXPECT_EQ(overridden.header("Cache-Control"), "public, max-age=60");
  EXPECT_EQ(overridden.header("Expires"), formatHttpDate(driver.clock().now() + 60));

  // Errors are left alone: max-age on a 503 would keep an outage in caches.
  driver.backend = answer({{"Date", date}}, "down\n", 503);
  ClientResponse error = driver.get("/add/down");
  EXPECT_EQ(error.status, 503);
  EXPECT_FALSE(error.has("Cache-Control"));
  EXPECT_FALSE(error.has("Expires"));
}

TEST(CacheHeadersFilter, AStrongEtagIsGeneratedAndIfNoneMatchIsAnswered304) {
  FilterDriver driver(std::string(kUpstream) +
                      route("all", "/", "cache = false\netag = true\ncache_control = \"public, max-age=30\""));
  const std::string body = text(5000);
  driver.backend = answer({{"Content-Location", "/tagged"}, {"Date", formatHttpDate(driver.clock().now())}}, body);

  ClientResponse full = driver.get("/tagged");
  ASSERT_EQ(full.status, 200);
  EXPECT_EQ(full.body, body);
  EXPECT_EQ(full.header("ETag"), xxh128Tag(body));
  EXPECT_EQ(full.header("Content-Length"), "5000");
  EXPECT_FALSE(full.has("Last-Modified")) << "never made up";
  for (const std::string& inm : {full.header("ETag"), "W/" + full.header("ETag"), "\"x\", " + full.header("ETag"),
                                 std::string("*")}) {
    ClientResponse conditional = driver.get("/tagged", {{"If-None-Match", inm}});
    EXPECT_TRUE(isNotModifiedFor(conditional, full)) << inm;
    EXPECT_TRUE(conditional.complete) << inm;
  }
  ClientResponse changed = driver.get("/tagged", {{"If-None-Match", "\"something-else\""}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body, body);
  // The backend saw every request: these 304s are the gateway's, for the tag it made.
  EXPECT_EQ(driver.requestsFor("/tagged"), 6u);
}

TEST(CacheHeadersFilter, NoEtagWhereItDoesNotBelong) {
  FilterDriver driver(std::string(kUpstream) + route("all", "/", "cache = false\netag = true") +
                      "[cache]\nmax_object_bytes = \"64KiB\"\n");
  driver.backend = answer({{"ETag", "\"backend\""}});
  EXPECT_EQ(driver.get("/own").header("ETag"), "\"backend\"");
  driver.backend = answer({{"Cache-Control", "no-store"}});
  EXPECT_FALSE(driver.get("/no-store").has("ETag"));
  driver.backend = answer({{"Cache-Control", "private"}});
  EXPECT_FALSE(driver.get("/private").has("ETag"));
  driver.backend = answer({}, "missing\n", 404);
  EXPECT_FALSE(driver.get("/missing").has("ETag"));
  // Larger than what may be held back: it goes on without one, whole.
  const std::string big = text(100000);
  driver.backend = answer({{"Content-Type", "image/png"}}, big);
  ClientResponse streamed = driver.get("/big");
  EXPECT_FALSE(streamed.has("ETag"));
  EXPECT_EQ(streamed.body, big);
  EXPECT_TRUE(streamed.complete);
}

TEST(CacheHeadersFilter, EachEncodingGetsItsOwnTagAndTheCacheAnswers304) {
  FilterDriver driver(std::string(kUpstream) +
                      route("all", "/", "etag = true\ncache_control = \"public, max-age=120\""));
  const std::string body = text(3000);
  const std::string lm = "Sun, 06 Nov 1994 08:49:37 GMT";
  driver.backend = answer({{"Content-Location", "/stored"}, {"Last-Modified", lm},
                           {"Date", formatHttpDate(driver.clock().now())}},
                          body);

  ClientResponse miss = driver.get("/stored", {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(miss.header("X-Cache"), "MISS");
  ASSERT_EQ(miss.header("Content-Encoding"), "gzip");
  EXPECT_EQ(miss.header("ETag"), xxh128Tag(miss.body)) << "names the bytes sent";
  ClientResponse hit = driver.get("/stored", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_EQ(hit.header("ETag"), miss.header("ETag"));
  EXPECT_EQ(hit.header("Expires"), miss.header("Expires"));
  ClientResponse by_tag =
      driver.get("/stored", {{"Accept-Encoding", "gzip"}, {"If-None-Match", miss.header("ETag")}});
  EXPECT_EQ(by_tag.header("X-Cache"), "HIT");
  EXPECT_TRUE(isNotModifiedFor(by_tag, miss));
  EXPECT_EQ(by_tag.header("Date"), miss.header("Date"));
  ClientResponse by_date = driver.get("/stored", {{"Accept-Encoding", "gzip"}, {"If-Modified-Since", lm}});
  EXPECT_TRUE(isNotModifiedFor(by_date, miss));

  // The identity variant, decoded from the stored gzip one, carries the tag of its own bytes.
  ClientResponse identity = driver.get("/stored");
  EXPECT_EQ(identity.header("X-Cache"), "HIT");
  EXPECT_EQ(identity.body, body);
  EXPECT_EQ(identity.header("ETag"), xxh128Tag(body));
  EXPECT_NE(identity.header("ETag"), miss.header("ETag"));
  EXPECT_TRUE(isNotModifiedFor(driver.get("/stored", {{"If-None-Match", identity.header("ETag")}}), identity));
  EXPECT_EQ(driver.requestsFor("/stored"), 1u);
}

}  // namespace
}  // namespace perfgate::test
