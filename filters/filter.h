// The filter contract. A filter may answer a request itself, add to the request sent upstream,
// add to the response head on its way to the client, and watch the response body; the proxy
// core runs the chain and knows nothing of any filter's insides (compare h2o's
// handler/filter/logger split and Envoy's stream filters). Every hook has a pass-through
// default, so a filter overrides only what it uses.
//
// Filters are built once per config snapshot and shared read-only by every worker; what a filter
// remembers about one exchange lives in that exchange's state slot (Exchange::state()).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http_parser.h"

namespace perfgate {

struct RouteConfig;
struct UpstreamRequest;
struct UpstreamResponseHead;
class UpstreamObserver;

// Per-exchange memory of one filter; destroyed when the exchange ends.
class FilterState {
 public:
  virtual ~FilterState() = default;
};

// Header lines a filter adds to the client's response ("Name: value", no CRLF).
using ExtraHeaders = std::vector<std::string>;

// One request/response exchange as the filters see it; implemented by the client connection.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const RequestHead& request() const = 0;
  virtual const RouteConfig& route() const = 0;
  // The slot for the filter at `index` in the chain.
  virtual std::unique_ptr<FilterState>& state(size_t index) = 0;
  // Answers the request without the backend. `head` is the status line and fields, each ending
  // in CRLF, without the final empty line (the connection adds Connection as needed), copied
  // before this returns; `body` is sent by reference, kept alive by `owner` until written.
  virtual void respond(int status, std::string_view head, std::string_view body,
                       const std::shared_ptr<const void>& owner) = 0;
  // Wakes an exchange a filter suspended: on the next loop turn the chain's onRequest runs again
  // from the first filter (state slots are kept). Safe from any hook of any exchange on the
  // same worker; the exchange also wakes by itself after a bounded wait.
  virtual void resume() = 0;
  // A callable that does what resume() does, from any thread: for a fetch on another worker
  // that this exchange waits for. It does nothing once the exchange has ended.
  virtual std::function<void()> waker() = 0;
  // Sends `request` to this exchange's upstream on behalf of nobody: the observer gets the
  // response and must free itself in onUpstreamDone (a background refresh). False when it
  // could not be started (the observer is then not called).
  virtual bool fetchInBackground(UpstreamRequest request, UpstreamObserver* observer) = 0;
  // The request as this exchange would forward it (for a background refresh of the same URL).
  virtual UpstreamRequest upstreamRequest() const = 0;
};

enum class FilterAction : uint8_t {
  Continue,   // go on to the next filter / the backend
  Responded,  // the filter answered through Exchange::respond(); nothing is forwarded
  Suspend,    // (onRequest only) wait for Exchange::resume(), e.g. behind another fetch
};

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;

  // The request is parsed and routed; nothing has been sent upstream yet.
  virtual FilterAction onRequest(Exchange&, size_t /*index*/) const { return FilterAction::Continue; }
  // The request is about to go upstream; fields may be appended to `request.headers`.
  virtual void onUpstreamRequest(Exchange&, size_t /*index*/, UpstreamRequest& /*request*/) const {}
  // The backend's response head arrived. Returns Responded when the filter answered instead
  // (e.g. a 304 that refreshed a stored response); the backend's response is then dropped.
  virtual FilterAction onResponseHead(Exchange&, size_t /*index*/, const UpstreamResponseHead& /*head*/,
                                      ExtraHeaders& /*extra*/) const {
    return FilterAction::Continue;
  }
  // The backend could not be reached or failed before its response started; `status` is the
  // 502/504 the gateway is about to send. Returns Responded when the filter answered instead.
  virtual FilterAction onUpstreamError(Exchange&, size_t /*index*/, int /*status*/) const {
    return FilterAction::Continue;
  }
  // A piece of the response body (transfer coding removed), as it goes to the client.
  virtual void onResponseData(Exchange&, size_t /*index*/, std::string_view /*data*/) const {}
  // The exchange is over; `complete` is true when the whole response reached the output. Also
  // called (complete = false) when the client goes away mid-exchange, suspended or not.
  virtual void onComplete(Exchange&, size_t /*index*/, bool /*complete*/) const {}
};

// The filters configured for a config snapshot, in order.
class FilterChain {
 public:
  void add(std::shared_ptr<const Filter> filter) { filters_.push_back(std::move(filter)); }
  bool empty() const { return filters_.empty(); }
  size_t size() const { return filters_.size(); }

  FilterAction onRequest(Exchange& exchange) const {
    for (size_t i = 0; i < filters_.size(); ++i) {
      FilterAction action = filters_[i]->onRequest(exchange, i);
      if (action != FilterAction::Continue) return action;
    }
    return FilterAction::Continue;
  }
  void onUpstreamRequest(Exchange& exchange, UpstreamRequest& request) const {
    for (size_t i = 0; i < filters_.size(); ++i) filters_[i]->onUpstreamRequest(exchange, i, request);
  }
  FilterAction onResponseHead(Exchange& exchange, const UpstreamResponseHead& head, ExtraHeaders& extra) const {
    for (size_t i = 0; i < filters_.size(); ++i) {
      if (filters_[i]->onResponseHead(exchange, i, head, extra) == FilterAction::Responded) {
        return FilterAction::Responded;
      }
    }
    return FilterAction::Continue;
  }
  FilterAction onUpstreamError(Exchange& exchange, int status) const {
    for (size_t i = 0; i < filters_.size(); ++i) {
      if (filters_[i]->onUpstreamError(exchange, i, status) == FilterAction::Responded) return FilterAction::Responded;
    }
    return FilterAction::Continue;
  }
  void onResponseData(Exchange& exchange, std::string_view data) const {
    for (size_t i = 0; i < filters_.size(); ++i) filters_[i]->onResponseData(exchange, i, data);
  }
  void onComplete(Exchange& exchange, bool complete) const {
    for (size_t i = 0; i < filters_.size(); ++i) filters_[i]->onComplete(exchange, i, complete);
  }

 private:
  std::vector<std::shared_ptr<const Filter>> filters_;
};

}  // namespace perfgate
