// The sample backend's threads: one Worker per thread, each with its own event_base and its own
// SO_REUSEPORT listener on the same address, so the kernel spreads connections and nothing is
// shared on the request path except relaxed per-worker counters.
#pragma once

#include <event2/util.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct event;
struct event_base;
struct evconnlistener;

namespace sample_backend {

struct Options {
  std::string listen = "127.0.0.1:8000";
  int threads = 1;
  uint32_t latency_min_ms = 0;  // added delay for /api/*, uniform in [min, max]
  uint32_t latency_max_ms = 0;
};

class Connection;

class Worker {
 public:
  Worker(const Options& options, uint64_t seed, const std::vector<std::unique_ptr<Worker>>& all);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the event_base and the listener on `addr` (SO_REUSEPORT). False with a message on failure.
  bool listen(const struct sockaddr* addr, int addr_len, std::string* error);
  evutil_socket_t listenerFd() const;
  void run();  // until the process ends

  event_base* base() const { return base_; }
  // "Date: <IMF-fixdate>\r\n", rebuilt at most once a second.
  const std::string& dateLine();
  // The delay to add to an /api/* response, in ms (0 without --latency).
  uint32_t latencyMs();

  void countRequest() { bump(requests_); }
  void countClosed() { bump(closed_); }
  // Deletes the connection at a safe point, after the callback that closed it has returned.
  void retire(Connection* connection);
  // {"requests": N, "connections_accepted": N, "connections_open": N}, merged over all workers.
  std::string statsJson() const;

 private:
  // Each counter has one writer (its worker), so a relaxed load+store is enough.
  static void bump(std::atomic<uint64_t>& c) { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  static void onAccept(evconnlistener* listener, evutil_socket_t fd, struct sockaddr* addr, int len, void* arg) noexcept;
  static void onAcceptError(evconnlistener* listener, void* arg) noexcept;
  static void onResumeAccept(evutil_socket_t fd, short what, void* arg) noexcept;
  static void onReap(evutil_socket_t fd, short what, void* arg) noexcept;

  const Options& options_;
  const std::vector<std::unique_ptr<Worker>>& all_;
  event_base* base_ = nullptr;
  evconnlistener* listener_ = nullptr;
  event* reap_event_ = nullptr;
  event* resume_accept_event_ = nullptr;
  std::vector<Connection*> retired_;
  std::string date_line_;
  int64_t date_second_ = -1;
  uint64_t rng_;

  alignas(64) std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> closed_{0};
};

class Server {
 public:
  explicit Server(Options options);
  ~Server();

  // Binds every worker's listener. False with a message on failure (bad address, port in use).
  bool bind(std::string* error);
  // The bound address as HOST:PORT (the real port when 0 was asked for).
  const std::string& address() const { return address_; }
  // Serves until the process is signalled.
  void run();

 private:
  Options options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::string address_;
};

}  // namespace sample_backend
