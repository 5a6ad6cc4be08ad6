// Checks the test tooling itself (TestBackend and HttpConnection) without a gateway, so that a
// failure in the end-to-end tests points at perfgate, not at the harness.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/http_client.h"
#include "support/test_backend.h"

namespace perfgate::test {
namespace {

TEST(TestBackendTest, EchoRecordsTheRequestAndAnswersJson) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  HttpResponse resp = request(backend.port(), "POST", "/echo?x=1", {{"X-A", "1"}, {"X-B", "two"}}, "hello");
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.framing, Framing::ContentLength);
  auto j = nlohmann::json::parse(resp.body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["target"], "/echo?x=1");
  EXPECT_EQ(j["body_length"], 5);
  EXPECT_EQ(resp.header("X-Body-Fnv1a"), fnv1a64Hex("hello"));

  ReceivedRequest r = backend.lastRequest();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/echo");
  EXPECT_EQ(r.body, "hello");
  ASSERT_GE(r.headers.size(), 3u);
  EXPECT_EQ(r.headers[0].first, "Host");
  EXPECT_EQ(r.headers[1], (std::pair<std::string, std::string>{"X-A", "1"}));
  EXPECT_EQ(r.headers[2], (std::pair<std::string, std::string>{"X-B", "two"}));
  EXPECT_TRUE(backend.protocolErrors().empty());
}

TEST(TestBackendTest, ChunkedRequestBodyIsDecodedAndKeepAliveCounted) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  HttpConnection conn(backend.port());
  ASSERT_TRUE(conn.connected()) << conn.connectError();
  std::string body = pattern(100'000);
  ASSERT_TRUE(conn.send(buildRequest("PUT", "/mirror", {{"Transfer-Encoding", "chunked"}}) + chunkedBody(body, 7777)));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.body, body);
  EXPECT_TRUE(backend.lastRequest().chunked);
  EXPECT_EQ(backend.lastRequest().body, body);

  ASSERT_TRUE(conn.send(buildRequest("GET", "/chunked/5/1000")));
  resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.framing, Framing::Chunked);
  EXPECT_TRUE(resp.terminator_seen);
  EXPECT_EQ(resp.body, pattern(5000));
  EXPECT_EQ(resp.chunk_sizes, (std::vector<size_t>{1000, 1000, 1000, 1000, 1000}));

  ASSERT_TRUE(conn.send(buildRequest("HEAD", "/bytes/300")));
  resp = conn.readResponse(kDefaultTimeout, /*head=*/true);
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.header("Content-Length"), "300");
  EXPECT_TRUE(resp.body.empty());

  EXPECT_EQ(backend.connectionsAccepted(), 1u);
  EXPECT_EQ(backend.requestCount(), 3u);
  conn.close();
  EXPECT_TRUE(backend.waitForNoOpenConnections(kDefaultTimeout));
  EXPECT_EQ(backend.maxConnectionsOpen(), 1);
}

TEST(TestBackendTest, PipelinedRequestsAndPrefixedPaths) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  HttpConnection conn(backend.port());
  ASSERT_TRUE(conn.connected());
  std::string all;
  for (int i = 0; i < 5; ++i) all += buildRequest("GET", "/api/v2/echo?n=" + std::to_string(i));
  all += buildRequest("GET", "/api/status/418");
  ASSERT_TRUE(conn.send(all));
  for (int i = 0; i < 5; ++i) {
    HttpResponse resp = conn.readResponse();
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.header("X-Echo-Target"), "/api/v2/echo?n=" + std::to_string(i));
  }
  HttpResponse resp = conn.readResponse();
  EXPECT_EQ(resp.status, 418);
}

TEST(TestBackendTest, ExpectContinueAndInterimResponses) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  HttpConnection conn(backend.port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(
      "POST /mirror HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  HttpResponse interim = conn.readResponse(ReadOptions{kDefaultTimeout, false, true});
  ASSERT_TRUE(interim.ok()) << interim.summary();
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(conn.send("abc"));
  HttpResponse resp = conn.readResponse();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "abc");
}

TEST(TestBackendTest, FailureEndpointsAreSeenByTheClient) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  HttpResponse resp = request(backend.port(), "GET", "/close-mid-body");
  EXPECT_EQ(resp.status, 200);
  EXPECT_FALSE(resp.complete);
  EXPECT_EQ(resp.body.size(), 100u);
  EXPECT_TRUE(resp.peer_closed);

  resp = request(backend.port(), "GET", "/close-mid-chunked");
  EXPECT_EQ(resp.status, 200);
  EXPECT_FALSE(resp.complete);
  EXPECT_FALSE(resp.terminator_seen);
  EXPECT_EQ(resp.body.size(), 200u);

  resp = request(backend.port(), "GET", "/no-response");
  EXPECT_EQ(resp.status, 0);
  EXPECT_TRUE(resp.peer_closed);

  resp = request(backend.port(), "GET", "/headers");
  EXPECT_EQ(resp.headerCount("Set-Cookie"), 3u);

  resp = request(backend.port(), "GET", "/drip/3/10");
  EXPECT_EQ(resp.body, "drip 0\ndrip 1\ndrip 2\n");

  resp = request(backend.port(), "GET", "/slow-body/10");
  EXPECT_EQ(resp.body, "0123456789");

  resp = request(backend.port(), "GET", "/status/204");
  EXPECT_EQ(resp.status, 204);
  EXPECT_TRUE(resp.complete);
}

TEST(TestBackendTest, Http10GetsCloseDelimitedInsteadOfChunked) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  HttpConnection conn(backend.port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send("GET /chunked/2/10 HTTP/1.0\r\n\r\n"));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.framing, Framing::CloseDelimited);
  EXPECT_EQ(resp.body, pattern(20));
}

TEST(TestBackendTest, ShutsDownWithConnectionsOpenAndRequestsSleeping) {
  auto backend = std::make_unique<TestBackend>();
  ASSERT_TRUE(backend->ok());
  HttpConnection idle(backend->port());
  HttpConnection sleeping(backend->port());
  ASSERT_TRUE(sleeping.send(buildRequest("GET", "/delay/60000")));
  ASSERT_TRUE(backend->waitForRequests(1, kDefaultTimeout));
  backend.reset();  // must not wait for the delay
  EXPECT_TRUE(sleeping.closedByPeer(kDefaultTimeout));
  EXPECT_TRUE(idle.closedByPeer(kDefaultTimeout));
}

TEST(HttpClientTest, ClosedPortRefusesConnections) {
  HttpConnection conn(closedPort());
  EXPECT_FALSE(conn.connected());
}

}  // namespace
}  // namespace perfgate::test
