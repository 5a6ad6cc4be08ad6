#include "gateway/monitoring.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "gateway/gateway.h"
#include "gateway/upstream/upstream.h"
#include "gateway/upstream/upstream_stats.h"

namespace perfgate {
namespace {

const MetricFamily kUpstreamRequests{"perfgate_upstream_requests_total", "counter", "Requests sent to each upstream."};
const MetricFamily kUpstreamErrors{"perfgate_upstream_errors_total", "counter",
                                   "Exchanges with each upstream that failed, by kind."};
const MetricFamily kUpstreamClosed{
    "perfgate_upstream_connections_closed_total", "counter",
    "Backend connections closed rather than reused, to keep reuse safe: bytes after a response (overrun), "
    "a HEAD/204/304 declaring a body (bodiless_with_length), bytes on an idle connection (unsolicited_bytes)."};
const MetricFamily kUpstreamResponse{"perfgate_upstream_response_seconds", "histogram",
                                     "Time from handing a request to an upstream's pool to its response head."};
const MetricFamily kUpstreamUp{"perfgate_upstream_up", "gauge",
                               "0 when the latest exchange with the upstream failed (refused, timeout, reset, bad "
                               "response), else 1 (also before any traffic)."};
const MetricFamily kUpstreamConnections{"perfgate_upstream_connections", "gauge",
                                        "Connections to each upstream (plain HTTP pools), idle or busy."};
const MetricFamily kUpstreamQueue{"perfgate_upstream_queue_depth", "gauge",
                                  "Requests waiting for a connection to each upstream (plain HTTP pools)."};
const MetricFamily kReady{"perfgate_ready", "gauge", "1 while serving with a live config and not draining, else 0."};
const MetricFamily kConnections{"perfgate_connections", "gauge", "Open connections: from clients, and to backends."};
const MetricFamily kWorkers{"perfgate_workers", "gauge", "Worker threads."};
const MetricFamily kBuildInfo{"perfgate_build_info", "gauge", "Always 1; the version as a label."};
const MetricFamily kCpu{"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."};
const MetricFamily kRss{"process_resident_memory_bytes", "gauge", "Resident memory size in bytes."};
const MetricFamily kVirtual{"process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."};
const MetricFamily kOpenFds{"process_open_fds", "gauge", "Number of open file descriptors."};
const MetricFamily kMaxFds{"process_max_fds", "gauge", "Maximum number of open file descriptors."};
const MetricFamily kThreads{"process_threads", "gauge", "Number of OS threads in the process."};
const MetricFamily kStartTime{"process_start_time_seconds", "gauge",
                              "Start time of the process since unix epoch in seconds."};

std::string readText(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A count /proc could not tell: null in JSON, no Prometheus sample.
void optionalGauge(MetricsSink& sink, const MetricFamily& family, int64_t value, const char* place) {
  if (value >= 0) {
    sink.sample(family, {}, static_cast<uint64_t>(value), place);
  } else {
    sink.json(place, {}, nullptr);
  }
}

// Failures an upstream can cause (a client's timeout or refusal is not the upstream's).
bool upstreamError(GatewayError kind) {
  return kind != GatewayError::None && kind != GatewayError::ClientTimeout && kind != GatewayError::ClientRejected;
}

}  // namespace

ProcessStats readProcessStats() {
  ProcessStats p;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    p.cpu_user_seconds = static_cast<double>(usage.ru_utime.tv_sec) + static_cast<double>(usage.ru_utime.tv_usec) / 1e6;
    p.cpu_system_seconds = static_cast<double>(usage.ru_stime.tv_sec) + static_cast<double>(usage.ru_stime.tv_usec) / 1e6;
  }
  long page = sysconf(_SC_PAGESIZE);
  long ticks = sysconf(_SC_CLK_TCK);
  // /proc/self/stat: the fields after the command name (which may hold spaces) start at ')'.
  std::string stat = readText("/proc/self/stat");
  if (size_t close = stat.rfind(')'); close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    // Field 3 (state) is the first here; threads is 20, starttime 22, vsize 23, rss 24.
    for (int n = 3; fields >> field && n <= 24; ++n) {
      if (n == 20) p.threads = std::stoll(field);
      if (n == 22 && ticks > 0) p.start_time_seconds = static_cast<double>(std::stoull(field)) / static_cast<double>(ticks);
      if (n == 23) p.virtual_bytes = std::stoull(field);
      if (n == 24) p.rss_bytes = std::stoull(field) * static_cast<uint64_t>(page);
    }
  }
  // Start time relative to boot -> Unix time, with the boot time from /proc/stat.
  std::istringstream system_stat(readText("/proc/stat"));
  for (std::string line; std::getline(system_stat, line);) {
    if (line.rfind("btime ", 0) == 0) {
      p.start_time_seconds += std::stod(line.substr(6));
      break;
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    int64_t count = 0;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
    p.open_fds = count - 1;  // the directory stream's own descriptor
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    p.max_fds = static_cast<int64_t>(limit.rlim_cur);
  }
  std::istringstream load(readText("/proc/loadavg"));
  load >> p.load_average[0] >> p.load_average[1] >> p.load_average[2];
  return p;
}

void collectCoreMetrics(const Gateway& gateway, MetricsSink& sink) {
  const Config& config = *gateway.snapshot()->config;
  std::map<std::string, UpstreamTotals> totals = upstreamTotals();
  sink.json("metrics:uptime_seconds", {}, gateway.uptimeSeconds());
  sink.json("metrics:upstreams", {}, nlohmann::json::object());
  for (const UpstreamConfig& upstream : config.upstreams) {
    const UpstreamTotals& u = totals[upstream.name];
    Labels name = {{"upstream", upstream.name}};
    sink.sample(kUpstreamRequests, name, u.requests, "metrics:upstreams.{upstream}.requests");
    for (size_t i = 0; i < kGatewayErrorKinds; ++i) {
      auto kind = static_cast<GatewayError>(i);
      if (!upstreamError(kind)) continue;
      std::string_view kind_name = gatewayErrorName(kind);
      if (kind_name.starts_with("upstream_")) kind_name.remove_prefix(9);  // every kind here is the upstream's
      sink.sample(kUpstreamErrors, {{"upstream", upstream.name}, {"kind", kind_name}}, u.errors[i],
                  "metrics:upstreams.{upstream}.errors.{kind}");
    }
    HistogramSample latency;
    uint64_t below = 0;
    for (size_t i = 0; i < std::size(kUpstreamLatencyBounds); ++i) {
      below += u.latency[i];
      latency.buckets.emplace_back(kUpstreamLatencyBounds[i], below);
    }
    latency.count = below + u.latency[kUpstreamLatencyBuckets - 1];
    latency.sum = static_cast<double>(u.latency_sum_ns) / 1e9;
    sink.histogram(kUpstreamResponse, name, latency);
    bool up = u.last_error_ns == 0 || u.last_ok_ns >= u.last_error_ns;
    sink.sample(kUpstreamUp, name, uint64_t{up ? 1u : 0u}, "metrics:upstreams.{upstream}.up");
    uint64_t open = static_cast<uint64_t>(std::max<int64_t>(0, u.open));
    uint64_t idle = std::min(open, static_cast<uint64_t>(std::max<int64_t>(0, u.idle)));
    sink.sample(kUpstreamConnections, {{"upstream", upstream.name}, {"state", "idle"}}, idle,
                "metrics:upstreams.{upstream}.connections.{state}");
    sink.sample(kUpstreamConnections, {{"upstream", upstream.name}, {"state", "busy"}}, open - idle,
                "metrics:upstreams.{upstream}.connections.{state}");
    sink.sample(kUpstreamQueue, name, static_cast<uint64_t>(std::max<int64_t>(0, u.queued)),
                "metrics:upstreams.{upstream}.queue_depth");
    for (size_t i = 0; i < kUpstreamCloseReasons; ++i) {
      sink.sample(kUpstreamClosed, {{"upstream", upstream.name}, {"reason", upstreamCloseName(static_cast<UpstreamClose>(i))}},
                  u.closed[i], "metrics:upstreams.{upstream}.connections_closed.{reason}");
    }
  }

  ProcessStats p = readProcessStats();
  sink.json("system:version", {}, PERFGATE_VERSION);
  sink.json("system:pid", {}, static_cast<int64_t>(getpid()));
  sink.json("system:uptime_seconds", {}, gateway.uptimeSeconds());
  sink.sample(kConnections, {{"side", "client"}}, uint64_t{gateway.openConnections()}, "system:connections.client");
  sink.sample(kConnections, {{"side", "backend"}},
              static_cast<uint64_t>(std::max<int64_t>(0, backendConnections().load(std::memory_order_relaxed))),
              "system:connections.backend");
  sink.sample(kWorkers, {}, uint64_t{gateway.workerCount()}, "system:workers");
  sink.sample(kReady, {}, uint64_t{gateway.phase() == "ready" ? 1u : 0u}, "system:ready");
  sink.sample(kBuildInfo, {{"version", PERFGATE_VERSION}}, uint64_t{1});
  sink.sample(kCpu, {}, p.cpu_user_seconds + p.cpu_system_seconds);
  sink.json("system:cpu.user_seconds", {}, p.cpu_user_seconds);
  sink.json("system:cpu.system_seconds", {}, p.cpu_system_seconds);
  sink.sample(kRss, {}, p.rss_bytes, "system:memory.rss_bytes");
  sink.sample(kVirtual, {}, p.virtual_bytes, "system:memory.virtual_bytes");
  optionalGauge(sink, kOpenFds, p.open_fds, "system:open_fds");
  optionalGauge(sink, kMaxFds, p.max_fds, "system:max_fds");
  optionalGauge(sink, kThreads, p.threads, "system:threads");
  sink.sample(kStartTime, {}, p.start_time_seconds);
  sink.json("system:load_average", {}, {p.load_average[0], p.load_average[1], p.load_average[2]});
}

nlohmann::json healthJson(const Gateway& gateway, bool judge_upstreams) {
  // What the workers saw of each upstream.
  std::map<std::string, UpstreamTotals> totals = upstreamTotals();
  auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
  auto ago = [&](int64_t ns) { return ns == 0 ? nlohmann::json(nullptr) : nlohmann::json((now_ns - ns) / 1e9); };
  bool degraded = false;
  nlohmann::json upstreams = nlohmann::json::object();
  for (const UpstreamConfig& upstream : gateway.snapshot()->config->upstreams) {
    const UpstreamTotals& u = totals[upstream.name];
    uint64_t errors = 0;
    for (size_t i = 0; i < kGatewayErrorKinds; ++i) {
      if (upstreamError(static_cast<GatewayError>(i))) errors += u.errors[i];
    }
    nlohmann::json entry = {{"url", upstream.url},
                            {"requests", u.requests},
                            {"errors", errors},
                            {"last_success_seconds_ago", ago(u.last_ok_ns)},
                            {"last_error_seconds_ago", ago(u.last_error_ns)},
                            {"last_error", u.last_error == GatewayError::None ? nlohmann::json(nullptr)
                                                                              : nlohmann::json(gatewayErrorName(u.last_error))}};
    // Reachable unless the latest outcome was a failure (null: no traffic yet).
    if (u.last_ok_ns == 0 && u.last_error_ns == 0) {
      entry["reachable"] = nullptr;
    } else {
      entry["reachable"] = u.last_ok_ns >= u.last_error_ns;
      degraded = degraded || (judge_upstreams && u.last_ok_ns < u.last_error_ns);
    }
    upstreams[upstream.name] = std::move(entry);
  }
  nlohmann::json body = {{"version", PERFGATE_VERSION},
                         {"uptime_seconds", gateway.uptimeSeconds()},
                         {"connections", gateway.openConnections()},
                         {"upstreams", std::move(upstreams)}};
  for (const auto& module : gateway.modules()) {
    if (!module->health(body)) degraded = true;
  }
  body["status"] = degraded ? "degraded" : "ok";
  return body;
}

}  // namespace perfgate
