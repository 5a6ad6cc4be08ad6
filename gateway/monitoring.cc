#include "gateway/monitoring.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "filters/cache/cache_stats.h"
#include "filters/timing/timing_stats.h"
#include "gateway/gateway.h"
#include "gateway/upstream.h"

namespace perfgate {
namespace {

constexpr size_t kOutcomes = static_cast<size_t>(CacheOutcome::kCount);
constexpr const char* kUnroutedLabel = "_unrouted";

// Bucket bounds (seconds) of the Prometheus histograms: a fine bucket is counted under the
// smallest bound at or above its upper edge (see HistogramTotals::countAtOrBelow).
constexpr double kPrometheusBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};

const char* kClassNames[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

std::string readText(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json latencyJson(const HistogramTotals& h) {
  auto ms = [](double ns) { return ns / 1e6; };
  return {{"count", h.count},
          {"mean", ms(h.meanNs())},
          {"p50", ms(h.quantile(0.50))},
          {"p90", ms(h.quantile(0.90))},
          {"p99", ms(h.quantile(0.99))},
          {"p99.9", ms(h.quantile(0.999))},
          {"max", ms(static_cast<double>(h.max_ns))}};
}

void addCache(RouteCacheTotals& into, const RouteCacheTotals& from) {
  for (size_t i = 0; i < kOutcomes; ++i) {
    into.requests[i] += from.requests[i];
    into.bytes[i] += from.bytes[i];
  }
}

nlohmann::json cacheJson(const RouteCacheTotals& c) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < kOutcomes; ++i) out[outcomeName(static_cast<CacheOutcome>(i))] = c.requests[i];
  out["hit_ratio"] = hitRatio(c);
  return out;
}

nlohmann::json routeJson(const RouteTimingTotals& t, const RouteCacheTotals* cache, bool with_latency) {
  nlohmann::json status = nlohmann::json::object();
  auto classes = t.statusClasses();
  for (size_t i = 0; i < classes.size(); ++i) status[kClassNames[i]] = classes[i];
  nlohmann::json codes = nlohmann::json::object();
  for (size_t i = 0; i < kStatusCodes; ++i) {
    if (t.status[i] != 0) codes[std::to_string(i + kLowestStatus)] = t.status[i];
  }
  nlohmann::json errors = nlohmann::json::object();
  for (size_t i = 1; i < kGatewayErrorKinds; ++i) errors[gatewayErrorName(static_cast<GatewayError>(i))] = t.errors[i];
  nlohmann::json out = {{"requests", t.requests}, {"incomplete", t.incomplete}, {"no_status", t.no_status},
                        {"status", status},       {"codes", codes},             {"errors", errors},
                        {"bytes", {{"in", t.bytes_in}, {"out", t.bytes_out}}}};
  if (cache != nullptr) out["cache"] = cacheJson(*cache);
  if (with_latency) {
    out["latency_ms"] = {{"total", latencyJson(t.total)}, {"upstream", latencyJson(t.upstream)}};
  }
  return out;
}

// Prometheus label value escaping (text format 0.0.4): backslash, double quote, newline.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The shortest text that reads back as `v` ("0.0025", not "0.0025000000000000001").
std::string number(double v) {
  char text[64];
  auto [end, ec] = std::to_chars(text, text + sizeof text, v);
  return ec == std::errc() ? std::string(text, end) : "NaN";
}

class PromWriter {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // `labels` is the inside of the braces, already escaped ("" for none).
  void sample(const std::string& name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(const std::string& name, const std::string& labels, uint64_t value) {
    sample(name, labels, std::to_string(value));
  }
  void histogram(const std::string& name, const std::string& labels, const HistogramTotals& h) {
    std::string prefix = labels.empty() ? "" : labels + ",";
    for (double bound : kPrometheusBounds) {
      auto ns = static_cast<uint64_t>(bound * 1e9 + 0.5);
      sample(name + "_bucket", prefix + "le=\"" + number(bound) + "\"", h.countAtOrBelow(ns));
    }
    sample(name + "_bucket", prefix + "le=\"+Inf\"", h.count);
    sample(name + "_sum", labels, number(static_cast<double>(h.sum_ns) / 1e9));
    sample(name + "_count", labels, h.count);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

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

nlohmann::json metricsJson(const Gateway& gateway) {
  TimingTotals timing = gateway.timingStats().merged();
  std::map<std::string, RouteCacheTotals> cache = gateway.cacheStats().merged();
  const Config& config = *gateway.snapshot()->config;
  bool with_latency = config.metrics.enabled;

  RouteTimingTotals global = timing.unrouted;
  RouteCacheTotals global_cache;
  nlohmann::json routes = nlohmann::json::object();
  for (const RouteConfig& route : config.routes) {
    const RouteTimingTotals& t = timing.routes[route.name];
    const RouteCacheTotals& c = cache[route.name];
    global.add(t);
    addCache(global_cache, c);
    nlohmann::json r = routeJson(t, &c, with_latency);
    r["upstream"] = route.upstream;
    routes[route.name] = std::move(r);
  }
  nlohmann::json upstreams = nlohmann::json::object();
  for (const UpstreamConfig& upstream : config.upstreams) {
    const UpstreamTimingTotals& u = timing.upstreams[upstream.name];
    nlohmann::json errors = nlohmann::json::object();
    for (size_t i = 1; i < kGatewayErrorKinds; ++i) {
      auto kind = static_cast<GatewayError>(i);
      if (kind == GatewayError::ClientTimeout || kind == GatewayError::ClientRejected) continue;
      errors[gatewayErrorName(kind)] = u.errors[i];
    }
    nlohmann::json closed = nlohmann::json::object();
    const UpstreamCloseCounters& counters = upstreamCloseCounters(upstream.name);
    for (size_t i = 0; i < static_cast<size_t>(UpstreamClose::kCount); ++i) {
      closed[upstreamCloseName(static_cast<UpstreamClose>(i))] = counters.closed[i].load(std::memory_order_relaxed);
    }
    upstreams[upstream.name] = {{"requests", u.requests}, {"errors", errors}, {"connections_closed", closed}};
  }
  return {{"uptime_seconds", gateway.uptimeSeconds()},
          {"timing", with_latency},
          {"global", routeJson(global, &global_cache, with_latency)},
          {"routes", routes},
          {"unrouted", routeJson(timing.unrouted, nullptr, false)},
          {"upstreams", upstreams},
          {"l2", l2Json(gateway)}};
}

nlohmann::json l2Json(const Gateway& gateway) {
  const L2Cache* l2 = gateway.l2();
  if (l2 == nullptr) return nullptr;
  L2Cache::State state = l2->state();
  const L2Counters& c = l2->counters();
  auto get = [](const std::atomic<uint64_t>& n) { return n.load(std::memory_order_relaxed); };
  // up: every worker's link is ready; degraded: some are; down: none (lookups are misses then).
  const char* status = state.links != 0 && state.ready == state.links ? "up" : state.ready > 0 ? "degraded" : "down";
  return {{"status", status},
          {"redis", l2->config().redis},
          {"links", state.links},
          {"links_ready", state.ready},
          {"control_ready", state.control_ready},
          {"subscriber_ready", state.subscriber_ready},
          {"last_error", state.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(state.last_error)},
          {"last_error_seconds_ago",
           state.last_error_seconds_ago < 0 ? nlohmann::json(nullptr) : nlohmann::json(state.last_error_seconds_ago)},
          {"lookups", get(c.lookups)},
          {"hits", get(c.hits)},
          {"misses", get(c.misses)},
          {"timeouts", get(c.timeouts)},
          {"unavailable", get(c.unavailable)},
          {"corrupt", get(c.corrupt)},
          {"writes", get(c.writes)},
          {"writes_dropped", get(c.writes_dropped)},
          {"deletes", get(c.deletes)},
          {"errors", get(c.errors)},
          {"connects", get(c.connects)},
          {"disconnects", get(c.disconnects)},
          {"purges_sent", get(c.purges_sent)},
          {"purges_received", get(c.purges_received)}};
}

nlohmann::json systemJson(const Gateway& gateway) {
  ProcessStats p = readProcessStats();
  CacheStore::Stats cache = gateway.cacheStore().stats();
  auto known = [](int64_t v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
  return {{"version", PERFGATE_VERSION},
          {"pid", static_cast<int64_t>(getpid())},
          {"uptime_seconds", gateway.uptimeSeconds()},
          {"cpu", {{"user_seconds", p.cpu_user_seconds}, {"system_seconds", p.cpu_system_seconds}}},
          {"memory", {{"rss_bytes", p.rss_bytes}, {"virtual_bytes", p.virtual_bytes}}},
          {"open_fds", known(p.open_fds)},
          {"max_fds", known(p.max_fds)},
          {"threads", known(p.threads)},
          {"workers", gateway.workerCount()},
          {"connections",
           {{"client", gateway.openConnections()}, {"backend", backendConnections().load(std::memory_order_relaxed)}}},
          {"cache", {{"entries", cache.entries}, {"bytes", cache.bytes}, {"max_bytes", gateway.cacheStore().maxBytes()}}},
          {"load_average", {p.load_average[0], p.load_average[1], p.load_average[2]}}};
}

std::string prometheusText(const Gateway& gateway) {
  TimingTotals timing = gateway.timingStats().merged();
  std::map<std::string, RouteCacheTotals> cache = gateway.cacheStats().merged();
  const Config& config = *gateway.snapshot()->config;
  ProcessStats process = readProcessStats();
  CacheStore::Stats store = gateway.cacheStore().stats();

  // Configured routes plus the unrouted bucket, each with its escaped label.
  std::vector<std::pair<std::string, const RouteTimingTotals*>> routes;
  for (const RouteConfig& route : config.routes) {
    routes.emplace_back("route=\"" + label(route.name) + "\"", &timing.routes[route.name]);
  }
  routes.emplace_back(std::string("route=\"") + kUnroutedLabel + "\"", &timing.unrouted);

  PromWriter w;
  w.family("perfgate_requests_total", "counter", "Requests answered, by route and status code (code \"none\": ended before a status was sent).");
  for (const auto& [labels, t] : routes) {
    for (size_t i = 0; i < kStatusCodes; ++i) {
      if (t->status[i] != 0) w.sample("perfgate_requests_total", labels + ",code=\"" + std::to_string(i + kLowestStatus) + "\"", t->status[i]);
    }
    if (t->no_status != 0) w.sample("perfgate_requests_total", labels + ",code=\"none\"", t->no_status);
  }
  w.family("perfgate_gateway_errors_total", "counter", "Errors the gateway answered or cut short itself, by route and kind.");
  for (const auto& [labels, t] : routes) {
    for (size_t i = 1; i < kGatewayErrorKinds; ++i) {
      w.sample("perfgate_gateway_errors_total", labels + ",kind=\"" + gatewayErrorName(static_cast<GatewayError>(i)) + "\"", t->errors[i]);
    }
  }
  w.family("perfgate_request_body_bytes_total", "counter", "Request body bytes received, by route.");
  for (const auto& [labels, t] : routes) w.sample("perfgate_request_body_bytes_total", labels, t->bytes_in);
  w.family("perfgate_response_body_bytes_total", "counter", "Response body bytes sent, by route.");
  for (const auto& [labels, t] : routes) w.sample("perfgate_response_body_bytes_total", labels, t->bytes_out);
  if (config.metrics.enabled) {
    w.family("perfgate_request_duration_seconds", "histogram", "Time from the parsed request head to the whole response queued, by route.");
    for (size_t i = 0; i + 1 < routes.size(); ++i) w.histogram("perfgate_request_duration_seconds", routes[i].first, routes[i].second->total);
    w.family("perfgate_upstream_duration_seconds", "histogram", "Time from handing a request to the backend to its response head, by route.");
    for (size_t i = 0; i + 1 < routes.size(); ++i) w.histogram("perfgate_upstream_duration_seconds", routes[i].first, routes[i].second->upstream);
  }
  w.family("perfgate_cache_requests_total", "counter", "Requests by route and cache result.");
  for (const RouteConfig& route : config.routes) {
    const RouteCacheTotals& c = cache[route.name];
    for (size_t i = 0; i < kOutcomes; ++i) {
      w.sample("perfgate_cache_requests_total",
               "route=\"" + label(route.name) + "\",result=\"" + outcomeName(static_cast<CacheOutcome>(i)) + "\"",
               c.requests[i]);
    }
  }
  w.family("perfgate_upstream_requests_total", "counter", "Requests sent to each upstream.");
  for (const UpstreamConfig& upstream : config.upstreams) {
    w.sample("perfgate_upstream_requests_total", "upstream=\"" + label(upstream.name) + "\"", timing.upstreams[upstream.name].requests);
  }
  w.family("perfgate_upstream_connections_closed_total", "counter",
           "Backend connections closed rather than reused, to keep reuse safe: bytes after a response (overrun), "
           "a HEAD/204/304 declaring a body (bodiless_with_length), bytes on an idle connection (unsolicited_bytes).");
  for (const UpstreamConfig& upstream : config.upstreams) {
    const UpstreamCloseCounters& counters = upstreamCloseCounters(upstream.name);
    for (size_t i = 0; i < static_cast<size_t>(UpstreamClose::kCount); ++i) {
      w.sample("perfgate_upstream_connections_closed_total",
               "upstream=\"" + label(upstream.name) + "\",reason=\"" + upstreamCloseName(static_cast<UpstreamClose>(i)) + "\"",
               counters.closed[i].load(std::memory_order_relaxed));
    }
  }
  w.family("perfgate_cache_bytes", "gauge", "Bytes held by the response cache (heads, bodies, keys, bookkeeping).");
  w.sample("perfgate_cache_bytes", "", store.bytes);
  w.family("perfgate_cache_max_bytes", "gauge", "The response cache's byte budget.");
  w.sample("perfgate_cache_max_bytes", "", gateway.cacheStore().maxBytes());
  w.family("perfgate_cache_entries", "gauge", "Responses held by the cache.");
  w.sample("perfgate_cache_entries", "", store.entries);
  w.family("perfgate_cache_evictions_total", "counter", "Entries evicted to stay within the byte budget.");
  w.sample("perfgate_cache_evictions_total", "", store.evictions);
  if (const L2Cache* l2 = gateway.l2()) {
    L2Cache::State state = l2->state();
    const L2Counters& c = l2->counters();
    auto get = [](const std::atomic<uint64_t>& n) { return n.load(std::memory_order_relaxed); };
    w.family("perfgate_l2_up", "gauge", "1 when every worker's Redis link of the L2 cache is ready.");
    w.sample("perfgate_l2_up", "", state.links != 0 && state.ready == state.links ? 1 : 0);
    w.family("perfgate_l2_links", "gauge", "Worker links to the L2 Redis, by state.");
    w.sample("perfgate_l2_links", "state=\"ready\"", state.ready);
    w.sample("perfgate_l2_links", "state=\"down\"", state.links - std::min(state.ready, state.links));
    w.family("perfgate_l2_lookups_total", "counter", "L1 misses asked of the L2 cache.");
    w.sample("perfgate_l2_lookups_total", "", get(c.lookups));
    w.family("perfgate_l2_lookup_results_total", "counter", "L2 lookup replies: with a usable record (hit) or none.");
    w.sample("perfgate_l2_lookup_results_total", "result=\"hit\"", get(c.hits));
    w.sample("perfgate_l2_lookup_results_total", "result=\"miss\"", get(c.misses));
    w.family("perfgate_l2_timeouts_total", "counter", "L2 lookups not answered within the L2 timeout.");
    w.sample("perfgate_l2_timeouts_total", "", get(c.timeouts));
    w.family("perfgate_l2_unavailable_total", "counter", "L1 misses not asked of L2: its link was not ready.");
    w.sample("perfgate_l2_unavailable_total", "", get(c.unavailable));
    w.family("perfgate_l2_corrupt_total", "counter", "Values in Redis that were not valid records (ignored).");
    w.sample("perfgate_l2_corrupt_total", "", get(c.corrupt));
    w.family("perfgate_l2_writes_total", "counter", "Records written to L2, and writes dropped.");
    w.sample("perfgate_l2_writes_total", "result=\"written\"", get(c.writes));
    w.sample("perfgate_l2_writes_total", "result=\"dropped\"", get(c.writes_dropped));
    w.family("perfgate_l2_deletes_total", "counter", "Keys removed from L2 (invalidations, clears).");
    w.sample("perfgate_l2_deletes_total", "", get(c.deletes));
    w.family("perfgate_l2_errors_total", "counter", "Failed L2 commands and connections.");
    w.sample("perfgate_l2_errors_total", "", get(c.errors));
    w.family("perfgate_l2_connects_total", "counter", "Redis links that became ready.");
    w.sample("perfgate_l2_connects_total", "", get(c.connects));
    w.family("perfgate_l2_disconnects_total", "counter", "Ready Redis links lost.");
    w.sample("perfgate_l2_disconnects_total", "", get(c.disconnects));
    w.family("perfgate_l2_purges_total", "counter", "Purge messages published to, and applied from, other instances.");
    w.sample("perfgate_l2_purges_total", "direction=\"sent\"", get(c.purges_sent));
    w.sample("perfgate_l2_purges_total", "direction=\"received\"", get(c.purges_received));
  }
  w.family("perfgate_connections", "gauge", "Open connections: from clients, and to backends.");
  w.sample("perfgate_connections", "side=\"client\"", gateway.openConnections());
  w.sample("perfgate_connections", "side=\"backend\"",
           static_cast<uint64_t>(std::max<int64_t>(0, backendConnections().load(std::memory_order_relaxed))));
  w.family("perfgate_workers", "gauge", "Worker threads.");
  w.sample("perfgate_workers", "", gateway.workerCount());
  w.family("perfgate_build_info", "gauge", "Always 1; the version as a label.");
  w.sample("perfgate_build_info", "version=\"" PERFGATE_VERSION "\"", 1);
  w.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  w.sample("process_cpu_seconds_total", "", number(process.cpu_user_seconds + process.cpu_system_seconds));
  w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  w.sample("process_resident_memory_bytes", "", process.rss_bytes);
  w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  w.sample("process_virtual_memory_bytes", "", process.virtual_bytes);
  if (process.open_fds >= 0) {
    w.family("process_open_fds", "gauge", "Number of open file descriptors.");
    w.sample("process_open_fds", "", static_cast<uint64_t>(process.open_fds));
  }
  if (process.max_fds >= 0) {
    w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    w.sample("process_max_fds", "", static_cast<uint64_t>(process.max_fds));
  }
  if (process.threads >= 0) {
    w.family("process_threads", "gauge", "Number of OS threads in the process.");
    w.sample("process_threads", "", static_cast<uint64_t>(process.threads));
  }
  w.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  w.sample("process_start_time_seconds", "", number(process.start_time_seconds));
  return w.take();
}

}  // namespace perfgate
