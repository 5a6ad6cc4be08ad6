// HTTP/1.0 clients: no chunked replies, keep-alive only when asked; and the 1.1 Connection rules.
#include <gtest/gtest.h>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

class Http10Test : public GatewayTest {
 protected:
  void SetUp() override { ASSERT_TRUE(startGateway(baseConfig())); }
};

TEST_F(Http10Test, ChunkedBackendResponseIsNotChunkedForHttp10) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send("GET /chunked/5/100 HTTP/1.0\r\n\r\n"));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_NE(resp.framing, Framing::Chunked) << "chunked reply to an HTTP/1.0 client";
  EXPECT_FALSE(resp.hasHeader("Transfer-Encoding"));
  EXPECT_TRUE(resp.complete);
  EXPECT_EQ(resp.body, pattern(500));
  EXPECT_TRUE(resp.peer_closed || conn.closedByPeer()) << "HTTP/1.0 without keep-alive: the connection must close";
}

TEST_F(Http10Test, WithoutKeepAliveTheConnectionClosesAfterTheResponse) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send("GET /bytes/100 HTTP/1.0\r\nHost: test.local\r\n\r\n"));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.body, pattern(100));
  for (const std::string& t : resp.headerTokens("Connection")) EXPECT_NE(t, "keep-alive");
  EXPECT_TRUE(resp.peer_closed || conn.closedByPeer());
  EXPECT_EQ(backend_.lastRequest().path, "/bytes/100");
}

TEST_F(Http10Test, KeepAliveWhenAsked) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_TRUE(conn.send("GET /bytes/100 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    HttpResponse resp = conn.readResponse();
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.framing, Framing::ContentLength);
    EXPECT_EQ(resp.body, pattern(100));
    bool keep = false;
    for (const std::string& t : resp.headerTokens("Connection")) keep |= t == "keep-alive";
    EXPECT_TRUE(keep) << "an HTTP/1.0 keep-alive reply must say Connection: keep-alive";
  }
}

TEST_F(Http10Test, KeepAliveAskedButTheBackendChunks) {
  // The gateway must either send a Content-Length (keep-alive) or close-delimit (and close).
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send("GET /chunked/4/250 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_NE(resp.framing, Framing::Chunked);
  EXPECT_EQ(resp.body, pattern(1000));
  if (resp.framing == Framing::ContentLength) {
    ASSERT_TRUE(conn.send("GET /bytes/5 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    HttpResponse next = conn.readResponse();
    EXPECT_EQ(next.body, pattern(5)) << next.summary();
  } else {
    EXPECT_TRUE(resp.peer_closed);
  }
}

TEST_F(Http10Test, PostWithBody) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send("POST /mirror HTTP/1.0\r\nContent-Length: 7\r\n\r\npayload"));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.body, "payload");
  EXPECT_EQ(backend_.lastRequest().body, "payload");
}

TEST_F(Http10Test, HeadForHttp10) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send("HEAD /chunked/2/10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  HttpResponse resp = conn.readResponse(kDefaultTimeout, /*head=*/true);
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_FALSE(resp.hasHeader("Transfer-Encoding"));
}

}  // namespace
}  // namespace perfgate::test
