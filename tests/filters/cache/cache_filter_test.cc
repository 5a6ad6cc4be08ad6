// The cache filter through the real filter chain and a scripted backend (support/filter_driver.h),
// with time from a ManualClock: expiry, revalidation, stale-if-error and stale-while-revalidate
// are checked at exact ages, without waiting. The backend answers as the integration tests'
// TestBackend /cache resources do, so these tests read as their end-to-end counterparts in
// tests/integration/cache_test.cc did.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "gateway/http/http_date.h"
#include "gateway/http/tokens.h"
#include "support/filter_driver.h"

namespace perfgate::test {
namespace {

// One route "all" for "/" with `route_settings` (TOML lines) added.
std::string cacheConfig(std::string_view route_settings = "") {
  return "[upstream.backend]\nurl = \"http://127.0.0.1:9\"\n\n"
         "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n" +
         std::string(route_settings) + "\n";
}

std::string fetchBody(int n) { return "fetch " + std::to_string(n) + "\n"; }

// The backend of these tests. Each target answers with the fields it was given (Cache-Control,
// ETag, Last-Modified, ...) and X-Fetch: N, N counting the requests for the target so far, this
// one included; with Content-Type: text/plain and the body "fetch N\n" unless it answers 304.
// A GET or HEAD is answered 304 (no Content-Type, no body) when its If-None-Match lists the
// target's ETag (weak comparison; "*" matches any) or, without If-None-Match, when its
// If-Modified-Since is not before the target's Last-Modified (RFC 9110 §13.2.2).
class Origin {
 public:
  explicit Origin(FilterDriver& driver) {
    driver.backend = [this](const UpstreamRequest& request) { return answer(request); };
  }

  void serve(const std::string& target, HeaderBlock fields) { resources_[target] = std::move(fields); }
  // From now on connections to the backend are refused.
  void stop() { stopped_ = true; }

 private:
  static std::string_view opaque(std::string_view tag) { return tag.substr(0, 2) == "W/" ? tag.substr(2) : tag; }

  bool notModified(const UpstreamRequest& request, const HeaderBlock& fields) const {
    if (request.method != "GET" && request.method != "HEAD") return false;
    std::string_view etag = fields.get("etag").value_or("");
    if (std::optional<std::string_view> inm = request.headers.get("if-none-match")) {
      bool match = false;
      forEachListElement(*inm, [&](std::string_view tag) {
        match = match || (!etag.empty() && (tag == "*" || opaque(tag) == opaque(etag)));
      });
      return match;
    }
    std::optional<std::string_view> ims = request.headers.get("if-modified-since");
    std::optional<std::string_view> lm = fields.get("last-modified");
    if (!ims || !lm) return false;
    std::optional<int64_t> since = parseHttpDate(*ims);
    std::optional<int64_t> modified = parseHttpDate(*lm);
    return since && modified && *modified <= *since;
  }

  BackendResponse answer(const UpstreamRequest& request) {
    if (stopped_) return BackendResponse::failed(UpstreamResult::ConnectFailed);
    auto found = resources_.find(request.target);
    if (found == resources_.end()) {
      ADD_FAILURE() << "no resource " << request.target;
      return BackendResponse::failed(UpstreamResult::ConnectFailed);
    }
    int fetch = ++fetches_[request.target];
    BackendResponse response;
    response.fields = found->second;
    response.fields.add("X-Fetch", std::to_string(fetch));
    if (notModified(request, found->second)) {
      response.status = 304;
      return response;
    }
    response.fields.add("Content-Type", "text/plain");
    response.body = fetchBody(fetch);
    return response;
  }

  std::map<std::string, HeaderBlock> resources_;
  std::map<std::string, int> fetches_;
  bool stopped_ = false;
};

// ttl=N of "Cache-Status: perfgate; ...; ttl=N"; -1 when absent.
long hitTtl(const ClientResponse& resp) {
  std::string cs = resp.header("Cache-Status");
  size_t at = cs.find("ttl=");
  return at == std::string::npos ? -1 : std::stol(cs.substr(at + 4));
}

long ageOf(const ClientResponse& resp) { return resp.has("Age") ? std::stol(resp.header("Age")) : -1; }

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string summary(const ClientResponse& resp) {
  return std::to_string(resp.status) + "\n" + resp.headers.serialize() + "\n" + resp.body.substr(0, 200);
}

// Answered from the cache: X-Cache HIT, Cache-Status "perfgate; hit", an Age.
::testing::AssertionResult isHit(const ClientResponse& resp) {
  if (resp.header("X-Cache") != "HIT" || resp.header("Cache-Status").rfind("perfgate; hit", 0) != 0) {
    return ::testing::AssertionFailure() << "expected a hit, got " << summary(resp);
  }
  if (!resp.has("Age")) return ::testing::AssertionFailure() << "a hit without Age: " << summary(resp);
  return ::testing::AssertionSuccess();
}

// Forwarded and stored: X-Cache MISS, Cache-Status "perfgate; fwd=miss; stored".
::testing::AssertionResult isStoredMiss(const ClientResponse& resp) {
  if (resp.header("X-Cache") != "MISS" || resp.header("Cache-Status") != "perfgate; fwd=miss; stored") {
    return ::testing::AssertionFailure() << "expected a stored miss, got " << summary(resp);
  }
  return ::testing::AssertionSuccess();
}

// The gateway's own error, queued whole: `status`, Content-Type application/json and a body
// {"error": "<non-empty>", "status": status}.
::testing::AssertionResult isGatewayError(const ClientResponse& resp, int status) {
  if (resp.status != status) return ::testing::AssertionFailure() << "expected " << status << ", got " << summary(resp);
  if (!resp.complete) return ::testing::AssertionFailure() << "not complete: " << summary(resp);
  if (resp.header("Content-Type").rfind("application/json", 0) != 0) {
    return ::testing::AssertionFailure() << "not a JSON error: " << summary(resp);
  }
  if (resp.header("Content-Length") != std::to_string(resp.body.size())) {
    return ::testing::AssertionFailure() << "the body is not the length it declares: " << summary(resp);
  }
  nlohmann::json j = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_string() || j["error"].get<std::string>().empty() ||
      !j.contains("status") || j["status"] != status) {
    return ::testing::AssertionFailure() << "not the gateway's error body: " << resp.body;
  }
  return ::testing::AssertionSuccess();
}

TEST(CacheFilter, AgeGrowsAndTtlShrinksWhileTheEntryIsResident) {
  FilterDriver driver(cacheConfig());
  Origin origin(driver);
  origin.serve("/age", {{"Cache-Control", "max-age=60"}});
  ASSERT_TRUE(isStoredMiss(driver.get("/age")));

  ClientResponse early = driver.get("/age");
  ASSERT_TRUE(isHit(early));
  driver.clock().advance(1);
  ClientResponse late = driver.get("/age");
  ASSERT_TRUE(isHit(late));

  EXPECT_EQ(ageOf(early), 0);
  EXPECT_EQ(hitTtl(early), 60);
  EXPECT_EQ(ageOf(late), 1);
  EXPECT_EQ(hitTtl(late), 59);
  EXPECT_EQ(hitTtl(late) + ageOf(late), 60) << "ttl is the freshness lifetime less the current age";
  EXPECT_EQ(late.headers.count("Age"), 1u);
  EXPECT_EQ(late.body, fetchBody(1));

  // Fresh up to its last second (age 59 < 60), then no longer (RFC 9111 §4.2).
  driver.clock().advance(58);
  ClientResponse last = driver.get("/age");
  ASSERT_TRUE(isHit(last));
  EXPECT_EQ(ageOf(last), 59);
  EXPECT_EQ(hitTtl(last), 1);
  EXPECT_EQ(driver.requestsFor("/age"), 1u);
  driver.clock().advance(1);
  EXPECT_EQ(driver.get("/age").header("X-Cache"), "EXPIRED");
  EXPECT_EQ(driver.requestsFor("/age"), 2u);
}

TEST(CacheFilter, MaxAgeExpiryRefetchesFromTheBackend) {
  FilterDriver driver(cacheConfig());
  Origin origin(driver);
  origin.serve("/expiry", {{"Cache-Control", "max-age=1"}});
  ASSERT_TRUE(isStoredMiss(driver.get("/expiry")));
  driver.clock().advance(2);

  ClientResponse resp = driver.get("/expiry");
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("X-Cache"), "EXPIRED");
  EXPECT_EQ(resp.header("Cache-Status"), "perfgate; fwd=stale; stored");
  EXPECT_EQ(resp.body, fetchBody(2));
  EXPECT_EQ(driver.requestsFor("/expiry"), 2u);

  // The refetched response replaced the entry: fresh while its age is under max-age=1, that is
  // for this second only.
  ClientResponse hit = driver.get("/expiry");
  EXPECT_TRUE(isHit(hit));
  EXPECT_EQ(hit.body, fetchBody(2));
  driver.clock().advance(1);
  ClientResponse again = driver.get("/expiry");
  EXPECT_EQ(again.header("X-Cache"), "EXPIRED");
  EXPECT_EQ(again.body, fetchBody(3));
  EXPECT_EQ(driver.requestsFor("/expiry"), 3u);
}

TEST(CacheFilter, OnlyIfCachedWithOnlyAStaleEntryIs504) {
  FilterDriver driver(cacheConfig());
  Origin origin(driver);
  origin.serve("/only-if-cached-stale", {{"Cache-Control", "max-age=1"}});
  ASSERT_TRUE(isStoredMiss(driver.get("/only-if-cached-stale")));
  EXPECT_TRUE(isHit(driver.get("/only-if-cached-stale", {{"Cache-Control", "only-if-cached"}})));
  driver.clock().advance(2);
  EXPECT_TRUE(isGatewayError(driver.get("/only-if-cached-stale", {{"Cache-Control", "only-if-cached"}}), 504));
  EXPECT_EQ(driver.requestsFor("/only-if-cached-stale"), 1u);
}

// revalidation (stale entry with an ETag; a 304 refreshes the stored headers, §4.3.4)
TEST(CacheFilter, StaleEntryIsRevalidatedWithIfNoneMatchAnd304RefreshesHeaders) {
  FilterDriver driver(cacheConfig());
  Origin origin(driver);
  origin.serve("/revalidate-etag", {{"Cache-Control", "max-age=1"}, {"ETag", "\"v1\""}});
  ClientResponse first = driver.get("/revalidate-etag");
  ASSERT_TRUE(isStoredMiss(first));
  EXPECT_EQ(first.header("X-Fetch"), "1");
  driver.clock().advance(2);

  ClientResponse revalidated = driver.get("/revalidate-etag");
  EXPECT_EQ(revalidated.status, 200);
  EXPECT_EQ(revalidated.header("X-Cache"), "REVALIDATED");
  EXPECT_EQ(revalidated.body, fetchBody(1)) << "the stored body, not a new one";
  EXPECT_EQ(revalidated.header("X-Fetch"), "2") << "headers of the 304 replace the stored ones";
  EXPECT_EQ(revalidated.header("ETag"), "\"v1\"");
  EXPECT_EQ(revalidated.header("Content-Length"), std::to_string(fetchBody(1).size()));
  ASSERT_EQ(driver.requestsFor("/revalidate-etag"), 2u);
  UpstreamRequest conditional = driver.requestsTo("/revalidate-etag")[1];
  EXPECT_EQ(conditional.method, "GET");
  EXPECT_EQ(conditional.headers.get("If-None-Match").value_or(""), "\"v1\"");

  // The 304 made the entry fresh again, with its refreshed headers.
  ClientResponse hit = driver.get("/revalidate-etag");
  EXPECT_TRUE(isHit(hit));
  EXPECT_EQ(hit.body, fetchBody(1));
  EXPECT_EQ(hit.header("X-Fetch"), "2");
  EXPECT_EQ(ageOf(hit), 0) << "its age counts from the 304";
  EXPECT_EQ(driver.requestsFor("/revalidate-etag"), 2u);
}

// A client revalidating its own copy of a stale entry: the gateway validates the stored copy
// with the stored validators, the 304 refreshes it, and the client's conditional is answered
// from it. Passing the client's validators through would leave the entry stale for good.
TEST(CacheFilter, ClientConditionalOnAStaleEntryRefreshesTheEntry) {
  FilterDriver driver(cacheConfig());
  Origin origin(driver);
  origin.serve("/client-inm-stale", {{"Cache-Control", "max-age=1"}, {"ETag", "\"v1\""}});
  ASSERT_TRUE(isStoredMiss(driver.get("/client-inm-stale")));
  driver.clock().advance(2);

  ClientResponse not_modified = driver.get("/client-inm-stale", {{"If-None-Match", "\"v0\", \"v1\""}});
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.header("X-Cache"), "REVALIDATED");
  EXPECT_EQ(not_modified.header("ETag"), "\"v1\"");
  EXPECT_TRUE(not_modified.body.empty());
  ASSERT_EQ(driver.requestsFor("/client-inm-stale"), 2u);
  EXPECT_EQ(driver.requestsTo("/client-inm-stale")[1].headers.get("If-None-Match").value_or(""), "\"v1\"")
      << "the stored validator, not the client's";

  // Fresh again: the next conditional and the next plain request are hits.
  ClientResponse again = driver.get("/client-inm-stale", {{"If-None-Match", "\"v1\""}});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.header("X-Cache"), "HIT");
  ClientResponse plain = driver.get("/client-inm-stale");
  EXPECT_TRUE(isHit(plain));
  EXPECT_EQ(plain.body, fetchBody(1));
  EXPECT_EQ(driver.requestsFor("/client-inm-stale"), 2u);

  // A client whose validator no longer matches gets the whole stored response.
  driver.clock().advance(2);
  ClientResponse full = driver.get("/client-inm-stale", {{"If-None-Match", "\"v0\""}});
  EXPECT_EQ(full.status, 200);
  EXPECT_EQ(full.header("X-Cache"), "REVALIDATED");
  EXPECT_EQ(full.body, fetchBody(1));
  ASSERT_EQ(driver.requestsFor("/client-inm-stale"), 3u);
  EXPECT_EQ(driver.requestsTo("/client-inm-stale")[2].headers.get("If-None-Match").value_or(""), "\"v1\"");
}

// revalidation (stale entry with Last-Modified only)
TEST(CacheFilter, StaleEntryIsRevalidatedWithIfModifiedSince) {
  FilterDriver driver(cacheConfig());
  Origin origin(driver);
  const std::string lm = formatHttpDate(driver.clock().now() - 3600);
  origin.serve("/revalidate-lm", {{"Cache-Control", "max-age=1"}, {"Last-Modified", lm}});
  ASSERT_TRUE(isStoredMiss(driver.get("/revalidate-lm")));
  driver.clock().advance(2);

  ClientResponse revalidated = driver.get("/revalidate-lm");
  EXPECT_EQ(revalidated.status, 200);
  EXPECT_EQ(revalidated.header("X-Cache"), "REVALIDATED");
  EXPECT_EQ(revalidated.body, fetchBody(1));
  ASSERT_EQ(driver.requestsFor("/revalidate-lm"), 2u);
  UpstreamRequest conditional = driver.requestsTo("/revalidate-lm")[1];
  EXPECT_EQ(conditional.headers.get("If-Modified-Since").value_or(""), lm);
  EXPECT_FALSE(conditional.headers.has("If-None-Match"));
  EXPECT_TRUE(isHit(driver.get("/revalidate-lm")));
  EXPECT_EQ(driver.requestsFor("/revalidate-lm"), 2u);
}

// stale-if-error (RFC 5861 §4)
TEST(CacheFilter, StaleIfErrorServesStaleWhileTheBackendIsStopped) {
  FilterDriver driver(cacheConfig());
  Origin origin(driver);
  origin.serve("/sie", {{"Cache-Control", "max-age=1, stale-if-error=60"}});
  origin.serve("/sie-short", {{"Cache-Control", "max-age=1, stale-if-error=1"}});
  ASSERT_TRUE(isStoredMiss(driver.get("/sie")));
  ASSERT_TRUE(isStoredMiss(driver.get("/sie-short")));
  origin.stop();

  // Stale by 1 s: the last second of the short window.
  driver.clock().advance(2);
  ClientResponse edge = driver.get("/sie-short");
  EXPECT_EQ(edge.status, 200);
  EXPECT_EQ(edge.header("X-Cache"), "STALE");

  driver.clock().advance(1);
  ClientResponse stale = driver.get("/sie");
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.header("X-Cache"), "STALE");
  EXPECT_EQ(stale.body, fetchBody(1));
  EXPECT_EQ(ageOf(stale), 3);
  EXPECT_TRUE(contains(stale.header("Cache-Status"), "fwd-status=502; detail=stale-if-error"))
      << stale.header("Cache-Status");
  // Stale by 2 s, past its 1 s window: the error goes to the client.
  EXPECT_TRUE(isGatewayError(driver.get("/sie-short"), 502));
  EXPECT_EQ(driver.requestsFor("/sie"), 2u);
}

// stale-if-error (the route's default window)
TEST(CacheFilter, RouteStaleIfErrorServesStaleWhileTheBackendIsStopped) {
  FilterDriver driver(cacheConfig("stale_if_error = \"60s\""));
  Origin origin(driver);
  origin.serve("/route-sie", {{"Cache-Control", "max-age=1"}});
  origin.serve("/route-sie-strict", {{"Cache-Control", "max-age=1, must-revalidate"}});
  ASSERT_TRUE(isStoredMiss(driver.get("/route-sie")));
  ASSERT_TRUE(isStoredMiss(driver.get("/route-sie-strict")));
  origin.stop();
  driver.clock().advance(2);

  ClientResponse stale = driver.get("/route-sie");
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.header("X-Cache"), "STALE");
  EXPECT_EQ(stale.body, fetchBody(1));
  // §4.2.4: must-revalidate forbids serving it stale, whatever the route allows.
  EXPECT_TRUE(isGatewayError(driver.get("/route-sie-strict"), 502));
}

// stale-while-revalidate (RFC 5861 §3)
TEST(CacheFilter, StaleWhileRevalidateServesStaleAndFetchesOnceInTheBackground) {
  FilterDriver driver(cacheConfig());
  Origin origin(driver);
  origin.serve("/swr", {{"Cache-Control", "max-age=2, stale-while-revalidate=60"}});
  ASSERT_TRUE(isStoredMiss(driver.get("/swr")));
  driver.clock().advance(3);

  ClientResponse stale = driver.get("/swr");
  EXPECT_EQ(stale.header("X-Cache"), "STALE");
  EXPECT_EQ(stale.body, fetchBody(1)) << "served the stored response at once";
  ASSERT_EQ(driver.pendingBackground(), 1u) << "no background refresh";
  EXPECT_EQ(driver.requestsFor("/swr"), 1u) << "the refresh runs after the client's answer";

  // More requests while the background fetch runs: stale, never a new fetch.
  for (int i = 0; i < 5; ++i) {
    ClientResponse more = driver.get("/swr");
    EXPECT_EQ(more.header("X-Cache"), "STALE");
    EXPECT_EQ(more.body, fetchBody(1));
  }
  EXPECT_EQ(driver.pendingBackground(), 1u);
  EXPECT_EQ(driver.requestsFor("/swr"), 1u);

  // Once the refresh is stored, it is a fresh hit.
  driver.answerBackground();
  ASSERT_EQ(driver.requestsFor("/swr"), 2u);
  EXPECT_EQ(driver.requestsTo("/swr")[1].method, "GET");
  ClientResponse refreshed = driver.get("/swr");
  EXPECT_TRUE(isHit(refreshed));
  EXPECT_EQ(refreshed.body, fetchBody(2));
  EXPECT_EQ(driver.requestsFor("/swr"), 2u) << "exactly one background fetch";
  EXPECT_EQ(driver.pendingBackground(), 0u);
}

}  // namespace
}  // namespace perfgate::test
