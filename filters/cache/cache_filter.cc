#include "filters/cache/cache_filter.h"

#include <array>

#include "filters/cache/cache_exchange.h"
#include "filters/cache/cache_key.h"
#include "filters/cache/cache_serve.h"
#include "filters/cache/partial_content.h"
#include "filters/cache/stored_response.h"
#include "filters/compression/compression_filter.h"
#include "gateway/http/accept_encoding.h"
#include "gateway/http/error_response.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {
namespace {

// Request fields that backends (IIS URL Rewrite, Symfony, Laravel, method-override middleware)
// act on in place of the request line. The response then answers another URL or method than the
// cache key names, so storing it would poison the entry for everyone; such requests go past the
// cache.
bool overridesRequestLine(const RequestHead& request) {
  for (const HeaderField& field : request.headers) {
    std::string_view name = field.name;
    if (name.size() < 13 || (name[0] != 'x' && name[0] != 'X')) continue;
    if (equalsIgnoreCase(name, "x-original-url") || equalsIgnoreCase(name, "x-rewrite-url") ||
        equalsIgnoreCase(name, "x-http-method-override") || equalsIgnoreCase(name, "x-http-method") ||
        equalsIgnoreCase(name, "x-method-override")) {
      return true;
    }
  }
  return false;
}

}  // namespace

int64_t seconds(const std::optional<Millis>& ms) { return ms ? ms->count() / 1000 : 0; }

StoragePolicy policyOf(const CacheRouteSettings& route) {
  StoragePolicy policy;
  policy.allow_cookies = route.allow_cookies;
  policy.heuristic = route.heuristic_freshness;
  if (route.ttl) policy.default_ttl = seconds(route.ttl);
  if (route.ttl_override) policy.override_ttl = seconds(route.ttl_override);
  if (route.stale_if_error) policy.stale_if_error = seconds(route.stale_if_error);
  return policy;
}

CacheFilter::CacheFilter(std::shared_ptr<CacheStore> store, std::shared_ptr<FillRegistry> fills,
                         std::shared_ptr<CacheStats> stats, std::shared_ptr<L2Cache> l2,
                         std::shared_ptr<BackgroundEncoder> encoder,
                         std::shared_ptr<CompressionStats> compression_stats, Settings settings, const Clock& clock)
    : store_(std::move(store)),
      fills_(std::move(fills)),
      stats_(std::move(stats)),
      l2_(std::move(l2)),
      encoder_(std::move(encoder)),
      compression_stats_(std::move(compression_stats)),
      settings_(std::move(settings)),
      clock_(clock) {
  for (ContentCoding coding : settings_.compression.codings) {
    if (encoder_ == nullptr || !settings_.compression.inBackground(coding)) fast_codings_.push_back(coding);
  }
}

bool CacheFilter::enabledOn(const RouteConfig& route) const {
  const std::vector<const std::atomic<int8_t>*>& switches = settings_.switches;
  int8_t forced = route.index < switches.size() && switches[route.index] != nullptr
                      ? switches[route.index]->load(std::memory_order_relaxed)
                      : -1;
  return forced < 0 ? route.settings<CacheRouteSettings>().cache : forced != 0;
}

void CacheFilter::makeInBackground(CacheEntryPtr source, ContentCoding coding, std::string variant,
                                   bool generated_etags) const {
  encoder_->submit({std::move(source), coding, settings_.compression.wholeLevel(coding), std::move(variant),
                    settings_.max_object_bytes, generated_etags});
}

bool CacheFilter::recodable(const CacheEntry& source, ContentCoding coding) const {
  HeaderBlock fields;
  appendSerializedFields(source.fields, fields);
  // Decoding changes the content as much as encoding does (RFC 9111 §5.2.2.6); encoding asks for
  // what compression asks of a response (a listed type, large enough).
  if (parseCacheControl(fields).no_transform) return false;
  if (coding == ContentCoding::Identity) return true;
  std::optional<uint64_t> length;
  if (storedCoding(source) == ContentCoding::Identity) length = source.body.size();
  return encodable(settings_.compression, source.status, fields, length);
}

CacheEntryPtr CacheFilter::variantFromSibling(Exchange& exchange, std::string_view key, uint64_t hash,
                                             const CacheControl& request_cc, int64_t now, bool honour_no_cache) const {
  const RequestHead& request = exchange.request();
  const CompressionConfig& compression = settings_.compression;
  ContentCoding wanted = *exchange.notes().coding_variant;
  // The variants stored fresh, by coding: what the others are made from.
  std::array<CacheEntryPtr, kContentCodings> stored;
  CacheEntryPtr source;
  for (size_t i = 0; i < kContentCodings; ++i) {
    auto coding = static_cast<ContentCoding>(i);
    if (coding == wanted) continue;
    CacheEntryPtr entry = store_->lookup(key, hash, request.headers, coding);
    if (entry == nullptr || entry->partial() || storedCoding(*entry) != coding ||
        classify(*entry, request_cc, now, honour_no_cache) != Freshness::Fresh) {
      continue;
    }
    stored[i] = entry;
    if (source == nullptr || coding == ContentCoding::Identity) source = entry;  // identity needs no decoding
  }
  if (source == nullptr || !recodable(*source, wanted)) return nullptr;
  auto variantKey = [&](ContentCoding coding) { return makeVariantKey(source->vary, request.headers, coding); };
  const bool generated_etags = exchange.notes().etag_generated;

  ContentCoding made = wanted;
  if (encoder_ != nullptr && compression.inBackground(wanted)) {
    makeInBackground(source, wanted, variantKey(wanted), generated_etags);
    // Meanwhile the client's best fast coding: as stored, or made now.
    made = chooseCoding(parseAcceptEncoding(request.headers), fast_codings_);
    if (stored[codingIndex(made)] != nullptr) return stored[codingIndex(made)];
  }
  uint64_t identity_bytes = 0;
  std::shared_ptr<CacheEntry> entry = recodedEntry(*source, made, compression.wholeLevel(made), variantKey(made),
                                                   settings_.max_object_bytes, generated_etags, &identity_bytes);
  if (entry == nullptr) return nullptr;
  RouteCacheCounters::bump(stats_->local(exchange.route().name).recoded);
  CompressionCounters& counters = compression_stats_->local();
  if (made == ContentCoding::Identity) {
    CompressionCounters::bump(counters.decoded[codingIndex(*storedCoding(*source))]);
  } else {
    counters.encoded(made, identity_bytes, entry->body.size());
  }
  if (store_->insert(entry) && l2_ != nullptr) l2_->store(*entry, now);  // write-behind, as fills
  return entry;
}

void CacheFilter::count(const RouteConfig& route, CacheOutcome outcome, uint64_t bytes) const {
  RouteCacheCounters& counters = stats_->local(route.name);
  RouteCacheCounters::bump(counters.requests[static_cast<size_t>(outcome)]);
  RouteCacheCounters::bump(counters.bytes[static_cast<size_t>(outcome)], bytes);
}

FilterAction CacheFilter::onRequest(Exchange& exchange, size_t index) const {
  // A fresh hit keeps no per-exchange state: the key is built in a per-thread buffer, and the
  // state is made only for an exchange that goes on to the backend.
  std::unique_ptr<FilterState>& slot = exchange.state(index);
  auto state = [&slot]() -> CacheExchange& {
    if (slot == nullptr) slot = std::make_unique<CacheExchange>();
    return static_cast<CacheExchange&>(*slot);
  };
  if (slot != nullptr && state().waiting) {  // resumed: the leader is done (or the wait ran out); look again
    CacheExchange& st = state();
    fills_->leave(st.key, st.hash, &exchange);
    st.waiting = false;
    st.waited = true;
    st.stale.reset();
  }
  if (slot != nullptr) state().l2_waiting = false;  // resumed after an L2 lookup: L1 holds what it found
  const RequestHead& request = exchange.request();
  const RouteConfig& route = exchange.route();
  bool safe = request.method == "GET" || request.method == "HEAD";
  const CacheRouteSettings& settings = route.settings<CacheRouteSettings>();
  bool enabled = enabledOn(route);
  if (exchange.notes().background) return startRefresh(exchange, state(), enabled);
  // Requests whose response may not be the keyed resource's go past the cache: neither answered
  // from it nor stored, nor coalesced. A body on a GET/HEAD ("fat GET") is forwarded, and what
  // it makes the backend answer is not the URL's response.
  if (enabled && safe &&
      (overridesRequestLine(request) || request.framing != BodyFraming::None || request.unkeyed_path)) {
    state().lookup = Lookup::Bypass;
    return FilterAction::Continue;
  }
  if (!enabled || !safe) {
    CacheExchange& st = state();
    st.lookup = Lookup::Bypass;
    // RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target URI (and
    // the URIs in Location / Content-Location), whatever route the write came through: writes
    // often go through routes that are not cached themselves.
    st.invalidate = !safe && request.method != "OPTIONS" && request.method != "TRACE";
    if (st.invalidate) {
      st.key = makeCacheKey("http", request.host, request.path, request.query);
      st.hash = hashKey(st.key);
    }
    st.store_post = enabled && request.method == "POST" && settings.store_post_responses;
    if (st.store_post) {
      st.request_cc = parseCacheControl(request.headers);
      st.request_time = clock_.now();
      exchange.notes().body_kept_up_to = settings_.max_object_bytes;
    }
    return FilterAction::Continue;
  }

  thread_local std::string key;
  makeCacheKey(key, "http", request.host, request.path, request.query);
  uint64_t hash = hashKey(key);
  CacheControl request_cc = parseCacheControl(request.headers);
  int64_t now = clock_.now();
  // On a route with compression the variants are one per coding: the negotiated one selects.
  CacheEntryPtr entry = store_->lookup(key, hash, request.headers, exchange.notes().coding_variant);
  if (entry == nullptr && exchange.notes().coding_variant) {
    entry = variantFromSibling(exchange, key, hash, request_cc, now, !settings.ignore_client_no_cache);
  }
  CacheEntryPtr stale;
  // Stored parts that do not answer this request: a miss, and the backend is asked for the
  // span of the range that they lack (RFC 9111 §3.4 then combines the answer with them).
  CacheEntryPtr partial;
  if (entry != nullptr && entry->partial() && !storedAnswers(request, *entry)) partial = std::move(entry);
  const bool honour_no_cache = !settings.ignore_client_no_cache;
  std::optional<Freshness> verdict;
  if (entry != nullptr) verdict = classify(*entry, request_cc, now, honour_no_cache);
  // L2 is asked on a miss, and for an entry stale by its own age (another instance may have
  // stored a newer copy since); not when only the client's directives ask for validation.
  const bool stale_by_age = verdict && (*verdict == Freshness::StaleRevalidate || *verdict == Freshness::Expired) &&
                            classify(*entry, CacheControl{}, now, false) != Freshness::Fresh;
  if ((entry == nullptr || stale_by_age) && l2_ != nullptr && (slot == nullptr || !state().l2_asked) &&
      !request_cc.only_if_cached) {
    // L1 → L2: park while this worker's link asks Redis; its records go into L1, and the
    // exchange looks again when they are in (or when the L2 timeout passed: then a miss).
    auto records = [store = store_](L2Cache::Records& found) {
      for (std::shared_ptr<CacheEntry>& record : found) {
        record->hash = hashKey(record->key);
        finishEntry(*record);
        store->insert(std::move(record));
      }
    };
    if (l2_->lookup(route.name, key, std::move(records), exchange.waker())) {
      CacheExchange& st = state();
      st.l2_asked = true;
      st.l2_waiting = true;
      return FilterAction::Suspend;
    }
    state().l2_asked = true;  // not ready: a plain miss
  }
  if (entry != nullptr) {
    switch (*verdict) {
      case Freshness::Fresh: {
        // RFC 9211 §2.8: an answer that waited for another request's fetch says so.
        bool collapsed = slot != nullptr && state().waited;
        count(route, CacheOutcome::Hit,
              serveStored(exchange, entry, now, CacheOutcome::Hit, collapsed ? "hit; collapsed" : "hit"));
        return FilterAction::Responded;
      }
      case Freshness::StaleWhileRevalidate: {
        // RFC 5861 §3: answer with the stale response now; one background exchange refreshes it,
        // through the whole chain like a fill (startRefresh() is its side of the lookup).
        if (fills_->beginRefresh(key, hash, now) && !exchange.refreshInBackground()) fills_->endRefresh(key, hash);
        count(route, CacheOutcome::Stale,
              serveStored(exchange, entry, now, CacheOutcome::Stale, "hit; detail=stale-while-revalidate"));
        return FilterAction::Responded;
      }
      case Freshness::StaleRevalidate:
        stale = entry;  // ask the backend whether it is still current (§4.3.1)
        break;
      case Freshness::Expired:
        break;
    }
  }
  // §5.2.1.7: only-if-cached and nothing usable stored.
  if (request_cc.only_if_cached) {
    ResponseHead head;
    auto body = std::make_shared<std::string>();
    makeErrorResponse(504, "not in cache (only-if-cached)", head, *body);
    exchange.respond(head, *body, body);
    return FilterAction::Responded;
  }
  CacheExchange& st = state();
  st.key = key;
  st.hash = hash;
  st.asked_coding = exchange.notes().coding_variant;
  st.request_cc = std::move(request_cc);
  st.request_time = now;
  st.lookup = entry != nullptr ? Lookup::Expired : Lookup::Miss;
  st.stale = std::move(stale);
  st.fallback = std::move(entry);
  st.ranged = settings.partial_content && request.method == "GET" && request.header("range").has_value();
  if (st.ranged && partial != nullptr) {
    std::optional<ByteRange> asked = rangeAsked(request, *partial);
    std::optional<ByteRange> missing = asked && !asked->unsatisfiable ? missingSpan(*partial, *asked) : std::nullopt;
    std::string_view validator = strongValidator(*partial);
    if (missing && !validator.empty() && missing->last - missing->first < settings_.max_object_bytes) {
      st.missing = missing;
      st.if_range = validator;
    }
  }
  // Coalescing: one GET per key goes to the backend, from whichever worker; the others wait for
  // its response and then look again (each goes to the backend itself if that response did not
  // fit it, or when the wait runs out). Ranges that go to the backend as ranges are not
  // coalesced: one client's part seldom answers another's.
  if (!st.waited && !st.ranged) {
    switch (fills_->join(st.key, st.hash, &exchange, exchange.waker(), request.method == "GET", now)) {
      case FillRegistry::Join::Wait:
        st.waiting = true;
        return FilterAction::Suspend;
      case FillRegistry::Join::Lead:
        st.leader = true;
        break;
      case FillRegistry::Join::Pass:
        break;
    }
  }
  exchange.notes().body_kept_up_to = settings_.max_object_bytes;  // a response up to this size may be stored
  return FilterAction::Continue;
}

FilterAction CacheFilter::startRefresh(Exchange& exchange, CacheExchange& st, bool enabled) const {
  const RequestHead& request = exchange.request();
  st.refresh = true;
  st.key = makeCacheKey("http", request.host, request.path, request.query);
  st.hash = hashKey(st.key);
  st.asked_coding = exchange.notes().coding_variant;
  if (!enabled) {  // switched off since the refresh was asked for: nothing to store
    st.lookup = Lookup::Bypass;
    return FilterAction::Continue;
  }
  st.request_time = clock_.now();
  // The stored response of this variant, validated with its own validators: a 304 refreshes it,
  // a full answer replaces it. Never answered from the store, never waiting behind a fill.
  st.stale = store_->lookup(st.key, st.hash, request.headers, exchange.notes().coding_variant);
  if (st.stale != nullptr && st.stale->partial()) st.stale.reset();  // parts: fetch the whole instead
  st.lookup = st.stale != nullptr ? Lookup::Expired : Lookup::Miss;
  exchange.notes().body_kept_up_to = settings_.max_object_bytes;
  return FilterAction::Continue;
}

void CacheFilter::onUpstreamRequest(Exchange& exchange, size_t index, UpstreamRequest& request) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr) return;
  if (st->missing) {
    // Only the bytes the stored parts lack, and only if they are still that representation's.
    request.headers.remove("range");
    request.headers.remove("if-range");
    request.headers.add("Range", "bytes=" + std::to_string(st->missing->first) + "-" + std::to_string(st->missing->last));
    request.headers.add("If-Range", st->if_range);
  } else if (st->leader && exchange.request().header("range")) {
    // Fetch the whole object so it can be stored; the range is then cut from it (as nginx and
    // Varnish do). Sending the full response instead of a range is allowed (RFC 9110 §14.2).
    request.headers.remove("range");
    request.headers.remove("if-range");
  }
  if (st->stale == nullptr || (st->stale->etag.empty() && st->stale->last_modified.empty())) return;
  // We validate our copy (§4.3.1) with its own validators, in place of a client's If-None-Match
  // or If-Modified-Since: a 304 then refreshes the entry, and the client's conditional is
  // answered from it (§4.3.2). Passing the client's validators instead would leave the entry
  // stale for as long as clients revalidate. Preconditions (If-Match, If-Unmodified-Since,
  // If-Range) go through untouched, for the backend to judge.
  const RequestHead& client = exchange.request();
  if (client.header("if-match") || client.header("if-unmodified-since") || client.header("if-range")) return;
  request.headers.remove("if-none-match");
  request.headers.remove("if-modified-since");
  if (!st->stale->etag.empty()) request.headers.add("If-None-Match", st->stale->etag);
  if (!st->stale->last_modified.empty()) request.headers.add("If-Modified-Since", st->stale->last_modified);
  st->validating = true;
}

FilterAction CacheFilter::onUpstreamError(Exchange& exchange, size_t index, int status) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  int64_t now = clock_.now();
  if (st == nullptr || st->fallback == nullptr || !staleIfErrorAllows(*st->fallback, now)) {
    return FilterAction::Continue;
  }
  std::string detail = "fwd=stale; fwd-status=" + std::to_string(status) + "; detail=stale-if-error";
  count(exchange.route(), CacheOutcome::Stale, serveStored(exchange, st->fallback, now, CacheOutcome::Stale, detail));
  return FilterAction::Responded;
}

}  // namespace perfgate
