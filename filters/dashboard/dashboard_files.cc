#include "filters/dashboard/dashboard_files.h"

namespace perfgate {

const DashboardFile* dashboardFile(std::string_view path) {
  constexpr std::string_view kDir = "/dashboard/";
  std::string_view name;
  if (path == "/") {
    name = "index.html";
  } else if (path.starts_with(kDir)) {
    name = path.substr(kDir.size());
  } else {
    return nullptr;
  }
  for (size_t i = 0; i < kDashboardFileCount; ++i) {
    if (kDashboardFiles[i].name == name) return &kDashboardFiles[i];
  }
  return nullptr;
}

const char* dashboardContentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

// Same-origin script, style and fetch only; nothing inline, no frames, no forms posting anywhere.
const std::pair<const char*, const char*> kDashboardHeaders[4] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
     "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
};

}  // namespace perfgate
