#include "filters/cache/cache_purge.h"

#include <algorithm>

#include "filters/cache/cache_key.h"
#include "gateway/text.h"

namespace perfgate {

std::string CachePurge::parse(const nlohmann::json& body, CachePurge& out) {
  if (!body.is_object()) {
    return "body must be a JSON object: {} clears all, or one of {\"route\"|\"prefix\"|\"url\"|\"tag\": ...}, with "
           "\"soft\": true to mark stale instead of removing";
  }
  CachePurge purge;
  for (const auto& [key, value] : body.items()) {
    if (key == "soft") {
      if (!value.is_boolean()) return "'soft' must be true or false";
      purge.soft = value.get<bool>();
      continue;
    }
    if (key != "route" && key != "prefix" && key != "url" && key != "tag") {
      return "unknown key '" + excerpt(key) + "': use route, prefix, url or tag (and soft)";
    }
    if (!purge.selector.empty()) return "give at most one of route, prefix, url, tag";
    if (!value.is_string()) return "'" + key + "' must be a string";
    purge.selector = key;
    purge.value = value.get<std::string>();
  }
  out = std::move(purge);
  return "";
}

bool CachePurge::selects(std::string_view route, std::string_view key) const {
  if (selector.empty()) return true;
  if (selector == "route") return route == value;
  CacheKeyParts parts;
  if (!splitCacheKey(key, parts)) return false;
  if (selector == "prefix") return parts.path.substr(0, value.size()) == value;
  if (selector == "url") {  // path, then "?query" when the key has one
    std::string_view wanted = value;
    if (!wanted.starts_with(parts.path)) return false;
    wanted.remove_prefix(parts.path.size());
    if (parts.query.empty()) return wanted.empty();
    return wanted.size() == parts.query.size() + 1 && wanted.front() == '?' && wanted.substr(1) == parts.query;
  }
  return false;  // tag
}

bool CachePurge::selects(const CacheEntry& entry) const {
  if (selector == "tag") return std::find(entry.tags.begin(), entry.tags.end(), value) != entry.tags.end();
  return selects(entry.route, entry.key);
}

size_t CachePurge::apply(CacheStore& store, int64_t now) const {
  if (selector == "tag") return soft ? store.markStaleTagged(value, now) : store.eraseTagged(value);
  auto pred = [this](const CacheEntry& entry) { return selects(entry); };
  if (soft) return store.markStaleIf(pred, now);
  return selector.empty() ? store.clear() : store.eraseIf(pred);
}

std::string CachePurge::message(const std::string& origin) const {
  return nlohmann::json({{"origin", origin}, {"op", "clear"}, {"selector", selector}, {"value", value}, {"soft", soft}})
      .dump();
}

}  // namespace perfgate
