// Small helpers between the config's types and libevent's.
#pragma once

#include <event2/buffer.h>
#include <sys/time.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "gateway/config/config.h"

namespace perfgate {

inline timeval toTimeval(Millis ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// Appends `size` bytes as one chunk of the chunked transfer coding (RFC 9112 §7.1).
inline std::string_view chunkSizeLine(char (&line)[24], size_t size) {
  return std::string_view(line, static_cast<size_t>(std::snprintf(line, sizeof line, "%zx\r\n", size)));
}

inline void appendChunk(evbuffer* out, const void* data, size_t size) {
  char line[24];
  std::string_view size_line = chunkSizeLine(line, size);
  evbuffer_add(out, size_line.data(), size_line.size());
  evbuffer_add(out, data, size);
  evbuffer_add(out, "\r\n", 2);
}

inline void appendChunk(std::string& out, const void* data, size_t size) {
  char line[24];
  out.append(chunkSizeLine(line, size));
  out.append(static_cast<const char*>(data), size);
  out.append("\r\n");
}

}  // namespace perfgate
