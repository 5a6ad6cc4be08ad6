// Compression through the real filter chain and a scripted backend (support/filter_driver.h):
// gzip paid once per object when the cache stores it, the gzip and identity variants of a URL,
// and the fields a compressed body makes wrong. Bodies are decoded with zlib here, independently
// of the gateway's own codec; counters are read as the admin API reads them.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/admin/metrics_sink.h"
#include "support/filter_driver.h"

namespace perfgate::test {
namespace {

// One route "all" for "/" with `route_settings` (TOML lines), then `extra` (more tables).
std::string config(std::string_view route_settings = "", std::string_view extra = "") {
  return "[upstream.backend]\nurl = \"http://127.0.0.1:9\"\n\n"
         "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n" +
         std::string(route_settings) + "\n" + std::string(extra);
}

// `n` bytes of text that compresses well.
std::string page(size_t n) {
  std::string out;
  for (size_t line = 0; out.size() < n; ++line) out += "<p>line " + std::to_string(line) + " of the page</p>\n";
  out.resize(n);
  return out;
}

// The content of a gzip body (one member, nothing after it); nullopt when it is not valid gzip.
std::optional<std::string> gunzip(const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int rc = Z_OK;
  char buffer[65536];
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - zs.avail_out);
  }
  bool ok = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!ok) return std::nullopt;
  return out;
}

// Sent gzip: Content-Encoding gzip, Vary naming Accept-Encoding, a body that decodes to `identity`.
::testing::AssertionResult isGzipOf(const ClientResponse& resp, const std::string& identity) {
  if (resp.header("Content-Encoding") != "gzip") {
    return ::testing::AssertionFailure() << "Content-Encoding '" << resp.header("Content-Encoding") << "'";
  }
  if (resp.header("Vary") != "Accept-Encoding") {
    return ::testing::AssertionFailure() << "Vary '" << resp.header("Vary") << "'";
  }
  std::optional<std::string> decoded = gunzip(resp.body);
  if (!decoded) return ::testing::AssertionFailure() << "the body is not valid gzip";
  if (*decoded != identity) return ::testing::AssertionFailure() << "it decodes to other bytes";
  return ::testing::AssertionSuccess();
}

// The compression figures as the admin API's cache view has them ("compressed", "bytes_in",
// "bytes_out", "recoded"; per coding under "codings").
uint64_t figure(FilterDriver& driver, const char* name) {
  JsonSink sink;
  driver.gateway().collectMetrics(sink);
  nlohmann::json compression = sink.view("cache")["compression"];
  return compression.contains(name) ? compression[name].get<uint64_t>() : 0;
}

// Answers every request with `body` as text/html, cacheable for a minute, with `fields` added.
FilterDriver::Backend htmlPage(std::string body, HeaderBlock fields = {}) {
  return [body = std::move(body), fields = std::move(fields)](const UpstreamRequest&) {
    BackendResponse response;
    response.fields = {{"Content-Type", "text/html; charset=utf-8"}, {"Cache-Control", "public, max-age=60"}};
    for (HeaderField field : fields) response.fields.add(field.name, field.value);
    response.body = body;
    return response;
  };
}

TEST(CompressionFilter, GzipIsAppliedOnceAndTheCacheStoresTheGzipBytes) {
  FilterDriver driver(config());
  const std::string body = page(20000);
  driver.backend = htmlPage(body);

  ClientResponse fill = driver.get("/once", {{"Accept-Encoding", "gzip, deflate"}});
  ASSERT_TRUE(isGzipOf(fill, body));
  EXPECT_EQ(fill.header("X-Cache"), "MISS");
  EXPECT_EQ(fill.header("Cache-Status"), "perfgate; fwd=miss; stored");
  EXPECT_FALSE(fill.has("Content-Length")) << "the length changed with the coding";
  EXPECT_EQ(fill.header("Transfer-Encoding"), "chunked");
  EXPECT_LT(fill.body.size(), body.size() / 4);
  ASSERT_EQ(driver.backendRequests().size(), 1u);
  EXPECT_EQ(driver.backendRequests()[0].headers.get("Accept-Encoding").value_or(""), "gzip")
      << "the backend is asked for the negotiated coding only";
  EXPECT_EQ(figure(driver, "compressed"), 1u);
  EXPECT_EQ(figure(driver, "bytes_in"), body.size());
  EXPECT_EQ(figure(driver, "bytes_out"), fill.body.size());

  // Every way of saying "gzip" is served the stored bytes as they are.
  for (const char* accept : {"gzip", "gzip, deflate", "br;q=0.1, gzip;q=0.5, *;q=0"}) {
    ClientResponse hit = driver.get("/once", {{"Accept-Encoding", accept}});
    EXPECT_EQ(hit.header("X-Cache"), "HIT") << accept;
    EXPECT_EQ(hit.header("Content-Encoding"), "gzip") << accept;
    EXPECT_EQ(hit.body, fill.body) << accept;
    EXPECT_EQ(hit.header("Content-Length"), std::to_string(fill.body.size())) << accept;
  }
  ClientResponse head = driver.send("HEAD", "/once", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(head.header("X-Cache"), "HIT");
  EXPECT_EQ(head.header("Content-Encoding"), "gzip");
  EXPECT_EQ(head.header("Content-Length"), std::to_string(fill.body.size()));
  EXPECT_TRUE(head.body.empty());

  EXPECT_EQ(driver.backendRequests().size(), 1u);
  EXPECT_EQ(figure(driver, "compressed"), 1u) << "compressed once per object, not once per hit";
}

TEST(CompressionFilter, AClientWithoutGzipGetsTheStoredGzipVariantDecodedOnce) {
  FilterDriver driver(config());
  const std::string body = page(20000);
  driver.backend = htmlPage(body);
  ClientResponse fill = driver.get("/variants", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(isGzipOf(fill, body));

  for (int i = 0; i < 2; ++i) {
    ClientResponse identity = driver.get("/variants");
    EXPECT_EQ(identity.header("X-Cache"), "HIT");
    EXPECT_FALSE(identity.has("Content-Encoding"));
    EXPECT_EQ(identity.body, body);
    EXPECT_EQ(identity.header("Content-Length"), "20000");
    EXPECT_EQ(identity.header("Vary"), "Accept-Encoding");
  }
  EXPECT_EQ(driver.backendRequests().size(), 1u);
  EXPECT_EQ(figure(driver, "compressed"), 1u);
  EXPECT_EQ(figure(driver, "recoded"), 1u) << "decoded once, then stored as the identity variant";
}

TEST(CompressionFilter, IdentityFirstThenGzipIsAnotherVariantMadeFromIt) {
  FilterDriver driver(config());
  const std::string body = page(20000);
  driver.backend = htmlPage(body);

  ClientResponse identity = driver.get("/idfirst", {{"Accept-Encoding", "deflate"}});
  EXPECT_EQ(identity.header("X-Cache"), "MISS");
  EXPECT_EQ(identity.body, body);
  EXPECT_EQ(identity.header("Vary"), "Accept-Encoding") << "the same URL is gzip for others";
  ASSERT_EQ(driver.backendRequests().size(), 1u);
  EXPECT_FALSE(driver.backendRequests()[0].headers.has("Accept-Encoding")) << "deflate is not asked of the backend";
  EXPECT_EQ(driver.get("/idfirst").header("X-Cache"), "HIT");

  // The gzip variant is made from the stored identity one, once, without the backend.
  ClientResponse made = driver.get("/idfirst", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(made.header("X-Cache"), "HIT");
  EXPECT_TRUE(isGzipOf(made, body));
  ClientResponse hit = driver.get("/idfirst", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_EQ(hit.body, made.body);
  EXPECT_EQ(driver.backendRequests().size(), 1u);
  EXPECT_EQ(figure(driver, "recoded"), 1u);
}

TEST(CompressionFilter, FixesVaryAndWeakensAStrongETag) {
  FilterDriver driver(config("cache = false"));
  const std::string body = page(5000);
  driver.backend = htmlPage(body, {{"Vary", "Origin"}, {"Vary", "Cookie"}, {"ETag", "\"abc\""}});
  ClientResponse gzip = driver.get("/fields", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(gzip.header("Content-Encoding"), "gzip");
  EXPECT_EQ(gzip.headers.count("Vary"), 1u);
  EXPECT_EQ(gzip.header("Vary"), "Origin, Cookie, Accept-Encoding");
  EXPECT_EQ(gzip.header("ETag"), "W/\"abc\"") << "the gzip bytes are not the bytes \"abc\" named";
  EXPECT_EQ(gunzip(gzip.body).value_or(""), body);

  ClientResponse identity = driver.get("/fields");
  EXPECT_EQ(identity.header("ETag"), "\"abc\"");
  EXPECT_EQ(identity.header("Vary"), "Origin, Cookie, Accept-Encoding");
  EXPECT_EQ(identity.body, body);
}

TEST(CompressionFilter, SkipsWhatMustNotOrNeedNotBeCompressed) {
  FilterDriver driver(config("cache = false"));
  const std::string body = page(5000);
  struct Case {
    const char* why;
    HeaderBlock fields;
    size_t size;
  };
  const Case cases[] = {
      {"encoded in a coding the gateway does not know", {{"Content-Type", "text/html"}, {"Content-Encoding", "deflate"}}, 5000},
      {"no-transform", {{"Content-Type", "text/html"}, {"Cache-Control", "no-transform"}}, 5000},
      {"image type", {{"Content-Type", "image/png"}}, 5000},
      {"under min_bytes", {{"Content-Type", "text/html"}}, 255},
  };
  for (const Case& c : cases) {
    driver.backend = [&](const UpstreamRequest&) {
      BackendResponse response;
      response.fields = c.fields;
      response.body = body.substr(0, c.size);
      return response;
    };
    ClientResponse resp = driver.get("/skip", {{"Accept-Encoding", "gzip"}});
    EXPECT_NE(resp.header("Content-Encoding"), "gzip") << c.why;
    EXPECT_EQ(resp.body, body.substr(0, c.size)) << c.why;
    EXPECT_EQ(resp.header("Content-Length"), std::to_string(c.size)) << c.why;
  }
  EXPECT_EQ(figure(driver, "compressed"), 0u);
}

TEST(CompressionFilter, ABodyOfUnknownLengthIsCompressedAsAStream) {
  FilterDriver driver(config("cache = false"));
  const std::string body = page(100000);
  driver.backend = htmlPage(body, {{"Transfer-Encoding", "chunked"}});
  ClientResponse resp = driver.get("/stream", {{"Accept-Encoding", "gzip"}});
  EXPECT_TRUE(isGzipOf(resp, body));
  EXPECT_EQ(resp.header("Transfer-Encoding"), "chunked");
  EXPECT_TRUE(resp.complete);
  EXPECT_EQ(figure(driver, "bytes_in"), body.size());
}

}  // namespace
}  // namespace perfgate::test
