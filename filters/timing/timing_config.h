// The timing module's per-route key. (Timing itself is switched by the core's [metrics]
// enabled, which the admin's metrics views also follow.)
#pragma once

#include "gateway/config/config.h"

namespace perfgate {

struct TimingRouteSettings {
  bool server_timing = false;  // add a Server-Timing response header (cache, upstream time)
};

void declareTimingConfig(ConfigSchema& schema);

}  // namespace perfgate
