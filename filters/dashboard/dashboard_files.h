// The admin dashboard: the page, script and stylesheet in filters/dashboard/, embedded in the
// binary at build time (filters/dashboard/embed.cmake) and served by the admin listener at "/"
// and "/dashboard/NAME". The page only talks to the admin API of the origin it came from.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>

namespace perfgate {

struct DashboardFile {
  std::string_view name;  // "index.html", "app.js", ...
  std::string_view body;
};
extern const DashboardFile kDashboardFiles[];
extern const size_t kDashboardFileCount;

// The file for admin path `path` ("/" is index.html, "/dashboard/NAME" is NAME); nullptr if none.
const DashboardFile* dashboardFile(std::string_view path);
// "text/html; charset=utf-8" and so on, by the name's extension.
const char* dashboardContentType(std::string_view name);
// The response fields every dashboard file is sent with (Content-Security-Policy and friends).
extern const std::pair<const char*, const char*> kDashboardHeaders[4];

}  // namespace perfgate
