#include "gateway/clock.h"

namespace perfgate {
namespace {

class SystemClock final : public Clock {
 public:
  int64_t now() const override { return static_cast<int64_t>(::time(nullptr)); }
};

}  // namespace

const Clock& systemClock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace perfgate
