#include "filters/cache/cache_filter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include "filters/cache/cache_control.h"
#include "filters/cache/cache_key.h"
#include "filters/cache/freshness.h"
#include "gateway/connection.h"
#include "gateway/forwarding.h"
#include "gateway/upstream.h"

namespace perfgate {
namespace {

enum class Lookup : uint8_t { Bypass, Miss, Expired };

// What the cache remembers about one exchange.
struct CacheExchange final : FilterState {
  Lookup lookup = Lookup::Miss;
  std::string key;
  uint64_t hash = 0;
  CacheControl request_cc;
  int64_t request_time = 0;
  std::shared_ptr<CacheEntry> filling;  // the response being captured for the store
};

int64_t seconds(const std::optional<Millis>& ms) { return ms ? ms->count() / 1000 : 0; }

StoragePolicy policyOf(const RouteConfig& route) {
  StoragePolicy policy;
  policy.allow_cookies = route.allow_cookies;
  policy.heuristic = route.heuristic_freshness;
  if (route.ttl) policy.default_ttl = seconds(route.ttl);
  if (route.ttl_override) policy.override_ttl = seconds(route.ttl_override);
  if (route.stale_if_error) policy.stale_if_error = seconds(route.stale_if_error);
  return policy;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Lower-case field names listed by every Vary field, in order, without duplicates.
std::vector<std::string> varyNames(const std::vector<HeaderField>& fields) {
  std::vector<std::string> names;
  for (const HeaderField& field : fields) {
    if (!equalsIgnoreCase(field.name, "vary")) continue;
    std::string_view value = field.value;
    while (!value.empty()) {
      size_t comma = value.find(',');
      std::string name = lower(trimOws(value.substr(0, comma)));
      if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return names;
}

bool listed(const std::vector<std::string>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return equalsIgnoreCase(n, name); });
}

// The fields stored with a response: what a hit replays. Hop-by-hop fields, framing, Age, Via
// and the cache's own fields are made afresh per response; fields a qualified private or
// no-cache names are never stored (RFC 9111 §5.2.2.4, §5.2.2.7).
std::string storedFields(const UpstreamResponseHead& head, const CacheControl& cc) {
  std::vector<std::string_view> connection_named;
  for (const HeaderField& field : head.headers) {
    if (!equalsIgnoreCase(field.name, "connection")) continue;
    std::string_view value = field.value;
    while (!value.empty()) {
      size_t comma = value.find(',');
      connection_named.push_back(trimOws(value.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  std::string out;
  for (const HeaderField& field : head.headers) {
    std::string_view name = field.name;
    if (isHopByHop(name) || equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "age") ||
        equalsIgnoreCase(name, "via") || equalsIgnoreCase(name, "x-cache") ||
        equalsIgnoreCase(name, "cache-status") || listed(cc.private_fields, name) ||
        listed(cc.no_cache_fields, name) ||
        std::any_of(connection_named.begin(), connection_named.end(),
                    [&](std::string_view n) { return equalsIgnoreCase(n, name); })) {
      continue;
    }
    out.append(name);
    out.append(": ");
    out.append(field.value);
    out.append("\r\n");
  }
  return out;
}

bool hasBody(int status) { return status != 204 && status != 304 && status >= 200; }

}  // namespace

CacheFilter::CacheFilter(std::shared_ptr<CacheStore> store, const CacheConfig& config)
    : store_(std::move(store)), config_(config) {}

FilterAction CacheFilter::onRequest(Exchange& exchange, size_t index) const {
  auto state = std::make_unique<CacheExchange>();
  CacheExchange& st = *state;
  exchange.state(index) = std::move(state);
  const RequestHead& request = exchange.request();
  const RouteConfig& route = exchange.route();
  if (!route.cache || (request.method != "GET" && request.method != "HEAD")) {
    st.lookup = Lookup::Bypass;
    return FilterAction::Continue;
  }

  st.request_cc = parseCacheControl(request.headers);
  st.key = makeCacheKey("http", request.host, request.path, request.query);
  st.hash = hashKey(st.key);
  int64_t now = time(nullptr);
  st.request_time = now;
  CacheEntryPtr entry = store_->lookup(st.key, st.hash, request.headers);
  if (entry != nullptr) {
    Freshness freshness = classify(*entry, st.request_cc, now, !route.ignore_client_no_cache);
    if (freshness == Freshness::Fresh) {
      int64_t age = currentAge(*entry, now);
      std::string head;
      head.reserve(entry->fields.size() + 192);
      head.append("HTTP/1.1 ");
      head.append(std::to_string(entry->status));
      head.push_back(' ');
      head.append(entry->reason);
      head.append("\r\n");
      head.append(entry->fields);
      if (hasBody(entry->status)) {
        head.append("Content-Length: ");
        head.append(std::to_string(entry->body.size()));
        head.append("\r\n");
      }
      head.append("Age: ");
      head.append(std::to_string(age));
      head.append("\r\nVia: 1.1 perfgate\r\nX-Cache: HIT\r\nCache-Status: perfgate; hit; ttl=");
      head.append(std::to_string(entry->freshness_lifetime - age));
      head.append("\r\n");
      std::string_view body = request.isHead() ? std::string_view() : std::string_view(entry->body);
      exchange.respond(entry->status, std::move(head), body, entry);
      return FilterAction::Responded;
    }
    st.lookup = Lookup::Expired;
  }
  // §5.2.1.7: only-if-cached and nothing usable stored.
  if (st.request_cc.only_if_cached) {
    std::string head = gatewayErrorResponse(504, "not in cache (only-if-cached)", false, false, false);
    head.resize(head.size() - 2);  // respond() ends the head itself
    std::string body = "{\"error\": \"not in cache (only-if-cached)\", \"status\": 504}\n";
    auto owner = std::make_shared<const std::string>(request.isHead() ? std::string() : body);
    exchange.respond(504, std::move(head), *owner, owner);
    return FilterAction::Responded;
  }
  return FilterAction::Continue;
}

FilterAction CacheFilter::onResponseHead(Exchange& exchange, size_t index, const UpstreamResponseHead& head,
                                         ExtraHeaders& extra) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr) return FilterAction::Continue;
  if (st->lookup == Lookup::Bypass) {
    extra.emplace_back("X-Cache: BYPASS");
    return FilterAction::Continue;
  }
  const RequestHead& request = exchange.request();
  const RouteConfig& route = exchange.route();
  CacheControl response_cc = parseCacheControl(head.headers);
  StoragePolicy policy = policyOf(route);
  NotStorableReason reason = checkStorable(request.method, head.status, st->request_cc,
                                           request.header("authorization").has_value(), head.headers,
                                           response_cc, policy);
  if (reason == NotStorableReason::None && request.isHead()) reason = NotStorableReason::Method;
  if (reason == NotStorableReason::None) {
    for (const HeaderField& field : head.headers) {
      if (!equalsIgnoreCase(field.name, "content-length")) continue;
      uint64_t length = 0;
      auto [end, ec] = std::from_chars(field.value.data(), field.value.data() + field.value.size(), length);
      if (ec != std::errc() || length > config_.max_object_bytes) reason = NotStorableReason::TooLarge;
    }
  }

  bool stale = st->lookup == Lookup::Expired;
  extra.emplace_back(stale ? "X-Cache: EXPIRED" : "X-Cache: MISS");
  std::string status = stale ? "Cache-Status: perfgate; fwd=stale" : "Cache-Status: perfgate; fwd=miss";
  if (reason != NotStorableReason::None) {
    status.append("; detail=");
    status.append(describe(reason));
    extra.push_back(std::move(status));
    return FilterAction::Continue;
  }
  status.append("; stored");
  extra.push_back(std::move(status));

  auto entry = std::make_shared<CacheEntry>();
  entry->key = st->key;
  entry->hash = st->hash;
  entry->vary = varyNames(head.headers);
  entry->variant = makeVariantKey(entry->vary, request.headers);
  entry->route = route.name;
  entry->status = head.status;
  entry->reason = std::string(head.reason);
  entry->fields = storedFields(head, response_cc);
  fillFreshness(*entry, head.headers, st->request_time, time(nullptr), policy);
  st->filling = std::move(entry);
  return FilterAction::Continue;
}

void CacheFilter::onResponseData(Exchange& exchange, size_t index, std::string_view data) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr || st->filling == nullptr) return;
  if (st->filling->body.size() + data.size() > config_.max_object_bytes) {
    st->filling.reset();  // larger than the object limit: it streams through unstored
    return;
  }
  st->filling->body.append(data);
}

void CacheFilter::onComplete(Exchange& exchange, size_t index, bool complete) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr || st->filling == nullptr || !complete) return;
  store_->insert(std::move(st->filling));
}

}  // namespace perfgate
