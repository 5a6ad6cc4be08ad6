// https:// upstreams go through libcurl: a real TLS backend (openssl s_server) on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "support/gateway_process.h"
#include "support/http_client.h"

namespace perfgate::test {
namespace {

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

bool accepting(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// openssl s_server -www on loopback with a fresh self-signed certificate for 127.0.0.1.
class TlsBackend {
 public:
  TlsBackend() {
    cert_ = dir_.file("cert.pem");
    std::string key = dir_.file("key.pem");
    std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                          "-addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert_ +
                          " >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) return;
    port_ = freePort();
    pid_ = fork();
    if (pid_ == 0) {
      std::string port = std::to_string(port_);
      execlp("openssl", "openssl", "s_server", "-accept", port.c_str(), "-cert", cert_.c_str(), "-key",
             key.c_str(), "-www", "-quiet", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 100 && !accepting(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ready_ = accepting(port_);
  }
  ~TlsBackend() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }
  int port() const { return port_; }
  const std::string& certificate() const { return cert_; }

 private:
  TempDir dir_;
  std::string cert_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
};

TEST(HttpsUpstream, ProxiesThroughTlsWithTheConfiguredCa) {
  TlsBackend backend;
  if (!backend.ready()) GTEST_SKIP() << "openssl s_server could not be started";
  GatewayConfig config;
  config.workers = 1;
  config.upstream["url"] = "\"https://127.0.0.1:" + std::to_string(backend.port()) + "\"";
  config.upstream["tls_ca_file"] = "\"" + backend.certificate() + "\"";
  GatewayProcess gateway(config.toToml());
  ASSERT_TRUE(gateway.ready()) << gateway.failure();

  HttpResponse response = request(gateway.listenPort(), "GET", "/", {}, "");
  EXPECT_EQ(response.status, 200) << response.summary();
  EXPECT_NE(response.body.find("<HTML>"), std::string::npos);
  EXPECT_TRUE(response.complete);
  EXPECT_EQ(response.header("Via"), "1.1 perfgate");
}

TEST(HttpsUpstream, UntrustedCertificateIs502) {
  TlsBackend backend;
  if (!backend.ready()) GTEST_SKIP() << "openssl s_server could not be started";
  GatewayConfig config;
  config.workers = 1;
  config.upstream["url"] = "\"https://127.0.0.1:" + std::to_string(backend.port()) + "\"";
  GatewayProcess gateway(config.toToml());
  ASSERT_TRUE(gateway.ready()) << gateway.failure();

  HttpResponse response = request(gateway.listenPort(), "GET", "/", {}, "");
  EXPECT_EQ(response.status, 502) << response.summary();
}

}  // namespace
}  // namespace perfgate::test
