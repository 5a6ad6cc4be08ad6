// Client-side timeouts (header, idle, request body) and backend failures (refused, connect and
// response timeouts, closes before or during the response). Timeouts are set short; the tests
// assert on outcomes only and wait generously.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;

class ClientTimeoutTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayConfig config = baseConfig();
    config.server["header_timeout"] = "\"300ms\"";
    config.server["idle_timeout"] = "\"400ms\"";
    config.server["request_timeout"] = "\"300ms\"";
    ASSERT_TRUE(startGateway(config));
  }
};

TEST_F(ClientTimeoutTest, IncompleteHeadGets408AndClose) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send("GET /echo HTTP/1.1\r\nHost: test.local\r\nX-Partial: "));
  HttpResponse resp = conn.readResponse();
  EXPECT_TRUE(isGatewayError(resp, 408));
  EXPECT_TRUE(saysClose(resp)) << resp.summary();
  EXPECT_TRUE(conn.closedByPeer());
  EXPECT_EQ(backend_.requestCount(), 0u);
}

TEST_F(ClientTimeoutTest, TricklingTheHeadDoesNotExtendTheHeaderTimeout) {
  // Slowloris: one byte every 50 ms keeps the connection busy but must not keep it alive past
  // header_timeout (300 ms from the first byte).
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  std::string head = "GET /echo HTTP/1.1\r\nHost: test.local\r\nX-Slow: " + std::string(200, 's');
  bool answered = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  for (size_t i = 0; i < head.size() && std::chrono::steady_clock::now() < deadline; ++i) {
    if (!conn.send(head.substr(i, 1), milliseconds(500)) || conn.waitReadable(milliseconds(50))) {
      answered = true;
      break;
    }
  }
  ASSERT_TRUE(answered) << "trickling one byte every 50 ms kept the head open for 6 s (header_timeout 300ms)";
  HttpResponse resp = conn.readResponse();
  EXPECT_TRUE(isGatewayError(resp, 408));
  EXPECT_TRUE(conn.closedByPeer());
}

TEST_F(ClientTimeoutTest, IdleKeepAliveConnectionIsClosedSilently) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/echo")));
  HttpResponse resp = conn.readResponse();
  ASSERT_EQ(resp.status, 200) << resp.summary();
  std::string extra;
  EXPECT_TRUE(conn.closedByPeer(kDefaultTimeout, &extra)) << "idle connection still open";
  EXPECT_EQ(extra, "") << "an idle close must be silent (no 408)";
}

TEST_F(ClientTimeoutTest, ConnectionThatNeverSendsAnythingIsClosed) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  EXPECT_TRUE(conn.closedByPeer()) << "a silent connection was kept open";
}

TEST_F(ClientTimeoutTest, KeepAliveTimerRestartsAfterEachRequest) {
  // Requests 200 ms apart (under idle_timeout 400 ms) keep one connection going for over a second.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(conn.send(buildRequest("GET", "/echo?i=" + std::to_string(i)))) << "request " << i;
    HttpResponse resp = conn.readResponse();
    ASSERT_EQ(resp.status, 200) << "request " << i << ": " << resp.summary();
    std::this_thread::sleep_for(milliseconds(150));
  }
}

// A client still reading a large response is not idle: the idle timeout must not cut a body that
// is being sent (a stalled send is the send timeout's business).
TEST_F(GatewayTest, AReaderStillReceivingALargeCachedBodyOutlivesTheIdleTimeout) {
  GatewayConfig config = baseConfig();
  config.server["idle_timeout"] = "\"300ms\"";
  config.routes = "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\ncache = true\n";
  config.extra = "[cache]\nmax_bytes = \"1GiB\"\nmax_object_bytes = \"64MiB\"\n";  // 64 MiB a shard
  ASSERT_TRUE(startGateway(config));
  const std::string target = "/cache/large-slow-reader?cc=max-age%3D60&size=24000000";
  HttpResponse fill = get(target);
  ASSERT_EQ(fill.status, 200) << fill.summary();
  ASSERT_EQ(fill.header("X-Cache"), "MISS");

  // A hit queues the whole body at once; the client reads nothing for 4x idle_timeout, so most
  // of it is still waiting in the gateway when the idle timer comes due.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("GET", target)));
  std::this_thread::sleep_for(milliseconds(1200));
  ReadOptions options;
  options.keep_body = false;
  HttpResponse hit = conn.readResponse(options);
  ASSERT_TRUE(hit.ok()) << hit.summary();
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_TRUE(hit.complete) << "the body was cut after " << hit.body_bytes << " bytes";
  EXPECT_EQ(hit.body_bytes, 24000000u);
}

TEST_F(ClientTimeoutTest, StalledRequestBodyGets408) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/mirror", {{"Content-Length", "100"}}) + std::string(10, 'x')));
  HttpResponse resp = conn.readResponse();
  EXPECT_TRUE(isGatewayError(resp, 408));
  EXPECT_TRUE(conn.closedByPeer());
  // The backend never got a complete request.
  EXPECT_EQ(backend_.requestCount(), 0u);
}

TEST_F(ClientTimeoutTest, SlowButSteadyBodyIsNotTimedOut) {
  // request_timeout bounds the gap between pieces, not the whole body: 8 pieces 100 ms apart.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/mirror", {{"Content-Length", "80"}})));
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    ASSERT_TRUE(conn.send(std::string(10, static_cast<char>('a' + i))));
  }
  HttpResponse resp = conn.readResponse();
  ASSERT_EQ(resp.status, 200) << resp.summary();
  EXPECT_EQ(resp.body.size(), 80u);
}

TEST_F(ClientTimeoutTest, LongBackendWaitIsNotAClientTimeout) {
  // The gateway waiting for the backend (1 s) is neither a header, idle nor request timeout.
  HttpResponse resp = get("/delay/1000");
  EXPECT_EQ(resp.status, 200) << resp.summary();
}

class BackendFailureTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayConfig config = baseConfig();
    config.upstream["response_timeout"] = "\"500ms\"";
    config.upstream["connect_timeout"] = "\"500ms\"";
    ASSERT_TRUE(startGateway(config));
  }
};

TEST_F(BackendFailureTest, ResponseTimeoutGives504) {
  HttpResponse resp = get("/delay/3000");
  EXPECT_TRUE(isGatewayError(resp, 504));
  // The gateway carries on.
  resp = get("/echo");
  EXPECT_EQ(resp.status, 200) << resp.summary();
}

TEST_F(BackendFailureTest, SlowFirstByteOnAKeepAliveClientConnection) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/slow-first-byte/3000")));
  HttpResponse resp = conn.readResponse();
  EXPECT_TRUE(isGatewayError(resp, 504));
  if (!saysClose(resp) && !resp.peer_closed) {
    ASSERT_TRUE(conn.send(buildRequest("GET", "/echo?after")));
    resp = conn.readResponse();
    EXPECT_EQ(resp.status, 200) << "the connection after a 504: " << resp.summary();
    EXPECT_EQ(resp.header("X-Echo-Target"), "/echo?after");
  }
}

TEST_F(BackendFailureTest, BackendClosingWithoutAnsweringGives502) {
  HttpResponse resp = get("/no-response");
  EXPECT_TRUE(isGatewayError(resp, 502));
  resp = get("/echo");
  EXPECT_EQ(resp.status, 200) << resp.summary();
}

TEST_F(BackendFailureTest, BackendClosingMidBodyAbortsTheClientConnection) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/close-mid-body")));
  HttpResponse resp = conn.readResponse();
  SCOPED_TRACE(resp.summary());
  if (resp.status == 502) {
    // Allowed when nothing had been sent yet.
    EXPECT_TRUE(isGatewayError(resp, 502));
    return;
  }
  EXPECT_EQ(resp.status, 200);
  EXPECT_FALSE(resp.complete) << "a cut body must not look complete";
  EXPECT_LT(resp.body.size(), 1000u);
  if (resp.framing == Framing::ContentLength) {
    EXPECT_EQ(resp.header("Content-Length"), "1000");
  }
  if (resp.framing == Framing::Chunked) {
    EXPECT_FALSE(resp.terminator_seen);
  }
  EXPECT_NE(resp.framing, Framing::CloseDelimited) << "close-delimited: the client cannot tell it was cut";
  EXPECT_TRUE(resp.peer_closed || conn.closedByPeer()) << "the client connection was not aborted";
}

TEST_F(BackendFailureTest, BackendClosingMidChunkedBodyAbortsTheClientConnection) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/close-mid-chunked")));
  HttpResponse resp = conn.readResponse();
  SCOPED_TRACE(resp.summary());
  if (resp.status == 502) {
    EXPECT_TRUE(isGatewayError(resp, 502));
    return;
  }
  EXPECT_EQ(resp.status, 200);
  EXPECT_FALSE(resp.complete) << "a cut body must not look complete";
  EXPECT_FALSE(resp.terminator_seen) << "the gateway sent the last chunk of a cut body";
  EXPECT_NE(resp.framing, Framing::CloseDelimited) << "close-delimited: the client cannot tell it was cut";
  EXPECT_TRUE(resp.peer_closed || conn.closedByPeer()) << "the client connection was not aborted";
}

TEST_F(BackendFailureTest, OtherClientsAreUnaffectedByACutResponse) {
  HttpConnection keep(port());
  ASSERT_TRUE(keep.send(buildRequest("GET", "/echo?before")));
  ASSERT_EQ(keep.readResponse().status, 200);
  HttpResponse cut = get("/close-mid-body");
  EXPECT_FALSE(cut.complete && cut.status == 200);
  ASSERT_TRUE(keep.send(buildRequest("GET", "/echo?after")));
  HttpResponse resp = keep.readResponse();
  EXPECT_EQ(resp.status, 200) << resp.summary();
}

TEST_F(GatewayTest, RefusedBackendGives502) {
  GatewayConfig config = baseConfig();
  config.backend_port = closedPort();
  ASSERT_TRUE(startGateway(config));
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("attempt " + std::to_string(i));
    HttpResponse resp = get("/echo");
    EXPECT_TRUE(isGatewayError(resp, 502));
  }
  // A POST with a body, a HEAD, then a GET on one connection: each 502 is framed right.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/echo", {}, std::string(10000, 'b')) + buildRequest("HEAD", "/echo") +
                        buildRequest("GET", "/echo?third")));
  HttpResponse first = conn.readResponse();
  EXPECT_TRUE(isGatewayError(first, 502));
  if (!saysClose(first)) {
    HttpResponse second = conn.readResponse(kDefaultTimeout, /*head=*/true);
    EXPECT_EQ(second.status, 502) << second.summary();
    if (!saysClose(second)) {
      EXPECT_TRUE(isGatewayError(conn.readResponse(), 502));
    }
  }
  EXPECT_TRUE(gateway_->running());
}

// A listening socket whose accept queue is full: the kernel drops further SYNs, so connecting to
// it hangs until the connect timeout.
class BlackholeListener {
 public:
  BlackholeListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 0) != 0) return;
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    // Fill the queue; stop once a connect no longer completes quickly.
    for (int i = 0; i < 8; ++i) {
      HttpConnection c(port_, milliseconds(300));
      if (!c.connected()) {
        blackholed_ = true;
        break;
      }
      fillers_.push_back(std::move(c));
    }
  }
  ~BlackholeListener() {
    fillers_.clear();
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }
  bool blackholed() const { return blackholed_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  bool blackholed_ = false;
  std::vector<HttpConnection> fillers_;
};

TEST_F(GatewayTest, ConnectTimeoutGives504) {
  BlackholeListener blackhole;
  if (!blackhole.blackholed()) GTEST_SKIP() << "this kernel completes connects to a full accept queue";
  GatewayConfig config = baseConfig();
  config.backend_port = blackhole.port();
  config.upstream["connect_timeout"] = "\"300ms\"";
  ASSERT_TRUE(startGateway(config));
  HttpResponse resp = get("/echo");
  EXPECT_TRUE(isGatewayError(resp, 504));
}

}  // namespace
}  // namespace perfgate::test
