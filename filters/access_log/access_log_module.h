// The access log as a module: the [log] access_log keys, the open file (opened again on every
// reload and on SIGUSR1, for logrotate), its filter (AccessLogFilter) and its line counters.
#pragma once

#include <memory>

#include "filters/access_log/access_log.h"
#include "filters/access_log/access_log_config.h"
#include "filters/module.h"

namespace perfgate {

class AccessLogModule final : public Module {
 public:
  static void declareConfig(ConfigSchema& schema) { declareAccessLogConfig(schema); }

  std::string_view name() const override { return "access_log"; }
  std::string configure(const Config& config) override;
  std::shared_ptr<const Filter> makeFilter(const std::shared_ptr<const Config>& config) override;
  void reopenFiles() override;
  void collectMetrics(MetricsSink& sink) const override;

 private:
  unsigned sample_percent_ = 100;
  std::shared_ptr<AccessLog> log_;      // in force
  std::shared_ptr<AccessLog> pending_;  // for the config being put in force
};

}  // namespace perfgate
