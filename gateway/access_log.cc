#include "gateway/access_log.h"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

namespace perfgate {
namespace {

std::shared_ptr<spdlog::details::thread_pool> sharedThreadPool() {
  static std::shared_ptr<spdlog::details::thread_pool> pool =
      std::make_shared<spdlog::details::thread_pool>(8192, 1);
  return pool;
}

}  // namespace

void appendJsonEscaped(std::string& out, std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
}

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
  line.push_back('}');
  logger_->info(line);
}

}  // namespace perfgate

namespace perfgate {

std::string excerpt(std::string_view text) {
  constexpr size_t kMax = 64;
  if (text.size() <= kMax) return std::string(text);
  return std::string(text.substr(0, kMax)) + "...";
}

}  // namespace perfgate
