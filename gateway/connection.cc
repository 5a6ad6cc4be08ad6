#include "gateway/connection.h"

#include <event2/buffer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdio>

#include "gateway/access_log.h"
#include "gateway/event_util.h"
#include "gateway/http_date.h"
#include "gateway/worker.h"

namespace perfgate {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kBodyHighWater = 256 * 1024;    // decoded request body waiting for upstream
constexpr size_t kOutputHighWater = 256 * 1024;  // response bytes waiting for the client
constexpr size_t kOutputLowWater = 64 * 1024;    // resume the upstream below this
constexpr Millis kLingerTimeout{2000};           // reading after an error reply, before close
constexpr std::string_view kAllowWithoutTrace = "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n";

ParseLimits limitsOf(const ServerConfig& server) {
  return ParseLimits{server.max_request_line, server.max_header_bytes, server.max_headers,
                     server.max_body_bytes, server.merge_slashes};
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

int64_t microsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

GatewayError upstreamErrorKind(UpstreamResult result) {
  switch (result) {
    case UpstreamResult::Ok: return GatewayError::None;
    case UpstreamResult::Timeout: return GatewayError::UpstreamTimeout;
    case UpstreamResult::ConnectFailed: return GatewayError::UpstreamRefused;
    case UpstreamResult::Truncated:
    case UpstreamResult::SendFailed: return GatewayError::UpstreamReset;
    case UpstreamResult::BadResponse:
    case UpstreamResult::Overrun: return GatewayError::UpstreamParse;
    case UpstreamResult::Internal: break;
  }
  return GatewayError::UpstreamOther;
}

}  // namespace

std::string gatewayErrorResponse(int status, std::string_view message, bool close, bool http10_keep_alive,
                                 bool with_body, std::string_view extra_fields) {
  std::string body = "{\"error\": \"";
  appendJsonEscaped(body, message);
  body.append("\", \"status\": ");
  body.append(std::to_string(status));
  body.append("}\n");
  std::string out;
  out.reserve(256 + body.size());
  out.append("HTTP/1.1 ");
  out.append(std::to_string(status));
  out.push_back(' ');
  out.append(reasonPhrase(status));
  out.append("\r\nDate: ");
  out.append(httpDate());
  out.append("\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n");
  out.append(extra_fields);
  out.append("Content-Length: ");
  out.append(std::to_string(body.size()));
  if (close) {
    out.append("\r\nConnection: close");
  } else if (http10_keep_alive) {
    out.append("\r\nConnection: keep-alive");
  }
  out.append("\r\n\r\n");
  if (with_body) out.append(body);
  return out;
}

ClientConnection::ClientConnection(Worker* worker, bufferevent* bev, std::string client_ip)
    : worker_(worker),
      bev_(bev),
      client_ip_(std::move(client_ip)),
      parser_(limitsOf(worker->snapshot()->config->server)) {
  timer_ = evtimer_new(worker_->base(), &ClientConnection::onTimer, this);
  resume_event_ = event_new(worker_->base(), -1, 0, &ClientConnection::onResume, this);
  body_ = evbuffer_new();
}

ClientConnection::~ClientConnection() {
  if (transfer_ != nullptr) pool_->cancel(transfer_);
  if (timer_ != nullptr) event_free(timer_);
  if (resume_event_ != nullptr) event_free(resume_event_);
  if (body_ != nullptr) evbuffer_free(body_);
  if (bev_ != nullptr) bufferevent_free(bev_);
}

void ClientConnection::start() {
  const ServerConfig& server = worker_->snapshot()->config->server;
  bufferevent_setcb(bev_, &ClientConnection::onReadable, &ClientConnection::onWritable,
                    &ClientConnection::onEvent, this);
  bufferevent_setwatermark(bev_, EV_READ, 0, server.max_header_bytes + kBodyHighWater);
  bufferevent_setwatermark(bev_, EV_WRITE, kOutputLowWater, 0);
  timeval send_timeout = toTimeval(server.send_timeout);
  bufferevent_set_timeouts(bev_, nullptr, &send_timeout);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  armTimer(Timer::Idle, server.idle_timeout);
}

// The connection's one timer is lazy: disarming only forgets the deadline, and arming touches
// the event only when the pending firing comes after the new deadline. A firing before the
// deadline re-arms for the rest. On a keep-alive connection the idle timer is then re-added
// once per idle period, not deleted and added again for every request.
void ClientConnection::armTimer(Timer kind, Millis timeout) {
  timer_kind_ = kind;
  if (kind == Timer::None) return;
  deadline_ = Clock::now() + timeout;
  if (timer_at_ <= deadline_) return;
  timeval tv = toTimeval(timeout);
  evtimer_add(timer_, &tv);
  timer_at_ = deadline_;
}

void ClientConnection::onReadable(bufferevent*, void* self) noexcept {
  auto* c = static_cast<ClientConnection*>(self);
  if (c->lingering_) {
    evbuffer* in = bufferevent_get_input(c->bev_);
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  c->processInput();
}

void ClientConnection::onWritable(bufferevent*, void* self) noexcept {
  auto* c = static_cast<ClientConnection*>(self);
  if (c->closing_) {
    if (evbuffer_get_length(bufferevent_get_output(c->bev_)) == 0) c->linger();
    return;
  }
  if (c->receive_paused_ && c->transfer_ != nullptr) {
    c->receive_paused_ = false;
    c->transfer_->resumeReceive();
  }
}

void ClientConnection::onEvent(bufferevent*, short events, void* self) noexcept {
  auto* c = static_cast<ClientConnection*>(self);
  if ((events & BEV_EVENT_EOF) && !(events & BEV_EVENT_ERROR) && !c->closing_ && !c->lingering_) {
    // A half-close (RFC 9112 §9.6): the client sent all it will send. Requests already
    // received whole are still answered; then the connection closes.
    c->peer_eof_ = true;
    if (c->in_request_) {
      if (!c->body_done_) c->close();  // the body will never complete
      return;
    }
    c->processInput();
    return;
  }
  if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) c->close();
}

void ClientConnection::onTimer(evutil_socket_t, short, void* self) noexcept {
  auto* c = static_cast<ClientConnection*>(self);
  c->timer_at_ = Clock::time_point::max();
  if (c->timer_kind_ == Timer::None) return;
  auto remaining = std::chrono::ceil<Millis>(c->deadline_ - Clock::now());
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
      c->sendLocal(408, "timed out waiting for the request head", true);
      break;
    case Timer::Body:
      if (c->response_started_) {
        c->close();
      } else {
        c->sendLocal(408, "timed out waiting for the request body", true);
      }
      break;
    case Timer::Suspended:
      c->resume();  // waited long enough: the filters decide again, without waiting this time
      break;
    case Timer::Idle:
      // Still sending the last response (a slow reader of a large body): not idle. A send that
      // makes no progress is cut by the send timeout instead.
      if (evbuffer_get_length(bufferevent_get_output(c->bev_)) > 0) {
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
  auto* c = static_cast<ClientConnection*>(self);
  if (c->resume_dispatch_) {
    c->resume_dispatch_ = false;
    if (c->in_request_ && !c->closed_ && !c->closing_) c->dispatch();
    return;
  }
  c->processInput();
}

bool ClientConnection::fetchInBackground(UpstreamRequest request, UpstreamObserver* observer) {
  const UpstreamConfig& upstream = snapshot_->config->upstreams[route_->upstream_index];
  return worker_->pool(upstream)->start(std::move(request), observer) != nullptr;
}

UpstreamRequest ClientConnection::upstreamRequest() const {
  return buildUpstreamRequest(request_, snapshot_->config->upstreams[route_->upstream_index], client_ip_,
                              snapshot_->config->server.forward_original_path);
}

ExchangeFacts ClientConnection::facts() const {
  return ExchangeFacts{status_, body_bytes_, bytes_out_, started_, upstream_started_, upstream_headers_,
                       finished_, gateway_error_};
}

void ClientConnection::resume() {
  if (!suspended_ || closed_) return;
  suspended_ = false;
  if (timer_kind_ == Timer::Suspended) armTimer(Timer::None, Millis(0));
  resume_dispatch_ = true;
  event_active(resume_event_, 0, 0);
}

std::function<void()> ClientConnection::waker() {
  return [worker = worker_, self = this, id = exchange_id_] {
    worker->post([worker, self, id] {
      if (worker->holds(self) && self->exchange_id_ == id) self->resume();
    });
  };
}

void ClientConnection::processInput() {
  if (processing_ || closed_ || closing_) return;
  processing_ = true;
  while (!closed_ && !closing_) {
    if (!in_request_) {
      if (!parseHead()) break;
      continue;
    }
    if (!body_done_) {
      if (!pumpBody()) {
        if (response_started_) {
          close();
        } else {
          sendLocal(body_parse_error_.status, body_parse_error_.message, true);
        }
        break;
      }
      if (body_waiting_ && transfer_ != nullptr && (evbuffer_get_length(body_) > 0 || body_done_)) {
        body_waiting_ = false;
        transfer_->resumeSend();
      }
    }
    break;  // a request is in flight: pipelined bytes wait in the input buffer
  }
  processing_ = false;
}

bool ClientConnection::parseHead() {
  evbuffer* in = bufferevent_get_input(bev_);
  size_t length = evbuffer_get_length(in);
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
  // The parser rejects a head longer than max_header_bytes, so that many bytes (plus a few
  // leading empty lines) are all it ever needs to see.
  size_t window = std::min<size_t>(length, server.max_header_bytes + 64);
  const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(window)));
  size_t consumed = 0;
  switch (parser_.parse(std::string_view(data, window), request_, consumed)) {
    case ParseStatus::Incomplete:
      if (peer_eof_) {
        close();  // a partial head that can never complete
        return false;
      }
      // The header timeout runs from the first byte of the head, however slowly the rest comes.
      if (timer_kind_ != Timer::Header) armTimer(Timer::Header, server.header_timeout);
      return false;
    case ParseStatus::Error:
      sendLocal(parser_.error().status, parser_.error().message, true);
      return false;
    case ParseStatus::Complete:
      break;
  }
  evbuffer_drain(in, consumed);
  parser_.reset();
  beginRequest();
  return true;
}

void ClientConnection::beginRequest() {
  in_request_ = true;
  exchange_id_ = worker_->nextExchangeId();
  started_ = Clock::now();
  upstream_started_ = upstream_headers_ = finished_ = Clock::time_point();
  gateway_error_ = GatewayError::None;
  armTimer(Timer::None, Millis(0));
  snapshot_ = worker_->snapshot();
  status_ = 0;
  bytes_out_ = 0;
  body_bytes_ = 0;
  response_started_ = false;
  response_complete_ = false;
  keep_alive_ = request_.keep_alive && !draining_;
  request_.unkeyed_path = request_.path_changed && snapshot_->config->server.forward_original_path;

  switch (request_.framing) {
    case BodyFraming::None:
      body_done_ = true;
      break;
    case BodyFraming::ContentLength:
      body_remaining_ = request_.content_length;
      body_done_ = body_remaining_ == 0;
      break;
    case BodyFraming::Chunked:
      chunked_.emplace(snapshot_->config->server.max_body_bytes, snapshot_->config->server.max_header_bytes);
      body_done_ = false;
      break;
  }

  route_ = snapshot_->router.match(request_.path);
  if (route_ == nullptr) {
    sendLocal(404, "no route for this path", !body_done_);
    return;
  }
  // TRACE echoes the request back, cookies and credentials included (cross-site tracing): only
  // where a route asks for it.
  if (request_.method == "TRACE" && !route_->allow_trace) {
    sendLocal(405, "TRACE is not allowed on this route", !body_done_, kAllowWithoutTrace);
    return;
  }
  filter_states_.resize(snapshot_->filters.size());
  dispatch();
}

void ClientConnection::dispatch() {
  const FilterChain& filters = snapshot_->filters;
  if (!filters.empty()) {
    switch (filters.onRequest(*this)) {
      case FilterAction::Responded:
        return;
      case FilterAction::Suspend:
        // Bounded: after the upstream's response_timeout, or 5 s at most, the filters decide
        // again (nginx's proxy_cache_lock_timeout is 5 s too).
        suspended_ = true;
        armTimer(Timer::Suspended,
                 std::min(snapshot_->config->upstreams[route_->upstream_index].response_timeout, Millis(5000)));
        return;
      case FilterAction::Continue:
      case FilterAction::Hold:  // not a request action
        break;
    }
  }
  const UpstreamConfig& upstream = snapshot_->config->upstreams[route_->upstream_index];
  pool_ = worker_->pool(upstream);
  if (request_.expect_continue) bufferevent_write(bev_, "HTTP/1.1 100 Continue\r\n\r\n", 25);

  UpstreamRequest forwarded =
      buildUpstreamRequest(request_, upstream, client_ip_, snapshot_->config->server.forward_original_path);
  if (!filters.empty()) filters.onUpstreamRequest(*this, forwarded);
  upstream_started_ = Clock::now();
  transfer_ = pool_->start(std::move(forwarded), this);
  if (transfer_ == nullptr) {
    gateway_error_ = GatewayError::UpstreamOther;
    sendLocal(502, "the upstream request could not be started", !body_done_);
  }
}

bool ClientConnection::pumpBody() {
  evbuffer* in = bufferevent_get_input(bev_);
  while (!body_done_ && evbuffer_get_length(body_) < kBodyHighWater) {
    size_t available = evbuffer_get_length(in);
    if (available == 0) break;
    if (request_.framing == BodyFraming::ContentLength) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(available, body_remaining_));
      evbuffer_remove_buffer(in, body_, take);
      body_remaining_ -= take;
      body_bytes_ += take;
      body_done_ = body_remaining_ == 0;
    } else {
      evbuffer_iovec segment;
      if (evbuffer_peek(in, -1, nullptr, &segment, 1) < 1) break;
      size_t consumed = 0;
      ParseStatus status = chunked_->decode(
          std::string_view(static_cast<const char*>(segment.iov_base), segment.iov_len), consumed, *this);
      evbuffer_drain(in, consumed);
      if (status == ParseStatus::Error) {
        body_error_ = true;
        body_parse_error_ = chunked_->error();
        return false;
      }
      body_done_ = status == ParseStatus::Complete;
    }
  }
  // The body timeout measures the client's silence, not an upstream too slow to take the body.
  if (body_done_ || evbuffer_get_length(body_) >= kBodyHighWater) {
    if (timer_kind_ == Timer::Body) armTimer(Timer::None, Millis(0));
  } else {
    armTimer(Timer::Body, snapshot_->config->server.request_timeout);
  }
  return true;
}

void ClientConnection::onBodyData(std::string_view data) {
  evbuffer_add(body_, data.data(), data.size());
  body_bytes_ += data.size();
}

size_t ClientConnection::onUpstreamReadBody(char* buffer, size_t size) {
  if (evbuffer_get_length(body_) == 0 && !body_done_ && !pumpBody()) return kBodyAbort;
  int n = evbuffer_remove(body_, buffer, size);
  if (n > 0) return static_cast<size_t>(n);
  if (body_done_) return 0;
  body_waiting_ = true;
  return kBodyPause;
}

void ClientConnection::onUpstreamHeaders(UpstreamResponseHead& head) {
  upstream_headers_ = Clock::now();
  status_ = head.status;
  // A response that arrives before the request body was read whole leaves the connection
  // unusable for another request.
  if (!body_done_ || draining_) keep_alive_ = false;
  extra_.clear();
  if (!snapshot_->filters.empty()) {
    size_t from = 0;
    switch (snapshot_->filters.onResponseHead(*this, head, extra_, from)) {
      case FilterAction::Responded:
        return;  // a filter answered (and finished the request); the backend's response is dropped
      case FilterAction::Hold:
        held_by_ = from;
        held_head_ = copyHead(head);  // the transfer's head is not ours to keep
        return;
      default:
        break;
    }
  }
  writeResponseHead(head);
}

void ClientConnection::writeResponseHead(const UpstreamResponseHead& head) {
  status_ = head.status;
  framing_ = writeClientResponseHead(head, request_, extra_, keep_alive_, head_scratch_);
  bufferevent_write(bev_, head_scratch_.data(), head_scratch_.size());
  response_started_ = true;
}

void ClientConnection::transformBody(size_t index, BodyTransform& transform) {
  if (transforms_.empty()) {
    transforms_.resize(snapshot_->filters.size());
    transformed_.resize(snapshot_->filters.size());
  }
  transforms_[index] = &transform;
}

bool ClientConnection::onUpstreamData(std::string_view data) {
  evbuffer* out = bufferevent_get_output(bev_);
  if (evbuffer_get_length(out) >= kOutputHighWater) {
    receive_paused_ = true;
    return false;
  }
  if (!transforms_.empty() || held_by_ != kNotHeld) {
    pushBody(data, false);
    return true;
  }
  if (framing_ == BodyFramingOut::None) return true;
  writeBody(data);
  if (!snapshot_->filters.empty()) snapshot_->filters.onResponseData(*this, data);
  return true;
}

void ClientConnection::pushBody(std::string_view data, bool end) {
  const FilterChain& filters = snapshot_->filters;
  std::string released;  // a held body, once its holder let it go
  std::string_view view = data;
  for (size_t i = 0; i < filters.size(); ++i) {
    if (i == held_by_) {
      held_body_.append(view);
      if (!end && held_body_.size() <= filters.at(i).holdLimit()) return;
      released = std::move(held_body_);
      held_body_ = std::string();
      if (!releaseHead(released, end)) return;
      view = released;
      continue;
    }
    if (framing_ == BodyFramingOut::None && held_by_ == kNotHeld) return;  // no body goes out
    if (i < transforms_.size() && transforms_[i] != nullptr) {
      std::string& output = transformed_[i];
      output.clear();
      if (!transforms_[i]->transform(view, end, output)) {
        spdlog::warn("{} {}: filter '{}' failed to transform the response body", request_.method, request_.path,
                     filters.at(i).name());
        keep_alive_ = false;  // cut short: the client must not take it for complete
        finishRequest();
        return;
      }
      view = output;
    } else if (!view.empty()) {
      filters.at(i).onResponseData(*this, i, view);
    }
  }
  writeBody(view);
}

bool ClientConnection::releaseHead(std::string_view body, bool complete) {
  const FilterChain& filters = snapshot_->filters;
  size_t holder = held_by_;
  held_by_ = kNotHeld;
  UpstreamResponseHead& head = *held_head_;
  if (filters.at(holder).onResponseBody(*this, holder, head, body, complete) == FilterAction::Responded) return false;
  size_t from = holder + 1;
  switch (filters.onResponseHead(*this, head, extra_, from)) {
    case FilterAction::Responded:
      return false;
    case FilterAction::Hold:
      held_by_ = from;  // a later filter holds in turn: the body collects again in front of it
      return true;
    default:
      break;
  }
  writeResponseHead(head);
  held_head_.reset();
  return true;
}

void ClientConnection::writeBody(std::string_view data) {
  if (data.empty()) return;
  evbuffer* out = bufferevent_get_output(bev_);
  switch (framing_) {
    case BodyFramingOut::None:
      return;
    case BodyFramingOut::Chunked:
      appendChunk(out, data.data(), data.size());
      break;
    case BodyFramingOut::Length:
    case BodyFramingOut::UntilClose:
      evbuffer_add(out, data.data(), data.size());
      break;
  }
  bytes_out_ += data.size();
}

void ClientConnection::onUpstreamDone(UpstreamResult result, const char* detail) {
  transfer_ = nullptr;
  if (result == UpstreamResult::Ok) {
    if (!transforms_.empty() || held_by_ != kNotHeld) {
      pushBody({}, true);  // the transforms' last bytes; a held head goes out now
      if (!in_request_) return;  // a filter answered, or a transform failed
    }
    if (framing_ == BodyFramingOut::Chunked) bufferevent_write(bev_, "0\r\n\r\n", 5);
    response_complete_ = true;
    finishRequest();
    return;
  }
  if (body_error_) {
    sendLocal(body_parse_error_.status, body_parse_error_.message, true);
    return;
  }
  gateway_error_ = upstreamErrorKind(result);
  const std::string& upstream = snapshot_->config->upstreams[route_->upstream_index].name;
  if (!response_started_) {
    int status = result == UpstreamResult::Timeout ? 504 : 502;
    if (!snapshot_->filters.empty() && snapshot_->filters.onUpstreamError(*this, status) == FilterAction::Responded) {
      spdlog::warn("{} {} -> upstream {}: {} ({}); served stale", request_.method, request_.path, upstream,
                   status, detail);
      return;
    }
    spdlog::warn("{} {} -> upstream {}: {} ({})", request_.method, request_.path, upstream, status, detail);
    const char* message = result == UpstreamResult::Timeout        ? "upstream timed out"
                          : result == UpstreamResult::ConnectFailed ? "upstream unreachable"
                                                                    : "invalid response from upstream";
    sendLocal(status, message, !body_done_ || !keep_alive_);
    return;
  }
  // The response is cut short: close without completing the framing so the client can tell.
  spdlog::warn("{} {} -> upstream {}: response aborted after {} bytes ({})", request_.method, request_.path,
               upstream, bytes_out_, detail);
  keep_alive_ = false;
  finishRequest();
}

void ClientConnection::sendLocal(int status, std::string_view message, bool close_after,
                                 std::string_view extra_fields) {
  if (close_after) {
    keep_alive_ = false;
    error_reply_ = true;  // the client may still be sending what we refused: linger
  }
  bool keep = in_request_ && keep_alive_;
  bool with_body = !(in_request_ && request_.isHead());
  std::string response = gatewayErrorResponse(
      status, message, !keep, keep && request_.version == HttpVersion::Http10, with_body, extra_fields);
  bufferevent_write(bev_, response.data(), response.size());
  status_ = status;
  bytes_out_ = with_body ? response.size() : 0;
  if (gateway_error_ == GatewayError::None) {
    gateway_error_ = status == 408 ? GatewayError::ClientTimeout
                     : status < 500 ? GatewayError::ClientRejected
                                    : GatewayError::UpstreamOther;
  }
  if (in_request_) {
    finishRequest();
  } else {
    // Refused before a request began (malformed head, head timeout): counted, then closed.
    const FilterChain& filters = worker_->snapshot()->filters;
    if (!filters.empty()) filters.onUnrouted(facts());
    closeAfterFlush();
  }
}

void ClientConnection::finishRequest() {
  if (transfer_ != nullptr) {
    pool_->cancel(transfer_);
    transfer_ = nullptr;
  }
  auto now = Clock::now();
  finished_ = now;
  if (snapshot_->access_log) {
    AccessRecord record;
    record.client = client_ip_;
    record.method = request_.method;
    record.path = request_.path;
    record.route = route_ != nullptr ? std::string_view(route_->name) : std::string_view();
    record.status = status_;
    record.bytes_in = body_bytes_;
    record.bytes_out = bytes_out_;
    record.total_us = microsBetween(started_, now);
    if (route_ != nullptr && response_started_) record.upstream_us = microsBetween(upstream_started_, upstream_headers_);
    snapshot_->access_log->write(record);
  }
  if (route_ != nullptr && !filter_states_.empty()) {
    snapshot_->filters.onComplete(*this, response_complete_);
  } else if (route_ == nullptr && !snapshot_->filters.empty()) {
    snapshot_->filters.onUnrouted(facts());
  }
  resetRequestState();
  if (!keep_alive_ || draining_) {
    closeAfterFlush();
    return;
  }
  // Pipelined input is parsed on the next loop turn: this may run inside an upstream callback,
  // where starting the next transfer is not allowed. With no input, processInput() only arms
  // the idle timer (or closes a half-closed connection), which is safe anywhere.
  if (!processing_) {
    if (evbuffer_get_length(bufferevent_get_input(bev_)) > 0) {
      event_active(resume_event_, 0, 0);
    } else {
      processInput();
    }
  }
}

namespace {
void releaseOwner(const void*, size_t, void* owner) { delete static_cast<std::shared_ptr<const void>*>(owner); }
}  // namespace

void ClientConnection::respond(int status, std::string_view head, std::string_view body,
                               const std::shared_ptr<const void>& owner) {
  if (!body_done_) keep_alive_ = false;  // an unread request body leaves the connection unusable
  std::string_view end = "\r\n";
  if (!keep_alive_) {
    end = "Connection: close\r\n\r\n";
  } else if (request_.version == HttpVersion::Http10) {
    end = "Connection: keep-alive\r\n\r\n";
  }
  std::string extra;  // fields filters add (Server-Timing); stays empty, unallocated, when none do
  if (!snapshot_->filters.empty()) snapshot_->filters.onLocalResponse(*this, head, extra);
  if (transfer_ != nullptr) {
    pool_->cancel(transfer_);
    transfer_ = nullptr;
  }
  // With nothing queued before it, the response goes to the socket at once, in one call; only
  // what the socket does not take is queued (the body by reference). Saves the write event's
  // add and remove, two epoll_ctl calls, per response.
  evbuffer* out = bufferevent_get_output(bev_);
  std::string_view parts[] = {head, extra, end, body};
  size_t sent = evbuffer_get_length(out) == 0 ? sendNow(parts) : 0;
  for (std::string_view& part : parts) {
    size_t skip = std::min(sent, part.size());
    sent -= skip;
    part.remove_prefix(skip);
  }
  for (std::string_view part : {parts[0], parts[1], parts[2]}) {
    if (!part.empty()) evbuffer_add(out, part.data(), part.size());
  }
  if (!parts[3].empty()) {
    evbuffer_add_reference(out, parts[3].data(), parts[3].size(), &releaseOwner,
                           new std::shared_ptr<const void>(owner));
  }
  status_ = status;
  bytes_out_ = body.size();
  response_started_ = true;
  response_complete_ = true;
  finishRequest();
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
  ssize_t n = ::sendmsg(bufferevent_getfd(bev_), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  return n > 0 ? static_cast<size_t>(n) : 0;  // on an error the queued write meets it again
}

void ClientConnection::resetRequestState() {
  in_request_ = false;
  gateway_error_ = GatewayError::None;
  route_ = nullptr;
  pool_ = nullptr;
  chunked_.reset();
  evbuffer_drain(body_, evbuffer_get_length(body_));
  body_done_ = true;
  body_error_ = false;
  body_waiting_ = false;
  receive_paused_ = false;
  framing_ = BodyFramingOut::None;
  extra_.clear();
  transforms_.clear();
  transformed_.clear();
  held_by_ = kNotHeld;
  held_head_.reset();
  held_body_ = std::string();
  filter_states_.clear();
  suspended_ = false;
  resume_dispatch_ = false;
  const std::shared_ptr<const Snapshot>& current = worker_->snapshot();
  if (snapshot_ != current) parser_ = RequestParser(limitsOf(current->config->server));
  snapshot_.reset();
}

void ClientConnection::closeAfterFlush() {
  if (closing_ || closed_) return;
  closing_ = true;
  armTimer(Timer::None, Millis(0));
  if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) {
    linger();
    return;
  }
  bufferevent_setwatermark(bev_, EV_WRITE, 0, 0);  // onWritable once everything is sent
}

void ClientConnection::linger() {
  // Close the write side, then read and discard what the client still sends for a moment:
  // closing with unread input makes the kernel send RST, which can destroy the response
  // before the client reads it (RFC 9112 §9.6).
  if (lingering_ || closed_) return;
  evbuffer* in = bufferevent_get_input(bev_);
  if (!error_reply_ && evbuffer_get_length(in) == 0) {  // the client is not sending: nothing to wait for
    close();
    return;
  }
  lingering_ = true;
  evutil_socket_t fd = bufferevent_getfd(bev_);
  if (fd < 0 || ::shutdown(fd, SHUT_WR) != 0) {
    close();
    return;
  }
  evbuffer_drain(in, evbuffer_get_length(in));
  bufferevent_setwatermark(bev_, EV_READ, 0, 0);
  bufferevent_enable(bev_, EV_READ);
  armTimer(Timer::Linger, kLingerTimeout);
}

void ClientConnection::drain() {
  draining_ = true;
  if (!in_request_ && !closing_) close();
}

void ClientConnection::close() {
  if (closed_) return;
  closed_ = true;
  if (transfer_ != nullptr) {
    pool_->cancel(transfer_);
    transfer_ = nullptr;
  }
  if (in_request_ && route_ != nullptr && !filter_states_.empty()) {
    snapshot_->filters.onComplete(*this, false);  // e.g. a waiter leaving its queue
    transforms_.clear();
    filter_states_.clear();
  }
  evtimer_del(timer_);
  event_del(resume_event_);
  bufferevent_disable(bev_, EV_READ | EV_WRITE);
  bufferevent_setcb(bev_, nullptr, nullptr, nullptr, nullptr);
  worker_->release(this);
}

}  // namespace perfgate
