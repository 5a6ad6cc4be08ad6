#include "support/scripted_backend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace perfgate::test {

ScriptedBackend::ScriptedBackend(Script script) : script_(std::move(script)) {
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

ScriptedBackend::~ScriptedBackend() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  for (std::thread& t : workers_) t.join();
}

std::vector<std::string> ScriptedBackend::heads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return heads_;
}

void ScriptedBackend::acceptLoop() {
  while (!stopping_) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    int index = connections_++;
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd, index] { serve(fd, index); });
  }
}

void ScriptedBackend::serve(int fd, int connection) {
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
    {
      std::lock_guard<std::mutex> lock(mu_);
      heads_.push_back(head);
    }
    ++requests_;
    Reply reply = script_(connection, request, head);
    ::send(fd, reply.bytes.data(), reply.bytes.size(), MSG_NOSIGNAL);
    if (!reply.later.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(reply.later_ms));
      ::send(fd, reply.later.data(), reply.later.size(), MSG_NOSIGNAL);
    }
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

}  // namespace perfgate::test
