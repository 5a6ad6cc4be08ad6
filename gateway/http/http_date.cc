#include "gateway/http/http_date.h"

#include <array>
#include <cstdio>
#include <ctime>

#include "gateway/http/request_parser.h"

namespace perfgate {
namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDayNames = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

constexpr int64_t kSecondsPerDay = 86400;

bool isLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int daysInMonth(int64_t year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && isLeapYear(year) ? 29 : kDays[month - 1];
}

// Days from 1970-01-01 to year-month-day of the proleptic Gregorian calendar (H. Hinnant's
// days_from_civil), exact for every year without timegm() or the TZ environment.
int64_t daysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct Civil {
  int64_t year;
  int month;
  int day;
};

// Inverse of daysFromCivil.
Civil civilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return Civil{year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

// A forward-only reader over the date text; every method consumes only on success.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool atEnd() const { return pos_ == text_.size(); }

  bool literal(std::string_view s) {
    if (text_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }

  // Exactly `count` digits.
  bool digits(size_t count, int& out) {
    if (text_.size() - pos_ < count) return false;
    int value = 0;
    for (size_t i = 0; i < count; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    pos_ += count;
    out = value;
    return true;
  }

  // One of `names`; its index in `index`.
  template <size_t N>
  bool oneOf(const std::array<std::string_view, N>& names, int& index) {
    for (size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }

  // time-of-day = hour ":" minute ":" second; 00:00:00 - 23:59:60 (leap second).
  bool timeOfDay(int& hour, int& minute, int& second) {
    return digits(2, hour) && literal(":") && digits(2, minute) && literal(":") &&
           digits(2, second) && hour <= 23 && minute <= 59 && second <= 60;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

struct Fields {
  int64_t year = 0;
  int month = 0;  // 1-12
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
};

// IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT; date1 = day SP month SP year.
bool parseImfFixdate(std::string_view text, Fields& f) {
  Cursor in(text);
  int unused = 0;
  int year = 0;
  if (!(in.oneOf(kDayNames, unused) && in.literal(", ") && in.digits(2, f.day) && in.literal(" ") &&
        in.oneOf(kMonthNames, f.month) && in.literal(" ") && in.digits(4, year) && in.literal(" ") &&
        in.timeOfDay(f.hour, f.minute, f.second) && in.literal(" GMT") && in.atEnd())) {
    return false;
  }
  f.month += 1;
  f.year = year;
  return true;
}

// rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT; date2 = day "-" month "-" 2DIGIT.
bool parseRfc850(std::string_view text, int64_t now, Fields& f) {
  Cursor in(text);
  int unused = 0;
  int two_digit_year = 0;
  if (!(in.oneOf(kLongDayNames, unused) && in.literal(", ") && in.digits(2, f.day) &&
        in.literal("-") && in.oneOf(kMonthNames, f.month) && in.literal("-") &&
        in.digits(2, two_digit_year) && in.literal(" ") && in.timeOfDay(f.hour, f.minute, f.second) &&
        in.literal(" GMT") && in.atEnd())) {
    return false;
  }
  f.month += 1;
  // RFC 9110 §5.6.7: "Recipients of a timestamp value in rfc850-date format, which uses a
  // two-digit year, MUST interpret a timestamp that appears to be more than 50 years in the
  // future as representing the most recent year in the past that had the same last two digits."
  const int64_t current_year = civilFromDays(now >= 0 ? now / kSecondsPerDay
                                                      : (now - kSecondsPerDay + 1) / kSecondsPerDay)
                                   .year;
  int64_t year = current_year - current_year % 100 + two_digit_year;
  if (year > current_year + 50) year -= 100;
  f.year = year;
  return true;
}

// asctime-date = day-name SP date3 SP time-of-day SP year; date3 = month SP ( 2DIGIT / ( SP DIGIT )).
bool parseAsctime(std::string_view text, Fields& f) {
  Cursor in(text);
  int unused = 0;
  int year = 0;
  if (!(in.oneOf(kDayNames, unused) && in.literal(" ") && in.oneOf(kMonthNames, f.month) &&
        in.literal(" "))) {
    return false;
  }
  if (!(in.digits(2, f.day) || (in.literal(" ") && in.digits(1, f.day)))) return false;
  if (!(in.literal(" ") && in.timeOfDay(f.hour, f.minute, f.second) && in.literal(" ") &&
        in.digits(4, year) && in.atEnd())) {
    return false;
  }
  f.month += 1;
  f.year = year;
  return true;
}

}  // namespace

std::optional<int64_t> parseHttpDate(std::string_view text, int64_t now) {
  text = trimOws(text);
  Fields f;
  // The formats are told apart by the byte after the day name: ',' at 3 for IMF-fixdate, ' ' at
  // 3 for asctime, ',' later for RFC 850's long day names.
  bool parsed = false;
  if (text.size() > 3 && text[3] == ',') {
    parsed = parseImfFixdate(text, f);
  } else if (text.size() > 3 && text[3] == ' ') {
    parsed = parseAsctime(text, f);
  } else {
    parsed = parseRfc850(text, now, f);
  }
  if (!parsed || f.day < 1 || f.day > daysInMonth(f.year, f.month)) return std::nullopt;
  return daysFromCivil(f.year, f.month, f.day) * kSecondsPerDay + f.hour * 3600 + f.minute * 60 +
         f.second;
}

std::optional<int64_t> parseHttpDate(std::string_view text) {
  return parseHttpDate(text, static_cast<int64_t>(time(nullptr)));
}

std::string formatHttpDate(int64_t seconds) {
  int64_t days = seconds / kSecondsPerDay;
  int64_t rest = seconds % kSecondsPerDay;
  if (rest < 0) {
    rest += kSecondsPerDay;
    days -= 1;
  }
  const Civil date = civilFromDays(days);
  const int64_t weekday = ((days % 7) + 11) % 7;  // 1970-01-01 was a Thursday (index 4)
  char buffer[64];
  const int length = std::snprintf(
      buffer, sizeof buffer, "%.3s, %02d %.3s %04lld %02d:%02d:%02d GMT",
      kDayNames[static_cast<size_t>(weekday)].data(), date.day,
      kMonthNames[static_cast<size_t>(date.month - 1)].data(), static_cast<long long>(date.year),
      static_cast<int>(rest / 3600), static_cast<int>(rest / 60 % 60), static_cast<int>(rest % 60));
  return std::string(buffer, length > 0 ? static_cast<size_t>(length) : 0);
}

std::string_view httpDate() {
  thread_local time_t cached_second = 0;
  thread_local char buffer[64];
  thread_local size_t length = 0;
  time_t now = time(nullptr);
  if (now != cached_second) {
    tm parts;
    gmtime_r(&now, &parts);
    length = strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &parts);
    cached_second = now;
  }
  return std::string_view(buffer, length);
}

}  // namespace perfgate
