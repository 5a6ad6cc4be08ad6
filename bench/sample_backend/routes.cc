#include "routes.h"

#include <event2/buffer.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>

#include "content.h"

namespace sample_backend {
namespace {

constexpr std::string_view kServerLine = "Server: perfgate-sample-backend\r\n";
constexpr size_t kCopyLimit = 4096;  // larger fixed bodies are added by reference, not copied

constexpr uint64_t kMaxDelayMs = 10 * 60 * 1000;
constexpr uint64_t kMaxStreamBytes = uint64_t{1} << 40;
constexpr uint64_t kDefaultDownloadBytes = 10 * 1024 * 1024;

struct FixedSet {
  StaticResponse pass, small, items, home, page, app_js, cache_etag, cache_last_modified, not_found;
  // /page-gz: page's body as the origin sends it compressed (gzip) or not (identity).
  StaticResponse page_gz_gzip, page_gz_identity;
  // /assets/bundle.js: a ~200 KB minified script, cached as /page is (bench/encodings.sh).
  StaticResponse bundle_js;
};
FixedSet* g_fixed = nullptr;

std::atomic<uint64_t> g_sequence{0};  // numbers the bodies of /cache/* variants and /api/login

std::string statusLine(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) + "\r\n";
}

StaticResponse makeFixed(int status, std::string_view content_type, std::string_view headers,
                         std::string_view body, bool etag, bool last_modified) {
  StaticResponse r;
  r.body = body;
  std::string validators;
  if (etag) {
    r.etag = strongEtag(body);
    validators += "ETag: " + r.etag + "\r\n";
  }
  if (last_modified) {
    r.last_modified = kLastModified;
    validators += "Last-Modified: " + httpDate(kLastModified) + "\r\n";
  }
  std::string common = std::string(kServerLine) + std::string(headers) + validators;
  r.head = statusLine(status) + common + "Content-Type: " + std::string(content_type) + "\r\n" +
           "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (etag || last_modified) r.head_304 = statusLine(304) + common;
  return r;
}

// RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only without it, for GET/HEAD.
bool notModified(const StaticResponse& r, const RequestHead& h) {
  if (!h.if_none_match.empty()) return !r.etag.empty() && etagMatches(h.if_none_match, r.etag);
  if (!h.if_modified_since.empty() && r.last_modified != 0) {
    time_t since = 0;
    return parseHttpDate(h.if_modified_since, &since) && since >= r.last_modified;
  }
  return false;
}

bool isGet(const RequestHead& h) { return h.method == "GET" || h.method == "HEAD"; }

// Whether the request's Accept-Encoding admits gzip (RFC 9110 12.5.3): "gzip" or "x-gzip" with a
// q-value above 0, or else "*" above 0. No Accept-Encoding field: identity only (what a cache
// forwarding the request of a client that asked for nothing must get).
bool acceptsGzip(const RequestHead& h) {
  int gzip = -1, any = -1;  // -1: not named; 0: refused (q=0); 1: accepted
  for (const Header& field : h.headers) {
    if (!equalsIgnoreCase(field.name, "accept-encoding")) continue;
    std::string_view list = field.value;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      size_t semi = item.find(';');
      std::string_view coding = item.substr(0, semi), params = semi == std::string_view::npos ? "" : item.substr(semi + 1);
      auto trim = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        return v;
      };
      coding = trim(coding);
      params = trim(params);
      int accepted = 1;
      if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q')) {
        std::string_view q = trim(params.substr(1));
        if (!q.empty() && q.front() == '=') q = trim(q.substr(1));
        // q=0, 0.0, 0.00, 0.000: refused; any other value: accepted.
        accepted = q.empty() || q.find_first_not_of("0.") != std::string_view::npos ? 1 : 0;
      }
      if (equalsIgnoreCase(coding, "gzip") || equalsIgnoreCase(coding, "x-gzip")) gzip = accepted;
      if (coding == "*") any = accepted;
    }
  }
  return gzip >= 0 ? gzip == 1 : any == 1;
}

Route fixedRoute(const StaticResponse& r, const RequestHead& h) {
  Route route;
  route.kind = RouteKind::kFixed;
  route.fixed = &r;
  route.not_modified = !r.head_304.empty() && notModified(r, h);
  return route;
}

Route errorRoute(int status, std::string message) {
  Route route;
  route.kind = RouteKind::kError;
  route.a = static_cast<uint64_t>(status);
  route.text = std::move(message);
  return route;
}

Route methodNotAllowed(std::string_view allow) {
  Route route = errorRoute(405, "method not allowed");
  route.allow = allow;
  return route;
}

// The page-load sample site (content.h site()): built on the first request for it, since
// generating its images takes a moment in an unoptimized build and most runs never ask.
struct SiteRoutes {
  StaticResponse index, redirect;
  std::map<std::string, StaticResponse, std::less<>> assets;
};

const SiteRoutes& siteRoutes() {
  static const SiteRoutes routes = [] {
    const Site& s = site();
    SiteRoutes r;
    // The page: revalidated after a minute (a typical HTML policy: short max-age, validators).
    r.index = makeFixed(200, "text/html; charset=utf-8", "Cache-Control: public, max-age=60\r\n", s.index_html, true, true);
    r.redirect = makeFixed(301, "text/html; charset=utf-8", "Location: /site/\r\nCache-Control: public, max-age=3600\r\n",
                           "<a href=\"/site/\">/site/</a>\n", false, false);
    // Versioned assets: a new build gets new names, so a year and immutable.
    for (const SiteFile& f : s.assets) {
      r.assets.emplace(f.path, makeFixed(200, f.content_type, "Cache-Control: public, max-age=31536000, immutable\r\n",
                                         f.body, true, true));
    }
    return r;
  }();
  return routes;
}

Route classifySite(std::string_view path, const RequestHead& h) {
  if (!isGet(h)) return methodNotAllowed("GET, HEAD");
  const SiteRoutes& site_routes = siteRoutes();
  if (path == "/site") return fixedRoute(site_routes.redirect, h);
  if (path == "/site/" || path == "/site/index.html") {
    // The page is what an application renders: --latency delays it as it does /api/*.
    Route route = fixedRoute(site_routes.index, h);
    route.api = true;
    return route;
  }
  auto it = site_routes.assets.find(path);
  return fixedRoute(it == site_routes.assets.end() ? g_fixed->not_found : it->second, h);
}

Route classifyApi(std::string_view rest, const RequestHead& h) {
  const bool get = isGet(h);
  if (rest == "pass") return get ? fixedRoute(g_fixed->pass, h) : methodNotAllowed("GET, HEAD");
  if (rest == "small") return get ? fixedRoute(g_fixed->small, h) : methodNotAllowed("GET, HEAD");
  if (rest == "items") return get ? fixedRoute(g_fixed->items, h) : methodNotAllowed("GET, HEAD");
  if (rest.starts_with("items/")) {
    if (!get) return methodNotAllowed("GET, HEAD");
    Route route;
    route.kind = RouteKind::kItem;
    uint64_t id = 0;
    route.a = parseUint(rest.substr(6), kMaxItemId, &id) ? id : 0;  // 0: not found
    return route;
  }
  if (rest == "search") {
    if (!get) return methodNotAllowed("GET, HEAD");
    Route route;
    route.kind = RouteKind::kSearch;
    route.text = formDecode(queryParam(h.query, "q"));
    return route;
  }
  if (rest == "orders" || rest == "login") {
    if (h.method != "POST") return methodNotAllowed("POST");
    Route route;
    route.kind = rest == "orders" ? RouteKind::kOrders : RouteKind::kLogin;
    if (route.kind == RouteKind::kOrders) {
      // ?item=ID: the order changes that item, and the answer says so (Content-Location), so a
      // cache in front drops its copy of /api/items/ID (RFC 9111 4.4).
      std::string_view item = queryParam(h.query, "item");
      if (!item.empty() && (!parseUint(item, kMaxItemId, &route.a) || route.a == 0)) {
        return errorRoute(400, "item must be 1-" + std::to_string(kMaxItemId));
      }
    }
    return route;
  }
  return fixedRoute(g_fixed->not_found, h);
}

Route classifyCache(std::string_view rest, const RequestHead& h) {
  if (!isGet(h)) return methodNotAllowed("GET, HEAD");
  if (rest == "etag") return fixedRoute(g_fixed->cache_etag, h);
  if (rest == "last-modified") return fixedRoute(g_fixed->cache_last_modified, h);
  Route route;
  route.kind = RouteKind::kCacheVariant;
  if (rest.starts_with("max-age/")) {
    if (!parseUint(rest.substr(8), 100000000, &route.a)) return fixedRoute(g_fixed->not_found, h);
    route.text = "max-age";
  } else if (rest == "no-store" || rest == "private" || rest == "none") {
    route.text = rest;
  } else {
    return fixedRoute(g_fixed->not_found, h);
  }
  return route;
}

std::string echoPrefix(const RequestHead& h) {
  std::string s = "{\"method\":\"" + jsonEscape(h.method) + "\",\"target\":\"" + jsonEscape(h.target) +
                  "\",\"version\":\"HTTP/1." + std::to_string(h.minor_version) + "\",\"headers\":[";
  for (size_t i = 0; i < h.headers.size(); ++i) {
    if (i) s += ',';
    s += "[\"" + jsonEscape(h.headers[i].name) + "\",\"" + jsonEscape(h.headers[i].value) + "\"]";
  }
  s += "],\"body_bytes\":";
  return s;
}

bool noBodyStatus(int status) { return status == 204 || status == 304 || status < 200; }

void addBody(evbuffer* out, std::string_view body) {
  if (body.size() > kCopyLimit) {
    evbuffer_add_reference(out, body.data(), body.size(), nullptr, nullptr);
  } else {
    evbuffer_add(out, body.data(), body.size());
  }
}

}  // namespace

const char* reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

void initRoutes() {
  if (g_fixed != nullptr) return;
  const Bodies& b = bodies();
  constexpr std::string_view kJson = "application/json";
  constexpr std::string_view kHtml = "text/html; charset=utf-8";
  g_fixed = new FixedSet{
      makeFixed(200, kJson, "Cache-Control: no-store\r\n", b.pass_json, false, false),
      makeFixed(200, kJson, "Cache-Control: public, max-age=60\r\n", b.small_json, true, true),
      makeFixed(200, kJson, "Cache-Control: public, max-age=30\r\n", b.items_json, false, false),
      makeFixed(200, kHtml, "Cache-Control: public, max-age=30\r\n", b.home_html, false, false),
      makeFixed(200, kHtml, "Cache-Control: public, max-age=60\r\n", b.page_html, false, false),
      makeFixed(200, "application/javascript; charset=utf-8", "Cache-Control: public, max-age=86400\r\n",
                b.app_js, true, true),
      makeFixed(200, kJson, "Cache-Control: no-cache\r\n", b.etag_json, true, false),
      makeFixed(200, kJson, "", b.last_modified_json, false, true),
      makeFixed(404, kJson, "", b.not_found_json, false, false),
      makeFixed(200, kHtml, "Cache-Control: public, max-age=60\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n",
                b.page_html_gzip, false, false),
      makeFixed(200, kHtml, "Cache-Control: public, max-age=60\r\nVary: Accept-Encoding\r\n", b.page_html, false, false),
      makeFixed(200, "application/javascript", "Cache-Control: public, max-age=60\r\n", b.bundle_js, false, false),
  };
}

Route classify(const RequestHead& h) {
  std::string_view p = h.path;
  if (p.starts_with("/api/")) {
    Route route = classifyApi(p.substr(5), h);
    route.api = true;
    return route;
  }
  if (p == "/") return isGet(h) ? fixedRoute(g_fixed->home, h) : methodNotAllowed("GET, HEAD");
  if (p == "/page") return isGet(h) ? fixedRoute(g_fixed->page, h) : methodNotAllowed("GET, HEAD");
  if (p == "/page-gz") {
    if (!isGet(h)) return methodNotAllowed("GET, HEAD");
    return fixedRoute(acceptsGzip(h) ? g_fixed->page_gz_gzip : g_fixed->page_gz_identity, h);
  }
  if (p == "/site" || p.starts_with("/site/")) return classifySite(p, h);
  if (p == "/static/app.js") return isGet(h) ? fixedRoute(g_fixed->app_js, h) : methodNotAllowed("GET, HEAD");
  if (p == "/assets/bundle.js") return isGet(h) ? fixedRoute(g_fixed->bundle_js, h) : methodNotAllowed("GET, HEAD");
  if (p.starts_with("/cache/")) return classifyCache(p.substr(7), h);
  if (p == "/echo") {
    Route route;
    route.kind = RouteKind::kEcho;
    route.text = echoPrefix(h);
    return route;
  }
  if (p == "/__stats") {
    if (!isGet(h)) return methodNotAllowed("GET, HEAD");
    Route route;
    route.kind = RouteKind::kStats;
    return route;
  }
  if (p.starts_with("/delay/")) {
    Route route;
    route.kind = RouteKind::kDelay;
    if (!parseUint(p.substr(7), kMaxDelayMs, &route.a)) return errorRoute(400, "delay must be 0-600000 ms");
    return route;
  }
  if (p.starts_with("/status/")) {
    Route route;
    route.kind = RouteKind::kStatus;
    if (!parseUint(p.substr(8), 599, &route.a) || route.a < 200) return errorRoute(400, "status must be 200-599");
    return route;
  }
  if (p == "/chunked") {
    if (!isGet(h)) return methodNotAllowed("GET, HEAD");
    Route route;
    route.kind = RouteKind::kChunked;
    route.a = 8;
    route.b = 1024;
    std::string_view n = queryParam(h.query, "n"), size = queryParam(h.query, "size");
    if ((!n.empty() && !parseUint(n, 1000000, &route.a)) ||
        (!size.empty() && !parseUint(size, 64 * 1024 * 1024, &route.b)) || route.a * route.b > kMaxStreamBytes) {
      return errorRoute(400, "n must be 0-1000000 and size 0-67108864");
    }
    if (route.b == 0) route.a = 0;  // a zero-size chunk would end the body
    return route;
  }
  if (p == "/download") {
    if (!isGet(h)) return methodNotAllowed("GET, HEAD");
    Route route;
    route.kind = RouteKind::kDownload;
    route.a = kDefaultDownloadBytes;
    std::string_view bytes = queryParam(h.query, "bytes");
    if (!bytes.empty() && !parseUint(bytes, kMaxStreamBytes, &route.a)) return errorRoute(400, "bytes must be 0-2^40");
    return route;
  }
  return fixedRoute(g_fixed->not_found, h);
}

bool isStreaming(const Route& route) {
  return route.kind == RouteKind::kChunked || route.kind == RouteKind::kDownload;
}

void writeHeadEnd(evbuffer* out, const ResponseContext& ctx) {
  evbuffer_add(out, ctx.date_line.data(), ctx.date_line.size());
  if (!ctx.keep_alive) {
    evbuffer_add(out, "Connection: close\r\n\r\n", 21);
  } else if (ctx.minor_version == 0) {
    evbuffer_add(out, "Connection: keep-alive\r\n\r\n", 26);
  } else {
    evbuffer_add(out, "\r\n", 2);
  }
}

static void writeDynamic(evbuffer* out, int status, std::string_view content_type, std::string_view extra_headers,
                         std::string_view body, const ResponseContext& ctx) {
  std::string head;
  head.reserve(256);
  head += statusLine(status);
  head += kServerLine;
  head += extra_headers;
  if (!noBodyStatus(status)) {
    head += "Content-Type: ";
    head += content_type;
    head += "\r\nContent-Length: ";
    head += std::to_string(body.size());
    head += "\r\n";
  }
  evbuffer_add(out, head.data(), head.size());
  writeHeadEnd(out, ctx);
  if (!ctx.head_method && !noBodyStatus(status)) addBody(out, body);
}

void writeJson(evbuffer* out, int status, std::string_view extra_headers, std::string_view body,
               const ResponseContext& ctx) {
  writeDynamic(out, status, "application/json", extra_headers, body, ctx);
}

void writeResponse(evbuffer* out, const Route& route, uint64_t body_bytes, const ResponseContext& ctx) {
  switch (route.kind) {
    case RouteKind::kFixed: {
      const StaticResponse& r = *route.fixed;
      const std::string& head = route.not_modified ? r.head_304 : r.head;
      evbuffer_add(out, head.data(), head.size());
      writeHeadEnd(out, ctx);
      if (!ctx.head_method && !route.not_modified) addBody(out, r.body);
      return;
    }
    case RouteKind::kItem:
      if (route.a == 0) {
        writeJson(out, 404, "", "{\"error\":\"no such item\",\"status\":404}", ctx);
      } else {
        writeJson(out, 200, "Cache-Control: public, max-age=30\r\n", itemJson(static_cast<int>(route.a)), ctx);
      }
      return;
    case RouteKind::kSearch:
      writeJson(out, 200, "Cache-Control: public, max-age=10\r\n", searchJson(route.text), ctx);
      return;
    case RouteKind::kOrders: {
      std::string headers = "Cache-Control: no-store\r\n";
      std::string body = "{\"ok\":true,\"bytes\":" + std::to_string(body_bytes);
      if (route.a != 0) {
        headers += "Content-Location: /api/items/" + std::to_string(route.a) + "\r\n";
        body += ",\"item\":" + std::to_string(route.a);
      }
      writeJson(out, 201, headers, body + "}", ctx);
      return;
    }
    case RouteKind::kLogin: {
      uint64_t seq = g_sequence.fetch_add(1, std::memory_order_relaxed) + 1;
      char cookie[160];
      std::snprintf(cookie, sizeof cookie,
                    "Cache-Control: private\r\nSet-Cookie: session=s%016llx; Path=/; HttpOnly\r\n",
                    static_cast<unsigned long long>(seq * 0x9E3779B97F4A7C15ULL));
      writeJson(out, 200, cookie, "{\"ok\":true,\"user\":\"demo\"}", ctx);
      return;
    }
    case RouteKind::kCacheVariant: {
      std::string headers;
      if (route.text == "max-age") {
        headers = "Cache-Control: public, max-age=" + std::to_string(route.a) + "\r\n";
      } else if (route.text != "none") {
        headers = "Cache-Control: " + route.text + "\r\n";
      }
      // The sequence number tells a test whether a response came from the backend or a cache.
      uint64_t seq = g_sequence.fetch_add(1, std::memory_order_relaxed) + 1;
      writeJson(out, 200, headers,
                "{\"variant\":\"" + route.text + "\",\"max_age\":" + std::to_string(route.a) +
                    ",\"seq\":" + std::to_string(seq) + "}",
                ctx);
      return;
    }
    case RouteKind::kDelay:
      writeJson(out, 200, "Cache-Control: no-store\r\n", "{\"delay_ms\":" + std::to_string(route.a) + "}", ctx);
      return;
    case RouteKind::kStatus: {
      int status = static_cast<int>(route.a);
      writeJson(out, status, "",
                "{\"status\":" + std::to_string(status) + ",\"reason\":\"" + reasonPhrase(status) + "\"}", ctx);
      return;
    }
    case RouteKind::kEcho:
      writeJson(out, 200, "Cache-Control: no-store\r\n", route.text + std::to_string(body_bytes) + "}", ctx);
      return;
    case RouteKind::kError: {
      int status = static_cast<int>(route.a);
      std::string headers = route.allow.empty() ? std::string() : "Allow: " + route.allow + "\r\n";
      writeJson(out, status, headers,
                "{\"error\":\"" + jsonEscape(route.text) + "\",\"status\":" + std::to_string(status) + "}", ctx);
      return;
    }
    case RouteKind::kStats:
    case RouteKind::kChunked:
    case RouteKind::kDownload:
      break;  // answered by the connection
  }
}

bool writeStreamHead(evbuffer* out, const Route& route, const ResponseContext& ctx) {
  const bool download = route.kind == RouteKind::kDownload;
  const uint64_t length = download ? route.a : route.a * route.b;
  const bool chunked = !download && ctx.minor_version == 1;
  std::string head = statusLine(200);
  head += kServerLine;
  head += download ? "Content-Type: application/octet-stream\r\nCache-Control: no-store\r\n"
                   : "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n";
  if (chunked) {
    head += "Transfer-Encoding: chunked\r\n";
  } else {
    head += "Content-Length: " + std::to_string(length) + "\r\n";
  }
  evbuffer_add(out, head.data(), head.size());
  writeHeadEnd(out, ctx);
  return chunked;
}

}  // namespace sample_backend
