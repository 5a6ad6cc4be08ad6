// Partial content through the whole gateway and real sockets: on a `partial_content` route a
// ranged request reaches the backend as a range, the 206 is stored, and a later range that
// overlaps it is answered whole after asking the backend for the missing bytes only.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "integration/gateway_fixture.h"
#include "support/scripted_backend.h"

namespace perfgate::test {
namespace {

std::string media(size_t size) {
  std::string out(size, ' ');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>('A' + i % 26);
  return out;
}

// A backend that answers "Range: bytes=a-b" with a 206 of `body`, and anything else with a 200.
Reply ranged(const std::string& body, const std::string& head) {
  std::smatch m;
  std::string fields = "Cache-Control: max-age=60\r\nETag: \"m1\"\r\nContent-Type: video/mp4\r\n";
  if (std::regex_search(head, m, std::regex("\r\nRange: bytes=(\\d+)-(\\d+)\r\n", std::regex::icase))) {
    size_t first = std::stoul(m[1]);
    size_t last = std::min<size_t>(std::stoul(m[2]), body.size() - 1);
    std::string part = body.substr(first, last - first + 1);
    return Reply("HTTP/1.1 206 Partial Content\r\n" + fields + "Content-Range: bytes " + std::to_string(first) + "-" +
                 std::to_string(last) + "/" + std::to_string(body.size()) +
                 "\r\nContent-Length: " + std::to_string(part.size()) + "\r\n\r\n" + part);
  }
  return Reply("HTTP/1.1 200 OK\r\n" + fields + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST(PartialContentGateway, PartsAreStoredAndCombinedWithTheMissingBytesOnly) {
  const std::string body = media(200'000);
  ScriptedBackend backend([&](int, int, const std::string& head) { return ranged(body, head); });
  GatewayConfig config;
  config.backend_port = backend.port();
  config.workers = 1;
  config.routes = "[[route]]\nname = \"media\"\nprefix = \"/\"\nupstream = \"backend\"\npartial_content = true\n";
  GatewayProcess gateway(config.toToml());
  ASSERT_TRUE(gateway.ready()) << gateway.failure();
  HttpConnection conn(gateway.listenPort());

  ASSERT_TRUE(conn.send(buildRequest("GET", "/movie.mp4", {{"Range", "bytes=0-65535"}})));
  HttpResponse first = conn.readResponse();
  ASSERT_EQ(first.status, 206) << first.summary();
  EXPECT_EQ(first.body, body.substr(0, 65536));
  ASSERT_TRUE(conn.send(buildRequest("GET", "/movie.mp4", {{"Range", "bytes=60000-99999"}})));
  HttpResponse second = conn.readResponse();
  ASSERT_EQ(second.status, 206) << second.summary();
  EXPECT_EQ(second.header("Content-Range"), "bytes 60000-99999/200000");
  EXPECT_EQ(second.body, body.substr(60000, 40000));
  EXPECT_NE(second.header("Cache-Status").find("fwd=partial"), std::string::npos);
  ASSERT_TRUE(conn.send(buildRequest("GET", "/movie.mp4", {{"Range", "bytes=1000-98999"}})));
  HttpResponse hit = conn.readResponse();
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_EQ(hit.body, body.substr(1000, 98000));

  std::vector<std::string> heads = backend.heads();
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_NE(heads[0].find("Range: bytes=0-65535"), std::string::npos) << heads[0];
  EXPECT_NE(heads[1].find("Range: bytes=65536-99999"), std::string::npos) << heads[1];
  EXPECT_NE(heads[1].find("If-Range: \"m1\""), std::string::npos) << heads[1];
}

}  // namespace
}  // namespace perfgate::test
