#include "filters/compression/compression_config.h"

#include <cctype>

#include "gateway/http/content_codec.h"

namespace perfgate {

int CompressionConfig::wholeLevel(ContentCoding coding) const {
  switch (coding) {
    case ContentCoding::Gzip: return level;
    case ContentCoding::Br: return br_level;
    case ContentCoding::Zstd: return zstd_level;
    case ContentCoding::Identity: break;
  }
  return 0;
}

int CompressionConfig::streamLevel(ContentCoding coding) const {
  switch (coding) {
    case ContentCoding::Gzip: return stream_level;
    case ContentCoding::Br: return br_stream_level;
    case ContentCoding::Zstd: return zstd_stream_level;
    case ContentCoding::Identity: break;
  }
  return 0;
}

bool CompressionConfig::inBackground(ContentCoding coding) const {
  return background_threads > 0 && slowLevel(coding, wholeLevel(coding));
}

void declareCompressionConfig(ConfigSchema& schema) {
  schema.global<CompressionConfig>("compression")
      .boolean("enabled", &CompressionConfig::enabled,
               "compression toward clients that accept it; default of every route's `compression`")
      .custom("codings",
              "content codings offered (`\"zstd\"`, `\"br\"`, `\"gzip\"`), in the order preferred among codings "
              "a client weighs equally; identity is always possible",
              [](CompressionConfig& c, const ConfigValue& v) {
                c.codings.clear();
                for (const ConfigValue& item : v.array("an array of content codings")) {
                  std::optional<ContentCoding> coding;
                  try {
                    coding = parseCoding(item.string());
                  } catch (const KeyError&) {
                  }
                  if (!coding || *coding == ContentCoding::Identity) {
                    throw item.error("'codings' entries must be \"zstd\", \"br\" or \"gzip\"");
                  }
                  for (ContentCoding listed : c.codings) {
                    if (listed == *coding) throw item.error("'codings' names " + std::string(codingName(listed)) + " twice");
                  }
                  c.codings.push_back(*coding);
                }
              },
              [](const CompressionConfig& c) -> std::optional<std::string> {
                std::string list = "[";
                for (ContentCoding coding : c.codings) {
                  list += (list.size() > 1 ? ", " : "") + tomlQuote(std::string(codingName(coding)));
                }
                return list + "]";
              })
      .documentedDefault("zstd, br, gzip")
      .integer("level", &CompressionConfig::level, 1, 9,
               "gzip level (zlib scale, 1–9) for bodies compressed whole: cache fills, paid once per object")
      .integer("stream_level", &CompressionConfig::stream_level, 1, 9,
               "gzip level (1–9) for bodies compressed as a stream: uncached routes, unknown or large lengths")
      .integer("br_level", &CompressionConfig::br_level, 0, 11,
               "brotli quality (0–11) for bodies compressed whole; 10 and 11 are made in the background")
      .integer("br_stream_level", &CompressionConfig::br_stream_level, 0, 11, "brotli quality (0–11) for streams")
      .integer("zstd_level", &CompressionConfig::zstd_level, 1, 22,
               "zstd level (1–22) for bodies compressed whole; 17 and above are made in the background")
      .integer("zstd_stream_level", &CompressionConfig::zstd_stream_level, 1, 22, "zstd level (1–22) for streams")
      .integer("background_threads", &CompressionConfig::background_threads, 0, 64,
               "threads that make the slow levels of stored objects (the object is served in a fast coding "
               "until its slow one is made); 0: made inline, on the worker that stores the object; changes "
               "on restart")
      .integer("background_queue", &CompressionConfig::background_queue, 1, 1 << 20,
               "objects waiting for the background threads; more are dropped and counted; changes on restart")
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
      .boolean("compression", &CompressionRouteSettings::compression, "compression on this route")
      .documentedDefault("`[compression] enabled`");
}

}  // namespace perfgate
