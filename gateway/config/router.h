// Route table built from a config snapshot: exact paths first, then the longest prefix.
#pragma once

#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/config/config.h"

namespace perfgate {

class Router {
 public:
  explicit Router(const Config& config);
  // The route for `path`, or nullptr when none matches.
  const RouteConfig* match(std::string_view path) const;

 private:
  std::unordered_map<std::string_view, const RouteConfig*> exact_;
  std::vector<const RouteConfig*> prefixes_;  // longest first
};

}  // namespace perfgate
