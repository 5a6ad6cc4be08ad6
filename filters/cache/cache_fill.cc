// The cache filter's storing side: the decision on the backend's response head (store,
// revalidated, stale-if-error, invalidation), the body captured as it passes, and the entry
// stored when the exchange completes.

#include "filters/cache/cache_exchange.h"
#include "filters/cache/cache_filter.h"
#include "filters/cache/cache_key.h"
#include "filters/cache/cache_serve.h"
#include "filters/cache/partial_content.h"
#include "filters/cache/stored_response.h"
#include "gateway/http/accept_encoding.h"
#include "gateway/http/tokens.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {
namespace {

// RFC 9111 §4.4: the target URI, and the same-host URIs in Location and Content-Location, lose
// their stored responses (every variant), in L1 and in L2, whichever route each belongs to.
void invalidate(Exchange& exchange, CacheStore& store, L2Cache* l2, const CacheExchange& st, const ResponseHead& head) {
  const RequestHead& request = exchange.request();
  store.erase(st.key, st.hash);
  if (l2 != nullptr) l2->erase(exchange.route().name, st.key);
  for (HeaderField field : head.headers) {
    if (!equalsIgnoreCase(field.name, "location") && !equalsIgnoreCase(field.name, "content-location")) continue;
    std::string_view target = field.value;
    if (startsWithIgnoreCase(target, "http://") || startsWithIgnoreCase(target, "https://")) {
      target.remove_prefix(target.find("//") + 2);
      size_t slash = target.find('/');
      if (slash == std::string_view::npos || !equalsIgnoreCase(target.substr(0, slash), request.host)) continue;
      target.remove_prefix(slash);
    }
    if (target.empty() || target.front() != '/' || target.substr(0, 2) == "//") continue;  // not a same-host path
    target = target.substr(0, target.find('#'));
    size_t question = target.find('?');
    std::string path;
    const RouteConfig* route = exchange.routeFor(target.substr(0, question), path);
    std::string key = makeCacheKey("http", request.host, path,
                                   question == std::string_view::npos ? std::string_view() : target.substr(question + 1));
    store.erase(key, hashKey(key));
    if (l2 != nullptr && route != nullptr) l2->erase(route->name, key);
  }
}

// RFC 9110 §9.3.3: a POST response "is only cacheable when [it includes] explicit freshness
// information and a Content-Location header field that has the same value as the POST's target
// URI"; then it is the target's current representation (§8.7), for later GETs. Only 200 and
// 203 answer a GET the same way.
bool answersLaterGets(const RequestHead& request, const ResponseHead& head, const HeaderBlock& policy_fields,
                      const CacheControl& response_cc) {
  if (head.status != 200 && head.status != 203) return false;
  if (!response_cc.max_age && !response_cc.s_maxage && !policy_fields.has("expires")) return false;
  std::optional<std::string_view> location = head.headers.get("content-location");
  if (!location) return false;
  std::string_view target = *location;
  if (startsWithIgnoreCase(target, "http://") || startsWithIgnoreCase(target, "https://")) {
    target.remove_prefix(target.find("//") + 2);
    size_t slash = target.find('/');
    if (slash == std::string_view::npos || !equalsIgnoreCase(target.substr(0, slash), request.host)) return false;
    target.remove_prefix(slash);
  }
  // The same value as the target (the key is made from the target; a path the gateway had to
  // normalise, or keeps out of keys, is not the same value).
  return target == request.target && !request.path_changed && !request.unkeyed_path;
}

}  // namespace

FilterAction CacheFilter::onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr) return FilterAction::Continue;
  const RequestHead& request = exchange.request();
  const RouteConfig& route = exchange.route();
  if (st->lookup == Lookup::Bypass) {
    if (st->invalidate && head.status >= 200 && head.status < 400) invalidate(exchange, *store_, l2_.get(), *st, head);
    head.headers.add("X-Cache", "BYPASS");
    st->outcome = CacheOutcome::Bypass;
    exchange.notes().cache_verdict = outcomeName(CacheOutcome::Bypass);
    if (st->store_post) storePostResponse(exchange, *st, head);
    return FilterAction::Continue;
  }
  // RFC 9213: a targeted field (CDN-Cache-Control, ...) is this cache's policy when present.
  std::optional<HeaderBlock> targeted = targetedPolicyFields(head.headers, settings_.targeted_fields);
  if (!settings_.forward_targeted_fields) {
    for (const std::string& name : settings_.targeted_fields) head.headers.remove(name);
  }
  const HeaderBlock& policy_fields = targeted ? *targeted : head.headers;
  CacheControl response_cc = parseCacheControl(policy_fields);
  StoragePolicy policy = policyOf(route.settings<CacheRouteSettings>());
  policy.partial_content = st->ranged;  // a 206 answers a Range the cache sent

  if (st->validating && head.status == 304) {
    // §4.3.4: the stored response is still current; its fields are updated from the 304 and it
    // answers the client: in full, or 304 when the client's own validators match it.
    int64_t now = clock_.now();
    CacheEntryPtr entry =
        refreshedEntry(*st->stale, head, response_cc, settings_.targeted_fields, st->request_time, now, policy);
    if (store_->insert(entry) && l2_ != nullptr) l2_->store(*entry, now);
    uint64_t bytes = serveStored(exchange, entry, now, CacheOutcome::Revalidated, "fwd=stale; fwd-status=304");
    if (!st->refresh) count(route, CacheOutcome::Revalidated, bytes);
    return FilterAction::Responded;
  }
  // RFC 5861 §4: a 500, 502, 503 or 504 from the backend may be replaced by the stale response.
  if (st->fallback != nullptr && (head.status == 500 || head.status == 502 || head.status == 503 || head.status == 504) &&
      staleIfErrorAllows(*st->fallback, clock_.now())) {
    std::string detail = "fwd=stale; fwd-status=" + std::to_string(head.status) + "; detail=stale-if-error";
    count(route, CacheOutcome::Stale, serveStored(exchange, st->fallback, clock_.now(), CacheOutcome::Stale, detail));
    return FilterAction::Responded;
  }
  NotStorableReason reason = checkStorable(request.method, head.status, st->request_cc,
                                           request.header("authorization").has_value(), policy_fields,
                                           response_cc, policy);
  if (reason == NotStorableReason::None && request.isHead()) reason = NotStorableReason::Method;
  if (reason == NotStorableReason::None && exchange.notes().unknown_coding) reason = NotStorableReason::Coding;
  std::optional<ContentRange> part;
  if (reason == NotStorableReason::None && head.status == 206) {
    std::optional<std::string_view> content_range = head.headers.get("content-range");
    part = content_range ? parseContentRange(*content_range) : std::nullopt;
    if (!part) reason = NotStorableReason::Status;  // several ranges (multipart), or an unknown length
  }
  if (reason == NotStorableReason::None) {
    head.headers.forEach("content-length", [&](std::string_view value) {
      std::optional<uint64_t> length = parseDecimal(value);
      if (!length || *length > settings_.max_object_bytes) reason = NotStorableReason::TooLarge;
    });
  }

  bool stale = st->lookup == Lookup::Expired;
  head.headers.add("X-Cache", stale ? "EXPIRED" : "MISS");
  st->outcome = stale ? CacheOutcome::Expired : CacheOutcome::Miss;
  exchange.notes().cache_verdict = outcomeName(*st->outcome);
  thread_local std::string status;  // copied into the head by add(): built without an allocation
  status.assign(st->missing ? "perfgate; fwd=partial" : stale ? "perfgate; fwd=stale" : "perfgate; fwd=miss");
  if (reason != NotStorableReason::None) {
    st->not_storable = true;
    RouteCacheCounters& counters = stats_->local(route.name);
    RouteCacheCounters::bump(counters.not_stored);
    static_assert(static_cast<size_t>(NotStorableReason::Coding) < kNotStorableReasons);
    RouteCacheCounters::bump(counters.not_stored_by[static_cast<size_t>(reason)]);
    status.append("; detail=");
    status.append(describe(reason));
    head.headers.add("Cache-Status", status);
    return FilterAction::Continue;
  }
  status.append("; stored");
  head.headers.add("Cache-Status", status);

  std::vector<std::string> vary = varyNames(head.headers);
  std::string variant = makeVariantKey(vary, request.headers, exchange.notes().coding_variant);
  st->filling = newEntry(st->key, st->hash, std::move(vary), std::move(variant), route.name, head, policy_fields,
                         response_cc, st->request_time, clock_.now(), policy);
  if (part) {
    st->filling->complete_length = part->complete;
    st->part_first = part->first;
    st->part_last = part->last;
    // The missing bytes of the client's range: held until whole, combined with the stored parts,
    // and the client answered its own range from the result (onResponseBody).
    if (st->missing) return FilterAction::Hold;
  }
  return FilterAction::Continue;
}

void CacheFilter::storePostResponse(Exchange& exchange, CacheExchange& st, ResponseHead& head) const {
  const RequestHead& request = exchange.request();
  std::optional<HeaderBlock> targeted = targetedPolicyFields(head.headers, settings_.targeted_fields);
  const HeaderBlock& policy_fields = targeted ? *targeted : head.headers;
  CacheControl response_cc = parseCacheControl(policy_fields);
  StoragePolicy policy = policyOf(exchange.route().settings<CacheRouteSettings>());
  if (exchange.notes().unknown_coding || !answersLaterGets(request, head, policy_fields, response_cc) ||
      checkStorable("GET", head.status, st.request_cc, request.header("authorization").has_value(), policy_fields,
                    response_cc, policy) != NotStorableReason::None) {
    return;
  }
  head.headers.add("Cache-Status", "perfgate; fwd=method; stored");
  std::vector<std::string> vary = varyNames(head.headers);
  std::string variant = makeVariantKey(vary, request.headers, exchange.notes().coding_variant);
  st.filling = newEntry(st.key, st.hash, std::move(vary), std::move(variant), exchange.route().name, head,
                        policy_fields, response_cc, st.request_time, clock_.now(), policy);
}

FilterAction CacheFilter::onResponseBody(Exchange& exchange, size_t index, ResponseHead&, std::string_view body,
                                         bool complete) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  st->bytes += body.size();
  if (!complete) {  // larger than the object limit after all: it streams through unstored
    st->filling.reset();
    return FilterAction::Continue;
  }
  st->filling->body.assign(body);
  CacheEntryPtr stored = storeFilling(exchange, *st);
  if (stored == nullptr || !storedAnswers(exchange.request(), *stored)) return FilterAction::Continue;
  st->bytes = serveStored(exchange, stored, clock_.now(), CacheOutcome::Miss, "fwd=partial; stored");
  return FilterAction::Responded;
}

void CacheFilter::onResponseData(Exchange& exchange, size_t index, std::string_view data) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr) return;
  st->bytes += data.size();
  if (st->filling == nullptr) return;
  if (st->filling->body.size() + data.size() > settings_.max_object_bytes) {
    st->filling.reset();  // larger than the object limit: it streams through unstored
    return;
  }
  st->filling->body.append(data);
}

CacheEntryPtr CacheFilter::storeFilling(Exchange& exchange, CacheExchange& st) const {
  std::shared_ptr<CacheEntry> entry = std::move(st.filling);
  if (entry->partial()) {
    if (entry->body.size() != st.part_last - st.part_first + 1) return nullptr;  // not the part it said
    entry->parts.push_back(CacheEntry::Part{st.part_first, std::move(entry->body)});
    entry->body.clear();
    CacheEntryPtr stored = store_->lookup(st.key, st.hash, exchange.request().headers, exchange.notes().coding_variant);
    combineParts(*entry, stored.get(), settings_.max_object_bytes);
  }
  finishEntry(*entry);
  RouteCacheCounters& counters = stats_->local(exchange.route().name);
  RouteCacheCounters::bump(counters.stored);
  RouteCacheCounters::bump(counters.stored_bytes, entry->body.size());
  if (store_->insert(entry) && l2_ != nullptr) l2_->store(*entry, clock_.now());  // write-behind
  // Stored in another coding than the one looked up (a slow coding's fast stand-in, or what the
  // backend chose to send): the looked-up variant, now older than this response, must not shadow
  // it. It goes, and the next request for it has it made again from this one.
  std::optional<ContentCoding> stored_coding = exchange.notes().coding_variant;
  if (st.asked_coding && stored_coding && *st.asked_coding != *stored_coding && !entry->partial()) {
    std::string asked = makeVariantKey(entry->vary, exchange.request().headers, *st.asked_coding);
    store_->erase(st.key, st.hash, asked);
    // A slow coding's stand-in: the slow one is made from it now, not on the next request.
    if (encoder_ != nullptr && settings_.compression.inBackground(*st.asked_coding) && asked != entry->variant &&
        storedCoding(*entry) == stored_coding && recodable(*entry, *st.asked_coding)) {
      makeInBackground(entry, *st.asked_coding, std::move(asked), exchange.notes().etag_generated);
    }
  }
  return entry;
}

void CacheFilter::onComplete(Exchange& exchange, size_t index, bool complete) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr) return;
  if (st->waiting) {  // the client left while waiting
    fills_->leave(st->key, st->hash, &exchange);
    st->waiting = false;
  }
  if (st->outcome) {
    if (!st->refresh) count(exchange.route(), *st->outcome, st->bytes);  // its client was counted
    st->outcome.reset();
  }
  if (st->filling != nullptr && complete && storeFilling(exchange, *st) != nullptr && !st->leader) {
    fills_->stored(st->key, st->hash);
  }
  if (st->leader) {  // wakes the waiters, on every worker: they look again
    st->leader = false;
    fills_->finish(st->key, st->hash, !st->not_storable, clock_.now());
  }
  if (st->refresh) {
    st->refresh = false;
    fills_->endRefresh(st->key, st->hash);
  }
}

}  // namespace perfgate
