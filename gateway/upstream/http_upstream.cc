#include "gateway/upstream/http_upstream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "gateway/upstream/curl_upstream.h"
#include "gateway/event_util.h"

namespace perfgate {
namespace {

constexpr size_t kOutputHighWater = 64 * 1024;   // request bytes waiting for the backend
constexpr size_t kBodyChunk = 16 * 1024;
constexpr size_t kMaxFreeTransfers = 1024;

bool isIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

}  // namespace

HttpUpstreamPool::SocketRest HttpUpstreamPool::peekSocket(evutil_socket_t fd) {
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return SocketRest::Bytes;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return SocketRest::Nothing;
  return SocketRest::Closed;  // EOF or an error: the connection cannot carry another request
}

std::atomic<int64_t>& backendConnections() {
  static std::atomic<int64_t> open{0};
  return open;
}

unsigned perWorkerShare(unsigned total, unsigned workers) {
  return std::max(1u, (total + workers - 1) / std::max(1u, workers));
}

std::unique_ptr<UpstreamPool> makeUpstreamPool(event_base* base, SendBatch& sends, const UpstreamConfig& config,
                                               unsigned workers) {
  if (config.tls) return std::make_unique<CurlUpstreamPool>(base, config, workers);
  return std::make_unique<HttpUpstreamPool>(base, sends, config, workers);
}

size_t HttpConnection::unsent() const {
  size_t head = transfer != nullptr ? transfer->request_head_.size() - head_sent : 0;
  return head + out.size() - out_pos;
}

size_t HttpConnection::gatherSend(iovec* iov, size_t max) {
  size_t count = 0;
  if (transfer != nullptr && head_sent < transfer->request_head_.size() && count < max) {
    iov[count++] = iovec{transfer->request_head_.data() + head_sent, transfer->request_head_.size() - head_sent};
  }
  if (out_pos < out.size() && count < max) iov[count++] = iovec{out.data() + out_pos, out.size() - out_pos};
  return count;
}

void HttpConnection::sent(long result) { pool->requestSent(this, result); }

HttpTransfer::HttpTransfer(HttpUpstreamPool* pool)
    : pool_(pool), timer_(evtimer_new(pool->base_, &HttpTransfer::onTimeout, this)) {}

HttpTransfer::~HttpTransfer() { event_free(timer_); }

void HttpTransfer::armTimer(Millis timeout) {
  timeval tv = toTimeval(timeout);
  evtimer_add(timer_, &tv);
}

void HttpTransfer::onBodyData(std::string_view data) { pending_.append(data); }

void HttpTransfer::onTimeout(evutil_socket_t, short, void* self) noexcept {
  auto* t = static_cast<HttpTransfer*>(self);
  bool connecting = t->connection_ != nullptr && !t->connection_->connected;
  t->pool_->finish(t, UpstreamResult::Timeout,
                   connecting ? "upstream connect timed out" : "no response from upstream within response_timeout");
}

void HttpTransfer::resumeReceive() {
  if (!receive_paused_ || cancelled_ || connection_ == nullptr) return;
  receive_paused_ = false;
  armTimer(pool_->config_.response_timeout);
  HttpUpstreamPool::startReading(connection_);
  pool_->deliver(connection_);
}

void HttpTransfer::resumeSend() {
  if (!send_paused_ || cancelled_ || connection_ == nullptr) return;
  send_paused_ = false;
  armTimer(pool_->config_.response_timeout);
  pool_->pumpRequestBody(connection_);
}

HttpUpstreamPool::HttpUpstreamPool(event_base* base, SendBatch& sends, const UpstreamConfig& config, unsigned workers)
    : UpstreamPool(config.name),
      base_(base),
      sends_(sends),
      config_(config),
      reap_event_(event_new(base, -1, 0, &HttpUpstreamPool::onReap, this)) {
  configure(config, workers);
}

HttpUpstreamPool::~HttpUpstreamPool() {
  // Exchanges cancel their transfers before the pool goes; what still has an observer is a
  // fetch on behalf of nobody (a background refresh), which frees itself when told it is over.
  for (HttpTransfer* t : all_transfers_) {
    if (UpstreamObserver* observer = std::exchange(t->observer_, nullptr)) {
      observer->onUpstreamDone(UpstreamResult::Internal, "the upstream pool was closed");
    }
  }
  for (HttpConnection* c : idle_) closeConnection(c);
  for (HttpTransfer* t : all_transfers_) {
    if (t->connection_ != nullptr) closeConnection(t->connection_);
  }
  for (HttpConnection* c : reap_connections_) delete c;
  for (HttpTransfer* t : all_transfers_) delete t;
  event_free(reap_event_);
}

void HttpUpstreamPool::configure(const UpstreamConfig& config, unsigned workers) {
  bool moved = config.address_length != config_.address_length ||
               std::memcmp(&config.address, &config_.address, config.address_length) != 0;
  config_ = config;
  if (moved) {
    // The backend's address changed on reload: idle connections go now; busy ones are closed
    // when their exchange ends instead of returning to the pool.
    ++generation_;
    std::vector<HttpConnection*> idle;
    idle.swap(idle_);
    for (HttpConnection* c : idle) closeConnection(c);
  }
  max_connections_ = perWorkerShare(config.max_connections, workers);
  max_idle_ = config.max_idle_connections == 0 ? max_connections_
                                               : perWorkerShare(config.max_idle_connections, workers);
}

UpstreamTransfer* HttpUpstreamPool::start(const UpstreamRequest& request, UpstreamObserver* observer) {
  HttpTransfer* t;
  if (!free_transfers_.empty()) {
    t = free_transfers_.back();
    free_transfers_.pop_back();
  } else {
    t = new HttpTransfer(this);
    all_transfers_.push_back(t);
  }
  t->observer_ = observer;
  t->has_body_ = request.has_body;
  t->chunked_body_ = request.has_body && request.body_length < 0;
  t->head_request_ = request.head;
  t->idempotent_ = isIdempotent(request.method);

  std::string& head = t->request_head_;
  head.clear();
  head.reserve(request.method.size() + request.target.size() + request.headers.serializedSize() + 64);
  head.append(request.method);
  head.push_back(' ');
  head.append(request.target);
  head.append(" HTTP/1.1\r\n");
  request.headers.appendTo(head);
  if (t->chunked_body_) {
    head.append("Transfer-Encoding: chunked\r\n");
  } else if (request.has_body) {
    head.append("Content-Length: ");
    head.append(std::to_string(request.body_length));
    head.append("\r\n");
  }
  head.append("\r\n");

  // Nothing happens inside start(): the transfer is queued and dispatched from the pool's own
  // event, after the caller's callback has returned, so no observer hook ever runs inside the
  // call that created the transfer (a hook may end the exchange that is still calling start()).
  t->armTimer(config_.response_timeout);
  queue_.push_back(t);
  event_active(reap_event_, 0, 0);
  return t;
}

HttpConnection* HttpUpstreamPool::takeIdle() {
  while (!idle_.empty()) {
    HttpConnection* c = idle_.back();
    idle_.pop_back();
    // Provably clean before reuse: bytes the backend sent while the connection sat idle (read
    // or still in the socket) belong to no request; they would be taken for the next response.
    // Asked even when the loop's poll reported nothing for it: a response whose last read found
    // no more data may still be followed by the backend's FIN, or by bytes sent after that poll.
    if (c->input.empty()) {
      SocketRest rest = peekSocket(c->fd);
      if (rest == SocketRest::Nothing) return c;
      if (rest == SocketRest::Bytes) countClose(UpstreamClose::Unsolicited);
    } else {
      countClose(UpstreamClose::Unsolicited);
    }
    closeConnection(c);
  }
  return nullptr;
}

void HttpUpstreamPool::countClose(UpstreamClose reason) {
  UpstreamCounters::bump(counters().closed[static_cast<size_t>(reason)]);
}

void HttpUpstreamPool::dispatch(HttpTransfer* t) {
  if (HttpConnection* c = takeIdle()) {
    attach(t, c);
    return;
  }
  if (open_ < max_connections_) {
    if (HttpConnection* c = connect()) {
      attach(t, c);
      return;
    }
    finish(t, UpstreamResult::ConnectFailed, "cannot open a connection to the upstream");
    return;
  }
  queue_.push_back(t);
}

HttpConnection* HttpUpstreamPool::connect() {
  const auto* address = reinterpret_cast<const sockaddr*>(&config_.address);
  evutil_socket_t fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto* c = new HttpConnection();
  c->pool = this;
  c->fd = fd;
  c->generation = generation_;
  c->read_event = event_new(base_, fd, EV_READ | EV_PERSIST, &HttpUpstreamPool::onReadable, c);
  c->write_event = event_new(base_, fd, EV_WRITE, &HttpUpstreamPool::onWritable, c);
  ++open_;
  backendConnections().fetch_add(1, std::memory_order_relaxed);
  // The write event reports the connect's end; a connect that fails at once (ECONNREFUSED on
  // loopback) is reported the same way, from the loop, never inside this call.
  if (::connect(fd, address, static_cast<socklen_t>(config_.address_length)) != 0 && errno != EINPROGRESS) {
    c->connect_error = errno;
    event_active(c->write_event, EV_WRITE, 0);
  } else {
    event_add(c->write_event, nullptr);
  }
  c->write_armed = true;
  return c;
}

void HttpUpstreamPool::attach(HttpTransfer* t, HttpConnection* c) {
  c->transfer = t;
  c->head_sent = 0;
  t->connection_ = c;
  if (!c->connected) {
    t->armTimer(config_.connect_timeout);
    return;  // onEvent(CONNECTED) sends the request
  }
  sendRequest(c);
}

void HttpUpstreamPool::sendRequest(HttpConnection* c) {
  HttpTransfer* t = c->transfer;
  t->body_sent_ = !t->has_body_;
  // Sent with this turn's other sends, straight from the transfer (the head) and the
  // connection's output (as much body as the client has provided): a head without a body costs
  // no copy, and no write event unless the socket does not take it whole.
  if (t->has_body_) pumpRequestBody(c);
  if (c->transfer == t && !c->write_armed) sends_.join(c);
}

void HttpUpstreamPool::requestSent(HttpConnection* c, long result) {
  if (result > 0) {
    auto taken = static_cast<size_t>(result);
    if (c->transfer != nullptr) {
      size_t head = std::min(taken, c->transfer->request_head_.size() - c->head_sent);
      c->head_sent += head;
      taken -= head;
    }
    c->out_pos += taken;
    if (c->out_pos == c->out.size()) {
      c->out.clear();
      c->out_pos = 0;
    }
  } else if (result < 0 && result != -EAGAIN && result != -EINTR) {
    errno = static_cast<int>(-result);
    onConnectionLost(c, true);  // the backend is gone (reset, broken pipe)
    return;
  }
  // What the socket did not take waits for it to be writable; then the batch sends it.
  if (c->unsent() > 0 && !c->write_armed) {
    event_add(c->write_event, nullptr);
    c->write_armed = true;
  }
  HttpTransfer* t = c->transfer;
  if (t != nullptr && !t->body_sent_ && result > 0) {
    t->armTimer(config_.response_timeout);  // the backend takes the body: it is alive
    pumpRequestBody(c);
  }
}

void HttpUpstreamPool::pumpRequestBody(HttpConnection* c) {
  HttpTransfer* t = c->transfer;
  if (t == nullptr || t->body_sent_ || t->send_paused_ || t->observer_ == nullptr) return;
  if (c->out_pos > 0) {  // what was sent goes before more is added behind the rest
    c->out.erase(0, c->out_pos);
    c->out_pos = 0;
  }
  const size_t before = c->out.size();
  char buffer[kBodyChunk];
  while (c->out.size() < kOutputHighWater) {
    size_t n = t->observer_->onUpstreamReadBody(buffer, sizeof buffer);
    if (n == kBodyAbort) {
      finish(t, UpstreamResult::SendFailed, "the client's request body broke off");
      return;
    }
    if (n == kBodyPause) {
      t->send_paused_ = true;
      evtimer_del(t->timer_);  // waiting for the client now; its own timeout applies
      break;
    }
    if (n == 0) {
      if (t->chunked_body_) c->out.append("0\r\n\r\n");
      t->body_sent_ = true;
      break;
    }
    t->body_started_ = true;
    if (t->chunked_body_) {
      appendChunk(c->out, buffer, n);
    } else {
      c->out.append(buffer, n);
    }
  }
  if (c->out.size() > before && !c->write_armed) sends_.join(c);
}

void HttpUpstreamPool::onWritable(evutil_socket_t fd, short, void* connection) noexcept {
  auto* c = static_cast<HttpConnection*>(connection);
  c->write_armed = false;
  if (!c->connected) {
    int error = c->connect_error;
    socklen_t length = sizeof error;
    if (error == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error != 0) {
      errno = error;
      c->pool->onConnectionLost(c, true);
      return;
    }
    c->pool->connected(c);
    return;
  }
  c->pool->sends_.join(c);  // the rest of the request goes with this turn's sends
}

void HttpUpstreamPool::connected(HttpConnection* c) {
  c->connected = true;
  startReading(c);
  if (c->transfer != nullptr) {
    c->transfer->armTimer(config_.response_timeout);
    sendRequest(c);
  }
}

void HttpUpstreamPool::onConnectionLost(HttpConnection* c, bool error) {
  HttpTransfer* t = c->transfer;
  if (t == nullptr) {  // an idle connection the backend closed
    idle_.erase(std::remove(idle_.begin(), idle_.end(), c), idle_.end());
    closeConnection(c);
    return;
  }
  if (!c->connected) {
    finish(t, UpstreamResult::ConnectFailed, error ? evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR())
                                                   : "upstream closed the connection while connecting");
    return;
  }
  if (!t->response_started_) {
    // RFC 9112 §9.3.1: a keep-alive connection the backend closed just as we reused it. Retry
    // once on a fresh connection when nothing of the request could have been acted on twice.
    if (c->reused && !t->retried_ && t->idempotent_ && !t->body_started_) {
      t->retried_ = true;
      c->transfer = nullptr;
      t->connection_ = nullptr;
      closeConnection(c);
      dispatch(t);
      return;
    }
    finish(t, t->body_sent_ ? UpstreamResult::BadResponse : UpstreamResult::SendFailed,
           "upstream closed the connection without a response");
    return;
  }
  // Read what is still buffered: a close-delimited body ends here; any other ends early
  // (deliver() decides, now or once the client has taken what is pending).
  c->eof = true;
  readResponse(c);
  if (c->transfer == t && t->head_.status < 200) {
    finish(t, UpstreamResult::BadResponse, "upstream closed the connection in the middle of the response head");
  }
}

void HttpUpstreamPool::finish(HttpTransfer* t, UpstreamResult result, const char* detail) {
  evtimer_del(t->timer_);
  if (HttpConnection* c = t->connection_) {
    // Kept only when the request went out whole: the backend answered before taking all of it,
    // and the rest would reach it as the start of the next request.
    bool sent_whole = c->unsent() == 0;
    t->connection_ = nullptr;
    c->transfer = nullptr;
    if (result == UpstreamResult::Ok && t->reusable_ && !c->eof && sent_whole) {
      c->reused = true;
      release(c);
    } else {
      closeConnection(c);
    }
  } else {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), t), queue_.end());
  }
  UpstreamObserver* observer = t->observer_;
  t->observer_ = nullptr;
  publishGauges();
  if (observer != nullptr) observer->onUpstreamDone(result, detail);
  if (!t->cancelled_) recycle(t);
}

void HttpUpstreamPool::release(HttpConnection* c) {
  if (c->generation != generation_ || (idle_.size() >= max_idle_ && queue_.empty())) {
    closeConnection(c);
    return;
  }
  startReading(c);  // notice the backend closing it, or talking out of turn
  // Idle first, even with transfers queued: they get it from the pool's event, never from
  // inside this connection's own read callback (takeIdle() checks it once more then).
  idle_.push_back(c);
  if (!queue_.empty()) event_active(reap_event_, 0, 0);
  publishGauges();
}

void HttpUpstreamPool::publishGauges() {
  UpstreamCounters& c = counters();
  c.open.store(open_, std::memory_order_relaxed);
  c.idle.store(static_cast<int64_t>(idle_.size()), std::memory_order_relaxed);
  c.queued.store(static_cast<int64_t>(queue_.size()), std::memory_order_relaxed);
}

void HttpUpstreamPool::closeConnection(HttpConnection* c) {
  sends_.leave(c);
  if (c->fd >= 0) {
    event_free(c->read_event);
    event_free(c->write_event);
    c->read_event = c->write_event = nullptr;
    c->reading = c->write_armed = false;
    evutil_closesocket(c->fd);
    c->fd = -1;
    c->input = SocketInput();
    c->out = std::string();
    c->out_pos = 0;
    --open_;
    backendConnections().fetch_sub(1, std::memory_order_relaxed);
  }
  c->dead = true;
  reap_connections_.push_back(c);
  event_active(reap_event_, 0, 0);  // also starts queued transfers on the freed slot
}

void HttpUpstreamPool::cancel(UpstreamTransfer* base) {
  auto* t = static_cast<HttpTransfer*>(base);
  if (t->cancelled_) return;
  t->cancelled_ = true;
  t->observer_ = nullptr;
  evtimer_del(t->timer_);
  if (HttpConnection* c = t->connection_) {
    // Mid-exchange: the connection's state is unknown to the backend's next reader. Close it.
    t->connection_ = nullptr;
    c->transfer = nullptr;
    closeConnection(c);
  } else {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), t), queue_.end());
  }
  reap_transfers_.push_back(t);
  event_active(reap_event_, 0, 0);
}

void HttpUpstreamPool::recycle(HttpTransfer* t) {
  evtimer_del(t->timer_);
  t->observer_ = nullptr;
  t->connection_ = nullptr;
  t->body_sent_ = t->body_started_ = t->send_paused_ = t->receive_paused_ = false;
  t->cancelled_ = t->retried_ = t->response_started_ = t->body_complete_ = t->reusable_ = false;
  t->head_scan_ = 0;
  t->head_.status = 0;
  t->head_.headers.clear();
  t->framing_ = HttpTransfer::Framing::None;
  t->remaining_ = 0;
  t->chunked_.reset();
  t->pending_.clear();
  if (free_transfers_.size() < kMaxFreeTransfers) {
    free_transfers_.push_back(t);
  } else {
    all_transfers_.erase(std::find(all_transfers_.begin(), all_transfers_.end(), t));
    delete t;
  }
}

void HttpUpstreamPool::onReap(evutil_socket_t, short, void* self) noexcept {
  auto* pool = static_cast<HttpUpstreamPool*>(self);
  std::vector<HttpConnection*> connections;
  connections.swap(pool->reap_connections_);
  for (HttpConnection* c : connections) delete c;
  std::vector<HttpTransfer*> transfers;
  transfers.swap(pool->reap_transfers_);
  for (HttpTransfer* t : transfers) pool->recycle(t);
  while (!pool->queue_.empty() && (!pool->idle_.empty() || pool->open_ < pool->max_connections_)) {
    HttpTransfer* next = pool->queue_.front();
    pool->queue_.pop_front();
    pool->dispatch(next);
  }
  pool->publishGauges();
}

}  // namespace perfgate
