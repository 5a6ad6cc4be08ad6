#include "filters/cache_headers/cache_headers_config.h"

#include <cctype>
#include <charconv>

#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

// The max-age of a configured Cache-Control value; throws when the value is not a list of
// directives.
std::optional<int64_t> cacheControlMaxAge(const ConfigValue& v, const std::string& value) {
  std::optional<int64_t> max_age;
  bool bad = value.empty() || value.find_first_of("\r\n") != std::string::npos;
  size_t start = 0;
  while (!bad && start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? value.size() + 1 : comma + 1;
    size_t first = item.find_first_not_of(" \t");
    size_t last = item.find_last_not_of(" \t");
    if (first == std::string::npos) continue;
    item = item.substr(first, last - first + 1);
    std::string name = item.substr(0, item.find('='));
    for (char c : name) bad = bad || !isTokenChar(static_cast<unsigned char>(c));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "max-age" || name == "s-maxage") {
      std::string number = item.size() > name.size() + 1 ? item.substr(name.size() + 1) : "";
      int64_t seconds = 0;
      auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), seconds);
      if (number.empty() || ec != std::errc() || end != number.data() + number.size() || seconds < 0) bad = true;
      if (name == "max-age") max_age = seconds;
    }
  }
  if (bad) {
    throw v.error("'cache_control' must be Cache-Control directives such as \"public, max-age=300\"");
  }
  return max_age;
}

}  // namespace

void declareCacheHeadersConfig(ConfigSchema& schema) {
  schema.route<CacheHeadersRouteSettings>()
      .custom("cache_control",
              "Cache-Control added to 200/203/204/206/300/301/304/308 responses that have none, with the matching "
              "`Expires`",
              [](CacheHeadersRouteSettings& r, const ConfigValue& v) {
                r.cache_control = v.string();
                r.cache_control_max_age = cacheControlMaxAge(v, r.cache_control);
              },
              [](const CacheHeadersRouteSettings& r) -> std::optional<std::string> {
                if (r.cache_control.empty()) return std::nullopt;
                return tomlQuote(r.cache_control);
              })
      .custom("cache_control_mode", "`\"override\"`: replace the backend's Cache-Control (and Expires) too",
              [](CacheHeadersRouteSettings& r, const ConfigValue& v) {
                std::string mode = v.string();
                if (mode != "add" && mode != "override") {
                  throw v.error("'cache_control_mode' must be \"add\" or \"override\"");
                }
                r.cache_control_override = mode == "override";
                r.cache_control_mode_given = true;
              },
              [](const CacheHeadersRouteSettings& r) -> std::optional<std::string> {
                if (r.cache_control.empty()) return std::string();  // only beside cache_control
                return tomlQuote(r.cache_control_override ? "override" : "add");
              })
      .documentedDefault("`\"add\"`")
      .boolean("etag", &CacheHeadersRouteSettings::etag,
               "strong ETag (XXH3-128 of the body sent) for cacheable 200 responses to GET without one")
      .check([](CacheHeadersRouteSettings& r, const Config&) {
        if (r.cache_control.empty() && r.cache_control_mode_given) {
          throw KeyError("'cache_control_mode' needs 'cache_control'", "cache_control_mode");
        }
      });
}

}  // namespace perfgate
