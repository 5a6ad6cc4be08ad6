// The chunked transfer coding (RFC 9112 §7.1), decoded incrementally for request bodies from
// clients and response bodies from backends alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/http/request_parser.h"

namespace perfgate {

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

}  // namespace perfgate
