#include "gateway/exchange/client_connection.h"

#include <event2/buffer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "gateway/event_util.h"
#include "gateway/http/error_response.h"
#include "gateway/worker.h"

namespace perfgate {
namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kBodyReadAhead = 256 * 1024;    // request body read beyond the head limit
constexpr size_t kOutputHighWater = 256 * 1024;  // response bytes waiting for the client
constexpr size_t kOutputLowWater = 64 * 1024;    // resume the upstream below this
constexpr Millis kLingerTimeout{2000};           // reading after an error reply, before close

void releaseOwner(const void*, size_t, void* owner) { delete static_cast<std::shared_ptr<const void>*>(owner); }

}  // namespace

ClientConnection::ClientConnection(Worker* worker, evutil_socket_t fd, std::string client_ip)
    : worker_(worker),
      fd_(fd),
      client_ip_(std::move(client_ip)),
      parser_(worker->snapshot()->config->server.parseLimits()),
      parser_snapshot_(worker->snapshot().get()) {
  timer_ = evtimer_new(worker_->base(), &ClientConnection::onTimer, this);
  resume_event_ = event_new(worker_->base(), -1, 0, &ClientConnection::onResume, this);
  out_ = evbuffer_new();
  read_event_ = event_new(worker_->base(), fd_, EV_READ | EV_PERSIST, &ClientConnection::onSocketReadable, this);
  write_event_ = event_new(worker_->base(), fd_, EV_WRITE, &ClientConnection::onSocketWritable, this);
}

ClientConnection::~ClientConnection() {
  exchange_.reset();  // before the socket: it may still cancel an upstream transfer
  worker_->sends().leave(this);
  if (timer_ != nullptr) event_free(timer_);
  if (read_event_ != nullptr) event_free(read_event_);
  if (resume_event_ != nullptr) event_free(resume_event_);
  if (write_event_ != nullptr) event_free(write_event_);
  if (out_ != nullptr) evbuffer_free(out_);  // releases the owners of bodies queued by reference
  if (fd_ >= 0) evutil_closesocket(fd_);
}

void ClientConnection::start() {
  const ServerConfig& server = worker_->snapshot()->config->server;
  event_add(read_event_, nullptr);
  reading_ = true;
  armTimer(Timer::Idle, server.idle_timeout);
}

// The connection's one timer is lazy: disarming only forgets the deadline, and arming touches
// the event only when the pending firing comes after the new deadline. A firing before the
// deadline re-arms for the rest. On a keep-alive connection the idle timer is then re-added
// once per idle period, not deleted and added again for every request.
void ClientConnection::armTimer(Timer kind, Millis timeout) {
  timer_kind_ = kind;
  if (kind == Timer::None) return;
  deadline_ = Steady::now() + timeout;
  if (timer_at_ <= deadline_) return;
  timeval tv = toTimeval(timeout);
  evtimer_add(timer_, &tv);
  timer_at_ = deadline_;
}

void ClientConnection::onSocketReadable(evutil_socket_t, short, void* self) noexcept {
  static_cast<ClientConnection*>(self)->readAndProcess();
}

size_t ClientConnection::inputLimit() const {
  return worker_->snapshot()->config->server.max_header_bytes + kBodyReadAhead;
}

void ClientConnection::readAndProcess() {
  const size_t limit = inputLimit();
  const size_t have = input_.size();
  if (have >= limit && !lingering_) {  // the exchange has not taken what is here yet
    event_del(read_event_);
    reading_ = false;
    processInput();
    return;
  }
  ssize_t n = input_.read(fd_, lingering_ ? SocketInput::kReadChunk : limit - have);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n == 0 && !closing_ && !lingering_) {
      onPeerEof();
    } else {
      close();  // an error, or the end of the stream while closing
    }
    return;
  }
  if (lingering_) {
    input_.consume(input_.size());  // read only to be discarded
  } else {
    processInput();
  }
  input_.settle(!closed_);
}

void ClientConnection::onPeerEof() {
  // A half-close (RFC 9112 §9.6): the client sent all it will send. Requests already received
  // whole are still answered; then the connection closes.
  peer_eof_ = true;
  event_del(read_event_);  // the end of the stream stays readable: stop watching it
  reading_ = false;
  if (inExchange()) {
    if (!exchange_->bodyDone()) close();  // the body will never complete
    return;
  }
  processInput();
}

void ClientConnection::resumeReading() {
  if (reading_ || peer_eof_ || closed_) return;
  const size_t limit = inputLimit();
  if (input_.size() >= limit) return;
  event_add(read_event_, nullptr);
  reading_ = true;
}

void ClientConnection::onSocketWritable(evutil_socket_t, short what, void* self) noexcept {
  auto* c = static_cast<ClientConnection*>(self);
  c->write_armed_ = false;
  if (what & EV_TIMEOUT) {  // the send timeout: the client took nothing for that long
    c->close();
    return;
  }
  c->writeOut();
}

void ClientConnection::queued() {
  if (write_armed_ || closed_) return;
  worker_->sends().join(this);
}

size_t ClientConnection::gatherSend(iovec* iov, size_t max) {
  evbuffer_iovec chains[8];
  const int room = static_cast<int>(std::min(max, std::size(chains)));
  // evbuffer_peek says how many chains the whole queue needs, and fills the first `room`.
  const int count = std::clamp(evbuffer_peek(out_, -1, nullptr, chains, room), 0, room);
  for (int i = 0; i < count; ++i) iov[i] = iovec{chains[i].iov_base, chains[i].iov_len};
  return static_cast<size_t>(count);
}

void ClientConnection::sent(long result) {
  evbuffer_drain(out_, result > 0 ? static_cast<size_t>(result) : 0);
  if (result < 0 && result != -EAGAIN && result != -EINTR) {
    close();  // the client is gone (reset, broken pipe)
    return;
  }
  afterWrite();
}

void ClientConnection::writeOut() {
  if (closed_) return;
  while (evbuffer_get_length(out_) > 0) {
    int n = evbuffer_write(out_, fd_);
    if (n > 0) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      close();  // the client is gone (reset, broken pipe)
      return;
    }
    break;  // the socket is full
  }
  afterWrite();
}

void ClientConnection::afterWrite() {
  size_t left = evbuffer_get_length(out_);
  if (left > 0) {
    // Re-armed after every write that made progress: the send timeout measures the client's
    // silence, not the time a large body takes.
    timeval send_timeout = toTimeval(worker_->snapshot()->config->server.send_timeout);
    event_add(write_event_, &send_timeout);
    write_armed_ = true;
  } else if (write_armed_) {
    event_del(write_event_);
    write_armed_ = false;
  }
  if (closing_) {
    if (left == 0) linger();
    return;
  }
  if (left <= kOutputLowWater && inExchange()) exchange_->onWritable();
}

void ClientConnection::onTimer(evutil_socket_t, short, void* self) noexcept {
  auto* c = static_cast<ClientConnection*>(self);
  c->timer_at_ = Steady::time_point::max();
  if (c->timer_kind_ == Timer::None) return;
  auto remaining = std::chrono::ceil<Millis>(c->deadline_ - Steady::now());
  if (remaining > Millis(1)) {  // an earlier firing: the deadline moved on since
    timeval tv = toTimeval(remaining);
    evtimer_add(c->timer_, &tv);
    c->timer_at_ = c->deadline_;
    return;
  }
  Timer kind = c->timer_kind_;
  c->timer_kind_ = Timer::None;
  switch (kind) {
    case Timer::Header:
      c->refuse(408, "timed out waiting for the request head");
      break;
    case Timer::Body:
      if (!c->inExchange() || c->exchange_->responseStarted()) {
        c->close();
      } else {
        c->exchange_->fail(408, "timed out waiting for the request body", true, GatewayError::ClientTimeout);
      }
      break;
    case Timer::Idle:
      // Still sending the last response (a slow reader of a large body): not idle. A send that
      // makes no progress is cut by the send timeout instead.
      if (evbuffer_get_length(c->out_) > 0) {
        c->armTimer(Timer::Idle, c->worker_->snapshot()->config->server.idle_timeout);
        break;
      }
      c->close();
      break;
    case Timer::Linger:
    case Timer::None:
      c->close();
      break;
  }
}

void ClientConnection::onResume(evutil_socket_t, short, void* self) noexcept {
  static_cast<ClientConnection*>(self)->processInput();
}

void ClientConnection::processInput() {
  if (processing_ || closed_ || closing_) return;
  processing_ = true;
  while (!closed_ && !closing_) {
    if (!inExchange()) {
      if (!parseHead()) break;
      continue;
    }
    if (!exchange_->bodyDone()) {
      if (!pumpBody()) {
        // Broken body framing: the client gets the error, or, once its response has started,
        // the connection closes without completing it.
        if (exchange_->responseStarted()) {
          close();
        } else {
          const ParseError& error = chunked_->error();
          exchange_->fail(error.status, error.message, true, GatewayError::ClientRejected);
        }
        break;
      }
      exchange_->bodyProgress();
    }
    break;  // a request is in flight: pipelined bytes wait in the input buffer
  }
  processing_ = false;
  resumeReading();
}

bool ClientConnection::parseHead() {
  std::string_view in = input_.view();
  size_t length = in.size();
  const ServerConfig& server = worker_->snapshot()->config->server;
  if (length == 0) {
    if (peer_eof_) {
      closeAfterFlush();
    } else if (draining_) {
      close();
    } else if (timer_kind_ != Timer::Idle) {
      armTimer(Timer::Idle, server.idle_timeout);
    }
    return false;
  }
  if (exchange_ == nullptr) {
    exchange_ = std::make_unique<ProxyExchange>(*this, worker_->base());
  } else if (exchange_->id() != 0) {
    exchange_->reset();  // the last exchange, ended: a safe point to clear it
  }
  // The parser rejects a head longer than max_header_bytes, so that many bytes (plus a few
  // leading empty lines) are all it ever needs to see.
  size_t window = std::min<size_t>(length, server.max_header_bytes + 64);
  size_t consumed = 0;
  switch (parser_.parse(in.substr(0, window), exchange_->head(), consumed)) {
    case ParseStatus::Incomplete:
      if (peer_eof_) {
        close();  // a partial head that can never complete
        return false;
      }
      // The header timeout runs from the first byte of the head, however slowly the rest comes.
      if (timer_kind_ != Timer::Header) armTimer(Timer::Header, server.header_timeout);
      return false;
    case ParseStatus::Error:
      refuse(parser_.error().status, parser_.error().message);
      return false;
    case ParseStatus::Complete:
      break;
  }
  input_.consume(consumed);
  parser_.reset();
  beginExchange();
  return true;
}

void ClientConnection::beginExchange() {
  const RequestHead& request = exchange_->head();
  const std::shared_ptr<const Snapshot>& snapshot = worker_->snapshot();
  switch (request.framing) {
    case BodyFraming::None:
      break;
    case BodyFraming::ContentLength:
      body_remaining_ = request.content_length;
      break;
    case BodyFraming::Chunked:
      chunked_.emplace(snapshot->config->server.max_body_bytes, snapshot->config->server.max_header_bytes);
      break;
  }
  framing_ = BodyFramingOut::None;
  armTimer(Timer::None, Millis(0));
  exchange_->begin(snapshot, worker_->nextExchangeId(), Steady::now());
}

bool ClientConnection::pumpBody() {
  ProxyExchange& exchange = *exchange_;
  while (!exchange.bodyDone() && !exchange.bodyBufferFull()) {
    std::string_view in = input_.view();
    if (in.empty()) break;
    if (!chunked_) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(in.size(), body_remaining_));
      exchange.acceptBody(in.substr(0, take));
      input_.consume(take);
      body_remaining_ -= take;
      if (body_remaining_ == 0) exchange.bodyComplete();
      continue;
    }
    size_t consumed = 0;
    ParseStatus status = chunked_->decode(in, consumed, *this);
    input_.consume(consumed);
    if (status == ParseStatus::Error) {
      exchange.bodyFailed(chunked_->error());
      return false;
    }
    if (status == ParseStatus::Complete) exchange.bodyComplete();
  }
  // The body timeout measures the client's silence, not an upstream too slow to take the body.
  if (exchange.ended() || exchange.bodyDone() || exchange.bodyBufferFull()) {
    if (timer_kind_ == Timer::Body) armTimer(Timer::None, Millis(0));
  } else {
    armTimer(Timer::Body, worker_->snapshot()->config->server.request_timeout);
  }
  resumeReading();
  return true;
}

bool ClientConnection::sendHead(const ResponseHead& head, const RequestHead& request, bool& keep_alive) {
  ClientFraming framing = writeClientResponseHead(head, request, keep_alive, head_scratch_);
  framing_ = framing.framing;
  // Room for the head and the body's first read together: a small response then takes one piece
  // of the queue (one allocation, one iovec) instead of one for the head and one for the body.
  size_t body_room = framing_ == BodyFramingOut::Length ? std::min<uint64_t>(framing.length, SocketInput::kReadChunk) : 0;
  evbuffer_expand(out_, head_scratch_.size() + body_room);
  evbuffer_add(out_, head_scratch_.data(), head_scratch_.size());
  queued();
  return framing_ != BodyFramingOut::None;
}

void ClientConnection::sendBody(std::string_view data) {
  if (data.empty()) return;
  switch (framing_) {
    case BodyFramingOut::None:
      return;
    case BodyFramingOut::Chunked:
      appendChunk(out_, data.data(), data.size());
      break;
    case BodyFramingOut::Length:
    case BodyFramingOut::UntilClose:
      evbuffer_add(out_, data.data(), data.size());
      break;
  }
  queued();
}

void ClientConnection::endBody() {
  if (framing_ != BodyFramingOut::Chunked) return;
  evbuffer_add(out_, "0\r\n\r\n", 5);
  queued();
}

void ClientConnection::sendContinue() {
  evbuffer_add(out_, "HTTP/1.1 100 Continue\r\n\r\n", 25);
  queued();
}

void ClientConnection::sendInterim(const ResponseHead& head) {
  head_scratch_.clear();
  writeInterimHead(head, head_scratch_);
  evbuffer_add(out_, head_scratch_.data(), head_scratch_.size());
  queued();
}

bool ClientConnection::outputFull() const { return evbuffer_get_length(out_) >= kOutputHighWater; }

size_t ClientConnection::sendWhole(const ResponseHead& head, std::string_view prefix, std::string_view body,
                                   const std::shared_ptr<const void>& owner, const RequestHead& request,
                                   bool keep_alive) {
  head_scratch_.clear();
  if (prefix.empty()) {
    head_scratch_.append("HTTP/1.1 ");
    head_scratch_.append(std::to_string(head.status));
    head_scratch_.push_back(' ');
    head_scratch_.append(head.reason);
    head_scratch_.append("\r\n");
  }
  head.headers.appendTo(head_scratch_);
  if (!keep_alive) {
    head_scratch_.append("Connection: close\r\n");
  } else if (request.version == HttpVersion::Http10) {
    head_scratch_.append("Connection: keep-alive\r\n");
  }
  head_scratch_.append("\r\n");
  // Held until the exchange is done (exchangeDone), so that its figures are recorded before the
  // client can see the response: a client reading the metrics after a response finds it counted.
  // A body not kept alive by `owner` is copied: the caller's buffer may be gone by then.
  whole_ = WholeResponse{prefix, body, owner, {}};
  if (owner == nullptr && !(prefix.empty() && body.empty())) {
    whole_->copy.reserve(prefix.size() + body.size());
    whole_->copy.append(prefix).append(body);
    whole_->prefix = std::string_view(whole_->copy).substr(0, prefix.size());
    whole_->body = std::string_view(whole_->copy).substr(prefix.size());
  }
  return prefix.size() + head_scratch_.size() + body.size();
}

void ClientConnection::flushWhole() {
  if (!whole_) return;
  WholeResponse& whole = *whole_;
  // With nothing queued before it, the response goes to the socket at once, in one call, not
  // with the turn's other sends: held for them, a hit would wait for the whole turn (its p99 at
  // 64 connections went from 0.41 to 0.66 ms), and it wakes nobody on this core that batching
  // would spare. Only what the socket does not take is queued (the body by reference). Saves
  // the write event's add and remove, two epoll_ctl calls, per response.
  evbuffer* out = out_;
  std::string_view parts[] = {whole.prefix, head_scratch_, whole.body};
  size_t sent = evbuffer_get_length(out) == 0 ? sendNow(parts) : 0;
  for (std::string_view& part : parts) {
    size_t skip = std::min(sent, part.size());
    sent -= skip;
    part.remove_prefix(skip);
  }
  // What the socket did not take is queued: copied, but for a body its owner keeps alive.
  bool by_reference = whole.owner != nullptr && !parts[2].empty();
  for (size_t i = 0; i < std::size(parts); ++i) {
    if (!parts[i].empty() && !(by_reference && i == 2)) evbuffer_add(out, parts[i].data(), parts[i].size());
  }
  if (by_reference) {
    evbuffer_add_reference(out, parts[2].data(), parts[2].size(), &releaseOwner,
                           new std::shared_ptr<const void>(std::move(whole.owner)));
  }
  whole_.reset();
  if (evbuffer_get_length(out) > 0) queued();
}

size_t ClientConnection::sendNow(std::span<const std::string_view> parts) {
  iovec iov[4];
  size_t count = 0;
  for (std::string_view part : parts) {
    if (part.empty() || count == std::size(iov)) continue;
    iov[count++] = iovec{const_cast<char*>(part.data()), part.size()};
  }
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = count;
  ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  return n > 0 ? static_cast<size_t>(n) : 0;  // on an error the queued write meets it again
}

void ClientConnection::exchangeDone(ProxyExchange&, bool keep_alive, bool refused) {
  flushWhole();
  error_reply_ = error_reply_ || refused;
  chunked_.reset();
  body_remaining_ = 0;
  const std::shared_ptr<const Snapshot>& current = worker_->snapshot();
  if (parser_snapshot_ != current.get()) {
    parser_ = RequestParser(current->config->server.parseLimits());
    parser_snapshot_ = current.get();
  }
  if (!keep_alive || draining_) {
    closeAfterFlush();
    return;
  }
  // Pipelined input is parsed on the next loop turn: this may run inside an upstream callback,
  // where starting the next transfer is not allowed. With no input, the idle timer is armed (or
  // a half-closed connection closes), which is safe anywhere.
  if (processing_) return;
  if (!input_.empty()) {
    event_active(resume_event_, 0, 0);
  } else if (peer_eof_) {
    closeAfterFlush();
  } else {
    armTimer(Timer::Idle, current->config->server.idle_timeout);
  }
}

void ClientConnection::refuse(int status, std::string_view message) {
  error_reply_ = true;  // the client may still be sending what we refused: linger
  std::string response = gatewayErrorResponse(status, message, true, false, true);
  evbuffer_add(out_, response.data(), response.size());
  queued();
  const FilterChain& filters = worker_->snapshot()->filters;
  if (!filters.empty()) {
    ExchangeFacts facts;
    facts.status = status;
    facts.bytes_out = response.size();
    facts.error = status == 408 ? GatewayError::ClientTimeout : GatewayError::ClientRejected;
    facts.client = client_ip_;
    filters.onUnrouted(nullptr, facts);
  }
  closeAfterFlush();
}

void ClientConnection::closeAfterFlush() {
  if (closing_ || closed_) return;
  closing_ = true;
  armTimer(Timer::None, Millis(0));
  if (evbuffer_get_length(out_) == 0) linger();  // else afterWrite() lingers once all is sent
}

void ClientConnection::linger() {
  // Close the write side, then read and discard what the client still sends for a moment:
  // closing with unread input makes the kernel send RST, which can destroy the response
  // before the client reads it (RFC 9112 §9.6).
  if (lingering_ || closed_) return;
  if (!error_reply_ && input_.empty()) {  // the client is not sending: nothing to wait for
    close();
    return;
  }
  lingering_ = true;
  if (fd_ < 0 || ::shutdown(fd_, SHUT_WR) != 0) {
    close();
    return;
  }
  input_.consume(input_.size());
  if (!reading_ && !peer_eof_) {
    event_add(read_event_, nullptr);
    reading_ = true;
  }
  armTimer(Timer::Linger, kLingerTimeout);
}

void ClientConnection::drain() {
  draining_ = true;
  if (inExchange() || closing_) return;
  if (evbuffer_get_length(out_) > 0) {
    closeAfterFlush();  // the last response is still on its way out
  } else {
    close();
  }
}

void ClientConnection::close() {
  if (closed_) return;
  closed_ = true;
  if (exchange_ != nullptr) exchange_->abort();
  evtimer_del(timer_);
  event_del(resume_event_);
  event_del(read_event_);
  event_del(write_event_);
  worker_->sends().leave(this);
  reading_ = write_armed_ = false;
  worker_->release(this);
}

}  // namespace perfgate
