#include "gateway/exchange/exchange.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "gateway/event_util.h"
#include "gateway/exchange/background_exchange.h"
#include "gateway/exchange/forwarding.h"
#include "gateway/http/error_response.h"
#include "gateway/http/request_id.h"
#include "gateway/http/uri.h"
#include "gateway/worker.h"

namespace perfgate {
namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kBodyHighWater = 256 * 1024;  // decoded request body waiting for upstream
constexpr Millis kMaxSuspension{5000};         // nginx's proxy_cache_lock_timeout is 5 s too
// The forwarded request's buffers are kept for the connection's next request up to this size; a
// larger request's are let go, so that an idle connection holds little whatever came before.
constexpr size_t kKeptForwardedBytes = 4096;
constexpr std::string_view kAllowWithoutTrace = "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n";

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

ProxyExchange::ProxyExchange(Downstream& downstream, event_base* base)
    : downstream_(downstream),
      resume_event_(event_new(base, -1, 0, &ProxyExchange::onResumeEvent, this)),
      suspend_timer_(evtimer_new(base, &ProxyExchange::onSuspendTimeout, this)),
      body_(evbuffer_new()) {}

ProxyExchange::~ProxyExchange() {
  if (transfer_ != nullptr) pool_->cancel(transfer_);
  if (watched_) downstream_.worker().forgetExchange(id_);
  event_free(resume_event_);
  event_free(suspend_timer_);
  evbuffer_free(body_);
}

void ProxyExchange::reset() {
  if (watched_) downstream_.worker().forgetExchange(id_);
  watched_ = false;
  id_ = 0;
  snapshot_.reset();
  route_ = nullptr;
  filter_states_.clear();  // a safe point: no hook of this exchange is running
  suspended_ = ended_ = answered_ = refused_ = false;
  evbuffer_drain(body_, evbuffer_get_length(body_));
  body_bytes_ = 0;
  body_done_ = true;
  body_waiting_ = false;
  body_error_.reset();
  pool_ = nullptr;
  transfer_ = nullptr;
  body_out_ = false;
  transforms_.clear();
  transformed_.clear();
  held_by_ = kNotHeld;
  held_head_.reset();
  held_body_ = std::string();
  if (forwarded_.headers.serializedSize() + forwarded_.target.size() > kKeptForwardedBytes) {
    forwarded_ = UpstreamRequest();
  }
  status_ = 0;
  bytes_out_ = 0;
  response_started_ = response_complete_ = receive_paused_ = false;
  interim_sent_ = 0;
  keep_alive_ = true;
  notes_ = ExchangeNotes();
  upstream_started_ = upstream_headers_ = finished_ = Steady::time_point();
  gateway_error_ = GatewayError::None;
}

void ProxyExchange::begin(std::shared_ptr<const Snapshot> snapshot, uint64_t id, Steady::time_point started) {
  snapshot_ = std::move(snapshot);
  id_ = id;
  started_ = started;
  keep_alive_ = request_.keep_alive && !downstream_.draining();
  const ServerConfig& server = snapshot_->config->server;
  request_.unkeyed_path = request_.path_changed && server.forward_original_path;
  request_id_.clear();
  if (!server.request_id_header.empty()) {
    std::optional<std::string_view> given = request_.header(server.request_id_header);
    if (given && acceptableRequestId(*given)) {
      request_id_.assign(*given);
    } else {
      newRequestId(request_id_);
    }
  }
  body_done_ = request_.framing == BodyFraming::None ||
               (request_.framing == BodyFraming::ContentLength && request_.content_length == 0);

  route_ = snapshot_->router.match(request_.path);
  if (route_ == nullptr) {
    sendError(404, "no route for this path", !body_done_);
    return;
  }
  // TRACE echoes the request back, cookies and credentials included (cross-site tracing): only
  // where a route asks for it.
  if (request_.method == "TRACE" && !route_->allow_trace) {
    sendError(405, "TRACE is not allowed on this route", !body_done_, kAllowWithoutTrace);
    return;
  }
  filter_states_.resize(snapshot_->filters.size());
  dispatch();
}

void ProxyExchange::dispatch() {
  const FilterChain& filters = snapshot_->filters;
  if (!filters.empty()) {
    switch (filters.onRequest(*this)) {
      case FilterAction::Responded:
        finish();
        return;
      case FilterAction::Suspend: {
        // Bounded: after the upstream's response_timeout, or 5 s at most, the filters decide
        // again, without waiting this time.
        suspended_ = true;
        if (!watched_) downstream_.worker().watchExchange(id_, this);  // for its wakers (waker())
        watched_ = true;
        timeval tv = toTimeval(
            std::min(snapshot_->config->upstreams[route_->upstream_index].response_timeout, kMaxSuspension));
        evtimer_add(suspend_timer_, &tv);
        return;
      }
      case FilterAction::Continue:
      case FilterAction::Hold:  // not a request action
        break;
    }
  }
  const UpstreamConfig& upstream = snapshot_->config->upstreams[route_->upstream_index];
  pool_ = downstream_.worker().pool(upstream);
  if (request_.expect_continue) downstream_.sendContinue();

  buildUpstreamRequest(request_, upstream, downstream_.clientAddress(), snapshot_->config->server.forward_original_path,
                       forwarded_);
  if (!request_id_.empty()) forwarded_.headers.set(snapshot_->config->server.request_id_header, request_id_);
  if (!filters.empty()) filters.onUpstreamRequest(*this, forwarded_);
  upstream_started_ = Steady::now();
  transfer_ = pool_->start(forwarded_, this);
  if (transfer_ == nullptr) {
    gateway_error_ = GatewayError::UpstreamOther;
    sendError(502, "the upstream request could not be started", !body_done_);
  }
}

void ProxyExchange::onResumeEvent(evutil_socket_t, short, void* self) noexcept {
  auto* ex = static_cast<ProxyExchange*>(self);
  if (!ex->ended_) ex->dispatch();
}

void ProxyExchange::onSuspendTimeout(evutil_socket_t, short, void* self) noexcept {
  static_cast<ProxyExchange*>(self)->resume();
}

void ProxyExchange::resume() {
  if (!suspended_ || ended_) return;
  suspended_ = false;
  evtimer_del(suspend_timer_);
  event_active(resume_event_, 0, 0);
}

std::function<void()> ProxyExchange::waker() {
  // The exchange is registered with the worker only when it suspends (dispatch()): a waker is
  // kept only by what the exchange then waits for, and one called for an exchange that did not
  // suspend finds nothing to resume, as resume() would. A hit-for-miss request, which asks for a
  // waker and goes on to the backend, costs no registration.
  Worker* worker = &downstream_.worker();
  return [worker, id = id_] {
    worker->post([worker, id] {
      if (ProxyExchange* exchange = worker->findExchange(id)) exchange->resume();
    });
  };
}

const RouteConfig* ProxyExchange::routeFor(std::string_view path, std::string& normalized) const {
  if (!normalizePath(path, snapshot_->config->server.merge_slashes, normalized)) normalized.assign(path);
  return snapshot_->router.match(normalized);
}

bool ProxyExchange::refreshInBackground() {
  return BackgroundExchange::start(downstream_.worker(), request_, downstream_.clientAddress(), snapshot_);
}

ExchangeFacts ProxyExchange::facts() const {
  return ExchangeFacts{status_,        body_bytes_,    bytes_out_,    started_,
                       upstream_started_, upstream_headers_, finished_, gateway_error_,
                       downstream_.clientAddress(), request_id_};
}

void ProxyExchange::acceptBody(std::string_view data) {
  evbuffer_add(body_, data.data(), data.size());
  body_bytes_ += data.size();
}

void ProxyExchange::bodyFailed(const ParseError& error) { body_error_ = error; }

bool ProxyExchange::bodyBufferFull() const { return evbuffer_get_length(body_) >= kBodyHighWater; }

void ProxyExchange::bodyProgress() {
  if (body_waiting_ && transfer_ != nullptr && (evbuffer_get_length(body_) > 0 || body_done_)) {
    body_waiting_ = false;
    transfer_->resumeSend();
  }
}

size_t ProxyExchange::onUpstreamReadBody(char* buffer, size_t size) {
  if (evbuffer_get_length(body_) == 0 && !body_done_ && !downstream_.pumpBody()) return kBodyAbort;
  int n = evbuffer_remove(body_, buffer, size);
  if (n > 0) return static_cast<size_t>(n);
  if (body_done_) return 0;
  body_waiting_ = true;
  return kBodyPause;
}

void ProxyExchange::onUpstreamInterim(const ResponseHead& head) {
  // RFC 9110 §15.2: interim responses go on to HTTP/1.1 clients (never to 1.0 ones), before the
  // final response; never stored, their fields never merged into the final one. A 100 Continue
  // is the gateway's own business (it answered Expect itself), and a backend cannot flood the
  // client with them.
  constexpr unsigned kMaxInterim = 16;
  if (head.status == 100 || response_started_ || request_.version != HttpVersion::Http11 || ended_ ||
      interim_sent_ >= kMaxInterim) {
    return;
  }
  ++interim_sent_;
  downstream_.sendInterim(head);
}

void ProxyExchange::onUpstreamHeaders(ResponseHead& head) {
  upstream_headers_ = Steady::now();
  // The backend's echo of the request id (or a stale one of its own) is not stored with a
  // response: the client always gets this request's id, added as the head goes out.
  if (!request_id_.empty()) head.headers.remove(snapshot_->config->server.request_id_header);
  status_ = head.status;
  // A response that arrives before the request body was read whole leaves the connection
  // unusable for another request.
  if (!body_done_ || downstream_.draining()) keep_alive_ = false;
  const FilterChain& filters = snapshot_->filters;
  if (!filters.empty()) {
    size_t from = 0;
    switch (filters.onResponseHead(*this, head, from)) {
      case FilterAction::Responded:
        finish();  // a filter answered; the backend's response is dropped
        return;
      case FilterAction::Hold:
        held_by_ = from;
        held_head_ = head;  // the transfer's head is not ours to keep
        return;
      default:
        break;
    }
  }
  writeHead(head);
}

void ProxyExchange::writeHead(ResponseHead& head) {
  if (!request_id_.empty()) head.headers.add(snapshot_->config->server.request_id_header, request_id_);
  status_ = head.status;
  body_out_ = downstream_.sendHead(head, request_, keep_alive_);
  response_started_ = true;
}

void ProxyExchange::transformBody(size_t index, BodyTransform& transform) {
  if (transforms_.empty()) {
    transforms_.resize(snapshot_->filters.size());
    transformed_.resize(snapshot_->filters.size());
  }
  transforms_[index] = &transform;
}

bool ProxyExchange::onUpstreamData(std::string_view data) {
  if (downstream_.outputFull()) {
    receive_paused_ = true;
    return false;
  }
  if (!transforms_.empty() || held_by_ != kNotHeld) {
    pushBody(data, false);
    return true;
  }
  if (!body_out_) return true;  // a response without a body (HEAD, 204, 304)
  downstream_.sendBody(data);
  bytes_out_ += data.size();
  if (!snapshot_->filters.empty()) snapshot_->filters.onResponseData(*this, data);
  return true;
}

void ProxyExchange::onWritable() {
  if (receive_paused_ && transfer_ != nullptr) {
    receive_paused_ = false;
    transfer_->resumeReceive();
  }
}

void ProxyExchange::pushBody(std::string_view data, bool end) {
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
    if (!body_out_ && held_by_ == kNotHeld) return;  // no body goes out
    if (i < transforms_.size() && transforms_[i] != nullptr) {
      std::string& output = transformed_[i];
      output.clear();
      if (!transforms_[i]->transform(view, end, output)) {
        spdlog::warn("{} {}: filter '{}' failed to transform the response body", request_.method, request_.path,
                     filters.at(i).name());
        keep_alive_ = false;  // cut short: the client must not take it for complete
        finish();
        return;
      }
      view = output;
    } else if (!view.empty()) {
      filters.at(i).onResponseData(*this, i, view);
    }
  }
  if (!body_out_ || view.empty()) return;
  downstream_.sendBody(view);
  bytes_out_ += view.size();
}

bool ProxyExchange::releaseHead(std::string_view body, bool complete) {
  const FilterChain& filters = snapshot_->filters;
  size_t holder = held_by_;
  held_by_ = kNotHeld;
  ResponseHead& head = *held_head_;
  if (filters.at(holder).onResponseBody(*this, holder, head, body, complete) == FilterAction::Responded) {
    finish();
    return false;
  }
  size_t from = holder + 1;
  switch (filters.onResponseHead(*this, head, from)) {
    case FilterAction::Responded:
      finish();
      return false;
    case FilterAction::Hold:
      held_by_ = from;  // a later filter holds in turn: the body collects again in front of it
      return true;
    default:
      break;
  }
  writeHead(head);
  held_head_.reset();
  return true;
}

void ProxyExchange::onUpstreamDone(UpstreamResult result, const char* detail) {
  transfer_ = nullptr;
  if (result == UpstreamResult::Ok) {
    if (!transforms_.empty() || held_by_ != kNotHeld) {
      pushBody({}, true);  // the transforms' last bytes; a held head goes out now
      if (ended_) return;  // a filter answered, or a transform failed
    }
    if (body_out_) downstream_.endBody();
    response_complete_ = true;
    finish();
    return;
  }
  if (body_error_) {
    sendError(body_error_->status, body_error_->message, true);
    return;
  }
  gateway_error_ = upstreamErrorKind(result);
  const std::string& upstream = snapshot_->config->upstreams[route_->upstream_index].name;
  if (!response_started_) {
    int status = result == UpstreamResult::Timeout ? 504 : 502;
    const FilterChain& filters = snapshot_->filters;
    if (!filters.empty() && filters.onUpstreamError(*this, status) == FilterAction::Responded) {
      spdlog::warn("{} {} -> upstream {}: {} ({}); served stale", request_.method, request_.path, upstream,
                   status, detail);
      finish();
      return;
    }
    spdlog::warn("{} {} -> upstream {}: {} ({})", request_.method, request_.path, upstream, status, detail);
    const char* message = result == UpstreamResult::Timeout        ? "upstream timed out"
                          : result == UpstreamResult::ConnectFailed ? "upstream unreachable"
                                                                    : "invalid response from upstream";
    sendError(status, message, !body_done_ || !keep_alive_);
    return;
  }
  // The response is cut short: close without completing the framing so the client can tell.
  spdlog::warn("{} {} -> upstream {}: response aborted after {} bytes ({})", request_.method, request_.path,
               upstream, bytes_out_, detail);
  keep_alive_ = false;
  finish();
}

void ProxyExchange::respond(const ResponseHead& head, std::string_view body, std::shared_ptr<const void> owner,
                            std::string_view prefix) {
  if (!body_done_) keep_alive_ = false;  // an unread request body leaves the connection unusable
  // The filters may add fields (Server-Timing); a per-thread head keeps its buffers across hits.
  thread_local ResponseHead out;
  out.status = head.status;
  out.reason = head.reason;
  out.headers = head.headers;
  if (!request_id_.empty()) out.headers.add(snapshot_->config->server.request_id_header, request_id_);
  if (!snapshot_->filters.empty()) snapshot_->filters.onLocalResponse(*this, out);
  if (transfer_ != nullptr) {
    pool_->cancel(transfer_);
    transfer_ = nullptr;
  }
  if (request_.isHead()) body = {};
  downstream_.sendWhole(out, prefix, body, owner, request_, keep_alive_);
  status_ = head.status;
  bytes_out_ = body.size();
  response_started_ = response_complete_ = answered_ = true;
}

void ProxyExchange::fail(int status, std::string_view message, bool close_after, GatewayError kind) {
  if (ended_) return;
  gateway_error_ = kind;
  sendError(status, message, close_after);
}

void ProxyExchange::sendError(int status, std::string_view message, bool close_after, std::string_view extra_fields) {
  if (close_after) keep_alive_ = false;
  thread_local ResponseHead head;
  thread_local std::string body;
  thread_local std::string fields;
  fields.assign(extra_fields);
  if (!request_id_.empty()) {
    fields.append(snapshot_->config->server.request_id_header).append(": ").append(request_id_).append("\r\n");
  }
  makeErrorResponse(status, message, head, body, fields);
  bool with_body = !request_.isHead();
  size_t sent = downstream_.sendWhole(head, {}, with_body ? std::string_view(body) : std::string_view(), nullptr,
                                      request_, keep_alive_);
  status_ = status;
  bytes_out_ = with_body ? sent : 0;
  response_started_ = response_complete_ = answered_ = true;  // queued whole: not "incomplete"
  if (gateway_error_ == GatewayError::None) {
    gateway_error_ = status == 408 ? GatewayError::ClientTimeout
                     : status < 500 ? GatewayError::ClientRejected
                                    : GatewayError::UpstreamOther;
  }
  refused_ = close_after;
  finish();
}

void ProxyExchange::finish() {
  if (ended_) return;
  ended_ = true;
  suspended_ = false;
  evtimer_del(suspend_timer_);
  event_del(resume_event_);
  if (transfer_ != nullptr) {
    pool_->cancel(transfer_);
    transfer_ = nullptr;
  }
  finished_ = Steady::now();
  recordUpstream();
  const FilterChain& filters = snapshot_->filters;
  if (route_ != nullptr && !filter_states_.empty()) {
    filters.onComplete(*this, response_complete_);
  } else if (route_ == nullptr && !filters.empty()) {
    filters.onUnrouted(&request_, facts());
  }
  downstream_.exchangeDone(*this, keep_alive_ && !downstream_.draining(), refused_);
}

void ProxyExchange::recordUpstream() {
  if (pool_ == nullptr || upstream_started_ == Steady::time_point()) return;  // answered without the backend
  Steady::time_point ended = finished_ != Steady::time_point() ? finished_ : upstream_started_;
  recordUpstreamExchange(pool_->counters(), gateway_error_, upstream_started_, upstream_headers_, ended);
}

void ProxyExchange::abort() {
  if (ended_ || id_ == 0) return;
  ended_ = true;
  keep_alive_ = false;
  recordUpstream();
  evtimer_del(suspend_timer_);
  event_del(resume_event_);
  if (transfer_ != nullptr) {
    pool_->cancel(transfer_);
    transfer_ = nullptr;
  }
  if (route_ != nullptr && !filter_states_.empty()) {
    snapshot_->filters.onComplete(*this, false);  // e.g. a waiter leaving its queue
  }
}

}  // namespace perfgate
