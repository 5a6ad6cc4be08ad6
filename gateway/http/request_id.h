// Request ids: the one a client (or a proxy before us) sent, when it is safe to pass on and log,
// or a new UUIDv7 (RFC 9562: 48 bits of Unix milliseconds, then random bits), so ids sort by
// time in logs and traces.
#pragma once

#include <string>
#include <string_view>

namespace perfgate {

// An id taken as it came: 1 to 128 characters of letters, digits and "-_.:/+=@" (what request
// ids are made of: UUIDs, base64, trace ids), nothing a log line or a header could be broken by.
bool acceptableRequestId(std::string_view id);

// A new UUIDv7 in its 36-character text form, into `out` (random bits from gateway/random.h).
void newRequestId(std::string& out);

}  // namespace perfgate
