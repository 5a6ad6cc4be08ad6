#include "filters/dashboard/dashboard_module.h"

#include "filters/dashboard/dashboard_files.h"

namespace perfgate {
namespace {

void serve(AdminCall& call) {
  const DashboardFile* file = dashboardFile(call.path());
  if (file == nullptr) return call.replyError(404, "no such dashboard file");
  for (auto [name, value] : kDashboardHeaders) call.header(name, value);
  call.reply(200, std::string(file->body), dashboardContentType(file->name));
}

}  // namespace

void DashboardModule::registerAdmin(AdminRoutes& routes) {
  routes.add("/", false, kRead, serve);
  routes.add("/dashboard/", true, kRead, serve);
}

}  // namespace perfgate
