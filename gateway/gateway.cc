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

#include "gateway/modules.h"
#include "gateway/monitoring.h"

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

Gateway::Gateway(GatewayOptions options, std::shared_ptr<const Config> config, const Clock& clock)
    : options_(std::move(options)), modules_(makeModules(clock)) {
  config = applyOverrides(options_, std::move(config));
  if (std::string error = configureModules(*config); !error.empty()) throw std::runtime_error(error);
  snapshot_ = makeSnapshot(std::move(config));
}

Gateway::~Gateway() {
  workers_.clear();
  if (started_modules_) {
    for (auto& module : modules_) module->stop();  // before base_: their events live on it
  }
  metrics_log_.reset();
  metrics_listener_.reset();
  admin_.reset();
  if (drain_poll_ != nullptr) event_free(drain_poll_);
  modules_.clear();
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

std::string Gateway::configureModules(const Config& config) {
  for (auto& module : modules_) {
    if (std::string error = module->configure(config); !error.empty()) return std::string(module->name()) + ": " + error;
  }
  return "";
}

std::shared_ptr<const Snapshot> Gateway::makeSnapshot(std::shared_ptr<const Config> config) {
  auto snapshot = std::make_shared<Snapshot>(config);
  for (auto& module : modules_) {
    if (std::shared_ptr<const Filter> filter = module->makeFilter(config)) snapshot->filters.add(std::move(filter));
  }
  return snapshot;
}

void Gateway::collectMetrics(MetricsSink& sink) const {
  collectCoreMetrics(*this, sink);
  for (const auto& module : modules_) module->collectMetrics(sink);
}

std::vector<std::unique_ptr<WorkerResource>> Gateway::openWorker(event_base* base) const {
  std::vector<std::unique_ptr<WorkerResource>> resources;
  for (const auto& module : modules_) {
    if (std::unique_ptr<WorkerResource> resource = module->openWorker(base)) resources.push_back(std::move(resource));
  }
  return resources;
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
  for (auto& module : modules_) module->registerAdmin(admin_->routes());
  if (std::string error = admin_->listen(config.admin.listen, admin_port); !error.empty()) {
    for (int fd : fds) ::close(fd);
    spdlog::critical("admin listener: {}", error);
    return 1;
  }
  uint16_t metrics_port = 0;
  if (config.metrics.listen) {
    metrics_listener_ = std::make_unique<AdminServer>(base_, *this, AdminServer::Role::Metrics);
    if (std::string error = metrics_listener_->listen(*config.metrics.listen, metrics_port); !error.empty()) {
      for (int fd : fds) ::close(fd);
      spdlog::critical("metrics listener: {}", error);
      return 1;
    }
  }
  metrics_log_ = std::make_unique<MetricsLog>(base_, *this);
  if (std::string error = metrics_log_->configure(config.metrics); !error.empty()) {
    for (int fd : fds) ::close(fd);
    spdlog::critical("{}", error);
    return 1;
  }

  try {
    for (unsigned i = 0; i < count; ++i) {
      workers_.push_back(std::make_unique<Worker>(i, count, fds[i], snapshot_, &open_connections_,
                                                  [this](event_base* base) { return openWorker(base); }));
      fds[i] = -1;
    }
  } catch (const std::exception& e) {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    spdlog::critical("cannot start workers: {}", e.what());
    return 1;
  }
  ListenAddress& listen = public_address_;
  listen = config.server.listen;
  listen.port = port;
  for (auto& module : modules_) module->start(*this);
  started_modules_ = true;
  for (auto& worker : workers_) worker->start();

  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
    event* ev = evsignal_new(base_, sig, &Gateway::onSignal, this);
    event_add(ev, nullptr);
    signal_events_.push_back(ev);
  }

  ListenAddress admin = config.admin.listen;
  admin.port = admin_port;
  std::string metrics;
  if (config.metrics.listen) {
    ListenAddress bound = *config.metrics.listen;
    bound.port = metrics_port;
    metrics = " metrics=" + bound.toString();
  }
  phase_ = Phase::Ready;
  notifier_.ready("serving on " + listen.toString());
  // systemd's watchdog is kept alive only while every worker's loop turns: a worker records a
  // heartbeat every second, so one silent for half the period (3 s at least) is stuck.
  notifier_.startWatchdog(base_, [this](std::chrono::microseconds period) {
    auto silence = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(period / 2),
                            std::chrono::milliseconds(3000));
    return stuckWorker(silence) < 0;
  });
  std::printf("perfgate ready: listen=%s admin=%s workers=%u%s\n", listen.toString().c_str(),
              admin.toString().c_str(), count, metrics.c_str());
  std::fflush(stdout);
  spdlog::info("perfgate {} listening on {} (admin {}), {} worker(s), {} route(s)", PERFGATE_VERSION,
               listen.toString(), admin.toString(), count, config.routes.size());

  event_base_dispatch(base_);
  for (auto& worker : workers_) worker->join();
  for (auto& module : modules_) module->stop();
  started_modules_ = false;
  spdlog::info("perfgate stopped");
  return 0;
}

void Gateway::onSignal(evutil_socket_t signal, short, void* self) noexcept {
  auto* gateway = static_cast<Gateway*>(self);
  if (signal == SIGHUP) {
    gateway->reload();
    return;
  }
  if (signal == SIGUSR1) {
    spdlog::info("SIGUSR1: reopening log files");
    for (auto& module : gateway->modules_) module->reopenFiles();
    return;
  }
  gateway->shutdown();
}

void Gateway::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  phase_ = Phase::Draining;
  notifier_.stopping();
  spdlog::info("shutting down: draining {} connection(s)", open_connections_.load());
  for (auto& worker : workers_) worker->requestDrain();
  // The main loop goes on while the workers drain, so that /readyz says "draining" (a load
  // balancer stops sending) and /metrics still answers; it ends when the last worker is done.
  drain_poll_ = event_new(base_, -1, EV_PERSIST, &Gateway::onDrainPoll, this);
  timeval tick{0, 50'000};
  event_add(drain_poll_, &tick);
}

void Gateway::onDrainPoll(evutil_socket_t, short, void* self) noexcept {
  auto* gateway = static_cast<Gateway*>(self);
  for (const auto& worker : gateway->workers_) {
    if (!worker->finished()) return;
  }
  event_base_loopexit(gateway->base_, nullptr);
}

std::string_view Gateway::phase() const {
  switch (phase_.load()) {
    case Phase::Starting: return "starting";
    case Phase::Ready: return "ready";
    case Phase::Draining: return "draining";
  }
  return "starting";
}

int Gateway::stuckWorker(std::chrono::milliseconds silence) const {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
  for (size_t i = 0; i < workers_.size(); ++i) {
    const Worker& worker = *workers_[i];
    if (!worker.finished() && now - worker.lastTurnMs() > silence.count()) return static_cast<int>(i);
  }
  return -1;
}

std::string Gateway::reload() {
  if (options_.config_path.empty()) {
    spdlog::warn("reload: running from --upstream, no config file to re-read");
    return "no config file to reload (started with --upstream)";
  }
  notifier_.reloading();
  std::string error = reloadFile();
  notifier_.ready(error.empty() ? "config reloaded" : "reload failed; running the previous config");
  return error;
}

std::string Gateway::reloadFile() {
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
  // The modules first: what they set aside for a config is dropped unless makeSnapshot() follows.
  std::string error = configureModules(*config);
  if (error.empty() && metrics_log_) error = metrics_log_->configure(config->metrics);
  if (!error.empty()) {
    spdlog::error("reload failed, keeping the running config: {}", error);
    return error;
  }
  snapshot_ = makeSnapshot(std::move(config));
  applyLogLevel(snapshot_->config->log.level);
  for (auto& worker : workers_) worker->publish(snapshot_);
  spdlog::info("config reloaded from {}", options_.config_path);
  return "";
}

}  // namespace perfgate
