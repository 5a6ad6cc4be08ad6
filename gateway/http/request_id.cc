#include "gateway/http/request_id.h"

#include <sys/random.h>

#include <chrono>
#include <cstdint>

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

namespace {

// xoshiro256** (public domain, Blackman and Vigna): fast, and seeded per thread from getrandom.
struct Generator {
  uint64_t s[4];
  Generator() {
    if (getrandom(s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) {
      uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      for (uint64_t& word : s) word = seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

}  // namespace

void newRequestId(std::string& out) {
  thread_local Generator generator;
  uint64_t millis = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  uint64_t random_a = generator.next();
  uint64_t random_b = generator.next();
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
