// Bodies and small text helpers for the sample backend. All fixed bodies are generated once at
// start-up, deterministically, so every run (and every thread) serves the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace sample_backend {

// The validators' date for every fixed resource: 2024-01-01T00:00:00Z.
inline constexpr time_t kLastModified = 1704067200;
inline constexpr size_t kSmallJsonBytes = 789;
inline constexpr int kMaxItemId = 10000;
// /assets/bundle.js is about this long (it ends after the module that passes it).
inline constexpr size_t kBundleJsBytes = 200000;

struct Bodies {
  std::string pass_json;   // kSmallJsonBytes, the pass-through benchmark body
  std::string small_json;  // kSmallJsonBytes, the cacheable twin
  std::string items_json;  // list of 20 items
  std::string home_html;   // small
  std::string page_html;   // ~20 KB, compressible markup
  std::string page_html_gzip;  // page_html gzip-compressed once (deflate.h), for /page-gz
  std::string app_js;      // ~30 KB
  std::string bundle_js;   // ~kBundleJsBytes: minified front-end bundle (/assets/bundle.js)
  std::string etag_json;   // /cache/etag
  std::string last_modified_json;  // /cache/last-modified
  std::string not_found_json;
};

// Built on first use; safe to call from several threads after the first call returned.
const Bodies& bodies();

// The page-load sample site (/site/, bench/pageload/): an HTML page and the assets it loads, the
// way a small shop front end is deployed: stylesheets, scripts, PNG and JPEG photos and SVG
// icons under content-hashed ("versioned") names, and a script that fetches /api/items and
// renders it. Real files a browser decodes, generated deterministically.
struct SiteFile {
  std::string path;          // "/site/assets/css/base.1a2b3c4d.css"
  std::string content_type;  // with charset for text types
  std::string body;
};
struct Site {
  std::string index_html;        // /site/: links every asset
  std::vector<SiteFile> assets;  // 40 files
};
// Built on first use (generating the images takes a while in an unoptimized build: the backend's
// start stays fast), thread-safe.
const Site& site();

std::string itemJson(int id);
std::string searchJson(std::string_view decoded_query);

// Deterministic filler for /download and /chunked: byte at offset o is pattern()[o % kPatternPeriod],
// and pattern() holds kPatternBlock + kPatternPeriod bytes, so any window of up to kPatternBlock bytes
// starting at any offset is contiguous.
inline constexpr size_t kPatternPeriod = 64;
inline constexpr size_t kPatternBlock = 64 * 1024;
const char* pattern();

std::string jsonEscape(std::string_view s);
// Decodes application/x-www-form-urlencoded text ('+' is a space, %XX escapes).
std::string formDecode(std::string_view s);
// Value of `key` in a query string, undecoded; empty when absent.
std::string_view queryParam(std::string_view query, std::string_view key);
// Parses a decimal number in [0, max]; false otherwise.
bool parseUint(std::string_view s, uint64_t max, uint64_t* out);

std::string strongEtag(std::string_view body);
std::string httpDate(time_t t);                     // IMF-fixdate
bool parseHttpDate(std::string_view s, time_t* out);  // IMF-fixdate only
// If-None-Match evaluation (RFC 9110 13.1.2, weak comparison).
bool etagMatches(std::string_view if_none_match, std::string_view etag);

}  // namespace sample_backend
