// The access log module's keys in [log] (the core owns [log] level): where, in which format, which
// JSON fields, and what share of requests.
#pragma once

#include <string>
#include <vector>

#include "gateway/config/config.h"

namespace perfgate {

struct AccessLogConfig {
  std::string access_log;          // file; "-": standard output; empty: access log off
  std::string format = "json";     // "json", "combined", or a template of $variables
  std::vector<std::string> fields; // JSON fields, in order; empty: every field
  unsigned sample_percent = 100;   // share of requests logged; 5xx and gateway errors always are
};

void declareAccessLogConfig(ConfigSchema& schema);

}  // namespace perfgate
