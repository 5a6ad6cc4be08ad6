// Text the gateway writes into JSON and error messages.
#pragma once

#include <string>
#include <string_view>

namespace perfgate {

// Appends `text` to `out` as the inside of a JSON string (quotes, backslashes, controls escaped).
void appendJsonEscaped(std::string& out, std::string_view text);

// At most the first 64 bytes of `text` (and "..." when cut): what an error message may quote of
// a client's input, so that no reply echoes an unbounded string.
std::string excerpt(std::string_view text);

}  // namespace perfgate
