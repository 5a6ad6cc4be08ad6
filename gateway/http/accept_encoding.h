// Content negotiation for gzip (RFC 9110 §12.5.3, Accept-Encoding).
#pragma once

#include <vector>

#include "gateway/http/header_block.h"

namespace perfgate {

// True when the request's Accept-Encoding fields (all of them, combined) make gzip the coding to
// send: gzip (or x-gzip, or "*" when gzip is not named) has a non-zero weight, and identity is
// not named with a higher one. Names and "q" are case-insensitive; an element with an invalid
// weight is ignored; a coding named twice counts with its higher weight, so the order of the
// elements never matters. Without Accept-Encoding the answer is no: RFC 9110 allows any coding then,
// but clients that say nothing are not sent gzip (as nginx, h2o and Varnish do).
bool prefersGzip(const HeaderBlock& request_fields);

}  // namespace perfgate
