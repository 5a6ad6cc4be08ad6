// What the gateway makes of backend responses that are malformed, unusual or cut short: a
// scripted backend writes exact bytes, and the client's outcome is checked.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "support/gateway_process.h"
#include "support/http_client.h"

namespace perfgate::test {
namespace {

// What the scripted backend does with one request.
struct Reply {
  std::string bytes;   // written as they are
  bool close = false;  // close the connection after writing
};

// A backend on 127.0.0.1 that answers each request with scripted raw bytes. The script gets the
// connection's number (from 0) and the request's number on that connection (from 0).
class ScriptedBackend {
 public:
  using Script = std::function<Reply(int connection, int request, const std::string& head)>;

  explicit ScriptedBackend(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listen_fd_, 64), 0);
    socklen_t length = sizeof address;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }

  ~ScriptedBackend() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    for (std::thread& t : workers_) t.join();
  }

  int port() const { return port_; }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }

 private:
  void acceptLoop() {
    while (!stopping_) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      int index = connections_++;
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd, index] { serve(fd, index); });
    }
  }

  void serve(int fd, int connection) {
    std::string buffer;
    for (int request = 0;; ++request) {
      size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        char chunk[4096];
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
          ::close(fd);
          return;
        }
        buffer.append(chunk, static_cast<size_t>(n));
      }
      std::string head = buffer.substr(0, end + 4);
      buffer.erase(0, end + 4);
      ++requests_;
      Reply reply = script_(connection, request, head);
      ::send(fd, reply.bytes.data(), reply.bytes.size(), MSG_NOSIGNAL);
      if (reply.close) {
        ::shutdown(fd, SHUT_WR);
        char sink[256];
        while (::recv(fd, sink, sizeof sink, 0) > 0) {
        }
        ::close(fd);
        return;
      }
    }
  }

  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

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
  const char* bytes;
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

}  // namespace
}  // namespace perfgate::test
