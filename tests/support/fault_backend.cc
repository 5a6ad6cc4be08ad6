#include "support/fault_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>

namespace perfgate::test {
namespace {

bool sendAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Makes the next close() send a reset instead of a FIN.
void resetOnClose(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

std::string response(int status, const std::string& extra, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: text/plain\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A socket bound to 127.0.0.1:port with SO_REUSEPORT (so that a stopped backend's placeholder and
// its successor's listener can hold the port together); -1 on failure.
int bindLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

FaultBackend::FaultBackend(int port) {
  int fd = bindLoopback(port);
  if (fd < 0) return;
  if (::listen(fd, 1024) != 0) {
    ::close(fd);
    return;
  }
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  listen_fd_ = fd;
  acceptor_ = std::thread([this] { acceptLoop(); });
}

FaultBackend::~FaultBackend() {
  stop();
  if (placeholder_fd_ >= 0) ::close(placeholder_fd_);
}

void FaultBackend::stop() {
  if (stopping_.exchange(true)) return;
  if (listen_fd_ >= 0) {
    // The port stays bound (not listening: connections are refused) until this object goes, so
    // that nothing else on the machine takes it before the test restarts the backend there.
    placeholder_fd_ = bindLoopback(port_);
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
  }
  std::list<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) {
      resetOnClose(fd);
      ::shutdown(fd, SHUT_RDWR);
    }
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

void FaultBackend::acceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_ || (errno != EINTR && errno != ECONNABORTED && errno != EMFILE)) return;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    fds_.insert(fd);
    ++open_;
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void FaultBackend::forget(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  fds_.erase(fd);
  ::close(fd);
  --open_;
}

void FaultBackend::serve(int fd) {
  std::string buf;
  while (!stopping_) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      char chunk[8192];
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return forget(fd);
      buf.append(chunk, static_cast<size_t>(n));
    }
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);  // GET requests only: no body follows
    ++requests_;
    size_t sp1 = head.find(' ');
    size_t sp2 = head.find(' ', sp1 + 1);
    std::string target = sp1 == std::string::npos ? "" : head.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string path = target.substr(0, target.find('?'));

    if (path.rfind("/ok/", 0) == 0) {
      const bool close = target.find("close=1") != std::string::npos;
      if (!sendAll(fd, response(200, close ? "Connection: close\r\n" : "", "ok " + target + "\n")) || close) {
        return forget(fd);
      }
    } else if (path.rfind("/cacheable/", 0) == 0) {
      if (!sendAll(fd, response(200, "Cache-Control: max-age=1\r\n", "cacheable " + target + "\n"))) {
        return forget(fd);
      }
    } else if (path == "/reset-mid-headers") {
      sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/pl");
      resetOnClose(fd);
      return forget(fd);
    } else if (path == "/reset-mid-body") {
      sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'b'));
      resetOnClose(fd);
      return forget(fd);
    } else if (path == "/garbage-status") {
      sendAll(fd, "HTTP/1.1 2xx Whatever\r\nContent-Length: 0\r\n\r\n");
      return forget(fd);
    } else if (path == "/not-http") {
      sendAll(fd, std::string("\x15\x03\x01\x00\x02\x02\x50 garbage\r\n\r\n", 19));
      return forget(fd);
    } else if (path == "/oversized-head") {
      sendAll(fd, response(200, "X-Big: " + std::string(100 * 1024, 'h') + "\r\n", "big head\n"));
      return forget(fd);
    } else if (path == "/endless") {
      if (!sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) return forget(fd);
      const std::string chunk = "400\r\n" + std::string(1024, 'e') + "\r\n";
      while (!stopping_ && sendAll(fd, chunk)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      return forget(fd);
    } else if (path.rfind("/slow-first-byte/", 0) == 0) {
      int ms = std::atoi(path.c_str() + 17);
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      while (!stopping_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      sendAll(fd, response(200, "Connection: close\r\n", "late\n"));
      return forget(fd);
    } else {
      if (!sendAll(fd, response(404, "", "no such fault\n"))) return forget(fd);
    }
  }
  forget(fd);
}

}  // namespace perfgate::test
