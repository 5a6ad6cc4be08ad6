#include "filters/access_log/access_log_filter.h"

#include "gateway/config/config.h"

namespace perfgate {
namespace {

int64_t microsBetween(ExchangeFacts::Clock::time_point a, ExchangeFacts::Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

}  // namespace

void AccessLogFilter::write(const RequestHead& request, std::string_view route, const ExchangeFacts& facts,
                            bool background) const {
  AccessRecord record;
  record.background = background;
  record.client = facts.client;
  record.method = request.method;
  record.path = request.path;
  record.route = route;
  record.status = facts.status;
  record.bytes_in = facts.bytes_in;
  record.bytes_out = facts.bytes_out;
  record.total_us = microsBetween(facts.started, facts.finished);
  if (!route.empty() && facts.status != 0) record.upstream_us = microsBetween(facts.upstream_started, facts.upstream_headers);
  log_->write(record);
}

void AccessLogFilter::onComplete(Exchange& exchange, size_t, bool) const {
  write(exchange.request(), exchange.route().name, exchange.facts(), exchange.notes().background);
}

void AccessLogFilter::onUnrouted(const RequestHead* request, const ExchangeFacts& facts) const {
  if (request != nullptr) write(*request, {}, facts, false);
}

}  // namespace perfgate
