#include "filters/access_log/access_log.h"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

#include "gateway/text.h"

namespace perfgate {
namespace {

std::shared_ptr<spdlog::details::thread_pool> sharedThreadPool() {
  static std::shared_ptr<spdlog::details::thread_pool> pool =
      std::make_shared<spdlog::details::thread_pool>(8192, 1);
  return pool;
}

}  // namespace

AccessLog::AccessLog(const std::string& path) : path_(path) {
  static std::atomic<unsigned> counter{0};
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
  logger_ = std::make_shared<spdlog::async_logger>(
      "access-" + std::to_string(counter++), std::move(sink), sharedThreadPool(),
      spdlog::async_overflow_policy::overrun_oldest);
  logger_->set_pattern("%v");
  logger_->flush_on(spdlog::level::info);
}

AccessLog::~AccessLog() { logger_->flush(); }

void AccessLog::write(const AccessRecord& r) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::string line;
  line.reserve(256);
  time_t seconds = system_clock::to_time_t(now);
  tm utc;
  gmtime_r(&seconds, &utc);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  line.append(fmt::format("{{\"time\":\"{}.{:03}Z\",\"client\":\"", stamp,
                          duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000));
  appendJsonEscaped(line, r.client);
  line.append("\",\"method\":\"");
  appendJsonEscaped(line, r.method);
  line.append("\",\"path\":\"");
  appendJsonEscaped(line, r.path);
  line.append("\",\"route\":\"");
  appendJsonEscaped(line, r.route);
  line.append(fmt::format("\",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"total_us\":{}", r.status,
                          r.bytes_in, r.bytes_out, r.total_us));
  if (r.upstream_us >= 0) line.append(fmt::format(",\"upstream_us\":{}", r.upstream_us));
  if (r.background) line.append(",\"background\":true");
  line.push_back('}');
  logger_->info(line);
}

}  // namespace perfgate

