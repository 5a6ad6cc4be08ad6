#include "filters/access_log/access_log_config.h"

#include <algorithm>
#include <stdexcept>

#include "filters/access_log/access_log.h"

namespace perfgate {

void declareAccessLogConfig(ConfigSchema& schema) {
  schema.global<AccessLogConfig>("log")
      .custom(
          "access_log", "access log file (reopened on `SIGUSR1` and on reload, for logrotate); `\"-\"`: standard "
                        "output (containers); empty = off",
          [](AccessLogConfig& c, const ConfigValue& v) { c.access_log = v.string(); },
          [](const AccessLogConfig& c) -> std::optional<std::string> {
            return tomlQuote(c.access_log) + (c.access_log.empty() ? "  # off" : "");
          })
      .documentedDefault("`\"\"`")
      .string("access_log_format", &AccessLogConfig::format,
              "`\"json\"` (one object per line, `access_log_fields`), `\"combined\"` (nginx's), or a template of "
              "`$variables` (see [Access log](#access-log))")
      .custom(
          "access_log_fields", "JSON fields, in order (see [Access log](#access-log)); `[]`: all",
          [](AccessLogConfig& c, const ConfigValue& v) {
            c.fields.clear();
            std::vector<std::string> known = AccessFormat::jsonFieldNames();
            for (const ConfigValue& item : v.array("an array of field names")) {
              std::string name = item.string();
              if (std::find(known.begin(), known.end(), name) == known.end()) {
                throw item.error("unknown access log field '" + name + "'");
              }
              c.fields.push_back(std::move(name));
            }
          },
          [](const AccessLogConfig& c) -> std::optional<std::string> {
            std::string list = "[";
            for (const std::string& name : c.fields) list += (list.size() > 1 ? ", " : "") + tomlQuote(name);
            return list + "]";
          })
      .documentedDefault("`[]`")
      .integer("access_log_sample_percent", &AccessLogConfig::sample_percent, 1, 100,
               "share of requests logged (every one at 100); 5xx answers and gateway errors are always logged")
      .check([](AccessLogConfig& c, const Config&) {
        try {
          AccessFormat format(c.format, c.fields);
        } catch (const std::invalid_argument& e) {
          throw KeyError(e.what(), "access_log_format");
        }
      });
}

}  // namespace perfgate
