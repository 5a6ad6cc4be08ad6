#include "gateway/http_date.h"

#include <ctime>

namespace perfgate {

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
