#include "support/sample_text.h"

#include <random>

namespace perfgate::test {

std::string sampleText(size_t n, unsigned seed) {
  static const char* kWords[] = {"<div class=\"item\">", "perfgate ", "cache ", "</div>\n", "gzip ", "0123 "};
  std::mt19937 rng(seed);
  std::string out;
  while (out.size() < n) out += kWords[rng() % 6];
  out.resize(n);
  return out;
}

}  // namespace perfgate::test
