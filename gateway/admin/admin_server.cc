#include "gateway/admin/admin_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "gateway/gateway.h"
#include "gateway/http/tokens.h"
#include "gateway/monitoring.h"
#include "gateway/text.h"

namespace perfgate {
namespace {

constexpr std::chrono::milliseconds kProbeDeadline{1000};

unsigned methodBit(evhttp_cmd_type method) {
  switch (method) {
    case EVHTTP_REQ_GET: return kGet;
    case EVHTTP_REQ_HEAD: return kHead;
    case EVHTTP_REQ_POST: return kPost;
    case EVHTTP_REQ_PUT: return kPut;
    default: return 0;
  }
}

std::string allowHeader(unsigned methods) {
  std::string allow;
  for (auto [bit, name] : {std::pair{kGet, "GET"}, std::pair{kHead, "HEAD"}, std::pair{kPost, "POST"},
                           std::pair{kPut, "PUT"}}) {
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

}  // namespace

AdminServer::AdminServer(event_base* base, Gateway& gateway, Role role)
    : gateway_(gateway),
      role_(role),
      http_(evhttp_new(base)),
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
  addCoreEndpoints();
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
    perfgate::replyError(request, 500, "internal error");
  }
}

// --- AdminCall ---------------------------------------------------------------------------------

std::string_view AdminCall::path() const {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request_);
  const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  return path != nullptr && *path != '\0' ? path : "/";
}

std::string AdminCall::query(std::string_view name) const {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request_);
  const char* query = uri != nullptr ? evhttp_uri_get_query(uri) : nullptr;
  if (query == nullptr) return "";
  evkeyvalq params{};
  if (evhttp_parse_query_str(query, &params) != 0) return "";
  const char* value = evhttp_find_header(&params, std::string(name).c_str());
  std::string out = value != nullptr ? value : "";
  evhttp_clear_headers(&params);
  return out;
}

nlohmann::json AdminCall::body() const { return jsonBody(request_); }

nlohmann::json AdminCall::view(std::string_view name) const {
  JsonSink sink;
  server_->gateway_.collectMetrics(sink);
  return sink.view(name);
}

void AdminCall::header(const char* name, const std::string& value) {
  evhttp_add_header(evhttp_request_get_output_headers(request_), name, value.c_str());
}

void AdminCall::reply(int status, const std::string& body, const char* content_type) {
  perfgate::reply(request_, status, body, content_type);
}

void AdminCall::replyError(int status, std::string_view message) { perfgate::replyError(request_, status, message); }

// --- AdminServer ------------------------------------------------------------------------------

void AdminServer::handle(evhttp_request* request) {
  AdminCall call(*this, request);
  std::string_view path = call.path();
  const AdminEndpoint* endpoint = nullptr;
  for (const AdminEndpoint& e : routes_.endpoints()) {
    if (e.prefix ? path.size() > e.path.size() && path.starts_with(e.path) : path == e.path) {
      endpoint = &e;
      break;
    }
  }
  if (endpoint == nullptr) return call.replyError(404, "no such admin endpoint");
  unsigned method = methodBit(evhttp_request_get_command(request));
  if ((endpoint->methods & method) == 0) {
    std::string allow = allowHeader(endpoint->methods);
    call.header("Allow", allow);
    return call.replyError(405, "method not allowed; use " + allow);
  }
  if ((method & kRead) == 0) {
    const std::string& token = gateway_.snapshot()->config->admin.token;
    if (!token.empty()) {
      const char* auth = evhttp_find_header(evhttp_request_get_input_headers(request), "Authorization");
      std::string_view given = auth != nullptr ? auth : "";
      if (given.size() < 7 || !equalsIgnoreCase(given.substr(0, 7), "Bearer ") || !sameToken(given.substr(7), token)) {
        call.header("WWW-Authenticate", "Bearer");
        return call.replyError(401, "missing or wrong bearer token");
      }
    }
    if (auto [status, why] = crossSiteRefusal(request, port_); status != 0) return call.replyError(status, why);
  }
  endpoint->handler(call);
}

void AdminServer::addCoreEndpoints() {
  routes_.add("/api/monitoring/health", false, kRead, [this](AdminCall& call) { health(call); });
  routes_.add("/api/monitoring/metrics", false, kRead,
              [](AdminCall& call) { call.replyJson(200, call.view("metrics")); });
  routes_.add("/api/monitoring/system", false, kRead, [](AdminCall& call) { call.replyJson(200, call.view("system")); });
  routes_.add("/metrics", false, kRead, [this](AdminCall& call) {
    PrometheusSink sink;
    gateway_.collectMetrics(sink);
    call.reply(200, sink.text(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // Liveness: the main loop answers, and every worker's loop turned within the last 10 s.
  routes_.add("/healthz", false, kRead, [this](AdminCall& call) {
    int stuck = gateway_.stuckWorker(std::chrono::seconds(10));
    if (stuck >= 0) return call.replyError(503, "worker " + std::to_string(stuck) + "'s loop has not turned for 10 s");
    call.replyJson(200, {{"status", "ok"}});
  });
  // Readiness: listeners live with the first config, not draining.
  routes_.add("/readyz", false, kRead, [this](AdminCall& call) {
    std::string_view phase = gateway_.phase();
    call.replyJson(phase == "ready" ? 200 : 503, {{"ready", phase == "ready"}, {"phase", phase}});
  });
  if (role_ == Role::Metrics) return;
  routes_.add("/api/admin/reload", false, kPost, [this](AdminCall& call) {
    std::string error = gateway_.reload();
    if (!error.empty()) return call.replyError(400, error);
    call.replyJson(200, {{"reloaded", true}});
  });
}

void AdminServer::health(AdminCall& call) {
  bool probe = call.query("probe") != "0";
  nlohmann::json body = healthJson(gateway_, !probe);
  if (!probe) return call.replyJson(200, body);
  // An active probe: one bounded non-blocking connect per upstream; the reply goes when all have
  // answered or the deadline passed. (Should the client leave meanwhile, evhttp keeps the request
  // until the reply, then frees it.)
  prober_.probe(*gateway_.snapshot()->config, kProbeDeadline,
                [call, body = std::move(body)](std::vector<ProbeResult> results) mutable {
                  for (const ProbeResult& r : results) {
                    nlohmann::json& entry = body["upstreams"][r.upstream];
                    entry["probe"] = r.ok ? nlohmann::json{{"ok", true}, {"connect_ms", r.connect_ms}}
                                          : nlohmann::json{{"ok", false}, {"error", r.error}};
                    entry["reachable"] = r.ok;
                    if (!r.ok) body["status"] = "degraded";
                  }
                  call.replyJson(200, body);
                });
}

}  // namespace perfgate
