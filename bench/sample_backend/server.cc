#include "server.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "connection.h"
#include "content.h"

namespace sample_backend {
namespace {

constexpr int kBacklog = 4096;

std::string formatAddress(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    evutil_inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  evutil_inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
  port = ntohs(a->sin_port);
  return std::string(host) + ":" + std::to_string(port);
}

uint16_t portOf(const sockaddr_storage& ss) {
  return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port
                                        : reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

void setPort(sockaddr_storage& ss, uint16_t port) {
  if (ss.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(port);
  }
}

// HOST:PORT with an IPv4 address, [IPv6] or localhost; port 0 is allowed (libevent's parser refuses it).
bool parseListen(const std::string& spec, sockaddr_storage* ss, int* len) {
  const size_t colon = spec.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = spec.substr(0, colon);
  const std::string port_text = spec.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const long port = std::strtol(port_text.c_str(), nullptr, 10);
  if (port > 65535) return false;
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  *ss = {};
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    auto* a = reinterpret_cast<sockaddr_in6*>(ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *a;
    return evutil_inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a->sin6_addr) == 1;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(static_cast<uint16_t>(port));
  *len = sizeof *a;
  return evutil_inet_pton(AF_INET, host.c_str(), &a->sin_addr) == 1;
}

// SO_REUSEPORT would let us silently share a port with a forgotten instance; bind a plain socket
// first so that a taken port is an error, as users expect.
bool portIsFree(const sockaddr_storage& ss, int len, std::string* error) {
  evutil_socket_t fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // TIME_WAIT leftovers are fine
  bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&ss), static_cast<socklen_t>(len)) == 0;
  if (!ok) *error = "cannot bind " + formatAddress(ss) + ": " + std::strerror(errno);
  ::close(fd);
  return ok;
}

}  // namespace

Worker::Worker(const Options& options, uint64_t seed, const std::vector<std::unique_ptr<Worker>>& all)
    : options_(options), all_(all), rng_(seed | 1) {}

Worker::~Worker() {
  for (Connection* c : retired_) delete c;
  if (listener_ != nullptr) evconnlistener_free(listener_);
  if (reap_event_ != nullptr) event_free(reap_event_);
  if (resume_accept_event_ != nullptr) event_free(resume_accept_event_);
  if (base_ != nullptr) event_base_free(base_);
}

bool Worker::listen(const sockaddr* addr, int addr_len, std::string* error) {
  // One thread per base and no evthread locking: nothing here is touched by another thread.
  event_config* cfg = event_config_new();
  if (cfg == nullptr) {
    *error = "event_config_new failed";
    return false;
  }
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
  base_ = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (base_ == nullptr) {
    *error = "event_base_new failed";
    return false;
  }
  reap_event_ = event_new(base_, -1, 0, &Worker::onReap, this);
  resume_accept_event_ = evtimer_new(base_, &Worker::onResumeAccept, this);
  if (reap_event_ == nullptr || resume_accept_event_ == nullptr) {
    *error = "event_new failed";
    return false;
  }
  listener_ = evconnlistener_new_bind(
      base_, &Worker::onAccept, this,
      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT, kBacklog,
      addr, addr_len);
  if (listener_ == nullptr) {
    *error = std::string("cannot listen: ") + std::strerror(errno);
    return false;
  }
  evconnlistener_set_error_cb(listener_, &Worker::onAcceptError);
  return true;
}

evutil_socket_t Worker::listenerFd() const { return evconnlistener_get_fd(listener_); }

void Worker::run() { event_base_dispatch(base_); }

const std::string& Worker::dateLine() {
  timeval now{};
  event_base_gettimeofday_cached(base_, &now);
  if (now.tv_sec != date_second_) {
    date_second_ = now.tv_sec;
    date_line_ = "Date: " + httpDate(now.tv_sec) + "\r\n";
  }
  return date_line_;
}

uint32_t Worker::latencyMs() {
  const uint32_t lo = options_.latency_min_ms, hi = options_.latency_max_ms;
  if (hi == 0) return 0;
  if (lo == hi) return lo;
  rng_ ^= rng_ << 13;  // xorshift64: cheap, per worker, good enough for jitter
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return lo + static_cast<uint32_t>(rng_ % (hi - lo + 1));
}

void Worker::retire(Connection* connection) {
  retired_.push_back(connection);
  event_active(reap_event_, 0, 0);
}

std::string Worker::statsJson() const {
  uint64_t requests = 0, accepted = 0, closed = 0;
  for (const auto& w : all_) {
    requests += w->requests_.load(std::memory_order_relaxed);
    accepted += w->accepted_.load(std::memory_order_relaxed);
    closed += w->closed_.load(std::memory_order_relaxed);
  }
  const uint64_t open = accepted >= closed ? accepted - closed : 0;
  return "{\"requests\": " + std::to_string(requests) + ", \"connections_accepted\": " + std::to_string(accepted) +
         ", \"connections_open\": " + std::to_string(open) + "}";
}

void Worker::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) noexcept {
  auto* w = static_cast<Worker*>(arg);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (Connection::create(*w, fd) == nullptr) return;
  bump(w->accepted_);
}

void Worker::onAcceptError(evconnlistener* listener, void* arg) noexcept {
  // Typically EMFILE: pause accepting briefly instead of spinning on the ready listener.
  auto* w = static_cast<Worker*>(arg);
  int err = EVUTIL_SOCKET_ERROR();
  std::fprintf(stderr, "sample-backend: accept failed: %s; pausing accept for 100 ms\n",
               evutil_socket_error_to_string(err));
  evconnlistener_disable(listener);
  const timeval tv{0, 100 * 1000};
  evtimer_add(w->resume_accept_event_, &tv);
}

void Worker::onResumeAccept(evutil_socket_t, short, void* arg) noexcept {
  evconnlistener_enable(static_cast<Worker*>(arg)->listener_);
}

void Worker::onReap(evutil_socket_t, short, void* arg) noexcept {
  auto* w = static_cast<Worker*>(arg);
  std::vector<Connection*> retired;
  retired.swap(w->retired_);
  for (Connection* c : retired) delete c;
}

Server::Server(Options options) : options_(std::move(options)) {}

Server::~Server() = default;

bool Server::bind(std::string* error) {
  initRoutes();
  (void)pattern();

  sockaddr_storage ss{};
  int len = 0;
  if (!parseListen(options_.listen, &ss, &len)) {
    *error = "bad --listen address '" + options_.listen + "' (want HOST:PORT, HOST an IP address or localhost)";
    return false;
  }
  if (portOf(ss) != 0 && !portIsFree(ss, len, error)) return false;

  const uint64_t seed = static_cast<uint64_t>(getpid()) * 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < options_.threads; ++i) {
    auto worker = std::make_unique<Worker>(options_, seed + static_cast<uint64_t>(i) * 7919, workers_);
    if (!worker->listen(reinterpret_cast<sockaddr*>(&ss), len, error)) return false;
    if (i == 0 && portOf(ss) == 0) {  // port 0: every other listener joins the port the kernel chose
      sockaddr_storage bound{};
      socklen_t bound_len = sizeof bound;
      if (getsockname(worker->listenerFd(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
        *error = std::string("getsockname: ") + std::strerror(errno);
        return false;
      }
      setPort(ss, portOf(bound));
    }
    workers_.push_back(std::move(worker));
  }
  address_ = formatAddress(ss);
  return true;
}

void Server::run() {
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers_.size(); ++i) threads.emplace_back([w = workers_[i].get()] { w->run(); });
  workers_[0]->run();
  for (auto& t : threads) t.join();
}

}  // namespace sample_backend
