#include "gateway/exchange/forwarding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

namespace perfgate {
namespace {

RequestHead parse(std::string_view text) {
  RequestParser parser{ParseLimits{}};
  RequestHead head;
  size_t consumed = 0;
  EXPECT_EQ(parser.parse(text, head, consumed), ParseStatus::Complete) << parser.error().message;
  return head;
}

UpstreamConfig upstream(std::string base_path = "") {
  UpstreamConfig config;
  config.name = "app";
  config.origin = "http://backend:8000";
  config.base_path = std::move(base_path);
  config.authority = "backend:8000";
  return config;
}

// True when the header block holds exactly this field line.
bool contains(const HeaderBlock& block, std::string_view line) {
  std::string needle = "\r\n" + std::string(line) + "\r\n";
  return ("\r\n" + block.serialize()).find(needle) != std::string::npos;
}

bool hasName(const HeaderBlock& block, std::string_view name) {
  std::string lowered = "\r\n" + block.serialize();
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string needle = "\r\n" + std::string(name) + ":";
  for (char& c : needle) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lowered.find(needle) != std::string::npos;
}

TEST(Forwarding, HopByHopNames) {
  for (const char* name : {"Connection", "keep-alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
                           "HTTP2-Settings", "Proxy-Authorization", "proxy-connection", "Proxy-X"}) {
    EXPECT_TRUE(isHopByHop(name)) << name;
  }
  for (const char* name : {"Host", "Accept", "Set-Cookie", "Content-Length", "Trailers", "Upgraded", "X-Proxy"}) {
    EXPECT_FALSE(isHopByHop(name)) << name;
  }
}

TEST(Forwarding, RequestDropsHopByHopAndConnectionNamedFields) {
  RequestHead head = parse(
      "GET /a/b?c=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Secret, Upgrade\r\n"
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\n"
      "Proxy-Authorization: Basic x\r\nAccept: */*\r\nX-Kept: yes\r\n\r\n");
  UpstreamRequest out = buildUpstreamRequest(head, upstream(), "10.1.2.3");
  EXPECT_EQ(out.target, "/a/b?c=1");
  EXPECT_EQ(out.method, "GET");
  EXPECT_FALSE(out.has_body);
  for (const char* name : {"Connection", "Upgrade", "HTTP2-Settings", "X-Secret", "Keep-Alive", "TE",
                           "Proxy-Authorization"}) {
    EXPECT_FALSE(hasName(out.headers, name)) << name;
  }
  EXPECT_TRUE(contains(out.headers, "X-Kept: yes"));
  EXPECT_TRUE(contains(out.headers, "Accept: */*"));
  EXPECT_TRUE(contains(out.headers, "Host: example.com"));
  EXPECT_TRUE(contains(out.headers, "X-Forwarded-For: 10.1.2.3"));
  EXPECT_TRUE(contains(out.headers, "X-Forwarded-Proto: http"));
  EXPECT_TRUE(contains(out.headers, "X-Forwarded-Host: example.com"));
  EXPECT_TRUE(contains(out.headers, "Via: 1.1 perfgate"));
}

TEST(Forwarding, ForwardedForIsAppendedAndSpoofedForwardedHostReplaced) {
  RequestHead head = parse(
      "GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n"
      "X-Forwarded-Host: evil.test\r\nX-Forwarded-Proto: https\r\n\r\n");
  UpstreamRequest out = buildUpstreamRequest(head, upstream(), "127.0.0.1");
  EXPECT_TRUE(contains(out.headers, "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 127.0.0.1"));
  EXPECT_TRUE(contains(out.headers, "X-Forwarded-Host: a.test"));
  EXPECT_FALSE(contains(out.headers, "X-Forwarded-Host: evil.test"));
  EXPECT_TRUE(contains(out.headers, "X-Forwarded-Proto: http"));
  EXPECT_FALSE(contains(out.headers, "X-Forwarded-Proto: https"));
}

TEST(Forwarding, HostHeaderModes) {
  RequestHead head = parse("GET / HTTP/1.1\r\nHost: client.test\r\n\r\n");
  UpstreamConfig config = upstream();
  config.host_mode = HostHeaderMode::Upstream;
  EXPECT_TRUE(contains(buildUpstreamRequest(head, config, "::1").headers, "Host: backend:8000"));
  config.host_mode = HostHeaderMode::Fixed;
  config.host_value = "fixed.test";
  EXPECT_TRUE(contains(buildUpstreamRequest(head, config, "::1").headers, "Host: fixed.test"));
}

TEST(Forwarding, BodiesAndMethods) {
  RequestHead sized = parse("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");
  UpstreamRequest out = buildUpstreamRequest(sized, upstream(), "1.2.3.4");
  EXPECT_TRUE(out.has_body);
  EXPECT_EQ(out.body_length, 5);
  EXPECT_FALSE(hasName(out.headers, "Content-Length"));  // framing is the upstream client's job

  RequestHead chunked = parse("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  out = buildUpstreamRequest(chunked, upstream(), "1.2.3.4");
  EXPECT_TRUE(out.has_body);
  EXPECT_EQ(out.body_length, -1);
  EXPECT_FALSE(hasName(out.headers, "Transfer-Encoding"));

  RequestHead head = parse("HEAD /x HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n");
  out = buildUpstreamRequest(head, upstream("/base"), "1.2.3.4");
  EXPECT_TRUE(out.head);
  EXPECT_EQ(out.target, "/base/x");
  EXPECT_TRUE(contains(out.headers, "X-Empty: "));

  RequestHead options = parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(buildUpstreamRequest(options, upstream(), "1.2.3.4").target, "/");
}

ResponseHead response(int status, std::vector<std::pair<std::string, std::string>> fields) {
  ResponseHead head;
  head.status = status;
  head.reason = "OK";
  for (auto& [name, value] : fields) head.headers.add(name, value);
  return head;
}

TEST(Forwarding, ResponseHeadKeepsOrderAndRepeatsDropsHopByHop) {
  RequestHead request = parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  ResponseHead head = response(200, {{"Set-Cookie", "a=1"}, {"Connection", "X-Internal"},
                                             {"X-Internal", "secret"}, {"Set-Cookie", "b=2"},
                                             {"Keep-Alive", "timeout=5"}, {"Content-Length", "10"}});
  bool keep_alive = true;
  std::string out;
  ClientFraming framing = writeClientResponseHead(head, request, keep_alive, out);
  EXPECT_EQ(framing.framing, BodyFramingOut::Length);
  EXPECT_EQ(framing.length, 10u);
  EXPECT_TRUE(keep_alive);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nVia: 1.1 perfgate\r\n"
            "Content-Length: 10\r\n\r\n");
}

TEST(Forwarding, ResponseFramingByClientVersion) {
  ResponseHead head = response(200, {{"Transfer-Encoding", "chunked"}});
  std::string out;
  bool keep_alive = true;
  RequestHead http11 = parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(writeClientResponseHead(head, http11, keep_alive, out).framing, BodyFramingOut::Chunked);
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos);

  RequestHead http10 = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  keep_alive = true;
  EXPECT_EQ(writeClientResponseHead(head, http10, keep_alive, out).framing, BodyFramingOut::UntilClose);
  EXPECT_FALSE(keep_alive);
  EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);

  RequestHead head_request = parse("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
  ResponseHead sized = response(200, {{"Content-Length", "789"}});
  keep_alive = true;
  ClientFraming bodiless = writeClientResponseHead(sized, head_request, keep_alive, out);
  EXPECT_EQ(bodiless.framing, BodyFramingOut::None);
  EXPECT_EQ(bodiless.length, 0u) << "a HEAD response has no body to make room for";
  EXPECT_NE(out.find("Content-Length: 789\r\n"), std::string::npos);

  ResponseHead not_modified = response(304, {{"ETag", "\"x\""}});
  keep_alive = true;
  EXPECT_EQ(writeClientResponseHead(not_modified, http11, keep_alive, out).framing, BodyFramingOut::None);
  EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos);
}

}  // namespace
}  // namespace perfgate
