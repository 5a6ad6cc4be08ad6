// The filter chain without sockets, for unit tests of filters. A Gateway is built in-process from
// a TOML string (every module and the real filter chain, on a ManualClock: tests advance time
// instead of sleeping), and each request is driven through the chain in the order ProxyExchange
// (gateway/exchange/exchange.cc) drives it:
//   routing; onRequest (Responded: answered; Suspend: onRequest runs again, as it would once
//   woken or once the bounded wait ran out, since nothing else runs here); onUpstreamRequest;
//   the scripted backend's answer; onResponseHead (Hold: the body is collected for the holder's
//   onResponseBody), the body transforms and onResponseData, or onUpstreamError when the
//   transfer fails before a head; then onComplete.
// What the client would receive is captured either way (Exchange::respond or the backend path):
// the status, the header fields as serialized toward the client (framing, Via and Connection
// included) and the body, transfer coding removed.
//
// The backend is a function the test sets. Every request the gateway sends it is recorded as the
// backend gets it (after the filters' onUpstreamRequest). A request's own transfer is answered
// at once; a background refresh (Exchange::refreshInBackground) waits until answerBackground()
// runs it through the chain as the core would (ExchangeNotes::background set).
// One request at a time, on the test's thread (wakers included).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/clock.h"
#include "gateway/gateway.h"
#include "gateway/http/header_block.h"
#include "gateway/upstream/upstream.h"

namespace perfgate::test {

// What the scripted backend answers to one request.
struct BackendResponse {
  int status = 200;
  // Content-Length is added for a status that has a body, unless Content-Length or
  // Transfer-Encoding is given (then the body is delimited as the pool would find it).
  HeaderBlock fields;
  // Delivered in pieces, as reads from a socket would; to a HEAD request only its length is sent.
  std::string body;
  // Other than Ok: the transfer fails with this result before a response head (the gateway's
  // 502, or 504 for Timeout, unless a filter answers in onUpstreamError).
  UpstreamResult failure = UpstreamResult::Ok;

  static BackendResponse failed(UpstreamResult result) {
    BackendResponse response;
    response.failure = result;
    return response;
  }
};

// What the client received.
struct ClientResponse {
  int status = 0;
  HeaderBlock headers;    // as serialized toward the client
  std::string body;       // transfer coding removed
  // onComplete's `complete`: the whole response went out (the gateway's own errors included);
  // false for one cut short.
  bool complete = false;

  // The first value of `name`; "" when absent.
  std::string header(std::string_view name) const { return std::string(headers.get(name).value_or("")); }
  bool has(std::string_view name) const { return headers.has(name); }
};

class FilterDriver {
 public:
  using Backend = std::function<BackendResponse(const UpstreamRequest&)>;
  static constexpr int64_t kStart = 1'700'000'000;  // the clock's first reading: 2023-11-14T22:13:20Z

  // The gateway `toml` describes (no listener, no worker: nothing is opened). Throws
  // std::invalid_argument when the config does not load.
  explicit FilterDriver(std::string_view toml);
  ~FilterDriver();
  FilterDriver(const FilterDriver&) = delete;
  FilterDriver& operator=(const FilterDriver&) = delete;

  ManualClock& clock() { return clock_; }
  Gateway& gateway() { return *gateway_; }

  // How the backend answers. Unset, a request reaching it fails the test (and the connect fails).
  Backend backend;

  // Runs one request through the chain: `fields` follow "Host: test.local" (which a Host among
  // them replaces); a non-empty `body` goes with a Content-Length.
  ClientResponse send(std::string_view method, std::string_view target, const HeaderBlock& fields = {},
                      std::string_view body = {});
  ClientResponse get(std::string_view target, const HeaderBlock& fields = {}) { return send("GET", target, fields); }

  // Every request the gateway sent to the backend, in order, background fetches included.
  const std::vector<UpstreamRequest>& backendRequests() const { return requests_; }
  // Those whose request target is `target`.
  std::vector<UpstreamRequest> requestsTo(std::string_view target) const;
  size_t requestsFor(std::string_view target) const { return requestsTo(target).size(); }

  // Background refreshes started and not run yet.
  size_t pendingBackground() const { return background_.size(); }
  // Runs the pending background refreshes through the chain, oldest first (their requests reach
  // `backend` as any other).
  void answerBackground();

 private:
  friend class DriverExchange;
  // One exchange for the serialized request `text`.
  ClientResponse run(const std::string& text, uint64_t body_bytes, bool background);

  // The backend's answer to `request` (already recorded).
  BackendResponse answer(const UpstreamRequest& request);

  ManualClock clock_{kStart};
  std::unique_ptr<Gateway> gateway_;
  std::vector<UpstreamRequest> requests_;
  std::deque<std::string> background_;  // serialized requests of refreshes not run yet
  bool running_ = false;  // a request is in the chain
};

}  // namespace perfgate::test
