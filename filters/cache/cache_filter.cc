#include "filters/cache/cache_filter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include "filters/cache/cache_control.h"
#include "filters/cache/cache_key.h"
#include "filters/cache/freshness.h"
#include "filters/cache/http_date.h"
#include "filters/cache_headers/cache_headers_filter.h"
#include "filters/cache_headers/conditional.h"
#include "filters/compression/accept_encoding.h"
#include "filters/compression/gzip_codec.h"
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
  CacheEntryPtr stale;        // a stored response being revalidated with the backend
  CacheEntryPtr fallback;     // the stored response, when not fresh: stale-if-error material
  bool validating = false;    // the forwarded request carries our validators
  bool invalidate = false;    // an unsafe method: a success invalidates the URL (§4.4)
  bool leader = false;        // this exchange fetches for the others waiting on its key
  bool waiting = false;       // suspended behind a leader
  bool waited = false;        // has waited once: never waits again (no serialized queue)
  bool not_storable = false;  // the backend's response was not storable
  bool l2_asked = false;      // L2 was asked (once per exchange)
  bool l2_waiting = false;    // suspended until L2 answers or its timeout
  std::optional<CacheOutcome> outcome;  // a forwarded response's outcome, counted on completion
  uint64_t bytes = 0;                   // its body bytes
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
    forEachListElement(field.value, [&](std::string_view element) {
      std::string name = lower(element);
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
    });
  }
  return names;
}

// Purge tags a response carries: `Surrogate-Key` (space-separated) and `Cache-Tag`
// (comma-separated), as CDNs read them; exact, case-sensitive, without duplicates.
std::vector<std::string> purgeTags(const std::vector<HeaderField>& fields) {
  std::vector<std::string> tags;
  auto add = [&tags](std::string_view tag) {
    if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.emplace_back(tag);
  };
  for (const HeaderField& field : fields) {
    if (equalsIgnoreCase(field.name, "cache-tag")) {
      forEachListElement(field.value, add);
    } else if (equalsIgnoreCase(field.name, "surrogate-key")) {
      std::string_view rest = field.value;
      while (!rest.empty()) {
        size_t end = rest.find_first_of(" \t");
        add(rest.substr(0, end));
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
      }
    }
  }
  return tags;
}

bool listed(const std::vector<std::string>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return equalsIgnoreCase(n, name); });
}

// The fields stored with a response: what a hit replays. Hop-by-hop fields, framing, Age, Via
// and the cache's own fields are made afresh per response; fields a qualified private or
// no-cache names are never stored (RFC 9111 §5.2.2.4, §5.2.2.7).
std::string storedFields(const UpstreamResponseHead& head, const CacheControl& cc) {
  ConnectionOptions connection_named(head.headers);
  std::string out;
  for (const HeaderField& field : head.headers) {
    std::string_view name = field.name;
    if (isHopByHop(name) || equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "age") ||
        equalsIgnoreCase(name, "via") || equalsIgnoreCase(name, "x-cache") ||
        equalsIgnoreCase(name, "cache-status") || listed(cc.private_fields, name) ||
        listed(cc.no_cache_fields, name) || connection_named.namesField(name)) {
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

// Serializes what every full hit of `entry` sends before its per-hit fields.
void finishEntry(CacheEntry& entry) {
  entry.head.clear();
  entry.head.reserve(entry.fields.size() + entry.reason.size() + 64);
  entry.head.append("HTTP/1.1 ");
  entry.head.append(std::to_string(entry.status));
  entry.head.push_back(' ');
  entry.head.append(entry.reason);
  entry.head.append("\r\n");
  entry.head.append(entry.fields);
  if (hasBody(entry.status)) {
    entry.head.append("Content-Length: ");
    entry.head.append(std::to_string(entry.body.size()));
    entry.head.append("\r\n");
  }
  entry.head.append("Via: 1.1 perfgate\r\n");
}

// Views of the "Name: value\r\n" lines of a stored field block.
std::vector<HeaderField> splitFields(std::string_view block) {
  std::vector<HeaderField> fields;
  while (!block.empty()) {
    size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    fields.push_back(HeaderField{line.substr(0, colon), trimOws(line.substr(colon + 1))});
  }
  return fields;
}

// RFC 9111 §3.2 / §4.3.4: the stored fields updated by a 304: every field the 304 carries
// replaces the stored fields of that name; the others stay.
std::string refreshFields(const std::string& stored, const std::string& fresh) {
  std::vector<HeaderField> updates = splitFields(fresh);
  std::string out;
  for (const HeaderField& field : splitFields(stored)) {
    bool replaced = std::any_of(updates.begin(), updates.end(),
                                [&](const HeaderField& u) { return equalsIgnoreCase(u.name, field.name); });
    if (replaced) continue;
    out.append(field.name);
    out.append(": ");
    out.append(field.value);
    out.append("\r\n");
  }
  out.append(fresh);
  return out;
}

// The fields a 304 carries from the stored response (RFC 9110 §15.4.5).
std::string notModifiedFields(const std::string& stored) {
  std::string out;
  for (const HeaderField& field : splitFields(stored)) {
    if (!isNotModifiedField(field.name)) continue;
    out.append(field.name);
    out.append(": ");
    out.append(field.value);
    out.append("\r\n");
  }
  return out;
}

// `block` ("Name: value\r\n" lines) without the fields named in `names`.
std::string withoutFields(const std::string& block, std::initializer_list<std::string_view> names) {
  std::string out;
  for (const HeaderField& field : splitFields(block)) {
    if (std::any_of(names.begin(), names.end(), [&](std::string_view n) { return equalsIgnoreCase(n, field.name); })) {
      continue;
    }
    out.append(field.name);
    out.append(": ");
    out.append(field.value);
    out.append("\r\n");
  }
  return out;
}

// A single byte range of a `size`-byte body (RFC 9110 §14.1.2): "bytes=a-b", "bytes=a-" or
// "bytes=-n". Nothing for a header we do not serve from cache (several ranges, other units, bad
// syntax: the full response is sent, as §14.2 allows); `unsatisfiable` for a range past the end.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  bool unsatisfiable = false;
};
std::optional<ByteRange> singleRange(std::string_view header, uint64_t size) {
  header = trimOws(header);
  if (header.substr(0, 6) != "bytes=" || header.find(',') != std::string_view::npos) return std::nullopt;
  std::string_view spec = trimOws(header.substr(6));
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view text) -> std::optional<uint64_t> {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  };
  ByteRange range;
  if (dash == 0) {  // suffix: the last n bytes
    std::optional<uint64_t> n = number(spec.substr(1));
    if (!n) return std::nullopt;
    if (*n == 0 || size == 0) return ByteRange{0, 0, true};
    range.first = *n >= size ? 0 : size - *n;
    range.last = size - 1;
    return range;
  }
  std::optional<uint64_t> first = number(spec.substr(0, dash));
  if (!first) return std::nullopt;
  std::optional<uint64_t> last = dash + 1 < spec.size() ? number(spec.substr(dash + 1)) : std::optional<uint64_t>(UINT64_MAX);
  if (!last || *last < *first) return std::nullopt;
  if (*first >= size) return ByteRange{0, 0, true};
  range.first = *first;
  range.last = std::min(*last, size - 1);
  return range;
}

// If-Range (RFC 9110 §13.1.5): the range applies only while the client's validator is current
// (a strong ETag match, or exactly the stored Last-Modified).
bool ifRangeHolds(const RequestHead& request, const CacheEntry& entry) {
  std::optional<std::string_view> if_range = request.header("if-range");
  if (!if_range) return true;
  std::string_view value = trimOws(*if_range);
  if (!value.empty() && (value.front() == '"' || value.substr(0, 2) == "W/")) {
    return strongEtagMatch(value, entry.etag);
  }
  return !entry.last_modified.empty() && value == entry.last_modified;
}

void appendDecimal(std::string& out, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  (void)ec;  // 24 characters hold any int64_t
  out.append(digits, end);
}

// Answers from a stored entry: the full response, a single range of it (206/416), or a 304
// when the client's validators match. Returns the body bytes sent.
uint64_t serveStored(Exchange& exchange, const CacheEntryPtr& entry, int64_t now, CacheOutcome outcome,
                     const char* cache_status) {
  const RequestHead& request = exchange.request();
  int64_t age = currentAge(*entry, now);
  bool not_modified = entry->status == 200 && notModified(request, entry->etag, entry->last_modified);
  std::optional<ByteRange> range;
  if (!not_modified && entry->status == 200 && request.method == "GET") {
    if (std::optional<std::string_view> header = request.header("range"); header && ifRangeHolds(request, *entry)) {
      range = singleRange(*header, entry->body.size());
    }
  }
  int status = not_modified ? 304 : range ? (range->unsatisfiable ? 416 : 206) : entry->status;
  thread_local std::string head;  // capacity kept across hits: no allocation per response
  head.clear();
  std::string_view body;
  if (not_modified) {
    head.append("HTTP/1.1 304 Not Modified\r\n");
    head.append(notModifiedFields(entry->fields));
  } else if (range && range->unsatisfiable) {
    head.append("HTTP/1.1 416 Range Not Satisfiable\r\n");
    head.append(notModifiedFields(entry->fields));
    head.append("Content-Range: bytes */" + std::to_string(entry->body.size()) + "\r\nContent-Length: 0\r\n");
  } else if (range) {
    head.append("HTTP/1.1 206 Partial Content\r\n");
    head.append(entry->fields);
    head.append("Content-Range: bytes " + std::to_string(range->first) + "-" + std::to_string(range->last) + "/" +
                std::to_string(entry->body.size()) + "\r\n");
    head.append("Content-Length: " + std::to_string(range->last - range->first + 1) + "\r\n");
    body = std::string_view(entry->body).substr(range->first, range->last - range->first + 1);
  } else {
    head.append(entry->head);  // status line to Via, serialized when stored
  }
  if (not_modified || range) head.append("Via: 1.1 perfgate\r\n");
  head.append("Age: ");
  appendDecimal(head, age);
  head.append("\r\nX-Cache: ");
  for (const char* c = outcomeName(outcome); *c != '\0'; ++c) head.push_back(static_cast<char>(*c - 'a' + 'A'));
  head.append("\r\nCache-Status: perfgate; ");
  head.append(cache_status);
  head.append("; ttl=");
  appendDecimal(head, entry->freshness_lifetime - age);
  head.append("\r\n");
  if (!range && !not_modified) body = entry->body;
  if (request.isHead()) body = {};
  uint64_t bytes = body.size();
  exchange.respond(status, head, body, entry);
  return bytes;
}

// A new entry for a storable response head; the body is appended as it arrives.
std::shared_ptr<CacheEntry> newEntry(const std::string& key, uint64_t hash, std::vector<std::string> vary,
                                     std::string variant, const std::string& route, const UpstreamResponseHead& head,
                                     const CacheControl& response_cc, int64_t request_time,
                                     const StoragePolicy& policy) {
  auto entry = std::make_shared<CacheEntry>();
  entry->key = key;
  entry->hash = hash;
  entry->vary = std::move(vary);
  entry->variant = std::move(variant);
  entry->route = route;
  entry->tags = purgeTags(head.headers);
  entry->status = head.status;
  entry->reason = std::string(head.reason);
  entry->fields = storedFields(head, response_cc);
  fillFreshness(*entry, head.headers, request_time, time(nullptr), policy);
  return entry;
}

// The stored entry brought up to date by a 304 (RFC 9111 §4.3.4).
CacheEntryPtr refreshedEntry(const CacheEntry& stale, const UpstreamResponseHead& head, const CacheControl& response_cc,
                             int64_t request_time, const StoragePolicy& policy) {
  auto refreshed = std::make_shared<CacheEntry>(stale);
  refreshed->fields = refreshFields(stale.fields, storedFields(head, response_cc));
  std::vector<HeaderField> merged = splitFields(refreshed->fields);
  fillFreshness(*refreshed, merged, request_time, time(nullptr), policy);
  finishEntry(*refreshed);
  return refreshed;
}

// Within the stored response's stale-if-error window (RFC 5861 §4) at `now`?
bool staleIfErrorAllows(const CacheEntry& entry, int64_t now) {
  int64_t staleness = currentAge(entry, now) - entry.freshness_lifetime;
  return entry.stale_if_error > 0 && staleness <= entry.stale_if_error;
}

// A stale-while-revalidate refresh (RFC 5861 §3): fetches the URL with the stored response's
// validators on nobody's behalf and stores what comes back. Frees itself when done.
class BackgroundRefresh final : public UpstreamObserver {
 public:
  BackgroundRefresh(std::shared_ptr<CacheStore> store, std::shared_ptr<FillRegistry> fills,
                    std::shared_ptr<L2Cache> l2, CacheEntryPtr stale, StoragePolicy policy, uint64_t max_object_bytes,
                    bool had_authorization)
      : store_(std::move(store)), fills_(std::move(fills)), l2_(std::move(l2)), stale_(std::move(stale)), policy_(policy),
        max_object_bytes_(max_object_bytes),
        had_authorization_(had_authorization), request_time_(time(nullptr)) {}

  void onUpstreamHeaders(UpstreamResponseHead& head) override {
    CacheControl response_cc = parseCacheControl(head.headers);
    if (head.status == 304) {
      CacheEntryPtr refreshed = refreshedEntry(*stale_, head, response_cc, request_time_, policy_);
      if (store_->insert(refreshed) && l2_ != nullptr) l2_->store(*refreshed, time(nullptr));
      return;
    }
    CacheControl no_directives;
    if (checkStorable("GET", head.status, no_directives, had_authorization_, head.headers, response_cc, policy_) !=
        NotStorableReason::None) {
      return;
    }
    std::vector<std::string> vary = varyNames(head.headers);
    if (vary != stale_->vary) return;  // selection changed: the next miss stores the right variant
    filling_ = newEntry(stale_->key, stale_->hash, std::move(vary), stale_->variant, stale_->route, head,
                        response_cc, request_time_, policy_);
  }
  bool onUpstreamData(std::string_view data) override {
    if (filling_ != nullptr) {
      if (filling_->body.size() + data.size() > max_object_bytes_) {
        filling_.reset();
      } else {
        filling_->body.append(data);
      }
    }
    return true;
  }
  size_t onUpstreamReadBody(char*, size_t) override { return 0; }
  void onUpstreamDone(UpstreamResult result, const char*) override {
    if (result == UpstreamResult::Ok && filling_ != nullptr) {
      finishEntry(*filling_);
      if (store_->insert(filling_) && l2_ != nullptr) l2_->store(*filling_, time(nullptr));
      filling_.reset();
    }
    fills_->endRefresh(stale_->key, stale_->hash);
    delete this;
  }

 private:
  std::shared_ptr<CacheStore> store_;
  std::shared_ptr<FillRegistry> fills_;
  std::shared_ptr<L2Cache> l2_;
  CacheEntryPtr stale_;
  StoragePolicy policy_;
  uint64_t max_object_bytes_;
  bool had_authorization_;
  int64_t request_time_;
  std::shared_ptr<CacheEntry> filling_;
};

// The request fields that select a variant. On a route with compression, Accept-Encoding is
// reduced to its one question, gzip or not (`gzip` forces the answer), so every client that takes
// gzip shares the one gzip variant, compressed once. Returns the request's own fields, or
// `scratch` filled (its capacity is reused: no allocation per request).
const std::vector<HeaderField>& variantFields(const RequestHead& request, const RouteConfig& route,
                                              std::vector<HeaderField>& scratch,
                                              std::optional<bool> gzip = std::nullopt) {
  if (!route.compression) return request.headers;
  scratch.clear();
  for (const HeaderField& field : request.headers) {
    if (!equalsIgnoreCase(field.name, "accept-encoding")) scratch.push_back(field);
  }
  if (gzip.value_or(prefersGzip(request.headers))) scratch.push_back(HeaderField{"Accept-Encoding", "gzip"});
  return scratch;
}

// The identity variant made from a stored gzip one, for a client that does not take gzip: the
// body decoded (once: the result is stored), Content-Encoding gone, the ETag made to fit the new
// bytes. Null when `gzip` is not a gzip body this can decode within `max_bytes`.
std::shared_ptr<CacheEntry> decodedEntry(const CacheEntry& gzip, std::string variant, uint64_t max_bytes, bool etag) {
  bool encoded = false;
  for (const HeaderField& field : splitFields(gzip.fields)) {
    if (equalsIgnoreCase(field.name, "content-encoding")) encoded = equalsIgnoreCase(field.value, "gzip");
  }
  if (!encoded) return nullptr;
  std::optional<std::string> body = gzipDecompress(gzip.body, max_bytes);
  if (!body) return nullptr;
  auto entry = std::make_shared<CacheEntry>();
  *entry = gzip;  // key, route, status, freshness inputs
  entry->body = std::move(*body);
  entry->variant = std::move(variant);
  // A strong tag named the gzip bytes: the route's generated tag of these bytes, or the weak form.
  if (!entry->etag.empty() && entry->etag.front() == '"') {
    entry->etag = etag ? strongEtagOf(entry->body) : "W/" + entry->etag;
  }
  entry->fields = withoutFields(gzip.fields, {"content-encoding", "etag"});
  if (!entry->etag.empty()) entry->fields.append("ETag: " + entry->etag + "\r\n");
  finishEntry(*entry);
  return entry;
}

// Same-host targets named by Location / Content-Location: their stored responses go too (§4.4).
void invalidateNamed(CacheStore& store, const RequestHead& request, const UpstreamResponseHead& head) {
  for (const HeaderField& field : head.headers) {
    if (!equalsIgnoreCase(field.name, "location") && !equalsIgnoreCase(field.name, "content-location")) continue;
    std::string_view target = field.value;
    std::string_view host = request.host;
    if (target.substr(0, 7) == "http://") {
      target.remove_prefix(7);
      size_t slash = target.find('/');
      if (slash == std::string_view::npos || !equalsIgnoreCase(target.substr(0, slash), host)) continue;
      target.remove_prefix(slash);
    }
    if (target.empty() || target.front() != '/') continue;
    size_t question = target.find('?');
    std::string key = makeCacheKey("http", host, target.substr(0, question),
                                   question == std::string_view::npos ? std::string_view() : target.substr(question + 1));
    store.erase(key, hashKey(key));
  }
}

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

CacheFilter::CacheFilter(std::shared_ptr<CacheStore> store, std::shared_ptr<FillRegistry> fills,
                         std::shared_ptr<CacheStats> stats, std::shared_ptr<CompressionStats> compression_stats,
                         const CacheConfig& config, std::shared_ptr<L2Cache> l2)
    : store_(std::move(store)),
      fills_(std::move(fills)),
      stats_(std::move(stats)),
      compression_stats_(std::move(compression_stats)),
      config_(config),
      l2_(std::move(l2)) {}

void CacheFilter::count(RouteCacheCounters& counters, CacheOutcome outcome, uint64_t bytes) const {
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
  bool enabled = route.cacheEnabled();
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
    // RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target URI.
    st.invalidate = enabled && request.method != "OPTIONS" && request.method != "TRACE";
    if (st.invalidate) {
      st.key = makeCacheKey("http", request.host, request.path, request.query);
      st.hash = hashKey(st.key);
    }
    return FilterAction::Continue;
  }

  thread_local std::string key;
  makeCacheKey(key, "http", request.host, request.path, request.query);
  uint64_t hash = hashKey(key);
  CacheControl request_cc = parseCacheControl(request.headers);
  int64_t now = time(nullptr);
  thread_local std::vector<HeaderField> selecting_scratch;
  const std::vector<HeaderField>& selecting = variantFields(request, route, selecting_scratch);
  CacheEntryPtr entry = store_->lookup(key, hash, selecting);
  CacheEntryPtr stale;
  if (entry == nullptr && route.compression && !prefersGzip(request.headers)) {
    std::vector<HeaderField> gzip_fields;
    CacheEntryPtr gzip = store_->lookup(key, hash, variantFields(request, route, gzip_fields, true));
    if (gzip != nullptr && classify(*gzip, request_cc, now, !route.ignore_client_no_cache) == Freshness::Fresh) {
      if (std::shared_ptr<CacheEntry> decoded =
              decodedEntry(*gzip, makeVariantKey(gzip->vary, selecting), config_.max_object_bytes, route.etag)) {
        CompressionCounters::bump(compression_stats_->local().decompressed);
        store_->insert(decoded);
        entry = std::move(decoded);
      }
    }
  }
  if (entry == nullptr && l2_ != nullptr && (slot == nullptr || !state().l2_asked) && !request_cc.only_if_cached) {
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
    switch (classify(*entry, request_cc, now, !route.ignore_client_no_cache)) {
      case Freshness::Fresh: {
        RouteCacheCounters& counters = stats_->local(route.name);  // before serving: that ends the exchange
        count(counters, CacheOutcome::Hit, serveStored(exchange, entry, now, CacheOutcome::Hit, "hit"));
        return FilterAction::Responded;
      }
      case Freshness::StaleWhileRevalidate: {
        // RFC 5861 §3: answer with the stale response now; one background fetch refreshes it.
        if (fills_->beginRefresh(key, hash)) {
          auto* refresh = new BackgroundRefresh(store_, fills_, l2_, entry, policyOf(route), config_.max_object_bytes,
                                                request.header("authorization").has_value());
          UpstreamRequest forwarded = exchange.upstreamRequest();
          forwarded.method = "GET";
          forwarded.head = false;
          if (!entry->etag.empty()) forwarded.headers.append("If-None-Match: " + entry->etag + "\r\n");
          if (!entry->last_modified.empty()) {
            forwarded.headers.append("If-Modified-Since: " + entry->last_modified + "\r\n");
          }
          if (!exchange.fetchInBackground(std::move(forwarded), refresh)) {
            fills_->endRefresh(key, hash);
            delete refresh;
          }
        }
        RouteCacheCounters& counters = stats_->local(route.name);  // before serving: that ends the exchange
        count(counters, CacheOutcome::Stale,
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
    std::string head = gatewayErrorResponse(504, "not in cache (only-if-cached)", false, false, false);
    head.resize(head.size() - 2);  // respond() ends the head itself
    std::string body = "{\"error\": \"not in cache (only-if-cached)\", \"status\": 504}\n";
    auto owner = std::make_shared<const std::string>(request.isHead() ? std::string() : body);
    exchange.respond(504, head, *owner, owner);
    return FilterAction::Responded;
  }
  CacheExchange& st = state();
  st.key = key;
  st.hash = hash;
  st.request_cc = std::move(request_cc);
  st.request_time = now;
  st.lookup = entry != nullptr ? Lookup::Expired : Lookup::Miss;
  st.stale = std::move(stale);
  st.fallback = std::move(entry);
  // Coalescing: one GET per key goes to the backend, from whichever worker; the others wait for
  // its response and then look again (each goes to the backend itself if that response did not
  // fit it, or when the wait runs out).
  if (!st.waited) {
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
  return FilterAction::Continue;
}

void CacheFilter::onUpstreamRequest(Exchange& exchange, size_t index, UpstreamRequest& request) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr) return;
  if (st->leader && exchange.request().header("range")) {
    // Fetch the whole object so it can be stored; the range is then cut from it (as nginx and
    // Varnish do). Sending the full response instead of a range is allowed (RFC 9110 §14.2).
    request.headers = withoutFields(request.headers, {"range", "if-range"});
  }
  if (st->stale == nullptr || (st->stale->etag.empty() && st->stale->last_modified.empty())) return;
  // We validate our copy (§4.3.1) with its own validators, in place of a client's If-None-Match
  // or If-Modified-Since: a 304 then refreshes the entry, and the client's conditional is
  // answered from it (§4.3.2). Passing the client's validators instead would leave the entry
  // stale for as long as clients revalidate. Preconditions (If-Match, If-Unmodified-Since,
  // If-Range) go through untouched, for the backend to judge.
  const RequestHead& client = exchange.request();
  if (client.header("if-match") || client.header("if-unmodified-since") || client.header("if-range")) return;
  if (client.header("if-none-match") || client.header("if-modified-since")) {
    request.headers = withoutFields(request.headers, {"if-none-match", "if-modified-since"});
  }
  if (!st->stale->etag.empty()) {
    request.headers.append("If-None-Match: " + st->stale->etag + "\r\n");
  }
  if (!st->stale->last_modified.empty()) {
    request.headers.append("If-Modified-Since: " + st->stale->last_modified + "\r\n");
  }
  st->validating = true;
}

FilterAction CacheFilter::onResponseHead(Exchange& exchange, size_t index, UpstreamResponseHead& head,
                                         ExtraHeaders& extra) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr) return FilterAction::Continue;
  const RequestHead& request = exchange.request();
  if (st->lookup == Lookup::Bypass) {
    if (st->invalidate && head.status < 400) {
      store_->erase(st->key, st->hash);
      if (l2_ != nullptr) l2_->erase(exchange.route().name, st->key);
      invalidateNamed(*store_, request, head);
    }
    extra.emplace_back("X-Cache: BYPASS");
    st->outcome = CacheOutcome::Bypass;
    return FilterAction::Continue;
  }
  const RouteConfig& route = exchange.route();
  CacheControl response_cc = parseCacheControl(head.headers);
  StoragePolicy policy = policyOf(route);

  if (st->validating && head.status == 304) {
    // §4.3.4: the stored response is still current; its fields are updated from the 304 and it
    // answers the client: in full, or 304 when the client's own validators match it.
    CacheEntryPtr entry = refreshedEntry(*st->stale, head, response_cc, st->request_time, policy);
    if (store_->insert(entry) && l2_ != nullptr) l2_->store(*entry, time(nullptr));
    RouteCacheCounters& counters = stats_->local(route.name);  // before serving: that ends the exchange
    count(counters, CacheOutcome::Revalidated,
          serveStored(exchange, entry, time(nullptr), CacheOutcome::Revalidated, "fwd=stale; fwd-status=304"));
    return FilterAction::Responded;
  }
  // RFC 5861 §4: a 500, 502, 503 or 504 from the backend may be replaced by the stale response.
  if (st->fallback != nullptr && (head.status == 500 || head.status == 502 || head.status == 503 || head.status == 504) &&
      staleIfErrorAllows(*st->fallback, time(nullptr))) {
    // Serving ends the exchange (its state goes): take what is needed first.
    RouteCacheCounters& counters = stats_->local(route.name);
    CacheEntryPtr fallback = st->fallback;
    std::string detail = "fwd=stale; fwd-status=" + std::to_string(head.status) + "; detail=stale-if-error";
    count(counters, CacheOutcome::Stale,
          serveStored(exchange, fallback, time(nullptr), CacheOutcome::Stale, detail.c_str()));
    return FilterAction::Responded;
  }
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
  st->outcome = stale ? CacheOutcome::Expired : CacheOutcome::Miss;
  std::string status = stale ? "Cache-Status: perfgate; fwd=stale" : "Cache-Status: perfgate; fwd=miss";
  if (reason != NotStorableReason::None) {
    st->not_storable = true;
    RouteCacheCounters& counters = stats_->local(route.name);
    RouteCacheCounters::bump(counters.not_stored);
    static_assert(static_cast<size_t>(NotStorableReason::VariantLimit) < kNotStorableReasons);
    RouteCacheCounters::bump(counters.not_stored_by[static_cast<size_t>(reason)]);
    status.append("; detail=");
    status.append(describe(reason));
    extra.push_back(std::move(status));
    return FilterAction::Continue;
  }
  status.append("; stored");
  extra.push_back(std::move(status));

  std::vector<std::string> vary = varyNames(head.headers);
  std::vector<HeaderField> scratch;
  std::string variant = makeVariantKey(vary, variantFields(request, route, scratch));
  st->filling = newEntry(st->key, st->hash, std::move(vary), std::move(variant), route.name, head, response_cc,
                         st->request_time, policy);
  return FilterAction::Continue;
}

FilterAction CacheFilter::onUpstreamError(Exchange& exchange, size_t index, int status) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr || st->fallback == nullptr || !staleIfErrorAllows(*st->fallback, time(nullptr))) {
    return FilterAction::Continue;
  }
  // Serving ends the exchange (its state goes): take what is needed first.
  RouteCacheCounters& counters = stats_->local(exchange.route().name);
  CacheEntryPtr fallback = st->fallback;
  std::string detail = "fwd=stale; fwd-status=" + std::to_string(status) + "; detail=stale-if-error";
  count(counters, CacheOutcome::Stale, serveStored(exchange, fallback, time(nullptr), CacheOutcome::Stale, detail.c_str()));
  return FilterAction::Responded;
}

void CacheFilter::onResponseData(Exchange& exchange, size_t index, std::string_view data) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr) return;
  st->bytes += data.size();
  if (st->filling == nullptr) return;
  if (st->filling->body.size() + data.size() > config_.max_object_bytes) {
    st->filling.reset();  // larger than the object limit: it streams through unstored
    return;
  }
  st->filling->body.append(data);
}

void CacheFilter::onComplete(Exchange& exchange, size_t index, bool complete) const {
  auto* st = static_cast<CacheExchange*>(exchange.state(index).get());
  if (st == nullptr) return;
  if (st->waiting) {  // the client left while waiting
    fills_->leave(st->key, st->hash, &exchange);
    st->waiting = false;
  }
  if (st->outcome) {
    count(stats_->local(exchange.route().name), *st->outcome, st->bytes);
    st->outcome.reset();
  }
  if (st->filling != nullptr && complete) {
    finishEntry(*st->filling);
    RouteCacheCounters& counters = stats_->local(exchange.route().name);
    RouteCacheCounters::bump(counters.stored);
    RouteCacheCounters::bump(counters.stored_bytes, st->filling->body.size());
    if (store_->insert(st->filling) && l2_ != nullptr) l2_->store(*st->filling, time(nullptr));  // write-behind
    st->filling.reset();
    if (!st->leader) fills_->stored(st->key, st->hash);
  }
  if (st->leader) {  // wakes the waiters, on every worker: they look again
    st->leader = false;
    fills_->finish(st->key, st->hash, !st->not_storable, time(nullptr));
  }
}

}  // namespace perfgate
