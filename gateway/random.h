// Fast non-cryptographic random bits for ids (request ids, trace and span ids): xoshiro256**
// per thread, seeded from the kernel's entropy (getrandom) once per thread.
#pragma once

#include <cstdint>

namespace perfgate {

uint64_t randomBits();

}  // namespace perfgate
