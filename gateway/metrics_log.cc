#include "gateway/metrics_log.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "gateway/event_util.h"
#include "gateway/admin/metrics_sink.h"
#include "gateway/gateway.h"

namespace perfgate {

MetricsLog::MetricsLog(event_base* base, const Gateway& gateway)
    : gateway_(gateway), timer_(event_new(base, -1, EV_PERSIST, &MetricsLog::onTimer, this)) {
  if (timer_ == nullptr) throw std::runtime_error("event_new failed");
}

MetricsLog::~MetricsLog() {
  event_free(timer_);
  if (logger_) logger_->flush();
}

std::string MetricsLog::configure(const MetricsConfig& config) {
  bool same_file = logger_ && config.jsonl_path == config_.jsonl_path &&
                   config.jsonl_max_bytes == config_.jsonl_max_bytes && config.jsonl_max_files == config_.jsonl_max_files;
  std::shared_ptr<spdlog::logger> logger;
  if (same_file) {
    logger = logger_;
  } else if (!config.jsonl_path.empty()) {
    try {
      auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(config.jsonl_path, config.jsonl_max_bytes,
                                                                         config.jsonl_max_files);
      logger = std::make_shared<spdlog::logger>("perfgate-metrics", std::move(sink));
    } catch (const spdlog::spdlog_ex& e) {
      return "[metrics] jsonl_path '" + config.jsonl_path + "': " + e.what();
    }
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::info);
    logger->flush_on(spdlog::level::info);
  }
  if (logger_ && logger_ != logger) logger_->flush();
  logger_ = std::move(logger);
  config_ = config;
  evtimer_del(timer_);
  if (logger_) {
    timeval tv = toTimeval(config_.interval);
    evtimer_add(timer_, &tv);
  }
  return "";
}

void MetricsLog::writeLine() {
  if (!logger_) return;
  JsonSink sink;
  gateway_.collectMetrics(sink);
  nlohmann::json line = sink.view("metrics");
  auto now = std::chrono::system_clock::now().time_since_epoch();
  line["time"] = std::chrono::duration<double>(now).count();
  logger_->info("{}", line.dump());
}

void MetricsLog::onTimer(evutil_socket_t, short, void* self) noexcept {
  auto* log = static_cast<MetricsLog*>(self);
  try {
    log->writeLine();
  } catch (const std::exception& e) {
    spdlog::error("metrics file: {}", e.what());
  }
}

}  // namespace perfgate
