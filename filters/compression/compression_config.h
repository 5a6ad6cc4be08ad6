// The compression module's configuration: [compression] and the per-route switch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/config/config.h"

namespace perfgate {

// [compression]: gzip toward clients that accept it.
struct CompressionConfig {
  bool enabled = true;       // default of every route's `compression`
  int level = 6;             // zlib level (1-9) for bodies compressed whole (cache fills)
  int stream_level = 1;      // zlib level (1-9) for bodies compressed as a stream
  uint64_t min_bytes = 256;  // smaller bodies (by Content-Length) go out as they are
  // Media types compressed: "type/subtype" exactly, or "type/*".
  std::vector<std::string> types{"text/*", "application/json", "application/javascript", "application/xml",
                                 "image/svg+xml"};
};

struct CompressionRouteSettings {
  bool compression = true;  // [compression] enabled unless the route says
};

void declareCompressionConfig(ConfigSchema& schema);

}  // namespace perfgate
