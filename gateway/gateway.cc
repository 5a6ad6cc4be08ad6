#include "gateway/gateway.h"

#include <netdb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "filters/access_log/access_log_filter.h"
#include "filters/cache/cache_filter.h"
#include "filters/cache_headers/cache_headers_filter.h"
#include "filters/compression/compression_filter.h"
#include "filters/timing/timing_filter.h"

namespace perfgate {
namespace {

class SocketCloser {
 public:
  explicit SocketCloser(std::vector<int>& fds) : fds_(fds) {}
  ~SocketCloser() {
    if (armed_) {
      for (int fd : fds_) ::close(fd);
    }
  }
  void release() { armed_ = false; }

 private:
  std::vector<int>& fds_;
  bool armed_ = true;
};

}  // namespace

void applyLogLevel(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
}

Gateway::Gateway(GatewayOptions options, std::shared_ptr<const Config> config) : options_(std::move(options)) {
  snapshot_ = makeSnapshot(applyOverrides(options_, std::move(config)));
}

Gateway::~Gateway() {
  workers_.clear();
  if (l2_ != nullptr) l2_->stopControl();  // its links live on base_
  metrics_log_.reset();
  admin_.reset();
  for (event* ev : signal_events_) event_free(ev);
  if (base_ != nullptr) event_base_free(base_);
}

std::shared_ptr<const Config> applyOverrides(const GatewayOptions& options, std::shared_ptr<const Config> config) {
  if (options.workers == 0 && !options.listen && !options.admin) return config;
  auto copy = std::make_shared<Config>(*config);
  if (options.workers != 0) copy->server.workers = options.workers;
  if (options.listen) copy->server.listen = *options.listen;
  if (options.admin) copy->admin.listen = *options.admin;
  return copy;
}

std::shared_ptr<const Snapshot> Gateway::makeSnapshot(std::shared_ptr<const Config> config) {
  const std::string& path = config->log.access_log;
  if (path.empty()) {
    access_log_.reset();
  } else if (access_log_ == nullptr || access_log_->path() != path) {
    access_log_ = std::make_shared<AccessLog>(path);
  }
  if (!cache_store_) {
    cache_store_ = std::make_shared<CacheStore>(config->cache.max_bytes);
    if (config->cache.l2.enabled()) l2_ = std::make_shared<L2Cache>(config->cache.l2, config->cache.max_object_bytes);
  } else {
    if (cache_store_->maxBytes() != config->cache.max_bytes) spdlog::warn("reload: [cache] max_bytes changes only on restart");
    const L2Config& running = snapshot_->config->cache.l2;
    const L2Config& wanted = config->cache.l2;
    if (wanted.redis != running.redis || wanted.timeout != running.timeout || wanted.key_prefix != running.key_prefix ||
        wanted.connect_timeout != running.connect_timeout || wanted.reconnect_max != running.reconnect_max ||
        wanted.max_pending != running.max_pending || wanted.broadcast_route_toggles != running.broadcast_route_toggles) {
      spdlog::warn("reload: [cache.l2] changes only on restart");
    }
  }
  // Attach each route's runtime cache switch (created on first sight, kept across reloads).
  auto live = std::make_shared<Config>(*config);
  for (RouteConfig& route : live->routes) {
    auto& slot = cache_switches_[route.name];
    if (!slot) slot = std::make_unique<std::atomic<int8_t>>(-1);
    route.cache_switch = slot.get();
  }
  config = live;
  auto snapshot = std::make_shared<Snapshot>(config);
  // Responses pass the chain in order: compressed, then given cache headers, then stored, so
  // the cache keeps what clients get (gzip once per object, not once per hit).
  snapshot->filters.add(std::make_shared<CompressionFilter>(config->compression, config->cache.max_object_bytes,
                                                            compression_stats_));
  snapshot->filters.add(std::make_shared<CacheHeadersFilter>(config->cache.max_object_bytes));
  snapshot->filters.add(
      std::make_shared<CacheFilter>(cache_store_, cache_fills_, cache_stats_, config->cache, l2_, systemClock()));
  // Last, so it sees the other filters' verdicts (X-Cache) when it writes Server-Timing.
  if (config->metrics.enabled) snapshot->filters.add(std::make_shared<TimingFilter>(timing_stats_, config));
  if (access_log_ != nullptr) snapshot->filters.add(std::make_shared<AccessLogFilter>(access_log_));
  return snapshot;
}

std::vector<int> Gateway::bindListeners(const ListenAddress& address, unsigned count, uint16_t& bound_port) {
  std::vector<int> fds;
  SocketCloser closer(fds);
  uint16_t port = address.port;
  for (unsigned i = 0; i < count; ++i) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(address.host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rc != 0) throw std::runtime_error("cannot resolve " + address.toString() + ": " + gai_strerror(rc));
    int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      freeaddrinfo(found);
      throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    }
    fds.push_back(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // One socket per worker on the same port: the kernel spreads new connections across them.
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    rc = ::bind(fd, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    if (rc != 0 || ::listen(fd, 4096) != 0) {
      throw std::runtime_error("cannot listen on " + address.toString() + ": " + std::strerror(errno));
    }
    if (port == 0) {
      sockaddr_storage bound{};
      socklen_t length = sizeof bound;
      getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
      port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
  }
  bound_port = port;
  closer.release();
  return fds;
}

int Gateway::run() {
  std::signal(SIGPIPE, SIG_IGN);
  const Config& config = *snapshot_->config;
  if (!isLoopback(config.admin.listen.host) && config.admin.token.empty()) {
    spdlog::critical("admin listener {} is not loopback: set [admin] token", config.admin.listen.toString());
    return 1;
  }
  unsigned count = config.server.workers != 0 ? config.server.workers : std::max(1u, std::thread::hardware_concurrency());

  base_ = event_base_new();
  if (base_ == nullptr) {
    spdlog::critical("event_base_new failed");
    return 1;
  }
  uint16_t port = 0;
  uint16_t admin_port = 0;
  std::vector<int> fds;
  try {
    fds = bindListeners(config.server.listen, count, port);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  admin_ = std::make_unique<AdminServer>(base_, *this);
  if (std::string error = admin_->listen(config.admin.listen, admin_port); !error.empty()) {
    for (int fd : fds) ::close(fd);
    spdlog::critical("admin listener: {}", error);
    return 1;
  }
  metrics_log_ = std::make_unique<MetricsLog>(base_, *this);
  if (std::string error = metrics_log_->configure(config.metrics); !error.empty()) {
    for (int fd : fds) ::close(fd);
    spdlog::critical("{}", error);
    return 1;
  }

  try {
    for (unsigned i = 0; i < count; ++i) {
      workers_.push_back(std::make_unique<Worker>(i, count, fds[i], snapshot_, &open_connections_, l2_));
      fds[i] = -1;
    }
  } catch (const std::exception& e) {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    spdlog::critical("cannot start workers: {}", e.what());
    return 1;
  }
  for (auto& worker : workers_) worker->start();
  if (l2_ != nullptr) {
    l2_->startControl(base_, [this](std::string_view message) { onPurgeMessage(message); });
    spdlog::info("l2 cache on {} (key prefix '{}')", l2_->config().redis, l2_->config().key_prefix);
  }

  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    event* ev = evsignal_new(base_, sig, &Gateway::onSignal, this);
    event_add(ev, nullptr);
    signal_events_.push_back(ev);
  }

  ListenAddress& listen = public_address_;
  listen = config.server.listen;
  listen.port = port;
  ListenAddress admin = config.admin.listen;
  admin.port = admin_port;
  std::printf("perfgate ready: listen=%s admin=%s workers=%u\n", listen.toString().c_str(),
              admin.toString().c_str(), count);
  std::fflush(stdout);
  spdlog::info("perfgate {} listening on {} (admin {}), {} worker(s), {} route(s)", PERFGATE_VERSION,
               listen.toString(), admin.toString(), count, config.routes.size());

  event_base_dispatch(base_);
  for (auto& worker : workers_) worker->join();
  if (l2_ != nullptr) l2_->stopControl();  // its links live on base_
  spdlog::info("perfgate stopped");
  return 0;
}

void Gateway::onSignal(evutil_socket_t signal, short, void* self) noexcept {
  auto* gateway = static_cast<Gateway*>(self);
  if (signal == SIGHUP) {
    gateway->reload();
    return;
  }
  gateway->shutdown();
}

void Gateway::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("shutting down: draining {} connection(s)", open_connections_.load());
  for (auto& worker : workers_) worker->requestDrain();
  event_base_loopexit(base_, nullptr);
}

bool Gateway::purgeL2(const CachePurge& purge) {
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

void Gateway::broadcastRouteSwitch(const std::string& name, int8_t value) {
  if (l2_ == nullptr || !snapshot_->config->cache.l2.broadcast_route_toggles) return;
  l2_->publish(nlohmann::json({{"origin", l2_->instanceId()}, {"op", "route"}, {"name", name},
                               {"enabled", value < 0 ? nlohmann::json(nullptr) : nlohmann::json(value == 1)}})
                   .dump());
}

void Gateway::onPurgeMessage(std::string_view message) {
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
    size_t count = purge.apply(*cache_store_, time(nullptr));
    L2Counters::bump(l2_->counters().purges_received);
    spdlog::info("l2: purge from instance {} ({}{}): {} entr{} {}", body["origin"].get<std::string>(),
                 purge.selector.empty() ? "all" : purge.selector, purge.value.empty() ? "" : " " + purge.value, count,
                 count == 1 ? "y" : "ies", purge.soft ? "marked stale" : "removed");
    return;
  }
  if (body["op"] == "route" && snapshot_->config->cache.l2.broadcast_route_toggles && body.contains("name") &&
      body["name"].is_string()) {
    std::atomic<int8_t>* flag = cacheSwitch(body["name"].get<std::string>());
    if (flag == nullptr) return;  // a route this instance does not have
    const nlohmann::json& enabled = body.contains("enabled") ? body["enabled"] : nlohmann::json(nullptr);
    if (!enabled.is_null() && !enabled.is_boolean()) return;
    flag->store(enabled.is_null() ? -1 : (enabled.get<bool>() ? 1 : 0));
    L2Counters::bump(l2_->counters().purges_received);
    spdlog::info("l2: cache for route '{}' set by instance {}", body["name"].get<std::string>(),
                 body["origin"].get<std::string>());
  }
}

std::atomic<int8_t>* Gateway::cacheSwitch(const std::string& name) {
  for (const RouteConfig& route : snapshot_->config->routes) {
    if (route.name == name) return cache_switches_.at(name).get();
  }
  return nullptr;
}

std::string Gateway::reload() {
  if (options_.config_path.empty()) {
    spdlog::warn("reload: running from --upstream, no config file to re-read");
    return "no config file to reload (started with --upstream)";
  }
  ConfigResult result = loadConfigFile(options_.config_path);
  if (!result) {
    spdlog::error("reload failed, keeping the running config: {}", result.error);
    return result.error;
  }
  std::shared_ptr<const Config> config = applyOverrides(options_, result.config);
  const Config& running = *snapshot_->config;
  if (config->server.listen.toString() != running.server.listen.toString() ||
      config->server.workers != running.server.workers ||
      config->admin.listen.toString() != running.admin.listen.toString()) {
    spdlog::warn("reload: listen addresses and worker count change only on restart");
  }
  std::shared_ptr<const Snapshot> snapshot;
  try {
    snapshot = makeSnapshot(std::move(config));
  } catch (const std::exception& e) {
    spdlog::error("reload failed, keeping the running config: {}", e.what());
    return e.what();
  }
  if (metrics_log_) {
    if (std::string error = metrics_log_->configure(snapshot->config->metrics); !error.empty()) {
      spdlog::error("reload failed, keeping the running config: {}", error);
      return error;
    }
  }
  snapshot_ = snapshot;
  applyLogLevel(snapshot_->config->log.level);
  for (auto& worker : workers_) worker->publish(snapshot_);
  spdlog::info("config reloaded from {}", options_.config_path);
  return "";
}

}  // namespace perfgate
