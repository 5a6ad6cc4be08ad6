// The process: binds the listeners, runs the workers, and handles signals on the main thread
// (SIGTERM/SIGINT drain and exit, SIGHUP reloads the config file).
#pragma once

#include <event2/event.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "filters/access_log/access_log.h"
#include "filters/cache/cache_stats.h"
#include "filters/cache/cache_store.h"
#include "filters/cache/fill_registry.h"
#include "filters/cache/l2_cache.h"
#include "filters/compression/compression_stats.h"
#include "filters/timing/timing_stats.h"
#include "gateway/admin_server.h"
#include "gateway/cache_purge.h"
#include "gateway/config.h"
#include "gateway/metrics_log.h"
#include "gateway/snapshot.h"
#include "gateway/worker.h"

namespace perfgate {

struct GatewayOptions {
  std::string config_path;  // empty: drop-in mode, nothing to reload
  unsigned workers = 0;     // overrides the config when non-zero
  std::optional<ListenAddress> listen;
  std::optional<ListenAddress> admin;
};

// `config` with the command line's --workers/--listen/--admin put over it.
std::shared_ptr<const Config> applyOverrides(const GatewayOptions& options, std::shared_ptr<const Config> config);

class Gateway {
 public:
  Gateway(GatewayOptions options, std::shared_ptr<const Config> config);
  ~Gateway();

  // Runs until SIGTERM/SIGINT and a drain; returns the process exit code.
  int run();

  // Re-reads the config file. Returns "" on success, else the error (old config kept).
  std::string reload();

  unsigned openConnections() const { return open_connections_.load(); }
  CacheStore& cacheStore() { return *cache_store_; }
  const CacheStore& cacheStore() const { return *cache_store_; }
  const CacheStats& cacheStats() const { return *cache_stats_; }
  const CompressionStats& compressionStats() const { return *compression_stats_; }
  const TimingStats& timingStats() const { return *timing_stats_; }
  size_t workerCount() const { return workers_.size(); }
  double uptimeSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }
  // The shared L2 cache; null without [cache.l2].
  L2Cache* l2() const { return l2_.get(); }
  // A clear made here, sent on to Redis and (pub/sub) to every other instance's L1. False when
  // Redis cannot be reached now (L1 was cleared all the same).
  bool purgeL2(const CachePurge& purge);
  // A route's runtime cache switch set here, sent to the other instances when
  // [cache.l2] broadcast_route_toggles is on.
  void broadcastRouteSwitch(const std::string& name, int8_t value);
  // The runtime cache switch of route `name` (-1 follow config, 0 off, 1 on); null if unknown.
  std::atomic<int8_t>* cacheSwitch(const std::string& name);
  const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_; }
  // The public listener as bound (the real port when the config asked for port 0).
  const ListenAddress& publicAddress() const { return public_address_; }

 private:
  static void onSignal(evutil_socket_t signal, short, void* self) noexcept;
  void onPurgeMessage(std::string_view message);
  std::shared_ptr<const Snapshot> makeSnapshot(std::shared_ptr<const Config> config);
  std::vector<int> bindListeners(const ListenAddress& address, unsigned count, uint16_t& bound_port);
  void shutdown();

  GatewayOptions options_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::shared_ptr<CacheStore> cache_store_;  // L1, shared by every worker; outlives reloads
  std::shared_ptr<CacheStats> cache_stats_ = std::make_shared<CacheStats>();
  std::shared_ptr<FillRegistry> cache_fills_ = std::make_shared<FillRegistry>();  // coalescing; outlives reloads
  std::shared_ptr<CompressionStats> compression_stats_ = std::make_shared<CompressionStats>();
  std::shared_ptr<TimingStats> timing_stats_ = std::make_shared<TimingStats>();  // outlives reloads
  std::shared_ptr<L2Cache> l2_;  // [cache.l2]; set at start, outlives reloads
  std::shared_ptr<AccessLog> access_log_;  // [log] access_log; kept while its path stays
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  // Per route name; entries are never removed, so the pointers routes hold stay valid.
  std::unordered_map<std::string, std::unique_ptr<std::atomic<int8_t>>> cache_switches_;
  std::atomic<unsigned> open_connections_{0};
  event_base* base_ = nullptr;
  std::vector<event*> signal_events_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<MetricsLog> metrics_log_;
  bool stopping_ = false;
  ListenAddress public_address_;
};

// Applies the [log] level to the process logger.
void applyLogLevel(const std::string& level);

}  // namespace perfgate
