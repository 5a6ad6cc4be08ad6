// Strict HTTP/1.1 request parsing (RFC 9112): the request head.
//
// The parser is deliberately unforgiving: anything a downstream server could read differently
// (request smuggling) or that a lenient parser would "repair" is rejected with the status the
// client deserves, and the caller closes the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/http/header_block.h"
#include "gateway/http/tokens.h"

namespace perfgate {

enum class HttpVersion : uint8_t { Http10, Http11 };
enum class BodyFraming : uint8_t { None, ContentLength, Chunked };

struct RequestHead {
  std::string line;  // the request line: owns the views below but `host`
  std::string_view method;
  std::string_view target;  // origin-form ("/path?query"), or "*" for OPTIONS
  std::string_view path;    // target up to '?', normalised (gateway/http/uri.h): what routes and keys use
  std::string_view query;   // after '?', without it; empty when none
  std::string_view host;    // Host field (in `headers`), or the authority of an absolute-form target
  std::string normalized;   // owns `path` when normalisation changed it
  bool path_changed = false;  // `path` differs from the bytes the client sent
  // Set by the exchange: the backend gets the client's original path although `path` (the key)
  // is its normalised form, so the response may not be the keyed resource's.
  bool unkeyed_path = false;
  HttpVersion version = HttpVersion::Http11;
  HeaderBlock headers;  // in received order
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;  // valid when framing == ContentLength
  bool keep_alive = true;       // after Connection tokens and version defaults
  bool expect_continue = false;

  // First field with this name (ASCII case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
  bool isHead() const { return method == "HEAD"; }
};

struct ParseLimits {
  size_t max_request_line = 8 * 1024;
  size_t max_header_bytes = 32 * 1024;  // whole head, request line included
  size_t max_headers = 100;
  uint64_t max_body_bytes = 64ull * 1024 * 1024;
  bool merge_slashes = true;  // "//" in a path reads as "/" (see normalizePath)
};

enum class ParseStatus : uint8_t { Complete, Incomplete, Error };

// Status to answer with (400, 413, 414, 417, 431, 501, 505) and a short reason for the body/log.
struct ParseError {
  int status = 0;
  const char* message = "";
};

class RequestParser {
 public:
  explicit RequestParser(const ParseLimits& limits) : limits_(limits) {}

  // Parses one request head at the start of `data` (the bytes received so far).
  // Complete: `out` is filled and `consumed` is the head's length, final CRLFCRLF included.
  // Incomplete: call again with more bytes (the scan resumes where it stopped).
  // Error: error() says why; the connection must be answered and closed.
  ParseStatus parse(std::string_view data, RequestHead& out, size_t& consumed);

  const ParseError& error() const { return error_; }

  // Forget the scan position before parsing the next request on the connection.
  void reset() {
    scanned_ = 0;
    line_end_ = 0;
  }

 private:
  ParseStatus fail(int status, const char* message);
  ParseStatus parseHead(std::string_view line, std::string_view fields, RequestHead& out);
  ParseStatus parseRequestLine(std::string_view line, RequestHead& out);
  ParseStatus interpretHeaders(RequestHead& out);

  ParseLimits limits_;
  size_t scanned_ = 0;   // bytes already searched for the end of the head
  size_t line_end_ = 0;  // offset of the request line's LF once seen; 0 before
  ParseError error_;
};

}  // namespace perfgate
