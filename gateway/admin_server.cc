#include "gateway/admin_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "filters/cache/cache_key.h"
#include "filters/cache/cache_store.h"
#include "filters/cache/freshness.h"
#include "gateway/access_log.h"
#include "gateway/gateway.h"

namespace perfgate {
namespace {

const auto kStarted = std::chrono::steady_clock::now();

void reply(evhttp_request* request, int status, const std::string& json) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", "application/json");
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

// Constant-time comparison, so response timing does not leak how much of a token matched.
bool sameToken(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

bool isLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

AdminServer::AdminServer(event_base* base, Gateway& gateway)
    : gateway_(gateway), http_(evhttp_new(base)), warmup_(base) {
  evhttp_set_gencb(http_, &AdminServer::onRequest, this);
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
  evhttp_set_max_body_size(http_, 1 << 20);
  evhttp_set_max_headers_size(http_, 64 << 10);
  evhttp_set_timeout(http_, 30);
}

AdminServer::~AdminServer() { evhttp_free(http_); }

std::string AdminServer::listen(const ListenAddress& address, uint16_t& bound_port) {
  evhttp_bound_socket* socket = evhttp_bind_socket_with_handle(http_, address.host.c_str(), address.port);
  if (socket == nullptr) return "cannot listen on " + address.toString();
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  getsockname(evhttp_bound_socket_get_fd(socket), reinterpret_cast<sockaddr*>(&bound), &length);
  bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
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

  if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
    const std::string& token = gateway_.snapshot()->config->admin.token;
    if (!token.empty()) {
      const char* auth = evhttp_find_header(evhttp_request_get_input_headers(request), "Authorization");
      std::string_view given = auth != nullptr ? auth : "";
      if (given.substr(0, 7) != "Bearer " || !sameToken(given.substr(7), token)) {
        evhttp_add_header(evhttp_request_get_output_headers(request), "WWW-Authenticate", "Bearer");
        replyError(request, 401, "missing or wrong bearer token");
        return;
      }
    }
  }

  if (path == "/api/monitoring/health") {
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) return replyError(request, 405, "use GET");
    auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - kStarted).count();
    reply(request, 200,
          "{\"status\": \"ok\", \"version\": \"" PERFGATE_VERSION "\", \"uptime_seconds\": " +
              std::to_string(uptime) + ", \"connections\": " + std::to_string(gateway_.openConnections()) + "}\n");
    return;
  }
  if (path == "/api/admin/reload") {
    if (method != EVHTTP_REQ_POST) return replyError(request, 405, "use POST");
    std::string error = gateway_.reload();
    if (!error.empty()) return replyError(request, 400, error);
    reply(request, 200, "{\"reloaded\": true}\n");
    return;
  }
  if (path == "/api/cache/stats") {
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) return replyError(request, 405, "use GET");
    CacheStore::Stats stats = gateway_.cacheStore().stats();
    nlohmann::json body = {{"entries", stats.entries},       {"bytes", stats.bytes},
                           {"max_bytes", gateway_.cacheStore().maxBytes()},
                           {"evictions", stats.evictions},   {"inserts", stats.inserts},
                           {"replaced", stats.replaced}};
    nlohmann::json routes = nlohmann::json::object();
    for (const auto& [name, totals] : gateway_.cacheStats().merged()) {
      nlohmann::json route = {{"stored", totals.stored}, {"stored_bytes", totals.stored_bytes},
                              {"not_stored", totals.not_stored}};
      uint64_t served = 0;
      uint64_t from_cache = 0;
      for (size_t i = 0; i < static_cast<size_t>(CacheOutcome::kCount); ++i) {
        auto outcome = static_cast<CacheOutcome>(i);
        route[outcomeName(outcome)] = {{"requests", totals.requests[i]}, {"bytes", totals.bytes[i]}};
        if (outcome != CacheOutcome::Bypass) served += totals.requests[i];
        if (outcome == CacheOutcome::Hit || outcome == CacheOutcome::Stale || outcome == CacheOutcome::Revalidated) {
          from_cache += totals.requests[i];
        }
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
      route["hit_ratio"] = served == 0 ? 0.0 : static_cast<double>(from_cache) / static_cast<double>(served);
      routes[name] = route;
    }
    body["routes"] = routes;
    CompressionTotals gzip = gateway_.compressionStats().merged();
    body["compression"] = {{"compressed", gzip.compressed}, {"bytes_in", gzip.bytes_in},
                           {"bytes_out", gzip.bytes_out}, {"decompressed", gzip.decompressed}};
    reply(request, 200, body.dump() + "\n");
    return;
  }
  if (path == "/api/cache/clear") {
    if (method != EVHTTP_REQ_POST) return replyError(request, 405, "use POST");
    nlohmann::json body = nlohmann::json::parse(requestBody(request), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return replyError(request, 400,
                        "body must be a JSON object: {} clears all, or one of {\"route\"|\"prefix\"|\"url\"|\"tag\": "
                        "...}, with \"soft\": true to mark stale instead of removing");
    }
    std::function<bool(const CacheEntry&)> selected;  // empty: everything
    std::string selector;
    bool soft = false;
    for (const auto& [key, value] : body.items()) {
      if (key == "soft") {
        if (!value.is_boolean()) return replyError(request, 400, "'soft' must be true or false");
        soft = value.get<bool>();
        continue;
      }
      if (key != "route" && key != "prefix" && key != "url" && key != "tag") {
        return replyError(request, 400, "unknown key '" + key + "': use route, prefix, url or tag (and soft)");
      }
      if (!selector.empty()) return replyError(request, 400, "give at most one of route, prefix, url, tag");
      if (!value.is_string()) return replyError(request, 400, "'" + key + "' must be a string");
      selector = key;
      std::string wanted = value.get<std::string>();
      if (key == "route") {
        selected = [wanted](const CacheEntry& entry) { return entry.route == wanted; };
      } else if (key == "prefix") {
        selected = [wanted](const CacheEntry& entry) {
          CacheKeyParts parts;
          return splitCacheKey(entry.key, parts) && parts.path.substr(0, wanted.size()) == wanted;
        };
      } else if (key == "url") {
        selected = [wanted](const CacheEntry& entry) {
          CacheKeyParts parts;
          if (!splitCacheKey(entry.key, parts)) return false;
          std::string target(parts.path);
          if (!parts.query.empty()) target += "?" + std::string(parts.query);
          return target == wanted;
        };
      } else {
        selected = [wanted](const CacheEntry& entry) {
          return std::find(entry.tags.begin(), entry.tags.end(), wanted) != entry.tags.end();
        };
      }
    }
    CacheStore& store = gateway_.cacheStore();
    size_t count = 0;
    if (soft) {
      count = store.markStaleIf(selected ? selected : [](const CacheEntry&) { return true; }, time(nullptr));
    } else {
      count = selected ? store.eraseIf(selected) : store.clear();
    }
    reply(request, 200, nlohmann::json({{soft ? "marked_stale" : "removed", count}}).dump() + "\n");
    return;
  }
  if (path == "/api/cache/warmup") {
    if (method != EVHTTP_REQ_POST) return replyError(request, 405, "use POST");
    nlohmann::json body = nlohmann::json::parse(requestBody(request), nullptr, false);
    CacheWarmup::Request job;
    if (std::string error = body.is_discarded() ? "body is not JSON" : CacheWarmup::parse(body, job); !error.empty()) {
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
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) return replyError(request, 405, "use GET");
    std::string id_text = path.substr(std::string("/api/cache/warmup/").size());
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    nlohmann::json status = ec == std::errc() && end == id_text.data() + id_text.size() ? warmup_.status(id) : nullptr;
    if (status.is_null()) return replyError(request, 404, "no warmup job '" + id_text + "'");
    reply(request, 200, status.dump() + "\n");
    return;
  }
  if (path == "/api/cache/routes") {
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) return replyError(request, 405, "use GET");
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
    if (method != EVHTTP_REQ_PUT) return replyError(request, 405, "use PUT");
    std::string name = path.substr(std::string("/api/cache/routes/").size());
    std::atomic<int8_t>* flag = gateway_.cacheSwitch(name);
    if (flag == nullptr) return replyError(request, 404, "no route named '" + name + "'");
    nlohmann::json body = nlohmann::json::parse(requestBody(request), nullptr, false);
    if (!body.is_object() || !body.contains("enabled") || !(body["enabled"].is_boolean() || body["enabled"].is_null())) {
      return replyError(request, 400, "body must be {\"enabled\": true|false|null} (null: back to the config)");
    }
    int8_t value = body["enabled"].is_null() ? -1 : (body["enabled"].get<bool>() ? 1 : 0);
    flag->store(value);
    spdlog::info("admin: cache for route '{}' {}", name, value < 0 ? "follows the config" : value ? "on" : "off");
    reply(request, 200, nlohmann::json({{"name", name}, {"enabled", value < 0 ? nullptr : nlohmann::json(value == 1)}}).dump() + "\n");
    return;
  }
  replyError(request, 404, "no such admin endpoint");
}

}  // namespace perfgate
