// HTTP-date (RFC 9110 §5.6.7): parsing of the three formats a recipient must accept, and
// formatting as IMF-fixdate, the only one a sender may generate. UTC only, no locale, no
// allocation when parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace perfgate {

// Seconds since the Unix epoch for an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), an
// obsolete RFC 850 date ("Sunday, 06-Nov-94 08:49:37 GMT") or an asctime() date
// ("Sun Nov  6 08:49:37 1994"); nullopt for anything else. The grammar is followed exactly
// (names are case-sensitive, "GMT" is required where the format has it, day and time ranges are
// checked, a leap second :60 is accepted), except that surrounding OWS is ignored and the
// day-name is not cross-checked against the date. `now` (seconds since the epoch) places an
// RFC 850 two-digit year: a year that would lie more than 50 years in the future is taken as
// the most recent past year with the same last two digits.
std::optional<int64_t> parseHttpDate(std::string_view text, int64_t now);

// As above with the current time for `now`.
std::optional<int64_t> parseHttpDate(std::string_view text);

// `seconds` since the epoch as an IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string formatHttpDate(int64_t seconds);

// The current time as an IMF-fixdate, formatted at most once per second per thread (the Date
// field of the gateway's own responses).
std::string_view httpDate();

}  // namespace perfgate
