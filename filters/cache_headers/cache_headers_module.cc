#include "filters/cache_headers/cache_headers_module.h"

#include "filters/cache_headers/cache_headers_filter.h"

namespace perfgate {

std::shared_ptr<const Filter> CacheHeadersModule::makeFilter(const std::shared_ptr<const Config>& config) {
  // The head waits for the body to hash it: as long as the gateway keeps bodies whole at all.
  return std::make_shared<CacheHeadersFilter>(config->buffers.max_object_bytes);
}

}  // namespace perfgate
