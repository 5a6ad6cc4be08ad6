#include "gateway/http/gzip_codec.h"

#include <libdeflate.h>

#include <algorithm>
#include <memory>

namespace perfgate {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip wrapper
constexpr int kMemLevel = 8;
constexpr size_t kMinOutputStep = 16 * 1024;

struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

// libdeflate compressors are costly to make (hundreds of KiB): one per level per thread.
libdeflate_compressor* compressorFor(int level) {
  thread_local std::unique_ptr<libdeflate_compressor, CompressorDeleter> compressors[13];
  auto& slot = compressors[level];
  if (!slot) slot.reset(libdeflate_alloc_compressor(level));
  return slot.get();
}

}  // namespace

GzipStream::GzipStream(int level, bool flush_each_write) : flush_each_write_(flush_each_write) {
  ready_ = deflateInit2(&zs_, level, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) == Z_OK;
}

GzipStream::~GzipStream() {
  if (ready_) deflateEnd(&zs_);
}

bool GzipStream::write(std::string_view in, bool end, std::string& out) {
  if (!ready_) return false;
  zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs_.avail_in = static_cast<uInt>(in.size());
  int flush = end ? Z_FINISH : flush_each_write_ ? Z_SYNC_FLUSH : Z_NO_FLUSH;
  if (!end && !flush_each_write_ && in.empty()) return true;
  int rc = Z_OK;
  do {
    size_t used = out.size();
    size_t step = std::max(kMinOutputStep, static_cast<size_t>(zs_.avail_in) / 2 + 64);
    out.resize(used + step);
    zs_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs_.avail_out = static_cast<uInt>(step);
    rc = deflate(&zs_, flush);
    out.resize(used + step - zs_.avail_out);
    if (rc == Z_STREAM_ERROR) return false;
  } while (zs_.avail_out == 0 || (end && rc != Z_STREAM_END));
  return true;
}

std::string gzipCompress(std::string_view in, int level) {
  libdeflate_compressor* compressor = compressorFor(level < 1 ? 1 : level > 12 ? 12 : level);
  std::string out;
  if (compressor == nullptr) return out;
  out.resize(libdeflate_gzip_compress_bound(compressor, in.size()));
  size_t n = libdeflate_gzip_compress(compressor, in.data(), in.size(), out.data(), out.size());
  out.resize(n);
  return out;
}

std::optional<std::string> gzipDecompress(std::string_view in, uint64_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    size_t used = out.size();
    size_t step = std::max(kMinOutputStep, in.size() * 3);
    if (used + step > max_bytes + 1) step = max_bytes + 1 - used;
    if (step == 0) break;
    out.resize(used + step);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs.avail_out = static_cast<uInt>(step);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(used + step - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_out != 0) break;  // input ran out before the end
  }
  bool complete = rc == Z_STREAM_END && zs.avail_in == 0 && out.size() <= max_bytes;
  inflateEnd(&zs);
  if (!complete) return std::nullopt;
  return out;
}

}  // namespace perfgate
