// Cache keys: the primary key of a stored response (RFC 9111 §2) and the secondary key that
// selects one of its variants (RFC 9111 §4.1, Vary).
//
// Both are byte strings that are compared in full on every hit; the XXH3 hash of the primary key
// only picks the shard and the slot. Each part is written length-prefixed ("<decimal length>:"
// then the bytes), so a key decodes back into exactly one tuple of parts: two different
// (normalized) inputs can never produce the same key, whatever bytes the parts contain.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http/content_coding.h"
#include "gateway/http/request_parser.h"

namespace perfgate {

// Primary key for a GET (HEAD is answered from the GET entry, so the method is not part of it).
// Normalizes what RFC 9110 §4.2.3 says is equivalent: scheme and host are lower-cased, and the
// scheme's default port (:80 for http, :443 for https) is dropped from the host. The path and
// query are kept byte for byte: percent-encoding normalization could merge URLs the backend
// tells apart.
std::string makeCacheKey(std::string_view scheme, std::string_view host, std::string_view path,
                         std::string_view query);
// The same, into `key` (its capacity reused: the per-request lookup allocates nothing).
void makeCacheKey(std::string& key, std::string_view scheme, std::string_view host, std::string_view path,
                  std::string_view query);

// The parts of a key made by makeCacheKey, views into that key. For clear-by-prefix and for logs.
struct CacheKeyParts {
  std::string_view scheme;
  std::string_view host;
  std::string_view path;
  std::string_view query;
};

// Decodes `key`; false when it is not a key made by makeCacheKey.
bool splitCacheKey(std::string_view key, CacheKeyParts& out);

// XXH3-64 of a key: picks the shard and slot in CacheStore, never decides a match.
uint64_t hashKey(std::string_view key);

// Secondary key of a request for a response whose Vary lists `vary_names` (lower-case names).
// For each name, in order: the request's field lines with that name (case-insensitive) combined
// with ", " (RFC 9110 §5.3), then normalized: OWS trimmed and runs of spaces/tabs collapsed to
// one space. Accept-Encoding is reduced further to its meaning — the sorted, lower-cased set of
// codings with q > 0 followed by the set explicitly refused with q=0 ("x-gzip" read as "gzip"),
// so "gzip, deflate" and "deflate,gzip" share a variant while "gzip;q=0" and "gzip" do not.
// An absent field encodes differently from an empty one. Returns "" for an empty Vary list, and
// never "" otherwise. With `coding` set, Accept-Encoding is taken to name that coding alone
// (absent for identity) whatever the request says: on a route with compression a URL has one
// representation per coding, and the negotiated coding selects among them.
std::string makeVariantKey(const std::vector<std::string>& vary_names, const HeaderBlock& request_fields,
                           std::optional<ContentCoding> coding = std::nullopt);
// The same into `out` (replacing what it held, keeping its capacity): for a lookup per request.
void makeVariantKey(std::string& out, const std::vector<std::string>& vary_names, const HeaderBlock& request_fields,
                    std::optional<ContentCoding> coding = std::nullopt);

}  // namespace perfgate
