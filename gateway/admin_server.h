// The admin listener: loopback by default, its own socket, served on the main thread so it
// never competes with the workers' request path. Liveness for now; the monitoring and cache
// endpoints hang off the same server.
#pragma once

#include <event2/event.h>
#include <event2/http.h>

#include <cstdint>
#include <functional>
#include <string>

#include "gateway/cache_warmup.h"
#include "gateway/config.h"

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

  Gateway& gateway_;
  evhttp* http_;
  CacheWarmup warmup_;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool isLoopback(const std::string& host);

}  // namespace perfgate
