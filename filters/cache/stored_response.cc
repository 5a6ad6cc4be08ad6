#include "filters/cache/stored_response.h"

#include <algorithm>
#include <cctype>

#include "gateway/http/conditional.h"
#include "gateway/http/connection_fields.h"
#include "gateway/http/content_codec.h"
#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool listed(const std::vector<std::string>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return equalsIgnoreCase(n, name); });
}

// The fields stored with a response: what a hit replays. Hop-by-hop fields, framing, Age, Via,
// the cache's own fields and a part's Content-Range are made afresh per response; fields a
// qualified private or no-cache names are never stored (RFC 9111 §5.2.2.4, §5.2.2.7).
std::string storedFields(const ResponseHead& head, const CacheControl& cc) {
  ConnectionOptions connection_named(head.headers);
  HeaderBlock kept;
  for (HeaderField field : head.headers) {
    std::string_view name = field.name;
    if (isHopByHop(name) || equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "age") ||
        equalsIgnoreCase(name, "via") || equalsIgnoreCase(name, "x-cache") ||
        equalsIgnoreCase(name, "cache-status") || (head.status == 206 && equalsIgnoreCase(name, "content-range")) ||
        listed(cc.private_fields, name) ||
        listed(cc.no_cache_fields, name) || connection_named.namesField(name)) {
      continue;
    }
    kept.add(name, field.value);
  }
  return kept.serialize();
}

bool hasBody(int status) { return status != 204 && status != 304 && status >= 200; }

}  // namespace

std::vector<std::string> varyNames(const HeaderBlock& fields) {
  std::vector<std::string> names;
  fields.forEach("vary", [&](std::string_view value) {
    forEachListElement(value, [&](std::string_view element) {
      std::string name = lower(element);
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
    });
  });
  return names;
}

std::vector<std::string> purgeTags(const HeaderBlock& fields) {
  std::vector<std::string> tags;
  auto add = [&tags](std::string_view tag) {
    if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.emplace_back(tag);
  };
  for (HeaderField field : fields) {
    if (equalsIgnoreCase(field.name, "cache-tag")) {
      forEachListElement(field.value, add);
    } else if (equalsIgnoreCase(field.name, "surrogate-key")) {
      std::string_view rest = field.value;
      while (!rest.empty()) {
        size_t end = rest.find_first_of(" \t");
        add(rest.substr(0, end));
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
      }
    }
  }
  return tags;
}

void finishEntry(CacheEntry& entry) {
  entry.head.clear();
  if (entry.partial()) return;  // answered range by range, never whole
  entry.head.reserve(entry.fields.size() + entry.reason.size() + 64);
  entry.head.append("HTTP/1.1 ");
  entry.head.append(std::to_string(entry.status));
  entry.head.push_back(' ');
  entry.head.append(entry.reason);
  entry.head.append("\r\n");
  entry.head.append(entry.fields);
  if (hasBody(entry.status)) {
    entry.head.append("Content-Length: ");
    entry.head.append(std::to_string(entry.body.size()));
    entry.head.append("\r\n");
  }
  entry.head.append("Via: 1.1 perfgate\r\n");
}

std::shared_ptr<CacheEntry> newEntry(const std::string& key, uint64_t hash, std::vector<std::string> vary,
                                     std::string variant, const std::string& route, const ResponseHead& head,
                                     const HeaderBlock& policy_fields, const CacheControl& response_cc,
                                     int64_t request_time, int64_t now, const StoragePolicy& policy) {
  auto entry = std::make_shared<CacheEntry>();
  entry->key = key;
  entry->hash = hash;
  entry->vary = std::move(vary);
  entry->variant = std::move(variant);
  entry->route = route;
  entry->tags = purgeTags(head.headers);
  entry->status = head.status;
  entry->reason = head.reason;
  entry->fields = storedFields(head, response_cc);
  fillFreshness(*entry, policy_fields, request_time, now, policy);
  return entry;
}

CacheEntryPtr refreshedEntry(const CacheEntry& stale, const ResponseHead& head, const CacheControl& response_cc,
                             const std::vector<std::string>& targeted, int64_t request_time, int64_t now,
                             const StoragePolicy& policy) {
  HeaderBlock fresh;
  appendSerializedFields(storedFields(head, response_cc), fresh);
  HeaderBlock merged;
  appendSerializedFields(stale.fields, merged);
  for (HeaderField field : fresh) merged.remove(field.name);
  for (HeaderField field : fresh) merged.add(field.name, field.value);
  auto refreshed = std::make_shared<CacheEntry>(stale);
  refreshed->fields = merged.serialize();
  std::optional<HeaderBlock> targeted_fields = targetedPolicyFields(merged, targeted);
  fillFreshness(*refreshed, targeted_fields ? *targeted_fields : merged, request_time, now, policy);
  finishEntry(*refreshed);
  return refreshed;
}

std::optional<ContentCoding> storedCoding(const CacheEntry& entry) {
  HeaderBlock fields;
  appendSerializedFields(entry.fields, fields);
  std::optional<std::string_view> coding = fields.get("content-encoding");
  return coding ? parseCoding(trimOws(*coding)) : ContentCoding::Identity;
}

std::shared_ptr<CacheEntry> recodedEntry(const CacheEntry& source, ContentCoding coding, int level,
                                         std::string variant, uint64_t max_bytes, bool generated_etags,
                                         uint64_t* identity_bytes) {
  HeaderBlock fields;
  appendSerializedFields(source.fields, fields);
  std::optional<ContentCoding> from = storedCoding(source);
  if (source.partial() || !from) return nullptr;
  std::optional<std::string> identity = decodeWhole(*from, source.body, max_bytes);
  if (!identity) return nullptr;
  if (identity_bytes != nullptr) *identity_bytes = identity->size();
  auto entry = std::make_shared<CacheEntry>();
  *entry = source;  // key, route, status, freshness inputs
  entry->body = coding == ContentCoding::Identity ? std::move(*identity) : encodeWhole(coding, *identity, level);
  if (entry->body.empty() && !identity->empty()) return nullptr;
  entry->variant = std::move(variant);
  // A strong tag named the other bytes: the route's generated tag of these bytes, or the weak form.
  if (!entry->etag.empty() && entry->etag.front() == '"') {
    entry->etag = generated_etags ? strongEtagOf(entry->body) : "W/" + entry->etag;
  }
  fields.remove("content-encoding");
  if (coding != ContentCoding::Identity) fields.add("Content-Encoding", codingName(coding));
  fields.remove("etag");
  if (!entry->etag.empty()) fields.add("ETag", entry->etag);
  entry->fields = fields.serialize();
  finishEntry(*entry);
  return entry;
}

void addNotModifiedFields(std::string_view stored_fields, HeaderBlock& out) {
  HeaderBlock stored;
  appendSerializedFields(stored_fields, stored);
  for (HeaderField field : stored) {
    if (isNotModifiedField(field.name)) out.add(field.name, field.value);
  }
}

bool staleIfErrorAllows(const CacheEntry& entry, int64_t now) {
  int64_t staleness = currentAge(entry, now) - entry.freshness_lifetime;
  return entry.stale_if_error > 0 && staleness <= entry.stale_if_error;
}

}  // namespace perfgate
