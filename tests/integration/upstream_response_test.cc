// What the gateway makes of backend responses that are malformed, unusual or cut short: a
// scripted backend writes exact bytes, and the client's outcome is checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/gateway_process.h"
#include "support/http_client.h"
#include "support/scripted_backend.h"

namespace perfgate::test {
namespace {

std::unique_ptr<GatewayProcess> gatewayFor(const ScriptedBackend& backend) {
  GatewayConfig config;
  config.backend_port = backend.port();
  config.workers = 1;
  config.upstream["response_timeout"] = "\"3s\"";
  auto gateway = std::make_unique<GatewayProcess>(config.toToml());
  EXPECT_TRUE(gateway->ready()) << gateway->failure();
  return gateway;
}

HttpResponse get(int port, const std::string& path, const std::string& method = "GET") {
  HttpConnection connection(port);
  EXPECT_TRUE(connection.connected());
  connection.send(method + " " + path + " HTTP/1.1\r\nHost: test\r\n" +
                  (method == "POST" ? "Content-Length: 0\r\n" : "") + "\r\n");
  return connection.readResponse();
}

struct BadHead {
  const char* name;
  std::string bytes;
};

class MalformedResponseHead : public ::testing::TestWithParam<BadHead> {};

TEST_P(MalformedResponseHead, Answered502WithJson) {
  std::string bytes = GetParam().bytes;
  ScriptedBackend backend([&](int, int, const std::string&) { return Reply{bytes, true}; });
  auto gateway = gatewayFor(backend);
  HttpResponse response = get(gateway->listenPort(), "/x");
  EXPECT_EQ(response.status, 502) << response.summary();
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  EXPECT_NE(response.body.find("\"status\": 502"), std::string::npos) << response.body;
}

INSTANTIATE_TEST_SUITE_P(
    UpstreamResponse, MalformedResponseHead,
    ::testing::Values(
        BadHead{"GarbageStatusLine", "HELLO THERE\r\n\r\n"},
        BadHead{"NonNumericStatus", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"},
        BadHead{"ObsFold", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n"},
        BadHead{"BareCrInValue", "HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n"},
        BadHead{"SpaceBeforeColon", "HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n"},
        BadHead{"ConflictingLengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"},
        BadHead{"BadLength", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
        BadHead{"SwitchingProtocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"},
        BadHead{"ClosedMidHead", "HTTP/1.1 200 OK\r\nContent-Le"},
        // Response splitting through the status line: the reason phrase is relayed, so a bare LF,
        // CR or NUL in it would start a field of the backend's choosing at the client.
        BadHead{"BareLfInReason", "HTTP/1.1 200 OK\nSet-Cookie: injected=1\nContent-Length: 0\r\n\r\n"},
        BadHead{"BareCrInReason", "HTTP/1.1 200 OK\rSet-Cookie: injected=1\r\nContent-Length: 0\r\n\r\n"},
        BadHead{"NulInReason", std::string("HTTP/1.1 200 O\0K\r\nContent-Length: 0\r\n\r\n", 39)},
        BadHead{"StatusZero", "HTTP/1.1 000 Nothing\r\nContent-Length: 0\r\n\r\n"},
        BadHead{"StatusAbove599", "HTTP/1.1 600 Beyond\r\nContent-Length: 0\r\n\r\n"},
        BadHead{"UnknownMinorVersion", "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n"},
        BadHead{"LengthBesideChunked", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        BadHead{"ControlByteInValue", "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n"},
        BadHead{"NothingAtAll", ""}),
    [](const ::testing::TestParamInfo<BadHead>& case_info) { return std::string(case_info.param.name); });

TEST(UpstreamResponse, OversizedHeadIs502) {
  std::string bytes = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\nContent-Length: 0\r\n\r\n";
  ScriptedBackend backend([&](int, int, const std::string&) { return Reply{bytes, true}; });
  auto gateway = gatewayFor(backend);
  EXPECT_EQ(get(gateway->listenPort(), "/x").status, 502);
}

TEST(UpstreamResponse, InterimResponsesAreSkipped) {
  ScriptedBackend backend([](int, int, const std::string&) {
    return Reply{"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"};
  });
  auto gateway = gatewayFor(backend);
  HttpResponse response = get(gateway->listenPort(), "/x");
  EXPECT_EQ(response.status, 200) << response.summary();
  EXPECT_EQ(response.body, "hello");
}

TEST(UpstreamResponse, CloseDelimitedBodyIsRechunkedForHttp11Clients) {
  ScriptedBackend backend([](int, int, const std::string&) {
    return Reply{"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + std::string(100000, 'z'), true};
  });
  auto gateway = gatewayFor(backend);
  HttpResponse response = get(gateway->listenPort(), "/x");
  EXPECT_EQ(response.status, 200) << response.summary();
  EXPECT_EQ(response.framing, Framing::Chunked);
  EXPECT_TRUE(response.complete);
  EXPECT_EQ(response.body, std::string(100000, 'z'));
}

TEST(UpstreamResponse, ChunkedTrailersAreConsumedAndBodyKept) {
  ScriptedBackend backend([](int, int, const std::string&) {
    return Reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"};
  });
  auto gateway = gatewayFor(backend);
  HttpConnection connection(gateway->listenPort());
  for (int i = 0; i < 3; ++i) {  // the connection stays in step after a trailer section
    connection.send("GET /x HTTP/1.1\r\nHost: test\r\n\r\n");
    HttpResponse response = connection.readResponse();
    EXPECT_EQ(response.status, 200) << response.summary();
    EXPECT_EQ(response.body, "abcde");
    EXPECT_TRUE(response.terminator_seen);
  }
  EXPECT_EQ(backend.connections(), 1);
}

TEST(UpstreamResponse, BrokenChunkFramingAbortsTheClientConnection) {
  ScriptedBackend backend([](int, int, const std::string&) {
    return Reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n", true};
  });
  auto gateway = gatewayFor(backend);
  HttpConnection connection(gateway->listenPort());
  connection.send("GET /x HTTP/1.1\r\nHost: test\r\n\r\n");
  HttpResponse response = connection.readResponse();
  EXPECT_EQ(response.status, 200);
  EXPECT_FALSE(response.terminator_seen) << response.summary();
  EXPECT_FALSE(response.complete);
  EXPECT_TRUE(response.peer_closed || connection.closedByPeer());
}

// A keep-alive connection the backend drops just as it is reused: an idempotent request is
// retried once on a fresh connection; a POST is not (it may have been acted on).
TEST(UpstreamResponse, StaleKeepAliveConnectionRetriedForIdempotentRequests) {
  ScriptedBackend backend([](int connection, int request, const std::string&) {
    if (connection == 0 && request == 1) return Reply{"", true};  // drop the reused connection
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
  });
  auto gateway = gatewayFor(backend);
  HttpConnection client(gateway->listenPort());
  client.send("GET /a HTTP/1.1\r\nHost: test\r\n\r\n");
  EXPECT_EQ(client.readResponse().status, 200);
  client.send("GET /b HTTP/1.1\r\nHost: test\r\n\r\n");
  HttpResponse second = client.readResponse();
  EXPECT_EQ(second.status, 200) << second.summary();
  EXPECT_EQ(second.body, "ok");
  EXPECT_EQ(backend.connections(), 2);
  EXPECT_EQ(backend.requests(), 3);
}

TEST(UpstreamResponse, StaleKeepAliveConnectionNotRetriedForPost) {
  ScriptedBackend backend([](int connection, int request, const std::string&) {
    if (connection == 0 && request == 1) return Reply{"", true};
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
  });
  auto gateway = gatewayFor(backend);
  HttpConnection client(gateway->listenPort());
  client.send("GET /a HTTP/1.1\r\nHost: test\r\n\r\n");
  EXPECT_EQ(client.readResponse().status, 200);
  client.send("POST /b HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(client.readResponse().status, 502);
  EXPECT_EQ(backend.requests(), 2);
}

TEST(UpstreamResponse, ConnectionCloseFromBackendIsNotReused) {
  ScriptedBackend backend([](int, int, const std::string&) {
    return Reply{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true};
  });
  auto gateway = gatewayFor(backend);
  HttpConnection client(gateway->listenPort());
  for (int i = 0; i < 3; ++i) {
    client.send("GET /a HTTP/1.1\r\nHost: test\r\n\r\n");
    HttpResponse response = client.readResponse();
    EXPECT_EQ(response.status, 200) << response.summary();
    EXPECT_FALSE(response.hasHeader("Connection") && response.header("Connection") == "close")
        << "the backend's Connection is hop-by-hop; the client connection stays open";
  }
  EXPECT_EQ(backend.connections(), 3);
  EXPECT_EQ(backend.requests(), 3);
}

// The connection reads what the socket has (one recv per readable event) and keeps only what the
// transfer has not taken: a response split at any byte, head or body, length or chunked, arrives
// whole, and the connection carries the next request cleanly.
TEST(UpstreamResponse, ResponsesSplitAnywhereAcrossReadsArriveWhole) {
  const std::string sized = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world";
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  // Split points: inside the status line, a field name, the blank line, the body, a chunk-size line.
  const std::vector<size_t> splits = {3, 20, 46, 47, 49, 60, 64, 68};
  ScriptedBackend backend([&](int, int request, const std::string&) {
    const std::string& whole = request % 2 == 0 ? sized : chunked;
    size_t at = std::min(splits[static_cast<size_t>(request / 2) % splits.size()], whole.size() - 1);
    return Reply(whole.substr(0, at), false, whole.substr(at), 20);
  });
  auto gateway = gatewayFor(backend);
  HttpConnection client(gateway->listenPort());
  for (int i = 0; i < static_cast<int>(splits.size()) * 2; ++i) {
    client.send("GET /split/" + std::to_string(i) + " HTTP/1.1\r\nHost: test\r\n\r\n");
    HttpResponse response = client.readResponse();
    EXPECT_EQ(response.status, 200) << "request " << i << ": " << response.summary();
    EXPECT_EQ(response.body, "hello world") << "request " << i;
  }
  EXPECT_EQ(backend.connections(), 1) << "every response ended cleanly, so the one connection carried them all";
  EXPECT_EQ(backend.requests(), static_cast<int>(splits.size()) * 2);
}

}  // namespace
}  // namespace perfgate::test
