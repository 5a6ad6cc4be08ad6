// Backend reachability for the health endpoint: one non-blocking TCP connect per upstream, all
// at once on the admin thread's event loop, bounded by a deadline. Plain-HTTP upstreams are
// probed at the address resolved when the config was loaded; https ones by name, through
// libevent's asynchronous resolver. Nothing here blocks: the caller gets `done` later.
#pragma once

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config/config.h"

namespace perfgate {

struct ProbeResult {
  std::string upstream;
  bool ok = false;
  double connect_ms = 0;  // when ok
  std::string error;      // when not ok
};

class UpstreamProber {
 public:
  using Done = std::function<void(std::vector<ProbeResult>)>;

  UpstreamProber(event_base* base, evdns_base* dns);
  ~UpstreamProber();
  UpstreamProber(const UpstreamProber&) = delete;
  UpstreamProber& operator=(const UpstreamProber&) = delete;

  // Probes every upstream of `config`; calls `done` once, from the loop, within `deadline`.
  void probe(const Config& config, std::chrono::milliseconds deadline, Done done);

 private:
  struct Round;
  struct Attempt;
  static void onEvent(bufferevent* bev, short events, void* self) noexcept;
  static void onDeadline(evutil_socket_t, short, void* self) noexcept;
  static void finish(Round* round);

  event_base* base_;
  evdns_base* dns_;
  std::vector<std::unique_ptr<Round>> rounds_;
};

}  // namespace perfgate
