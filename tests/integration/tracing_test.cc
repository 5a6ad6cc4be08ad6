// W3C trace context and OTLP export, against a collector stub on 127.0.0.1: a span per request
// (child of the client's traceparent, or a new root), the backend's traceparent naming that span,
// tracestate untouched, the cache verdict and upstream time as attributes; an unsampled parent
// is followed; without [tracing] the fields pass through untouched.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "filters/tracing/trace_context.h"
#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Accepts OTLP/HTTP JSON posts (one per connection) and keeps their spans.
class CollectorStub {
 public:
  CollectorStub() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(fd_, 16);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CollectorStub() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

  // The spans received, once there are at least `count` (within 5 s).
  std::vector<nlohmann::json> waitForSpans(size_t count) {
    auto deadline = std::chrono::steady_clock::now() + seconds(5);
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (spans_.size() >= count || std::chrono::steady_clock::now() > deadline) return spans_;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  std::string path() {
    std::lock_guard<std::mutex> lock(mutex_);
    return path_;
  }

 private:
  void serve() {
    while (!stopping_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buffer[65536];
      size_t head_end = std::string::npos;
      size_t length = 0;
      while (true) {
        ssize_t n = ::recv(c, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        in.append(buffer, static_cast<size_t>(n));
        if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
          size_t at = in.find("Content-Length: ");
          if (at == std::string::npos) at = in.find("content-length: ");
          length = at == std::string::npos ? 0 : std::stoul(in.substr(at + 16));
        }
        if (head_end != std::string::npos && in.size() >= head_end + 4 + length) break;
      }
      const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
      [[maybe_unused]] ssize_t w = ::send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
      ::close(c);
      if (head_end == std::string::npos) continue;
      nlohmann::json body = nlohmann::json::parse(in.substr(head_end + 4), nullptr, false);
      std::lock_guard<std::mutex> lock(mutex_);
      path_ = in.substr(in.find(' ') + 1, in.find(' ', in.find(' ') + 1) - in.find(' ') - 1);
      if (body.is_discarded()) continue;
      for (auto& resource : body["resourceSpans"]) {
        for (auto& scope : resource["scopeSpans"]) {
          for (auto& span : scope["spans"]) {
            span["service"] = resource["resource"]["attributes"][0]["value"]["stringValue"];
            spans_.push_back(span);
          }
        }
      }
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<nlohmann::json> spans_;
  std::string path_;
};

std::string attribute(const nlohmann::json& span, const std::string& key) {
  for (const auto& a : span["attributes"]) {
    if (a["key"] == key) {
      const auto& v = a["value"];
      if (v.contains("stringValue")) return v["stringValue"];
      if (v.contains("intValue")) return v["intValue"];
      if (v.contains("doubleValue")) return v["doubleValue"].dump();
    }
  }
  return "";
}

const std::string kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
const std::string kParent = "00f067aa0ba902b7";

TEST_F(GatewayTest, SpansAreExportedAsChildrenOfTheClientsTraceAndParentTheBackendsRequest) {
  CollectorStub collector;
  GatewayConfig config = baseConfig();
  config.extra = "[tracing]\notlp_endpoint = \"http://127.0.0.1:" + std::to_string(collector.port()) +
                 "/v1/traces\"\nflush_interval = \"50ms\"\nservice_name = \"edge\"\n";
  ASSERT_TRUE(startGateway(config));

  const std::string cached = "/cache/traced?cc=" + urlEncode("max-age=60");
  HttpResponse miss = get(cached, {{"traceparent", "00-" + kTrace + "-" + kParent + "-01"}, {"tracestate", "vendor=a1"}});
  ASSERT_EQ(miss.status, 200);
  ReceivedRequest sent = backend_.requestsTo(cached).at(0);
  std::string forwarded = sent.header("traceparent");
  ASSERT_EQ(forwarded.size(), 55u) << forwarded;
  EXPECT_EQ(forwarded.substr(0, 36), "00-" + kTrace + "-") << "the same trace";
  EXPECT_NE(forwarded.substr(36, 16), kParent) << "the backend's parent is perfgate's span";
  EXPECT_EQ(forwarded.substr(52), "-01");
  EXPECT_EQ(sent.header("tracestate"), "vendor=a1") << "tracestate passes untouched";
  get(cached, {{"traceparent", "00-" + kTrace + "-" + kParent + "-01"}});  // a hit

  std::vector<nlohmann::json> spans = collector.waitForSpans(2);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(collector.path(), "/v1/traces");
  const nlohmann::json& first = spans[0];
  EXPECT_EQ(first["traceId"], kTrace);
  EXPECT_EQ(first["parentSpanId"], kParent);
  EXPECT_EQ(first["spanId"], forwarded.substr(36, 16));
  EXPECT_EQ(first["kind"], 2);
  EXPECT_EQ(first["service"], "edge");
  EXPECT_EQ(attribute(first, "http.response.status_code"), "200");
  EXPECT_EQ(attribute(first, "perfgate.cache"), "miss");
  EXPECT_EQ(attribute(first, "perfgate.upstream"), "backend");
  EXPECT_NE(attribute(first, "perfgate.upstream_ms"), "");
  EXPECT_EQ(attribute(first, "http.request_id"), miss.header("X-Request-Id"));
  EXPECT_LE(std::stoll(first["startTimeUnixNano"].get<std::string>()),
            std::stoll(first["endTimeUnixNano"].get<std::string>()));
  EXPECT_EQ(attribute(spans[1], "perfgate.cache"), "hit");
  EXPECT_EQ(attribute(spans[1], "perfgate.upstream"), "") << "a hit went to no upstream";

  // Not sampled by the client: followed (the backend hears so), and no span.
  get("/echo?unsampled", {{"traceparent", "00-" + kTrace + "-" + kParent + "-00"}});
  EXPECT_EQ(backend_.requestsTo("/echo?unsampled").at(0).header("traceparent").substr(52), "-00");
  // No traceparent: a new root trace.
  get("/echo?root");
  std::string root = backend_.requestsTo("/echo?root").at(0).header("traceparent");
  ASSERT_TRUE(parseTraceparent(root).has_value()) << root;
  spans = collector.waitForSpans(3);
  ASSERT_EQ(spans.size(), 3u) << "the unsampled request made no span";
  EXPECT_EQ(spans[2]["traceId"], root.substr(3, 32));
  EXPECT_FALSE(spans[2].contains("parentSpanId"));
  HttpResponse metrics = request(gateway_->adminPort(), "GET", "/metrics");
  EXPECT_NE(metrics.body.find("perfgate_tracing_spans_total{result=\"exported\"} 3"), std::string::npos);
}

TEST_F(GatewayTest, WithoutTracingTraceContextPassesThroughUntouched) {
  ASSERT_TRUE(startGateway(baseConfig()));
  const std::string parent = "00-" + kTrace + "-" + kParent + "-01";
  get("/echo?plain", {{"traceparent", parent}, {"tracestate", "congo=t61rcWkgMzE"}});
  ReceivedRequest sent = backend_.requestsTo("/echo?plain").at(0);
  EXPECT_EQ(sent.header("traceparent"), parent);
  EXPECT_EQ(sent.header("tracestate"), "congo=t61rcWkgMzE");
}

TEST(TraceContextTest, TraceparentIsReadAsTheSpecSays) {
  EXPECT_TRUE(parseTraceparent("00-" + kTrace + "-" + kParent + "-01"));
  EXPECT_TRUE(parseTraceparent("cc-" + kTrace + "-" + kParent + "-01-what-the-future-holds"));
  for (const std::string& bad :
       {"00-" + kTrace + "-" + kParent + "-01-extra", "ff-" + kTrace + "-" + kParent + "-01",
        "00-00000000000000000000000000000000-" + kParent + "-01", "00-" + kTrace + "-0000000000000000-01",
        "00-" + std::string(32, 'A') + "-" + kParent + "-01", "00-" + kTrace + "-" + kParent + "-1",
        std::string("garbage")}) {
    EXPECT_FALSE(parseTraceparent(bad)) << bad;
  }
  std::optional<TraceParent> p = parseTraceparent("00-" + kTrace + "-" + kParent + "-03");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->flags, 3);
  EXPECT_EQ(formatTraceparent(p->trace_id, p->parent_id, 1), "00-" + kTrace + "-" + kParent + "-01");
}

}  // namespace
}  // namespace perfgate::test
