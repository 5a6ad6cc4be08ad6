// Replays every fuzz seed (tests/fuzz/corpus/NAME/) and every input that once broke a check
// (tests/fuzz/regressions/NAME/) through the fuzz targets' checks, in the normal suite: a bug the
// fuzzer found stays found.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fuzz/fuzz_checks.h"

namespace perfgate::fuzz {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Runs the check over each file of `dir`; returns how many there were.
size_t replay(const Target& target, const fs::path& dir) {
  size_t count = 0;
  if (!fs::is_directory(dir)) return 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    SCOPED_TRACE(entry.path().string());
    target.check(slurp(entry.path()));  // aborts, naming the broken property, on a failure
    ++count;
  }
  return count;
}

class FuzzCorpusTest : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzCorpusTest, SeedsAndRegressionsPassTheChecks) {
  const fs::path root = fs::path(PERFGATE_SOURCE_DIR) / "tests" / "fuzz";
  size_t seeds = replay(GetParam(), root / "corpus" / GetParam().name);
  EXPECT_GE(seeds, 3u) << "the seed corpus of " << GetParam().name << " is missing or tiny";
  replay(GetParam(), root / "regressions" / GetParam().name);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpusTest, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace perfgate::fuzz
