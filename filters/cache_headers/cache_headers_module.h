// Cache headers as a module: the per-route Cache-Control to add and generated ETags; its filter
// is CacheHeadersFilter. It holds no state.
#pragma once

#include "filters/cache_headers/cache_headers_config.h"
#include "filters/module.h"

namespace perfgate {

class CacheHeadersModule final : public Module {
 public:
  static void declareConfig(ConfigSchema& schema) { declareCacheHeadersConfig(schema); }

  std::string_view name() const override { return "cache_headers"; }
  std::shared_ptr<const Filter> makeFilter(const std::shared_ptr<const Config>& config) override;
};

}  // namespace perfgate
