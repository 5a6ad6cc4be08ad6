// systemd's Type=notify protocol, seen from a notify socket of the test's own (what systemd
// binds as $NOTIFY_SOCKET): READY=1 once perfgate serves, RELOADING=1 then READY=1 around a
// SIGHUP reload, STOPPING=1 at SIGTERM, and WATCHDOG=1 repeatedly when $WATCHDOG_USEC is set.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

class NotifySocket {
 public:
  NotifySocket() {
    path_ = (std::filesystem::temp_directory_path() / ("perfgate-notify-" + std::to_string(getpid()))).string();
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path_.copy(address.sun_path, sizeof address.sun_path - 1);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    timeval wait{0, 100'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }

  // Messages received until one contains `needle` (true) or `timeout` passes (false).
  bool waitFor(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      char buffer[4096];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      messages.emplace_back(buffer, static_cast<size_t>(n));
      if (messages.back().find(needle) != std::string::npos) return true;
    }
    return false;
  }
  std::vector<std::string> messages;

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST_F(GatewayTest, TellsTheServiceManagerReadyReloadingStoppingAndKeepsTheWatchdogFed) {
  NotifySocket notify;
  ASSERT_TRUE(notify.bound());
  ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);  // a ping every 200 ms
  bool started = startGateway(baseConfig());
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ASSERT_TRUE(started);
  ASSERT_TRUE(notify.waitFor("READY=1", std::chrono::seconds(5)));
  EXPECT_NE(notify.messages.back().find("STATUS=serving on 127.0.0.1:"), std::string::npos) << notify.messages.back();
  ASSERT_TRUE(notify.waitFor("WATCHDOG=1", std::chrono::seconds(2)));
  ASSERT_TRUE(notify.waitFor("WATCHDOG=1", std::chrono::seconds(2))) << "the watchdog is fed repeatedly";

  ASSERT_TRUE(gateway_->signal(SIGHUP));
  ASSERT_TRUE(notify.waitFor("RELOADING=1", std::chrono::seconds(5)));
  EXPECT_NE(notify.messages.back().find("MONOTONIC_USEC="), std::string::npos);
  ASSERT_TRUE(notify.waitFor("READY=1", std::chrono::seconds(5))) << "READY=1 again after the reload";

  ASSERT_TRUE(gateway_->signal(SIGTERM));
  EXPECT_TRUE(notify.waitFor("STOPPING=1", std::chrono::seconds(5)));
  ASSERT_TRUE(gateway_->waitExit(std::chrono::seconds(10)).has_value());
}

}  // namespace
}  // namespace perfgate::test
