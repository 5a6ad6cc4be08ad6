// gzip (RFC 1952) for response bodies: a zlib stream that compresses chunk by chunk with bounded
// memory, whole-buffer compression (libdeflate: faster than zlib on whole buffers, see
// bench/micro/compression_bench.cc) and bounded decompression.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace perfgate {

// A gzip member produced piece by piece. Memory is zlib's state (about 256 KiB) whatever the body
// size. With `flush_each_write`, every write ends with a sync flush, so the client gets each piece
// as soon as it arrives (for bodies of unknown length, which may be event streams); otherwise
// the output depends only on the bytes and the level, not on how they were split.
class GzipStream {
 public:
  GzipStream(int level, bool flush_each_write);
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  // Appends the output for `in` to `out`; with `end`, finishes the member. False on a zlib error.
  bool write(std::string_view in, bool end, std::string& out);

 private:
  z_stream zs_{};
  bool ready_ = false;
  bool flush_each_write_;
};

// `in` as one gzip member at `level` (1-12 for libdeflate; 1-9 mean what they mean to zlib).
std::string gzipCompress(std::string_view in, int level);

// The decoded content of a gzip body, or nullopt when it is not valid gzip or decodes to more
// than `max_bytes`.
std::optional<std::string> gzipDecompress(std::string_view in, uint64_t max_bytes);

}  // namespace perfgate
