#include "gateway/config/router.h"

#include <gtest/gtest.h>

namespace perfgate {
namespace {

TEST(Router, ExactBeforeLongestPrefix) {
  ConfigResult result = loadConfigString(R"(
[upstream.a]
url = "http://127.0.0.1:1"
[[route]]
name = "root"
prefix = "/"
upstream = "a"
[[route]]
name = "api"
prefix = "/api/"
upstream = "a"
[[route]]
name = "items"
prefix = "/api/items"
upstream = "a"
[[route]]
name = "exact"
path = "/api/items/special"
upstream = "a"
)", "router.toml");
  ASSERT_TRUE(result) << result.error;
  Router router(*result.config);
  EXPECT_EQ(router.match("/")->name, "root");
  EXPECT_EQ(router.match("/other")->name, "root");
  EXPECT_EQ(router.match("/api/x")->name, "api");
  EXPECT_EQ(router.match("/api/items/3")->name, "items");
  EXPECT_EQ(router.match("/api/itemsX")->name, "items");
  EXPECT_EQ(router.match("/api/items/special")->name, "exact");
  EXPECT_EQ(router.match("/api/items/special/more")->name, "items");
}

TEST(Router, NoMatchWithoutCatchAll) {
  ConfigResult result = loadConfigString(R"(
[upstream.a]
url = "http://127.0.0.1:1"
[[route]]
name = "api"
prefix = "/api/"
upstream = "a"
)", "router.toml");
  ASSERT_TRUE(result) << result.error;
  Router router(*result.config);
  EXPECT_EQ(router.match("/"), nullptr);
  EXPECT_EQ(router.match("/api"), nullptr);
  EXPECT_NE(router.match("/api/"), nullptr);
}

}  // namespace
}  // namespace perfgate
