#include "gateway/random.h"

#include <sys/random.h>

#include <chrono>

namespace perfgate {
namespace {

// xoshiro256** (public domain, Blackman and Vigna).
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

uint64_t randomBits() {
  thread_local Generator generator;
  return generator.next();
}

}  // namespace perfgate
