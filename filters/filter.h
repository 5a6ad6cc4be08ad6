// The filter contract. A filter may answer a request itself, add to the request sent upstream,
// rewrite the response head on its way to the client, and watch or transform the response body;
// the proxy core runs the chain and knows nothing of any filter's insides (compare h2o's
// handler/filter/logger split and Envoy's stream filters). Every hook has a pass-through
// default, so a filter overrides only what it uses.
//
// Every hook runs in chain order. A response passes the filters in that order too: each
// filter's onResponseHead sees the head as the filters before it left it, and its
// onResponseData sees the body as their transforms made it (so a cache placed after a
// compressor stores what the client gets).
//
// Filters are built once per config snapshot and shared read-only by every worker; what a filter
// remembers about one exchange lives in that exchange's state slot (Exchange::state()).
#pragma once

#include <cstdint>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http/content_coding.h"
#include "gateway/http/request_parser.h"
#include "gateway/http/response_parser.h"

namespace perfgate {

struct RouteConfig;
struct UpstreamRequest;
class BodyTransform;

// Per-exchange memory of one filter; destroyed when the exchange ends.
class FilterState {
 public:
  virtual ~FilterState() = default;
};

// Why the gateway made an error response itself (or cut one short), by kind.
enum class GatewayError : uint8_t {
  None,
  UpstreamTimeout,  // connect or response timeout (504)
  UpstreamRefused,  // connect failed: refused, unreachable, DNS (502)
  UpstreamReset,    // connection lost while sending the request or receiving the response
  UpstreamParse,    // the backend's response was not valid HTTP (502)
  UpstreamOther,    // the transfer could not be started, or failed inside the gateway
  ClientTimeout,    // the client was too slow sending its request (408)
  ClientRejected,   // the request was refused: malformed, too large, no route (400/404/413/414/431/...)
  kCount
};
inline constexpr size_t kGatewayErrorKinds = static_cast<size_t>(GatewayError::kCount);
const char* gatewayErrorName(GatewayError kind);  // "timeout", "refused", ... ("" for None)

// What the gateway measured of one exchange; read by filters that count or time. Time points
// are the ones the connection takes anyway (no extra clock reads); an unset one is the epoch.
struct ExchangeFacts {
  using Clock = std::chrono::steady_clock;
  int status = 0;           // status sent to the client; 0 when none went out
  uint64_t bytes_in = 0;    // request body bytes received
  uint64_t bytes_out = 0;   // response body bytes queued (the whole response for gateway errors)
  Clock::time_point started;           // the request head was parsed
  Clock::time_point upstream_started;  // the request was handed to the upstream pool
  Clock::time_point upstream_headers;  // the backend's response head arrived
  Clock::time_point finished;          // the response was queued whole (or ended short)
  GatewayError error = GatewayError::None;
  std::string_view client;             // the client's address
  std::string_view request_id;         // [server] request_id_header's value ("" when off)
};

// Facts filters record for each other about one exchange, by well-known name (as Envoy's filter
// state does), so that no filter needs another's headers. Each says who sets it and when.
struct ExchangeNotes {
  // The largest response body a filter later in the chain keeps whole for itself (a cache fill
  // keeps up to the object limit); 0: none will. Set by the cache in onRequest; read at the head
  // by compression, which then compresses such a body whole, once, rather than as a stream.
  uint64_t body_kept_up_to = 0;
  // Set by compression in onRequest on a route it serves: the content coding this request is
  // to get (negotiated from Accept-Encoding among the codings offered; the backend is asked for
  // it alone), and changed at the response head when another one is sent (a slow level made in
  // the background, a backend's own choice). The cache keys a URL's variants by this one coding,
  // whatever else Accept-Encoding says.
  std::optional<ContentCoding> coding_variant;
  // Set by compression at the response head when the backend sent a content coding the gateway
  // does not know ("deflate", a list of codings): no variant key describes that body, so the cache
  // does not store it.
  bool unknown_coding = false;
  // Set by cache headers in onRequest when the route makes strong ETags from the body: a filter
  // that changes the stored bytes (the cache decoding a gzip variant) makes one for its bytes.
  bool etag_generated = false;
  // Set by the core on an exchange a filter started with Exchange::refreshInBackground(): no
  // client waits for it. The cache fetches to store (never answers from the store), and client
  // figures (timing) leave it out.
  bool background = false;
  // Set by the cache when it decided (onRequest or onResponseHead): its verdict, as in X-Cache but
  // lower case ("hit", "miss", "bypass", ...); null on an uncached route. Read by the access log.
  const char* cache_verdict = nullptr;
};

// One request/response exchange as the filters see it (gateway/exchange/exchange.h): one object
// per request, apart from the connection that carries it. An exchange ends (onComplete runs,
// state slots are destroyed) only after the hook that answered it has returned: a hook never
// sees its own state go.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const RequestHead& request() const = 0;
  virtual const RouteConfig& route() const = 0;
  // The route a request for `path` (an origin-form path, no query) would take in this exchange's
  // config, with the path normalised as request paths are (into `normalized`); null when none.
  virtual const RouteConfig* routeFor(std::string_view path, std::string& normalized) const = 0;
  // The slot for the filter at `index` in the chain.
  virtual std::unique_ptr<FilterState>& state(size_t index) = 0;
  // Answers the request without the backend (then the hook returns Responded). The head is
  // `prefix` (a status line and fields already serialized, each ending in CRLF, e.g. a stored
  // response's; empty: the status line is made from head.status and head.reason) followed by
  // head.headers; both are copied before this returns. `body` is sent by reference, kept alive
  // by `owner` until written. Framing and Connection fields are the exchange's business.
  virtual void respond(const ResponseHead& head, std::string_view body, std::shared_ptr<const void> owner,
                       std::string_view prefix = {}) = 0;
  // Wakes an exchange a filter suspended: on the next loop turn the chain's onRequest runs again
  // from the first filter (state slots are kept). Safe from any hook of any exchange on the
  // same worker; the exchange also wakes by itself after a bounded wait.
  virtual void resume() = 0;
  // A callable that does what resume() does, from any thread: for a fetch on another worker
  // that this exchange waits for (the hook then returns Suspend). It does nothing once the
  // exchange has ended, nor while the exchange has not yet suspended (it then has nothing to
  // resume).
  virtual std::function<void()> waker() = 0;
  // Starts a copy of this request, as a GET, that no client waits for (a refresh of a stored
  // response): on a later loop turn it runs this same route and filter chain with
  // notes().background set, and its response goes nowhere but to the filters. False when it
  // could not be started.
  virtual bool refreshInBackground() = 0;
  // From onResponseHead: the filter at `index` rewrites the body through `transform` (kept
  // alive by the filter's state slot). A filter that changes the body must also fix the head
  // (Content-Length, Content-Encoding, ...): without a Content-Length the response goes out
  // chunked, or close-delimited to an HTTP/1.0 client.
  virtual void transformBody(size_t index, BodyTransform& transform) = 0;
  // Status, sizes and times so far (complete in onComplete).
  virtual ExchangeFacts facts() const = 0;
  // What the filters tell each other about this exchange (see ExchangeNotes).
  virtual ExchangeNotes& notes() = 0;
};

// Rewrites the response body of one exchange, chunk in, bytes out (e.g. gzip). Owned by the
// filter's state slot; installed from onResponseHead with Exchange::transformBody().
class BodyTransform {
 public:
  virtual ~BodyTransform() = default;
  // Appends to `out` the output for `in` (possibly nothing yet); when `end` is true, `in` is the
  // last piece and everything still buffered is appended too. False on an internal failure: the
  // response is then cut short (the client sees an incomplete body, never a wrong one).
  virtual bool transform(std::string_view in, bool end, std::string& out) = 0;
};

enum class FilterAction : uint8_t {
  Continue,   // go on to the next filter / the backend
  Responded,  // the filter answered through Exchange::respond(); nothing is forwarded
  Suspend,    // (onRequest only) wait for Exchange::resume(), e.g. behind another fetch
  Hold,       // (onResponseHead only) the head is not final until this filter has seen the whole
              // body: see Filter::onResponseBody
};

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;

  // The request is parsed and routed; nothing has been sent upstream yet.
  virtual FilterAction onRequest(Exchange&, size_t /*index*/) const { return FilterAction::Continue; }
  // The request is about to go upstream; fields may be appended to `request.headers`.
  virtual void onUpstreamRequest(Exchange&, size_t /*index*/, UpstreamRequest& /*request*/) const {}
  // The backend's response head arrived; its fields may be changed or added to (they reach the
  // client in order, the backend's first). Returns Responded when the filter answered instead
  // (e.g. a 304 that refreshed a stored response); the backend's response is then dropped. Returns Hold when the
  // head depends on the body (e.g. an ETag hashed from it): the core then keeps the head and the
  // body back (the later filters' hooks wait too) and calls onResponseBody once the body is
  // complete or has grown past holdLimit() bytes. One filter per exchange may hold.
  virtual FilterAction onResponseHead(Exchange&, size_t /*index*/, ResponseHead& /*head*/) const {
    return FilterAction::Continue;
  }
  // After Hold: `body` is the body as it reached this filter; `complete` is false when it grew
  // past holdLimit() (the rest then streams). The filter may change `head` and return Continue,
  // or answer itself (Responded, e.g. a 304).
  virtual FilterAction onResponseBody(Exchange&, size_t /*index*/, ResponseHead& /*head*/,
                                      std::string_view /*body*/, bool /*complete*/) const {
    return FilterAction::Continue;
  }
  virtual uint64_t holdLimit() const { return 0; }
  // The backend could not be reached or failed before its response started; `status` is the
  // 502/504 the gateway is about to send. Returns Responded when the filter answered instead.
  virtual FilterAction onUpstreamError(Exchange&, size_t /*index*/, int /*status*/) const {
    return FilterAction::Continue;
  }
  // A piece of the response body (transfer coding removed), as it reaches this filter: after
  // the transforms of the filters before it. A filter that transforms the body gets its bytes
  // through its BodyTransform instead.
  virtual void onResponseData(Exchange&, size_t /*index*/, std::string_view /*data*/) const {}
  // A filter answered the request through Exchange::respond(); fields added to `head` go out too.
  virtual void onLocalResponse(Exchange&, size_t /*index*/, ResponseHead& /*head*/) const {}
  // The exchange is over; `complete` is true when the whole response reached the output. Also
  // called (complete = false) when the client goes away mid-exchange, suspended or not.
  virtual void onComplete(Exchange&, size_t /*index*/, bool /*complete*/) const {}
  // A request that ended before it had a route (no matching route; or refused before its head
  // was parsed, then `request` is null): there is no filter state for it, only what was measured.
  virtual void onUnrouted(const RequestHead* /*request*/, const ExchangeFacts& /*facts*/) const {}
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
  // Runs the head hooks from filter `from` on. Stops at the first Responded, or at a Hold
  // (then `from` is set to the holding filter's index).
  FilterAction onResponseHead(Exchange& exchange, ResponseHead& head, size_t& from) const {
    for (size_t i = from; i < filters_.size(); ++i) {
      FilterAction action = filters_[i]->onResponseHead(exchange, i, head);
      if (action == FilterAction::Responded) return action;
      if (action == FilterAction::Hold) {
        from = i;
        return action;
      }
    }
    return FilterAction::Continue;
  }
  const Filter& at(size_t index) const { return *filters_[index]; }
  FilterAction onUpstreamError(Exchange& exchange, int status) const {
    for (size_t i = 0; i < filters_.size(); ++i) {
      if (filters_[i]->onUpstreamError(exchange, i, status) == FilterAction::Responded) return FilterAction::Responded;
    }
    return FilterAction::Continue;
  }
  void onResponseData(Exchange& exchange, std::string_view data) const {
    for (size_t i = 0; i < filters_.size(); ++i) filters_[i]->onResponseData(exchange, i, data);
  }
  void onLocalResponse(Exchange& exchange, ResponseHead& head) const {
    for (size_t i = 0; i < filters_.size(); ++i) filters_[i]->onLocalResponse(exchange, i, head);
  }
  void onComplete(Exchange& exchange, bool complete) const {
    for (size_t i = 0; i < filters_.size(); ++i) filters_[i]->onComplete(exchange, i, complete);
  }
  void onUnrouted(const RequestHead* request, const ExchangeFacts& facts) const {
    for (const auto& filter : filters_) filter->onUnrouted(request, facts);
  }

 private:
  std::vector<std::shared_ptr<const Filter>> filters_;
};

}  // namespace perfgate
