#include "request_parser.h"

#include <array>
#include <cstring>

namespace sample_backend {
namespace {

constexpr std::array<bool, 256> makeTcharTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = makeTcharTable();

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTchar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// Splits the request-target into path and query (RFC 9112 3.2: origin-form, absolute-form,
// asterisk-form). Returns false for anything else.
bool splitTarget(std::string_view method, RequestHead& out) {
  std::string_view t = out.target;
  if (t.front() != '/') {
    if (t == "*" && method == "OPTIONS") {
      out.path = t;
      return true;
    }
    size_t scheme = startsWithIgnoreCase(t, "http://") ? 7 : startsWithIgnoreCase(t, "https://") ? 8 : 0;
    if (scheme == 0) return false;
    size_t slash = t.find_first_of("/?", scheme);
    if (slash == scheme) return false;  // empty authority
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
    if (t.front() == '?') return false;  // keep it simple: "http://host?q" is not origin-form
  }
  size_t q = t.find('?');
  out.path = t.substr(0, q);
  out.query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
  return true;
}

bool parseContentLength(std::string_view v, int64_t* out) {
  if (v.empty() || v.size() > 18) return false;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  *out = n;
  return true;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool headerHasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (equalsIgnoreCase(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

void RequestHead::reset() {
  method = target = path = query = {};
  minor_version = 1;
  headers.clear();
  keep_alive = true;
  chunked = false;
  expect_continue = false;
  content_length = -1;
  if_none_match = if_modified_since = {};
  head_bytes = 0;
}

ParseStatus parseRequestHead(const char* data, size_t len, RequestHead& out) {
  out.reset();
  const size_t limit = len < kMaxHeadBytes ? len : kMaxHeadBytes;
  const ParseStatus incomplete = len >= kMaxHeadBytes ? ParseStatus::kTooLarge : ParseStatus::kIncomplete;
  size_t pos = 0;

  // Lines end in CRLF; a bare LF is accepted (RFC 9112 2.2), a bare CR is not.
  auto nextLine = [&](std::string_view* line) {
    const void* nl = std::memchr(data + pos, '\n', limit - pos);
    if (nl == nullptr) return false;
    size_t end = static_cast<const char*>(nl) - data;
    size_t line_end = (end > pos && data[end - 1] == '\r') ? end - 1 : end;
    *line = std::string_view(data + pos, line_end - pos);
    pos = end + 1;
    return true;
  };

  // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request-line.
  std::string_view line;
  do {
    if (!nextLine(&line)) return incomplete;
  } while (line.empty() && pos <= 4);
  if (line.find('\r') != std::string_view::npos) return ParseStatus::kBadRequest;

  // request-line = method SP request-target SP HTTP-version
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return ParseStatus::kBadRequest;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return ParseStatus::kBadRequest;
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!isToken(out.method) || out.target.empty()) return ParseStatus::kBadRequest;
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return ParseStatus::kBadRequest;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return ParseStatus::kBadRequest;
  }
  if (version[5] != '1') return ParseStatus::kBadVersion;
  out.minor_version = version[7] == '0' ? 0 : 1;
  if (!splitTarget(out.method, out)) return ParseStatus::kBadRequest;

  bool saw_close = false, saw_keep_alive = false, saw_te = false;
  int host_count = 0;
  for (;;) {
    if (!nextLine(&line)) return incomplete;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') return ParseStatus::kBadRequest;  // obs-fold
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return ParseStatus::kBadRequest;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (!isToken(name)) return ParseStatus::kBadRequest;  // also rejects "Name :"
    if (value.find('\r') != std::string_view::npos || value.find('\0') != std::string_view::npos) {
      return ParseStatus::kBadRequest;
    }
    if (out.headers.size() >= kMaxHeaderCount) return ParseStatus::kTooLarge;
    out.headers.push_back({name, value});

    switch (name.size()) {
      case 4:
        if (equalsIgnoreCase(name, "host")) ++host_count;
        break;
      case 6:
        if (equalsIgnoreCase(name, "expect") && equalsIgnoreCase(value, "100-continue")) {
          out.expect_continue = true;
        }
        break;
      case 10:
        if (equalsIgnoreCase(name, "connection")) {
          saw_close = saw_close || headerHasToken(value, "close");
          saw_keep_alive = saw_keep_alive || headerHasToken(value, "keep-alive");
        }
        break;
      case 13:
        if (equalsIgnoreCase(name, "if-none-match")) out.if_none_match = value;
        break;
      case 14:
        if (equalsIgnoreCase(name, "content-length")) {
          int64_t n = 0;
          if (!parseContentLength(value, &n)) return ParseStatus::kBadRequest;
          if (out.content_length >= 0 && out.content_length != n) return ParseStatus::kBadRequest;
          out.content_length = n;
        }
        break;
      case 17:
        if (equalsIgnoreCase(name, "transfer-encoding")) {
          // Only "chunked" is understood; it must be the one and only coding.
          if (saw_te || !equalsIgnoreCase(value, "chunked")) return ParseStatus::kBadRequest;
          saw_te = true;
          out.chunked = true;
        } else if (equalsIgnoreCase(name, "if-modified-since")) {
          out.if_modified_since = value;
        }
        break;
      default:
        break;
    }
  }
  out.head_bytes = pos;

  // RFC 9112 6.1: Content-Length with Transfer-Encoding is a smuggling signature; reject it.
  if (out.chunked && (out.content_length >= 0 || out.minor_version == 0)) return ParseStatus::kBadRequest;
  // RFC 9112 3.2: a 1.1 request has exactly one Host.
  if (out.minor_version == 1 ? host_count != 1 : host_count > 1) return ParseStatus::kBadRequest;
  out.keep_alive = !saw_close && (out.minor_version == 1 || saw_keep_alive);
  return ParseStatus::kComplete;
}

}  // namespace sample_backend
