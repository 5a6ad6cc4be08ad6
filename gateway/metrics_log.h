// The metrics file ([metrics] jsonl_path): every `interval`, one JSON line with the merged
// metrics snapshot (as GET /api/monitoring/metrics, plus "time"), written by a spdlog rotating
// file sink from the main thread's event loop, never from a worker.
#pragma once

#include <event2/event.h>

#include <memory>
#include <string>

#include "gateway/config/config.h"

namespace spdlog {
class logger;
}

namespace perfgate {

class Gateway;

class MetricsLog {
 public:
  MetricsLog(event_base* base, const Gateway& gateway);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Applies `config` (at start and on reload). Returns "" or why the file cannot be written; the
  // previous settings stay in force then.
  std::string configure(const MetricsConfig& config);
  // Writes one line now (also done by the timer).
  void writeLine();

 private:
  static void onTimer(evutil_socket_t, short, void* self) noexcept;

  const Gateway& gateway_;
  event* timer_;
  MetricsConfig config_;
  std::shared_ptr<spdlog::logger> logger_;  // null when off
};

}  // namespace perfgate
