// Interim responses (RFC 9110 §15.2) from a backend: 102 Processing and 103 Early Hints go on to
// HTTP/1.1 clients before the final response, with their own fields; they are never stored,
// never sent to HTTP/1.0 clients, and their fields never appear in the final response. The
// gateway answers Expect: 100-continue itself, so a backend's 100 is not passed on twice.
#include <gtest/gtest.h>

#include <string>

#include "integration/gateway_fixture.h"
#include "support/scripted_backend.h"

namespace perfgate::test {
namespace {

const char kFinal[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\n"
                      "Content-Length: 6\r\n\r\nfinal\n";

std::string earlyHints(int count = 1) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nConnection: x-secret\r\n"
           "X-Secret: hop\r\n\r\n";
  }
  return out;
}

std::unique_ptr<GatewayProcess> gatewayFor(const ScriptedBackend& backend) {
  GatewayConfig config;
  config.backend_port = backend.port();
  config.workers = 1;
  auto gateway = std::make_unique<GatewayProcess>(config.toToml());
  EXPECT_TRUE(gateway->ready()) << gateway->failure();
  return gateway;
}

TEST(InterimResponses, EarlyHintsReachAnHttp11ClientBeforeTheFinalResponseAndAreNotStored) {
  ScriptedBackend backend([](int, int, const std::string&) { return Reply(earlyHints() + kFinal); });
  auto gateway = gatewayFor(backend);
  HttpConnection conn(gateway->listenPort());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/page")));
  ReadOptions interim_only;
  interim_only.stop_at_interim = true;
  HttpResponse hints = conn.readResponse(interim_only);
  ASSERT_EQ(hints.status, 103) << hints.summary();
  EXPECT_EQ(hints.header("Link"), "</style.css>; rel=preload; as=style");
  EXPECT_FALSE(hints.hasHeader("X-Secret")) << "a field its Connection names is hop-by-hop";
  EXPECT_FALSE(hints.hasHeader("Connection"));
  HttpResponse final_response = conn.readResponse();
  ASSERT_EQ(final_response.status, 200) << final_response.summary();
  EXPECT_EQ(final_response.body, "final\n");
  EXPECT_FALSE(final_response.hasHeader("Link")) << "the interim fields were merged into the final response";
  EXPECT_EQ(final_response.header("X-Cache"), "MISS");

  // The stored response is the final one alone: a hit has no interim response.
  ASSERT_TRUE(conn.send(buildRequest("GET", "/page")));
  HttpResponse hit = conn.readResponse();
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_TRUE(hit.interim.empty());
  EXPECT_FALSE(hit.hasHeader("Link"));
  EXPECT_EQ(backend.requests(), 1);
}

TEST(InterimResponses, ProcessingIsPassedOnAndAFloodIsCut) {
  ScriptedBackend backend([](int, int, const std::string&) {
    return Reply("HTTP/1.1 102 Processing\r\n\r\n" + earlyHints(30) + kFinal);
  });
  auto gateway = gatewayFor(backend);
  HttpResponse resp = request(gateway->listenPort(), "GET", "/slow");
  ASSERT_EQ(resp.status, 200) << resp.summary();
  ASSERT_FALSE(resp.interim.empty());
  EXPECT_EQ(resp.interim.front(), 102);
  EXPECT_EQ(resp.interim.size(), 16u) << "at most 16 interim responses per request";
}

TEST(InterimResponses, NotToHttp10Clients) {
  ScriptedBackend backend([](int, int, const std::string&) { return Reply(earlyHints() + kFinal); });
  auto gateway = gatewayFor(backend);
  HttpConnection conn(gateway->listenPort());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/old", {}, {}, "HTTP/1.0")));
  HttpResponse resp = conn.readResponse();
  ASSERT_EQ(resp.status, 200) << resp.summary();
  EXPECT_TRUE(resp.interim.empty());
}

TEST(InterimResponses, ABackends100ContinueIsNotSentTwice) {
  ScriptedBackend backend([](int, int, const std::string& head) {
    // Answers 100 Continue whether or not it was asked, then the final response.
    (void)head;
    return Reply(std::string("HTTP/1.1 100 Continue\r\n\r\n") + kFinal);
  });
  auto gateway = gatewayFor(backend);
  HttpConnection conn(gateway->listenPort());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/upload", {{"Expect", "100-continue"}, {"Content-Length", "4"}})));
  ReadOptions interim_only;
  interim_only.stop_at_interim = true;
  HttpResponse go_on = conn.readResponse(interim_only);
  ASSERT_EQ(go_on.status, 100) << "the gateway's own 100 Continue";
  ASSERT_TRUE(conn.send("data"));
  HttpResponse resp = conn.readResponse();
  ASSERT_EQ(resp.status, 200) << resp.summary();
  EXPECT_TRUE(resp.interim.empty()) << "the backend's 100 came through too";
}

}  // namespace
}  // namespace perfgate::test
