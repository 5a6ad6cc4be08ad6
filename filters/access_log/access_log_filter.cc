#include "filters/access_log/access_log_filter.h"

#include <cstdint>

#include "gateway/config/config.h"

namespace perfgate {
namespace {

int64_t microsBetween(ExchangeFacts::Clock::time_point a, ExchangeFacts::Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

std::string_view protocolOf(HttpVersion version) { return version == HttpVersion::Http10 ? "HTTP/1.0" : "HTTP/1.1"; }

}  // namespace

bool AccessLogFilter::sampledOut(const ExchangeFacts& facts) const {
  if (sample_percent_ >= 100 || facts.status >= 500 || facts.error != GatewayError::None) return false;
  // A per-thread sequence spread over 0..99 (Weyl): a steady share, no shared state.
  thread_local uint32_t sequence = 0;
  sequence += 61;  // coprime with 100: every residue once per 100 requests
  return sequence % 100 >= sample_percent_;
}

void AccessLogFilter::write(const RequestHead& request, const RouteConfig* route, const ExchangeFacts& facts,
                            const ExchangeNotes* notes) const {
  if (sampledOut(facts)) return;
  AccessRecord record;
  record.background = notes != nullptr && notes->background;
  record.client = facts.client;
  record.method = request.method;
  record.host = request.host;
  record.path = request.path;
  record.query = request.query;
  record.protocol = protocolOf(request.version);
  record.user_agent = request.header("user-agent").value_or(std::string_view());
  record.referer = request.header("referer").value_or(std::string_view());
  record.request_id = facts.request_id;
  if (notes != nullptr && notes->cache_verdict != nullptr) record.cache = notes->cache_verdict;
  if (route != nullptr) {
    record.route = route->name;
    record.upstream = route->upstream;
    if (route->upstream_index < config_->upstreams.size()) {
      record.upstream_addr = config_->upstreams[route->upstream_index].authority;
    }
  }
  record.status = facts.status;
  record.bytes_in = facts.bytes_in;
  record.bytes_out = facts.bytes_out;
  record.total_us = microsBetween(facts.started, facts.finished);
  if (route != nullptr && facts.status != 0 && facts.upstream_started != ExchangeFacts::Clock::time_point()) {
    record.upstream_us = microsBetween(facts.upstream_started, facts.upstream_headers);
  } else {
    record.upstream = {};  // answered without it (a hit, a local error)
    record.upstream_addr = {};
  }
  log_->write(record);
}

void AccessLogFilter::onComplete(Exchange& exchange, size_t, bool) const {
  write(exchange.request(), &exchange.route(), exchange.facts(), &exchange.notes());
}

void AccessLogFilter::onUnrouted(const RequestHead* request, const ExchangeFacts& facts) const {
  if (request != nullptr) write(*request, nullptr, facts, nullptr);
}

}  // namespace perfgate
