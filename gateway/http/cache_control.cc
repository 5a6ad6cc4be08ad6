#include "gateway/http/cache_control.h"
#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

inline bool isTchar(char c) { return isTokenChar(static_cast<unsigned char>(c)); }
inline bool isOws(char c) { return c == ' ' || c == '\t'; }

// A directive's argument as written: a token, or a quoted-string with its quotes.
struct Argument {
  std::string_view text;  // token, or the inside of the quotes (quoted-pairs still escaped)
  bool quoted = false;
  bool escaped = false;  // the quoted-string holds at least one quoted-pair
};

// The argument's value: the token, or the quoted-string with quoted-pairs undone (RFC 9110
// §5.6.4). Points into the field value unless there was an escape, then into `scratch`.
std::string_view argumentValue(const Argument& arg, std::string& scratch) {
  if (!arg.escaped) return arg.text;
  scratch.clear();
  for (size_t i = 0; i < arg.text.size(); ++i) {
    if (arg.text[i] == '\\' && i + 1 < arg.text.size()) ++i;
    scratch.push_back(arg.text[i]);
  }
  return scratch;
}

// Appends the lower-cased names of a #field-name list to `out`; false (and `out` unchanged) when
// an element is not a token or the list holds no name.
bool parseFieldNames(std::string_view list, std::vector<std::string>& out) {
  const size_t old_size = out.size();
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view name = trimOws(list.substr(0, comma));
    if (!name.empty()) {
      for (char c : name) {
        if (!isTchar(c)) {
          out.resize(old_size);
          return false;
        }
      }
      std::string lowered(name);
      for (char& c : lowered) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
      }
      out.push_back(std::move(lowered));
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (out.size() == old_size) return false;
  return true;
}

// Sets a valued directive the first time it is seen with a valid value.
void setFirst(std::optional<int64_t>& slot, const std::optional<Argument>& arg, bool well_formed,
              std::string& scratch) {
  if (slot || !arg || !well_formed) return;
  if (std::optional<int64_t> value = parseDeltaSeconds(argumentValue(*arg, scratch))) slot = value;
}

// max-age / s-maxage: the first occurrence wins, and an invalid one means "stale" (0).
void setFreshness(std::optional<int64_t>& slot, const std::optional<Argument>& arg, bool well_formed,
                  std::string& scratch) {
  if (slot) return;
  std::optional<int64_t> value;
  if (arg && well_formed) value = parseDeltaSeconds(argumentValue(*arg, scratch));
  slot = value.value_or(0);
}

// no-cache / private: unqualified sets the flag; a valid field-name list adds to `fields`.
void setQualified(bool& flag, std::vector<std::string>& fields, const std::optional<Argument>& arg,
                  bool well_formed, std::string& scratch) {
  if (!arg || !well_formed || !parseFieldNames(argumentValue(*arg, scratch), fields)) flag = true;
}

void applyDirective(CacheControl& cc, std::string_view name, const std::optional<Argument>& arg,
                    bool well_formed, std::string& scratch) {
  if (equalsIgnoreCase(name, "max-age")) {
    setFreshness(cc.max_age, arg, well_formed, scratch);
  } else if (equalsIgnoreCase(name, "s-maxage")) {
    setFreshness(cc.s_maxage, arg, well_formed, scratch);
  } else if (equalsIgnoreCase(name, "no-cache")) {
    setQualified(cc.no_cache, cc.no_cache_fields, arg, well_formed, scratch);
  } else if (equalsIgnoreCase(name, "no-store")) {
    cc.no_store = true;
  } else if (equalsIgnoreCase(name, "private")) {
    setQualified(cc.private_, cc.private_fields, arg, well_formed, scratch);
  } else if (equalsIgnoreCase(name, "public")) {
    if (!arg && well_formed) cc.public_ = true;
  } else if (equalsIgnoreCase(name, "must-revalidate")) {
    cc.must_revalidate = true;
  } else if (equalsIgnoreCase(name, "proxy-revalidate")) {
    cc.proxy_revalidate = true;
  } else if (equalsIgnoreCase(name, "max-stale")) {
    // §5.2.1.2: without a value, a stale response of any age is acceptable.
    if (cc.max_stale || cc.any_stale) return;
    if (!arg) {
      if (well_formed) cc.any_stale = true;
    } else {
      setFirst(cc.max_stale, arg, well_formed, scratch);
    }
  } else if (equalsIgnoreCase(name, "min-fresh")) {
    setFirst(cc.min_fresh, arg, well_formed, scratch);
  } else if (equalsIgnoreCase(name, "stale-while-revalidate")) {
    setFirst(cc.stale_while_revalidate, arg, well_formed, scratch);
  } else if (equalsIgnoreCase(name, "stale-if-error")) {
    setFirst(cc.stale_if_error, arg, well_formed, scratch);
  } else if (equalsIgnoreCase(name, "no-transform")) {
    cc.no_transform = true;
  } else if (equalsIgnoreCase(name, "only-if-cached")) {
    cc.only_if_cached = true;
  } else if (equalsIgnoreCase(name, "must-understand")) {
    cc.must_understand = true;
  } else if (equalsIgnoreCase(name, "immutable")) {
    if (!arg && well_formed) cc.immutable = true;
  }
  // §5.2.3: "A cache MUST ignore unrecognized cache directives."
}

}  // namespace

std::optional<int64_t> parseDeltaSeconds(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > kDeltaSecondsMax) value = kDeltaSecondsMax;
  }
  return value;
}

void mergeCacheControl(CacheControl& cc, std::string_view value) {
  // Cache-Control = #cache-directive; cache-directive = token [ "=" ( token / quoted-string ) ].
  // OWS around "=" is tolerated. An element with anything else after the directive is malformed;
  // it is skipped up to the next comma outside a quoted-string.
  std::string scratch;
  const size_t n = value.size();
  size_t i = 0;
  while (i < n) {
    while (i < n && (isOws(value[i]) || value[i] == ',')) ++i;
    if (i == n) break;

    const size_t name_start = i;
    while (i < n && isTchar(value[i])) ++i;
    const std::string_view name = value.substr(name_start, i - name_start);
    while (i < n && isOws(value[i])) ++i;

    std::optional<Argument> arg;
    bool well_formed = true;
    if (i < n && value[i] == '=') {
      ++i;
      while (i < n && isOws(value[i])) ++i;
      Argument parsed;
      if (i < n && value[i] == '"') {
        parsed.quoted = true;
        size_t j = i + 1;
        while (j < n && value[j] != '"') {
          if (value[j] == '\\') {
            parsed.escaped = true;
            ++j;
          }
          ++j;
        }
        if (j >= n) {
          well_formed = false;  // unterminated quoted-string: the rest of the value is in it
          parsed.text = value.substr(i + 1);
          i = n;
        } else {
          parsed.text = value.substr(i + 1, j - i - 1);
          i = j + 1;
        }
      } else {
        const size_t arg_start = i;
        while (i < n && isTchar(value[i])) ++i;
        parsed.text = value.substr(arg_start, i - arg_start);
        if (parsed.text.empty()) well_formed = false;
      }
      arg = parsed;
      while (i < n && isOws(value[i])) ++i;
    }

    if (i < n && value[i] != ',') {
      well_formed = false;
      bool in_quotes = false;
      while (i < n && (in_quotes || value[i] != ',')) {
        if (in_quotes && value[i] == '\\') {
          ++i;
        } else if (value[i] == '"') {
          in_quotes = !in_quotes;
        }
        ++i;
      }
    }
    if (!name.empty()) applyDirective(cc, name, arg, well_formed, scratch);
  }
}

CacheControl parseCacheControl(std::string_view value) {
  CacheControl cc;
  mergeCacheControl(cc, value);
  return cc;
}

CacheControl parseCacheControl(const HeaderBlock& fields) {
  CacheControl cc;
  for (const HeaderField& field : fields) {
    if (equalsIgnoreCase(field.name, "cache-control")) mergeCacheControl(cc, field.value);
  }
  return cc;
}

}  // namespace perfgate
