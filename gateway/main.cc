// perfgate: a caching, compressing reverse proxy for an existing HTTP backend.
#include <curl/curl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>

#include "gateway/config/config.h"
#include "gateway/config/print.h"
#include "gateway/gateway.h"

namespace {

const char kUsage[] =
    "usage: perfgate --config FILE [--workers N] [--listen HOST:PORT] [--admin HOST:PORT]\n"
    "       perfgate --upstream URL [--listen HOST:PORT] [--admin HOST:PORT] [--workers N]\n"
    "       perfgate --check-config FILE\n"
    "       perfgate --print-config (--config FILE | --upstream URL) [--workers N] [--listen ...] [--admin ...]\n"
    "       perfgate --version\n"
    "\n"
    "  --config FILE        run from a TOML config file (see conf/perfgate.toml)\n"
    "  --upstream URL       drop-in mode: one route \"/\" to URL, defaults elsewhere\n"
    "  --listen HOST:PORT   public listener (default 0.0.0.0:8080)\n"
    "  --admin HOST:PORT    admin listener (default 127.0.0.1:9901)\n"
    "  --workers N          worker threads (default: one per core)\n"
    "  --check-config FILE  validate FILE; print file:line:col: message and exit 1 if bad\n"
    "  --print-config       print the effective config (defaults and overrides filled in) as TOML\n"
    "  --version            print the version\n"
    "  --help               print this text (also -h)\n"
    "\n"
    "signals: SIGTERM/SIGINT drain and exit, SIGHUP reloads the config file, SIGUSR1 reopens the access log.\n"
    "man perfgate, and README.md, say more.\n";

int usageError(const std::string& message) {
  std::fprintf(stderr, "perfgate: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

// Every client connection takes a descriptor, and so does every backend connection: raise the
// soft limit to the hard one (as HAProxy does), and warn when even that is short of what the
// config allows. Past the limit, workers pause accepting rather than spin.
void raiseDescriptorLimit(const perfgate::Config& config) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised{limit.rlim_max, limit.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  rlim_t wanted = config.server.max_connections + 64;
  for (const perfgate::UpstreamConfig& u : config.upstreams) wanted += u.max_connections;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    spdlog::warn("descriptor limit (RLIMIT_NOFILE) is {}, below the {} that max_connections and the upstream "
                 "pools may need", static_cast<uint64_t>(limit.rlim_cur), static_cast<uint64_t>(wanted));
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace perfgate;
  GatewayOptions options;
  std::string upstream;
  std::string check;
  bool print_config = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--version") {
      std::printf("perfgate %s\n", PERFGATE_VERSION);
      return 0;
    } else if (arg == "--print-config") {
      print_config = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--config" || arg == "--upstream" || arg == "--check-config" || arg == "--listen" ||
               arg == "--admin" || arg == "--workers") {
      const char* v = value();
      if (v == nullptr) return usageError(arg + " needs a value");
      if (arg == "--config") {
        options.config_path = v;
      } else if (arg == "--upstream") {
        upstream = v;
      } else if (arg == "--check-config") {
        check = v;
      } else if (arg == "--workers") {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(v, v + std::strlen(v), n);
        if (ec != std::errc() || *end != '\0' || n == 0 || n > 1024) return usageError("--workers needs 1..1024");
        options.workers = n;
      } else {
        auto address = parseListenAddress(v);
        if (!address) return usageError(arg + ": expected HOST:PORT, got '" + v + "'");
        (arg == "--listen" ? options.listen : options.admin) = *address;
      }
    } else {
      return usageError("unknown argument '" + arg + "'");
    }
  }

  if (!check.empty()) {
    ConfigResult result = loadConfigFile(check);
    if (!result) {
      std::fprintf(stderr, "%s\n", result.error.c_str());
      return 1;
    }
    std::printf("%s: ok (%zu upstream(s), %zu route(s))\n", check.c_str(), result.config->upstreams.size(),
                result.config->routes.size());
    return 0;
  }
  if (options.config_path.empty() == upstream.empty()) {
    return usageError("give either --config FILE or --upstream URL");
  }

  ConfigResult result = upstream.empty() ? loadConfigFile(options.config_path) : makeDropInConfig(upstream);
  if (!result) {
    std::fprintf(stderr, "%s\n", result.error.c_str());
    return 1;
  }
  if (print_config) {
    std::fputs(printConfig(*applyOverrides(options, result.config)).c_str(), stdout);
    return 0;
  }

  spdlog::set_default_logger(spdlog::stderr_logger_mt("perfgate"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  applyLogLevel(result.config->log.level);
  raiseDescriptorLimit(*result.config);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "perfgate: curl_global_init failed\n");
    return 1;
  }
  int code = 1;
  try {
    Gateway gateway(options, result.config);
    code = gateway.run();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
  }
  spdlog::shutdown();
  curl_global_cleanup();
  return code;
}
