#include "filters/cache/l2_record.h"

#include <cstring>
#include <limits>

namespace perfgate {
namespace {

constexpr char kMagic[4] = {'P', 'G', 'L', '2'};
constexpr uint8_t kMustRevalidate = 1;
constexpr uint8_t kNoCache = 2;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { little(v, 2); }
  void i64(int64_t v) { little(static_cast<uint64_t>(v), 8); }
  void str(std::string_view s) {
    little(s.size(), 4);
    out_.append(s);
  }
  void list(const std::vector<std::string>& items) {
    u16(static_cast<uint16_t>(items.size()));
    for (const std::string& item : items) str(item);
  }

 private:
  void little(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(uint8_t& v) {
    uint64_t x = 0;
    if (!little(x, 1)) return false;
    v = static_cast<uint8_t>(x);
    return true;
  }
  bool u16(uint16_t& v) {
    uint64_t x = 0;
    if (!little(x, 2)) return false;
    v = static_cast<uint16_t>(x);
    return true;
  }
  bool i64(int64_t& v) {
    uint64_t x = 0;
    if (!little(x, 8)) return false;
    v = static_cast<int64_t>(x);
    return true;
  }
  bool str(std::string& s, uint64_t max = std::numeric_limits<uint32_t>::max()) {
    uint64_t size = 0;
    if (!little(size, 4)) return false;
    if (size > max) {
      too_large_ = true;
      return false;
    }
    if (size > in_.size()) return false;
    s.assign(in_.substr(0, size));
    in_.remove_prefix(size);
    return true;
  }
  bool list(std::vector<std::string>& items) {
    uint16_t count = 0;
    if (!u16(count)) return false;
    items.resize(count);
    for (std::string& item : items) {
      if (!str(item)) return false;
    }
    return true;
  }
  bool done() const { return in_.empty(); }
  bool tooLarge() const { return too_large_; }

 private:
  bool little(uint64_t& v, int bytes) {
    if (in_.size() < static_cast<size_t>(bytes)) return false;
    v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(bytes);
    return true;
  }
  std::string_view in_;
  bool too_large_ = false;
};

}  // namespace

std::string encodeL2Record(const CacheEntry& entry) {
  std::string out;
  out.reserve(entry.body.size() + entry.fields.size() + entry.key.size() + entry.variant.size() + 160);
  out.append(kMagic, sizeof kMagic);
  Writer w(out);
  w.u8(kL2RecordVersion);
  w.u8(static_cast<uint8_t>((entry.must_revalidate ? kMustRevalidate : 0) | (entry.no_cache ? kNoCache : 0)));
  w.u16(static_cast<uint16_t>(entry.status));
  for (const std::string* s : {&entry.key, &entry.variant, &entry.route, &entry.reason, &entry.fields, &entry.body,
                               &entry.etag, &entry.last_modified}) {
    w.str(*s);
  }
  w.list(entry.vary);
  w.list(entry.tags);
  for (int64_t v : {entry.request_time, entry.response_time, entry.date_value, entry.age_value,
                    entry.freshness_lifetime, entry.stale_while_revalidate, entry.stale_if_error}) {
    w.i64(v);
  }
  return out;
}

const char* describe(L2DecodeError error) {
  switch (error) {
    case L2DecodeError::None: return "ok";
    case L2DecodeError::Magic: return "not a perfgate record";
    case L2DecodeError::Version: return "unknown record version";
    case L2DecodeError::Truncated: return "truncated record";
    case L2DecodeError::Malformed: return "malformed record";
    case L2DecodeError::TooLarge: return "body over the object limit";
  }
  return "?";
}

std::shared_ptr<CacheEntry> decodeL2Record(std::string_view record, uint64_t max_body_bytes, L2DecodeError& error) {
  error = L2DecodeError::None;
  if (record.size() < sizeof kMagic || std::memcmp(record.data(), kMagic, sizeof kMagic) != 0) {
    error = L2DecodeError::Magic;
    return nullptr;
  }
  Reader r(record.substr(sizeof kMagic));
  uint8_t version = 0;
  uint8_t flags = 0;
  uint16_t status = 0;
  if (!r.u8(version)) {
    error = L2DecodeError::Truncated;
    return nullptr;
  }
  if (version != kL2RecordVersion) {
    error = L2DecodeError::Version;
    return nullptr;
  }
  auto entry = std::make_shared<CacheEntry>();
  bool ok = r.u8(flags) && r.u16(status);
  for (std::string* s : {&entry->key, &entry->variant, &entry->route, &entry->reason, &entry->fields}) {
    ok = ok && r.str(*s);
  }
  ok = ok && r.str(entry->body, max_body_bytes) && r.str(entry->etag) && r.str(entry->last_modified) &&
       r.list(entry->vary) && r.list(entry->tags);
  for (int64_t* v : {&entry->request_time, &entry->response_time, &entry->date_value, &entry->age_value,
                     &entry->freshness_lifetime, &entry->stale_while_revalidate, &entry->stale_if_error}) {
    ok = ok && r.i64(*v);
  }
  if (!ok) {
    error = r.tooLarge() ? L2DecodeError::TooLarge : L2DecodeError::Truncated;
    return nullptr;
  }
  // Values a stored response cannot have: the record was not written by perfgate, or was damaged.
  bool sane = r.done() && (flags & ~(kMustRevalidate | kNoCache)) == 0 && status >= 100 && status <= 999 &&
              !entry->key.empty() && entry->freshness_lifetime >= 0 && entry->age_value >= 0 &&
              entry->stale_while_revalidate >= 0 && entry->stale_if_error >= 0 &&
              entry->reason.find_first_of("\r\n") == std::string::npos;
  // The stored fields are replayed to clients as they are: each must be one "Name: value\r\n" line.
  std::string_view fields = entry->fields;
  while (sane && !fields.empty()) {
    size_t eol = fields.find("\r\n");
    std::string_view line = fields.substr(0, eol);
    size_t colon = line.find(':');
    sane = eol != std::string_view::npos && colon != std::string_view::npos && colon > 0 &&
           line.find('\n') == std::string_view::npos && line.find('\r') == std::string_view::npos;
    fields.remove_prefix(eol == std::string_view::npos ? fields.size() : eol + 2);
  }
  if (!sane) {
    error = L2DecodeError::Malformed;
    return nullptr;
  }
  entry->status = status;
  entry->must_revalidate = (flags & kMustRevalidate) != 0;
  entry->no_cache = (flags & kNoCache) != 0;
  return entry;
}

}  // namespace perfgate
