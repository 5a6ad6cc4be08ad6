// Background refreshes (stale-while-revalidate, RFC 5861 §3, and the refresh after a soft purge)
// run through the whole filter chain like a fill: what they send upstream and what they store is
// what a miss for the same variant sends and stores. Each case is a sequence seen in the field.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "filters/cache/cache_module.h"
#include "filters/cache/cache_purge.h"
#include "gateway/http/gzip_codec.h"
#include "support/filter_driver.h"

namespace perfgate::test {
namespace {

// Drop-in shape: one route for "/", compression on (the default), cache on.
std::string config() {
  return "[upstream.backend]\nurl = \"http://127.0.0.1:9\"\n\n"
         "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n";
}

// Version `n` of a compressible page.
std::string page(int n) {
  std::string out;
  for (int line = 0; out.size() < 4000; ++line) {
    out += "<p>version " + std::to_string(n) + ", line " + std::to_string(line) + "</p>\n";
  }
  return out;
}

// A backend that knows only brotli besides identity, and sends `Vary: Accept-Encoding` then (as
// many origins with precompressed assets do); every answer is a new version of the page, with
// `cache_control`. Counts what it is asked.
class PageOrigin {
 public:
  PageOrigin(FilterDriver& driver, std::string cache_control) : cache_control_(std::move(cache_control)) {
    driver.backend = [this](const UpstreamRequest& request) {
      BackendResponse response;
      ++fetches;
      response.fields.add("Content-Type", "text/html");
      response.fields.add("Cache-Control", cache_control_);
      std::string_view accept = request.headers.get("accept-encoding").value_or("");
      if (accept.find("br") != std::string_view::npos) {
        response.fields.add("Content-Encoding", "br");
        response.fields.add("Vary", "Accept-Encoding");
        response.body = "(brotli bytes of version " + std::to_string(fetches) + ")";
      } else {
        response.body = page(fetches);
      }
      return response;
    };
  }
  int fetches = 0;

 private:
  std::string cache_control_;
};

HeaderBlock gzipClient() { return {{"Accept-Encoding", "gzip"}}; }

// The body as the client gets it, decoded when gzip.
std::string content(const ClientResponse& resp) {
  if (resp.header("Content-Encoding") != "gzip") return resp.body;
  return gzipDecompress(resp.body, 1 << 24).value_or("(not valid gzip)");
}

// The backend sends `max-age=1, stale-while-revalidate=30` and no Vary; compression adds
// `Vary: Accept-Encoding` to what is stored. The refresh must land: the next request is a fresh
// hit with the new content, not the stale copy again (with a thrown-away backend fetch each time).
TEST(CacheRefresh, StaleWhileRevalidateLandsWhenCompressionAddedVary) {
  FilterDriver driver(config());
  PageOrigin origin(driver, "max-age=1, stale-while-revalidate=30");
  ClientResponse first = driver.get("/shop", gzipClient());
  ASSERT_EQ(first.header("Content-Encoding"), "gzip");
  ASSERT_EQ(first.header("Vary"), "Accept-Encoding");
  ASSERT_EQ(content(first), page(1));

  driver.clock().advance(2);
  ClientResponse stale = driver.get("/shop", gzipClient());
  EXPECT_EQ(stale.header("X-Cache"), "STALE");
  EXPECT_EQ(stale.header("Age"), "2");
  EXPECT_EQ(content(stale), page(1));
  driver.answerBackground();
  EXPECT_EQ(origin.fetches, 2);

  for (int i = 0; i < 3; ++i) {
    ClientResponse after = driver.get("/shop", gzipClient());
    EXPECT_EQ(after.header("X-Cache"), "HIT") << "the refresh did not land";
    EXPECT_EQ(after.header("Content-Encoding"), "gzip") << "stored as a fill stores it: compressed once";
    EXPECT_EQ(content(after), page(2));
  }
  EXPECT_EQ(driver.pendingBackground(), 0u);
  EXPECT_EQ(origin.fetches, 2) << "no more backend fetches while the refreshed copy is fresh";
}

// A client accepting `gzip, br` sees a fill ask the backend for br only (the coding negotiated,
// all the gateway stores for that variant); its refresh must ask the same, so the variant keeps
// one coding. The brotli body (this backend's bytes do not decode) is never made into another
// client's gzip: that client's request is a miss of its own.
TEST(CacheRefresh, ARefreshSendsWhatTheFillForItsVariantSends) {
  FilterDriver driver(config());
  PageOrigin origin(driver, "max-age=1, stale-while-revalidate=30");
  HeaderBlock both{{"Accept-Encoding", "gzip, br"}};
  ClientResponse first = driver.get("/app", both);
  ASSERT_EQ(first.header("Content-Encoding"), "br");
  driver.clock().advance(2);
  EXPECT_EQ(driver.get("/app", both).header("X-Cache"), "STALE");
  driver.answerBackground();

  std::vector<UpstreamRequest> sent = driver.requestsTo("/app");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].headers.get("accept-encoding"), sent[0].headers.get("accept-encoding"));
  EXPECT_EQ(sent[1].headers.get("accept-encoding").value_or(""), "br");
  EXPECT_EQ(driver.get("/app", both).header("X-Cache"), "HIT");
  ClientResponse gzip_only = driver.get("/app", gzipClient());
  EXPECT_EQ(gzip_only.header("X-Cache"), "MISS");
  EXPECT_EQ(gzip_only.header("Content-Encoding"), "gzip");
  EXPECT_EQ(content(gzip_only), page(3));
}

// The identity variant refreshed by an identity client is stored identity (and the gzip variant
// is left as it was).
TEST(CacheRefresh, EachVariantRefreshesItself) {
  FilterDriver driver(config());
  PageOrigin origin(driver, "max-age=1, stale-while-revalidate=30");
  ASSERT_EQ(content(driver.get("/v", gzipClient())), page(1));
  ASSERT_EQ(driver.get("/v").header("Content-Encoding"), "");  // identity: decoded from the gzip copy
  driver.clock().advance(2);
  EXPECT_EQ(driver.get("/v").header("X-Cache"), "STALE");
  driver.answerBackground();
  ClientResponse identity = driver.get("/v");
  EXPECT_EQ(identity.header("X-Cache"), "HIT");
  EXPECT_EQ(identity.header("Content-Encoding"), "");
  EXPECT_EQ(identity.body, page(2));
  ClientResponse gzip = driver.get("/v", gzipClient());
  EXPECT_EQ(gzip.header("X-Cache"), "STALE") << "the gzip variant is another entry, refreshed on its own";
}

// A soft purge marks entries stale: the next request is answered stale while one refresh runs,
// which stores the new content, compressed like a fill.
TEST(CacheRefresh, SoftPurgeRefreshLands) {
  FilterDriver driver(config());
  PageOrigin origin(driver, "max-age=300");
  ASSERT_EQ(content(driver.get("/news", gzipClient())), page(1));
  CachePurge purge;
  ASSERT_EQ(CachePurge::parse({{"soft", true}}, purge), "");
  EXPECT_EQ(purge.apply(driver.gateway().module<CacheModule>()->store(), driver.clock().now()), 1u);

  ClientResponse stale = driver.get("/news", gzipClient());
  EXPECT_EQ(stale.header("X-Cache"), "STALE");
  EXPECT_EQ(content(stale), page(1));
  driver.answerBackground();
  ClientResponse fresh = driver.get("/news", gzipClient());
  EXPECT_EQ(fresh.header("X-Cache"), "HIT");
  EXPECT_EQ(fresh.header("Content-Encoding"), "gzip");
  EXPECT_EQ(content(fresh), page(2));
  EXPECT_EQ(origin.fetches, 2);
}

// A refresh is not a client's request: the route's request count and the cache outcomes count
// only the clients.
TEST(CacheRefresh, RefreshesAreNotCountedAsClientRequests) {
  FilterDriver driver(config());
  PageOrigin origin(driver, "max-age=1, stale-while-revalidate=30");
  driver.get("/count", gzipClient());
  driver.clock().advance(2);
  driver.get("/count", gzipClient());
  driver.answerBackground();
  driver.get("/count", gzipClient());
  JsonSink sink;
  driver.gateway().collectMetrics(sink);
  nlohmann::json route = sink.view("metrics")["routes"]["all"];
  EXPECT_EQ(route["requests"], 3) << route.dump();
  EXPECT_EQ(route["cache"]["miss"], 1);
  EXPECT_EQ(route["cache"]["stale"], 1);
  EXPECT_EQ(route["cache"]["hit"], 1);
}

}  // namespace
}  // namespace perfgate::test
