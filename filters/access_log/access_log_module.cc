#include "filters/access_log/access_log_module.h"

#include "filters/access_log/access_log_filter.h"

namespace perfgate {

std::string AccessLogModule::configure(const Config& config) {
  const std::string& path = config.section<AccessLogConfig>().access_log;
  if (path.empty()) {
    pending_.reset();
  } else if (log_ != nullptr && log_->path() == path) {
    pending_ = log_;
  } else {
    try {
      pending_ = std::make_shared<AccessLog>(path);
    } catch (const std::exception& e) {
      return "access log " + path + ": " + e.what();
    }
  }
  return "";
}

std::shared_ptr<const Filter> AccessLogModule::makeFilter(const std::shared_ptr<const Config>&) {
  log_ = pending_;
  if (log_ == nullptr) return nullptr;
  return std::make_shared<AccessLogFilter>(log_);
}

}  // namespace perfgate
