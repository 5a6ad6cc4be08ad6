#include "filters/cache/cache_serve.h"

#include <charconv>

#include "filters/cache/freshness.h"
#include "filters/cache/partial_content.h"
#include "filters/cache/stored_response.h"
#include "gateway/http/conditional.h"
#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

// If-Range (RFC 9110 §13.1.5): the range applies only while the client's validator is current
// (a strong ETag match, or exactly the stored Last-Modified).
bool ifRangeHolds(const RequestHead& request, const CacheEntry& entry) {
  std::optional<std::string_view> if_range = request.header("if-range");
  if (!if_range) return true;
  std::string_view value = trimOws(*if_range);
  if (!value.empty() && (value.front() == '"' || value.substr(0, 2) == "W/")) {
    return strongEtagMatch(value, entry.etag);
  }
  return !entry.last_modified.empty() && value == entry.last_modified;
}

// `value` in decimal, into `buffer`.
std::string_view decimal(char (&buffer)[24], int64_t value) {
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)ec;  // 24 characters hold any int64_t
  return std::string_view(buffer, static_cast<size_t>(end - buffer));
}

// What the stored response answers: 304, or the byte range (206 / 416) of a GET's single Range
// that If-Range lets apply, or (neither) the whole response.
struct Answer {
  bool not_modified = false;
  std::optional<ByteRange> range;
};

Answer answerFor(const RequestHead& request, const CacheEntry& entry) {
  Answer answer;
  bool representation = entry.status == 200 || entry.partial();
  if (!representation) return answer;
  answer.not_modified = notModified(request, entry.etag, entry.last_modified);
  if (!answer.not_modified) answer.range = rangeAsked(request, entry);
  return answer;
}

}  // namespace

std::optional<ByteRange> rangeAsked(const RequestHead& request, const CacheEntry& entry) {
  if (request.method != "GET") return std::nullopt;
  std::optional<std::string_view> header = request.header("range");
  if (!header || !ifRangeHolds(request, entry)) return std::nullopt;
  return singleRange(*header, entry.partial() ? entry.complete_length : entry.body.size());
}

bool storedAnswers(const RequestHead& request, const CacheEntry& entry) {
  if (!entry.partial()) return true;
  Answer answer = answerFor(request, entry);
  return answer.not_modified ||
         (answer.range && (answer.range->unsatisfiable || coveringPart(entry, *answer.range) != nullptr));
}

std::optional<ByteRange> singleRange(std::string_view header, uint64_t size) {
  header = trimOws(header);
  if (header.substr(0, 6) != "bytes=" || header.find(',') != std::string_view::npos) return std::nullopt;
  std::string_view spec = trimOws(header.substr(6));
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view text) -> std::optional<uint64_t> {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  };
  ByteRange range;
  if (dash == 0) {  // suffix: the last n bytes
    std::optional<uint64_t> n = number(spec.substr(1));
    if (!n) return std::nullopt;
    if (*n == 0 || size == 0) return ByteRange{0, 0, true};
    range.first = *n >= size ? 0 : size - *n;
    range.last = size - 1;
    return range;
  }
  std::optional<uint64_t> first = number(spec.substr(0, dash));
  if (!first) return std::nullopt;
  std::optional<uint64_t> last = dash + 1 < spec.size() ? number(spec.substr(dash + 1)) : std::optional<uint64_t>(UINT64_MAX);
  if (!last || *last < *first) return std::nullopt;
  if (*first >= size) return ByteRange{0, 0, true};
  range.first = *first;
  range.last = std::min(*last, size - 1);
  return range;
}

uint64_t serveStored(Exchange& exchange, const CacheEntryPtr& entry, int64_t now, CacheOutcome outcome,
                     std::string_view cache_status) {
  const RequestHead& request = exchange.request();
  int64_t age = currentAge(*entry, now);
  auto [not_modified, range] = answerFor(request, *entry);
  const uint64_t size = entry->partial() ? entry->complete_length : entry->body.size();
  // A per-thread head: its buffers are kept across hits, so a full hit allocates nothing.
  thread_local ResponseHead head;
  head.headers.clear();
  std::string_view prefix;  // a full hit sends the head serialized when the entry was stored
  std::string_view body;
  char number[24];
  if (not_modified) {
    head.status = 304;
    head.reason = "Not Modified";
    addNotModifiedFields(entry->fields, head.headers);
  } else if (range && range->unsatisfiable) {
    head.status = 416;
    head.reason = "Range Not Satisfiable";
    addNotModifiedFields(entry->fields, head.headers);
    head.headers.add("Content-Range", "bytes */" + std::to_string(size));
    head.headers.add("Content-Length", "0");
  } else if (range) {
    head.status = 206;
    head.reason = "Partial Content";
    appendSerializedFields(entry->fields, head.headers);
    head.headers.add("Content-Range", "bytes " + std::to_string(range->first) + "-" + std::to_string(range->last) +
                                          "/" + std::to_string(size));
    head.headers.add("Content-Length", decimal(number, static_cast<int64_t>(range->last - range->first + 1)));
    const CacheEntry::Part* part = entry->partial() ? coveringPart(*entry, *range) : nullptr;
    std::string_view bytes = part != nullptr ? std::string_view(part->bytes) : std::string_view(entry->body);
    uint64_t offset = part != nullptr ? part->first : 0;
    body = bytes.substr(range->first - offset, range->last - range->first + 1);
  } else {
    head.status = entry->status;
    prefix = entry->head;  // status line to Via
    body = entry->body;
  }
  if (not_modified || range) head.headers.add("Via", "1.1 perfgate");
  head.headers.add("Age", decimal(number, age));
  char verdict[16];
  size_t length = 0;
  for (const char* c = outcomeName(outcome); *c != '\0' && length < sizeof verdict; ++c) {
    verdict[length++] = static_cast<char>(*c - 'a' + 'A');
  }
  head.headers.add("X-Cache", std::string_view(verdict, length));
  exchange.notes().cache_verdict = outcomeName(outcome);
  thread_local std::string status;
  status.assign("perfgate; ");
  status.append(cache_status);
  status.append("; ttl=");
  status.append(decimal(number, entry->freshness_lifetime - age));
  head.headers.add("Cache-Status", status);
  if (request.isHead()) body = {};
  exchange.respond(head, body, entry, prefix);
  return body.size();
}

}  // namespace perfgate
