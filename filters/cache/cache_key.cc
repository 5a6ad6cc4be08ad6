#include "filters/cache/cache_key.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <charconv>
#include <optional>

namespace perfgate {
namespace {

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Appends in bulk, then lowers in place: no per-character capacity check (this is on every
// cache lookup).
void appendLower(std::string& out, std::string_view s) {
  size_t at = out.size();
  out.append(s);
  for (auto it = out.begin() + static_cast<std::ptrdiff_t>(at); it != out.end(); ++it) *it = lowerAscii(*it);
}

std::string toLower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  appendLower(out, s);
  return out;
}

// "<decimal length>:<bytes>": a reader always knows where a part ends, whatever it contains.
void appendPart(std::string& out, std::string_view part, bool lower = false) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), part.size());
  (void)ec;  // 24 digits always hold a size_t
  out.append(digits, end);
  out.push_back(':');
  if (lower) {
    appendLower(out, part);
  } else {
    out.append(part);
  }
}

bool readPart(std::string_view& in, std::string_view& part) {
  size_t colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 20) return false;
  size_t len = 0;
  auto [ptr, ec] = std::from_chars(in.data(), in.data() + colon, len);
  if (ec != std::errc() || ptr != in.data() + colon) return false;
  if (in.size() - colon - 1 < len) return false;
  part = in.substr(colon + 1, len);
  in.remove_prefix(colon + 1 + len);
  return true;
}

// The host without the scheme's default port (RFC 9110 §4.2.3: "http://a:80/" and "http://a/"
// are the same resource); an empty port (RFC 3986 §6.2.3) is dropped too.
std::string_view withoutDefaultPort(std::string_view scheme, std::string_view host) {
  size_t colon = host.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return host;
  std::string_view name = host.substr(0, colon);
  // A colon inside an IPv6 literal is not a port separator.
  if (name.find(':') != std::string_view::npos && name.back() != ']') return host;
  std::string_view port = host.substr(colon + 1);
  if (port.empty() || (equalsIgnoreCase(scheme, "http") && port == "80") ||
      (equalsIgnoreCase(scheme, "https") && port == "443")) {
    return name;
  }
  return host;
}

bool isOws(char c) { return c == ' ' || c == '\t'; }

// OWS trimmed and every run of spaces/tabs inside turned into one space: senders may fold or pad
// a list differently without changing what it says.
std::string collapseWhitespace(std::string_view value) {
  value = trimOws(value);
  std::string out;
  out.reserve(value.size());
  bool in_space = false;
  for (char c : value) {
    if (isOws(c)) {
      in_space = true;
      continue;
    }
    if (in_space) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

// qvalue (RFC 9110 §12.4.2: ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )) in
// thousandths; nullopt when malformed.
std::optional<int> qvalueThousandths(std::string_view q) {
  if (q.empty() || q.size() > 5 || (q[0] != '0' && q[0] != '1')) return std::nullopt;
  if (q.size() > 1 && q[1] != '.') return std::nullopt;
  int value = q[0] == '1' ? 1000 : 0;
  int scale = 100;
  for (size_t i = 2; i < q.size(); ++i, scale /= 10) {
    if (q[i] < '0' || q[i] > '9' || (q[0] == '1' && q[i] != '0')) return std::nullopt;
    value += (q[i] - '0') * scale;
  }
  return value;
}

// A qvalue: true for a weight above zero, false for zero, nullopt when malformed.
std::optional<bool> parseQvalue(std::string_view q) {
  std::optional<int> thousandths = qvalueThousandths(q);
  if (!thousandths) return std::nullopt;
  return *thousandths > 0;
}

// Accept-Encoding reduced to what decides the backend's choice of coding: a sorted list of the
// accepted codings ("gzip"), the refused ones ("gzip;q=0"), and, kept verbatim so they never merge
// with a well-formed element, elements whose weight is malformed. None of the three forms can
// equal another, and no element holds a comma, so the joined list is unambiguous.
std::string normalizeAcceptEncoding(std::string_view value) {
  struct Coding {
    std::string name;
    bool accepted;
  };
  std::vector<Coding> codings;
  std::vector<std::string> malformed;

  forEachListElement(value, [&](std::string_view element) {
    size_t semi = element.find(';');
    std::string name = toLower(trimOws(element.substr(0, semi)));
    if (name.empty()) return;
    if (name == "x-gzip") name = "gzip";  // RFC 9110 §8.4.1.3
    if (name == "x-compress") name = "compress";  // RFC 9110 §8.4.1.1

    bool accepted = true;
    bool well_formed = true;
    std::string_view params = semi == std::string_view::npos ? std::string_view() : element.substr(semi);
    while (!params.empty()) {
      params.remove_prefix(1);  // the ';'
      size_t next = params.find(';');
      std::string_view param = trimOws(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next);
      size_t eq = param.find('=');
      if (eq == std::string_view::npos || !equalsIgnoreCase(trimOws(param.substr(0, eq)), "q")) continue;
      std::optional<bool> q = parseQvalue(trimOws(param.substr(eq + 1)));
      if (!q) {
        well_formed = false;
        break;
      }
      accepted = *q;
    }

    if (!well_formed) {
      malformed.push_back(toLower(collapseWhitespace(element)));
      return;
    }
    auto it = std::find_if(codings.begin(), codings.end(), [&](const Coding& c) { return c.name == name; });
    if (it == codings.end()) {
      codings.push_back({std::move(name), accepted});
    } else {
      it->accepted = it->accepted || accepted;  // listed twice: the higher weight wins
    }
  });

  std::vector<std::string> items = std::move(malformed);
  for (Coding& c : codings) items.push_back(c.accepted ? std::move(c.name) : std::move(c.name) + ";q=0");
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());

  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out.push_back(',');
    out.append(item);
  }
  return out;
}

// Accept, Accept-Language and Accept-Charset reduced to what a server's choice depends on: each
// element's value lower-cased (media ranges, language tags and charsets are case-insensitive),
// its other parameters kept in order, its weight written one way (none for 1), and the elements
// ordered by weight, highest first; elements of equal weight keep their order (a server may
// break ties by it). Elements with a malformed weight are kept verbatim after the others. A
// value with a quoted string is only whitespace-normalised.
std::string normalizeWeightedList(std::string_view value) {
  if (value.find('"') != std::string_view::npos) return collapseWhitespace(value);
  struct Element {
    std::string text;
    int q;
  };
  std::vector<Element> elements;
  std::vector<std::string> malformed;
  forEachListElement(value, [&](std::string_view element) {
    size_t semi = element.find(';');
    Element out{toLower(trimOws(element.substr(0, semi))), 1000};
    bool well_formed = true;
    std::string_view params = semi == std::string_view::npos ? std::string_view() : element.substr(semi);
    while (!params.empty()) {
      params.remove_prefix(1);  // the ';'
      size_t next = params.find(';');
      std::string_view param = trimOws(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next);
      if (param.empty()) continue;
      size_t eq = param.find('=');
      std::string name = toLower(trimOws(param.substr(0, eq)));
      std::string_view argument = eq == std::string_view::npos ? std::string_view() : trimOws(param.substr(eq + 1));
      if (name == "q") {
        std::optional<int> q = qvalueThousandths(argument);
        if (!q) {
          well_formed = false;
          break;
        }
        out.q = *q;
        continue;
      }
      out.text += ";" + name;
      if (eq != std::string_view::npos) out.text += "=" + std::string(argument);
    }
    if (!well_formed) {
      malformed.push_back(collapseWhitespace(element));
      return;
    }
    if (out.q != 1000) {
      char weight[16];
      std::snprintf(weight, sizeof weight, "%d.%03d", out.q / 1000, out.q % 1000);
      std::string_view w = weight;
      while (w.back() == '0') w.remove_suffix(1);
      if (w.back() == '.') w.remove_suffix(1);
      out.text += ";q=" + std::string(w);
    }
    elements.push_back(std::move(out));
  });
  std::stable_sort(elements.begin(), elements.end(), [](const Element& a, const Element& b) { return a.q > b.q; });
  std::string joined;
  for (const Element& e : elements) {
    if (!joined.empty()) joined.push_back(',');
    joined.append(e.text);
  }
  for (const std::string& m : malformed) {
    joined.append(",!");  // "!" starts no token: a malformed element never reads as a well-formed one
    joined.append(m);
  }
  return joined;
}

// The fields whose value is a weighted list normalised by normalizeWeightedList.
bool weightedListField(std::string_view name) {
  return equalsIgnoreCase(name, "accept-language") || equalsIgnoreCase(name, "accept") ||
         equalsIgnoreCase(name, "accept-charset");
}

}  // namespace

void makeCacheKey(std::string& key, std::string_view scheme, std::string_view host, std::string_view path,
                  std::string_view query) {
  // Sized once and written in place: this runs on every lookup.
  std::string_view parts[] = {scheme, withoutDefaultPort(scheme, host), path, query};
  char digits[4][24];
  size_t digit_count[4];
  size_t total = 0;
  for (size_t i = 0; i < 4; ++i) {
    digit_count[i] = static_cast<size_t>(std::to_chars(digits[i], digits[i] + 24, parts[i].size()).ptr - digits[i]);
    total += digit_count[i] + 1 + parts[i].size();
  }
  key.resize(total);
  char* out = key.data();
  for (size_t i = 0; i < 4; ++i) {
    out = std::copy_n(digits[i], digit_count[i], out);
    *out++ = ':';
    if (i < 2) {  // scheme and host are case-insensitive
      out = std::transform(parts[i].begin(), parts[i].end(), out, lowerAscii);
    } else {
      out = std::copy(parts[i].begin(), parts[i].end(), out);
    }
  }
}

std::string makeCacheKey(std::string_view scheme, std::string_view host, std::string_view path,
                         std::string_view query) {
  std::string key;
  makeCacheKey(key, scheme, host, path, query);
  return key;
}

bool splitCacheKey(std::string_view key, CacheKeyParts& out) {
  CacheKeyParts parts;
  if (!readPart(key, parts.scheme) || !readPart(key, parts.host) || !readPart(key, parts.path) ||
      !readPart(key, parts.query) || !key.empty()) {
    return false;
  }
  out = parts;
  return true;
}

uint64_t hashKey(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

std::string makeVariantKey(const std::vector<std::string>& vary_names, const HeaderBlock& request_fields,
                           std::optional<ContentCoding> coding) {
  std::string out;
  makeVariantKey(out, vary_names, request_fields, coding);
  return out;
}

void makeVariantKey(std::string& out, const std::vector<std::string>& vary_names, const HeaderBlock& request_fields,
                    std::optional<ContentCoding> coding) {
  out.clear();
  std::string combined;
  for (const std::string& name : vary_names) {
    appendPart(out, name, /*lower=*/true);
    size_t lines = 0;
    std::string_view value;  // the only line's value, or `combined` when there are several
    if (coding && equalsIgnoreCase(name, "accept-encoding")) {
      lines = *coding == ContentCoding::Identity ? 0 : 1;
      value = codingName(*coding);
    } else for (const HeaderField& field : request_fields) {
      if (!equalsIgnoreCase(field.name, name)) continue;
      if (++lines == 1) {
        value = field.value;
        continue;
      }
      if (lines == 2) combined.assign(value);
      combined.append(", ");
      combined.append(field.value);
      value = combined;
    }
    if (lines == 0) {
      out.push_back('-');
      continue;
    }
    out.push_back('=');
    appendPart(out, equalsIgnoreCase(name, "accept-encoding") ? normalizeAcceptEncoding(value)
                    : weightedListField(name)                 ? normalizeWeightedList(value)
                                                              : collapseWhitespace(value));
  }
}

}  // namespace perfgate
