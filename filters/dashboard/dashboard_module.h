// The admin dashboard as a module: one page, its script and stylesheet (embedded at build time,
// dashboard_files.h), served by the admin listener at "/" and "/dashboard/NAME". The page only
// talks to the admin API of the origin it came from.
#pragma once

#include "filters/module.h"

namespace perfgate {

class DashboardModule final : public Module {
 public:
  static void declareConfig(ConfigSchema&) {}

  std::string_view name() const override { return "dashboard"; }
  void registerAdmin(AdminRoutes& routes) override;
};

}  // namespace perfgate
