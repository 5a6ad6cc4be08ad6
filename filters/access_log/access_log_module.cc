#include "filters/access_log/access_log_module.h"

#include "filters/access_log/access_log_filter.h"

namespace perfgate {

std::string AccessLogModule::configure(const Config& config) {
  const AccessLogConfig& settings = config.section<AccessLogConfig>();
  sample_percent_ = settings.sample_percent;
  if (settings.access_log.empty()) {
    pending_.reset();
    return "";
  }
  try {
    // A new logger each time (the format may have changed); the file is opened again, which is
    // the reopen a reload promises (the old logger writes its last lines, then closes).
    pending_ = std::make_shared<AccessLog>(settings.access_log, AccessFormat(settings.format, settings.fields));
  } catch (const std::exception& e) {
    return "access log " + settings.access_log + ": " + e.what();
  }
  return "";
}

void AccessLogModule::reopenFiles() {
  if (log_ != nullptr) log_->reopen();
}

void AccessLogModule::collectMetrics(MetricsSink& sink) const {
  static constexpr MetricFamily kLines{"perfgate_access_log_lines_total", "counter",
                                       "Access log lines written (handed to the log's writer thread)."};
  static constexpr MetricFamily kDropped{"perfgate_access_log_dropped_total", "counter",
                                         "Access log lines dropped because the writer's queue was full."};
  sink.sample(kLines, {}, AccessLog::lines(), "metrics:access_log.lines");
  sink.sample(kDropped, {}, AccessLog::dropped(), "metrics:access_log.dropped");
}

std::shared_ptr<const Filter> AccessLogModule::makeFilter(const std::shared_ptr<const Config>& config) {
  log_ = pending_;
  if (log_ == nullptr) return nullptr;
  return std::make_shared<AccessLogFilter>(log_, sample_percent_, config);
}

}  // namespace perfgate
