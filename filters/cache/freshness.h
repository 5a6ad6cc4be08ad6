// Whether a response may be stored, how long it stays fresh, and whether a stored one may be
// used as is (RFC 9111 §3, §4.2) — for a SHARED cache. Pure functions of their arguments: the
// callers pass the clock in, so every rule is testable without waiting.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "gateway/http/cache_control.h"
#include "filters/cache/cache_entry.h"
#include "gateway/http/request_parser.h"

namespace perfgate {

// Why a response was not stored; None when it may be. Tokens from describe() go into
// Cache-Status `detail=` (RFC 9211 §2.8) and the not-stored-by-reason counters.
enum class NotStorableReason : uint8_t {
  None,
  Method,         // not GET (HEAD is answered from a GET entry, never stored itself)
  Status,         // status not final, not understood, or not cacheable without explicit freshness
  NoStore,        // no-store in the request or the response
  Private,        // unqualified private
  Authorization,  // request had Authorization; response lacks public, s-maxage, must-revalidate
  SetCookie,      // response sets a cookie and the route does not allow storing that
  VaryStar,       // Vary: * never matches a later request (§4.1)
  NoFreshness,    // no way to compute a freshness lifetime, and nothing to revalidate with
  TooLarge,       // body over the object size limit (set by the caller)
  RouteDisabled,  // caching off for the route (set by the caller)
  Incomplete,     // body ended early or the backend failed mid-response (set by the caller)
  VariantLimit,   // too many Vary variants stored for the URL (set by the caller)
  Coding,         // a content coding no variant key describes (ExchangeNotes::unknown_coding; set by the caller)
};

// Short token for the reason: "no-store", "private", "authorization", ...; "none" for None.
const char* describe(NotStorableReason reason);

// Per-route storage settings, frozen with the route's config.
struct StoragePolicy {
  bool allow_cookies = false;          // store responses carrying Set-Cookie
  bool heuristic = false;              // heuristic freshness from Last-Modified (§4.2.2)
  std::optional<int64_t> default_ttl;  // lifetime when the response gives none
  std::optional<int64_t> override_ttl; // lifetime regardless of the response
  std::optional<int64_t> stale_if_error;  // window when the response has no stale-if-error
  bool partial_content = false;        // 206 is understood: the store keeps and combines parts
};

// RFC 9111 §3 for a shared cache. `method` is the request method (case-sensitive), `status` the
// response status. Reasons are checked in the order of the enum, so the first rule that refuses
// is the one reported. A response with no-cache and a validator is storable (it is revalidated on
// every use). Response no-store is ignored when must-understand is present and the status is
// understood (§5.2.2.3). The caller must still drop the fields named by qualified private and
// no-cache (CacheControl::private_fields, no_cache_fields) from what it stores.
NotStorableReason checkStorable(std::string_view method, int status, const CacheControl& request_cc,
                                bool request_has_authorization,
                                const HeaderBlock& response_fields,
                                const CacheControl& response_cc, const StoragePolicy& policy);

// Status codes whose caching requirements this cache implements (for must-understand, §3).
bool statusUnderstood(int status);

// Status codes heuristically cacheable (RFC 9110 §15.1), without 206 (no partial storage).
bool statusHeuristicallyCacheable(int status);

// §4.2.1 freshness lifetime in seconds: the route's override_ttl; else s-maxage; else max-age;
// else Expires − `date_value` (an invalid Expires is in the past: 0); else the route's
// default_ttl; else, when the route allows it, 10% of `date_value` − Last-Modified capped at one
// day (§4.2.2); else 0. Only responses checkStorable() accepted may use the heuristic; this
// function does not check the status again.
int64_t freshnessLifetime(const HeaderBlock& response_fields,
                          const CacheControl& response_cc, int64_t date_value,
                          const StoragePolicy& policy);

// §4.2.3 current_age at `now`, from the entry's request_time, response_time, date_value and
// age_value. Never negative (a clock stepping back would otherwise make it so).
int64_t currentAge(const CacheEntry& entry, int64_t now);

// Fills the entry's request_time, response_time, date_value (Date, or response_time when absent
// or invalid), age_value (Age, 0 when absent or invalid), freshness_lifetime,
// stale_while_revalidate, stale_if_error (the response's, else the route's), must_revalidate
// (must-revalidate, proxy-revalidate or s-maxage: §5.2.2.8, §5.2.2.10), no_cache, etag and
// last_modified. must_revalidate and no_cache zero both stale windows: §4.2.4 "A cache MUST NOT
// generate a stale response if it is prohibited by an explicit in-protocol directive (e.g., by a
// no-cache response directive, a must-revalidate response directive, or an applicable s-maxage
// or proxy-revalidate response directive)", and that outranks RFC 5861's MAY.
void fillFreshness(CacheEntry& entry, const HeaderBlock& response_fields,
                   int64_t request_time, int64_t response_time, const StoragePolicy& policy);

// Targeted cache control (RFC 9213 §2.2): the first of `targeted` (field names, in precedence
// order) that `fields` carry with a valid, non-empty Structured Dictionary value is this cache's
// policy, and Cache-Control and Expires are ignored. Returns the fields the cache reads its policy
// from in that case (a copy with that value as Cache-Control and no Expires), else nullopt: the
// fields as they are.
std::optional<HeaderBlock> targetedPolicyFields(const HeaderBlock& fields, const std::vector<std::string>& targeted);

// What a stored entry allows for one request.
// How long after a soft purge its entries may still be served stale while one refresh runs.
inline constexpr int64_t kSoftPurgeGraceSeconds = 60;

enum class Freshness : uint8_t {
  Fresh,                 // serve it (fresh, or stale within the client's max-stale)
  StaleRevalidate,       // must be validated first; it has an ETag or Last-Modified to do so
  StaleWhileRevalidate,  // serve it now and refresh in the background (RFC 5861 §3)
  Expired,               // must be validated and has no validator: fetch it anew
};

// Decides how `entry` may answer a request with `request_cc` at `now`:
// - response no-cache: always validated.
// - When `honour_request_no_cache` (the route does not ignore client directives), request
//   no-cache, max-age=0, max-age=N with age > N (§5.2.1.1) and min-fresh=N with less than N
//   seconds of freshness left (§5.2.1.3) force validation. Off, those directives are ignored.
// - Fresh while age < freshness_lifetime (§4.2).
// - Stale: served as Fresh within the request's max-stale (§5.2.1.2, "exceeded its freshness
//   lifetime by no more than" N: staleness <= N); else StaleWhileRevalidate while staleness <
//   stale_while_revalidate; neither when must_revalidate (§5.2.2.2).
// - Otherwise StaleRevalidate with a validator, Expired without.
// - Soft-purged (CacheEntry::soft_purged): never Fresh; StaleWhileRevalidate for
//   kSoftPurgeGraceSeconds after the purge unless the entry may not be served stale
//   (must-revalidate), then as any stale entry.
// only-if-cached is the caller's (504 when there is no entry or it would need the origin).
Freshness classify(const CacheEntry& entry, const CacheControl& request_cc, int64_t now,
                   bool honour_request_no_cache);

}  // namespace perfgate
