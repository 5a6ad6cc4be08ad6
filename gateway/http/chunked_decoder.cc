#include "gateway/http/chunked_decoder.h"

namespace perfgate {

ParseStatus ChunkedDecoder::fail(int status, const char* message) {
  error_ = ParseError{status, message};
  return ParseStatus::Error;
}

ParseStatus ChunkedDecoder::decode(std::string_view in, size_t& consumed, BodySink& sink) {
  constexpr size_t kMaxExtensionBytes = 4096;
  size_t i = 0;
  ParseStatus result = ParseStatus::Incomplete;
  while (i < in.size() && result == ParseStatus::Incomplete) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    switch (state_) {
      case State::Size: {
        int digit = -1;
        if (c >= '0' && c <= '9') digit = c - '0';
        else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        if (digit >= 0) {
          // Leading zeros are allowed (1*HEXDIG) but bounded; the value must stay below 2^60.
          if (++size_digits_ > 64 || chunk_remaining_ > (UINT64_MAX >> 4) / 16) {
            return fail(400, "chunk size too large");
          }
          chunk_remaining_ = chunk_remaining_ * 16 + static_cast<uint64_t>(digit);
        } else if (size_digits_ > 0 && (c == ';' || c == ' ' || c == '\t')) {
          state_ = State::Extension;
          extension_bytes_ = 1;
        } else if (size_digits_ > 0 && c == '\r') {
          state_ = State::SizeLf;
        } else {
          return fail(400, "invalid chunk size");
        }
        ++i;
        break;
      }
      case State::Extension:
        if (c == '\r') {
          state_ = State::SizeLf;
        } else if (c == '\n' || c == 0) {
          return fail(400, "invalid chunk extension");
        } else if (++extension_bytes_ > kMaxExtensionBytes) {
          return fail(400, "chunk extension too long");
        }
        ++i;
        break;
      case State::SizeLf:
        if (c != '\n') return fail(400, "chunk size line not ended by CRLF");
        ++i;
        if (chunk_remaining_ == 0) {
          state_ = State::TrailerLineStart;
        } else {
          if (chunk_remaining_ > max_body_ - body_bytes_) return fail(413, "request body too large");
          state_ = State::Data;
        }
        break;
      case State::Data: {
        size_t take = static_cast<size_t>(
            std::min<uint64_t>(chunk_remaining_, static_cast<uint64_t>(in.size() - i)));
        sink.onBodyData(in.substr(i, take));
        i += take;
        chunk_remaining_ -= take;
        body_bytes_ += take;
        if (chunk_remaining_ == 0) state_ = State::DataCr;
        break;
      }
      case State::DataCr:
        if (c != '\r') return fail(400, "chunk data not followed by CRLF");
        state_ = State::DataLf;
        ++i;
        break;
      case State::DataLf:
        if (c != '\n') return fail(400, "chunk data not followed by CRLF");
        state_ = State::Size;
        size_digits_ = 0;
        ++i;
        break;
      case State::TrailerLineStart:
        if (c == '\r') {
          state_ = State::FinalLf;
        } else if (isTokenChar(c)) {
          state_ = State::TrailerLine;
          trailer_in_name_ = true;
        } else {
          return fail(400, "invalid trailer field");
        }
        if (++trailer_bytes_ > max_trailer_) return fail(431, "trailer section too large");
        ++i;
        break;
      case State::TrailerLine:
        if (++trailer_bytes_ > max_trailer_) return fail(431, "trailer section too large");
        if (trailer_in_name_) {
          if (c == ':') {
            trailer_in_name_ = false;
          } else if (!isTokenChar(c)) {
            return fail(400, "invalid trailer field name");
          }
        } else if (c == '\r') {
          state_ = State::TrailerLf;
        } else if (!isFieldValueChar(c)) {
          return fail(400, "invalid trailer field value");
        }
        ++i;
        break;
      case State::TrailerLf:
        if (c != '\n') return fail(400, "trailer line not ended by CRLF");
        state_ = State::TrailerLineStart;
        ++i;
        break;
      case State::FinalLf:
        if (c != '\n') return fail(400, "chunked body not ended by CRLF");
        state_ = State::Done;
        ++i;
        result = ParseStatus::Complete;
        break;
      case State::Done:
        result = ParseStatus::Complete;
        break;
    }
  }
  consumed = i;
  if (state_ == State::Done) result = ParseStatus::Complete;
  return result;
}

}  // namespace perfgate
