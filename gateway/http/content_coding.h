// Content codings (RFC 9110 §8.4.1) the gateway can produce and read: gzip, br (RFC 7932) and
// zstd (RFC 8878), besides identity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace perfgate {

enum class ContentCoding : uint8_t { Identity, Gzip, Br, Zstd };
inline constexpr size_t kContentCodings = 4;

// The coding's token as sent in Content-Encoding / Accept-Encoding ("identity", "gzip", ...).
std::string_view codingName(ContentCoding coding);

// The coding a Content-Encoding / Accept-Encoding token names, case-insensitively ("x-gzip" is
// gzip, RFC 9110 §8.4.1.3); nullopt for any other token.
std::optional<ContentCoding> parseCoding(std::string_view token);

inline size_t codingIndex(ContentCoding coding) { return static_cast<size_t>(coding); }

}  // namespace perfgate
