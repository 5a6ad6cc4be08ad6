// The access log as a filter: one JSON line per request when its exchange ends (access_log.h
// writes it off the worker's thread). Requests refused before they had a route are logged too
// when their head was parsed (a 404 for no route), not when it never was.
#pragma once

#include <memory>

#include "filters/access_log/access_log.h"
#include "filters/filter.h"

namespace perfgate {

class AccessLogFilter final : public Filter {
 public:
  explicit AccessLogFilter(std::shared_ptr<AccessLog> log) : log_(std::move(log)) {}

  std::string_view name() const override { return "access_log"; }
  void onComplete(Exchange& exchange, size_t index, bool complete) const override;
  void onUnrouted(const RequestHead* request, const ExchangeFacts& facts) const override;

 private:
  void write(const RequestHead& request, std::string_view route, const ExchangeFacts& facts, bool background) const;

  std::shared_ptr<AccessLog> log_;
};

}  // namespace perfgate
