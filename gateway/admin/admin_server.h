// The admin listener: loopback by default, its own socket, served on the main thread so it
// never competes with the workers' request path. The core answers monitoring (metrics, system,
// health, Prometheus) and reload; the modules add their endpoints (admin_routes.h). JSON in and
// out; errors {"error", "status"}.
#pragma once

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>

#include <cstdint>
#include <string>

#include "gateway/admin/admin_routes.h"
#include "gateway/config/config.h"
#include "gateway/upstream/upstream_probe.h"

namespace perfgate {

class Gateway;

class AdminServer {
 public:
  // Admin: every endpoint, the modules' included. Metrics ([metrics] listen): the read-only
  // ones only (monitoring, Prometheus, /healthz, /readyz), whatever the method.
  enum class Role { Admin, Metrics };

  AdminServer(event_base* base, Gateway& gateway, Role role = Role::Admin);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Where the modules add their endpoints, before listen().
  AdminRoutes& routes() { return routes_; }
  // Binds `address`; returns "" or an error. `bound_port` is the real port (for port 0).
  std::string listen(const ListenAddress& address, uint16_t& bound_port);

 private:
  friend class AdminCall;

  static void onRequest(evhttp_request* request, void* self) noexcept;
  void handle(evhttp_request* request);
  void addCoreEndpoints();
  // GET /api/monitoring/health; with ?probe=1 (the default), answered once every upstream was tried.
  void health(AdminCall& call);

  Gateway& gateway_;
  Role role_;
  AdminRoutes routes_;
  uint16_t port_ = 0;  // as bound: mutating calls must name it in Host
  evhttp* http_;
  evdns_base* dns_;  // resolves https upstreams for probes
  UpstreamProber prober_;
};

}  // namespace perfgate
