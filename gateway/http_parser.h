// Strict HTTP/1.1 request parsing (RFC 9112): request head and chunked body framing.
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
#include <vector>

namespace perfgate {

struct HeaderField {
  std::string_view name;   // as received (case kept)
  std::string_view value;  // leading/trailing OWS removed
};

enum class HttpVersion : uint8_t { Http10, Http11 };
enum class BodyFraming : uint8_t { None, ContentLength, Chunked };

struct RequestHead {
  std::string raw;  // owns the bytes every view below points into
  std::string_view method;
  std::string_view target;  // origin-form ("/path?query"), or "*" for OPTIONS
  std::string_view path;    // target up to '?', normalised (gateway/http/uri.h): what routes and keys use
  std::string normalized;   // owns `path` when normalisation changed it
  bool path_changed = false;  // `path` differs from the bytes the client sent
  // Set by the connection: the backend gets the client's original path although `path` (the
  // key) is its normalised form, so the response may not be the keyed resource's.
  bool unkeyed_path = false;
  std::string_view query;   // after '?', without it; empty when none
  std::string_view host;    // Host header, or the authority of an absolute-form target
  HttpVersion version = HttpVersion::Http11;
  std::vector<HeaderField> headers;  // in received order
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;  // valid when framing == ContentLength
  bool keep_alive = true;       // after Connection tokens and version defaults
  bool expect_continue = false;

  // First header with this name (ASCII case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
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
  ParseStatus parseHead(std::string_view head, RequestHead& out);
  ParseStatus parseRequestLine(std::string_view line, RequestHead& out);
  ParseStatus interpretHeaders(RequestHead& out);

  ParseLimits limits_;
  size_t scanned_ = 0;   // bytes already searched for the end of the head
  size_t line_end_ = 0;  // offset of the request line's LF once seen; 0 before
  ParseError error_;
};

// Receives decoded body bytes from ChunkedDecoder.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void onBodyData(std::string_view data) = 0;
};

// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1). Chunk extensions are
// ignored (bounded in size); trailer fields are parsed for validity and dropped.
class ChunkedDecoder {
 public:
  ChunkedDecoder(uint64_t max_body_bytes, size_t max_trailer_bytes)
      : max_body_(max_body_bytes), max_trailer_(max_trailer_bytes) {}

  // Consumes bytes from `in`, passing decoded data to `sink`. `consumed` is set to the bytes
  // used; on Complete, bytes after the message are left unconsumed (the next pipelined request).
  ParseStatus decode(std::string_view in, size_t& consumed, BodySink& sink);

  const ParseError& error() const { return error_; }
  uint64_t bodyBytes() const { return body_bytes_; }

 private:
  enum class State : uint8_t {
    Size, Extension, SizeLf, Data, DataCr, DataLf, TrailerLineStart, TrailerLine, TrailerLf,
    FinalLf, Done
  };
  ParseStatus fail(int status, const char* message);

  uint64_t max_body_;
  size_t max_trailer_;
  State state_ = State::Size;
  uint64_t chunk_remaining_ = 0;
  uint64_t body_bytes_ = 0;
  size_t size_digits_ = 0;
  size_t extension_bytes_ = 0;
  size_t trailer_bytes_ = 0;
  bool trailer_in_name_ = true;
  ParseError error_;
};

// ASCII case-insensitive comparison, as header names and tokens require.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// RFC 9110 §5.6.2 tchar: the bytes a token (method, field name, directive) is made of.
bool isTokenChar(unsigned char c);

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
