// libFuzzer entry point of one target; PERFGATE_FUZZ_CHECK names its check (see fuzz_checks.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  perfgate::fuzz::PERFGATE_FUZZ_CHECK(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
