#include "filters/cache_headers/cache_headers_filter.h"

#include <ctime>

#include "gateway/http/cache_control.h"
#include "gateway/http/conditional.h"
#include "gateway/http/http_date.h"
#include "gateway/upstream/upstream.h"

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

FilterAction CacheHeadersFilter::onRequest(Exchange& exchange, size_t) const {
  exchange.notes().etag_generated = exchange.route().settings<CacheHeadersRouteSettings>().etag;
  return FilterAction::Continue;
}

FilterAction CacheHeadersFilter::onResponseHead(Exchange& exchange, size_t, ResponseHead& head) const {
  const CacheHeadersRouteSettings& route = exchange.route().settings<CacheHeadersRouteSettings>();
  if (!route.cache_control.empty() && takesCacheControl(head.status) &&
      (route.cache_control_override || !head.headers.get("cache-control"))) {
    head.headers.set("Cache-Control", route.cache_control);
    // RFC 9111 §5.3: Expires for caches that do not know max-age, from the response's Date.
    if (route.cache_control_max_age && (route.cache_control_override || !head.headers.get("expires"))) {
      std::optional<std::string_view> date = head.headers.get("date");
      std::optional<int64_t> origin = date ? parseHttpDate(*date) : std::nullopt;
      head.headers.set("Expires", formatHttpDate(origin.value_or(time(nullptr)) + *route.cache_control_max_age));
    }
  }
  if (!route.etag || head.status != 200 || exchange.request().method != "GET" || head.headers.get("etag")) {
    return FilterAction::Continue;
  }
  CacheControl cc = parseCacheControl(head.headers);
  if (cc.no_store || cc.private_) return FilterAction::Continue;  // not cacheable: nothing to validate
  return FilterAction::Hold;
}

FilterAction CacheHeadersFilter::onResponseBody(Exchange& exchange, size_t, ResponseHead& head,
                                                std::string_view body, bool complete) const {
  if (!complete) return FilterAction::Continue;  // too large to hash before sending
  std::string etag = strongEtagOf(body);
  head.headers.set("ETag", etag);
  std::optional<std::string_view> last_modified = head.headers.get("last-modified");
  if (!notModified(exchange.request(), etag, last_modified.value_or(std::string_view()))) {
    return FilterAction::Continue;
  }
  // RFC 9110 §15.4.5: the 304 carries the fields its 200 would have had that describe it.
  ResponseHead out;
  out.status = 304;
  out.reason = "Not Modified";
  for (HeaderField field : head.headers) {
    if (isNotModifiedField(field.name)) out.headers.add(field.name, field.value);
  }
  if (!out.headers.has("date")) out.headers.add("Date", httpDate());
  out.headers.add("Via", "1.1 perfgate");
  exchange.respond(out, {}, nullptr);
  return FilterAction::Responded;
}

}  // namespace perfgate
