// The module contract. A module is one feature of the gateway (the cache with its L2,
// compression, cache headers, timing, the access log, the dashboard): it declares its config keys
// once (gateway/config/schema.h), builds its filter for each config snapshot, keeps the state that
// must survive reloads, opens what it needs on each worker (a Redis link), registers its admin
// endpoints and reports its metrics through one sink. The gateway lists its modules in one place
// (gateway/modules.cc) and knows nothing of their insides (compare h2o's configurators with
// on_context_init, and Envoy's registered filter factories with their stats).
//
// Every call but openWorker() and the filters' hooks runs on the main thread.
#pragma once

#include <event2/event.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "filters/filter.h"
#include "gateway/admin/admin_routes.h"
#include "gateway/admin/metrics_sink.h"
#include "gateway/clock.h"
#include "gateway/config/config.h"

namespace perfgate {

// What the gateway offers its modules.
class ModuleHost {
 public:
  virtual ~ModuleHost() = default;
  // The main thread's event loop (the admin listener's).
  virtual event_base* mainBase() const = 0;
  // The public listener as bound (the real port when the config asked for port 0).
  virtual ListenAddress publicAddress() const = 0;
};

// A resource a module holds on one worker, opened and closed on that worker's thread.
class WorkerResource {
 public:
  virtual ~WorkerResource() = default;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string_view name() const = 0;

  // A config is about to go live (at start, then on every reload). Returns "" or why it cannot:
  // at start the gateway does not start, on a reload the running config stays.
  virtual std::string configure(const Config& /*config*/) { return ""; }
  // The module's filter for a snapshot of `config`, after configure() accepted it (null: none).
  virtual std::shared_ptr<const Filter> makeFilter(const std::shared_ptr<const Config>& /*config*/) { return nullptr; }

  // Once the listeners are up / before the process exits.
  virtual void start(ModuleHost& /*host*/) {}
  virtual void stop() {}
  // On a worker's thread as it starts (null: nothing to hold there); freed as it stops.
  virtual std::unique_ptr<WorkerResource> openWorker(event_base* /*base*/) { return nullptr; }

  // SIGUSR1: the files it writes are opened again by their paths (after logrotate moved them).
  virtual void reopenFiles() {}

  virtual void registerAdmin(AdminRoutes& /*routes*/) {}
  // Its figures, for GET /metrics, the admin API's JSON views and the metrics file.
  virtual void collectMetrics(MetricsSink& /*sink*/) const {}
  // Its part of GET /api/monitoring/health, under its own key of `body`; false: degraded.
  virtual bool health(nlohmann::json& /*body*/) const { return true; }
};

}  // namespace perfgate
