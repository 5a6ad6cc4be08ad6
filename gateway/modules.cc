#include "gateway/modules.h"

#include "filters/access_log/access_log_module.h"
#include "filters/cache/cache_module.h"
#include "filters/cache_headers/cache_headers_module.h"
#include "filters/compression/compression_module.h"
#include "filters/dashboard/dashboard_module.h"
#include "filters/timing/timing_module.h"
#include "filters/tracing/tracing_module.h"

namespace perfgate {

// Responses pass the filters in this order: compressed, then given cache headers, then stored,
// so the cache keeps what clients get (compressed once per object, not once per hit); timing after
// them, so it sees their verdicts (X-Cache) when it writes Server-Timing; the access log last.
// Tracing first: its onRequest reads the trace context before any filter may answer.
std::vector<std::unique_ptr<Module>> makeModules(const Clock& clock) {
  std::vector<std::unique_ptr<Module>> modules;
  auto compression = std::make_shared<CompressionStats>();
  modules.push_back(std::make_unique<TracingModule>());
  modules.push_back(std::make_unique<CompressionModule>(compression));
  modules.push_back(std::make_unique<CacheHeadersModule>());
  modules.push_back(std::make_unique<CacheModule>(clock, compression));
  modules.push_back(std::make_unique<TimingModule>());
  modules.push_back(std::make_unique<AccessLogModule>());
  modules.push_back(std::make_unique<DashboardModule>());
  return modules;
}

const ConfigSchema& configSchema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    declareCoreConfig(s);
    // The cache's sections first: [cache] holds the core's max_object_bytes, and it reads best
    // before the other modules' (which refer to it).
    CacheModule::declareConfig(s);
    CompressionModule::declareConfig(s);
    CacheHeadersModule::declareConfig(s);
    TimingModule::declareConfig(s);
    AccessLogModule::declareConfig(s);
    TracingModule::declareConfig(s);
    DashboardModule::declareConfig(s);
    return s;
  }();
  return schema;
}

}  // namespace perfgate
