#include "filters/compression/compression_config.h"

#include <cctype>

namespace perfgate {

void declareCompressionConfig(ConfigSchema& schema) {
  schema.global<CompressionConfig>("compression")
      .boolean("enabled", &CompressionConfig::enabled,
               "gzip toward clients that accept it; default of every route's `compression`")
      .integer("level", &CompressionConfig::level, 1, 9,
               "zlib-scale level (1–9) for bodies compressed whole: cache fills, paid once per object")
      .integer("stream_level", &CompressionConfig::stream_level, 1, 9,
               "level (1–9) for bodies compressed as a stream: uncached routes, unknown or large lengths")
      .size("min_bytes", &CompressionConfig::min_bytes,
            "bodies smaller than this (by Content-Length) are sent as they are")
      .custom("types", "media types compressed (`\"type/subtype\"` or `\"type/*\"`)",
              [](CompressionConfig& c, const ConfigValue& v) {
                c.types.clear();
                for (const ConfigValue& item : v.array("an array of media types")) {
                  std::string type;
                  try {
                    type = item.string();
                  } catch (const KeyError&) {
                    throw item.error("'types' entries must be media types such as \"text/html\" or \"text/*\"");
                  }
                  size_t slash = type.find('/');
                  if (slash == 0 || slash == std::string::npos || slash + 1 == type.size() ||
                      type.find_first_of(" \t;,") != std::string::npos) {
                    throw item.error("'types' entries must be media types such as \"text/html\" or \"text/*\"");
                  }
                  for (char& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                  c.types.push_back(std::move(type));
                }
              },
              [](const CompressionConfig& c) -> std::optional<std::string> {
                std::string list = "[";
                for (const std::string& type : c.types) list += (list.size() > 1 ? ", " : "") + tomlQuote(type);
                return list + "]";
              })
      .documentedDefault("text/\\*, application/json, application/javascript, application/xml, image/svg+xml");

  schema
      .route<CompressionRouteSettings>([](CompressionRouteSettings& route, const Config& config) {
        route.compression = config.section<CompressionConfig>().enabled;
      })
      .boolean("compression", &CompressionRouteSettings::compression, "gzip on this route")
      .documentedDefault("`[compression] enabled`");
}

}  // namespace perfgate
