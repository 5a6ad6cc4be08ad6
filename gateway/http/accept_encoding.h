// Content negotiation by Accept-Encoding (RFC 9110 §12.5.3).
#pragma once

#include <array>
#include <span>

#include "gateway/http/content_coding.h"
#include "gateway/http/header_block.h"

namespace perfgate {

// What a request's Accept-Encoding fields (all of them, combined) say of each coding. Names and
// "q" are case-insensitive; an element with an invalid weight is ignored; a coding named twice
// counts with its higher weight, so the order of the elements never matters.
struct AcceptEncoding {
  bool present = false;  // the request has an Accept-Encoding field
  // Weights in thousandths. A coding not named takes the weight of "*" (0 without one);
  // identity takes its own, else that of "*", else it is acceptable (1000).
  std::array<int, kContentCodings> weight{};
  bool identity_named = false;

  bool accepts(ContentCoding coding) const { return weight[codingIndex(coding)] > 0; }
};

AcceptEncoding parseAcceptEncoding(const HeaderBlock& request_fields);

// The coding to send among `offered` (the server's order of preference; identity is always
// possible and need not be listed): the offered coding of highest weight above zero, the earlier
// offered on a tie; identity when none has one, or when identity is named with a higher weight.
// Without Accept-Encoding the answer is identity: RFC 9110 allows any coding then, but clients
// that say nothing are not sent one (as nginx, h2o and Varnish do).
ContentCoding chooseCoding(const AcceptEncoding& accept, std::span<const ContentCoding> offered);

}  // namespace perfgate
