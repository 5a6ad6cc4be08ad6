// Structured Field Values (RFC 8941), as far as a recipient must check them: whether a field
// value is a well-formed Dictionary. Targeted cache-control fields (RFC 9213 §2.1) are
// Dictionaries, and one that fails to parse is ignored as a whole.
#pragma once

#include <string_view>

namespace perfgate {

// True when `value` (the field lines combined with ", ") parses as an sf-dictionary (RFC 8941
// §4.2.2), leading and trailing spaces allowed. An empty value is an empty Dictionary: valid.
bool isStructuredDictionary(std::string_view value);

}  // namespace perfgate
