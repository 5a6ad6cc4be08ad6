// Behaviour under pressure: backpressure both ways (no whole-body buffering), stuck and aborting
// clients, upstream pool limits, unusual but valid backend framings, and deep pipelines.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t k256MiB = 256ull * 1024 * 1024;
constexpr long kMaxGrowthKiB = 64 * 1024;  // what a gateway may add while holding a 256 MiB body

std::string patternFnv(uint64_t n) {
  const std::string piece = pattern(65 * 4096);  // a multiple of the pattern's period
  Fnv1a f;
  for (uint64_t off = 0; off < n; off += piece.size()) {
    f.update(std::string_view(piece).substr(0, static_cast<size_t>(std::min<uint64_t>(piece.size(), n - off))));
  }
  return f.hex();
}

TEST_F(GatewayTest, SlowReaderDoesNotMakeTheGatewayBufferTheResponse) {
  ASSERT_TRUE(startGateway(baseConfig()));
  ASSERT_EQ(get("/bytes/1000").status, 200);
  long base = gateway_->rssKiB();
  ASSERT_GT(base, 0);

  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/bytes/" + std::to_string(k256MiB))));
  std::this_thread::sleep_for(milliseconds(1500));  // the client reads nothing meanwhile
  long during = gateway_->rssKiB();
  uint64_t sent = backend_.bytesBodySent();
  EXPECT_LT(during - base, kMaxGrowthKiB) << "gateway RSS grew from " << base << " KiB to " << during
                                          << " KiB while the client was not reading";
  EXPECT_LT(sent, k256MiB / 2) << "the backend pushed " << sent << " bytes to a client that read nothing";

  ReadOptions read;
  read.keep_body = false;
  read.timeout = seconds(30);
  HttpResponse resp = conn.readResponse(read);
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.body_bytes, k256MiB);
  EXPECT_EQ(resp.body_fnv1a, patternFnv(k256MiB));
}

TEST_F(GatewayTest, LargeUploadIsStreamedNotBuffered) {
  GatewayConfig config = baseConfig();
  config.server["max_body_bytes"] = "\"1GiB\"";
  ASSERT_TRUE(startGateway(config));
  ASSERT_EQ(get("/echo").status, 200);
  long base = gateway_->rssKiB();
  ASSERT_GT(base, 0);

  // The backend reads nothing for 2.5 s; the gateway must stop reading from the client meanwhile.
  HttpConnection conn(port());
  std::string head = buildRequest("POST", "/read-late/2500", {{"Content-Length", std::to_string(k256MiB)}});
  ASSERT_TRUE(conn.send(head));
  std::atomic<bool> sent_all{false};
  std::thread sender([&] {
    const std::string piece = pattern(65 * 4096);
    bool ok = true;
    for (uint64_t off = 0; ok && off < k256MiB; off += piece.size()) {
      ok = conn.send(std::string_view(piece).substr(0, static_cast<size_t>(std::min<uint64_t>(piece.size(), k256MiB - off))),
                     seconds(30));
    }
    sent_all = ok;
  });
  std::this_thread::sleep_for(milliseconds(1800));
  long during = gateway_->rssKiB();
  bool done_early = sent_all.load();
  sender.join();
  EXPECT_LT(during - base, kMaxGrowthKiB) << "gateway RSS grew from " << base << " KiB to " << during
                                          << " KiB while the backend was not reading";
  EXPECT_FALSE(done_early) << "the whole 256 MiB upload was accepted while the backend read nothing";
  EXPECT_TRUE(sent_all.load()) << "the upload stalled";
  HttpResponse resp = conn.readResponse(seconds(30));
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("X-Body-Length"), std::to_string(k256MiB));
  EXPECT_EQ(resp.header("X-Body-Fnv1a"), patternFnv(k256MiB));
}

TEST_F(GatewayTest, SendTimeoutClosesAClientThatStopsReading) {
  GatewayConfig config = baseConfig();
  config.server["send_timeout"] = "\"500ms\"";
  ASSERT_TRUE(startGateway(config));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/bytes/" + std::to_string(k256MiB))));
  std::this_thread::sleep_for(seconds(3));  // no reading at all: six send timeouts long
  ReadOptions read;
  read.keep_body = false;
  read.timeout = seconds(20);
  HttpResponse resp = conn.readResponse(read);
  EXPECT_FALSE(resp.complete) << "a client that read nothing for 3 s (send_timeout 500ms) got the whole body: "
                              << resp.summary();
  EXPECT_TRUE(resp.peer_closed) << resp.summary();
  EXPECT_TRUE(gateway_->running());
  EXPECT_EQ(get("/echo").status, 200);
}

TEST_F(GatewayTest, ClientAbortsDoNotHurtTheGateway) {
  ASSERT_TRUE(startGateway(baseConfig()));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(get("/echo").status, 200);
  int base_fds = gateway_->openFds();

  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    {  // gone while the backend is still working
      HttpConnection c(port());
      ASSERT_TRUE(c.send(buildRequest("GET", "/delay/300")));
    }
    {  // reset in the middle of a large download
      HttpConnection c(port());
      ASSERT_TRUE(c.send(buildRequest("GET", "/bytes/50000000")));
      c.readAvailable(milliseconds(50));
      c.abortWithReset();
    }
    {  // gone half-way through a request body
      HttpConnection c(port());
      ASSERT_TRUE(c.send(buildRequest("POST", "/mirror", {{"Content-Length", "1000000"}}) + std::string(300000, 'x')));
    }
    {  // gone half-way through a chunked request body
      HttpConnection c(port());
      ASSERT_TRUE(c.send(buildRequest("POST", "/mirror", {{"Transfer-Encoding", "chunked"}}) + "1000\r\nabc"));
    }
    {  // gone with a pipeline of requests queued
      HttpConnection c(port());
      std::string all;
      for (int i = 0; i < 20; ++i) all += buildRequest("GET", "/delay/20?i=" + std::to_string(i));
      ASSERT_TRUE(c.send(all));
      c.abortWithReset();
    }
    {  // gone in the middle of a request head
      HttpConnection c(port());
      ASSERT_TRUE(c.send("GET /echo HTTP/1.1\r\nHost: x"));
    }
    {  // half-closed after sending a request
      HttpConnection c(port());
      ASSERT_TRUE(c.send(buildRequest("GET", "/echo?half")));
      c.shutdownWrite();
      c.readResponse();
    }
  }
  ASSERT_TRUE(gateway_->running()) << gateway_->stderrText();
  for (int i = 0; i < 20; ++i) {
    HttpResponse resp = get("/echo?after=" + std::to_string(i));
    ASSERT_EQ(resp.status, 200) << resp.summary();
  }
  // Nothing leaks: descriptors come back to where they were (give or take pooled backend sockets).
  int fds = gateway_->openFds();
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (fds > base_fds + 8 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
    fds = gateway_->openFds();
  }
  EXPECT_LE(fds, base_fds + 8) << "open descriptors grew from " << base_fds << " to " << fds;
}

TEST_F(GatewayTest, HalfClosedClientStillGetsItsAnswer) {
  // `printf 'GET / HTTP/1.1...' | nc -N host port`: the client shuts down its sending side after
  // the request (RFC 9112 9.6 calls this a half-close) and waits for the answer.
  ASSERT_TRUE(startGateway(baseConfig()));
  for (const char* target : {"/echo?half", "/delay/300?half"}) {
    SCOPED_TRACE(target);
    HttpConnection c(port());
    ASSERT_TRUE(c.send(buildRequest("GET", target)));
    c.shutdownWrite();
    HttpResponse resp = c.readResponse();
    EXPECT_EQ(resp.status, 200) << "the request arrived whole before the half-close: " << resp.summary();
  }
}

TEST_F(GatewayTest, RequestsQueueForALimitedUpstreamPool) {
  GatewayConfig config = baseConfig();
  config.workers = 1;
  config.upstream["max_connections"] = "1";
  ASSERT_TRUE(startGateway(config));
  constexpr int kClients = 10;
  std::vector<HttpConnection> conns;
  for (int i = 0; i < kClients; ++i) {
    conns.emplace_back(port());
    ASSERT_TRUE(conns.back().send(buildRequest("GET", "/delay/100?c=" + std::to_string(i))));
  }
  for (int i = 0; i < kClients; ++i) {
    HttpResponse resp = conns[i].readResponse(seconds(20));
    EXPECT_EQ(resp.status, 200) << "client " << i << ": " << resp.summary();
  }
  EXPECT_EQ(backend_.maxConnectionsOpen(), 1);
}

TEST_F(GatewayTest, CloseDelimitedBackendResponseArrivesWhole) {
  ASSERT_TRUE(startGateway(baseConfig()));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/close-delimited/100000")));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(resp.complete);
  EXPECT_TRUE(resp.body == pattern(100000)) << resp.summary();
  if (resp.framing != Framing::CloseDelimited) {
    // Re-framed (chunked): the client connection can carry on.
    ASSERT_TRUE(conn.send(buildRequest("GET", "/bytes/3")));
    EXPECT_EQ(conn.readResponse().body, pattern(3));
  }
}

TEST_F(GatewayTest, DeepPipelineIsAnsweredInOrder) {
  ASSERT_TRUE(startGateway(baseConfig()));
  constexpr int kDepth = 300;
  std::string all;
  for (int i = 0; i < kDepth; ++i) all += buildRequest("GET", "/echo?i=" + std::to_string(i));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(all));
  for (int i = 0; i < kDepth; ++i) {
    HttpResponse resp = conn.readResponse();
    ASSERT_TRUE(resp.ok()) << "#" << i << ": " << resp.summary();
    ASSERT_EQ(resp.header("X-Echo-Target"), "/echo?i=" + std::to_string(i));
  }
}

TEST_F(GatewayTest, PipelinedRequestAfterConnectionCloseIsNotServed) {
  ASSERT_TRUE(startGateway(baseConfig()));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/echo?first", {{"Connection", "close"}}) +
                        buildRequest("GET", "/echo?second")));
  HttpResponse resp = conn.readResponse();
  EXPECT_EQ(resp.header("X-Echo-Target"), "/echo?first") << resp.summary();
  EXPECT_TRUE(saysClose(resp));
  std::string extra;
  EXPECT_TRUE(conn.closedByPeer(kDefaultTimeout, &extra));
  EXPECT_EQ(extra, "");
  for (const ReceivedRequest& r : backend_.requests()) EXPECT_NE(r.target, "/echo?second");
}

TEST_F(GatewayTest, AbsoluteFormTargetIsRejectedOrForwardedConsistently) {
  // RFC 9112 3.2.2: with an absolute-form target the Host header is ignored in favour of the
  // target's authority. Either refuse it, or forward origin-form with that authority as Host.
  ASSERT_TRUE(startGateway(baseConfig()));
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send("GET http://other.example/echo?q=1 HTTP/1.1\r\nHost: test.local\r\n\r\n"));
  HttpResponse resp = conn.readResponse();
  if (resp.status == 400) {
    EXPECT_TRUE(isGatewayError(resp, 400));
    return;
  }
  ASSERT_EQ(resp.status, 200) << resp.summary();
  ReceivedRequest r = backend_.lastRequest();
  EXPECT_EQ(r.target, "/echo?q=1") << "the backend must get origin-form";
  EXPECT_EQ(r.header("Host"), "other.example");
}

TEST_F(GatewayTest, AdminListenerDoesNotProxy) {
  ASSERT_TRUE(startGateway(baseConfig()));
  HttpResponse resp = request(gateway_->adminPort(), "GET", "/echo");
  EXPECT_NE(resp.status, 0) << "the admin listener should answer: " << resp.summary();
  EXPECT_EQ(backend_.requestCount(), 0u) << "a request to the admin listener reached the backend";
}

TEST_F(GatewayTest, UpstreamBasePathIsPrepended) {
  GatewayConfig config = baseConfig();
  config.upstream["url"] = "\"http://127.0.0.1:" + std::to_string(backend_.port()) + "/base\"";
  ASSERT_TRUE(startGateway(config));
  HttpResponse resp = get("/echo?x=1");
  ASSERT_EQ(resp.status, 200) << resp.summary();
  EXPECT_EQ(backend_.lastRequest().target, "/base/echo?x=1");
}

TEST_F(GatewayTest, ForwardedProtoIsSetNotTrusted) {
  ASSERT_TRUE(startGateway(baseConfig()));
  HttpResponse resp = get("/echo", {{"X-Forwarded-Proto", "https"}, {"Via", "1.0 upstream-proxy"}});
  ASSERT_EQ(resp.status, 200) << resp.summary();
  ReceivedRequest r = backend_.lastRequest();
  EXPECT_EQ(r.headerValues("X-Forwarded-Proto"), (std::vector<std::string>{"http"}))
      << "the client connection is plain HTTP whatever the client claims";
  std::string via;
  for (const std::string& v : r.headerValues("Via")) via += v + ";";
  EXPECT_NE(via.find("1.0 upstream-proxy"), std::string::npos) << via;
  EXPECT_NE(via.find("1.1 perfgate"), std::string::npos) << via;
}

TEST_F(GatewayTest, SighupCanMoveARouteToAnotherBackend) {
  TestBackend second;
  ASSERT_TRUE(second.ok());
  GatewayConfig config = baseConfig();
  ASSERT_TRUE(startGateway(config));
  ASSERT_EQ(get("/echo").status, 200);
  ASSERT_EQ(backend_.requestCount(), 1u);
  config.backend_port = second.port();
  gateway_->rewriteConfig(config.toToml());
  ASSERT_TRUE(gateway_->signal(SIGHUP));
  bool moved = false;
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (!moved && std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(get("/echo").status, 200);
    moved = second.requestCount() > 0;
    if (!moved) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(moved) << "requests never went to the new upstream url";
}

}  // namespace
}  // namespace perfgate::test
