// Encoders and decoders of the content codings (content_coding.h) for response bodies: whole
// buffers (a cache fill, paid once per object) and streams (bodies that pass through, with
// bounded memory). gzip is gzip_codec.h's (libdeflate whole, zlib streamed); br is libbrotli's,
// zstd libzstd's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/http/content_coding.h"

namespace perfgate {

// The range of `level` each coding takes: gzip 1-12 (10-12 are libdeflate's slow exhaustive
// levels), br 0-11, zstd 1-22.
int minLevel(ContentCoding coding);
int maxLevel(ContentCoding coding);

// True for a whole-body level that costs tens of milliseconds per 100 KB or more (gzip 10+,
// br 10+, zstd 17+: bench/micro/compression_bench.cc), which the cache then makes in the
// background rather than on the worker that fills.
bool slowLevel(ContentCoding coding, int level);

// `in` encoded whole at `level` (clamped to the coding's range); identity returns `in`.
std::string encodeWhole(ContentCoding coding, std::string_view in, int level);

// The decoded content of a body in `coding`, or nullopt when it is not valid or decodes to more
// than `max_bytes`.
std::optional<std::string> decodeWhole(ContentCoding coding, std::string_view in, uint64_t max_bytes);

// One body encoded or decoded piece by piece.
class StreamCodec {
 public:
  virtual ~StreamCodec() = default;
  // Appends the output for `in` to `out`; `end` finishes the body. False on an error (invalid
  // input to a decoder, output beyond its bound).
  virtual bool write(std::string_view in, bool end, std::string& out) = 0;
};

// An encoder at `level`. With `flush_each_write` every write's output is complete on its own (the
// client gets each piece as it arrives: bodies of unknown length may be event streams);
// otherwise the output depends only on the bytes, not on how they were split. Null for identity.
std::unique_ptr<StreamCodec> makeStreamEncoder(ContentCoding coding, int level, bool flush_each_write);

// A decoder whose output may not exceed `ratio` times its input plus `slack` bytes at any point
// (a body that decodes to more is refused: a compression bomb). Null for identity.
std::unique_ptr<StreamCodec> makeStreamDecoder(ContentCoding coding, uint64_t ratio = 1024,
                                               uint64_t slack = 1 << 20);

}  // namespace perfgate
