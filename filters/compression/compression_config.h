// The compression module's configuration: [compression] and the per-route switch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/http/content_coding.h"

namespace perfgate {

// [compression]: gzip, br and zstd toward clients that accept them.
struct CompressionConfig {
  bool enabled = true;  // default of every route's `compression`
  // The codings offered, in the server's order of preference among equal client weights.
  std::vector<ContentCoding> codings{ContentCoding::Zstd, ContentCoding::Br, ContentCoding::Gzip};
  // Levels for bodies compressed whole (cache fills, paid once per object) and as a stream
  // (uncached routes, unknown or large lengths), per coding.
  int level = 6;              // gzip, zlib scale (1-9)
  int stream_level = 1;
  int br_level = 11;          // 0-11
  int br_stream_level = 4;
  int zstd_level = 19;        // 1-22
  int zstd_stream_level = 3;
  // Whole-body levels that are slow (slowLevel()) are made on this many threads of their own,
  // the stored object served in a fast coding until then; 0: made inline, on the worker.
  int background_threads = 1;
  int background_queue = 64;  // objects waiting for those threads; more are dropped (and counted)
  uint64_t min_bytes = 256;   // smaller bodies (by Content-Length) go out as they are
  // Media types compressed: "type/subtype" exactly, or "type/*".
  std::vector<std::string> types{"text/*", "application/json", "application/javascript", "application/xml",
                                 "image/svg+xml"};

  int wholeLevel(ContentCoding coding) const;
  int streamLevel(ContentCoding coding) const;
  // True when a whole body in `coding` is made by the background threads.
  bool inBackground(ContentCoding coding) const;
};

struct CompressionRouteSettings {
  bool compression = true;  // [compression] enabled unless the route says
};

void declareCompressionConfig(ConfigSchema& schema);

}  // namespace perfgate
