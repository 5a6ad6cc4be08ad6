#include "gateway/http/uri.h"

namespace perfgate {
namespace {

bool isUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char upperHex(char c) { return (c >= 'a' && c <= 'f') ? static_cast<char>(c - 32) : c; }

// True when normalisation could change `path`: a '%', a "." segment start, or "//".
bool mayChange(std::string_view path, bool merge_slashes) {
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') return true;
    if (c == '/' && i + 1 < path.size()) {
      char next = path[i + 1];
      if (next == '.' || (merge_slashes && next == '/')) return true;
    }
  }
  return false;
}

// "." or ".." before any ';' parameter: the dot segments of §5.2.4 as servlet containers read them.
int dotSegment(std::string_view segment) {
  std::string_view core = segment.substr(0, segment.find(';'));
  if (core == ".") return 1;
  if (core == "..") return 2;
  return 0;
}

}  // namespace

bool normalizePath(std::string_view path, bool merge_slashes, std::string& out) {
  if (path.empty() || path.front() != '/' || !mayChange(path, merge_slashes)) return false;
  out.clear();
  out.reserve(path.size());
  std::string segment;
  size_t i = 0;
  while (i < path.size()) {  // path[i] == '/': a segment starts after it
    size_t end = path.find('/', i + 1);
    if (end == std::string_view::npos) end = path.size();
    bool last = end == path.size();
    segment.clear();
    for (size_t k = i + 1; k < end; ++k) {
      char c = path[k];
      if (c == '%' && k + 2 < end && hexValue(path[k + 1]) >= 0 && hexValue(path[k + 2]) >= 0) {
        auto decoded = static_cast<unsigned char>(hexValue(path[k + 1]) * 16 + hexValue(path[k + 2]));
        if (isUnreserved(decoded)) {
          segment.push_back(static_cast<char>(decoded));
        } else {
          segment.push_back('%');
          segment.push_back(upperHex(path[k + 1]));
          segment.push_back(upperHex(path[k + 2]));
        }
        k += 2;
        continue;
      }
      segment.push_back(c);
    }
    i = end;
    if (int dots = dotSegment(segment)) {
      if (dots == 2) {  // up one: drop the output's last segment
        size_t slash = out.rfind('/');
        out.resize(slash == std::string::npos ? 0 : slash);
      }
      if (last) out.push_back('/');  // "/a/." and "/a/b/.." end in a directory
      continue;
    }
    if (segment.empty() && merge_slashes && !last) continue;
    out.push_back('/');
    out.append(segment);
  }
  if (out.empty()) out.push_back('/');
  return out != path;
}

bool isValidAuthority(std::string_view authority) {
  if (authority.empty()) return false;
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {  // IP-literal: hex digits, ':' and '.' (IPv4-mapped), no zone
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : authority.substr(1, close - 1)) {
      if (hexValue(c) < 0 && c != ':' && c != '.') return false;
    }
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
    host = {};
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty()) return false;
    for (unsigned char c : host) {
      if (!isUnreserved(c)) return false;
    }
  }
  if (port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace perfgate
