// One parser for every backend response head, whichever client received it (the plain-HTTP
// pool or libcurl): the same validation, so a byte that is a 502 from one backend is a 502 from
// any other (RFC 9112 §4, §5, §6.3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/http/header_block.h"

namespace perfgate {

// A response head: received from a backend (1xx interim responses skipped), changed by filters
// on its way to the client.
struct ResponseHead {
  int status = 0;
  std::string reason;
  HeaderBlock headers;  // in received order, hop-by-hop ones included
};

// What a response head says about the message's framing and the connection (RFC 9112 §6.3, §9).
struct ResponseFraming {
  bool http10 = false;
  bool close = false;             // the connection ends after this response
  bool transfer_encoding = false;  // a Transfer-Encoding field is present
  bool chunked = false;            // ... and its final coding is chunked
  std::optional<uint64_t> content_length;
};

// Parses `text`, a response head from the status line to the CRLF of its last field (the empty
// line excluded), into `head` (which takes a copy of the bytes) and `framing`. Returns nullptr,
// or why the head cannot be relayed safely:
//  - a status line other than "HTTP/1.0|1.1 SP 3DIGIT [SP reason]" with a status in 100..599,
//    or a reason phrase with a control byte (CR, LF, NUL: response splitting);
//  - a field name that is not a token (whitespace before the colon), obs-fold, a value with a
//    control byte other than HTAB;
//  - an invalid or repeated-and-different Content-Length, or Content-Length beside
//    Transfer-Encoding (RFC 9112 §6.3: "ought to be handled as an error").
const char* parseResponseHead(std::string_view text, ResponseHead& head, ResponseFraming& framing);

}  // namespace perfgate
