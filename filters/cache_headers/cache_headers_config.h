// The cache-headers module's per-route keys: a Cache-Control to add (or impose), and generated
// ETags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gateway/config/config.h"

namespace perfgate {

struct CacheHeadersRouteSettings {
  std::string cache_control;                      // added when the response has no Cache-Control; "" none
  bool cache_control_override = false;            // replace the backend's Cache-Control too
  bool cache_control_mode_given = false;          // (loading) cache_control_mode was written
  std::optional<int64_t> cache_control_max_age;   // max-age of cache_control, for Expires
  bool etag = false;                              // strong ETag (XXH3-128 of the body) where none is sent
};

void declareCacheHeadersConfig(ConfigSchema& schema);

}  // namespace perfgate
