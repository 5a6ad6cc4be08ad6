#include "filters/cache/freshness.h"

#include <algorithm>

#include "gateway/http/http_date.h"
#include "gateway/http/structured_fields.h"
#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

// The first field line named `name`: for the singleton fields used here (Date, Age, Expires,
// ETag, Last-Modified) a repeated line is a sender error, and §4.2.1 allows using the first.
std::optional<std::string_view> firstField(const HeaderBlock& fields, std::string_view name) {
  return fields.get(name);
}

bool anyField(const HeaderBlock& fields, std::string_view name) { return fields.has(name); }

// §4.1: "A stored response with a Vary header field value containing a member "*" always fails
// to match."
bool varyStar(const HeaderBlock& fields) {
  for (const HeaderField& field : fields) {
    if (equalsIgnoreCase(field.name, "vary") && hasToken(field.value, "*")) return true;
  }
  return false;
}

}  // namespace

const char* describe(NotStorableReason reason) {
  switch (reason) {
    case NotStorableReason::None: return "none";
    case NotStorableReason::Method: return "method";
    case NotStorableReason::Status: return "status";
    case NotStorableReason::NoStore: return "no-store";
    case NotStorableReason::Private: return "private";
    case NotStorableReason::Authorization: return "authorization";
    case NotStorableReason::SetCookie: return "set-cookie";
    case NotStorableReason::VaryStar: return "vary-star";
    case NotStorableReason::NoFreshness: return "no-freshness";
    case NotStorableReason::TooLarge: return "too-large";
    case NotStorableReason::RouteDisabled: return "route-disabled";
    case NotStorableReason::Incomplete: return "incomplete";
    case NotStorableReason::VariantLimit: return "variant-limit";
    case NotStorableReason::Coding: return "coding";
  }
  return "unknown";
}

bool statusUnderstood(int status) {
  // RFC 9110 §15's final status codes, less 206 (understood where the route stores parts:
  // StoragePolicy::partial_content) and 304 (it
  // freshens a stored response, §4.3.4, and is never stored itself), 305 and 306 (deprecated,
  // unused).
  switch (status) {
    case 200: case 201: case 202: case 203: case 204: case 205:
    case 300: case 301: case 302: case 303: case 307: case 308:
    case 400: case 401: case 402: case 403: case 404: case 405: case 406: case 407: case 408:
    case 409: case 410: case 411: case 412: case 413: case 414: case 415: case 416: case 417:
    case 421: case 422: case 426:
    case 500: case 501: case 502: case 503: case 504: case 505:
      return true;
    default:
      return false;
  }
}

bool statusHeuristicallyCacheable(int status) {
  // RFC 9110 §15.1: "200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, and 501"; 206 only
  // where the route stores parts (checkStorable), never as if it were the whole response.
  switch (status) {
    case 200: case 203: case 204: case 300: case 301: case 308:
    case 404: case 405: case 410: case 414: case 501:
      return true;
    default:
      return false;
  }
}

NotStorableReason checkStorable(std::string_view method, int status, const CacheControl& request_cc,
                                bool request_has_authorization,
                                const HeaderBlock& response_fields,
                                const CacheControl& response_cc, const StoragePolicy& policy) {
  // §3: "the request method is understood by the cache" — GET only; HEAD is answered from the
  // GET entry, and a HEAD response has no body to store.
  if (method != "GET") return NotStorableReason::Method;

  // §3: "the response status code is final" and, "if the response status code is 206 or 304, or
  // the must-understand cache directive is present: the cache understands the response status
  // code".
  if (status < 200 || status > 599 || (status == 206 && !policy.partial_content) || status == 304) {
    return NotStorableReason::Status;
  }
  const bool understood = statusUnderstood(status) || status == 206;
  if (response_cc.must_understand && !understood) return NotStorableReason::Status;

  // §3: "the no-store cache directive is not present in the response"; §5.2.1.5: request
  // no-store — "a cache MUST NOT store any part of either this request or any response to it".
  // §5.2.2.3: with must-understand, "the cache SHOULD ignore the no-store directive if it
  // understands and implements the status code's caching requirements".
  if (request_cc.no_store) return NotStorableReason::NoStore;
  if (response_cc.no_store && !(response_cc.must_understand && understood)) {
    return NotStorableReason::NoStore;
  }

  // §3: "if the cache is shared: the private response directive is either not present or allows
  // a shared cache to store a modified response". Qualified private lands in private_fields.
  if (response_cc.private_) return NotStorableReason::Private;

  // §3.5: "A shared cache MUST NOT use a cached response to a request with an Authorization
  // header field ... unless" the response has must-revalidate, public or s-maxage.
  if (request_has_authorization &&
      !(response_cc.public_ || response_cc.s_maxage || response_cc.must_revalidate)) {
    return NotStorableReason::Authorization;
  }

  if (!policy.allow_cookies && anyField(response_fields, "set-cookie")) {
    return NotStorableReason::SetCookie;
  }
  if (varyStar(response_fields)) return NotStorableReason::VaryStar;

  // §3: the response contains "a public response directive; ... an Expires header field; a
  // max-age response directive; ... an s-maxage response directive; a cache extension that
  // allows it to be cached [here: a route ttl]; or a status code that is defined as
  // heuristically cacheable".
  const std::optional<std::string_view> last_modified = firstField(response_fields, "last-modified");
  const bool explicit_lifetime =
      response_cc.max_age || response_cc.s_maxage || anyField(response_fields, "expires");
  const bool route_ttl = policy.override_ttl || policy.default_ttl;
  if (!explicit_lifetime && !route_ttl && !response_cc.public_ &&
      !(statusHeuristicallyCacheable(status) || status == 206)) {
    return NotStorableReason::Status;
  }

  // A lifetime can be computed, or the response is revalidated on every use anyway.
  const bool heuristic = policy.heuristic && last_modified && parseHttpDate(*last_modified);
  if (explicit_lifetime || route_ttl || heuristic) return NotStorableReason::None;
  if (response_cc.no_cache && (last_modified || anyField(response_fields, "etag"))) {
    return NotStorableReason::None;
  }
  return NotStorableReason::NoFreshness;
}

int64_t freshnessLifetime(const HeaderBlock& response_fields,
                          const CacheControl& response_cc, int64_t date_value,
                          const StoragePolicy& policy) {
  if (policy.override_ttl) return std::max<int64_t>(0, *policy.override_ttl);
  // §4.2.1: "If the cache is shared and the s-maxage response directive is present, use its
  // value, or ... If the max-age response directive is present, use its value, or ... If the
  // Expires response header field is present, use its value minus the value of the Date response
  // header field (using the time the message was received if it is not present ...)".
  if (response_cc.s_maxage) return *response_cc.s_maxage;
  if (response_cc.max_age) return *response_cc.max_age;
  if (std::optional<std::string_view> expires = firstField(response_fields, "expires")) {
    // §5.3: "A cache recipient MUST interpret invalid date formats, especially the value "0", as
    // representing a time in the past (i.e., "already expired")."
    const std::optional<int64_t> when = parseHttpDate(*expires);
    return when ? std::max<int64_t>(0, *when - date_value) : 0;
  }
  if (policy.default_ttl) return std::max<int64_t>(0, *policy.default_ttl);
  // §4.2.2: "If the response has a Last-Modified header field, caches are encouraged to use a
  // heuristic expiration value that is no more than some fraction of the interval since that
  // time. A typical setting of this fraction might be 10%." Capped at one day.
  if (policy.heuristic) {
    if (std::optional<std::string_view> text = firstField(response_fields, "last-modified")) {
      if (std::optional<int64_t> last_modified = parseHttpDate(*text)) {
        if (*last_modified < date_value) {
          return std::min<int64_t>((date_value - *last_modified) / 10, 86400);
        }
      }
    }
  }
  return 0;
}

int64_t currentAge(const CacheEntry& entry, int64_t now) {
  // §4.2.3.
  const int64_t apparent_age = std::max<int64_t>(0, entry.response_time - entry.date_value);
  const int64_t response_delay = entry.response_time - entry.request_time;
  const int64_t corrected_age_value = entry.age_value + response_delay;
  const int64_t corrected_initial_age = std::max(apparent_age, corrected_age_value);
  const int64_t resident_time = now - entry.response_time;
  const int64_t current_age = corrected_initial_age + resident_time;
  return std::max<int64_t>(0, current_age);
}

void fillFreshness(CacheEntry& entry, const HeaderBlock& response_fields,
                   int64_t request_time, int64_t response_time, const StoragePolicy& policy) {
  const CacheControl cc = parseCacheControl(response_fields);
  entry.request_time = request_time;
  entry.response_time = response_time;

  // §4.2.3: date_value is the Date field; §6.6.1 of [HTTP]: a recipient with no (valid) Date
  // uses the time the message was received.
  std::optional<int64_t> date;
  if (std::optional<std::string_view> text = firstField(response_fields, "date")) {
    date = parseHttpDate(*text);
  }
  entry.date_value = date.value_or(response_time);

  // §5.1: Age = delta-seconds, the first member of a list-based value; a huge value saturates
  // at 2^31 (§1.2.2). A value that is not delta-seconds ("10abc", "-1", "1.5") says nothing
  // trustworthy of the response's age: rather than read a number prefix, or ignore it and take
  // the response as new, the response is stored to be validated before every reuse.
  entry.age_value = 0;
  bool age_unknown = false;
  if (std::optional<std::string_view> text = firstField(response_fields, "age")) {
    std::optional<int64_t> age = parseDeltaSeconds(trimOws(text->substr(0, text->find(','))));
    entry.age_value = age.value_or(0);
    age_unknown = !age.has_value();
  }

  entry.freshness_lifetime = freshnessLifetime(response_fields, cc, entry.date_value, policy);

  // §5.2.2.8: proxy-revalidate is must-revalidate for shared caches; §5.2.2.10: s-maxage
  // "incorporates the semantics of the proxy-revalidate response directive".
  entry.must_revalidate = cc.must_revalidate || cc.proxy_revalidate || cc.s_maxage.has_value();
  entry.no_cache = cc.no_cache || age_unknown;
  if (entry.must_revalidate || entry.no_cache) {
    entry.stale_while_revalidate = 0;
    entry.stale_if_error = 0;
  } else {
    entry.stale_while_revalidate = cc.stale_while_revalidate.value_or(0);
    const int64_t route_default = std::max<int64_t>(0, policy.stale_if_error.value_or(0));
    entry.stale_if_error = cc.stale_if_error.value_or(route_default);
  }

  entry.etag = std::string(firstField(response_fields, "etag").value_or(""));
  entry.last_modified = std::string(firstField(response_fields, "last-modified").value_or(""));
}

Freshness classify(const CacheEntry& entry, const CacheControl& request_cc, int64_t now,
                   bool honour_request_no_cache) {
  const int64_t age = currentAge(entry, now);
  const int64_t lifetime = entry.freshness_lifetime;
  const Freshness validate = entry.etag.empty() && entry.last_modified.empty()
                                 ? Freshness::Expired
                                 : Freshness::StaleRevalidate;

  // §5.2.2.4: unqualified response no-cache — "the response MUST NOT be used to satisfy any
  // other request without forwarding it for validation and receiving a successful response".
  if (entry.no_cache) return validate;

  if (honour_request_no_cache) {
    // §5.2.1.4: request no-cache — the client "prefers a stored response not be used to satisfy
    // the request without successful validation on the origin server".
    if (request_cc.no_cache) return validate;
    // §5.2.1.1: max-age=N — the client "prefers a response whose age is less than or equal to"
    // N. max-age=0 always validates: it is what clients send to mean "reload".
    if (request_cc.max_age && (*request_cc.max_age == 0 || age > *request_cc.max_age)) {
      return validate;
    }
    // §5.2.1.3: min-fresh=N — "a response that will still be fresh for at least" N seconds.
    if (request_cc.min_fresh && lifetime - age < *request_cc.min_fresh) return validate;
  }

  // A soft purge: stale from the purge on, served stale while one refresh runs (for a grace
  // period), unless must-revalidate forbids serving it stale at all.
  if (int64_t purged = entry.soft_purged.at.load(std::memory_order_relaxed); purged != 0) {
    if (entry.must_revalidate || now - purged >= kSoftPurgeGraceSeconds) return validate;
    return Freshness::StaleWhileRevalidate;
  }

  // §4.2: "response_is_fresh = (freshness_lifetime > current_age)".
  if (age < lifetime) return Freshness::Fresh;

  // §5.2.2.2: must-revalidate — "once the response has become stale, a cache MUST NOT reuse that
  // response to satisfy another request until it has been successfully validated by the
  // origin": client max-stale and stale-while-revalidate do not apply.
  if (entry.must_revalidate) return validate;

  const int64_t staleness = age - lifetime;
  // §5.2.1.2: max-stale — the client "is willing to accept a response that has exceeded its
  // freshness lifetime by no more than the specified number of seconds"; any age without one.
  if (request_cc.any_stale || (request_cc.max_stale && staleness <= *request_cc.max_stale)) {
    return Freshness::Fresh;
  }
  // RFC 5861 §3: stale-while-revalidate=N — usable "up to" N seconds after becoming stale, the
  // window [lifetime, lifetime + N) of the entry's age.
  if (staleness < entry.stale_while_revalidate) return Freshness::StaleWhileRevalidate;
  return validate;
}

std::optional<HeaderBlock> targetedPolicyFields(const HeaderBlock& fields, const std::vector<std::string>& targeted) {
  for (const std::string& name : targeted) {
    std::string value;
    fields.forEach(name, [&value](std::string_view line) {
      if (!value.empty()) value.append(", ");
      value.append(line);
    });
    if (trimOws(value).empty() || !isStructuredDictionary(value)) continue;  // absent, empty or invalid: the next
    HeaderBlock policy;
    for (HeaderField field : fields) {
      if (!equalsIgnoreCase(field.name, "cache-control") && !equalsIgnoreCase(field.name, "expires")) {
        policy.add(field.name, field.value);
      }
    }
    policy.add("Cache-Control", value);
    return policy;
  }
  return std::nullopt;
}

}  // namespace perfgate
