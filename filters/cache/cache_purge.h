// One cache clear, as POST /api/cache/clear asks it and as a purge message carries it to the
// other instances over Redis pub/sub: all, or the entries of a route, a path prefix, a URL
// (path and query) or a tag; removed, or (soft) marked stale.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "filters/cache/cache_store.h"

namespace perfgate {

struct CachePurge {
  std::string selector;  // "" (all), "route", "prefix", "url", "tag"
  std::string value;
  bool soft = false;

  // Reads an admin body ({}, {"route": ...}, ..., "soft": bool); returns "" or what is wrong.
  static std::string parse(const nlohmann::json& body, CachePurge& out);

  // Whether a stored response of `route` under cache key `key` is selected (tags aside: they
  // need the entry).
  bool selects(std::string_view route, std::string_view key) const;
  bool selects(const CacheEntry& entry) const;

  // Applies it to L1; returns how many entries went (or were marked stale).
  size_t apply(CacheStore& store, int64_t now) const;

  // The purge message form, {"origin": ..., "op": "clear", "selector": ..., "value": ..., "soft": ...}.
  std::string message(const std::string& origin) const;
};

}  // namespace perfgate
