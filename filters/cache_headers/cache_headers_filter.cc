#include "filters/cache_headers/cache_headers_filter.h"

#include <xxhash.h>

#include <ctime>

#include "filters/cache/cache_control.h"
#include "filters/cache/http_date.h"
#include "filters/cache_headers/conditional.h"
#include "gateway/http_date.h"
#include "gateway/upstream.h"

namespace perfgate {
namespace {

// Statuses a configured Cache-Control applies to: successes and permanent redirects (a 304 so it
// carries what its 200 would). Errors are left alone: `max-age=300` on a 503 would keep an
// outage in caches.
bool takesCacheControl(int status) {
  switch (status) {
    case 200: case 203: case 204: case 206: case 300: case 301: case 304: case 308:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string strongEtagOf(std::string_view body) {
  XXH128_hash_t hash = XXH3_128bits(body.data(), body.size());
  static const char kHex[] = "0123456789abcdef";
  std::string tag(34, '"');
  uint64_t parts[2] = {hash.high64, hash.low64};
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < 16; ++i) tag[1 + p * 16 + i] = kHex[(parts[p] >> (60 - 4 * i)) & 0xf];
  }
  return tag;
}

FilterAction CacheHeadersFilter::onResponseHead(Exchange& exchange, size_t, UpstreamResponseHead& head,
                                                ExtraHeaders&) const {
  const RouteConfig& route = exchange.route();
  if (!route.cache_control.empty() && takesCacheControl(head.status) &&
      (route.cache_control_override || !head.field("cache-control"))) {
    head.setField("Cache-Control", route.cache_control);
    // RFC 9111 §5.3: Expires for caches that do not know max-age, from the response's Date.
    if (route.cache_control_max_age && (route.cache_control_override || !head.field("expires"))) {
      std::optional<std::string_view> date = head.field("date");
      std::optional<int64_t> origin = date ? parseHttpDate(*date) : std::nullopt;
      head.setField("Expires", formatHttpDate(origin.value_or(time(nullptr)) + *route.cache_control_max_age));
    }
  }
  if (!route.etag || head.status != 200 || exchange.request().method != "GET" || head.field("etag")) {
    return FilterAction::Continue;
  }
  CacheControl cc = parseCacheControl(head.headers);
  if (cc.no_store || cc.private_) return FilterAction::Continue;  // not cacheable: nothing to validate
  return FilterAction::Hold;
}

FilterAction CacheHeadersFilter::onResponseBody(Exchange& exchange, size_t, UpstreamResponseHead& head,
                                                std::string_view body, bool complete) const {
  if (!complete) return FilterAction::Continue;  // too large to hash before sending
  std::string etag = strongEtagOf(body);
  head.setField("ETag", etag);
  std::optional<std::string_view> last_modified = head.field("last-modified");
  if (!notModified(exchange.request(), etag, last_modified.value_or(std::string_view()))) {
    return FilterAction::Continue;
  }
  // RFC 9110 §15.4.5: the 304 carries the fields its 200 would have had that describe it.
  std::string out = "HTTP/1.1 304 Not Modified\r\n";
  bool dated = false;
  for (const HeaderField& field : head.headers) {
    if (!isNotModifiedField(field.name)) continue;
    dated = dated || equalsIgnoreCase(field.name, "date");
    out.append(field.name);
    out.append(": ");
    out.append(field.value);
    out.append("\r\n");
  }
  if (!dated) {
    out.append("Date: ");
    out.append(httpDate());
    out.append("\r\n");
  }
  out.append("Via: 1.1 perfgate\r\n");
  exchange.respond(304, out, {}, nullptr);
  return FilterAction::Responded;
}

}  // namespace perfgate
