// A backend that fails in the ways a network and a broken origin do, for fault, load and soak
// tests: one thread per connection over blocking sockets on 127.0.0.1, answering GET requests by
// path. It can listen on a given port, so a test can stop it ("kill") and start it again on the
// same port.
//
//   /ok/ANY                  200, body "ok <target>\n", keep-alive (closed when the query has close=1)
//   /cacheable/ANY           200, Cache-Control: max-age=1, body "cacheable <target>\n", keep-alive
//   /reset-mid-headers       part of a response head, then a reset (RST)
//   /reset-mid-body          200 with Content-Length 100000, 1000 bytes of it, then a reset
//   /garbage-status          "HTTP/1.1 2xx Whatever" with a non-numeric status, then close
//   /not-http                bytes that are no HTTP response at all, then close
//   /oversized-head          200 with a 100 KiB header field
//   /endless                 200, chunked, 1 KiB chunks every 2 ms until the peer goes away
//   /slow-first-byte/MS      nothing for MS milliseconds, then 200 "late\n"
// Any other path: 404, keep-alive.
#pragma once

#include <atomic>
#include <list>
#include <mutex>
#include <set>
#include <thread>

namespace perfgate::test {

class FaultBackend {
 public:
  // Listens on 127.0.0.1:port (0: an ephemeral port); check ok().
  explicit FaultBackend(int port = 0);
  // stop()s.
  ~FaultBackend();
  FaultBackend(const FaultBackend&) = delete;
  FaultBackend& operator=(const FaultBackend&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  int port() const { return port_; }
  // Closes the listener and resets every open connection, as a crashed process would; joins
  // every thread. Idempotent. The port stays reserved (connections to it are refused) until this
  // object is destroyed, so a successor made on the same port before then gets it.
  void stop();

  uint64_t requests() const { return requests_.load(); }
  int connectionsOpen() const { return open_.load(); }

 private:
  void acceptLoop();
  void serve(int fd);
  void forget(int fd);

  int listen_fd_ = -1;
  int placeholder_fd_ = -1;  // binds port_ after stop()
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> requests_{0};
  std::atomic<int> open_{0};
  std::mutex mu_;
  std::set<int> fds_;
  std::list<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace perfgate::test
