// End to end through a real perfgate to a real TestBackend: methods and bodies, chunked both
// ways, pipelining, keep-alive reuse toward the backend, header handling and routing.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

constexpr size_t k10MiB = 10 * 1024 * 1024;

class ProxyTest : public GatewayTest {
 protected:
  void SetUp() override { ASSERT_TRUE(startGateway(baseConfig())); }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(ProxyTest, GetIsForwardedWithMethodTargetAndNoBody) {
  HttpResponse resp = get("/echo?a=1&b=two");
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("X-Echo-Target"), "/echo?a=1&b=two");
  ASSERT_EQ(backend_.requestCount(), 1u);
  ReceivedRequest r = backend_.lastRequest();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/echo?a=1&b=two");
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_TRUE(r.body.empty());
  EXPECT_FALSE(r.chunked);
  nlohmann::json j = nlohmann::json::parse(resp.body);
  EXPECT_EQ(j["method"], "GET");
  EXPECT_TRUE(backend_.protocolErrors().empty()) << backend_.protocolErrors().front();
}

TEST_F(ProxyTest, ResponseBodiesOfZeroOneKilobyteAndTenMegabytes) {
  for (size_t n : {size_t{0}, size_t{1024}, k10MiB}) {
    SCOPED_TRACE("GET /bytes/" + std::to_string(n));
    HttpResponse resp = get("/bytes/" + std::to_string(n));
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.status, 200);
    EXPECT_TRUE(resp.complete);
    EXPECT_EQ(resp.body.size(), n);
    EXPECT_TRUE(resp.body == pattern(n)) << "body differs from the backend's bytes";
  }
}

TEST_F(ProxyTest, HeadGetsHeadersOnlyAndTheConnectionStaysUsable) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  for (const char* target : {"/bytes/1024", "/chunked/3/100", "/bytes/0"}) {
    SCOPED_TRACE(std::string("HEAD ") + target);
    ASSERT_TRUE(conn.send(buildRequest("HEAD", target)));
    HttpResponse head = conn.readResponse(kDefaultTimeout, /*head=*/true);
    ASSERT_TRUE(head.ok()) << head.summary();
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(backend_.lastRequest().method, "HEAD");
    if (std::string(target) == "/bytes/1024" && head.hasHeader("Content-Length")) {
      EXPECT_EQ(head.header("Content-Length"), "1024");
    }
    // Any body bytes sent after a HEAD response would corrupt the next response on this connection.
    ASSERT_TRUE(conn.send(buildRequest("GET", "/bytes/10")));
    HttpResponse next = conn.readResponse();
    ASSERT_TRUE(next.ok()) << next.summary();
    EXPECT_EQ(next.status, 200);
    EXPECT_EQ(next.body, pattern(10));
  }
}

struct BodyCase {
  std::string method;
  size_t size;
};
void PrintTo(const BodyCase& c, std::ostream* os) { *os << c.method << " with " << c.size << " bytes"; }

class ProxyBodyTest : public ProxyTest, public ::testing::WithParamInterface<BodyCase> {};

TEST_P(ProxyBodyTest, RequestBodyReachesTheBackendAndComesBack) {
  const BodyCase& c = GetParam();
  std::string body = pattern(c.size);
  HttpResponse resp = request(port(), c.method, "/mirror", {}, body, std::chrono::seconds(20));
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body.size(), body.size());
  EXPECT_TRUE(resp.body == body) << "mirrored body differs";
  ASSERT_EQ(backend_.requestCount(), 1u);
  ReceivedRequest r = backend_.lastRequest();
  EXPECT_EQ(r.method, c.method);
  EXPECT_EQ(r.body.size(), body.size());
  EXPECT_EQ(fnv1a64Hex(r.body), fnv1a64Hex(body));
  EXPECT_TRUE(backend_.protocolErrors().empty()) << backend_.protocolErrors().front();
}

INSTANTIATE_TEST_SUITE_P(
    MethodsAndSizes, ProxyBodyTest,
    ::testing::Values(BodyCase{"POST", 0}, BodyCase{"POST", 1024}, BodyCase{"POST", k10MiB}, BodyCase{"PUT", 0},
                      BodyCase{"PUT", 1024}, BodyCase{"PUT", k10MiB}, BodyCase{"DELETE", 0},
                      BodyCase{"DELETE", 1024}, BodyCase{"DELETE", k10MiB}, BodyCase{"PATCH", 1024},
                      BodyCase{"GET", 1024}),
    [](const ::testing::TestParamInfo<BodyCase>& p) {
      return p.param.method + "_" + std::to_string(p.param.size) + "_bytes";
    });

TEST_F(ProxyTest, TargetIsForwardedByteForByte) {
  // No decoding, no normalisation: the backend sees what the client sent.
  for (const char* target : {"/echo/a%2Fb/%2e%2e/c?x=%20&y=a+b&z", "/echo//double//slashes/", "/echo?",
                             "/echo/~user/%7Euser;param?q=%C3%A9"}) {
    SCOPED_TRACE(target);
    HttpResponse resp = get(target);
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(backend_.lastRequest().target, target);
  }
}

TEST_F(ProxyTest, OtherMethodsPassThrough) {
  for (const char* method : {"OPTIONS", "PURGE", "PROPFIND", "MKCOL"}) {
    SCOPED_TRACE(method);
    HttpResponse resp = request(port(), method, "/echo", {}, std::string(method) == "PROPFIND" ? "<x/>" : "");
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(backend_.lastRequest().method, method);
    EXPECT_EQ(resp.header("X-Echo-Method"), method);
  }
  EXPECT_EQ(backend_.lastRequest().body, "");
}

TEST_F(ProxyTest, GatewayAddsNoHeadersOfItsOwnBeyondForwarding) {
  // An HTTP client library in the gateway must not invent Accept, Content-Type, User-Agent,
  // Expect, Pragma... and must keep headers with empty values.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send("POST /echo HTTP/1.1\r\nHost: test.local\r\nX-Empty:\r\nX-Spaces:   \r\n"
                        "Content-Length: 3\r\n\r\nabc"));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  ReceivedRequest r = backend_.lastRequest();
  SCOPED_TRACE("backend received: " + resp.body);
  EXPECT_TRUE(r.hasHeader("X-Empty")) << "a header with an empty value was dropped";
  EXPECT_EQ(r.header("X-Empty"), "");
  EXPECT_TRUE(r.hasHeader("X-Spaces"));
  for (const char* name : {"Accept", "Content-Type", "User-Agent", "Expect", "Pragma", "Accept-Encoding"}) {
    EXPECT_FALSE(r.hasHeader(name)) << name << ": " << r.header(name) << " was added by the gateway";
  }
  EXPECT_EQ(r.body, "abc");
}

TEST_F(ProxyTest, DeleteWithoutBodyIsForwarded) {
  HttpResponse resp = request(port(), "DELETE", "/echo/item/7");
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(backend_.lastRequest().method, "DELETE");
  EXPECT_EQ(backend_.lastRequest().target, "/echo/item/7");
  EXPECT_TRUE(backend_.lastRequest().body.empty());
}

TEST_F(ProxyTest, ChunkedRequestBodiesReachTheBackendWhole) {
  struct Case {
    size_t size;
    size_t chunk;
  };
  for (Case c : {Case{1024, 100}, Case{k10MiB, 65536}, Case{k10MiB, 1000003}, Case{1, 1}}) {
    SCOPED_TRACE("chunked body of " + std::to_string(c.size) + " bytes in chunks of " + std::to_string(c.chunk));
    backend_.clearRequests();
    std::string body = pattern(c.size);
    HttpConnection conn(port());
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.send(buildRequest("POST", "/mirror", {{"Transfer-Encoding", "chunked"}}) +
                          chunkedBody(body, c.chunk), std::chrono::seconds(20)));
    HttpResponse resp = conn.readResponse(std::chrono::seconds(20));
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.status, 200);
    EXPECT_TRUE(resp.body == body) << "mirrored body differs (" << resp.body.size() << " bytes)";
    ASSERT_EQ(backend_.requestCount(), 1u);
    ReceivedRequest r = backend_.lastRequest();
    EXPECT_EQ(r.body.size(), body.size());
    EXPECT_TRUE(r.body == body) << "backend body differs";
    // Forwarded either chunked or with the length; never both.
    EXPECT_FALSE(r.chunked && r.hasHeader("Content-Length"));
    if (!r.chunked) {
      EXPECT_EQ(r.header("Content-Length"), std::to_string(c.size));
    }
  }
  EXPECT_TRUE(backend_.protocolErrors().empty()) << backend_.protocolErrors().front();
}

TEST_F(ProxyTest, ChunkedRequestWithExtensionsAndTrailersIsDecoded) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/mirror", {{"Transfer-Encoding", "chunked"}}) +
                        "5;name=value\r\nhello\r\n1;x\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "hello world");
  EXPECT_EQ(backend_.lastRequest().body, "hello world");
  // The connection is still in sync after the trailers.
  ASSERT_TRUE(conn.send(buildRequest("GET", "/bytes/3")));
  resp = conn.readResponse();
  EXPECT_EQ(resp.body, pattern(3)) << resp.summary();
}

TEST_F(ProxyTest, ChunkedEmptyRequestBody) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/mirror", {{"Transfer-Encoding", "chunked"}}) + "0\r\n\r\n"));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(resp.body.empty());
  EXPECT_TRUE(backend_.lastRequest().body.empty());
}

TEST_F(ProxyTest, ChunkedResponsesReachTheClientWhole) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  struct Case {
    size_t count;
    size_t size;
  };
  for (Case c : {Case{10, 1000}, Case{1, 1}, Case{160, 65536}}) {
    std::string target = "/chunked/" + std::to_string(c.count) + "/" + std::to_string(c.size);
    SCOPED_TRACE("GET " + target);
    ASSERT_TRUE(conn.send(buildRequest("GET", target)));
    HttpResponse resp = conn.readResponse(std::chrono::seconds(20));
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.status, 200);
    EXPECT_TRUE(resp.complete);
    EXPECT_TRUE(resp.body == pattern(c.count * c.size)) << "body differs (" << resp.body.size() << " bytes)";
    EXPECT_TRUE(resp.framing == Framing::Chunked || resp.framing == Framing::ContentLength)
        << "an HTTP/1.1 keep-alive response must be self-delimited: " << resp.summary();
    if (resp.framing == Framing::Chunked) {
      EXPECT_TRUE(resp.terminator_seen);
    }
  }
  // An empty chunked response.
  ASSERT_TRUE(conn.send(buildRequest("GET", "/chunked/0/10")));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_TRUE(resp.body.empty());
}

TEST_F(ProxyTest, ChunkedBothWaysTenMegabytes) {
  std::string body = pattern(k10MiB);
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("PUT", "/mirror-chunked", {{"Transfer-Encoding", "chunked"}}) +
                        chunkedBody(body, 32768), std::chrono::seconds(20)));
  HttpResponse resp = conn.readResponse(std::chrono::seconds(20));
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(resp.body == body) << "body differs (" << resp.body.size() << " bytes)";
  EXPECT_EQ(backend_.lastRequest().body.size(), body.size());
}

TEST_F(ProxyTest, StreamsTheResponseAsItArrives) {
  // The backend sends "drip 0" after 1.5 s and "drip 1" 1.5 s later; a gateway that buffered the
  // whole response would deliver both together.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/drip/2/1500")));
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while (!contains(seen, "drip 0") && std::chrono::steady_clock::now() < deadline) {
    seen += conn.readAvailable(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(contains(seen, "drip 0")) << "first piece never arrived; got: " << seen;
  EXPECT_FALSE(contains(seen, "drip 1")) << "the first piece arrived only with the second: not streamed";
}

TEST_F(ProxyTest, PipelinedRequestsAreAnsweredInOrder) {
  // The first request is slow: later, faster answers must still wait for it.
  struct Sent {
    std::string method;
    std::string target;
    std::string body;
  };
  std::vector<Sent> sent = {{"GET", "/delay/400?n=0", ""}};
  for (int i = 1; i < 20; ++i) {
    std::string n = std::to_string(i);
    if (i % 5 == 1) sent.push_back({"POST", "/mirror?n=" + n, "body-" + n});
    else if (i % 5 == 2) sent.push_back({"HEAD", "/bytes/" + n, ""});
    else if (i % 5 == 3) sent.push_back({"GET", "/chunked/2/" + n, ""});
    else sent.push_back({"GET", "/echo?n=" + n, ""});
  }
  std::string all;
  for (const Sent& s : sent) all += buildRequest(s.method, s.target, {}, s.body);
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(all));
  for (size_t i = 0; i < sent.size(); ++i) {
    const Sent& s = sent[i];
    SCOPED_TRACE("pipelined #" + std::to_string(i) + ": " + s.method + " " + s.target);
    HttpResponse resp = conn.readResponse(kDefaultTimeout, s.method == "HEAD");
    ASSERT_TRUE(resp.ok()) << resp.summary();
    ASSERT_EQ(resp.status, 200);
    if (s.method == "POST") {
      EXPECT_EQ(resp.body, s.body);
    } else if (s.method == "HEAD") {
      EXPECT_TRUE(resp.body.empty());
    } else if (s.target.rfind("/chunked/", 0) == 0) {
      EXPECT_EQ(resp.body, pattern(2 * static_cast<size_t>(std::stoul(s.target.substr(11)))));
    } else {
      EXPECT_EQ(resp.header("X-Echo-Target"), s.target);
    }
  }
  EXPECT_EQ(backend_.requestCount(), sent.size());
}

TEST_F(ProxyTest, PipelinedBodiesSplitAcrossWrites) {
  // The same pipeline delivered a few bytes at a time: the parser must not depend on packet boundaries.
  std::string all;
  for (int i = 0; i < 4; ++i) all += buildRequest("POST", "/mirror?n=" + std::to_string(i), {}, "payload-" + std::to_string(i));
  all += buildRequest("POST", "/mirror?n=4", {{"Transfer-Encoding", "chunked"}}) + chunkedBody("payload-4", 3);
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  for (size_t off = 0; off < all.size(); off += 7) {
    ASSERT_TRUE(conn.send(all.substr(off, 7)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int i = 0; i < 5; ++i) {
    HttpResponse resp = conn.readResponse();
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.body, "payload-" + std::to_string(i));
  }
}

TEST_F(ProxyTest, RequestHopByHopHeadersAreNotForwarded) {
  HttpResponse resp = get("/echo", {{"Connection", "keep-alive, X-Hop, Upgrade, HTTP2-Settings"},
                                    {"X-Hop", "must-not-pass"},
                                    {"Keep-Alive", "timeout=300"},
                                    {"TE", "trailers"},
                                    {"Trailer", "X-Later"},
                                    {"Upgrade", "h2c"},
                                    {"HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"},
                                    {"Proxy-Authorization", "Basic c2VjcmV0"},
                                    {"Proxy-Connection", "keep-alive"},
                                    {"X-End-To-End", "kept"}});
  ASSERT_TRUE(resp.ok()) << resp.summary();
  ASSERT_EQ(resp.status, 200) << "an h2c upgrade request must be proxied as a plain request";
  ReceivedRequest r = backend_.lastRequest();
  SCOPED_TRACE("backend received: " + resp.body);
  for (const char* name : {"X-Hop", "Keep-Alive", "TE", "Trailer", "Upgrade", "HTTP2-Settings", "Proxy-Authorization",
                           "Proxy-Connection"}) {
    EXPECT_FALSE(r.hasHeader(name)) << name << " reached the backend: " << r.header(name);
  }
  for (const std::string& v : r.headerValues("Connection")) {
    std::string lowered = v;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), ::tolower);
    EXPECT_FALSE(contains(lowered, "upgrade")) << "Connection: " << v;
    EXPECT_FALSE(contains(lowered, "x-hop")) << "Connection: " << v;
    EXPECT_FALSE(contains(lowered, "http2-settings")) << "Connection: " << v;
  }
  EXPECT_EQ(r.header("X-End-To-End"), "kept");
}

TEST_F(ProxyTest, ResponseHopByHopHeadersAreNotForwarded) {
  HttpResponse resp = get("/headers");
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  for (const char* name : {"X-Custom", "Keep-Alive", "Upgrade", "Proxy-Connection"}) {
    EXPECT_FALSE(resp.hasHeader(name)) << name << " reached the client: " << resp.header(name);
  }
  for (const std::string& t : resp.headerTokens("Connection")) {
    EXPECT_TRUE(t == "keep-alive" || t == "close") << "Connection token from the backend leaked: " << t;
  }
  EXPECT_EQ(resp.header("X-End-To-End"), "kept");
  EXPECT_EQ(resp.body, "headers\n");
}

TEST_F(ProxyTest, SetCookieMultiplicityAndHeaderOrderPassThrough) {
  HttpResponse resp = get("/headers");
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.headerValues("Set-Cookie"),
            (std::vector<std::string>{"a=1; Path=/", "b=2; Path=/; HttpOnly", "c=3"}));
  std::vector<std::string> order;
  for (const auto& [n, v] : resp.headers) {
    if (iequals(n, "Set-Cookie") || iequals(n.substr(0, 8), "X-Order-")) order.push_back(n + ": " + v);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"X-Order-A: 1", "Set-Cookie: a=1; Path=/", "X-Order-B: 2",
                                             "Set-Cookie: b=2; Path=/; HttpOnly", "X-Order-C: 3",
                                             "Set-Cookie: c=3"}));
}

TEST_F(ProxyTest, ForwardingHeadersAreAddedAndHostIsKept) {
  HttpResponse resp = get("/echo", {{"Host", "example.test:8080"}, {"X-Forwarded-For", "10.1.2.3"}});
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(contains(resp.header("Via"), "1.1 perfgate")) << "response Via: " << resp.header("Via");
  ReceivedRequest r = backend_.lastRequest();
  SCOPED_TRACE("backend received: " + resp.body);
  EXPECT_EQ(r.headerCount("Host"), 1u);
  EXPECT_EQ(r.header("Host"), "example.test:8080");
  EXPECT_EQ(r.headerValues("X-Forwarded-For"), (std::vector<std::string>{"10.1.2.3, 127.0.0.1"}));
  EXPECT_EQ(r.header("X-Forwarded-Proto"), "http");
  EXPECT_EQ(r.header("X-Forwarded-Host"), "example.test:8080");
  EXPECT_TRUE(contains(r.header("Via"), "1.1 perfgate")) << "request Via: " << r.header("Via");
}

TEST_F(ProxyTest, ForwardedForStartsWithTheClientAddress) {
  HttpResponse resp = get("/echo");
  ASSERT_TRUE(resp.ok()) << resp.summary();
  ReceivedRequest r = backend_.lastRequest();
  EXPECT_EQ(r.header("X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(r.header("Host"), "test.local");
  EXPECT_EQ(r.header("X-Forwarded-Host"), "test.local");
}

TEST_F(ProxyTest, ForwardedForAppendsToEveryIncomingValue) {
  HttpResponse resp = get("/echo", {{"X-Forwarded-For", "1.1.1.1"}, {"X-Forwarded-For", "2.2.2.2, 3.3.3.3"}});
  ASSERT_TRUE(resp.ok()) << resp.summary();
  std::string joined;
  for (const std::string& v : backend_.lastRequest().headerValues("X-Forwarded-For")) {
    joined += (joined.empty() ? "" : ", ") + v;
  }
  EXPECT_EQ(joined, "1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.1");
}

TEST_F(ProxyTest, RequestHeaderOrderAndRepeatsAreKept) {
  HttpResponse resp = get("/echo", {{"X-Test-C", "3"},
                                    {"X-Test-A", "1"},
                                    {"Accept", "text/plain"},
                                    {"X-Test-B", "2"},
                                    {"X-Test-Dup", "first"},
                                    {"X-Test-Dup", "second"}});
  ASSERT_TRUE(resp.ok()) << resp.summary();
  ReceivedRequest r = backend_.lastRequest();
  std::vector<std::string> order;
  for (const auto& [n, v] : r.headers) {
    if (n.size() > 7 && iequals(n.substr(0, 7), "X-Test-") && !iequals(n, "X-Test-Dup")) order.push_back(n);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"X-Test-C", "X-Test-A", "X-Test-B"}));
  std::vector<std::string> dup = r.headerValues("X-Test-Dup");
  std::string joined;
  for (const std::string& v : dup) joined += (joined.empty() ? "" : ", ") + v;
  EXPECT_EQ(joined, "first, second") << "repeated request headers must keep every value, in order";
  EXPECT_EQ(r.header("Accept"), "text/plain");
}

TEST_F(ProxyTest, BackendStatusCodesPassThroughUnchanged) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  for (int status : {200, 201, 202, 204, 301, 304, 400, 401, 403, 404, 418, 429, 500, 502, 503, 504}) {
    SCOPED_TRACE("backend status " + std::to_string(status));
    ASSERT_TRUE(conn.send(buildRequest("GET", "/status/" + std::to_string(status))));
    HttpResponse resp = conn.readResponse();
    ASSERT_TRUE(resp.ok()) << resp.summary();
    EXPECT_EQ(resp.status, status);
    if (status == 204 || status == 304) {
      EXPECT_TRUE(resp.body.empty());
    } else {
      EXPECT_EQ(resp.body, "status " + std::to_string(status)) << "the backend's body, not a gateway error";
      EXPECT_EQ(resp.header("Content-Type"), "text/plain");
    }
  }
}

TEST_F(ProxyTest, KeepAliveClientConnectionServesManyRequests) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(conn.send(buildRequest("GET", "/echo?i=" + std::to_string(i)))) << "request " << i;
    HttpResponse resp = conn.readResponse();
    ASSERT_TRUE(resp.ok()) << "request " << i << ": " << resp.summary();
    ASSERT_FALSE(saysClose(resp)) << "request " << i;
  }
}

TEST_F(ProxyTest, ConnectionCloseFromTheClientIsHonoured) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/bytes/10", {{"Connection", "close"}})));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.body, pattern(10));
  EXPECT_TRUE(saysClose(resp)) << resp.summary();
  EXPECT_TRUE(conn.closedByPeer());
}

TEST_F(ProxyTest, ExpectContinueGetsAnInterimResponseBeforeTheBody) {
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/mirror", {{"Expect", "100-continue"}, {"Content-Length", "11"}})));
  HttpResponse interim = conn.readResponse(ReadOptions{kDefaultTimeout, false, /*stop_at_interim=*/true});
  ASSERT_TRUE(interim.ok()) << interim.summary();
  ASSERT_EQ(interim.status, 100) << "expected HTTP/1.1 100 Continue before sending the body";
  ASSERT_TRUE(conn.send("hello world"));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "hello world");
  EXPECT_EQ(backend_.lastRequest().body, "hello world");
}

TEST_F(ProxyTest, ExpectContinueWithTheBodySentAtOnce) {
  // A client that does not wait for 100: the body arrives with the head; the final answer is 200.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("PUT", "/mirror", {{"Expect", "100-continue"}}, "abc")));
  HttpResponse resp = conn.readResponse();
  ASSERT_TRUE(resp.ok()) << resp.summary();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "abc");
  // And the connection is in sync afterwards.
  ASSERT_TRUE(conn.send(buildRequest("GET", "/bytes/4")));
  resp = conn.readResponse();
  EXPECT_EQ(resp.body, pattern(4)) << resp.summary();
}

// 1,000 requests over 8 client connections with upstream max_connections = 4: the backend never
// sees more than 4 connections at once, and the gateway reuses them.
TEST_F(GatewayTest, KeepAliveReusesAtMostMaxConnectionsToTheBackend) {
  GatewayConfig config = baseConfig();
  config.workers = 2;
  config.upstream["max_connections"] = "4";
  ASSERT_TRUE(startGateway(config));
  constexpr int kClients = 8;
  constexpr int kPerClient = 125;
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      HttpConnection conn(port());
      if (!conn.connected()) {
        failures[c] = "connect: " + conn.connectError();
        return;
      }
      for (int i = 0; i < kPerClient; ++i) {
        std::string target = "/echo?c=" + std::to_string(c) + "&i=" + std::to_string(i);
        if (!conn.send(buildRequest("GET", target))) {
          failures[c] = "send failed at request " + std::to_string(i);
          return;
        }
        HttpResponse resp = conn.readResponse(std::chrono::seconds(20));
        if (!resp.ok() || resp.status != 200 || resp.header("X-Echo-Target") != target) {
          failures[c] = "request " + std::to_string(i) + ": " + resp.summary();
          return;
        }
        ok.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(failures[c], "") << "client " << c;
  EXPECT_EQ(ok.load(), kClients * kPerClient);
  EXPECT_EQ(backend_.requestCount(), static_cast<size_t>(kClients * kPerClient));
  RecordProperty("backend_connections_accepted", static_cast<int>(backend_.connectionsAccepted()));
  RecordProperty("backend_max_connections_open", backend_.maxConnectionsOpen());
  EXPECT_LE(backend_.maxConnectionsOpen(), 4) << "upstream max_connections = 4 exceeded";
  EXPECT_LE(backend_.connectionsAccepted(), 40u) << "backend connections are not being reused";
  EXPECT_GE(backend_.connectionsAccepted(), 1u);
}

TEST_F(GatewayTest, HostHeaderUpstreamModeSendsTheUpstreamAuthority) {
  GatewayConfig config = baseConfig();
  config.upstream["host_header"] = "\"upstream\"";
  ASSERT_TRUE(startGateway(config));
  HttpResponse resp = get("/echo", {{"Host", "client.example"}});
  ASSERT_TRUE(resp.ok()) << resp.summary();
  ReceivedRequest r = backend_.lastRequest();
  EXPECT_EQ(r.headerCount("Host"), 1u);
  EXPECT_EQ(r.header("Host"), "127.0.0.1:" + std::to_string(backend_.port()));
  EXPECT_EQ(r.header("X-Forwarded-Host"), "client.example");
}

TEST_F(GatewayTest, HostHeaderLiteralModeSendsTheValue) {
  GatewayConfig config = baseConfig();
  config.upstream["host_header"] = "\"api.internal\"";
  ASSERT_TRUE(startGateway(config));
  HttpResponse resp = get("/echo", {{"Host", "client.example"}});
  ASSERT_TRUE(resp.ok()) << resp.summary();
  ReceivedRequest r = backend_.lastRequest();
  EXPECT_EQ(r.headerCount("Host"), 1u);
  EXPECT_EQ(r.header("Host"), "api.internal");
}

class RoutingTest : public GatewayTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(other_.ok());
    GatewayConfig config = baseConfig();
    config.routes =
        "[[route]]\nname = \"special\"\npath = \"/api/v2/special\"\nupstream = \"backend\"\n\n"
        "[[route]]\nname = \"v2\"\nprefix = \"/api/v2/\"\nupstream = \"other\"\n\n"
        "[[route]]\nname = \"api\"\nprefix = \"/api/\"\nupstream = \"backend\"\n";
    config.extra = "[upstream.other]\nurl = \"" + other_.url() + "\"\n";
    ASSERT_TRUE(startGateway(config));
  }

  // "backend", "other" or "none" (no request reached either).
  std::string whoServed(const std::string& target) {
    size_t a = backend_.requestCount();
    size_t b = other_.requestCount();
    HttpResponse resp = get(target);
    if (!resp.ok()) return "failed: " + resp.summary();
    if (backend_.requestCount() > a) return "backend";
    if (other_.requestCount() > b) return "other";
    return "none (" + std::to_string(resp.status) + ")";
  }

  TestBackend other_;
};

TEST_F(RoutingTest, ExactPathBeatsTheLongestPrefixWhichBeatsShorterOnes) {
  EXPECT_EQ(whoServed("/api/v2/special"), "backend");
  EXPECT_EQ(whoServed("/api/v2/special?q=1"), "backend") << "the query is not part of the path";
  EXPECT_EQ(whoServed("/api/v2/special/more"), "other");
  EXPECT_EQ(whoServed("/api/v2/echo"), "other");
  EXPECT_EQ(whoServed("/api/v2/"), "other");
  EXPECT_EQ(whoServed("/api/echo"), "backend");
  EXPECT_EQ(whoServed("/api/v2"), "backend") << "\"/api/v2\" matches prefix \"/api/\", not \"/api/v2/\"";
  EXPECT_EQ(other_.lastRequest().target, "/api/v2/");
}

TEST_F(RoutingTest, ErrorsKeepTheConnectionInSync) {
  // A gateway error for a request with a body must consume (or close after) that body, and a HEAD
  // must get no body, or the next response on the connection is garbage.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.send(buildRequest("POST", "/nowhere", {}, std::string(5000, 'p')) +
                        buildRequest("HEAD", "/nowhere") + buildRequest("GET", "/api/echo?third")));
  HttpResponse first = conn.readResponse();
  EXPECT_TRUE(isGatewayError(first, 404));
  if (saysClose(first)) {
    EXPECT_TRUE(conn.closedByPeer());
    return;
  }
  HttpResponse second = conn.readResponse(kDefaultTimeout, /*head=*/true);
  EXPECT_EQ(second.status, 404) << second.summary();
  if (saysClose(second)) return;
  HttpResponse third = conn.readResponse();
  EXPECT_EQ(third.status, 200) << third.summary();
  EXPECT_EQ(third.header("X-Echo-Target"), "/api/echo?third");
}

TEST_F(RoutingTest, NoMatchingRouteIs404Json) {
  for (const char* target : {"/", "/other", "/api", "/API/echo"}) {
    SCOPED_TRACE(target);
    HttpResponse resp = get(target);
    EXPECT_TRUE(isGatewayError(resp, 404));
  }
  EXPECT_EQ(backend_.requestCount(), 0u);
  EXPECT_EQ(other_.requestCount(), 0u);
  // A 404 is not a parse error: the connection may stay open and serve the next request.
  HttpConnection conn(port());
  ASSERT_TRUE(conn.send(buildRequest("GET", "/nope")));
  HttpResponse resp = conn.readResponse();
  EXPECT_TRUE(isGatewayError(resp, 404));
  if (!saysClose(resp)) {
    ASSERT_TRUE(conn.send(buildRequest("GET", "/api/echo")));
    resp = conn.readResponse();
    EXPECT_EQ(resp.status, 200) << resp.summary();
  }
}

}  // namespace
}  // namespace perfgate::test
