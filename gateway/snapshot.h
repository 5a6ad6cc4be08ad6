// Everything a worker needs that a reload can change, frozen together: the config, the route
// table derived from it and the modules' filter chain. Swapped whole; requests in flight keep
// the snapshot they started with.
#pragma once

#include <memory>

#include "filters/filter.h"
#include "gateway/config/config.h"
#include "gateway/config/router.h"

namespace perfgate {

struct Snapshot {
  explicit Snapshot(std::shared_ptr<const Config> c) : config(std::move(c)), router(*config) {}

  std::shared_ptr<const Config> config;
  Router router;
  FilterChain filters;
};

}  // namespace perfgate
