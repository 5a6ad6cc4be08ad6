#include "gateway/admin_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <chrono>
#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "filters/cache/cache_key.h"
#include "filters/cache/cache_store.h"
#include "filters/cache/freshness.h"
#include "gateway/text.h"
#include "gateway/cache_purge.h"
#include "gateway/dashboard.h"
#include "gateway/gateway.h"
#include "gateway/latency_buckets.h"
#include "gateway/monitoring.h"

namespace perfgate {
namespace {

constexpr int kRead = EVHTTP_REQ_GET | EVHTTP_REQ_HEAD;
constexpr std::chrono::milliseconds kProbeDeadline{1000};

// Every admin endpoint and the methods it answers; anything else on a known path is a 405.
struct Endpoint {
  std::string_view path;
  bool prefix;  // path is a prefix ("/api/cache/routes/NAME")
  int methods;
};
constexpr Endpoint kEndpoints[] = {
    {"/", false, kRead},            // the dashboard page
    {"/dashboard/", true, kRead},   // its script and stylesheet
    {"/api/monitoring/health", false, kRead},
    {"/api/monitoring/metrics", false, kRead},
    {"/api/monitoring/system", false, kRead},
    {"/api/monitoring/latency", false, kRead},
    {"/metrics", false, kRead},
    {"/api/admin/reload", false, EVHTTP_REQ_POST},
    {"/api/cache/stats", false, kRead},
    {"/api/cache/clear", false, EVHTTP_REQ_POST},
    {"/api/cache/warmup", false, EVHTTP_REQ_POST},
    {"/api/cache/warmup/", true, kRead},
    {"/api/cache/routes", false, kRead},
    {"/api/cache/routes/", true, EVHTTP_REQ_PUT},
};

const Endpoint* findEndpoint(std::string_view path) {
  for (const Endpoint& e : kEndpoints) {
    if (e.prefix ? path.size() > e.path.size() && path.substr(0, e.path.size()) == e.path : path == e.path) return &e;
  }
  return nullptr;
}

std::string allowHeader(int methods) {
  std::string allow;
  for (auto [bit, name] : {std::pair{EVHTTP_REQ_GET, "GET"}, std::pair{EVHTTP_REQ_HEAD, "HEAD"},
                           std::pair{EVHTTP_REQ_POST, "POST"}, std::pair{EVHTTP_REQ_PUT, "PUT"}}) {
    if (methods & bit) {
      if (!allow.empty()) allow.append(", ");
      allow.append(name);
    }
  }
  return allow;
}

void reply(evhttp_request* request, int status, const std::string& json,
           const char* content_type = "application/json") {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", content_type);
  evhttp_add_header(headers, "Cache-Control", "no-store");
  evbuffer* body = evbuffer_new();
  evbuffer_add(body, json.data(), json.size());
  evhttp_send_reply(request, status, nullptr, body);
  evbuffer_free(body);
}

void replyError(evhttp_request* request, int status, std::string_view message) {
  std::string json = "{\"error\": \"";
  appendJsonEscaped(json, message);
  json.append("\", \"status\": " + std::to_string(status) + "}\n");
  reply(request, status, json);
}

std::string requestBody(evhttp_request* request) {
  evbuffer* buffer = evhttp_request_get_input_buffer(request);
  std::string body(evbuffer_get_length(buffer), '\0');
  evbuffer_copyout(buffer, body.data(), body.size());
  return body;
}

// Deepest nesting of arrays and objects in `text` (strings skipped), counted without parsing:
// a body nested deeper than any admin call needs is refused before the parser (and anything
// that walks the result recursively, such as dump()) sees it.
bool nestingWithin(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// The JSON body of a mutating call; discarded (is_discarded()) when it is not JSON or nests
// deeper than kMaxJsonDepth.
constexpr int kMaxJsonDepth = 16;
nlohmann::json jsonBody(evhttp_request* request) {
  std::string text = requestBody(request);
  if (!nestingWithin(text, kMaxJsonDepth)) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text, nullptr, false);
}

// A Host a browser can only send when its user typed it: an IP address (v4 or bracketed v6) or
// localhost, with the listener's own port. A DNS name could be an attacker's, rebound to this
// address (DNS rebinding), so it never reaches a mutating call.
bool namesListener(std::string_view host, uint16_t port) {
  std::string_view name = host;
  std::string_view port_text;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = host.substr(1, close - 1);
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    if (!rest.empty()) port_text = rest.substr(1);
    in6_addr v6;
    if (inet_pton(AF_INET6, std::string(name).c_str(), &v6) != 1) return false;
  } else {
    size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      name = host.substr(0, colon);
      port_text = host.substr(colon + 1);
    }
    in_addr v4;
    if (!equalsIgnoreCase(name, "localhost") && inet_pton(AF_INET, std::string(name).c_str(), &v4) != 1) return false;
  }
  if (port_text.empty()) return port == 80;
  uint16_t given = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), given);
  return ec == std::errc() && end == port_text.data() + port_text.size() && given == port;
}

// Why a state-changing call cannot be from the operator's own client, or "" (then 0): it comes
// from a web page (cross-site request forgery through the operator's browser) when its Origin is
// another site, its Host is not this listener, or its body is not declared JSON (a form or a
// no-cors fetch cannot declare it without a CORS preflight, which is never granted).
std::pair<int, std::string_view> crossSiteRefusal(evhttp_request* request, uint16_t port) {
  const evkeyvalq* headers = evhttp_request_get_input_headers(request);
  const char* host = evhttp_find_header(headers, "Host");
  if (host != nullptr && !namesListener(host, port)) {
    return {403, "Host must name this listener (an IP address or localhost, with its port)"};
  }
  if (const char* origin = evhttp_find_header(headers, "Origin")) {
    std::string_view value = origin;
    if (host == nullptr || value.size() != 7 + std::strlen(host) || !equalsIgnoreCase(value.substr(0, 7), "http://") ||
        !equalsIgnoreCase(value.substr(7), host)) {
      return {403, "cross-origin requests may not change state"};
    }
  }
  const char* type = evhttp_find_header(headers, "Content-Type");
  std::string_view media = type != nullptr ? std::string_view(type) : std::string_view();
  media = trimOws(media.substr(0, media.find(';')));
  if (!equalsIgnoreCase(media, "application/json")) {
    return {415, "state-changing calls take Content-Type: application/json"};
  }
  return {0, ""};
}

// Constant-time comparison: the work depends only on the length of what the client sent, so
// response timing tells neither how much of the token matched nor how long it is.
bool sameToken(std::string_view given, std::string_view token) {
  unsigned char diff = given.size() != token.size() ? 1 : 0;
  for (size_t i = 0; i < given.size(); ++i) {
    unsigned char expected = token.empty() ? 0 : static_cast<unsigned char>(token[i % token.size()]);
    diff |= static_cast<unsigned char>(static_cast<unsigned char>(given[i]) ^ expected);
  }
  return diff == 0;
}

// The value of query parameter `name`, or "" when absent.
std::string queryParam(const evhttp_uri* uri, const char* name) {
  const char* query = uri != nullptr ? evhttp_uri_get_query(uri) : nullptr;
  if (query == nullptr) return "";
  evkeyvalq params{};
  if (evhttp_parse_query_str(query, &params) != 0) return "";
  const char* value = evhttp_find_header(&params, name);
  std::string out = value != nullptr ? value : "";
  evhttp_clear_headers(&params);
  return out;
}

}  // namespace

AdminServer::AdminServer(event_base* base, Gateway& gateway)
    : gateway_(gateway),
      http_(evhttp_new(base)),
      warmup_(base),
      dns_(evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)),
      prober_(base, dns_) {
  evhttp_set_gencb(http_, &AdminServer::onRequest, this);
  // Every method reaches handle(), which answers 405 as JSON with Allow.
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD |
                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
                                        EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
  evhttp_set_max_body_size(http_, 1 << 20);
  evhttp_set_max_headers_size(http_, 64 << 10);
  evhttp_set_timeout(http_, 30);
}

AdminServer::~AdminServer() {
  evhttp_free(http_);
  if (dns_ != nullptr) evdns_base_free(dns_, 0);
}

std::string AdminServer::listen(const ListenAddress& address, uint16_t& bound_port) {
  evhttp_bound_socket* socket = evhttp_bind_socket_with_handle(http_, address.host.c_str(), address.port);
  if (socket == nullptr) return "cannot listen on " + address.toString();
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  getsockname(evhttp_bound_socket_get_fd(socket), reinterpret_cast<sockaddr*>(&bound), &length);
  bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  port_ = bound_port;
  return "";
}

void AdminServer::onRequest(evhttp_request* request, void* self) noexcept {
  try {
    static_cast<AdminServer*>(self)->handle(request);
  } catch (const std::exception& e) {
    spdlog::error("admin: {}", e.what());
    replyError(request, 500, "internal error");
  }
}

void AdminServer::handle(evhttp_request* request) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  const char* raw_path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  std::string path = raw_path != nullptr ? raw_path : "/";
  evhttp_cmd_type method = evhttp_request_get_command(request);

  const Endpoint* endpoint = findEndpoint(path);
  if (endpoint == nullptr) return replyError(request, 404, "no such admin endpoint");
  if (!(endpoint->methods & method)) {
    std::string allow = allowHeader(endpoint->methods);
    evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", allow.c_str());
    return replyError(request, 405, "method not allowed; use " + allow);
  }
  if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
    const std::string& token = gateway_.snapshot()->config->admin.token;
    if (!token.empty()) {
      const char* auth = evhttp_find_header(evhttp_request_get_input_headers(request), "Authorization");
      std::string_view given = auth != nullptr ? auth : "";
      if (given.size() < 7 || !equalsIgnoreCase(given.substr(0, 7), "Bearer ") || !sameToken(given.substr(7), token)) {
        evhttp_add_header(evhttp_request_get_output_headers(request), "WWW-Authenticate", "Bearer");
        replyError(request, 401, "missing or wrong bearer token");
        return;
      }
    }
    if (auto [status, why] = crossSiteRefusal(request, port_); status != 0) return replyError(request, status, why);
  }

  if (path == "/" || path.starts_with("/dashboard/")) {
    const DashboardFile* file = dashboardFile(path);
    if (file == nullptr) return replyError(request, 404, "no such dashboard file");
    for (auto [name, value] : kDashboardHeaders) evhttp_add_header(evhttp_request_get_output_headers(request), name, value);
    return reply(request, 200, std::string(file->body), dashboardContentType(file->name));
  }
  if (path == "/api/monitoring/health") return health(request, queryParam(uri, "probe") != "0");
  if (path == "/api/monitoring/metrics") return reply(request, 200, metricsJson(gateway_).dump() + "\n");
  if (path == "/api/monitoring/system") return reply(request, 200, systemJson(gateway_).dump() + "\n");
  if (path == "/api/monitoring/latency") return reply(request, 200, latencyBucketsJson(gateway_).dump() + "\n");
  if (path == "/metrics") {
    return reply(request, 200, prometheusText(gateway_), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (path == "/api/admin/reload") {
    std::string error = gateway_.reload();
    if (!error.empty()) return replyError(request, 400, error);
    reply(request, 200, "{\"reloaded\": true}\n");
    return;
  }
  if (path == "/api/cache/stats") {
    CacheStore::Stats stats = gateway_.cacheStore().stats();
    nlohmann::json body = {{"entries", stats.entries},       {"bytes", stats.bytes},
                           {"max_bytes", gateway_.cacheStore().maxBytes()},
                           {"evictions", stats.evictions},   {"inserts", stats.inserts},
                           {"replaced", stats.replaced}};
    nlohmann::json routes = nlohmann::json::object();
    for (const auto& [name, totals] : gateway_.cacheStats().merged()) {
      nlohmann::json route = {{"stored", totals.stored}, {"stored_bytes", totals.stored_bytes},
                              {"not_stored", totals.not_stored}};
      for (size_t i = 0; i < static_cast<size_t>(CacheOutcome::kCount); ++i) {
        route[outcomeName(static_cast<CacheOutcome>(i))] = {{"requests", totals.requests[i]}, {"bytes", totals.bytes[i]}};
      }
      nlohmann::json reasons = nlohmann::json::object();
      for (size_t i = 1; i < kNotStorableReasons; ++i) {  // 0 is NotStorableReason::None
        if (totals.not_stored_by[i] != 0) {
          reasons[describe(static_cast<NotStorableReason>(i))] = totals.not_stored_by[i];
        }
      }
      route["not_stored_reasons"] = reasons;
      auto evicted = stats.evictions_by_route.find(name);
      route["evictions"] = evicted == stats.evictions_by_route.end() ? 0 : evicted->second;
      route["hit_ratio"] = hitRatio(totals);
      routes[name] = route;
    }
    body["routes"] = routes;
    CompressionTotals gzip = gateway_.compressionStats().merged();
    uint64_t decoded = 0;
    for (const auto& [name, totals] : gateway_.cacheStats().merged()) decoded += totals.decoded;
    body["compression"] = {{"compressed", gzip.compressed}, {"bytes_in", gzip.bytes_in},
                           {"bytes_out", gzip.bytes_out}, {"decompressed", decoded}};
    reply(request, 200, body.dump() + "\n");
    return;
  }
  if (path == "/api/cache/clear") {
    nlohmann::json body = jsonBody(request);
    if (body.is_discarded()) return replyError(request, 400, "body is not valid JSON (or nested too deep)");
    CachePurge purge;
    if (std::string error = CachePurge::parse(body, purge); !error.empty()) return replyError(request, 400, error);
    if (purge.selector == "route" && gateway_.cacheSwitch(purge.value) == nullptr) {
      return replyError(request, 400, "no route named '" + excerpt(purge.value) + "'");
    }
    size_t count = purge.apply(gateway_.cacheStore(), time(nullptr));
    nlohmann::json answer = {{purge.soft ? "marked_stale" : "removed", count}};
    // Redis and the other instances: sent, not waited for ("unavailable" while Redis is down).
    if (gateway_.l2() != nullptr) answer["l2"] = gateway_.purgeL2(purge) ? "sent" : "unavailable";
    reply(request, 200, answer.dump() + "\n");
    return;
  }
  if (path == "/api/cache/warmup") {
    nlohmann::json body = jsonBody(request);
    CacheWarmup::Request job;
    if (std::string error = body.is_discarded() ? "body is not JSON (or nested too deep)" : CacheWarmup::parse(body, job);
        !error.empty()) {
      return replyError(request, 400, error);
    }
    size_t urls = job.urls.size();
    uint64_t id = warmup_.start(std::move(job), gateway_.publicAddress());
    reply(request, 202,
          nlohmann::json({{"id", id}, {"urls", urls}, {"status", "/api/cache/warmup/" + std::to_string(id)}}).dump() +
              "\n");
    return;
  }
  if (path.rfind("/api/cache/warmup/", 0) == 0) {
    std::string id_text = path.substr(std::string("/api/cache/warmup/").size());
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    nlohmann::json status = ec == std::errc() && end == id_text.data() + id_text.size() ? warmup_.status(id) : nullptr;
    if (status.is_null()) return replyError(request, 404, "no warmup job '" + excerpt(id_text) + "'");
    reply(request, 200, status.dump() + "\n");
    return;
  }
  if (path == "/api/cache/routes") {
    nlohmann::json routes = nlohmann::json::array();
    for (const RouteConfig& route : gateway_.snapshot()->config->routes) {
      int8_t forced = route.cache_switch != nullptr ? route.cache_switch->load() : -1;
      routes.push_back({{"name", route.name}, {"enabled", route.cacheEnabled()}, {"configured", route.cache},
                        {"overridden", forced >= 0}});
    }
    reply(request, 200, nlohmann::json({{"routes", routes}}).dump() + "\n");
    return;
  }
  if (path.rfind("/api/cache/routes/", 0) == 0) {
    std::string name = path.substr(std::string("/api/cache/routes/").size());
    std::atomic<int8_t>* flag = gateway_.cacheSwitch(name);
    if (flag == nullptr) return replyError(request, 400, "no route named '" + excerpt(name) + "'");
    nlohmann::json body = jsonBody(request);
    if (body.is_discarded()) return replyError(request, 400, "body is not valid JSON (or nested too deep)");
    for (auto it = body.begin(); body.is_object() && it != body.end(); ++it) {
      if (it.key() != "enabled") {
        return replyError(request, 400, "unknown field '" + excerpt(it.key()) + "': only \"enabled\"");
      }
    }
    if (!body.is_object() || !body.contains("enabled") || !(body["enabled"].is_boolean() || body["enabled"].is_null())) {
      return replyError(request, 400, "body must be {\"enabled\": true|false|null} (null: back to the config)");
    }
    int8_t value = body["enabled"].is_null() ? -1 : (body["enabled"].get<bool>() ? 1 : 0);
    flag->store(value);
    gateway_.broadcastRouteSwitch(name, value);
    spdlog::info("admin: cache for route '{}' {}", name, value < 0 ? "follows the config" : value ? "on" : "off");
    reply(request, 200, nlohmann::json({{"name", name}, {"enabled", value < 0 ? nullptr : nlohmann::json(value == 1)}}).dump() + "\n");
    return;
  }
  replyError(request, 404, "no such admin endpoint");
}

void AdminServer::health(evhttp_request* request, bool probe) {
  // Passive figures first: what the workers saw of each upstream.
  TimingTotals timing = gateway_.timingStats().merged();
  auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
  auto ago = [&](int64_t ns) { return ns == 0 ? nlohmann::json(nullptr) : nlohmann::json((now_ns - ns) / 1e9); };
  nlohmann::json upstreams = nlohmann::json::object();
  std::shared_ptr<const Config> config = gateway_.snapshot()->config;
  for (const UpstreamConfig& upstream : config->upstreams) {
    const UpstreamTimingTotals& u = timing.upstreams[upstream.name];
    uint64_t errors = 0;
    for (uint64_t n : u.errors) errors += n;
    nlohmann::json entry = {{"url", upstream.url},
                            {"requests", u.requests},
                            {"errors", errors},
                            {"last_success_seconds_ago", ago(u.last_ok_ns)},
                            {"last_error_seconds_ago", ago(u.last_error_ns)},
                            {"last_error", u.last_error == GatewayError::None ? nlohmann::json(nullptr)
                                                                              : nlohmann::json(gatewayErrorName(u.last_error))}};
    // Without a probe: reachable unless the latest outcome was a failure (null: no traffic yet).
    entry["reachable"] = u.last_ok_ns == 0 && u.last_error_ns == 0 ? nlohmann::json(nullptr)
                                                                     : nlohmann::json(u.last_ok_ns >= u.last_error_ns);
    upstreams[upstream.name] = std::move(entry);
  }
  nlohmann::json body = {{"status", "ok"},
                         {"version", PERFGATE_VERSION},
                         {"uptime_seconds", gateway_.uptimeSeconds()},
                         {"connections", gateway_.openConnections()},
                         {"upstreams", std::move(upstreams)}};
  // Redis down does not stop the gateway (L1 and the backend answer), but it is not healthy.
  if (nlohmann::json l2 = l2Json(gateway_); !l2.is_null()) {
    if (l2["status"] != "up") body["status"] = "degraded";
    body["l2"] = std::move(l2);
  }
  if (!probe) {
    for (auto& [name, entry] : body["upstreams"].items()) {
      if (entry["reachable"] == false) body["status"] = "degraded";
    }
    return reply(request, 200, body.dump() + "\n");
  }
  // An active probe: one bounded non-blocking connect per upstream; the reply goes when all have
  // answered or the deadline passed. (Should the client leave meanwhile, evhttp keeps the request
  // until the reply, then frees it.)
  prober_.probe(*config, kProbeDeadline, [request, body = std::move(body)](std::vector<ProbeResult> results) mutable {
    for (const ProbeResult& r : results) {
      nlohmann::json& entry = body["upstreams"][r.upstream];
      entry["probe"] = r.ok ? nlohmann::json{{"ok", true}, {"connect_ms", r.connect_ms}}
                            : nlohmann::json{{"ok", false}, {"error", r.error}};
      entry["reachable"] = r.ok;
      if (!r.ok) body["status"] = "degraded";
    }
    reply(request, 200, body.dump() + "\n");
  });
}

}  // namespace perfgate
