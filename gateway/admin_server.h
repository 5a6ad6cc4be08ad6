// The admin listener: loopback by default, its own socket, served on the main thread so it
// never competes with the workers' request path: monitoring (metrics, system, health,
// Prometheus), cache administration and reload. JSON in and out; errors {"error", "status"}.
#pragma once

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>

#include <cstdint>
#include <functional>
#include <string>

#include "gateway/cache_warmup.h"
#include "gateway/config.h"
#include "gateway/upstream_probe.h"

namespace perfgate {

class Gateway;

class AdminServer {
 public:
  AdminServer(event_base* base, Gateway& gateway);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds `address`; returns "" or an error. `bound_port` is the real port (for port 0).
  std::string listen(const ListenAddress& address, uint16_t& bound_port);

 private:
  static void onRequest(evhttp_request* request, void* self) noexcept;
  void handle(evhttp_request* request);
  // GET /api/monitoring/health; with `probe`, answered once every upstream was tried.
  void health(evhttp_request* request, bool probe);

  Gateway& gateway_;
  uint16_t port_ = 0;  // as bound: mutating calls must name it in Host
  evhttp* http_;
  CacheWarmup warmup_;
  evdns_base* dns_;  // resolves https upstreams for probes
  UpstreamProber prober_;
};

}  // namespace perfgate
