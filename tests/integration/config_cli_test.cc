// `perfgate --print-config` end to end, and every shipped config file (conf/, conf/examples/)
// through `--check-config` and a print/load round trip.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "filters/access_log/access_log_config.h"
#include "gateway/config/config.h"
#include "gateway/config/print.h"
#include "support/gateway_process.h"

namespace perfgate::test {
namespace {

// The printed text without its first line, which names the file it came from.
std::string body(const std::string& printed) { return printed.substr(printed.find('\n') + 1); }

TEST(PrintConfigTest, PrintsTheFileWithCommandLineOverrides) {
  RunResult r = runPerfgate({"--print-config", "--config", PERFGATE_SOURCE_DIR "/conf/perfgate.toml", "--workers",
                             "3", "--listen", "127.0.0.1:0", "--admin", "[::1]:0"});
  ASSERT_EQ(r.status.describe(), "exit code 0") << r.err;
  TempDir dir;
  std::string path = dir.write("printed.toml", r.out);
  RunResult check = runPerfgate({"--check-config", path});
  EXPECT_EQ(check.status.describe(), "exit code 0") << check.err << "\n" << r.out;
  ConfigResult loaded = loadConfigFile(path);
  ASSERT_TRUE(loaded) << loaded.error;
  EXPECT_EQ(loaded.config->server.workers, 3u);
  EXPECT_EQ(loaded.config->server.listen.toString(), "127.0.0.1:0");
  EXPECT_EQ(loaded.config->admin.listen.toString(), "[::1]:0");
  ConfigResult original = loadConfigFile(PERFGATE_SOURCE_DIR "/conf/perfgate.toml");
  ASSERT_TRUE(original) << original.error;
  EXPECT_EQ(loaded.config->routes.size(), original.config->routes.size());
  EXPECT_EQ(loaded.config->section<AccessLogConfig>().access_log, original.config->section<AccessLogConfig>().access_log);
}

TEST(PrintConfigTest, PrintsTheDropInConfig) {
  RunResult r = runPerfgate({"--print-config", "--upstream", "http://127.0.0.1:8000/app"});
  ASSERT_EQ(r.status.describe(), "exit code 0") << r.err;
  ConfigResult loaded = loadConfigString(r.out, "printed.toml");
  ASSERT_TRUE(loaded) << loaded.error << "\n" << r.out;
  ASSERT_EQ(loaded.config->upstreams.size(), 1u);
  EXPECT_EQ(loaded.config->upstreams[0].url, "http://127.0.0.1:8000/app");
  ASSERT_EQ(loaded.config->routes.size(), 1u);
  EXPECT_EQ(loaded.config->routes[0].prefix, "/");
}

TEST(PrintConfigTest, BadFileFailsWithItsPosition) {
  TempDir dir;
  std::string path = dir.write("bad.toml", "[server]\nworkers = \"many\"\n");
  RunResult r = runPerfgate({"--print-config", "--config", path});
  EXPECT_EQ(r.status.describe(), "exit code 1");
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(path + ":2:"), std::string::npos) << r.err;
}

TEST(PrintConfigTest, NeedsAConfigOrAnUpstream) {
  RunResult r = runPerfgate({"--print-config"});
  EXPECT_EQ(r.status.describe(), "exit code 2");
  EXPECT_NE(r.err.find("--config FILE or --upstream URL"), std::string::npos) << r.err;
}

std::vector<std::string> shippedConfigs() {
  std::vector<std::string> files;
  for (const char* dir : {"/conf", "/conf/examples"}) {
    for (const auto& entry : std::filesystem::directory_iterator(PERFGATE_SOURCE_DIR + std::string(dir))) {
      if (entry.path().extension() == ".toml") files.push_back(entry.path().string());
    }
  }
  return files;
}

TEST(ShippedConfigTest, EveryExampleChecksAndRoundTrips) {
  std::vector<std::string> files = shippedConfigs();
  // conf/perfgate.toml and the four setups of conf/examples/.
  EXPECT_GE(files.size(), 5u);
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    RunResult check = runPerfgate({"--check-config", file});
    EXPECT_EQ(check.status.describe(), "exit code 0") << check.err;
    RunResult print = runPerfgate({"--print-config", "--config", file});
    ASSERT_EQ(print.status.describe(), "exit code 0") << print.err;
    ConfigResult original = loadConfigFile(file);
    ASSERT_TRUE(original) << original.error;
    EXPECT_EQ(print.out, printConfig(*original.config));
    ConfigResult again = loadConfigString(print.out, "printed.toml");
    ASSERT_TRUE(again) << again.error << "\n" << print.out;
    EXPECT_EQ(body(printConfig(*again.config)), body(print.out));
  }
}

}  // namespace
}  // namespace perfgate::test
