// End to end through a real perfgate to a real TestBackend: the response cache (RFC 9111, shared
// cache). Every resource is a TestBackend /cache target whose query string sets the response's
// caching fields, and the backend counts the requests per target, so "a hit never reaches the
// backend" is checked by count. Bodies default to "fetch N\n" (N: which backend fetch made them),
// so a test also sees which fetch a response came from.
//
// The gateway runs one worker unless a test says otherwise, so every request meets the same
// event loop and a hit is deterministic; nothing asserts on speed.
// Time-dependent cases (age, expiry, revalidation, stale responses): tests/filters/cache/cache_filter_test.cc.
//
// A test named DISABLED_ covers a feature not landed yet and says "pending: <feature>".
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <initializer_list>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/http/gzip_codec.h"
#include "integration/gateway_fixture.h"
#include "support/cache_target.h"

#if defined(__SANITIZE_ADDRESS__)
#define PERFGATE_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PERFGATE_UNDER_SANITIZER 1
#endif
#endif

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string fetchBody(int n) { return "fetch " + std::to_string(n) + "\n"; }

// ttl=N of "Cache-Status: perfgate; hit; ttl=N"; -1 when absent or malformed.
long hitTtl(const HttpResponse& resp) {
  const std::string cs = resp.header("Cache-Status");
  size_t at = cs.find("ttl=");
  if (at == std::string::npos) return -1;
  try {
    return std::stol(cs.substr(at + 4));
  } catch (...) {
    return -1;
  }
}

long ageOf(const HttpResponse& resp) {
  try {
    return std::stol(resp.header("Age"));
  } catch (...) {
    return -1;
  }
}

// A 2xx/4xx/5xx answered from the cache: X-Cache HIT and Cache-Status "perfgate; hit".
::testing::AssertionResult isHit(const HttpResponse& resp) {
  if (!resp.ok()) return ::testing::AssertionFailure() << "no response: " << resp.error << "; " << resp.summary();
  if (resp.header("X-Cache") != "HIT" || resp.header("Cache-Status").rfind("perfgate; hit", 0) != 0) {
    return ::testing::AssertionFailure() << "expected a hit, got X-Cache '" << resp.header("X-Cache")
                                         << "', Cache-Status '" << resp.header("Cache-Status") << "'; "
                                         << resp.summary();
  }
  if (!resp.hasHeader("Age")) return ::testing::AssertionFailure() << "a hit without Age; " << resp.summary();
  return ::testing::AssertionSuccess();
}

// Forwarded to the backend and stored: X-Cache MISS, Cache-Status "perfgate; fwd=miss; stored".
::testing::AssertionResult isStoredMiss(const HttpResponse& resp) {
  if (!resp.ok()) return ::testing::AssertionFailure() << "no response: " << resp.error << "; " << resp.summary();
  if (resp.header("X-Cache") != "MISS" || resp.header("Cache-Status") != "perfgate; fwd=miss; stored") {
    return ::testing::AssertionFailure() << "expected a stored miss, got X-Cache '" << resp.header("X-Cache")
                                         << "', Cache-Status '" << resp.header("Cache-Status") << "'";
  }
  return ::testing::AssertionSuccess();
}

// Forwarded and not stored, for `detail` (Cache-Status "perfgate; fwd=miss; detail=<detail>").
::testing::AssertionResult isUnstoredMiss(const HttpResponse& resp, const std::string& detail) {
  if (!resp.ok()) return ::testing::AssertionFailure() << "no response: " << resp.error << "; " << resp.summary();
  const std::string cs = resp.header("Cache-Status");
  if (resp.header("X-Cache") != "MISS" || cs.rfind("perfgate; fwd=miss", 0) != 0 ||
      !contains(cs, "detail=" + detail) || contains(cs, "stored")) {
    return ::testing::AssertionFailure() << "expected a miss not stored for " << detail << ", got X-Cache '"
                                         << resp.header("X-Cache") << "', Cache-Status '" << cs << "'";
  }
  return ::testing::AssertionSuccess();
}

class CacheTest : public GatewayTest {
 protected:
  // One route "all" for "/" with `route_settings` (TOML lines) added, `cache_table` as the body
  // of a [cache] table, and `workers` workers, in front of `backend_port` (backend_ when 0).
  GatewayConfig cacheConfig(const std::string& route_settings = "", const std::string& cache_table = "",
                            int workers = 1, int backend_port = 0) const {
    GatewayConfig c = baseConfig();
    c.workers = workers;
    if (backend_port != 0) c.backend_port = backend_port;
    c.routes = "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n" + route_settings + "\n";
    if (!cache_table.empty()) c.extra = "[cache]\n" + cache_table + "\n";
    return c;
  }

  ::testing::AssertionResult startCache(const std::string& route_settings = "", const std::string& cache_table = "",
                                        int workers = 1) {
    return startGateway(cacheConfig(route_settings, cache_table, workers));
  }

  // Sends GET `target` on `n` connections at once (all connected first, then released together)
  // and returns the responses in connection order.
  std::vector<HttpResponse> concurrentGets(const std::string& target, size_t n) {
    std::vector<HttpConnection> conns;
    for (size_t i = 0; i < n; ++i) conns.emplace_back(port());
    std::vector<HttpResponse> out(n);
    std::latch go(static_cast<std::ptrdiff_t>(n));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        if (!conns[i].connected() || !conns[i].send(buildRequest("GET", target))) {
          out[i].error = "connect/send failed";
          return;
        }
        out[i] = conns[i].readResponse(Millis(20'000));
      });
    }
    for (std::thread& t : threads) t.join();
    return out;
  }
};

// --- The backend's /cache endpoint on its own (no gateway) ----------------------------------

TEST(CacheTestBackend, QueryStringSetsTheResponseAndValidatorsAnswer304) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  const std::string lm = httpDate(1'000'000'000);
  const std::string target = cacheTarget("x", {{"cc", "public, max-age=60"}, {"etag", "\"v1\""}, {"lm", lm},
                                               {"vary", "Accept-Encoding"}, {"echo", "Accept-Encoding"},
                                               {"header", "X-Extra: a b"}, {"status", "200"}});
  HttpResponse r = request(backend.port(), "GET", target, {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(r.ok()) << r.summary();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Cache-Control"), "public, max-age=60");
  EXPECT_EQ(r.header("ETag"), "\"v1\"");
  EXPECT_EQ(r.header("Last-Modified"), lm);
  EXPECT_EQ(r.header("Vary"), "Accept-Encoding");
  EXPECT_EQ(r.header("X-Extra"), "a b");
  EXPECT_EQ(r.header("Content-Type"), "text/plain");
  EXPECT_EQ(r.header("X-Fetch"), "1");
  EXPECT_EQ(r.body, "fetch 1\nAccept-Encoding: gzip\n");

  for (const Headers& conditional :
       {Headers{{"If-None-Match", "W/\"v1\""}}, Headers{{"If-None-Match", "\"a\", \"v1\""}},
        Headers{{"If-None-Match", "*"}}, Headers{{"If-Modified-Since", lm}}}) {
    HttpResponse nm = request(backend.port(), "GET", target, conditional);
    EXPECT_EQ(nm.status, 304) << conditional[0].first << ": " << conditional[0].second;
    EXPECT_TRUE(nm.body.empty());
    EXPECT_EQ(nm.header("ETag"), "\"v1\"");
  }
  EXPECT_EQ(request(backend.port(), "GET", target, {{"If-None-Match", "\"v2\""}}).status, 200);
  EXPECT_EQ(request(backend.port(), "GET", target, {{"If-Modified-Since", httpDate(999'999'999)}}).status, 200);
  // If-None-Match decides alone when present (RFC 9110 §13.2.2).
  EXPECT_EQ(request(backend.port(), "GET", target, {{"If-None-Match", "\"v2\""}, {"If-Modified-Since", lm}}).status,
            200);
  EXPECT_EQ(backend.requestsFor(target), 8u);
  EXPECT_EQ(backend.requestsTo(target).back().header("If-None-Match"), "\"v2\"");

  HttpResponse sized = request(backend.port(), "GET", cacheTarget("y", {{"size", "70000"}, {"chunked", "1"}}));
  EXPECT_EQ(sized.framing, Framing::Chunked);
  EXPECT_TRUE(sized.body == pattern(70000));
  HttpResponse teapot =
      request(backend.port(), "GET", cacheTarget("z", {{"status", "418"}, {"body", "short & stout"}}));
  EXPECT_EQ(teapot.status, 418);
  EXPECT_EQ(teapot.body, "short & stout");
}

// --- Fresh hits -----------------------------------------------------------------------------

TEST_F(CacheTest, SecondGetIsAHitAndTheBackendSeesOneRequest) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("basic", {{"cc", "max-age=60"}});

  HttpResponse first = get(target);
  ASSERT_TRUE(isStoredMiss(first));
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, fetchBody(1));

  HttpResponse second = get(target);
  ASSERT_TRUE(isHit(second));
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, fetchBody(1));
  EXPECT_EQ(second.header("X-Fetch"), "1");
  EXPECT_EQ(second.header("Cache-Control"), "max-age=60");
  EXPECT_EQ(second.header("Content-Type"), "text/plain");
  EXPECT_EQ(second.header("Content-Length"), std::to_string(fetchBody(1).size()));
  EXPECT_EQ(second.headerCount("Age"), 1u);
  long ttl = hitTtl(second);
  EXPECT_GE(ttl, 58);
  EXPECT_LE(ttl, 60);
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, ManyHitsOnOneConnectionNeverReachTheBackend) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("keepalive", {{"cc", "max-age=60"}});
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_TRUE(conn.send(buildRequest("GET", target)));
    HttpResponse resp = conn.readResponse();
    ASSERT_TRUE(resp.ok()) << resp.summary();
    if (i == 0) {
      EXPECT_TRUE(isStoredMiss(resp));
    } else {
      EXPECT_TRUE(isHit(resp));
    }
    EXPECT_EQ(resp.body, fetchBody(1));
  }
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, HitsAreSharedByAllWorkers) {
  // The store is one for the process: a response stored by one worker is a hit in every other.
  ASSERT_TRUE(startCache("", "", /*workers=*/4));
  const std::string target = cacheTarget("workers", {{"cc", "max-age=60"}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  for (int i = 0; i < 16; ++i) {  // fresh connections, spread over the workers by the kernel
    SCOPED_TRACE("connection " + std::to_string(i));
    HttpResponse resp = get(target);
    EXPECT_TRUE(isHit(resp));
    EXPECT_EQ(resp.body, fetchBody(1));
  }
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, AgeFromTheBackendIsAddedToTheResidentTime) {
  // RFC 9111 §4.2.3: corrected_initial_age includes the Age the response arrived with.
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("upstream-age", {{"cc", "max-age=60"}, {"age", "30"}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  HttpResponse hit = get(target);
  ASSERT_TRUE(isHit(hit));
  EXPECT_GE(ageOf(hit), 30);
  EXPECT_LE(hitTtl(hit), 30);
  EXPECT_EQ(hit.headerCount("Age"), 1u);
}

TEST_F(CacheTest, ExpiresInTheFutureMakesAResponseFresh) {
  ASSERT_TRUE(startCache());
  const std::time_t now = std::time(nullptr);
  const std::string target =
      cacheTarget("expires", {{"date", httpDate(now)}, {"expires", httpDate(now + 120)}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  HttpResponse hit = get(target);
  ASSERT_TRUE(isHit(hit));
  EXPECT_GT(hitTtl(hit), 60);
  EXPECT_LE(hitTtl(hit), 120);
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

// --- What is not stored ---------------------------------------------------------------------

TEST_F(CacheTest, NoStoreResponseIsNotStored) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("no-store", {{"cc", "no-store, max-age=60"}});
  EXPECT_TRUE(isUnstoredMiss(get(target), "no-store"));
  HttpResponse again = get(target);
  EXPECT_TRUE(isUnstoredMiss(again, "no-store"));
  EXPECT_EQ(again.body, fetchBody(2));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, PrivateResponseIsNotStored) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("private", {{"cc", "private, max-age=60"}});
  EXPECT_TRUE(isUnstoredMiss(get(target), "private"));
  EXPECT_TRUE(isUnstoredMiss(get(target), "private"));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, SetCookieResponseIsNotStoredByDefault) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("cookie", {{"cc", "max-age=60"}, {"cookie", "session=abc; Path=/"}});
  HttpResponse first = get(target);
  EXPECT_TRUE(isUnstoredMiss(first, "set-cookie"));
  EXPECT_EQ(first.header("Set-Cookie"), "session=abc; Path=/");
  EXPECT_TRUE(isUnstoredMiss(get(target), "set-cookie"));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, SetCookieResponseIsStoredWhenTheRouteAllowsCookies) {
  ASSERT_TRUE(startCache("allow_cookies = true"));
  const std::string target = cacheTarget("cookie-ok", {{"cc", "max-age=60"}, {"cookie", "session=abc"}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  HttpResponse hit = get(target);
  EXPECT_TRUE(isHit(hit));
  EXPECT_EQ(hit.body, fetchBody(1));
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, RequestWithAuthorizationIsNotStoredWithoutPublic) {
  ASSERT_TRUE(startCache());
  const Headers auth = {{"Authorization", "Bearer secret"}};
  const std::string target = cacheTarget("auth", {{"cc", "max-age=60"}});
  EXPECT_TRUE(isUnstoredMiss(get(target, auth), "authorization"));
  EXPECT_TRUE(isUnstoredMiss(get(target, auth), "authorization"));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, RequestWithAuthorizationIsStoredWithPublicSMaxageOrMustRevalidate) {
  // RFC 9111 §3.5: a shared cache may reuse it when the response says public, s-maxage or
  // must-revalidate.
  ASSERT_TRUE(startCache());
  const Headers auth = {{"Authorization", "Bearer secret"}};
  for (const char* cc : {"public, max-age=60", "s-maxage=60", "max-age=60, must-revalidate"}) {
    SCOPED_TRACE(cc);
    const std::string target = cacheTarget("auth-ok", {{"cc", cc}});
    EXPECT_TRUE(isStoredMiss(get(target, auth)));
    EXPECT_TRUE(isHit(get(target, auth)));
    EXPECT_EQ(backend_.requestsFor(target), 1u);
  }
}

TEST_F(CacheTest, NotFoundWithMaxAgeIsStored) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("not-found", {{"status", "404"}, {"cc", "max-age=60"}});
  HttpResponse first = get(target);
  EXPECT_EQ(first.status, 404);
  EXPECT_TRUE(isStoredMiss(first));
  HttpResponse hit = get(target);
  EXPECT_TRUE(isHit(hit));
  EXPECT_EQ(hit.status, 404);
  EXPECT_EQ(hit.body, fetchBody(1));
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, ServerErrorWithoutExplicitFreshnessIsNotStored) {
  // 500 is not heuristically cacheable (RFC 9110 §15.1): without max-age/Expires it is never stored.
  ASSERT_TRUE(startCache("heuristic_freshness = true"));
  const std::string target =
      cacheTarget("server-error", {{"status", "500"}, {"lm", httpDate(std::time(nullptr) - 86400)}});
  HttpResponse first = get(target);
  EXPECT_EQ(first.status, 500);
  EXPECT_TRUE(isUnstoredMiss(first, "status"));
  HttpResponse again = get(target);
  EXPECT_EQ(again.status, 500);
  EXPECT_TRUE(isUnstoredMiss(again, "status"));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, ServerErrorWithExplicitMaxAgeIsStored) {
  // RFC 9111 §3: any final status the cache understands is storable with explicit freshness
  // ("a max-age response directive"); only the heuristic is limited to the listed codes.
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("server-error-max-age", {{"status", "500"}, {"cc", "max-age=60"}});
  EXPECT_TRUE(isStoredMiss(get(target)));
  HttpResponse hit = get(target);
  EXPECT_TRUE(isHit(hit));
  EXPECT_EQ(hit.status, 500);
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, OkWithoutFreshnessIsNotStored) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("no-freshness", {});
  EXPECT_TRUE(isUnstoredMiss(get(target), "no-freshness"));
  EXPECT_TRUE(isUnstoredMiss(get(target), "no-freshness"));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, HeuristicFreshnessFromLastModifiedWhenTheRouteEnablesIt) {
  // §4.2.2: 10% of (Date - Last-Modified), here 10% of 10 days = one day (the cap).
  ASSERT_TRUE(startCache("heuristic_freshness = true"));
  const std::time_t now = std::time(nullptr);
  const std::string target = cacheTarget("heuristic", {{"date", httpDate(now)}, {"lm", httpDate(now - 10 * 86400)}});
  EXPECT_TRUE(isStoredMiss(get(target)));
  HttpResponse hit = get(target);
  EXPECT_TRUE(isHit(hit));
  EXPECT_GT(hitTtl(hit), 3600);
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

// --- Vary -----------------------------------------------------------------------------------

TEST_F(CacheTest, VaryVariantsAreStoredSeparatelyAndEachServedToItsClient) {
  // The backend's own Accept-Encoding variants: the route passes Accept-Encoding through.
  ASSERT_TRUE(startCache("compression = false"));
  const std::string target = cacheTarget(
      "vary", {{"cc", "max-age=60"}, {"vary", "Accept-Encoding"}, {"echo", "Accept-Encoding"}});
  const Headers gzip = {{"Accept-Encoding", "gzip"}};
  const Headers br = {{"Accept-Encoding", "br"}};
  const std::string gzip_body = fetchBody(1) + "Accept-Encoding: gzip\n";
  const std::string br_body = fetchBody(2) + "Accept-Encoding: br\n";
  const std::string none_body = fetchBody(3) + "Accept-Encoding: (absent)\n";

  HttpResponse a = get(target, gzip);
  EXPECT_TRUE(isStoredMiss(a));
  EXPECT_EQ(a.body, gzip_body);
  HttpResponse b = get(target, br);
  EXPECT_TRUE(isStoredMiss(b)) << "a second variant is a miss, not the first variant";
  EXPECT_EQ(b.body, br_body);
  HttpResponse none = get(target);
  EXPECT_TRUE(isStoredMiss(none)) << "no Accept-Encoding is a variant of its own";
  EXPECT_EQ(none.body, none_body);

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    HttpResponse a2 = get(target, gzip);
    EXPECT_TRUE(isHit(a2));
    EXPECT_EQ(a2.body, gzip_body);
    EXPECT_EQ(a2.header("Vary"), "Accept-Encoding");
    HttpResponse b2 = get(target, br);
    EXPECT_TRUE(isHit(b2));
    EXPECT_EQ(b2.body, br_body);
    HttpResponse none2 = get(target);
    EXPECT_TRUE(isHit(none2));
    EXPECT_EQ(none2.body, none_body);
  }
  EXPECT_EQ(backend_.requestsFor(target), 3u);
}

TEST_F(CacheTest, VaryAcceptEncodingIsNormalizedBeforeKeying) {
  // Equivalent Accept-Encoding values share a variant; a refused coding (q=0) does not. (With
  // compression on the route, Accept-Encoding is reduced further, to gzip or not: see
  // compression_test.cc.)
  ASSERT_TRUE(startCache("compression = false"));
  const std::string target = cacheTarget(
      "vary-normalized", {{"cc", "max-age=60"}, {"vary", "Accept-Encoding"}, {"echo", "Accept-Encoding"}});
  HttpResponse first = get(target, {{"Accept-Encoding", "gzip, br"}});
  ASSERT_TRUE(isStoredMiss(first));
  for (const char* same : {"br,gzip", "GZIP ,  br", "gzip;q=1.0, br"}) {
    SCOPED_TRACE(same);
    HttpResponse hit = get(target, {{"Accept-Encoding", same}});
    EXPECT_TRUE(isHit(hit));
    EXPECT_EQ(hit.body, first.body);
  }
  HttpResponse refused = get(target, {{"Accept-Encoding", "gzip;q=0, br"}});
  EXPECT_TRUE(isStoredMiss(refused)) << "gzip;q=0 refuses gzip: not the variant for gzip, br";
  EXPECT_TRUE(contains(refused.body, "Accept-Encoding: gzip;q=0, br")) << refused.body;
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, VaryOnAnotherHeaderKeysByItsValue) {
  ASSERT_TRUE(startCache());
  const std::string target =
      cacheTarget("vary-lang", {{"cc", "max-age=60"}, {"vary", "Accept-Language"}, {"echo", "Accept-Language"}});
  EXPECT_TRUE(isStoredMiss(get(target, {{"Accept-Language", "en"}})));
  EXPECT_TRUE(isStoredMiss(get(target, {{"Accept-Language", "fr"}})));
  HttpResponse en = get(target, {{"Accept-Language", "en"}});
  EXPECT_TRUE(isHit(en));
  EXPECT_EQ(en.body, fetchBody(1) + "Accept-Language: en\n");
  HttpResponse fr = get(target, {{"Accept-Language", "fr"}});
  EXPECT_TRUE(isHit(fr));
  EXPECT_EQ(fr.body, fetchBody(2) + "Accept-Language: fr\n");
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, VaryStarIsNotStored) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("vary-star", {{"cc", "max-age=60"}, {"vary", "*"}});
  EXPECT_TRUE(isUnstoredMiss(get(target), "vary-star"));
  EXPECT_TRUE(isUnstoredMiss(get(target), "vary-star"));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

// --- The key --------------------------------------------------------------------------------

TEST_F(CacheTest, HostIsPartOfTheKey) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("host", {{"cc", "max-age=60"}, {"echo", "Host"}});
  HttpResponse a = get(target, {{"Host", "a.test"}});
  EXPECT_TRUE(isStoredMiss(a));
  EXPECT_EQ(a.body, fetchBody(1) + "Host: a.test\n");
  HttpResponse b = get(target, {{"Host", "b.test"}});
  EXPECT_TRUE(isStoredMiss(b)) << "another Host is another resource";
  EXPECT_EQ(b.body, fetchBody(2) + "Host: b.test\n");

  HttpResponse a2 = get(target, {{"Host", "a.test"}});
  EXPECT_TRUE(isHit(a2));
  EXPECT_EQ(a2.body, a.body);
  HttpResponse b2 = get(target, {{"Host", "b.test"}});
  EXPECT_TRUE(isHit(b2));
  EXPECT_EQ(b2.body, b.body);
  // RFC 9110 §4.2.3: host names are case-insensitive and :80 is the default port of http.
  HttpResponse a3 = get(target, {{"Host", "A.Test:80"}});
  EXPECT_TRUE(isHit(a3));
  EXPECT_EQ(a3.body, a.body);
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, QueryStringIsPartOfTheKey) {
  ASSERT_TRUE(startCache());
  const std::string one = cacheTarget("query", {{"cc", "max-age=60"}, {"id", "1"}});
  const std::string two = cacheTarget("query", {{"cc", "max-age=60"}, {"id", "2"}});
  EXPECT_TRUE(isStoredMiss(get(one)));
  EXPECT_TRUE(isStoredMiss(get(two)));
  EXPECT_TRUE(isHit(get(one)));
  EXPECT_TRUE(isHit(get(two)));
  EXPECT_EQ(backend_.requestsFor(one), 1u);
  EXPECT_EQ(backend_.requestsFor(two), 1u);
}

TEST_F(CacheTest, PathIsPartOfTheKey) {
  ASSERT_TRUE(startCache());
  const std::string one = cacheTarget("path-one", {{"cc", "max-age=60"}});
  const std::string two = cacheTarget("path-two", {{"cc", "max-age=60"}});
  EXPECT_TRUE(isStoredMiss(get(one)));
  EXPECT_TRUE(isStoredMiss(get(two)));
  EXPECT_TRUE(isHit(get(one)));
  EXPECT_TRUE(isHit(get(two)));
}

// --- HEAD -----------------------------------------------------------------------------------

TEST_F(CacheTest, HeadAfterGetIsAHitWithContentLengthAndNoBody) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("head", {{"cc", "max-age=60"}, {"size", "1000"}});
  HttpResponse first = get(target);
  ASSERT_TRUE(isStoredMiss(first));
  ASSERT_EQ(first.body, pattern(1000));

  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("HEAD", target)));
  HttpResponse head = conn.readResponse(kDefaultTimeout, /*head=*/true);
  ASSERT_TRUE(isHit(head));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "1000");
  EXPECT_TRUE(head.body.empty());
  // A body after the HEAD response would be read as the start of the next response.
  ASSERT_TRUE(conn.send(buildRequest("GET", target)));
  HttpResponse next = conn.readResponse();
  ASSERT_TRUE(isHit(next));
  EXPECT_EQ(next.body, pattern(1000));

  EXPECT_EQ(backend_.requestsFor(target), 1u);
  for (const ReceivedRequest& r : backend_.requestsTo(target)) EXPECT_EQ(r.method, "GET");
}

TEST_F(CacheTest, HeadMissIsForwardedAndNotStored) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("head-miss", {{"cc", "max-age=60"}, {"size", "100"}});
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("HEAD", target)));
  HttpResponse head = conn.readResponse(kDefaultTimeout, /*head=*/true);
  ASSERT_TRUE(head.ok()) << head.summary();
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(isUnstoredMiss(head, "method"));
  EXPECT_EQ(head.header("Content-Length"), "100");
  ASSERT_EQ(backend_.requestsFor(target), 1u);
  EXPECT_EQ(backend_.requestsTo(target)[0].method, "HEAD");

  // Nothing was stored: the GET goes to the backend, and then HEAD is a hit.
  ASSERT_TRUE(conn.send(buildRequest("GET", target)));
  HttpResponse get1 = conn.readResponse();
  EXPECT_TRUE(isStoredMiss(get1));
  EXPECT_EQ(get1.body, pattern(100));
  ASSERT_TRUE(conn.send(buildRequest("HEAD", target)));
  EXPECT_TRUE(isHit(conn.readResponse(kDefaultTimeout, /*head=*/true)));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

// --- Per-route settings ---------------------------------------------------------------------

TEST_F(CacheTest, RouteWithCacheOffBypassesAndNeverStores) {
  ASSERT_TRUE(startCache("cache = false"));
  const std::string target = cacheTarget("off", {{"cc", "public, max-age=60"}});
  for (int i = 1; i <= 3; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    HttpResponse resp = get(target);
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.header("X-Cache"), "BYPASS");
    EXPECT_FALSE(contains(resp.header("Cache-Status"), "hit"));
    EXPECT_EQ(resp.body, fetchBody(i));
  }
  EXPECT_EQ(backend_.requestsFor(target), 3u);
}

TEST_F(CacheTest, CacheOffOnOneRouteLeavesAnotherCaching) {
  GatewayConfig c = cacheConfig();
  c.routes =
      "[[route]]\nname = \"off\"\nprefix = \"/off/\"\nupstream = \"backend\"\ncache = false\n\n"
      "[[route]]\nname = \"on\"\nprefix = \"/\"\nupstream = \"backend\"\n";
  ASSERT_TRUE(startGateway(c));
  const std::string off = "/off" + cacheTarget("x", {{"cc", "max-age=60"}});
  const std::string on = "/on" + cacheTarget("x", {{"cc", "max-age=60"}});
  EXPECT_EQ(get(off).header("X-Cache"), "BYPASS");
  EXPECT_EQ(get(off).header("X-Cache"), "BYPASS");
  EXPECT_TRUE(isStoredMiss(get(on)));
  EXPECT_TRUE(isHit(get(on)));
  EXPECT_EQ(backend_.requestsFor(off), 2u);
  EXPECT_EQ(backend_.requestsFor(on), 1u);
}

TEST_F(CacheTest, RouteTtlMakesAResponseWithoutFreshnessCacheable) {
  ASSERT_TRUE(startCache("ttl = \"60s\""));
  const std::string target = cacheTarget("ttl", {});
  EXPECT_TRUE(isStoredMiss(get(target)));
  HttpResponse hit = get(target);
  EXPECT_TRUE(isHit(hit));
  EXPECT_GE(hitTtl(hit), 58);
  EXPECT_LE(hitTtl(hit), 60);
  EXPECT_EQ(backend_.requestsFor(target), 1u);

  // A default, not an override: the backend's own max-age=0 still makes it stale at once.
  const std::string zero = cacheTarget("ttl-zero", {{"cc", "max-age=0"}});
  get(zero);
  HttpResponse again = get(zero);
  EXPECT_NE(again.header("X-Cache"), "HIT");
  EXPECT_EQ(backend_.requestsFor(zero), 2u);
}

TEST_F(CacheTest, RouteTtlOverrideBeatsMaxAgeZero) {
  ASSERT_TRUE(startCache("ttl_override = \"60s\""));
  const std::string target = cacheTarget("ttl-override", {{"cc", "max-age=0"}});
  EXPECT_TRUE(isStoredMiss(get(target)));
  HttpResponse hit = get(target);
  EXPECT_TRUE(isHit(hit));
  EXPECT_GE(hitTtl(hit), 58);
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, RequestNoCacheForcesABackendFetch) {
  ASSERT_TRUE(startCache());
  for (const char* directive : {"no-cache", "max-age=0"}) {
    SCOPED_TRACE(directive);
    const std::string target = cacheTarget(std::string("client-") + directive, {{"cc", "max-age=60"}});
    ASSERT_TRUE(isStoredMiss(get(target)));
    HttpResponse forced = get(target, {{"Cache-Control", directive}});
    ASSERT_TRUE(forced.ok()) << forced.summary();
    EXPECT_NE(forced.header("X-Cache"), "HIT");
    EXPECT_EQ(forced.body, fetchBody(2));
    EXPECT_EQ(backend_.requestsFor(target), 2u);
    // The fetched response replaced the stored one.
    HttpResponse hit = get(target);
    EXPECT_TRUE(isHit(hit));
    EXPECT_EQ(hit.body, fetchBody(2));
    EXPECT_EQ(backend_.requestsFor(target), 2u);
  }
}

TEST_F(CacheTest, IgnoreClientNoCacheServesFromCache) {
  ASSERT_TRUE(startCache("ignore_client_no_cache = true"));
  const std::string target = cacheTarget("ignore-no-cache", {{"cc", "max-age=60"}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  for (const char* directive : {"no-cache", "max-age=0"}) {
    SCOPED_TRACE(directive);
    HttpResponse hit = get(target, {{"Cache-Control", directive}});
    EXPECT_TRUE(isHit(hit));
    EXPECT_EQ(hit.body, fetchBody(1));
  }
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, RequestNoStoreIsNotStored) {
  // RFC 9111 §5.2.1.5: a request's no-store forbids storing the response to it.
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("request-no-store", {{"cc", "max-age=60"}});
  EXPECT_TRUE(isUnstoredMiss(get(target, {{"Cache-Control", "no-store"}}), "no-store"));
  EXPECT_TRUE(isStoredMiss(get(target)));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

// --- only-if-cached -------------------------------------------------------------------------

TEST_F(CacheTest, OnlyIfCachedIs504WhenAbsentAndAHitWhenPresent) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("only-if-cached", {{"cc", "max-age=60"}});
  const Headers only = {{"Cache-Control", "only-if-cached"}};
  EXPECT_TRUE(isGatewayError(get(target, only), 504));
  EXPECT_EQ(backend_.requestsFor(target), 0u);

  ASSERT_TRUE(isStoredMiss(get(target)));
  HttpResponse hit = get(target, only);
  EXPECT_TRUE(isHit(hit));
  EXPECT_EQ(hit.body, fetchBody(1));
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

// --- Bodies ---------------------------------------------------------------------------------

TEST_F(CacheTest, ObjectOverMaxObjectBytesStreamsThroughCompleteAndIsNotStored) {
  ASSERT_TRUE(startCache("", "max_object_bytes = 65536"));
  const size_t n = 200'000;
  const std::string target = cacheTarget("large", {{"cc", "max-age=60"}, {"size", std::to_string(n)}});
  for (int i = 1; i <= 2; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    HttpResponse resp = get(target);
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_TRUE(resp.complete);
    EXPECT_TRUE(resp.body == pattern(n)) << "body differs from the backend's bytes";
    EXPECT_TRUE(isUnstoredMiss(resp, "too-large"));
  }
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, ChunkedObjectOverMaxObjectBytesStreamsThroughCompleteAndIsNotStored) {
  // Without Content-Length the size is only known while the body passes through.
  ASSERT_TRUE(startCache("", "max_object_bytes = 65536"));
  const size_t n = 200'000;
  const std::string target =
      cacheTarget("large-chunked", {{"cc", "max-age=60"}, {"size", std::to_string(n)}, {"chunked", "1"}});
  for (int i = 1; i <= 2; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    HttpResponse resp = get(target);
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_TRUE(resp.complete);
    EXPECT_TRUE(resp.body == pattern(n)) << "body differs from the backend's bytes";
    EXPECT_NE(resp.header("X-Cache"), "HIT");
  }
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(CacheTest, SmallChunkedResponseIsStoredAndServedWithContentLength) {
  ASSERT_TRUE(startCache());
  const size_t n = 40'000;
  const std::string target =
      cacheTarget("chunked", {{"cc", "max-age=60"}, {"size", std::to_string(n)}, {"chunked", "1"}});
  HttpResponse first = get(target);
  ASSERT_TRUE(isStoredMiss(first));
  EXPECT_TRUE(first.body == pattern(n));
  HttpResponse hit = get(target);
  ASSERT_TRUE(isHit(hit));
  EXPECT_EQ(hit.framing, Framing::ContentLength);
  EXPECT_EQ(hit.header("Content-Length"), std::to_string(n));
  EXPECT_TRUE(hit.body == pattern(n));
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, HitBodyHashEqualsTheOriginal) {
  ASSERT_TRUE(startCache());
  const size_t n = 300'000;
  const std::string target = cacheTarget("hash", {{"cc", "max-age=60"}, {"size", std::to_string(n)}});
  HttpResponse first = get(target);
  ASSERT_TRUE(isStoredMiss(first));
  ASSERT_EQ(first.body_fnv1a, fnv1a64Hex(pattern(n)));
  for (int i = 0; i < 3; ++i) {
    HttpResponse hit = get(target);
    ASSERT_TRUE(isHit(hit));
    EXPECT_TRUE(hit.complete);
    EXPECT_EQ(hit.body_bytes, n);
    EXPECT_EQ(hit.body_fnv1a, first.body_fnv1a);
  }
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, NoContentIsStoredWithoutABody) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("no-content", {{"status", "204"}, {"cc", "max-age=60"}});
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(conn.send(buildRequest("GET", target)));
    HttpResponse resp = conn.readResponse();
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.status, 204);
    EXPECT_FALSE(resp.hasHeader("Content-Length"));
    EXPECT_TRUE(i == 0 ? isStoredMiss(resp) : isHit(resp));
  }
  ASSERT_TRUE(conn.send(buildRequest("GET", "/echo")));
  EXPECT_EQ(conn.readResponse().status, 200) << "bytes after a 204 would break the next response";
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

TEST_F(CacheTest, SingleRangeIsAnsweredFromTheStoredResponse) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("range", {{"cc", "max-age=60"}, {"size", "1000"}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  HttpResponse part = get(target, {{"Range", "bytes=100-199"}});
  ASSERT_TRUE(part.ok()) << part.summary();
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.header("X-Cache"), "HIT");
  EXPECT_EQ(part.header("Content-Range"), "bytes 100-199/1000");
  EXPECT_EQ(part.body, pattern(1000).substr(100, 100));
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

// --- Revalidation, invalidation, coalescing, stale responses ----------------------------------

// revalidation (response no-cache: validated on every use, §5.2.2.4)
TEST_F(CacheTest, ResponseNoCacheIsRevalidatedOnEveryUse) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("revalidate-no-cache", {{"cc", "no-cache"}, {"etag", "\"nc\""}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  for (size_t i = 2; i <= 3; ++i) {
    SCOPED_TRACE("use " + std::to_string(i));
    HttpResponse resp = get(target);
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.header("X-Cache"), "REVALIDATED");
    EXPECT_EQ(resp.body, fetchBody(1));
    ASSERT_EQ(backend_.requestsFor(target), i);
    EXPECT_EQ(backend_.requestsTo(target)[i - 1].header("If-None-Match"), "\"nc\"");
  }
}

// conditional requests answered from cache (client If-None-Match / If-Modified-Since)
TEST_F(CacheTest, ClientConditionalRequestIsAnswered304FromCache) {
  ASSERT_TRUE(startCache());
  const std::string lm = httpDate(std::time(nullptr) - 3600);
  const std::string target = cacheTarget("client-inm", {{"cc", "max-age=60"}, {"etag", "\"v1\""}, {"lm", lm}});
  ASSERT_TRUE(isStoredMiss(get(target)));

  for (const char* tag : {"\"v1\"", "W/\"v1\"", "\"v0\", \"v1\"", "*"}) {
    SCOPED_TRACE(tag);
    HttpResponse not_modified = get(target, {{"If-None-Match", tag}});
    ASSERT_TRUE(not_modified.ok()) << not_modified.summary();
    EXPECT_EQ(not_modified.status, 304);
    EXPECT_EQ(not_modified.header("X-Cache"), "HIT");
    EXPECT_EQ(not_modified.header("ETag"), "\"v1\"");
    EXPECT_TRUE(not_modified.body.empty());
  }
  HttpResponse ims = get(target, {{"If-Modified-Since", lm}});
  EXPECT_EQ(ims.status, 304);
  HttpResponse other = get(target, {{"If-None-Match", "\"v0\""}});
  EXPECT_TRUE(isHit(other));
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.body, fetchBody(1));
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

// invalidation by unsafe methods (§4.4)
TEST_F(CacheTest, UnsafeMethodInvalidatesItsUrl) {
  ASSERT_TRUE(startCache());
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    SCOPED_TRACE(method);
    const std::string target = cacheTarget(std::string("invalidate-") + method, {{"cc", "max-age=60"}});
    ASSERT_TRUE(isStoredMiss(get(target)));
    ASSERT_TRUE(isHit(get(target)));
    HttpResponse unsafe = request(port(), method, target, {}, "x");
    ASSERT_TRUE(unsafe.ok()) << unsafe.summary();
    EXPECT_EQ(unsafe.status, 200);
    ASSERT_EQ(backend_.requestsFor(target), 2u);
    EXPECT_EQ(backend_.requestsTo(target)[1].method, method);
    HttpResponse after = get(target);
    EXPECT_TRUE(isStoredMiss(after)) << "the entry was invalidated";
    EXPECT_EQ(after.body, fetchBody(3));
    EXPECT_EQ(backend_.requestsFor(target), 3u);
  }
}

// invalidation by unsafe methods (Location / Content-Location targets, §4.4)
TEST_F(CacheTest, UnsafeMethodInvalidatesSameHostLocationTargets) {
  ASSERT_TRUE(startCache());
  const std::string located = cacheTarget("inv-location", {{"cc", "max-age=60"}});
  const std::string content_located = cacheTarget("inv-content-location", {{"cc", "max-age=60"}});
  const std::string foreign = cacheTarget("inv-foreign", {{"cc", "max-age=60"}});
  for (const std::string& t : {located, content_located, foreign}) {
    ASSERT_TRUE(isStoredMiss(get(t)));
    ASSERT_TRUE(isHit(get(t)));
  }
  const std::string poster = cacheTarget("inv-poster", {{"status", "201"},
                                                        {"header", "Location: " + located},
                                                        {"header", "Content-Location: " + content_located}});
  HttpResponse created = request(port(), "POST", poster, {}, "x");
  ASSERT_EQ(created.status, 201) << created.summary();
  EXPECT_TRUE(isStoredMiss(get(located)));
  EXPECT_TRUE(isStoredMiss(get(content_located)));
  EXPECT_TRUE(isHit(get(foreign)));

  // Another host's Location is not invalidated (§4.4: only when the host is the same).
  const std::string other_host =
      cacheTarget("inv-other-host", {{"header", "Location: http://elsewhere.test" + foreign}});
  ASSERT_EQ(request(port(), "POST", other_host, {}, "x").status, 200);
  EXPECT_TRUE(isHit(get(foreign)));
}

// request coalescing
TEST_F(CacheTest, CoalescesFiftyConcurrentMissesIntoOneBackendRequest) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("coalesce", {{"cc", "max-age=60"}, {"delay", "500"}});
  std::vector<HttpResponse> responses = concurrentGets(target, 50);
  size_t misses = 0;
  size_t collapsed = 0;
  for (size_t i = 0; i < responses.size(); ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    ASSERT_TRUE(responses[i].ok()) << responses[i].error << "; " << responses[i].summary();
    EXPECT_EQ(responses[i].status, 200);
    EXPECT_EQ(responses[i].body, fetchBody(1));
    const std::string cs = responses[i].header("Cache-Status");
    if (responses[i].header("X-Cache") == "MISS") {
      ++misses;
    } else {
      EXPECT_TRUE(isHit(responses[i]));
      // RFC 9211 §2.8: those that waited for the one fetch say so (a client that arrived after
      // it was stored is a plain hit).
      if (contains(cs, "; collapsed")) ++collapsed;
      EXPECT_TRUE(cs.rfind("perfgate; hit; collapsed; ttl=", 0) == 0 || cs.rfind("perfgate; hit; ttl=", 0) == 0) << cs;
    }
  }
  EXPECT_EQ(misses, 1u);
  EXPECT_GE(collapsed, 1u) << "no waiter said it was collapsed";
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

// request coalescing across workers: the waiters on every worker are woken by the one fetch
TEST_F(CacheTest, CoalescesAHundredConcurrentMissesAcrossWorkersIntoOneBackendRequest) {
  ASSERT_TRUE(startCache("", "", /*workers=*/4));
  const std::string target = cacheTarget("coalesce-workers", {{"cc", "max-age=60"}, {"delay", "500"}});
  std::vector<HttpResponse> responses = concurrentGets(target, 100);
  for (const HttpResponse& resp : responses) {
    ASSERT_TRUE(resp.ok()) << resp.error << "; " << resp.summary();
    EXPECT_EQ(resp.body, fetchBody(1));
  }
  EXPECT_EQ(backend_.requestsFor(target), 1u);
}

// request coalescing (hit-for-miss: an uncacheable URL never makes clients wait in line)
TEST_F(CacheTest, ConcurrentMissesForAnUncacheableUrlEachReachTheBackend) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("coalesce-no-store", {{"cc", "no-store"}, {"delay", "300"}});
  ASSERT_TRUE(isUnstoredMiss(get(target), "no-store"));
  std::vector<HttpResponse> responses = concurrentGets(target, 20);
  for (const HttpResponse& resp : responses) {
    ASSERT_TRUE(resp.ok()) << resp.error << "; " << resp.summary();
    EXPECT_EQ(resp.status, 200);
  }
  EXPECT_EQ(backend_.requestsFor(target), 21u);
  EXPECT_GT(backend_.maxConnectionsOpen(), 1) << "the requests were serialized behind one another";
}

}  // namespace
}  // namespace perfgate::test

namespace perfgate::test {
namespace {

// --- Admin: per-route counters, the runtime switch, clearing ----------------------------------

class CacheAdminTest : public CacheTest {
 protected:
  HttpResponse admin(const std::string& method, const std::string& target, const std::string& body = "") {
    return adminRequest(gateway_->adminPort(), method, target, body);
  }
};

TEST_F(CacheAdminTest, StatsCountOutcomesPerRoute) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("stats", {{"cc", "max-age=60"}, {"body", "twelve bytes"}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  ASSERT_TRUE(isHit(get(target)));
  ASSERT_TRUE(isHit(get(target)));
  ASSERT_TRUE(isUnstoredMiss(get(cacheTarget("stats-no", {{"cc", "no-store"}})), "no-store"));
  HttpResponse stats = admin("GET", "/api/cache/stats");
  ASSERT_EQ(stats.status, 200) << stats.summary();
  const std::string& b = stats.body;
  EXPECT_TRUE(contains(b, "\"entries\":1")) << b;
  EXPECT_TRUE(contains(b, "\"hit\":{\"bytes\":24,\"requests\":2}")) << b;
  EXPECT_TRUE(contains(b, "\"miss\":{\"bytes\":")) << b;
  EXPECT_TRUE(contains(b, "\"requests\":2}")) << b;
  EXPECT_TRUE(contains(b, "\"stored\":1")) << b;
  EXPECT_TRUE(contains(b, "\"not_stored\":1")) << b;
  EXPECT_TRUE(contains(b, "\"not_stored_reasons\":{\"no-store\":1}")) << b;
  EXPECT_TRUE(contains(b, "\"hit_ratio\":0.5")) << b;
}

TEST_F(CacheAdminTest, RouteSwitchBypassesAndComesBack) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("switch", {{"cc", "max-age=60"}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  ASSERT_TRUE(isHit(get(target)));

  HttpResponse off = admin("PUT", "/api/cache/routes/all", "{\"enabled\": false}");
  ASSERT_EQ(off.status, 200) << off.summary();
  HttpResponse bypass = get(target);
  EXPECT_EQ(bypass.header("X-Cache"), "BYPASS") << bypass.summary();
  EXPECT_EQ(backend_.requestsFor(target), 2u);
  HttpResponse listed = admin("GET", "/api/cache/routes");
  EXPECT_TRUE(contains(listed.body, "\"enabled\":false")) << listed.body;
  EXPECT_TRUE(contains(listed.body, "\"overridden\":true")) << listed.body;

  // The switch survives a reload of the same file.
  ASSERT_TRUE(gateway_->signal(SIGHUP));
  ASSERT_TRUE(gateway_->waitForStderr("config reloaded", std::chrono::seconds(5)));
  EXPECT_EQ(get(target).header("X-Cache"), "BYPASS");

  ASSERT_EQ(admin("PUT", "/api/cache/routes/all", "{\"enabled\": null}").status, 200);
  EXPECT_TRUE(isHit(get(target)));  // the stored entry is still there
  EXPECT_EQ(admin("PUT", "/api/cache/routes/nope", "{\"enabled\": false}").status, 400);
  EXPECT_EQ(admin("PUT", "/api/cache/routes/all", "{\"enabled\": 3}").status, 400);
}

TEST_F(CacheAdminTest, ClearByUrlPrefixRouteAndAll) {
  ASSERT_TRUE(startCache());
  const std::string a = cacheTarget("clear-a", {{"cc", "max-age=60"}});
  const std::string b = cacheTarget("clear-b", {{"cc", "max-age=60"}});
  const std::string c = "/other" + cacheTarget("clear-c", {{"cc", "max-age=60"}});
  for (const std::string& t : {a, b, c}) ASSERT_TRUE(isStoredMiss(get(t)));

  HttpResponse by_url = admin("POST", "/api/cache/clear", "{\"url\": \"" + a + "\"}");
  EXPECT_EQ(by_url.body, "{\"removed\":1}\n") << by_url.summary();
  EXPECT_TRUE(isStoredMiss(get(a)));
  EXPECT_TRUE(isHit(get(b)));

  HttpResponse by_prefix = admin("POST", "/api/cache/clear", "{\"prefix\": \"/cache/\"}");
  EXPECT_EQ(by_prefix.body, "{\"removed\":2}\n") << by_prefix.summary();
  EXPECT_TRUE(isHit(get(c)));

  HttpResponse by_route = admin("POST", "/api/cache/clear", "{\"route\": \"all\"}");
  EXPECT_EQ(by_route.body, "{\"removed\":1}\n") << by_route.summary();
  EXPECT_TRUE(isStoredMiss(get(c)));

  EXPECT_EQ(admin("POST", "/api/cache/clear", "{}").body, "{\"removed\":1}\n");
  EXPECT_EQ(admin("POST", "/api/cache/clear", "not json").status, 400);
  EXPECT_EQ(admin("POST", "/api/cache/clear", "{\"route\": 1}").status, 400);
  EXPECT_EQ(admin("POST", "/api/cache/clear", "{\"what\": \"x\"}").status, 400);
}

// The byte budget holds end to end: 100,000 distinct URLs of ~1 KB each (about 150 MB if all were
// kept) through a 16 MiB cache. The store's charge stays within max_bytes, entries are evicted
// (and counted), and the process's RSS grows by a bounded amount, not by what passed through.
TEST_F(CacheAdminTest, AHundredThousandDistinctKeysStayWithinTheByteBudget) {
  ASSERT_TRUE(startCache("", "max_bytes = \"16MiB\""));
  ASSERT_TRUE(isStoredMiss(get(cacheTarget("budget-warm", {{"cc", "max-age=600"}, {"size", "1000"}}))));
  const long rss_before = gateway_->rssKiB();
  ASSERT_GT(rss_before, 0);

  constexpr int kThreads = 4;
  constexpr int kPerThread = 25'000;
  constexpr int kBatch = 50;  // pipelined: fewer round trips
  std::atomic<int> stored{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpConnection conn(port());
      for (int base = 0; base < kPerThread && failures.load() == 0; base += kBatch) {
        std::string batch;
        for (int i = base; i < base + kBatch; ++i) {
          batch += buildRequest("GET", "/cache/budget-" + std::to_string(t) + "-" + std::to_string(i) +
                                           "?cc=max-age%3D600&size=1000");
        }
        if (!conn.send(batch)) {
          failures.fetch_add(1);
          return;
        }
        for (int i = 0; i < kBatch; ++i) {
          HttpResponse resp = conn.readResponse();
          if (resp.status != 200 || resp.body.size() != 1000) {
            failures.fetch_add(1);
            return;
          }
          if (resp.header("Cache-Status") == "perfgate; fwd=miss; stored") stored.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(stored.load(), kThreads * kPerThread);

  HttpResponse stats = admin("GET", "/api/cache/stats");
  ASSERT_EQ(stats.status, 200) << stats.summary();
  auto number = [&](const std::string& key) -> uint64_t {
    size_t at = stats.body.find("\"" + key + "\":");
    return at == std::string::npos ? 0 : std::stoull(stats.body.substr(at + key.size() + 3));
  };
  const uint64_t max_bytes = 16ull << 20;
  EXPECT_EQ(number("max_bytes"), max_bytes) << stats.body;
  EXPECT_LE(number("bytes"), max_bytes) << stats.body;
  EXPECT_GT(number("bytes"), max_bytes / 2) << stats.body;
  EXPECT_GT(number("evictions"), 50'000u) << stats.body;
  // Every eviction was of the one route's entries, and is counted for it too.
  size_t route_at = stats.body.find("\"routes\":{\"all\":{");
  ASSERT_NE(route_at, std::string::npos) << stats.body;
  EXPECT_NE(stats.body.find("\"evictions\":" + std::to_string(number("evictions")) + ",", route_at), std::string::npos)
      << stats.body;
  EXPECT_LT(number("entries"), 20'000u) << stats.body;
#ifndef PERFGATE_UNDER_SANITIZER  // ASan's quarantine holds freed memory on purpose
  const long grown_kib = gateway_->rssKiB() - rss_before;
  EXPECT_LT(grown_kib, 48 * 1024) << "RSS grew by " << grown_kib << " KiB for a 16 MiB cache";
#endif
}

TEST_F(CacheAdminTest, ClearByTagRemovesEveryEntryCarryingIt) {
  ASSERT_TRUE(startCache());
  // Surrogate-Key lists tags separated by spaces, Cache-Tag by commas.
  const std::string a = cacheTarget("tag-a", {{"cc", "max-age=60"}, {"header", "Surrogate-Key: product-42  list"}});
  const std::string b = cacheTarget("tag-b", {{"cc", "max-age=60"}, {"header", "Cache-Tag: home, product-42"}});
  const std::string c = cacheTarget("tag-c", {{"cc", "max-age=60"}, {"header", "Surrogate-Key: product-420"}});
  const std::string d = cacheTarget("tag-d", {{"cc", "max-age=60"}});
  for (const std::string& t : {a, b, c, d}) ASSERT_TRUE(isStoredMiss(get(t)));

  HttpResponse cleared = admin("POST", "/api/cache/clear", "{\"tag\": \"product-42\"}");
  EXPECT_EQ(cleared.body, "{\"removed\":2}\n") << cleared.summary();
  EXPECT_TRUE(isStoredMiss(get(a)));
  EXPECT_TRUE(isStoredMiss(get(b)));
  EXPECT_TRUE(isHit(get(c))) << "a tag is matched whole, not as a prefix";
  EXPECT_TRUE(isHit(get(d)));
  EXPECT_EQ(admin("POST", "/api/cache/clear", "{\"tag\": \"list\"}").body, "{\"removed\":1}\n");
  EXPECT_EQ(admin("POST", "/api/cache/clear", "{\"tag\": \"home\", \"url\": \"/x\"}").status, 400);
  EXPECT_EQ(admin("POST", "/api/cache/clear", "{\"tag\": [\"home\"]}").status, 400);
}

TEST_F(CacheAdminTest, SoftClearServesStaleWhileOneRefreshRuns) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("soft", {{"cc", "max-age=600"}, {"etag", "\"v1\""}, {"delay", "400"}});
  const std::string other = cacheTarget("soft-other", {{"cc", "max-age=600"}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  ASSERT_TRUE(isStoredMiss(get(other)));
  ASSERT_TRUE(isHit(get(target)));

  HttpResponse marked = admin("POST", "/api/cache/clear", "{\"url\": \"" + target + "\", \"soft\": true}");
  EXPECT_EQ(marked.body, "{\"marked_stale\":1}\n") << marked.summary();
  // Stale at once, yet answered from cache without waiting for the (slow) backend; requests
  // during the refresh share the one background fetch.
  for (int i = 0; i < 3; ++i) {
    HttpResponse stale = get(target);
    ASSERT_TRUE(stale.ok()) << stale.summary();
    EXPECT_EQ(stale.header("X-Cache"), "STALE") << stale.summary();
    EXPECT_EQ(stale.body, fetchBody(1));
  }
  EXPECT_TRUE(isHit(get(other))) << "a soft clear by url marks only that url";
  // The refresh (a conditional request: the backend answers 304 to the matching ETag) makes
  // the entry fresh again.
  bool fresh = false;
  for (int i = 0; i < 50 && !fresh; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    fresh = get(target).header("X-Cache") == "HIT";
  }
  EXPECT_TRUE(fresh) << "the soft-purged entry was never refreshed";
  EXPECT_EQ(backend_.requestsFor(target), 2u) << "one fill, one background refresh";

  // soft on everything
  HttpResponse all = admin("POST", "/api/cache/clear", "{\"soft\": true}");
  EXPECT_EQ(all.body, "{\"marked_stale\":2}\n") << all.summary();
  EXPECT_EQ(get(other).header("X-Cache"), "STALE");
  EXPECT_EQ(admin("POST", "/api/cache/clear", "{\"soft\": \"yes\"}").status, 400);
}

// The refresh a soft clear starts is an exchange through the whole chain, like a fill: a
// compressible page refreshed by a full 200 (it has no validator) is stored gzipped again, keyed
// as the gzip variant, and the access log marks it as the gateway's own request.
TEST_F(CacheAdminTest, SoftClearRefreshOfAGzipPageIsStoredCompressedLikeAFill) {
  TempDir logs;
  GatewayConfig config = cacheConfig();
  config.access_log = logs.file("access.jsonl");
  ASSERT_TRUE(startGateway(config));
  const std::string target =
      cacheTarget("soft-gzip", {{"cc", "max-age=600"}, {"header", "Content-Type:text/html"}, {"size", "5000"}});
  const Headers gzip = {{"Accept-Encoding", "gzip"}};
  HttpResponse first = request(port(), "GET", target, gzip);
  ASSERT_TRUE(isStoredMiss(first));
  ASSERT_EQ(first.header("Content-Encoding"), "gzip");
  ASSERT_EQ(admin("POST", "/api/cache/clear", "{\"soft\": true}").body, "{\"marked_stale\":1}\n");

  HttpResponse stale = request(port(), "GET", target, gzip);
  EXPECT_EQ(stale.header("X-Cache"), "STALE") << stale.summary();
  EXPECT_EQ(stale.header("X-Fetch"), "1");
  HttpResponse refreshed;
  for (int i = 0; i < 50; ++i) {
    refreshed = request(port(), "GET", target, gzip);
    if (refreshed.header("X-Fetch") == "2") break;
    std::this_thread::sleep_for(milliseconds(50));  // the refresh runs over real sockets
  }
  ASSERT_EQ(refreshed.header("X-Fetch"), "2") << "the refresh never landed: " << refreshed.summary();
  EXPECT_TRUE(isHit(refreshed));
  EXPECT_EQ(refreshed.header("Content-Encoding"), "gzip");
  EXPECT_EQ(gzipDecompress(refreshed.body, 1 << 20).value_or("(not gzip)"), pattern(5000));
  EXPECT_EQ(backend_.requestsFor(target), 2u);
  EXPECT_EQ(backend_.requestsTo(target).at(1).header("Accept-Encoding"), "gzip") << "what a fill sends";

  ASSERT_TRUE(gateway_->signal(SIGTERM));
  ASSERT_TRUE(gateway_->waitExit(std::chrono::seconds(10)).has_value());
  std::ifstream f(config.access_log);
  int clients = 0;
  int background = 0;
  for (std::string line; std::getline(f, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    (j.value("background", false) ? background : clients) += 1;
  }
  EXPECT_EQ(background, 1);
  EXPECT_GE(clients, 3);
}

TEST_F(CacheAdminTest, SoftClearOfAMustRevalidateEntryRevalidatesBeforeUse) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("soft-strict", {{"cc", "max-age=600, must-revalidate"}, {"etag", "\"v1\""}});
  ASSERT_TRUE(isStoredMiss(get(target)));
  ASSERT_EQ(admin("POST", "/api/cache/clear", "{\"soft\": true}").body, "{\"marked_stale\":1}\n");
  HttpResponse revalidated = get(target);
  EXPECT_EQ(revalidated.header("X-Cache"), "REVALIDATED") << revalidated.summary();
  EXPECT_EQ(backend_.requestsFor(target), 2u);
  EXPECT_TRUE(isHit(get(target)));
}

TEST_F(CacheAdminTest, WarmupFetchesThroughTheCacheAndReportsEachUrl) {
  ASSERT_TRUE(startCache());
  std::vector<std::string> urls;
  for (int i = 0; i < 12; ++i) urls.push_back(cacheTarget("warm-" + std::to_string(i), {{"cc", "max-age=60"}}));
  const std::string uncacheable = cacheTarget("warm-no-store", {{"cc", "no-store"}});
  const std::string missing = cacheTarget("warm-404", {{"status", "404"}, {"cc", "no-store"}});
  std::string body = "{\"concurrency\": 4, \"host\": \"test.local\", \"urls\": [";
  for (const std::string& url : urls) body += "\"" + url + "\", ";
  body += "\"" + uncacheable + "\", \"" + missing + "\"]}";
  HttpResponse started = admin("POST", "/api/cache/warmup", body);
  ASSERT_EQ(started.status, 202) << started.summary();
  EXPECT_TRUE(contains(started.body, "\"id\":1")) << started.body;

  HttpResponse status;
  for (int i = 0; i < 100; ++i) {
    status = admin("GET", "/api/cache/warmup/1");
    if (contains(status.body, "\"state\":\"done\",\"total\"") || contains(status.body, "\"state\":\"done\"}")) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(status.status, 200) << status.summary();
  const std::string& b = status.body;
  EXPECT_TRUE(contains(b, "\"total\":14")) << b;
  EXPECT_TRUE(contains(b, "\"done\":14")) << b;
  EXPECT_TRUE(contains(b, "\"ok\":13")) << b;
  EXPECT_TRUE(contains(b, "\"failed\":1")) << b;
  EXPECT_TRUE(contains(b, "\"status\":404")) << b;
  EXPECT_TRUE(contains(b, "\"x_cache\":\"MISS\"")) << b;
  for (const std::string& url : urls) {
    EXPECT_TRUE(isHit(get(url))) << url;
    EXPECT_EQ(backend_.requestsFor(url), 1u) << url;
  }
  EXPECT_EQ(get(uncacheable).header("X-Cache"), "MISS");

  EXPECT_EQ(admin("GET", "/api/cache/warmup/99").status, 404);
  EXPECT_EQ(admin("GET", "/api/cache/warmup/abc").status, 404);
  EXPECT_EQ(admin("POST", "/api/cache/warmup", "{\"urls\": []}").status, 400);
  EXPECT_EQ(admin("POST", "/api/cache/warmup", "{\"urls\": [\"no-slash\"]}").status, 400);
  EXPECT_EQ(admin("POST", "/api/cache/warmup", "{\"urls\": [\"/a\"], \"concurrency\": 0}").status, 400);
  EXPECT_EQ(admin("POST", "/api/cache/warmup", "{\"urls\": [\"/a\"], \"extra\": 1}").status, 400);
  EXPECT_EQ(admin("GET", "/api/cache/warmup").status, 405);
}

TEST_F(CacheAdminTest, WarmupKeysEntriesByTheHostItIsGiven) {
  ASSERT_TRUE(startCache());
  const std::string target = cacheTarget("warm-host", {{"cc", "max-age=60"}});
  HttpResponse started = admin("POST", "/api/cache/warmup",
                               "{\"urls\": [\"http://shop.example" + target + "\"], \"headers\": {\"X-Warm\": \"1\"}}");
  ASSERT_EQ(started.status, 202) << started.summary();
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {
    done = contains(admin("GET", "/api/cache/warmup/1").body, "\"done\":1");
    if (!done) std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(done);
  EXPECT_TRUE(isHit(request(port(), "GET", target, {{"Host", "shop.example"}})));
  EXPECT_TRUE(isStoredMiss(get(target))) << "another host is another key";
}

}  // namespace
}  // namespace perfgate::test
