// A minimal, strict HTTP/1.1 request-head parser for the sample backend.
//
// It parses one request head (request line + header fields) out of contiguous bytes and returns
// views into those bytes; the caller keeps the bytes alive until it is done with the result.
// It knows the few header fields the backend acts on (framing, connection, conditionals).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sample_backend {

inline constexpr size_t kMaxHeadBytes = 64 * 1024;  // request line + all header fields
inline constexpr size_t kMaxHeaderCount = 128;

struct Header {
  std::string_view name;
  std::string_view value;  // without leading/trailing whitespace
};

struct RequestHead {
  std::string_view method;
  std::string_view target;  // as received
  std::string_view path;    // origin-form path (absolute-form is reduced to it)
  std::string_view query;   // after '?', without it; empty when none
  int minor_version = 1;    // HTTP/1.<minor>
  std::vector<Header> headers;  // in the order received
  bool keep_alive = true;
  bool chunked = false;          // Transfer-Encoding: chunked
  bool expect_continue = false;  // Expect: 100-continue
  int64_t content_length = -1;   // -1: no Content-Length
  std::string_view if_none_match;
  std::string_view if_modified_since;
  size_t head_bytes = 0;  // bytes the head occupies, final empty line included

  void reset();
  bool hasBody() const { return chunked || content_length > 0; }
};

enum class ParseStatus {
  kIncomplete,   // need more bytes
  kComplete,     // `out` is filled
  kBadRequest,   // malformed: answer 400 and close
  kTooLarge,     // head over kMaxHeadBytes or too many fields: 431 and close
  kBadVersion,   // not HTTP/1.x: 505 and close
};

// Parses the request head at the start of data[0, len). Rejects what a strict server must
// (RFC 9112): obs-fold, bad field names, CR/NUL in values, Content-Length together with
// Transfer-Encoding, differing Content-Lengths, a missing or repeated Host in HTTP/1.1.
ParseStatus parseRequestHead(const char* data, size_t len, RequestHead& out);

// True when the comma-separated list contains `token` (case-insensitive).
bool headerHasToken(std::string_view list, std::string_view token);

bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace sample_backend
