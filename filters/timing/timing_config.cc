#include "filters/timing/timing_config.h"

namespace perfgate {

void declareTimingConfig(ConfigSchema& schema) {
  schema.route<TimingRouteSettings>().boolean(
      "server_timing", &TimingRouteSettings::server_timing,
      "add `Server-Timing: cache;desc=HIT, upstream;dur=12.3` to responses (needs `[metrics] enabled`)");
}

}  // namespace perfgate
