#include "support/filter_driver.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>

#include "gateway/exchange/background_exchange.h"
#include "gateway/exchange/forwarding.h"
#include "gateway/http/error_response.h"
#include "gateway/http/uri.h"

namespace perfgate::test {
namespace {

using Steady = std::chrono::steady_clock;

constexpr std::string_view kClientAddress = "127.0.0.1";
constexpr size_t kReadSize = 16 * 1024;  // body bytes one read from the backend delivers
constexpr int kMaxSuspensions = 16;      // more means a filter that never stops waiting
constexpr std::string_view kAllowWithoutTrace = "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n";

bool statusHasBody(int status) { return status >= 200 && status != 204 && status != 304; }

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

// Reads a response head as the client would (`text`: the status line to the CRLF of the last
// field) into `out`; a head the client could not read fails the test.
void readHead(std::string_view text, ClientResponse& out) {
  ResponseHead head;
  ResponseFraming framing;
  if (const char* error = parseResponseHead(text, head, framing)) {
    ADD_FAILURE() << "the client would get an invalid response head (" << error << "):\n" << text;
  }
  out.status = head.status;
  out.headers = std::move(head.headers);
}

// Feeds `response` to `observer` as an upstream pool does: the head, the body in reads (none for
// HEAD, 1xx, 204 or 304), then the end; only the end for a failure. Stops once `in_flight` turns
// false: the exchange cancelled its transfer, and a pool then calls it no more.
void deliver(const BackendResponse& response, bool head_request, UpstreamObserver& observer, const bool& in_flight) {
  if (response.failure != UpstreamResult::Ok) {
    observer.onUpstreamDone(response.failure, "scripted failure");
    return;
  }
  ResponseHead head;
  head.status = response.status;
  head.reason = reasonPhrase(response.status);
  head.headers = response.fields;
  bool has_body = statusHasBody(response.status);
  if (has_body && !head.headers.has("content-length") && !head.headers.has("transfer-encoding")) {
    head.headers.add("Content-Length", std::to_string(response.body.size()));
  }
  observer.onUpstreamHeaders(head);
  std::string_view body = has_body && !head_request ? std::string_view(response.body) : std::string_view();
  for (size_t at = 0; at < body.size() && in_flight; at += kReadSize) {
    if (!observer.onUpstreamData(body.substr(at, kReadSize))) {
      ADD_FAILURE() << "the observer paused the transfer, but no client output here is ever full";
      return;
    }
  }
  if (in_flight) observer.onUpstreamDone(UpstreamResult::Ok, "");
}

}  // namespace

// One request and its response, as ProxyExchange runs them (the comments there give the reasons
// for the order); the client's side is captured into a ClientResponse instead of written.
class DriverExchange final : public Exchange, public UpstreamObserver {
 public:
  DriverExchange(FilterDriver& driver, std::shared_ptr<const Snapshot> snapshot)
      : driver_(driver), snapshot_(std::move(snapshot)), filters_(snapshot_->filters) {}

  RequestHead& head() { return request_; }
  void setBodyBytes(uint64_t bytes) { body_bytes_ = bytes; }
  // ProxyExchange::begin; returns once the exchange has ended.
  ClientResponse run();

  // Exchange
  const RequestHead& request() const override { return request_; }
  const RouteConfig& route() const override { return *route_; }
  std::unique_ptr<FilterState>& state(size_t index) override { return states_[index]; }
  void respond(const ResponseHead& head, std::string_view body, std::shared_ptr<const void> owner,
               std::string_view prefix) override;
  void resume() override;
  std::function<void()> waker() override;
  bool refreshInBackground() override;
  const RouteConfig* routeFor(std::string_view path, std::string& normalized) const override {
    if (!normalizePath(path, snapshot_->config->server.merge_slashes, normalized)) normalized.assign(path);
    return snapshot_->router.match(normalized);
  }
  void transformBody(size_t index, BodyTransform& transform) override;
  ExchangeFacts facts() const override;
  ExchangeNotes& notes() override { return notes_; }

 private:
  // UpstreamObserver
  void onUpstreamHeaders(ResponseHead& head) override;
  bool onUpstreamData(std::string_view data) override;
  size_t onUpstreamReadBody(char*, size_t) override { return 0; }  // the backend never reads the body here
  void onUpstreamDone(UpstreamResult result, const char* detail) override;

  void dispatch();
  void writeHead(const ResponseHead& head);
  void pushBody(std::string_view data, bool end);
  bool releaseHead(std::string_view body, bool complete);
  // Downstream::sendWhole: a whole response, `prefix` (a serialized status line and fields) or
  // the status line made from `head`, then head's fields.
  void sendWhole(const ResponseHead& head, std::string_view prefix, std::string_view body);
  void sendError(int status, std::string_view message, std::string_view extra_fields = {});
  void finish();

  FilterDriver& driver_;
  std::shared_ptr<const Snapshot> snapshot_;
  const FilterChain& filters_;
  RequestHead request_;
  const RouteConfig* route_ = nullptr;
  std::vector<std::unique_ptr<FilterState>> states_;
  ExchangeNotes notes_;
  // Watched by wakers (called on the test's thread): once it is gone they do nothing.
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
  bool suspended_ = false;
  bool ended_ = false;
  bool in_flight_ = false;  // this exchange's transfer is running
  bool keep_alive_ = true;
  uint64_t body_bytes_ = 0;

  bool body_out_ = false;
  std::vector<BodyTransform*> transforms_;
  std::vector<std::string> transformed_;
  static constexpr size_t kNotHeld = static_cast<size_t>(-1);
  size_t held_by_ = kNotHeld;
  std::optional<ResponseHead> held_head_;
  std::string held_body_;
  int status_ = 0;
  uint64_t bytes_out_ = 0;
  bool response_started_ = false;
  bool response_complete_ = false;
  ClientResponse client_;

  Steady::time_point started_ = Steady::now();
  Steady::time_point upstream_started_;
  Steady::time_point upstream_headers_;
  Steady::time_point finished_;
  GatewayError gateway_error_ = GatewayError::None;
};

ClientResponse DriverExchange::run() {
  const ServerConfig& server = snapshot_->config->server;
  keep_alive_ = request_.keep_alive;
  request_.unkeyed_path = request_.path_changed && server.forward_original_path;
  route_ = snapshot_->router.match(request_.path);
  if (route_ == nullptr) {
    sendError(404, "no route for this path");
  } else if (request_.method == "TRACE" && !route_->allow_trace) {
    sendError(405, "TRACE is not allowed on this route", kAllowWithoutTrace);
  } else {
    states_.resize(filters_.size());
    dispatch();
  }
  if (!ended_) ADD_FAILURE() << request_.method << " " << request_.target << ": the exchange never ended";
  alive_.reset();
  return std::move(client_);
}

void DriverExchange::dispatch() {
  if (!filters_.empty()) {
    FilterAction action = filters_.onRequest(*this);
    for (int turns = 0; action == FilterAction::Suspend; ++turns) {
      // ProxyExchange runs onRequest again once resume() or a waker wakes it, or once its bounded
      // wait runs out (its timer calls resume()); with nothing else running here, that is now.
      if (turns == kMaxSuspensions) {
        ADD_FAILURE() << request_.method << " " << request_.target << ": suspended " << turns << " times";
        finish();
        return;
      }
      suspended_ = true;
      resume();
      action = filters_.onRequest(*this);
    }
    if (action == FilterAction::Responded) {
      finish();
      return;
    }
  }
  const Config& config = *snapshot_->config;
  UpstreamRequest forwarded = buildUpstreamRequest(request_, config.upstreams[route_->upstream_index], kClientAddress,
                                                   config.server.forward_original_path);
  if (!filters_.empty()) filters_.onUpstreamRequest(*this, forwarded);
  upstream_started_ = Steady::now();
  driver_.requests_.push_back(forwarded);
  BackendResponse response = driver_.answer(forwarded);
  in_flight_ = true;
  deliver(response, forwarded.head, *this, in_flight_);
}

void DriverExchange::resume() {
  if (!suspended_ || ended_) return;
  suspended_ = false;
}

std::function<void()> DriverExchange::waker() {
  return [this, alive = std::weak_ptr<const bool>(alive_)] {
    if (alive.lock() != nullptr) resume();
  };
}

bool DriverExchange::refreshInBackground() {
  driver_.background_.push_back(backgroundRequestText(request_));
  return true;
}

void DriverExchange::transformBody(size_t index, BodyTransform& transform) {
  if (transforms_.empty()) {
    transforms_.resize(filters_.size());
    transformed_.resize(filters_.size());
  }
  transforms_[index] = &transform;
}

ExchangeFacts DriverExchange::facts() const {
  return ExchangeFacts{status_, body_bytes_, bytes_out_, started_, upstream_started_, upstream_headers_,
                       finished_, gateway_error_, kClientAddress, {}};
}

void DriverExchange::onUpstreamHeaders(ResponseHead& head) {
  upstream_headers_ = Steady::now();
  status_ = head.status;
  if (!filters_.empty()) {
    size_t from = 0;
    switch (filters_.onResponseHead(*this, head, from)) {
      case FilterAction::Responded:
        finish();
        return;
      case FilterAction::Hold:
        held_by_ = from;
        held_head_ = head;
        return;
      default:
        break;
    }
  }
  writeHead(head);
}

void DriverExchange::writeHead(const ResponseHead& head) {
  status_ = head.status;
  std::string text;
  body_out_ = writeClientResponseHead(head, request_, keep_alive_, text).framing != BodyFramingOut::None;
  text.resize(text.size() - 2);  // the empty line
  readHead(text, client_);
  response_started_ = true;
}

bool DriverExchange::onUpstreamData(std::string_view data) {
  if (!transforms_.empty() || held_by_ != kNotHeld) {
    pushBody(data, false);
    return true;
  }
  if (!body_out_) return true;
  client_.body.append(data);
  bytes_out_ += data.size();
  if (!filters_.empty()) filters_.onResponseData(*this, data);
  return true;
}

void DriverExchange::pushBody(std::string_view data, bool end) {
  std::string released;
  std::string_view view = data;
  for (size_t i = 0; i < filters_.size(); ++i) {
    if (i == held_by_) {
      held_body_.append(view);
      if (!end && held_body_.size() <= filters_.at(i).holdLimit()) return;
      released = std::move(held_body_);
      held_body_ = std::string();
      if (!releaseHead(released, end)) return;
      view = released;
      continue;
    }
    if (!body_out_ && held_by_ == kNotHeld) return;
    if (i < transforms_.size() && transforms_[i] != nullptr) {
      std::string& output = transformed_[i];
      output.clear();
      if (!transforms_[i]->transform(view, end, output)) {
        keep_alive_ = false;  // cut short
        finish();
        return;
      }
      view = output;
    } else if (!view.empty()) {
      filters_.at(i).onResponseData(*this, i, view);
    }
  }
  if (!body_out_ || view.empty()) return;
  client_.body.append(view);
  bytes_out_ += view.size();
}

bool DriverExchange::releaseHead(std::string_view body, bool complete) {
  size_t holder = held_by_;
  held_by_ = kNotHeld;
  ResponseHead& head = *held_head_;
  if (filters_.at(holder).onResponseBody(*this, holder, head, body, complete) == FilterAction::Responded) {
    finish();
    return false;
  }
  size_t from = holder + 1;
  switch (filters_.onResponseHead(*this, head, from)) {
    case FilterAction::Responded:
      finish();
      return false;
    case FilterAction::Hold:
      held_by_ = from;
      return true;
    default:
      break;
  }
  writeHead(head);
  held_head_.reset();
  return true;
}

void DriverExchange::onUpstreamDone(UpstreamResult result, const char*) {
  in_flight_ = false;
  if (result == UpstreamResult::Ok) {
    if (!transforms_.empty() || held_by_ != kNotHeld) {
      pushBody({}, true);
      if (ended_) return;
    }
    response_complete_ = true;
    finish();
    return;
  }
  gateway_error_ = upstreamErrorKind(result);
  if (!response_started_) {
    int status = result == UpstreamResult::Timeout ? 504 : 502;
    if (!filters_.empty() && filters_.onUpstreamError(*this, status) == FilterAction::Responded) {
      finish();
      return;
    }
    sendError(status, result == UpstreamResult::Timeout         ? "upstream timed out"
                      : result == UpstreamResult::ConnectFailed ? "upstream unreachable"
                                                                : "invalid response from upstream");
    return;
  }
  keep_alive_ = false;  // cut short
  finish();
}

void DriverExchange::respond(const ResponseHead& head, std::string_view body, std::shared_ptr<const void>,
                             std::string_view prefix) {
  ResponseHead out = head;
  if (!filters_.empty()) filters_.onLocalResponse(*this, out);
  in_flight_ = false;  // a transfer still running is cancelled
  if (request_.isHead()) body = {};
  sendWhole(out, prefix, body);
  status_ = head.status;
  bytes_out_ = body.size();
  response_started_ = response_complete_ = true;
}

void DriverExchange::sendWhole(const ResponseHead& head, std::string_view prefix, std::string_view body) {
  std::string text(prefix);
  if (prefix.empty()) text = "HTTP/1.1 " + std::to_string(head.status) + " " + head.reason + "\r\n";
  head.headers.appendTo(text);
  if (!keep_alive_) {
    text.append("Connection: close\r\n");
  } else if (request_.version == HttpVersion::Http10) {
    text.append("Connection: keep-alive\r\n");
  }
  readHead(text, client_);
  client_.body.assign(body);
}

void DriverExchange::sendError(int status, std::string_view message, std::string_view extra_fields) {
  ResponseHead head;
  std::string body;
  makeErrorResponse(status, message, head, body, extra_fields);
  if (request_.isHead()) body.clear();
  sendWhole(head, {}, body);
  status_ = status;
  bytes_out_ = body.size();
  response_started_ = response_complete_ = true;
  if (gateway_error_ == GatewayError::None) {
    gateway_error_ = status == 408 ? GatewayError::ClientTimeout
                     : status < 500 ? GatewayError::ClientRejected
                                    : GatewayError::UpstreamOther;
  }
  finish();
}

void DriverExchange::finish() {
  if (ended_) return;
  ended_ = true;
  suspended_ = false;
  in_flight_ = false;
  finished_ = Steady::now();
  client_.complete = response_complete_;
  if (route_ != nullptr && !states_.empty()) {
    filters_.onComplete(*this, response_complete_);
  } else if (route_ == nullptr && !filters_.empty()) {
    filters_.onUnrouted(&request_, facts());
  }
}

FilterDriver::FilterDriver(std::string_view toml) {
  ConfigResult loaded = loadConfigString(toml, "filter_driver.toml");
  if (!loaded) throw std::invalid_argument(loaded.error);
  gateway_ = std::make_unique<Gateway>(GatewayOptions{}, loaded.config, clock_);
}

FilterDriver::~FilterDriver() = default;

ClientResponse FilterDriver::send(std::string_view method, std::string_view target, const HeaderBlock& fields,
                                  std::string_view body) {
  std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  if (!fields.has("host")) text.append("Host: test.local\r\n");
  fields.appendTo(text);
  if (!body.empty()) text.append("Content-Length: " + std::to_string(body.size()) + "\r\n");
  text.append("\r\n");

  if (running_) {
    // A request sent from inside another (from the backend function, say) would meet the first
    // one's coalescing and waits, which this driver resolves at once instead of in time.
    ADD_FAILURE() << "one request at a time: " << method << " " << target << " sent while another runs";
    return ClientResponse{};
  }
  return run(text, body.size(), false);
}

ClientResponse FilterDriver::run(const std::string& text, uint64_t body_bytes, bool background) {
  std::shared_ptr<const Snapshot> snapshot = gateway_->snapshot();
  DriverExchange exchange(*this, snapshot);
  RequestParser parser(snapshot->config->server.parseLimits());
  size_t consumed = 0;
  if (parser.parse(text, exchange.head(), consumed) != ParseStatus::Complete) {
    ADD_FAILURE() << "not a request the gateway would take (" << parser.error().message << "):\n" << text;
    return ClientResponse{};
  }
  exchange.setBodyBytes(body_bytes);
  exchange.notes().background = background;
  running_ = true;
  ClientResponse response = exchange.run();
  running_ = false;
  return response;
}

std::vector<UpstreamRequest> FilterDriver::requestsTo(std::string_view target) const {
  std::vector<UpstreamRequest> found;
  for (const UpstreamRequest& request : requests_) {
    if (request.target == target) found.push_back(request);
  }
  return found;
}

void FilterDriver::answerBackground() {
  while (!background_.empty()) {
    std::string text = std::move(background_.front());
    background_.pop_front();
    run(text, 0, true);
  }
}

BackendResponse FilterDriver::answer(const UpstreamRequest& request) {
  if (!backend) {
    ADD_FAILURE() << "a request reached the backend, which the test did not script: " << request.method << " "
                  << request.target;
    return BackendResponse::failed(UpstreamResult::ConnectFailed);
  }
  return backend(request);
}

}  // namespace perfgate::test
