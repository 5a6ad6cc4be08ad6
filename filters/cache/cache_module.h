// The response cache as a module: the L1 store, the coalescing registry and the counters, which
// outlive reloads; the shared L2 on Redis (one link per worker, a control and a subscriber link
// on the main thread for purges across instances); the runtime cache switch of each route; the
// cache's admin endpoints (cache_admin.cc) and figures (cache_metrics.cc). Its filter is
// CacheFilter.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>

#include "filters/cache/background_encoder.h"
#include "filters/cache/cache_config.h"
#include "filters/cache/cache_purge.h"
#include "filters/cache/cache_stats.h"
#include "filters/cache/cache_store.h"
#include "filters/cache/cache_warmup.h"
#include "filters/cache/fill_registry.h"
#include "filters/cache/l2_cache.h"
#include "filters/module.h"

namespace perfgate {

class CacheModule final : public Module {
 public:
  // `compression` counts what the background encoder makes (shared with the compression module).
  CacheModule(const Clock& clock, std::shared_ptr<CompressionStats> compression);
  ~CacheModule() override;

  static void declareConfig(ConfigSchema& schema) { declareCacheConfig(schema); }

  std::string_view name() const override { return "cache"; }
  std::string configure(const Config& config) override;
  std::shared_ptr<const Filter> makeFilter(const std::shared_ptr<const Config>& config) override;
  void start(ModuleHost& host) override;
  void stop() override;
  std::unique_ptr<WorkerResource> openWorker(event_base* base) override;
  void registerAdmin(AdminRoutes& routes) override;
  void collectMetrics(MetricsSink& sink) const override;
  bool health(nlohmann::json& body) const override;

  // The L1 store (after the first configure()).
  CacheStore& store() const { return *store_; }
  // The background encoder of slow coding levels; null when [compression] background_threads is 0.
  BackgroundEncoder* encoder() const { return encoder_.get(); }

 private:
  // The runtime switch of route `name` in the running config (-1 follow the config, 0 off, 1 on);
  // null when the running config has no such route.
  std::atomic<int8_t>* switchOf(const std::string& name) const;
  // A clear made here, sent on to Redis and (pub/sub) to every other instance's L1. False when
  // Redis cannot be reached now (L1 was cleared all the same).
  bool purgeL2(const CachePurge& purge);
  // A route's switch set here, sent to the other instances when broadcast_route_toggles is on.
  void broadcastRouteSwitch(const std::string& name, int8_t value);
  void onPurgeMessage(std::string_view message);
  nlohmann::json l2Json() const;

  // cache_admin.cc
  void stats(AdminCall& call) const;
  void clear(AdminCall& call);
  void warmup(AdminCall& call);
  void warmupStatus(AdminCall& call) const;
  void routes(AdminCall& call) const;
  void toggle(AdminCall& call);

  const Clock& clock_;
  ModuleHost* host_ = nullptr;
  std::shared_ptr<CacheStore> store_;  // made by the first configure(); max_bytes then fixed
  std::shared_ptr<FillRegistry> fills_ = std::make_shared<FillRegistry>();
  std::shared_ptr<CacheStats> stats_ = std::make_shared<CacheStats>();
  std::shared_ptr<L2Cache> l2_;  // [cache.l2] as at start; null without
  std::shared_ptr<CompressionStats> compression_stats_;
  // [compression] background_threads as at start; null with none.
  std::shared_ptr<BackgroundEncoder> encoder_;
  int encoder_threads_ = 0;
  // Per route name, created on first sight and never removed, so a filter's pointers stay valid.
  std::unordered_map<std::string, std::unique_ptr<std::atomic<int8_t>>> switches_;
  std::shared_ptr<const Config> config_;  // the config in force (its routes)
  std::unique_ptr<CacheWarmup> warmup_;   // on the main thread's loop, from start()
};

}  // namespace perfgate
