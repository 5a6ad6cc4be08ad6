// Small conversions between the config's types and libevent's.
#pragma once

#include <sys/time.h>

#include "gateway/config.h"

namespace perfgate {

inline timeval toTimeval(Millis ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace perfgate
