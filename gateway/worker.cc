#include "gateway/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

#include "gateway/exchange/background_exchange.h"
#include "gateway/exchange/client_connection.h"
#include "gateway/http/error_response.h"
#include "gateway/event_util.h"

namespace perfgate {
namespace {

std::string peerAddress(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text, sizeof text);
  }
  return text;
}

}  // namespace

Worker::Worker(unsigned index, unsigned worker_count, int listen_fd, std::shared_ptr<const Snapshot> snapshot,
               std::atomic<unsigned>* open_connections, ResourceOpener open_resources)
    : index_(index),
      worker_count_(worker_count),
      listen_fd_(listen_fd),
      open_connections_(open_connections),
      open_resources_(std::move(open_resources)),
      snapshot_(std::move(snapshot)) {
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
  base_ = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (base_ == nullptr) throw std::runtime_error("event_base_new failed");
  sends_ = std::make_unique<SendBatch>(base_);
  notify_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (notify_fd_ < 0) throw std::runtime_error("eventfd failed");
  notify_event_ = event_new(base_, notify_fd_, EV_READ | EV_PERSIST, &Worker::onNotify, this);
  reap_event_ = event_new(base_, -1, 0, &Worker::onReap, this);
  drain_timer_ = evtimer_new(base_, &Worker::onDrainTimeout, this);
  accept_pause_ = evtimer_new(base_, &Worker::onAcceptResume, this);
  heartbeat_ = event_new(base_, -1, EV_PERSIST, &Worker::onHeartbeat, this);
  event_add(notify_event_, nullptr);
  listener_ = evconnlistener_new(base_, &Worker::onAccept, this, LEV_OPT_CLOSE_ON_FREE, 0, listen_fd_);
  if (listener_ == nullptr) throw std::runtime_error("evconnlistener_new failed");
  evconnlistener_set_error_cb(listener_, &Worker::onAcceptError);
  adopt(snapshot_);
}

Worker::~Worker() {
  resources_.clear();  // first: their pending work (L2 lookups) wakes exchanges through this worker
  background_.clear();
  dead_background_.clear();
  for (ClientConnection* c : connections_) delete c;
  for (ClientConnection* c : dead_) delete c;
  open_connections_->fetch_sub(static_cast<unsigned>(connections_.size() + dead_.size()));
  connections_.clear();
  dead_.clear();
  pools_.clear();  // before the base: pools free their events
  retired_pools_.clear();
  sends_.reset();  // after the connections and pools, which leave it as they go
  if (listener_ != nullptr) evconnlistener_free(listener_);
  event_free(notify_event_);
  event_free(reap_event_);
  event_free(drain_timer_);
  event_free(accept_pause_);
  event_free(heartbeat_);
  ::close(notify_fd_);
  event_base_free(base_);
}

void Worker::start() {
  onHeartbeat(-1, 0, this);  // a loop not yet turning is not stuck: it is starting
  thread_ = std::thread([this] { run(); });
}

void Worker::runOnce() { event_base_loop(base_, EVLOOP_NONBLOCK); }

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  pthread_setname_np(pthread_self(), ("perfgate-w" + std::to_string(index_)).c_str());
  if (open_resources_) resources_ = open_resources_(base_);
  onHeartbeat(-1, 0, this);
  timeval second{1, 0};
  event_add(heartbeat_, &second);
  event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  finished_.store(true, std::memory_order_release);
}

void Worker::onHeartbeat(evutil_socket_t, short, void* self) noexcept {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch());
  static_cast<Worker*>(self)->last_turn_ms_.store(now.count(), std::memory_order_relaxed);
}

void Worker::publish(std::shared_ptr<const Snapshot> snapshot) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_snapshot_ = std::move(snapshot);
  }
  notify();
}

void Worker::requestDrain() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    drain_requested_ = true;
  }
  notify();
}

void Worker::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    posted_.push_back(std::move(task));
  }
  notify();
}

void Worker::notify() {
  uint64_t one = 1;
  ssize_t n = ::write(notify_fd_, &one, sizeof one);
  (void)n;  // eventfd writes only fail when the counter would overflow: already signalled
}

void Worker::onNotify(evutil_socket_t fd, short, void* self) noexcept {
  auto* w = static_cast<Worker*>(self);
  uint64_t count = 0;
  ssize_t n = ::read(fd, &count, sizeof count);
  (void)n;
  std::shared_ptr<const Snapshot> snapshot;
  bool drain = false;
  std::vector<std::function<void()>> posted;
  {
    std::lock_guard<std::mutex> lock(w->mutex_);
    snapshot.swap(w->pending_snapshot_);
    drain = w->drain_requested_;
    posted.swap(w->posted_);
  }
  if (snapshot) w->adopt(std::move(snapshot));
  for (auto& task : posted) task();
  if (drain && !w->draining_) w->beginDrain();
}

void Worker::adopt(std::shared_ptr<const Snapshot> snapshot) {
  bool ring = snapshot->config->server.io_uring;
  if (ring != sends_->usingRing()) {
    std::string why;
    if (!sends_->useRing(ring, &why) && (snapshot_ == snapshot || !snapshot_->config->server.io_uring)) {
      spdlog::warn("worker {}: io_uring is not available ({}); sending with one sendmsg per connection", index_, why);
    }
  }
  for (const UpstreamConfig& upstream : snapshot->config->upstreams) {
    auto it = pools_.find(upstream.name);
    if (it == pools_.end()) {
      pools_.emplace(upstream.name, makeUpstreamPool(base_, *sends_, upstream, worker_count_));
    } else if (it->second->tls() != upstream.tls) {
      // The scheme changed: a new pool; the old one lives on for transfers still using it.
      retired_pools_.push_back(std::move(it->second));
      it->second = makeUpstreamPool(base_, *sends_, upstream, worker_count_);
    } else {
      it->second->configure(upstream, worker_count_);
    }
  }
  snapshot_ = std::move(snapshot);
}

UpstreamPool* Worker::pool(const UpstreamConfig& upstream) {
  auto it = pools_.find(upstream.name);
  if (it != pools_.end()) return it->second.get();
  // A request on an older snapshot naming an upstream that a reload removed and re-added.
  auto pool = makeUpstreamPool(base_, *sends_, upstream, worker_count_);
  UpstreamPool* raw = pool.get();
  pools_.emplace(upstream.name, std::move(pool));
  return raw;
}

void Worker::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int, void* self) noexcept {
  auto* w = static_cast<Worker*>(self);
  const ServerConfig& server = w->snapshot_->config->server;
  if (w->open_connections_->fetch_add(1) >= server.max_connections) {
    w->open_connections_->fetch_sub(1);
    // Answer rather than refuse silently; a fresh socket's send buffer takes this whole.
    std::string response = gatewayErrorResponse(503, "too many connections", true, false, true);
    ssize_t n = ::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
    (void)n;
    ::close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto* connection = new ClientConnection(w, fd, peerAddress(address));
  w->connections_.insert(connection);
  connection->start();
}

// accept() failed for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM; libevent
// retries the transient errors itself). The connection stays queued, so the listener would fire
// again at once: a busy loop and a flooded log. Accepting pauses instead, and resumes when
// connections have had time to close.
void Worker::onAcceptError(evconnlistener* listener, void* self) noexcept {
  auto* w = static_cast<Worker*>(self);
  const int error = EVUTIL_SOCKET_ERROR();
  evconnlistener_disable(listener);
  constexpr timeval kPause{0, 100'000};
  evtimer_add(w->accept_pause_, &kPause);
  ++w->accept_errors_;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  if (w->accept_error_logged_ == 0 || now - w->accept_error_logged_ >= 10) {
    spdlog::warn("worker {}: accept failed ({} time(s) since the last report): {}; pausing accepts", w->index_,
                 w->accept_errors_, evutil_socket_error_to_string(error));
    w->accept_error_logged_ = now;
    w->accept_errors_ = 0;
  }
}

void Worker::onAcceptResume(evutil_socket_t, short, void* self) noexcept {
  auto* w = static_cast<Worker*>(self);
  if (w->listener_ != nullptr && !w->draining_) evconnlistener_enable(w->listener_);
}

void Worker::release(ClientConnection* connection) {
  connections_.erase(connection);
  dead_.push_back(connection);
  event_active(reap_event_, 0, 0);
}

void Worker::adoptBackground(std::unique_ptr<BackgroundExchange> exchange) {
  BackgroundExchange* raw = exchange.get();
  background_.emplace(raw, std::move(exchange));
}

void Worker::releaseBackground(BackgroundExchange* exchange) {
  auto it = background_.find(exchange);
  if (it == background_.end()) return;
  dead_background_.push_back(std::move(it->second));
  background_.erase(it);
  event_active(reap_event_, 0, 0);
}

void Worker::onReap(evutil_socket_t, short, void* self) noexcept {
  auto* w = static_cast<Worker*>(self);
  w->dead_background_.clear();
  std::vector<ClientConnection*> dead;
  dead.swap(w->dead_);
  for (ClientConnection* c : dead) delete c;
  w->open_connections_->fetch_sub(static_cast<unsigned>(dead.size()));
  if (w->draining_ && w->connections_.empty()) event_base_loopexit(w->base_, nullptr);
}

void Worker::beginDrain() {
  draining_ = true;
  if (listener_ != nullptr) {
    evconnlistener_free(listener_);
    listener_ = nullptr;
  }
  std::vector<ClientConnection*> open(connections_.begin(), connections_.end());
  for (ClientConnection* c : open) c->drain();
  Millis timeout = snapshot_->config->server.drain_timeout;
  timeval tv = toTimeval(timeout);
  evtimer_add(drain_timer_, &tv);
  if (connections_.empty()) event_base_loopexit(base_, nullptr);
}

void Worker::onDrainTimeout(evutil_socket_t, short, void* self) noexcept {
  auto* w = static_cast<Worker*>(self);
  if (!w->connections_.empty()) {
    spdlog::warn("worker {}: drain timeout, closing {} connection(s)", w->index_, w->connections_.size());
  }
  std::vector<ClientConnection*> open(w->connections_.begin(), w->connections_.end());
  for (ClientConnection* c : open) c->close();
  event_base_loopexit(w->base_, nullptr);
}

}  // namespace perfgate
