// The cache's admin endpoints: stats, clear (hard or soft, by route, prefix, URL or tag, also in
// L2 and on the other instances), warmup jobs, and the runtime switch of each route.
#include <spdlog/spdlog.h>

#include <charconv>

#include "filters/cache/cache_module.h"
#include "gateway/text.h"

namespace perfgate {

void CacheModule::registerAdmin(AdminRoutes& routes) {
  routes.add("/api/cache/stats", false, kRead, [this](AdminCall& call) { stats(call); });
  routes.add("/api/cache/clear", false, kPost, [this](AdminCall& call) { clear(call); });
  routes.add("/api/cache/warmup", false, kPost, [this](AdminCall& call) { warmup(call); });
  routes.add("/api/cache/warmup/", true, kRead, [this](AdminCall& call) { warmupStatus(call); });
  routes.add("/api/cache/routes", false, kRead, [this](AdminCall& call) { this->routes(call); });
  routes.add("/api/cache/routes/", true, kPut, [this](AdminCall& call) { toggle(call); });
}

void CacheModule::stats(AdminCall& call) const { call.replyJson(200, call.view("cache")); }

void CacheModule::clear(AdminCall& call) {
  nlohmann::json body = call.body();
  if (body.is_discarded()) return call.replyError(400, "body is not valid JSON (or nested too deep)");
  CachePurge purge;
  if (std::string error = CachePurge::parse(body, purge); !error.empty()) return call.replyError(400, error);
  if (purge.selector == "route" && switchOf(purge.value) == nullptr) {
    return call.replyError(400, "no route named '" + excerpt(purge.value) + "'");
  }
  size_t count = purge.apply(*store_, clock_.now());
  nlohmann::json answer = {{purge.soft ? "marked_stale" : "removed", count}};
  // Redis and the other instances: sent, not waited for ("unavailable" while Redis is down).
  if (l2_ != nullptr) answer["l2"] = purgeL2(purge) ? "sent" : "unavailable";
  call.replyJson(200, answer);
}

void CacheModule::warmup(AdminCall& call) {
  nlohmann::json body = call.body();
  CacheWarmup::Request job;
  if (std::string error = body.is_discarded() ? "body is not JSON (or nested too deep)" : CacheWarmup::parse(body, job);
      !error.empty()) {
    return call.replyError(400, error);
  }
  size_t urls = job.urls.size();
  uint64_t id = warmup_->start(std::move(job), host_->publicAddress());
  call.replyJson(202, {{"id", id}, {"urls", urls}, {"status", "/api/cache/warmup/" + std::to_string(id)}});
}

void CacheModule::warmupStatus(AdminCall& call) const {
  std::string_view id_text = call.path().substr(std::string_view("/api/cache/warmup/").size());
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  nlohmann::json status = ec == std::errc() && end == id_text.data() + id_text.size() ? warmup_->status(id) : nullptr;
  if (status.is_null()) return call.replyError(404, "no warmup job '" + excerpt(id_text) + "'");
  call.replyJson(200, status);
}

void CacheModule::routes(AdminCall& call) const {
  nlohmann::json routes = nlohmann::json::array();
  for (const RouteConfig& route : config_->routes) {
    int8_t forced = switches_.at(route.name)->load();
    bool configured = route.settings<CacheRouteSettings>().cache;
    routes.push_back({{"name", route.name},
                      {"enabled", forced < 0 ? configured : forced != 0},
                      {"configured", configured},
                      {"overridden", forced >= 0}});
  }
  call.replyJson(200, {{"routes", routes}});
}

void CacheModule::toggle(AdminCall& call) {
  std::string name(call.path().substr(std::string_view("/api/cache/routes/").size()));
  std::atomic<int8_t>* flag = switchOf(name);
  if (flag == nullptr) return call.replyError(400, "no route named '" + excerpt(name) + "'");
  nlohmann::json body = call.body();
  if (body.is_discarded()) return call.replyError(400, "body is not valid JSON (or nested too deep)");
  for (auto it = body.begin(); body.is_object() && it != body.end(); ++it) {
    if (it.key() != "enabled") {
      return call.replyError(400, "unknown field '" + excerpt(it.key()) + "': only \"enabled\"");
    }
  }
  if (!body.is_object() || !body.contains("enabled") || !(body["enabled"].is_boolean() || body["enabled"].is_null())) {
    return call.replyError(400, "body must be {\"enabled\": true|false|null} (null: back to the config)");
  }
  int8_t value = body["enabled"].is_null() ? -1 : (body["enabled"].get<bool>() ? 1 : 0);
  flag->store(value);
  broadcastRouteSwitch(name, value);
  spdlog::info("admin: cache for route '{}' {}", name, value < 0 ? "follows the config" : value ? "on" : "off");
  call.replyJson(200, {{"name", name}, {"enabled", value < 0 ? nullptr : nlohmann::json(value == 1)}});
}

}  // namespace perfgate
