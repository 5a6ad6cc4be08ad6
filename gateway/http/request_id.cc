#include "gateway/http/request_id.h"

#include <chrono>
#include <cstdint>

#include "gateway/random.h"

namespace perfgate {

bool acceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':' || c == '/' || c == '+' || c == '=' || c == '@';
    if (!ok) return false;
  }
  return true;
}

void newRequestId(std::string& out) {
  uint64_t millis = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  uint64_t random_a = randomBits();
  uint64_t random_b = randomBits();
  uint8_t bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(millis >> (40 - 8 * i));
  bytes[6] = static_cast<uint8_t>(0x70 | (random_a & 0x0f));  // version 7
  bytes[7] = static_cast<uint8_t>(random_a >> 8);
  bytes[8] = static_cast<uint8_t>(0x80 | ((random_a >> 16) & 0x3f));  // variant 10
  for (int i = 9; i < 16; ++i) bytes[i] = static_cast<uint8_t>(random_b >> (8 * (i - 9)));
  static const char kHex[] = "0123456789abcdef";
  out.resize(36);
  size_t at = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[at++] = '-';
    out[at++] = kHex[bytes[i] >> 4];
    out[at++] = kHex[bytes[i] & 0x0f];
  }
}

}  // namespace perfgate
