// The connection limit (a clear 503, not a silent refusal) and slow clients that must not starve
// normal ones.
#include <gtest/gtest.h>

#include <thread>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;

TEST_F(GatewayTest, ConnectionsOverTheLimitGet503ThenClose) {
  GatewayConfig config = baseConfig();
  config.workers = 1;
  config.server["max_connections"] = "2";
  ASSERT_TRUE(startGateway(config));

  std::vector<HttpConnection> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back(port());
    ASSERT_TRUE(held.back().send(buildRequest("GET", "/echo?held=" + std::to_string(i))));
    HttpResponse resp = held.back().readResponse();
    ASSERT_EQ(resp.status, 200) << "connection " << i << " under the limit: " << resp.summary();
  }

  HttpConnection over(port());
  ASSERT_TRUE(over.connected()) << "a connection over the limit must be answered, not refused";
  over.send(buildRequest("GET", "/echo?over"));  // the 503 may already be on its way
  HttpResponse resp = over.readResponse();
  EXPECT_TRUE(isGatewayError(resp, 503));
  EXPECT_TRUE(over.closedByPeer());
  for (const ReceivedRequest& r : backend_.requests()) EXPECT_NE(r.target, "/echo?over");

  // The held connections still work.
  ASSERT_TRUE(held[0].send(buildRequest("GET", "/echo?still")));
  EXPECT_EQ(held[0].readResponse().status, 200);

  // Once one closes, a new connection is served again (the close reaches the gateway asynchronously).
  held.pop_back();
  bool served = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!served && std::chrono::steady_clock::now() < deadline) {
    HttpResponse again = get("/echo?again");
    served = again.status == 200;
    if (!served) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(served) << "a slot freed by a closed connection was never reused";
}

TEST_F(GatewayTest, SlowlorisConnectionsDoNotStarveANormalClient) {
  GatewayConfig config = baseConfig();
  config.workers = 1;
  config.server["header_timeout"] = "\"10s\"";
  ASSERT_TRUE(startGateway(config));
  constexpr int kSlow = 300;
  std::vector<HttpConnection> slow;
  slow.reserve(kSlow);
  for (int i = 0; i < kSlow; ++i) {
    slow.emplace_back(port());
    ASSERT_TRUE(slow.back().connected()) << "slow connection " << i << ": " << slow.back().connectError();
    ASSERT_TRUE(slow.back().send("GET /echo HTTP/1.1\r\nHost: test.local\r\nX-Slow: "));
  }
  for (int i = 0; i < 5; ++i) {
    HttpResponse resp = get("/echo?normal=" + std::to_string(i));
    EXPECT_EQ(resp.status, 200) << "normal client with " << kSlow << " slow connections open: " << resp.summary();
  }
  EXPECT_TRUE(gateway_->running());
}

TEST_F(GatewayTest, ManyConcurrentClientsAreAllServed) {
  ASSERT_TRUE(startGateway(baseConfig()));
  constexpr int kClients = 64;
  std::vector<HttpConnection> conns;
  for (int i = 0; i < kClients; ++i) {
    conns.emplace_back(port());
    ASSERT_TRUE(conns.back().send(buildRequest("GET", "/delay/200?c=" + std::to_string(i))));
  }
  for (int i = 0; i < kClients; ++i) {
    HttpResponse resp = conns[i].readResponse();
    EXPECT_EQ(resp.status, 200) << "client " << i << ": " << resp.summary();
    EXPECT_EQ(resp.header("X-Echo-Target"), "/delay/200?c=" + std::to_string(i));
  }
}

}  // namespace
}  // namespace perfgate::test
