#include "gateway/http/conditional.h"

#include <xxhash.h>

#include <optional>

#include "gateway/http/http_date.h"
#include "gateway/http/tokens.h"

namespace perfgate {

bool strongEtagMatch(std::string_view a, std::string_view b) {
  return !a.empty() && a.front() == '"' && a == b;
}

bool weakEtagMatch(std::string_view a, std::string_view b) {
  auto opaque = [](std::string_view tag) { return tag.substr(0, 2) == "W/" ? tag.substr(2) : tag; };
  return !a.empty() && !b.empty() && opaque(a) == opaque(b);
}

bool notModified(const RequestHead& request, std::string_view etag, std::string_view last_modified) {
  if (std::optional<std::string_view> inm = request.header("if-none-match")) {
    if (trimOws(*inm) == "*") return true;
    bool match = false;
    forEachListElement(*inm, [&](std::string_view tag) { match = match || weakEtagMatch(tag, etag); });
    return match;  // If-None-Match present: If-Modified-Since is ignored (§13.2.2)
  }
  std::optional<std::string_view> ims = request.header("if-modified-since");
  if (!ims || last_modified.empty()) return false;
  std::optional<int64_t> since = parseHttpDate(*ims);
  std::optional<int64_t> modified = parseHttpDate(last_modified);
  return since && modified && *modified <= *since;
}

bool isNotModifiedField(std::string_view n) {
  return equalsIgnoreCase(n, "cache-control") || equalsIgnoreCase(n, "content-location") ||
         equalsIgnoreCase(n, "date") || equalsIgnoreCase(n, "etag") || equalsIgnoreCase(n, "expires") ||
         equalsIgnoreCase(n, "vary") || equalsIgnoreCase(n, "last-modified");
}

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

}  // namespace perfgate
