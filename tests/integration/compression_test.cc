// End to end through a real perfgate to a real TestBackend: gzip toward clients that accept it,
// the cases where nothing is compressed, the fields a compressed response must carry, streaming
// of a large body in bounded memory, and "compress once" with the cache (counted through the
// admin API's compression counters). Bodies are decoded with zlib here, independently of the
// gateway's own codec.
#include <gtest/gtest.h>
#include <zlib.h>

#include <strings.h>
#include <unistd.h>

#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "integration/gateway_fixture.h"
#include "support/cache_target.h"
#include "support/sanitizers.h"

namespace perfgate::test {
namespace {


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
    if (rc == Z_BUF_ERROR) break;
  }
  bool ok = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!ok) return std::nullopt;
  return out;
}

// A kB value of /proc/PID/status ("VmRSS", "VmHWM"); -1 when unreadable.
long procStatusKb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  }
  return -1;
}

const Headers kGzip{{"Accept-Encoding", "gzip"}};

// Sent gzip: Content-Encoding gzip, no Content-Length, Vary naming Accept-Encoding, and a body
// that decodes to `identity`.
::testing::AssertionResult isGzipOf(const HttpResponse& resp, const std::string& identity) {
  if (!resp.ok() || !resp.complete) return ::testing::AssertionFailure() << "incomplete: " << resp.summary();
  if (resp.header("Content-Encoding") != "gzip") {
    return ::testing::AssertionFailure() << "Content-Encoding '" << resp.header("Content-Encoding") << "'; "
                                         << resp.summary();
  }
  bool varies = false;
  for (const std::string& token : resp.headerTokens("Vary")) varies = varies || token == "accept-encoding";
  if (!varies) return ::testing::AssertionFailure() << "Vary lacks Accept-Encoding: '" << resp.header("Vary") << "'";
  std::optional<std::string> decoded = gunzip(resp.body);
  if (!decoded) return ::testing::AssertionFailure() << "the body is not valid gzip; " << resp.summary();
  if (*decoded != identity) {
    return ::testing::AssertionFailure() << "decodes to " << decoded->size() << " bytes, expected " << identity.size();
  }
  return ::testing::AssertionSuccess();
}

// Sent as the backend sent it: no gzip Content-Encoding added, body unchanged.
::testing::AssertionResult isIdentity(const HttpResponse& resp, const std::string& body) {
  if (!resp.ok()) return ::testing::AssertionFailure() << "no response: " << resp.error;
  if (resp.header("Content-Encoding") == "gzip") return ::testing::AssertionFailure() << "compressed; " << resp.summary();
  if (resp.body != body) return ::testing::AssertionFailure() << "body changed; " << resp.summary();
  return ::testing::AssertionSuccess();
}

class CompressionTest : public GatewayTest {
 protected:
  // One route "all" for "/" with `route_settings` added, and `extra` (more tables) appended.
  ::testing::AssertionResult start(const std::string& route_settings = "cache = false", const std::string& extra = "") {
    GatewayConfig c = baseConfig();
    c.workers = 1;
    c.routes = "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n" + route_settings + "\n";
    c.extra = extra;
    return startGateway(c);
  }

  nlohmann::json compressionStats() {
    HttpResponse stats = request(gateway_->adminPort(), "GET", "/api/cache/stats");
    nlohmann::json body = nlohmann::json::parse(stats.body, nullptr, false);
    return body.is_object() && body.contains("compression") ? body["compression"] : nlohmann::json();
  }
};

const std::string kHtml = "text/html; charset=utf-8";

TEST_F(CompressionTest, GzipForAClientThatAcceptsIt) {
  ASSERT_TRUE(start());
  const std::string target = cacheTarget("page", {{"size", "20000"}, {"header", "Content-Type:" + kHtml}});
  HttpResponse resp = get(target, kGzip);
  EXPECT_TRUE(isGzipOf(resp, pattern(20000)));
  EXPECT_FALSE(resp.hasHeader("Content-Length"));
  EXPECT_EQ(resp.framing, Framing::Chunked);
  EXPECT_LT(resp.body.size(), 2000u);
  EXPECT_EQ(backend_.lastRequest().header("Accept-Encoding"), "gzip");
  nlohmann::json stats = compressionStats();
  EXPECT_EQ(stats["compressed"], 1) << stats;
  EXPECT_EQ(stats["bytes_in"], 20000) << stats;
  EXPECT_EQ(stats["bytes_out"], resp.body.size()) << stats;
}

TEST_F(CompressionTest, IdentityForAClientThatDoesNotAndVaryEitherWay) {
  ASSERT_TRUE(start());
  const std::string target = cacheTarget("page", {{"size", "20000"}, {"header", "Content-Type:" + kHtml}});
  for (const Headers& headers : {Headers{}, Headers{{"Accept-Encoding", "gzip;q=0, deflate"}},
                                 Headers{{"Accept-Encoding", "compress"}}}) {
    HttpResponse resp = get(target, headers);
    EXPECT_TRUE(isIdentity(resp, pattern(20000)));
    EXPECT_EQ(resp.header("Content-Length"), "20000");
    EXPECT_EQ(resp.header("Vary"), "Accept-Encoding");  // the same URL is gzip for others
    // The backend is only ever asked for the coding negotiated, or identity.
    EXPECT_FALSE(backend_.lastRequest().hasHeader("Accept-Encoding"));
  }
}

TEST_F(CompressionTest, NegotiationHonoursWeightsAndWildcards) {
  ASSERT_TRUE(start());
  const std::string target = cacheTarget("neg", {{"size", "5000"}});
  for (const char* accept : {"GZIP", "x-gzip", "*, br;q=0, zstd;q=0", "deflate;q=1.0, gzip;q=0.8", "deflate, gzip;q=0.001"}) {
    EXPECT_TRUE(isGzipOf(get(target, {{"Accept-Encoding", accept}}), pattern(5000))) << accept;
  }
  for (const char* accept : {"gzip;q=0", "*;q=0", "identity", "gzip;q=0.5, identity", "*;q=0.5, identity"}) {
    EXPECT_TRUE(isIdentity(get(target, {{"Accept-Encoding", accept}}), pattern(5000))) << accept;
  }
}

TEST_F(CompressionTest, SkipsWhatMustNotOrNeedNotBeCompressed) {
  ASSERT_TRUE(start("cache = false\n[[route]]\nname = \"off\"\nprefix = \"/off/\"\nupstream = \"backend\"\n"
                    "compression = false"));
  struct Case {
    const char* why;
    std::string target;
  };
  const Case cases[] = {
      {"already encoded", cacheTarget("enc", {{"size", "5000"}, {"header", "Content-Encoding:deflate"}})},
      {"no-transform", cacheTarget("nt", {{"size", "5000"}, {"cc", "public, no-transform"}})},
      {"image type", cacheTarget("img", {{"size", "5000"}, {"header", "Content-Type:image/png"}})},
      {"empty Content-Type", cacheTarget("untyped", {{"size", "5000"}, {"header", "Content-Type:"}})},
      {"under min_bytes", cacheTarget("small", {{"size", "255"}})},
      {"route off", "/off" + cacheTarget("off", {{"size", "5000"}})},
      {"partial content", cacheTarget("part", {{"size", "5000"}, {"status", "206"},
                                               {"header", "Content-Range:bytes 0-4999/9000"}})},
  };
  for (const Case& c : cases) {
    HttpResponse resp = get(c.target, kGzip);
    ASSERT_TRUE(resp.ok()) << c.why;
    EXPECT_NE(resp.header("Content-Encoding"), "gzip") << c.why;
    EXPECT_EQ(resp.body, pattern(5000).substr(0, resp.body.size())) << c.why;
    EXPECT_TRUE(resp.hasHeader("Content-Length")) << c.why;
  }
  // No body: 204, 304, HEAD.
  HttpResponse no_content = get(cacheTarget("nc", {{"status", "204"}}), kGzip);
  EXPECT_EQ(no_content.status, 204);
  EXPECT_FALSE(no_content.hasHeader("Content-Encoding"));
  const std::string validated = cacheTarget("v", {{"size", "5000"}, {"etag", "\"v1\""}});
  HttpResponse not_modified = get(validated, {{"Accept-Encoding", "gzip"}, {"If-None-Match", "\"v1\""}});
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_FALSE(not_modified.hasHeader("Content-Encoding"));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("HEAD", cacheTarget("head", {{"size", "5000"}}), kGzip)));
  HttpResponse head = conn.readResponse(kDefaultTimeout, /*head=*/true);
  EXPECT_EQ(head.status, 200);
  EXPECT_FALSE(head.hasHeader("Content-Encoding"));
  EXPECT_EQ(head.header("Content-Length"), "5000");
  EXPECT_EQ(compressionStats()["compressed"], 0);
}

TEST_F(CompressionTest, FixesVaryAndETag) {
  ASSERT_TRUE(start());
  HttpResponse merged = get(cacheTarget("vary", {{"size", "5000"}, {"vary", "Origin"}, {"vary", "Cookie"}}), kGzip);
  EXPECT_TRUE(isGzipOf(merged, pattern(5000)));
  EXPECT_EQ(merged.headerValues("Vary"), std::vector<std::string>{"Origin, Cookie, Accept-Encoding"});
  HttpResponse named = get(cacheTarget("vary2", {{"size", "5000"}, {"vary", "accept-encoding"}}), kGzip);
  EXPECT_EQ(named.headerValues("Vary"), std::vector<std::string>{"accept-encoding"});
  HttpResponse strong = get(cacheTarget("etag", {{"size", "5000"}, {"etag", "\"abc\""}}), kGzip);
  EXPECT_TRUE(isGzipOf(strong, pattern(5000)));
  EXPECT_EQ(strong.header("ETag"), "W/\"abc\"");  // the gzip bytes are not the bytes "abc" named
  HttpResponse weak = get(cacheTarget("etag-weak", {{"size", "5000"}, {"etag", "W/\"abc\""}}), kGzip);
  EXPECT_EQ(weak.header("ETag"), "W/\"abc\"");
  HttpResponse identity = get(cacheTarget("etag", {{"size", "5000"}, {"etag", "\"abc\""}}));
  EXPECT_EQ(identity.header("ETag"), "\"abc\"");
}

TEST_F(CompressionTest, ChunkedBackendAndHttp10Client) {
  ASSERT_TRUE(start());
  const std::string target = cacheTarget("chunks", {{"size", "100000"}, {"chunked", "1"}});
  EXPECT_TRUE(isGzipOf(get(target, kGzip), pattern(100000)));
  // HTTP/1.0 has no chunked coding: the compressed body ends when the connection closes.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", target, kGzip, {}, "HTTP/1.0")));
  HttpResponse old = conn.readResponse();
  EXPECT_EQ(old.framing, Framing::CloseDelimited);
  EXPECT_TRUE(isGzipOf(old, pattern(100000)));
}

TEST_F(CompressionTest, TenMegabytesStreamInBoundedMemory) {
  ASSERT_TRUE(start());
  const size_t size = 10 * 1024 * 1024;
  // Warm up the code paths (and the zlib state's allocation) first.
  ASSERT_TRUE(isGzipOf(get(cacheTarget("warm", {{"size", "100000"}, {"chunked", "1"}}), kGzip), pattern(100000)));
  long before = procStatusKb(gateway_->pid(), "VmHWM");
  ASSERT_GT(before, 0);
  for (const char* chunked : {"1", "0"}) {  // chunked from the backend, then with a Content-Length
    HttpResponse resp = get(cacheTarget(std::string("big") + chunked, {{"size", std::to_string(size)},
                                                                        {"chunked", chunked}, {"cc", "no-store"}}),
                            kGzip);
    EXPECT_TRUE(isGzipOf(resp, pattern(size))) << chunked;
    if (chunked[0] == '1') {
      EXPECT_GT(resp.chunk_sizes.size(), 10u) << "sent on as each piece arrived";
    }
  }
  long after = procStatusKb(gateway_->pid(), "VmHWM");
  if (!kUnderAddressSanitizer) {  // its quarantine keeps freed memory resident on purpose
    EXPECT_LT(after - before, 10 * 1024) << "peak RSS grew from " << before << " kB to " << after << " kB";
  }
  EXPECT_EQ(compressionStats()["bytes_in"], 100000 + 2 * size);
}

TEST_F(CompressionTest, CompressedOnceThenServedFromCacheToEveryClient) {
  ASSERT_TRUE(start("cache = true"));
  const std::string target =
      cacheTarget("once", {{"size", "20000"}, {"header", "Content-Type:" + kHtml}, {"cc", "public, max-age=60"}});
  HttpResponse fill = get(target, kGzip);
  ASSERT_TRUE(isGzipOf(fill, pattern(20000)));
  EXPECT_EQ(fill.header("X-Cache"), "MISS");
  EXPECT_EQ(compressionStats()["compressed"], 1);

  // Other ways of saying "gzip" share the stored gzip variant.
  for (const char* accept : {"gzip", "gzip, deflate", "deflate;q=1, gzip;q=0.5, *;q=0"}) {
    HttpResponse hit = get(target, {{"Accept-Encoding", accept}});
    EXPECT_EQ(hit.header("X-Cache"), "HIT") << accept;
    EXPECT_TRUE(isGzipOf(hit, pattern(20000))) << accept;
    EXPECT_EQ(hit.body, fill.body) << accept;
    EXPECT_EQ(hit.header("Content-Length"), std::to_string(fill.body.size())) << accept;
  }
  // A client without gzip gets identity bytes: the gzip variant decoded once, then stored.
  for (int i = 0; i < 2; ++i) {
    HttpResponse identity = get(target);
    EXPECT_EQ(identity.header("X-Cache"), "HIT");
    EXPECT_TRUE(isIdentity(identity, pattern(20000)));
    EXPECT_EQ(identity.header("Content-Length"), "20000");
    EXPECT_EQ(identity.header("Vary"), "Accept-Encoding");
  }
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("HEAD", target, kGzip)));
  HttpResponse head = conn.readResponse(kDefaultTimeout, /*head=*/true);
  EXPECT_EQ(head.header("Content-Encoding"), "gzip");
  EXPECT_EQ(head.header("Content-Length"), std::to_string(fill.body.size()));

  EXPECT_EQ(backend_.requestsFor(target), 1u);
  nlohmann::json stats = compressionStats();
  EXPECT_EQ(stats["compressed"], 1) << stats;
  EXPECT_EQ(stats["recoded"], 1) << stats;
}

TEST_F(CompressionTest, IdentityFirstThenGzipIsMadeFromItOnce) {
  ASSERT_TRUE(start("cache = true"));
  const std::string target = cacheTarget("idfirst", {{"size", "20000"}, {"cc", "public, max-age=60"}});
  EXPECT_TRUE(isIdentity(get(target), pattern(20000)));
  EXPECT_EQ(get(target).header("X-Cache"), "HIT");
  HttpResponse made = get(target, kGzip);
  EXPECT_EQ(made.header("X-Cache"), "HIT");
  EXPECT_TRUE(isGzipOf(made, pattern(20000)));
  HttpResponse hit = get(target, kGzip);
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_EQ(hit.body, made.body);
  EXPECT_EQ(backend_.requestsFor(target), 1u);
  EXPECT_EQ(compressionStats()["compressed"], 1);
  EXPECT_EQ(compressionStats()["recoded"], 1);
}

// What curl (built with brotli and zstd) makes of a response for `accept`: the Content-Encoding
// it was sent and the body it decoded. A real client, with decoders of its own.
struct CurlResult {
  std::string encoding;
  std::string body;
  int exit_code = -1;
};

CurlResult curlGet(int port, const std::string& target, const std::string& accept) {
  TempDir dir;
  std::string headers = dir.path() + "/headers";
  std::string command = "curl -s --max-time 10 --compressed -H 'Accept-Encoding: " + accept + "' -D " + headers +
                        " 'http://127.0.0.1:" + std::to_string(port) + target + "'";
  CurlResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char chunk[16384];
  while (size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) result.body.append(chunk, n);
  result.exit_code = ::pclose(pipe);
  std::ifstream in(headers);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > 17 && strncasecmp(line.c_str(), "content-encoding:", 17) == 0) {
      result.encoding = line.substr(17);
      result.encoding.erase(0, result.encoding.find_first_not_of(' '));
      result.encoding.erase(result.encoding.find_last_not_of("\r ") + 1);
    }
  }
  return result;
}

TEST_F(CompressionTest, CurlDecodesEveryCodingStoredOnce) {
  if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl not installed (scripts/deps.sh test)";
  ASSERT_TRUE(start("cache = true"));
  const std::string target =
      cacheTarget("codings", {{"size", "60000"}, {"header", "Content-Type:" + kHtml}, {"cc", "public, max-age=60"}});
  // Chrome's list: zstd 19 is made in the background; gzip is sent until it is.
  CurlResult first = curlGet(port(), target, "gzip, deflate, br, zstd");
  EXPECT_EQ(first.exit_code, 0);
  EXPECT_EQ(first.encoding, "gzip");
  EXPECT_TRUE(first.body == pattern(60000));
  // Poll (bounded) until the background encoder has stored zstd, then brotli.
  for (const auto& [accept, coding] : {std::pair{"gzip, deflate, br, zstd", "zstd"}, std::pair{"gzip, deflate, br", "br"}}) {
    CurlResult got;
    for (int i = 0; i < 200 && got.encoding != coding; ++i) {
      got = curlGet(port(), target, accept);
      ASSERT_EQ(got.exit_code, 0);
      ASSERT_TRUE(got.body == pattern(60000)) << accept << ": curl decoded " << got.body.size() << " bytes of " << got.encoding;
      if (got.encoding != coding) ::usleep(50 * 1000);
    }
    EXPECT_EQ(got.encoding, coding) << accept;
  }
  EXPECT_EQ(backend_.requestsFor(target), 1u) << "every coding made from the one stored object";
  nlohmann::json stats = compressionStats();
  EXPECT_EQ(stats["background"]["stored"], 2) << stats;
  EXPECT_EQ(stats["codings"]["zstd"]["compressed"], 1) << stats;
  EXPECT_EQ(stats["codings"]["br"]["compressed"], 1) << stats;
  // /metrics has them per coding.
  std::string metrics = request(gateway_->adminPort(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("perfgate_compression_responses_total{coding=\"zstd\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("perfgate_compression_background_total{result=\"stored\"} 2"), std::string::npos);
}

TEST_F(CompressionTest, CurlDecodesStreamedBrotliAndZstd) {
  if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl not installed (scripts/deps.sh test)";
  ASSERT_TRUE(start());
  const std::string target = cacheTarget("streamed", {{"size", "300000"}, {"chunked", "1"}, {"header", "Content-Type:" + kHtml}});
  for (const char* coding : {"zstd", "br", "gzip"}) {
    CurlResult got = curlGet(port(), target, coding);
    EXPECT_EQ(got.exit_code, 0) << coding;
    EXPECT_EQ(got.encoding, coding);
    EXPECT_TRUE(got.body == pattern(300000)) << coding << ": " << got.body.size() << " bytes";
  }
}

TEST_F(CompressionTest, LevelsAndTypesComeFromTheConfig) {
  ASSERT_TRUE(start("cache = false", "[compression]\nstream_level = 9\nmin_bytes = 10\ntypes = [\"application/octet-stream\"]\n"));
  EXPECT_TRUE(isGzipOf(get(cacheTarget("bin", {{"size", "20"}, {"header", "Content-Type:application/octet-stream"}}), kGzip),
                       pattern(20)));
  EXPECT_TRUE(isIdentity(get(cacheTarget("txt", {{"size", "5000"}}), kGzip), pattern(5000)));
}

TEST_F(CompressionTest, DisabledGlobally) {
  ASSERT_TRUE(start("cache = false", "[compression]\nenabled = false\n"));
  HttpResponse resp = get(cacheTarget("page", {{"size", "20000"}}), kGzip);
  EXPECT_TRUE(isIdentity(resp, pattern(20000)));
  EXPECT_FALSE(resp.hasHeader("Vary"));
  EXPECT_EQ(backend_.lastRequest().header("Accept-Encoding"), "gzip");  // passed through untouched
}

}  // namespace
}  // namespace perfgate::test
