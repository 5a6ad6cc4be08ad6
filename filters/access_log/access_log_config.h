// The access log module's key: [log] access_log (the core owns [log] level).
#pragma once

#include <string>

#include "gateway/config/config.h"

namespace perfgate {

struct AccessLogConfig {
  std::string access_log;  // JSON-lines file; empty: access log off
};

void declareAccessLogConfig(ConfigSchema& schema);

}  // namespace perfgate
