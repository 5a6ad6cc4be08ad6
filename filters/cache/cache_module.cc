#include "filters/cache/cache_module.h"

#include <spdlog/spdlog.h>

#include "filters/cache/cache_filter.h"

namespace perfgate {

CacheModule::CacheModule(const Clock& clock, std::shared_ptr<CompressionStats> compression)
    : clock_(clock), compression_stats_(std::move(compression)) {}

CacheModule::~CacheModule() { stop(); }

std::string CacheModule::configure(const Config& config) {
  const CacheConfig& cache = config.section<CacheConfig>();
  const L2Config& l2 = config.section<L2Config>();
  const CompressionConfig& compression = config.section<CompressionConfig>();
  if (store_ == nullptr) {
    store_ = std::make_shared<CacheStore>(cache.max_bytes);
    if (l2.enabled()) l2_ = std::make_shared<L2Cache>(l2, config.buffers.max_object_bytes);
    encoder_threads_ = compression.background_threads;
    if (encoder_threads_ > 0) {
      encoder_ = std::make_shared<BackgroundEncoder>(store_, compression_stats_, encoder_threads_,
                                                     static_cast<size_t>(compression.background_queue));
    }
  } else {
    if (compression.background_threads != encoder_threads_ ||
        (encoder_ != nullptr && encoder_->queueLimit() != static_cast<size_t>(compression.background_queue))) {
      spdlog::warn("reload: [compression] background_threads and background_queue change only on restart");
    }
    if (store_->maxBytes() != cache.max_bytes) spdlog::warn("reload: [cache] max_bytes changes only on restart");
    const L2Config running = l2_ != nullptr ? l2_->config() : L2Config();
    if (l2.redis != running.redis || l2.timeout != running.timeout || l2.key_prefix != running.key_prefix ||
        l2.connect_timeout != running.connect_timeout || l2.reconnect_max != running.reconnect_max ||
        l2.max_pending != running.max_pending || l2.broadcast_route_toggles != running.broadcast_route_toggles) {
      spdlog::warn("reload: [cache.l2] changes only on restart");
    }
  }
  for (const RouteConfig& route : config.routes) {
    std::unique_ptr<std::atomic<int8_t>>& slot = switches_[route.name];
    if (slot == nullptr) slot = std::make_unique<std::atomic<int8_t>>(-1);
  }
  return "";
}

std::shared_ptr<const Filter> CacheModule::makeFilter(const std::shared_ptr<const Config>& config) {
  config_ = config;
  CacheFilter::Settings settings;
  settings.max_object_bytes = config->buffers.max_object_bytes;
  for (const RouteConfig& route : config->routes) settings.switches.push_back(switches_.at(route.name).get());
  const CacheConfig& cache = config->section<CacheConfig>();
  settings.targeted_fields = cache.targeted_fields;
  settings.forward_targeted_fields = cache.forward_targeted_fields;
  settings.compression = config->section<CompressionConfig>();
  return std::make_shared<CacheFilter>(store_, fills_, stats_, l2_, encoder_, compression_stats_, std::move(settings),
                                       clock_);
}

void CacheModule::start(ModuleHost& host) {
  host_ = &host;
  warmup_ = std::make_unique<CacheWarmup>(host.mainBase());
  if (l2_ != nullptr) {
    l2_->startControl(host.mainBase(), [this](std::string_view message) { onPurgeMessage(message); });
    spdlog::info("l2 cache on {} (key prefix '{}')", l2_->config().redis, l2_->config().key_prefix);
  }
}

void CacheModule::stop() {
  if (l2_ != nullptr) l2_->stopControl();  // its links live on the main loop
  warmup_.reset();
}

std::unique_ptr<WorkerResource> CacheModule::openWorker(event_base* base) {
  if (l2_ == nullptr) return nullptr;
  return l2_->attachWorker(base);
}

std::atomic<int8_t>* CacheModule::switchOf(const std::string& name) const {
  if (config_ == nullptr) return nullptr;
  for (const RouteConfig& route : config_->routes) {
    if (route.name == name) return switches_.at(name).get();
  }
  return nullptr;
}

bool CacheModule::purgeL2(const CachePurge& purge) {
  if (l2_ == nullptr) return false;
  // A soft purge removes from L2 too: Redis holds no per-entry stale mark.
  std::function<bool(std::string_view, std::string_view)> pred;
  if (!purge.selector.empty()) {
    pred = [purge](std::string_view route, std::string_view key) { return purge.selects(route, key); };
  }
  bool erased = purge.selector == "tag" ? l2_->eraseTag(purge.value) : l2_->eraseMatching(std::move(pred));
  bool published = l2_->publish(purge.message(l2_->instanceId()));
  return erased && published;
}

void CacheModule::broadcastRouteSwitch(const std::string& name, int8_t value) {
  if (l2_ == nullptr || !l2_->config().broadcast_route_toggles) return;
  l2_->publish(nlohmann::json({{"origin", l2_->instanceId()}, {"op", "route"}, {"name", name},
                               {"enabled", value < 0 ? nlohmann::json(nullptr) : nlohmann::json(value == 1)}})
                   .dump());
}

void CacheModule::onPurgeMessage(std::string_view message) {
  nlohmann::json body = nlohmann::json::parse(message, nullptr, false);
  if (!body.is_object() || !body.contains("origin") || !body["origin"].is_string() || !body.contains("op")) {
    spdlog::warn("l2: ignored a message on {} that is not a perfgate purge", l2_->channel());
    return;
  }
  if (body["origin"] == l2_->instanceId()) return;  // our own, already applied
  if (body["op"] == "clear") {
    CachePurge purge;
    nlohmann::json spec = nlohmann::json::object();
    if (body.value("soft", false)) spec["soft"] = true;
    if (body.contains("selector") && body["selector"].is_string() && body["selector"] != "") {
      spec[body["selector"].get<std::string>()] = body.value("value", std::string());
    }
    if (std::string error = CachePurge::parse(spec, purge); !error.empty()) {
      spdlog::warn("l2: ignored a purge message: {}", error);
      return;
    }
    size_t count = purge.apply(*store_, clock_.now());
    L2Counters::bump(l2_->counters().purges_received);
    spdlog::info("l2: purge from instance {} ({}{}): {} entr{} {}", body["origin"].get<std::string>(),
                 purge.selector.empty() ? "all" : purge.selector, purge.value.empty() ? "" : " " + purge.value, count,
                 count == 1 ? "y" : "ies", purge.soft ? "marked stale" : "removed");
    return;
  }
  if (body["op"] == "route" && l2_->config().broadcast_route_toggles && body.contains("name") &&
      body["name"].is_string()) {
    std::atomic<int8_t>* flag = switchOf(body["name"].get<std::string>());
    if (flag == nullptr) return;  // a route this instance does not have
    const nlohmann::json& enabled = body.contains("enabled") ? body["enabled"] : nlohmann::json(nullptr);
    if (!enabled.is_null() && !enabled.is_boolean()) return;
    flag->store(enabled.is_null() ? -1 : (enabled.get<bool>() ? 1 : 0));
    L2Counters::bump(l2_->counters().purges_received);
    spdlog::info("l2: cache for route '{}' set by instance {}", body["name"].get<std::string>(),
                 body["origin"].get<std::string>());
  }
}

bool CacheModule::health(nlohmann::json& body) const {
  if (l2_ == nullptr) return true;
  // Redis down does not stop the gateway (L1 and the backend answer), but it is not healthy.
  nlohmann::json l2 = l2Json();
  bool up = l2["status"] == "up";
  body["l2"] = std::move(l2);
  return up;
}

}  // namespace perfgate
