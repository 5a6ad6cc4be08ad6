#include "gateway/config/router.h"

#include <algorithm>

namespace perfgate {

Router::Router(const Config& config) {
  for (const RouteConfig& route : config.routes) {
    if (!route.path.empty()) {
      exact_.emplace(route.path, &route);
    } else {
      prefixes_.push_back(&route);
    }
  }
  std::stable_sort(prefixes_.begin(), prefixes_.end(), [](const RouteConfig* a, const RouteConfig* b) {
    return a->prefix.size() > b->prefix.size();
  });
}

const RouteConfig* Router::match(std::string_view path) const {
  if (!exact_.empty()) {
    auto it = exact_.find(path);
    if (it != exact_.end()) return it->second;
  }
  for (const RouteConfig* route : prefixes_) {
    if (path.substr(0, route->prefix.size()) == route->prefix) return route;
  }
  return nullptr;
}

}  // namespace perfgate
