// The process: binds the listeners, runs the workers, and handles signals on the main thread
// (SIGTERM/SIGINT drain and exit, SIGHUP reloads the config file, SIGUSR1 reopens log files).
#pragma once

#include <event2/event.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "filters/module.h"
#include "gateway/admin/admin_server.h"
#include "gateway/config/config.h"
#include "gateway/metrics_log.h"
#include "gateway/service_notifier.h"
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

class Gateway final : public ModuleHost {
 public:
  // The modules are made here (gateway/modules.h); `clock` is theirs (tests pass a ManualClock).
  Gateway(GatewayOptions options, std::shared_ptr<const Config> config, const Clock& clock = systemClock());
  ~Gateway() override;

  // Runs until SIGTERM/SIGINT and a drain; returns the process exit code.
  int run();

  // Re-reads the config file. Returns "" on success, else the error (old config kept).
  std::string reload();

  unsigned openConnections() const { return open_connections_.load(); }
  // "starting" until the listeners and workers are live, "ready", then "draining" from SIGTERM.
  std::string_view phase() const;
  // The index of a worker whose loop has not turned for `silence`, or -1 (all turning).
  int stuckWorker(std::chrono::milliseconds silence) const;
  size_t workerCount() const { return workers_.size(); }
  double uptimeSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }
  const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_; }
  const std::vector<std::unique_ptr<Module>>& modules() const { return modules_; }
  // The module of type M, or null.
  template <typename M>
  M* module() const {
    for (const auto& m : modules_) {
      if (auto* found = dynamic_cast<M*>(m.get())) return found;
    }
    return nullptr;
  }
  // Every figure, the core's then each module's (gateway/admin/metrics_sink.h).
  void collectMetrics(MetricsSink& sink) const;
  // A worker's resources from every module, opened on its thread (Worker's `open`).
  std::vector<std::unique_ptr<WorkerResource>> openWorker(event_base* base) const;

  // ModuleHost
  event_base* mainBase() const override { return base_; }
  ListenAddress publicAddress() const override { return public_address_; }

 private:
  static void onSignal(evutil_socket_t signal, short, void* self) noexcept;
  static void onDrainPoll(evutil_socket_t, short, void* self) noexcept;
  // Puts `config` before every module; returns "" or the first refusal.
  std::string configureModules(const Config& config);
  std::shared_ptr<const Snapshot> makeSnapshot(std::shared_ptr<const Config> config);
  std::string reloadFile();  // reload()'s work, between the notifications
  std::vector<int> bindListeners(const ListenAddress& address, unsigned count, uint16_t& bound_port);
  void shutdown();

  GatewayOptions options_;
  std::vector<std::unique_ptr<Module>> modules_;  // outlive reloads
  std::shared_ptr<const Snapshot> snapshot_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<unsigned> open_connections_{0};
  event_base* base_ = nullptr;
  std::vector<event*> signal_events_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<AdminServer> metrics_listener_;  // [metrics] listen: read-only
  ServiceNotifier notifier_;
  event* drain_poll_ = nullptr;  // while draining: ends the main loop once every worker is done
  enum class Phase : uint8_t { Starting, Ready, Draining };
  std::atomic<Phase> phase_{Phase::Starting};
  std::unique_ptr<MetricsLog> metrics_log_;
  bool started_modules_ = false;
  bool stopping_ = false;
  ListenAddress public_address_;
};

// Applies the [log] level to the process logger.
void applyLogLevel(const std::string& level);

}  // namespace perfgate
