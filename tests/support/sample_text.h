// Compressible text for codec tests: markup-like words drawn at random (seeded), cut to n bytes.
#pragma once

#include <cstddef>
#include <string>

namespace perfgate::test {

std::string sampleText(size_t n, unsigned seed);

}  // namespace perfgate::test
