#include "filters/access_log/access_log_config.h"

namespace perfgate {

void declareAccessLogConfig(ConfigSchema& schema) {
  schema.global<AccessLogConfig>("log").custom(
      "access_log", "JSON-lines access log file; empty = off",
      [](AccessLogConfig& c, const ConfigValue& v) { c.access_log = v.string(); },
      [](const AccessLogConfig& c) -> std::optional<std::string> {
        return tomlQuote(c.access_log) + (c.access_log.empty() ? "  # off" : "");
      }).documentedDefault("`\"\"`");
}

}  // namespace perfgate
