// Everything a worker needs that a reload can change, frozen together: the config, the route
// table derived from it, the filter chain and the access log. Swapped whole; requests in flight
// keep the snapshot they started with.
#pragma once

#include <memory>

#include "filters/filter.h"
#include "gateway/access_log.h"
#include "gateway/config.h"
#include "gateway/router.h"

namespace perfgate {

struct Snapshot {
  explicit Snapshot(std::shared_ptr<const Config> c, std::shared_ptr<AccessLog> log)
      : config(std::move(c)), router(*config), access_log(std::move(log)) {}

  std::shared_ptr<const Config> config;
  Router router;
  std::shared_ptr<AccessLog> access_log;  // null when the access log is off
  FilterChain filters;
};

}  // namespace perfgate
