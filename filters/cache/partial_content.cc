#include "filters/cache/partial_content.h"

#include <algorithm>
#include <charconv>

#include "gateway/http/conditional.h"
#include "gateway/http/http_date.h"
#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

std::optional<uint64_t> number(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<ContentRange> parseContentRange(std::string_view value) {
  value = trimOws(value);
  if (value.substr(0, 6) != "bytes ") return std::nullopt;
  value.remove_prefix(6);
  size_t dash = value.find('-');
  size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) return std::nullopt;
  std::optional<uint64_t> first = number(value.substr(0, dash));
  std::optional<uint64_t> last = number(value.substr(dash + 1, slash - dash - 1));
  std::optional<uint64_t> complete = number(value.substr(slash + 1));
  if (!first || !last || !complete || *first > *last || *last >= *complete) return std::nullopt;
  return ContentRange{*first, *last, *complete};
}

const CacheEntry::Part* coveringPart(const CacheEntry& entry, const ByteRange& range) {
  for (const CacheEntry::Part& part : entry.parts) {
    if (part.first <= range.first && range.last <= part.last()) return &part;
  }
  return nullptr;
}

std::optional<ByteRange> missingSpan(const CacheEntry& entry, const ByteRange& range) {
  // Walk the sorted parts: the first byte no part holds, then the last one.
  uint64_t first = range.first;
  for (const CacheEntry::Part& part : entry.parts) {
    if (part.first <= first && first <= part.last()) first = part.last() + 1;
  }
  if (first > range.last) return std::nullopt;
  uint64_t last = range.last;
  for (auto part = entry.parts.rbegin(); part != entry.parts.rend(); ++part) {
    if (part->first <= last && last <= part->last()) last = part->first - 1;
  }
  return ByteRange{first, last, false};
}

std::string_view strongValidator(const CacheEntry& entry) {
  if (!entry.etag.empty()) return entry.etag.front() == '"' ? std::string_view(entry.etag) : std::string_view();
  std::optional<int64_t> modified = entry.last_modified.empty() ? std::nullopt : parseHttpDate(entry.last_modified);
  if (modified && *modified + 60 <= entry.date_value) return entry.last_modified;
  return {};
}

void combineParts(CacheEntry& fresh, const CacheEntry* stored, uint64_t max_bytes) {
  std::string_view validator = strongValidator(fresh);
  uint64_t bytes = 0;
  for (const CacheEntry::Part& part : fresh.parts) bytes += part.bytes.size();
  if (stored != nullptr) {
    for (const CacheEntry::Part& part : stored->parts) bytes += part.bytes.size();
  }
  if (stored != nullptr && stored->partial() && !validator.empty() && validator == strongValidator(*stored) &&
      stored->complete_length == fresh.complete_length && stored->variant == fresh.variant && bytes <= max_bytes) {
    // Merge the two sorted lists; overlapping or adjacent parts become one (the bytes they share
    // are the same representation's, so either copy will do).
    std::vector<CacheEntry::Part> all = stored->parts;
    for (CacheEntry::Part& part : fresh.parts) all.push_back(std::move(part));
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    fresh.parts.clear();
    for (CacheEntry::Part& part : all) {
      if (!fresh.parts.empty() && part.first <= fresh.parts.back().last() + 1) {
        CacheEntry::Part& back = fresh.parts.back();
        if (part.last() > back.last()) back.bytes.append(part.bytes, back.last() + 1 - part.first);
        continue;
      }
      fresh.parts.push_back(std::move(part));
    }
  }
  if (fresh.parts.size() == 1 && fresh.parts.front().first == 0 &&
      fresh.parts.front().bytes.size() == fresh.complete_length) {
    // The whole representation: from now on the complete response, like a fill.
    fresh.body = std::move(fresh.parts.front().bytes);
    fresh.parts.clear();
    fresh.complete_length = 0;
    fresh.status = 200;
    fresh.reason = "OK";
  }
}

}  // namespace perfgate
