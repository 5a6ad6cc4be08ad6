// Small helpers between the config's types and libevent's.
#pragma once

#include <event2/buffer.h>
#include <sys/time.h>

#include <cstdio>

#include "gateway/config/config.h"

namespace perfgate {

inline timeval toTimeval(Millis ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// Appends `size` bytes as one chunk of the chunked transfer coding (RFC 9112 §7.1).
inline void appendChunk(evbuffer* out, const void* data, size_t size) {
  char size_line[24];
  int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", size);
  evbuffer_add(out, size_line, static_cast<size_t>(n));
  evbuffer_add(out, data, size);
  evbuffer_add(out, "\r\n", 2);
}

}  // namespace perfgate
