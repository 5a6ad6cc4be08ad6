// Every request the gateway must refuse: the right status as a JSON error, Connection: close, the
// connection closed, and nothing forwarded to the backend.
#include <gtest/gtest.h>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

struct Rejection {
  std::string name;
  std::string raw;
  int status;
};
void PrintTo(const Rejection& r, std::ostream* os) { *os << r.name << " -> " << r.status; }

std::string head(const std::string& request_line, const std::string& headers) {
  return request_line + "\r\n" + headers + "\r\n";
}

std::string manyHeaders(int count, size_t value_size) {
  std::string out;
  for (int i = 0; i < count; ++i) out += "X-Filler-" + std::to_string(i) + ": " + std::string(value_size, 'v') + "\r\n";
  return out;
}

std::vector<Rejection> rejections() {
  const std::string host = "Host: test.local\r\n";
  std::string nul_value = "X-A: a";
  nul_value.push_back('\0');
  nul_value += "b\r\n";
  return {
      // Message framing (RFC 9112 6.1, 6.3): ambiguity is a smuggling vector.
      {"ContentLengthAndTransferEncoding",
       head("POST /echo HTTP/1.1", host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n", 400},
      {"TransferEncodingAndContentLength",
       head("POST /echo HTTP/1.1", host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") + "0\r\n\r\n", 400},
      {"DuplicateContentLengthDifferent",
       head("POST /echo HTTP/1.1", host + "Content-Length: 5\r\nContent-Length: 6\r\n") + "hello!", 400},
      {"DuplicateContentLengthSame",
       head("POST /echo HTTP/1.1", host + "Content-Length: 5\r\nContent-Length: 5\r\n") + "hello", 400},
      {"ContentLengthList", head("POST /echo HTTP/1.1", host + "Content-Length: 5, 5\r\n") + "hello", 400},
      {"ContentLengthNotANumber", head("POST /echo HTTP/1.1", host + "Content-Length: abc\r\n"), 400},
      {"ContentLengthNegative", head("POST /echo HTTP/1.1", host + "Content-Length: -1\r\n"), 400},
      {"ContentLengthPlusSign", head("POST /echo HTTP/1.1", host + "Content-Length: +5\r\n") + "hello", 400},
      {"ContentLengthHex", head("POST /echo HTTP/1.1", host + "Content-Length: 0x5\r\n") + "hello", 400},
      {"ContentLengthInnerSpace", head("POST /echo HTTP/1.1", host + "Content-Length: 1 2\r\n"), 400},
      {"ContentLengthEmpty", head("POST /echo HTTP/1.1", host + "Content-Length: \r\n"), 400},
      {"ContentLengthOverflow", head("POST /echo HTTP/1.1", host + "Content-Length: 99999999999999999999999\r\n"), 400},
      // Chunked coding (RFC 9112 7.1).
      {"ChunkSizeNotHex",
       head("POST /echo HTTP/1.1", host + "Transfer-Encoding: chunked\r\n") + "zz\r\nhello\r\n0\r\n\r\n", 400},
      {"ChunkSizeNegative",
       head("POST /echo HTTP/1.1", host + "Transfer-Encoding: chunked\r\n") + "-5\r\nhello\r\n0\r\n\r\n", 400},
      {"ChunkSizeEmpty", head("POST /echo HTTP/1.1", host + "Transfer-Encoding: chunked\r\n") + "\r\nhello\r\n0\r\n\r\n",
       400},
      {"ChunkSizeOverflow",
       head("POST /echo HTTP/1.1", host + "Transfer-Encoding: chunked\r\n") + "fffffffffffffffffff\r\nhello\r\n", 400},
      {"ChunkSizeWithPrefix",
       head("POST /echo HTTP/1.1", host + "Transfer-Encoding: chunked\r\n") + "0x5\r\nhello\r\n0\r\n\r\n", 400},
      {"ChunkDataWithoutCrlf",
       head("POST /echo HTTP/1.1", host + "Transfer-Encoding: chunked\r\n") + "5\r\nhelloXX0\r\n\r\n", 400},
      // Header syntax (RFC 9112 5, RFC 9110 5.5).
      {"ObsFold", head("GET /echo HTTP/1.1", host + "X-A: 1\r\n  continued\r\n"), 400},
      {"ObsFoldTab", head("GET /echo HTTP/1.1", host + "X-A: 1\r\n\tcontinued\r\n"), 400},
      {"SpaceInHeaderName", head("GET /echo HTTP/1.1", host + "Bad Header: x\r\n"), 400},
      {"SpaceBeforeColon", head("GET /echo HTTP/1.1", host + "X-A : 1\r\n"), 400},
      {"InvalidCharInHeaderName", head("GET /echo HTTP/1.1", host + "X(A): 1\r\n"), 400},
      {"EmptyHeaderName", head("GET /echo HTTP/1.1", host + ": value\r\n"), 400},
      {"HeaderWithoutColon", head("GET /echo HTTP/1.1", host + "NoColonHere\r\n"), 400},
      {"CarriageReturnInValue", head("GET /echo HTTP/1.1", host + "X-A: a\rb\r\n"), 400},
      {"NulInValue", head("GET /echo HTTP/1.1", host + nul_value), 400},
      {"SpaceBeforeColonInContentLength", head("POST /echo HTTP/1.1", host + "Content-Length : 5\r\n") + "hello", 400},
      // Host (RFC 9112 3.2).
      {"MissingHost", head("GET /echo HTTP/1.1", "X-A: 1\r\n"), 400},
      {"DuplicateHost", head("GET /echo HTTP/1.1", host + "Host: other.local\r\n"), 400},
      // Request line (RFC 9112 3).
      {"MissingVersion", "GET /echo\r\n\r\n", 400},
      {"DoubleSpaceInRequestLine", head("GET  /echo HTTP/1.1", host), 400},
      {"SpaceInTarget", head("GET /a b HTTP/1.1", host), 400},
      {"ControlCharInTarget", head("GET /a\x01" "b HTTP/1.1", host), 400},
      {"TargetNotOriginForm", head("GET echo HTTP/1.1", host), 400},
      {"InvalidMethodToken", head("GE(T /echo HTTP/1.1", host), 400},
      {"BadVersionSyntax", head("GET /echo HTTP/1.x", host), 400},
      {"LowercaseVersion", head("GET /echo http/1.1", host), 400},
      {"GarbageRequestLine", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15), 400},
      {"Http2Version", head("GET /echo HTTP/2.0", host), 505},
      {"Http3Version", head("GET /echo HTTP/3.0", host), 505},
      // Limits (set small in this suite's config).
      {"RequestLineOverLimit", head("GET /echo?" + std::string(2000, 'x') + " HTTP/1.1", host), 414},
      {"HeaderBlockOverLimit", head("GET /echo HTTP/1.1", host + manyHeaders(10, 500)), 431},
      {"SingleHugeHeader", head("GET /echo HTTP/1.1", host + "X-Big: " + std::string(5000, 'b') + "\r\n"), 431},
      {"TooManyHeaders", head("GET /echo HTTP/1.1", host + manyHeaders(25, 1)), 431},
      {"ContentLengthOverBodyLimit", head("POST /echo HTTP/1.1", host + "Content-Length: 2048\r\n"), 413},
      {"ChunkedBodyOverBodyLimit",
       head("POST /echo HTTP/1.1", host + "Transfer-Encoding: chunked\r\n") + "3e8\r\n" + std::string(1000, 'a') +
           "\r\n3e8\r\n" + std::string(1000, 'b') + "\r\n0\r\n\r\n",
       413},
      // Transfer codings we do not implement (RFC 9112 6.1).
      {"TransferEncodingGzip", head("POST /echo HTTP/1.1", host + "Transfer-Encoding: gzip\r\n") + "abc", 501},
      {"TransferEncodingGzipChunked",
       head("POST /echo HTTP/1.1", host + "Transfer-Encoding: gzip, chunked\r\n") + "0\r\n\r\n", 501},
      {"TransferEncodingUnknown", head("POST /echo HTTP/1.1", host + "Transfer-Encoding: foo\r\n") + "abc", 501},
  };
}

// Small limits so that the over-limit requests stay small.
class LimitsFixture : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayConfig config = baseConfig();
    config.server["max_request_line"] = "\"1KiB\"";
    config.server["max_header_bytes"] = "\"4KiB\"";
    config.server["max_headers"] = "20";
    config.server["max_body_bytes"] = "\"1KiB\"";
    ASSERT_TRUE(startGateway(config));
  }
  void TearDown() override {
    GatewayTest::TearDown();
    if (gateway_) {
      EXPECT_TRUE(gateway_->running()) << "perfgate died: " << gateway_->stderrText();
      // The gateway still serves well-formed requests afterwards.
      HttpResponse resp = get("/echo");
      EXPECT_EQ(resp.status, 200) << "after the rejection: " << resp.summary();
    }
  }
};

class RejectionTest : public LimitsFixture, public ::testing::WithParamInterface<Rejection> {};

TEST_P(RejectionTest, IsRefusedAndTheConnectionClosed) {
  const Rejection& r = GetParam();
  EXPECT_TRUE(rejects(r.raw, r.status)) << "request: " << r.name;
}

INSTANTIATE_TEST_SUITE_P(Requests, RejectionTest, ::testing::ValuesIn(rejections()),
                         [](const ::testing::TestParamInfo<Rejection>& p) { return p.param.name; });

class RejectionEdgeTest : public LimitsFixture {};

TEST_F(RejectionEdgeTest, RequestsJustUnderTheLimitsAreServed) {
  // A 1000-byte request line, 3.5 KiB of headers, 20 headers, a 1 KiB body: all accepted.
  std::string line_target = "/echo?" + std::string(1000 - std::string("GET /echo? HTTP/1.1").size(), 'x');
  HttpResponse resp = get(line_target);
  EXPECT_EQ(resp.status, 200) << "request line of 1000 bytes: " << resp.summary();

  resp = get("/echo", {{"X-Big", std::string(3500, 'b')}});
  EXPECT_EQ(resp.status, 200) << "3.5 KiB header block: " << resp.summary();

  Headers headers;
  for (int i = 0; i < 19; ++i) headers.emplace_back("X-H" + std::to_string(i), "v");  // + Host = 20
  resp = get("/echo", headers);
  EXPECT_EQ(resp.status, 200) << "20 headers: " << resp.summary();

  resp = request(port(), "POST", "/mirror", {}, std::string(1024, 'z'));
  EXPECT_EQ(resp.status, 200) << "1 KiB body: " << resp.summary();
  EXPECT_EQ(resp.body.size(), 1024u);

  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/mirror", {{"Transfer-Encoding", "chunked"}}) +
                        chunkedBody(std::string(1024, 'c'), 100)));
  resp = conn.readResponse();
  EXPECT_EQ(resp.status, 200) << "1 KiB chunked body: " << resp.summary();
}

TEST_F(RejectionEdgeTest, WhitespaceBeforeTheFirstHeaderIsRejectedOrIgnored) {
  // RFC 9112 2.2: reject, or consume each whitespace-preceded line without further processing.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send("GET /echo HTTP/1.1\r\n X-Injected: 1\r\nHost: test.local\r\n\r\n"));
  HttpResponse resp = conn.readResponse();
  if (resp.status == 200) {
    EXPECT_FALSE(backend_.lastRequest().hasHeader("X-Injected"));
  } else {
    EXPECT_TRUE(isGatewayError(resp, 400));
    EXPECT_TRUE(conn.closedByPeer());
  }
}

TEST_F(RejectionEdgeTest, Http10WithoutHostIsServed) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send("GET /echo HTTP/1.0\r\n\r\n"));
  HttpResponse resp = conn.readResponse();
  EXPECT_EQ(resp.status, 200) << resp.summary();
}

TEST_F(RejectionEdgeTest, ExpectContinueOverTheBodyLimitGets413WithoutContinue) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/mirror", {{"Expect", "100-continue"}, {"Content-Length", "4096"}})));
  HttpResponse resp = conn.readResponse();
  EXPECT_TRUE(isGatewayError(resp, 413));
  EXPECT_TRUE(resp.interim.empty()) << "sent 100 Continue for a body it then refused";
  EXPECT_TRUE(conn.closedByPeer());
  EXPECT_EQ(backend_.requestCount(), 0u);
}

TEST_F(RejectionEdgeTest, SmuggledRequestAfterAmbiguousFramingNeverReachesTheBackend) {
  // CL.TE: a front end trusting Content-Length would forward "GET /smuggled" as a second request.
  std::string smuggled = buildRequest("GET", "/smuggled");
  std::string raw = "POST /echo HTTP/1.1\r\nHost: test.local\r\nContent-Length: " +
                    std::to_string(5 + smuggled.size()) + "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled;
  EXPECT_TRUE(rejects(raw, 400));
  for (const ReceivedRequest& r : backend_.requests()) EXPECT_NE(r.path, "/smuggled");
}

TEST_F(RejectionEdgeTest, BadRequestAfterAGoodOneInAPipeline) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/echo?first") + "GET /echo HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n" +
                        buildRequest("GET", "/echo?never")));
  HttpResponse first = conn.readResponse();
  EXPECT_EQ(first.status, 200) << first.summary();
  EXPECT_EQ(first.header("X-Echo-Target"), "/echo?first");
  HttpResponse second = conn.readResponse();
  EXPECT_TRUE(isGatewayError(second, 400));
  EXPECT_TRUE(conn.closedByPeer());
  for (const ReceivedRequest& r : backend_.requests()) EXPECT_NE(r.target, "/echo?never");
}

}  // namespace
}  // namespace perfgate::test
