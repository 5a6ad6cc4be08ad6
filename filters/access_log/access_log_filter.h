// The access log as a filter: one line per request when its exchange ends (access_log.h writes it
// off the worker's thread), a sampled share of them when configured (5xx answers and gateway
// errors always). Requests refused before they had a route are logged too when their head was
// parsed (a 404 for no route), not when it never was.
#pragma once

#include <memory>

#include "filters/access_log/access_log.h"
#include "filters/filter.h"
#include "gateway/config/config.h"

namespace perfgate {

class AccessLogFilter final : public Filter {
 public:
  AccessLogFilter(std::shared_ptr<AccessLog> log, unsigned sample_percent, std::shared_ptr<const Config> config)
      : log_(std::move(log)), sample_percent_(sample_percent), config_(std::move(config)) {}

  std::string_view name() const override { return "access_log"; }
  void onComplete(Exchange& exchange, size_t index, bool complete) const override;
  void onUnrouted(const RequestHead* request, const ExchangeFacts& facts) const override;

 private:
  void write(const RequestHead& request, const RouteConfig* route, const ExchangeFacts& facts,
             const ExchangeNotes* notes) const;
  bool sampledOut(const ExchangeFacts& facts) const;

  std::shared_ptr<AccessLog> log_;
  unsigned sample_percent_;
  std::shared_ptr<const Config> config_;  // the snapshot's: upstream addresses by route
};

}  // namespace perfgate
