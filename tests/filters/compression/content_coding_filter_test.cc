// zstd and brotli through the real filter chain and a scripted backend (support/filter_driver.h):
// negotiation among the codings offered, one stored variant per coding, each made once (from
// the backend's body or from another stored variant), slow levels made by the background
// encoder while the client's best fast coding is served, bodies the backend encoded passed on or
// decoded, never encoded twice. Bodies are checked by decoding them (content_codec.h, itself
// checked against each coding's library in content_codec_test.cc).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "filters/cache/cache_key.h"
#include "filters/cache/cache_module.h"
#include "gateway/admin/metrics_sink.h"
#include "gateway/http/content_codec.h"
#include "support/filter_driver.h"

namespace perfgate::test {
namespace {

std::string config(std::string_view compression = "", std::string_view route_settings = "") {
  return "[upstream.backend]\nurl = \"http://127.0.0.1:9\"\n\n"
         "[compression]\n" + std::string(compression) + "\n\n"
         "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n" + std::string(route_settings) + "\n";
}

std::string page(size_t n) {
  std::string out;
  for (size_t line = 0; out.size() < n; ++line) out += "<p>line " + std::to_string(line) + " of the page</p>\n";
  out.resize(n);
  return out;
}

FilterDriver::Backend htmlPage(std::string body, HeaderBlock fields = {}) {
  return [body = std::move(body), fields = std::move(fields)](const UpstreamRequest&) {
    BackendResponse response;
    response.fields = {{"Content-Type", "text/html; charset=utf-8"}, {"Cache-Control", "public, max-age=60"}};
    for (HeaderField field : fields) response.fields.add(field.name, field.value);
    response.body = body;
    return response;
  };
}

// Answers `body` followed by the number of the fetch (counted in `version`), cacheable for a minute.
FilterDriver::Backend versionedPage(const std::string& body, int& version) {
  return [&body, &version](const UpstreamRequest&) {
    BackendResponse response;
    response.fields = {{"Content-Type", "text/html"}, {"Cache-Control", "public, max-age=60"}};
    response.body = body + std::to_string(++version);
    return response;
  };
}

// The response is `body` in `coding` (identity: as it is), varying by Accept-Encoding.
::testing::AssertionResult isCodingOf(const ClientResponse& resp, ContentCoding coding, const std::string& body) {
  std::string sent = resp.header("Content-Encoding");
  std::string_view want = coding == ContentCoding::Identity ? "" : codingName(coding);
  if (sent != want) return ::testing::AssertionFailure() << "Content-Encoding '" << sent << "', want '" << want << "'";
  if (resp.header("Vary").find("Accept-Encoding") == std::string_view::npos) {
    return ::testing::AssertionFailure() << "Vary '" << resp.header("Vary") << "'";
  }
  std::optional<std::string> decoded = decodeWhole(coding, resp.body, 1 << 26);
  if (!decoded) return ::testing::AssertionFailure() << "the body does not decode as " << codingName(coding);
  if (*decoded != body) return ::testing::AssertionFailure() << "it decodes to other bytes";
  return ::testing::AssertionSuccess();
}

nlohmann::json compression(FilterDriver& driver) {
  JsonSink sink;
  driver.gateway().collectMetrics(sink);
  return sink.view("cache")["compression"];
}

uint64_t encoded(FilterDriver& driver, const char* coding) {
  nlohmann::json c = compression(driver);
  return c["codings"][coding].value("compressed", uint64_t{0});
}

const HeaderBlock kChrome{{"Accept-Encoding", "gzip, deflate, br, zstd"}};
const HeaderBlock kSafari{{"Accept-Encoding", "gzip, deflate, br"}};
const HeaderBlock kGzip{{"Accept-Encoding", "gzip"}};
const HeaderBlock kZstdOnly{{"Accept-Encoding", "zstd"}};

TEST(ContentCodingFilter, EachCodingIsStoredOnceAndMadeFromAnother) {
  FilterDriver driver(config("background_threads = 0"));  // every level inline: deterministic
  const std::string body = page(20000);
  driver.backend = htmlPage(body);

  ClientResponse fill = driver.get("/p", kChrome);
  EXPECT_EQ(fill.header("X-Cache"), "MISS");
  EXPECT_TRUE(isCodingOf(fill, ContentCoding::Zstd, body));
  ASSERT_EQ(driver.backendRequests().size(), 1u);
  EXPECT_EQ(driver.backendRequests()[0].headers.get("Accept-Encoding").value_or(""), "zstd")
      << "the backend is asked for the negotiated coding alone";

  ClientResponse zstd_hit = driver.get("/p", kZstdOnly);
  EXPECT_EQ(zstd_hit.header("X-Cache"), "HIT");
  EXPECT_EQ(zstd_hit.body, fill.body) << "served as stored";

  // Each other coding is made once from the stored one, without the backend, then is a hit.
  struct Case {
    HeaderBlock accept;
    ContentCoding coding;
  };
  const Case cases[] = {{kSafari, ContentCoding::Br}, {kGzip, ContentCoding::Gzip}, {{}, ContentCoding::Identity}};
  for (const Case& c : cases) {
    for (int i = 0; i < 2; ++i) {
      ClientResponse resp = driver.get("/p", c.accept);
      EXPECT_EQ(resp.header("X-Cache"), "HIT") << codingName(c.coding);
      EXPECT_TRUE(isCodingOf(resp, c.coding, body)) << codingName(c.coding);
    }
  }
  EXPECT_EQ(driver.backendRequests().size(), 1u);
  EXPECT_EQ(encoded(driver, "zstd"), 1u);
  EXPECT_EQ(encoded(driver, "br"), 1u);
  EXPECT_EQ(encoded(driver, "gzip"), 1u);
  nlohmann::json c = compression(driver);
  EXPECT_EQ(c["recoded"], 3) << c;
  uint64_t decoded = 0;
  for (const char* coding : {"gzip", "br", "zstd"}) decoded += c["codings"][coding].value("decoded", uint64_t{0});
  EXPECT_EQ(decoded, 1u) << "identity was decoded once from a stored copy " << c;
  // The slow levels are smaller than gzip's.
  size_t gzip_size = driver.get("/p", kGzip).body.size();
  EXPECT_LT(driver.get("/p", kSafari).body.size(), gzip_size);
  EXPECT_LT(fill.body.size(), gzip_size);
}

TEST(ContentCodingFilter, SlowLevelsAreMadeInTheBackgroundWhileGzipIsServed) {
  FilterDriver driver(config());  // defaults: br 11 and zstd 19 on one background thread
  const std::string body = page(50000);
  driver.backend = htmlPage(body, {{"ETag", "\"v1\""}});
  BackgroundEncoder* encoder = driver.gateway().module<CacheModule>()->encoder();
  ASSERT_NE(encoder, nullptr);

  // The fill is stored in the best fast coding the client takes, and submits brotli 11.
  ClientResponse fill = driver.get("/slow", kSafari);
  EXPECT_EQ(fill.header("X-Cache"), "MISS");
  EXPECT_TRUE(isCodingOf(fill, ContentCoding::Gzip, body));
  EXPECT_EQ(fill.header("ETag"), "W/\"v1\"");
  EXPECT_EQ(driver.backendRequests()[0].headers.get("Accept-Encoding").value_or(""), "br");
  encoder->drain();

  ClientResponse br = driver.get("/slow", kSafari);
  EXPECT_EQ(br.header("X-Cache"), "HIT");
  EXPECT_TRUE(isCodingOf(br, ContentCoding::Br, body));
  EXPECT_EQ(br.header("ETag"), "W/\"v1\"");
  EXPECT_LT(br.body.size(), fill.body.size());

  // A client that takes zstd alone: its first request submits zstd 19 and gets identity meanwhile
  // (no fast coding it takes), then zstd.
  ClientResponse identity = driver.get("/slow", kZstdOnly);
  EXPECT_EQ(identity.header("X-Cache"), "HIT");
  EXPECT_TRUE(isCodingOf(identity, ContentCoding::Identity, body));
  encoder->drain();
  EXPECT_TRUE(isCodingOf(driver.get("/slow", kZstdOnly), ContentCoding::Zstd, body));
  EXPECT_EQ(driver.backendRequests().size(), 1u);

  nlohmann::json background = compression(driver)["background"];
  EXPECT_EQ(background["submitted"], 2) << background;
  EXPECT_EQ(background["stored"], 2) << background;
  EXPECT_EQ(background["dropped"], 0) << background;
  EXPECT_EQ(encoded(driver, "br"), 1u);
  EXPECT_EQ(encoded(driver, "zstd"), 1u);
}

// The slow variant expires with the object; its refresh is stored in the fast coding (as a fill
// is), and the stale slow variant goes rather than shadow it: the next request has it made anew.
TEST(ContentCodingFilter, AnExpiredSlowVariantIsMadeAgainFromItsRefresh) {
  FilterDriver driver(config());
  const std::string body = page(30000);
  int version = 0;
  driver.backend = versionedPage(body, version);
  BackgroundEncoder* encoder = driver.gateway().module<CacheModule>()->encoder();
  ASSERT_TRUE(isCodingOf(driver.get("/r", kSafari), ContentCoding::Gzip, body + "1"));
  encoder->drain();
  ASSERT_TRUE(isCodingOf(driver.get("/r", kSafari), ContentCoding::Br, body + "1"));

  driver.clock().advance(61);
  ClientResponse refreshed = driver.get("/r", kSafari);
  EXPECT_EQ(refreshed.header("X-Cache"), "EXPIRED");
  EXPECT_TRUE(isCodingOf(refreshed, ContentCoding::Gzip, body + "2"));
  // Before brotli is made again: gzip of the new content, never the old brotli copy.
  ClientResponse next = driver.get("/r", kSafari);
  EXPECT_EQ(next.header("X-Cache"), "HIT");
  ContentCoding next_coding = next.header("Content-Encoding") == "br" ? ContentCoding::Br : ContentCoding::Gzip;
  EXPECT_TRUE(isCodingOf(next, next_coding, body + "2"));
  encoder->drain();
  EXPECT_TRUE(isCodingOf(driver.get("/r", kSafari), ContentCoding::Br, body + "2"));
  EXPECT_EQ(version, 2);
}

TEST(ContentCodingFilter, ABackgroundResultWhoseSourceWentIsThrownAway) {
  FilterDriver driver(config());
  const std::string body = page(50000);
  int version = 0;
  driver.backend = versionedPage(body, version);
  BackgroundEncoder* encoder = driver.gateway().module<CacheModule>()->encoder();
  ASSERT_TRUE(isCodingOf(driver.get("/gone", kSafari), ContentCoding::Gzip, body + "1"));
  encoder->drain();  // the fill's own brotli job
  // The object is purged, then a brotli job made from its gzip copy runs: it must not land.
  CacheStore& store = driver.gateway().module<CacheModule>()->store();
  std::string key = makeCacheKey("http", "test.local", "/gone", "");
  CacheEntryPtr source = store.lookup(key, hashKey(key), kSafari, ContentCoding::Gzip);
  ASSERT_NE(source, nullptr);
  store.erase(source->key, source->hash);
  ASSERT_TRUE(encoder->submit(
      {source, ContentCoding::Br, 11, makeVariantKey(source->vary, kSafari, ContentCoding::Br), 1 << 20, false}));
  encoder->drain();
  EXPECT_EQ(compression(driver)["background"]["superseded"], 1);
  ClientResponse after = driver.get("/gone", kSafari);
  EXPECT_EQ(after.header("X-Cache"), "MISS") << "nothing of the purged object came back";
  EXPECT_TRUE(isCodingOf(after, ContentCoding::Gzip, body + "2"));
}

TEST(ContentCodingFilter, ABodyTheBackendEncodedIsPassedOnOrDecoded) {
  FilterDriver driver(config("background_threads = 0"));
  const std::string body = page(30000);
  const std::string br = encodeWhole(ContentCoding::Br, body, 5);
  driver.backend = [&](const UpstreamRequest&) {
    BackendResponse response;
    response.fields = {{"Content-Type", "text/html"}, {"Cache-Control", "public, max-age=60"},
                       {"Content-Encoding", "br"}, {"ETag", "\"b\""}};
    response.body = br;  // whatever was asked: a backend with precompressed assets
    return response;
  };
  // A client that takes br gets the backend's bytes, not encoded again.
  ClientResponse passed = driver.get("/asset.html", kSafari);
  EXPECT_EQ(passed.body, br);
  EXPECT_EQ(passed.header("Content-Encoding"), "br");
  EXPECT_EQ(passed.header("ETag"), "\"b\"") << "the bytes the backend named";
  EXPECT_EQ(driver.get("/asset.html", kSafari).header("X-Cache"), "HIT");

  // A client that does not: the backend was asked for gzip and sent br anyway; decoded.
  ClientResponse decoded = driver.get("/other.html", kGzip);
  EXPECT_TRUE(isCodingOf(decoded, ContentCoding::Identity, body));
  EXPECT_EQ(decoded.header("ETag"), "W/\"b\"");
  EXPECT_EQ(compression(driver)["codings"]["br"]["decoded"], 1);
  // Stored as what it is now (identity), and the gzip variant then made from it.
  ClientResponse identity = driver.get("/other.html");
  EXPECT_EQ(identity.header("X-Cache"), "HIT");
  EXPECT_TRUE(isCodingOf(identity, ContentCoding::Identity, body));
  ClientResponse gzip = driver.get("/other.html", kGzip);
  EXPECT_EQ(gzip.header("X-Cache"), "HIT");
  EXPECT_TRUE(isCodingOf(gzip, ContentCoding::Gzip, body));
}

TEST(ContentCodingFilter, ABodyThatDoesNotDecodeEndsTheResponseShort) {
  FilterDriver driver(config("background_threads = 0"));
  driver.backend = [&](const UpstreamRequest&) {
    BackendResponse response;
    response.fields = {{"Content-Type", "text/html"}, {"Cache-Control", "public, max-age=60"}, {"Content-Encoding", "zstd"}};
    response.body = std::string(5000, 'x');  // not zstd
    return response;
  };
  ClientResponse resp = driver.get("/broken", kGzip);
  EXPECT_FALSE(resp.complete) << "a truncated body, never a wrong one";
  EXPECT_NE(driver.get("/broken", kGzip).header("X-Cache"), "HIT") << "and nothing stored";
}

TEST(ContentCodingFilter, AnUnknownCodingIsPassedOnAndNeverStored) {
  FilterDriver driver(config());
  driver.backend = htmlPage(std::string(5000, 'd'), {{"Content-Encoding", "deflate"}});
  ClientResponse first = driver.get("/deflated", kGzip);
  EXPECT_EQ(first.header("Content-Encoding"), "deflate");
  EXPECT_EQ(first.body, std::string(5000, 'd'));
  EXPECT_NE(first.header("Cache-Status").find("detail=coding"), std::string_view::npos) << first.header("Cache-Status");
  EXPECT_EQ(driver.get("/deflated", kGzip).header("X-Cache"), "MISS");
}

TEST(ContentCodingFilter, UncachedBodiesStreamInTheNegotiatedCoding) {
  FilterDriver driver(config("zstd_stream_level = 5\nbr_stream_level = 3", "cache = false"));
  const std::string body = page(200000);
  driver.backend = htmlPage(body, {{"Transfer-Encoding", "chunked"}});
  EXPECT_TRUE(isCodingOf(driver.get("/s", kChrome), ContentCoding::Zstd, body));
  EXPECT_TRUE(isCodingOf(driver.get("/s", kSafari), ContentCoding::Br, body));
  EXPECT_TRUE(isCodingOf(driver.get("/s", kGzip), ContentCoding::Gzip, body));
  EXPECT_EQ(encoded(driver, "zstd"), 1u);
  EXPECT_EQ(encoded(driver, "br"), 1u);
}

TEST(ContentCodingFilter, TheServerOrderAndTheOfferComeFromTheConfig) {
  FilterDriver driver(config("codings = [\"gzip\", \"br\"]", "cache = false"));
  const std::string body = page(5000);
  driver.backend = htmlPage(body);
  EXPECT_TRUE(isCodingOf(driver.get("/o", kChrome), ContentCoding::Gzip, body)) << "gzip first among equals";
  EXPECT_TRUE(isCodingOf(driver.get("/o", {{"Accept-Encoding", "br, gzip;q=0.5"}}), ContentCoding::Br, body));
  EXPECT_TRUE(isCodingOf(driver.get("/o", kZstdOnly), ContentCoding::Identity, body)) << "zstd is not offered";
  EXPECT_FALSE(driver.backendRequests().back().headers.has("Accept-Encoding"));
}

}  // namespace
}  // namespace perfgate::test
