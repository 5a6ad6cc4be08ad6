// The small lexical pieces of HTTP (RFC 9110 §5.6) every parser and filter shares: tokens,
// optional whitespace, comma-separated lists, case-insensitive names.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace perfgate {

// ASCII case-insensitive comparison, as field names and tokens require. Inline: every header
// lookup runs it once per field.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    // Equal bytes, or the same letter in both cases (0x20 apart, and a letter once folded).
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x != y && ((x | 0x20) != (y | 0x20) || static_cast<unsigned char>((x | 0x20) - 'a') > 'z' - 'a')) return false;
  }
  return true;
}

// `s` starts with `prefix`, ASCII case-insensitively.
bool startsWithIgnoreCase(std::string_view s, std::string_view prefix);

// RFC 9110 §5.6.2 tchar: the bytes a token (method, field name, directive) is made of.
bool isTokenChar(unsigned char c);

// A non-empty run of tchar.
bool isToken(std::string_view s);

// RFC 9110 §5.5: field values are HTAB, SP, VCHAR and obs-text; never CR, LF, NUL or another
// control byte (reason phrases follow the same rule, §4 of RFC 9112). Inline: the parsers ask it
// of every byte of every field value.
inline bool isFieldValueChar(unsigned char c) { return (c >= 0x20 && c != 0x7f) || c == '\t'; }

// 0-9, a-f, A-F.
inline bool isHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A decimal number as Content-Length has it (1*DIGIT, RFC 9110 §8.6): nullopt unless `s` is
// non-empty, all digits and within 64 bits. Inline: the parsers ask it of every message.
inline std::optional<uint64_t> parseDecimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// `s` without leading and trailing spaces and tabs (OWS, RFC 9110 §5.6.3).
std::string_view trimOws(std::string_view s);

// Calls fn(element) for each non-empty, OWS-trimmed element of a comma-separated list.
template <typename Fn>
void forEachListElement(std::string_view value, Fn&& fn) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view element = trimOws(value.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// True when the comma-separated list `value` holds `token` (case-insensitive, OWS trimmed).
bool hasToken(std::string_view value, std::string_view token);

}  // namespace perfgate
