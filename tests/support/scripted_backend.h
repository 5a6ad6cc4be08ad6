// A backend on 127.0.0.1 (ephemeral port) that answers each request with scripted raw bytes, for
// tests of what the gateway makes of malformed, unusual, desynchronising or cut-short responses.
// One thread per connection over blocking sockets; the script gets the connection's number (from
// 0), the request's number on that connection (from 0) and the request head as received.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace perfgate::test {

// What the scripted backend does with one request.
struct Reply {
  Reply(std::string first, bool close_after = false, std::string late = {}, int late_ms = 50)
      : bytes(std::move(first)), close(close_after), later(std::move(late)), later_ms(late_ms) {}

  std::string bytes;   // written as they are, in one send()
  bool close;          // close the connection after writing (after `later`, when set)
  // Written in a second send() `later_ms` after the first: bytes a backend sends late (a body
  // after a bodiless response, say), which the gateway cannot tell from the next response.
  std::string later;
  int later_ms;
};

class ScriptedBackend {
 public:
  using Script = std::function<Reply(int connection, int request, const std::string& head)>;

  explicit ScriptedBackend(Script script);
  ~ScriptedBackend();
  ScriptedBackend(const ScriptedBackend&) = delete;
  ScriptedBackend& operator=(const ScriptedBackend&) = delete;

  int port() const { return port_; }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }
  // The request heads received, in arrival order.
  std::vector<std::string> heads() const;

 private:
  void acceptLoop();
  void serve(int fd, int connection);

  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
  std::vector<std::string> heads_;
  std::thread acceptor_;
};

}  // namespace perfgate::test
