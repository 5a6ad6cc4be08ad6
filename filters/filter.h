// The filter contract. A filter may inspect the request before it is forwarded and change the
// response head on its way to the client; the proxy core runs the chain and knows nothing of
// any filter's insides (compare h2o's handler/filter/logger split and Envoy's stream filters).
// Every hook has a pass-through default, so a filter overrides only what it uses.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http_parser.h"

namespace perfgate {

struct RouteConfig;

// What a filter sees of one exchange.
struct FilterContext {
  const RequestHead& request;
  const RouteConfig& route;
};

// Header lines a filter adds to the client's response ("Name: value", no CRLF).
using ExtraHeaders = std::vector<std::string>;

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;
  // The request is parsed and routed; nothing has been sent upstream yet.
  virtual void onRequest(const FilterContext&) {}
  // The backend's response head has arrived and is about to be sent to the client.
  virtual void onResponseHead(const FilterContext&, int /*status*/, ExtraHeaders& /*extra*/) {}
  // The exchange is over (response written or aborted).
  virtual void onComplete(const FilterContext&, int /*status*/) {}
};

// The filters configured for a config snapshot, in order. Built once per snapshot, shared
// read-only by every worker; filters keep per-exchange state out of themselves.
class FilterChain {
 public:
  void add(std::unique_ptr<Filter> filter) { filters_.push_back(std::move(filter)); }
  bool empty() const { return filters_.empty(); }

  void onRequest(const FilterContext& context) const {
    for (const auto& filter : filters_) filter->onRequest(context);
  }
  void onResponseHead(const FilterContext& context, int status, ExtraHeaders& extra) const {
    for (const auto& filter : filters_) filter->onResponseHead(context, status, extra);
  }
  void onComplete(const FilterContext& context, int status) const {
    for (const auto& filter : filters_) filter->onComplete(context, status);
  }

 private:
  std::vector<std::unique_ptr<Filter>> filters_;
};

}  // namespace perfgate
