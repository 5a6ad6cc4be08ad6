#include "content.h"

#include <array>
#include <cstdio>
#include <cstring>

namespace sample_backend {
namespace {

const char* const kWords[] = {
    "gateway", "latency", "cache", "backend", "request", "response", "header", "compression",
    "throughput", "connection", "keep-alive", "origin", "upstream", "monitor", "route", "policy",
    "benchmark", "payload", "session", "catalog", "inventory", "shipment", "customer", "invoice",
};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

// A tiny deterministic generator so that generated text is stable across runs.
struct Lcg {
  uint64_t state;
  uint32_t next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  }
  const char* word() { return kWords[next() % kWordCount]; }
};

std::string sentence(Lcg& rng, int words) {
  std::string s;
  for (int i = 0; i < words; ++i) {
    if (i) s += ' ';
    s += rng.word();
  }
  s[0] = static_cast<char>(s[0] - 32);
  s += '.';
  return s;
}

// A realistic account document padded to exactly `bytes` bytes through its "note" field.
std::string accountJson(int id, size_t bytes) {
  char head[640];
  int n = std::snprintf(
      head, sizeof head,
      "{\"id\":%d,\"type\":\"account\",\"name\":\"Ada Lovelace\",\"email\":\"ada.lovelace@example.com\","
      "\"plan\":\"enterprise\",\"active\":true,\"created\":\"2023-11-05T09:14:00Z\","
      "\"roles\":[\"admin\",\"billing\",\"support\"],"
      "\"limits\":{\"requests_per_minute\":1200,\"storage_mb\":5120,\"seats\":25},"
      "\"address\":{\"street\":\"12 Analytical Row\",\"city\":\"London\",\"postcode\":\"NW1 6XE\","
      "\"country\":\"GB\"},\"preferences\":{\"locale\":\"en-GB\",\"timezone\":\"Europe/London\","
      "\"newsletter\":false,\"theme\":\"dark\"},\"usage\":{\"requests_today\":48213,"
      "\"bandwidth_mb\":731.4,\"errors\":3},\"note\":\"",
      id);
  std::string s(head, static_cast<size_t>(n));
  const std::string tail = "\"}";
  Lcg rng{static_cast<uint64_t>(id)};
  std::string filler;
  while (s.size() + filler.size() + tail.size() < bytes) {
    filler += sentence(rng, 6);
    filler += ' ';
  }
  filler.resize(bytes - s.size() - tail.size());
  if (!filler.empty()) filler.back() = '.';
  return s + filler + tail;
}

std::string pageHtml() {
  Lcg rng{42};
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<title>Catalog - perfgate sample shop</title>\n"
       "<link rel=\"stylesheet\" href=\"/static/app.css\">\n"
       "<script defer src=\"/static/app.js\"></script>\n</head>\n<body class=\"catalog\">\n"
       "<header class=\"site-header\">\n  <a class=\"logo\" href=\"/\">Sample Shop</a>\n"
       "  <nav class=\"main-nav\">\n    <ul>\n";
  const char* nav[] = {"Home", "Catalog", "Offers", "Orders", "Account", "Help"};
  for (const char* item : nav) {
    h += "      <li class=\"nav-item\"><a href=\"/";
    h += item;
    h += "\">";
    h += item;
    h += "</a></li>\n";
  }
  h += "    </ul>\n  </nav>\n</header>\n<main id=\"content\">\n  <h1>Catalog</h1>\n"
       "  <section class=\"product-grid\">\n";
  int id = 1;
  while (h.size() < 19700) {
    char card[512];
    std::snprintf(card, sizeof card,
                  "    <article class=\"product-card\" data-id=\"%d\">\n"
                  "      <img src=\"/static/img/product-%d.jpg\" alt=\"Product %d\" width=\"240\" height=\"180\" loading=\"lazy\">\n"
                  "      <h2 class=\"product-title\"><a href=\"/api/items/%d\">Product %d</a></h2>\n"
                  "      <p class=\"product-price\"><span class=\"currency\">EUR</span> %d.%02d</p>\n",
                  id, id, id, id, id, 9 + (id * 7) % 90, (id * 13) % 100);
    h += card;
    h += "      <p class=\"product-description\">";
    h += sentence(rng, 14);
    h += ' ';
    h += sentence(rng, 10);
    h += "</p>\n      <button class=\"btn btn-primary add-to-cart\" type=\"button\">Add to cart</button>\n"
         "    </article>\n";
    ++id;
  }
  h += "  </section>\n</main>\n<footer class=\"site-footer\">\n"
       "  <p>&copy; 2024 Sample Shop. Served by perfgate-sample-backend.</p>\n</footer>\n</body>\n</html>\n";
  return h;
}

std::string appJs() {
  Lcg rng{7};
  std::string js = "/* sample shop front-end bundle (generated) */\n\"use strict\";\n"
                   "const API_BASE = \"/api\";\nconst state = { cart: [], user: null, items: new Map() };\n\n";
  int i = 0;
  while (js.size() < 30000) {
    const char* w = rng.word();
    char fn[1024];
    std::snprintf(fn, sizeof fn,
                  "export async function load_%s_%d(options = {}) {\n"
                  "  const params = new URLSearchParams({ page: String(options.page || 1), limit: \"%d\" });\n"
                  "  const response = await fetch(`${API_BASE}/items?${params}`, { headers: { Accept: \"application/json\" } });\n"
                  "  if (!response.ok) {\n"
                  "    throw new Error(`load_%s_%d failed: ${response.status}`);\n"
                  "  }\n"
                  "  const data = await response.json();\n"
                  "  for (const item of data.items || []) {\n"
                  "    state.items.set(item.id, { ...item, source: \"%s\", loadedAt: Date.now() });\n"
                  "  }\n"
                  "  render_%s_%d(document.querySelector(\"#content\"), data);\n"
                  "  return data;\n"
                  "}\n\n"
                  "function render_%s_%d(root, data) {\n"
                  "  if (!root) return;\n"
                  "  const list = document.createElement(\"ul\");\n"
                  "  list.className = \"list-%s\";\n"
                  "  for (const item of data.items || []) {\n"
                  "    const li = document.createElement(\"li\");\n"
                  "    li.textContent = `${item.name} - ${item.price}`;\n"
                  "    list.appendChild(li);\n"
                  "  }\n"
                  "  root.replaceChildren(list);\n"
                  "}\n\n",
                  w, i, 10 + i % 40, w, i, w, w, i, w, i, w);
    js += fn;
    ++i;
  }
  js += "document.addEventListener(\"DOMContentLoaded\", () => load_gateway_0().catch(console.error));\n";
  return js;
}

std::string homeHtml() {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<title>perfgate sample backend</title>\n</head>\n<body>\n"
         "<h1>perfgate sample backend</h1>\n"
         "<p>A deliberately plain backend API for trying perfgate out.</p>\n<ul>\n"
         "  <li><a href=\"/api/items\">/api/items</a> - item list (max-age=30)</li>\n"
         "  <li><a href=\"/api/small\">/api/small</a> - small JSON (max-age=60, ETag)</li>\n"
         "  <li><a href=\"/api/pass\">/api/pass</a> - small JSON, no-store</li>\n"
         "  <li><a href=\"/page\">/page</a> - 20 KB HTML</li>\n"
         "  <li><a href=\"/static/app.js\">/static/app.js</a> - 30 KB JavaScript</li>\n"
         "  <li><a href=\"/__stats\">/__stats</a> - request counters</li>\n"
         "</ul>\n</body>\n</html>\n";
}

std::string itemsJson() {
  std::string s = "{\"page\":1,\"per_page\":20,\"total\":10000,\"items\":[";
  for (int id = 1; id <= 20; ++id) {
    if (id > 1) s += ',';
    s += itemJson(id);
  }
  s += "]}";
  return s;
}

std::array<char, kPatternBlock + kPatternPeriod> makePattern() {
  static const char kLine[kPatternPeriod + 1] =
      "perfgate sample download: 0123456789abcdefghijklmnopqrstuvwxyz.\n";
  static_assert(sizeof(kLine) == kPatternPeriod + 1);
  std::array<char, kPatternBlock + kPatternPeriod> a{};
  for (size_t i = 0; i < a.size(); ++i) a[i] = kLine[i % kPatternPeriod];
  return a;
}

}  // namespace

const Bodies& bodies() {
  static const Bodies b = [] {
    Bodies x;
    x.pass_json = accountJson(1042, kSmallJsonBytes);
    x.small_json = accountJson(2048, kSmallJsonBytes);
    x.items_json = itemsJson();
    x.home_html = homeHtml();
    x.page_html = pageHtml();
    x.app_js = appJs();
    x.etag_json = "{\"resource\":\"etag\",\"version\":1,\"note\":\"revalidate with If-None-Match\"}";
    x.last_modified_json =
        "{\"resource\":\"last-modified\",\"version\":1,\"note\":\"revalidate with If-Modified-Since\"}";
    x.not_found_json = "{\"error\":\"not found\",\"status\":404}";
    return x;
  }();
  return b;
}

const char* pattern() {
  static const auto p = makePattern();
  return p.data();
}

std::string itemJson(int id) {
  static const char* const kCategories[] = {"books", "garden", "kitchen", "outdoor", "toys", "tools"};
  char buf[400];
  int n = std::snprintf(buf, sizeof buf,
                        "{\"id\":%d,\"name\":\"Item %d\",\"sku\":\"SKU-%06d\",\"category\":\"%s\","
                        "\"price\":%d.%02d,\"currency\":\"EUR\",\"stock\":%d,\"rating\":%d.%d,"
                        "\"updated\":\"2024-01-01T00:00:00Z\"}",
                        id, id, id, kCategories[id % 6], 5 + (id * 37) % 200, (id * 13) % 100,
                        (id * 7919) % 500, 1 + id % 4, (id * 3) % 10);
  return std::string(buf, static_cast<size_t>(n));
}

std::string searchJson(std::string_view q) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a picks stable "hits" for a query
  for (char c : q) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  int total = static_cast<int>(h % 50);
  std::string s = "{\"query\":\"" + jsonEscape(q) + "\",\"total\":" + std::to_string(total) + ",\"results\":[";
  for (int i = 0; i < total && i < 5; ++i) {
    if (i) s += ',';
    s += itemJson(1 + static_cast<int>((h >> (i * 8)) % kMaxItemId));
  }
  s += "]}";
  return s;
}

std::string jsonEscape(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 8);
  for (char c : in) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned char>(c));
          out += esc;
        } else {
          out += c;  // bytes >= 0x80 pass through; clients send UTF-8
        }
    }
  }
  return out;
}

std::string formDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string_view queryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

bool parseUint(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > max) return false;
  *out = n;
  return true;
}

std::string strongEtag(std::string_view body) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : body) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

std::string httpDate(time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

bool parseHttpDate(std::string_view s, time_t* out) {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s[3] != ',' || s.substr(25) != " GMT") return false;
  auto num = [&](size_t pos, size_t len, int* v) {
    *v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      *v = *v * 10 + (s[i] - '0');
    }
    return true;
  };
  struct tm tm {};
  int month = -1;
  for (int m = 0; m < 12; ++m) {
    if (s.substr(8, 3) == kMonths[m]) month = m;
  }
  if (month < 0 || !num(5, 2, &tm.tm_mday) || !num(12, 4, &tm.tm_year) || !num(17, 2, &tm.tm_hour) ||
      !num(20, 2, &tm.tm_min) || !num(23, 2, &tm.tm_sec)) {
    return false;
  }
  tm.tm_mon = month;
  tm.tm_year -= 1900;
  *out = timegm(&tm);
  return true;
}

bool etagMatches(std::string_view inm, std::string_view etag) {
  auto opaque = [](std::string_view t) {
    if (t.size() >= 2 && t[0] == 'W' && t[1] == '/') t.remove_prefix(2);
    return t;
  };
  while (!inm.empty()) {
    size_t comma = inm.find(',');
    std::string_view tag = inm.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*" || opaque(tag) == opaque(etag)) return true;
    if (comma == std::string_view::npos) break;
    inm.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace sample_backend
