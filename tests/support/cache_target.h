// Targets for the test backend's /cache endpoint (see test_backend.h): "/cache/NAME?k=v&...",
// each value URL-encoded.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "support/test_backend.h"

namespace perfgate::test {

using Params = std::initializer_list<std::pair<const char*, std::string>>;

inline std::string cacheTarget(const std::string& name, Params params) {
  std::string target = "/cache/" + name;
  char sep = '?';
  for (const auto& [k, v] : params) {
    target += sep;
    target += k;
    target += '=';
    target += urlEncode(v);
    sep = '&';
  }
  return target;
}

}  // namespace perfgate::test
