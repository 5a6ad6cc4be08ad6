// Conditional requests (RFC 9110 §13): entity-tag comparison and the evaluation a cache or the
// gateway does before answering 304 Not Modified.
#pragma once

#include <string>
#include <string_view>

#include "gateway/http/request_parser.h"

namespace perfgate {

// §8.8.3.2 strong comparison: both tags strong and identical.
bool strongEtagMatch(std::string_view a, std::string_view b);
// §8.8.3.2 weak comparison: the opaque tags are identical, W/ prefixes aside.
bool weakEtagMatch(std::string_view a, std::string_view b);

// §13.1.2 / §13.2.2 for GET and HEAD: true when the request's If-None-Match (a list, or "*";
// weak comparison) matches `etag`, or, when the request has no If-None-Match, its
// If-Modified-Since is not earlier than `last_modified`. Either validator may be "".
bool notModified(const RequestHead& request, std::string_view etag, std::string_view last_modified);

// A strong entity tag of exactly these bytes: `"` + 32 lower-case hex digits of XXH3-128 + `"`.
std::string strongEtagOf(std::string_view body);

// The fields a 304 carries from the response it stands for (§15.4.5): Cache-Control,
// Content-Location, Date, ETag, Expires, Vary, and Last-Modified.
bool isNotModifiedField(std::string_view name);

}  // namespace perfgate
