// The current time as an IMF-fixdate (RFC 9110 §5.6.7), formatted at most once per second
// per thread.
#pragma once

#include <string_view>

namespace perfgate {

std::string_view httpDate();

}  // namespace perfgate
