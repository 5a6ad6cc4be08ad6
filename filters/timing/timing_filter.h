// Per-route timing as a filter: counts every exchange of its route (status, gateway errors by
// kind, bytes) and records total and backend latency into the worker's own histograms when the
// exchange ends, from the times the connection takes anyway (ExchangeFacts): no clock read and
// no allocation of its own. Routes with `server_timing = true` also get a Server-Timing header
// (W3C Server Timing): `cache;desc=HIT` from the cache's X-Cache verdict and `upstream;dur=MS`,
// the backend's time to its response head.
//
// Runs after the cache filter in the chain, so that the cache's X-Cache field is already there
// when the Server-Timing header is written.
#pragma once

#include <memory>
#include <vector>

#include "filters/filter.h"
#include "filters/timing/timing_config.h"
#include "filters/timing/timing_stats.h"

namespace perfgate {

class TimingFilter final : public Filter {
 public:
  // `config` is the snapshot's config whose routes the exchanges will carry.
  TimingFilter(std::shared_ptr<TimingStats> stats, std::shared_ptr<const Config> config);

  std::string_view name() const override { return "timing"; }
  FilterAction onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const override;
  void onLocalResponse(Exchange& exchange, size_t index, ResponseHead& head) const override;
  void onComplete(Exchange& exchange, size_t index, bool complete) const override;
  void onUnrouted(const RequestHead* request, const ExchangeFacts& facts) const override;

 private:
  std::shared_ptr<TimingStats> stats_;
  std::vector<uint32_t> ids_;  // stats ids, by route index
};

// "cache;desc=HIT, upstream;dur=12.3" from an X-Cache verdict (may be empty) and the backend's
// time in ms (negative: none).
std::string serverTimingValue(std::string_view cache_verdict, double upstream_ms);

}  // namespace perfgate
