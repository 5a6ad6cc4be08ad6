#include "gateway/http/http_date.h"

#include <gtest/gtest.h>

#include <ctime>

namespace perfgate {
namespace {

// 2025-06-01T00:00:00Z: the clock the RFC 850 two-digit years are read against.
constexpr int64_t kNow2025 = 1748736000;

struct DateCase {
  const char* text;
  int64_t expected;
};

TEST(HttpDate, ParsesTheThreeFormats) {
  // RFC 9110 §5.6.7's example in each format a recipient must accept, then edges.
  const DateCase cases[] = {
      {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},   // IMF-fixdate
      {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},  // obsolete RFC 850
      {"Sun Nov  6 08:49:37 1994", 784111777},        // asctime, SP DIGIT day
      {"Sun Nov 06 08:49:37 1994", 784111777},        // asctime, 2DIGIT day
      {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
      {"Wed, 31 Dec 1969 23:59:59 GMT", -1},
      {"Mon, 01 Jan 1900 00:00:00 GMT", -2208988800},
      {"Mon, 01 Jan 0001 00:00:00 GMT", -62135596800},
      {"Sun, 09 Sep 2001 01:46:40 GMT", 1000000000},
      {"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648},  // past a 32-bit time_t
      {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
      {"Thu, 29 Feb 2024 00:00:00 GMT", 1709164800},  // leap year
      {"Tue, 29 Feb 2000 12:00:00 GMT", 951825600},   // divisible by 400: leap
      {"Mon, 01 Mar 2100 00:00:00 GMT", 4107542400},  // 2100 is not leap: Feb has 28 days
      {"Thursday, 29-Feb-24 00:00:00 GMT", 1709164800},
      {"Thu Feb 29 00:00:00 2024", 1709164800},
      {"Sat, 31 Dec 2016 23:59:59 GMT", 1483228799},
      {"Sat, 31 Dec 2016 23:59:60 GMT", 1483228800},     // leap second
      {"  Sun, 06 Nov 1994 08:49:37 GMT\t", 784111777},  // surrounding OWS
      {"Mon, 06 Nov 1994 08:49:37 GMT", 784111777},      // day-name not cross-checked
  };
  for (const DateCase& c : cases) {
    SCOPED_TRACE(c.text);
    std::optional<int64_t> parsed = parseHttpDate(c.text, kNow2025);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, c.expected);
  }
}

TEST(HttpDate, Rfc850TwoDigitYearIsNeverMoreThanFiftyYearsAhead) {
  // RFC 9110 §5.6.7: a two-digit year "more than 50 years in the future" is the most recent past
  // year with the same last two digits.
  const DateCase cases[] = {
      {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},      // 2094 is too far: 1994
      {"Friday, 06-Nov-76 08:49:37 GMT", 216118177},      // 2076 > 2025 + 50: 1976
      {"Wednesday, 06-Nov-75 08:49:37 GMT", 3340255777},  // 2075 = 2025 + 50: kept
      {"Saturday, 01-Jan-00 00:00:00 GMT", 946684800},    // 2000, in the past
  };
  for (const DateCase& c : cases) {
    SCOPED_TRACE(c.text);
    std::optional<int64_t> parsed = parseHttpDate(c.text, kNow2025);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, c.expected);
  }
  // The same text, read in 2150, lands in 2199 — no longer more than 50 years ahead.
  const int64_t now2150 = *parseHttpDate("Mon, 01 Jan 2150 00:00:00 GMT", 0);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-99 08:49:37 GMT", now2150), 7253311777);
}

TEST(HttpDate, RejectsInvalidDates) {
  const char* cases[] = {
      "",
      "0",  // RFC 9111 §5.3's example of an invalid Expires
      "-1",
      "now",
      "Sun, 06 Nov 1994 08:49:37",          // no zone
      "Sun, 06 Nov 1994 08:49:37 UTC",      // only GMT is allowed
      "Sun, 06 Nov 1994 08:49:37 +0000",
      "Sun, 06 Nov 1994 08:49:37 gmt",      // case-sensitive
      "sun, 06 Nov 1994 08:49:37 GMT",
      "Sun, 06 nov 1994 08:49:37 GMT",
      "SUN, 06 NOV 1994 08:49:37 GMT",
      "Xyz, 06 Nov 1994 08:49:37 GMT",
      "Sun, 6 Nov 1994 08:49:37 GMT",       // day must be 2DIGIT
      "Sun, 06 Nov 94 08:49:37 GMT",        // year must be 4DIGIT
      "Sun, 06 Nov 01994 08:49:37 GMT",
      "Sun,  06 Nov 1994 08:49:37 GMT",     // one SP exactly
      "Sun 06 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 8:49:37 GMT",
      "Sun, 06 Nov 1994 08:49 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",      // hour 00-23
      "Sun, 06 Nov 1994 08:60:00 GMT",      // minute 00-59
      "Sun, 06 Nov 1994 08:49:61 GMT",      // second 00-60
      "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 31 Nov 1994 08:49:37 GMT",      // November has 30 days
      "Sun, 32 Jan 1994 08:49:37 GMT",
      "Thu, 29 Feb 2023 00:00:00 GMT",      // not a leap year
      "Thu, 29 Feb 1900 00:00:00 GMT",      // divisible by 100, not 400
      "Sun, 06 Nov 1994 08:49:37 GMT junk",
      "Sun, 06 Nov 1994 08:49:37 GMTX",
      "Sunday, 06 Nov 1994 08:49:37 GMT",   // long day name in IMF-fixdate
      "Sun, 06-Nov-94 08:49:37 GMT",        // short day name in RFC 850
      "Sunday, 06-Nov-1994 08:49:37 GMT",
      "Sunday, 06-Nov-94 08:49:37",
      "Sunday, 6-Nov-94 08:49:37 GMT",
      "Sun Nov 6 08:49:37 1994",            // asctime day is 2DIGIT or SP DIGIT
      "Sun Nov  6 08:49:37 94",
      "Sun Nov  6 08:49:37 1994 GMT",
      "Sun Nov  6 08:49:37",
      "1994-11-06T08:49:37Z",               // ISO 8601 is not an HTTP-date
      "Sun, 06 Nov 1994 08:49:37 GMT\r\n",
  };
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parseHttpDate(text, kNow2025).has_value());
  }
}

TEST(HttpDate, FormatsImfFixdate) {
  const DateCase cases[] = {
      {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
      {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
      {"Wed, 31 Dec 1969 23:59:59 GMT", -1},
      {"Mon, 01 Jan 1900 00:00:00 GMT", -2208988800},
      {"Tue, 29 Feb 2000 12:00:00 GMT", 951825600},
      {"Thu, 29 Feb 2024 00:00:00 GMT", 1709164800},
      {"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648},
      {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
  };
  for (const DateCase& c : cases) {
    EXPECT_EQ(formatHttpDate(c.expected), c.text);
  }
}

TEST(HttpDate, FormatAgreesWithGmtimeAndRoundTrips) {
  // Every 7 days and 1 hour, 1850 to 2150: the weekday, calendar and clock all agree with the C
  // library, and parsing gives the same second back.
  for (int64_t t = -3786825600; t < 5679590400; t += 7 * 86400 + 3601) {
    const time_t as_time = static_cast<time_t>(t);
    tm parts;
    gmtime_r(&as_time, &parts);
    char expected[64];
    strftime(expected, sizeof expected, "%a, %d %b %Y %H:%M:%S GMT", &parts);
    const std::string formatted = formatHttpDate(t);
    ASSERT_EQ(formatted, expected) << t;
    ASSERT_EQ(parseHttpDate(formatted, kNow2025), t) << formatted;
  }
}

TEST(HttpDate, OneArgumentFormUsesTheClock) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  const int64_t now = static_cast<int64_t>(time(nullptr));
  EXPECT_EQ(parseHttpDate(formatHttpDate(now)), now);
}

}  // namespace
}  // namespace perfgate
