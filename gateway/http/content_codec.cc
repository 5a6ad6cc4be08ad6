#include "gateway/http/content_codec.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <bit>

#include "gateway/http/gzip_codec.h"
#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

constexpr size_t kOutputStep = 16 * 1024;
// HTTP's zstd coding (RFC 9659 §3) limits the window to 8 MiB, so that every client can decode
// what is sent; the same bound keeps a hostile backend's frames from asking the decoder for more.
constexpr int kZstdMaxWindowLog = 23;
// Streamed brotli keeps its window per connection: 256 KiB rather than the default 4 MiB.
constexpr int kBrotliStreamWindowLog = 18;
// And zstd 1 MiB.
constexpr int kZstdStreamWindowLog = 20;

int clampLevel(ContentCoding coding, int level) { return std::clamp(level, minLevel(coding), maxLevel(coding)); }

// Grows `out` by a step and hands back where the codec may write.
uint8_t* grow(std::string& out, size_t& used, size_t want) {
  used = out.size();
  out.resize(used + std::max(kOutputStep, want));
  return reinterpret_cast<uint8_t*>(out.data() + used);
}

class GzipEncoder final : public StreamCodec {
 public:
  GzipEncoder(int level, bool flush_each_write) : stream_(level, flush_each_write) {}
  bool write(std::string_view in, bool end, std::string& out) override { return stream_.write(in, end, out); }

 private:
  GzipStream stream_;
};

class BrotliEncoder final : public StreamCodec {
 public:
  BrotliEncoder(int level, bool flush_each_write) : flush_each_write_(flush_each_write) {
    state_ = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
    if (state_ != nullptr) {
      BrotliEncoderSetParameter(state_, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(level));
      BrotliEncoderSetParameter(state_, BROTLI_PARAM_LGWIN, kBrotliStreamWindowLog);
    }
  }
  ~BrotliEncoder() override {
    if (state_ != nullptr) BrotliEncoderDestroyInstance(state_);
  }

  bool write(std::string_view in, bool end, std::string& out) override {
    if (state_ == nullptr) return false;
    if (!end && !flush_each_write_ && in.empty()) return true;
    BrotliEncoderOperation op = end ? BROTLI_OPERATION_FINISH
                                : flush_each_write_ ? BROTLI_OPERATION_FLUSH
                                                    : BROTLI_OPERATION_PROCESS;
    size_t avail_in = in.size();
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
    for (;;) {
      size_t used = 0;
      uint8_t* next_out = grow(out, used, avail_in / 2 + 64);
      size_t room = out.size() - used;
      size_t avail_out = room;
      if (!BrotliEncoderCompressStream(state_, op, &avail_in, &next_in, &avail_out, &next_out, nullptr)) {
        out.resize(used);
        return false;
      }
      out.resize(used + room - avail_out);
      bool more = avail_in > 0 || BrotliEncoderHasMoreOutput(state_);
      if (end) more = more || !BrotliEncoderIsFinished(state_);
      if (!more) return true;
    }
  }

 private:
  BrotliEncoderState* state_ = nullptr;
  bool flush_each_write_;
};

class ZstdEncoder final : public StreamCodec {
 public:
  ZstdEncoder(int level, bool flush_each_write) : flush_each_write_(flush_each_write) {
    ctx_ = ZSTD_createCCtx();
    if (ctx_ != nullptr) {
      ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level);
      ZSTD_CCtx_setParameter(ctx_, ZSTD_c_windowLog, kZstdStreamWindowLog);
    }
  }
  ~ZstdEncoder() override { ZSTD_freeCCtx(ctx_); }

  bool write(std::string_view in, bool end, std::string& out) override {
    if (ctx_ == nullptr) return false;
    if (!end && !flush_each_write_ && in.empty()) return true;
    ZSTD_EndDirective op = end ? ZSTD_e_end : flush_each_write_ ? ZSTD_e_flush : ZSTD_e_continue;
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      size_t used = 0;
      uint8_t* at = grow(out, used, in.size() / 2 + 64);
      ZSTD_outBuffer output{at, out.size() - used, 0};
      size_t left = ZSTD_compressStream2(ctx_, &output, &input, op);
      out.resize(used + output.pos);
      if (ZSTD_isError(left)) return false;
      bool done = op == ZSTD_e_continue ? input.pos == input.size : left == 0;
      if (done) return true;
    }
  }

 private:
  ZSTD_CCtx* ctx_ = nullptr;
  bool flush_each_write_;
};

// Decoders: output bounded by ratio * input + slack, checked as it grows.
class BoundedDecoder : public StreamCodec {
 public:
  BoundedDecoder(uint64_t ratio, uint64_t slack) : ratio_(ratio), slack_(slack) {}

 protected:
  // Output the decoder may produce now: one byte more than the bound, so that reaching the bound
  // exactly is told apart from passing it (over()).
  uint64_t room() const { return limit() - produced_ + 1; }
  bool over() const { return produced_ > limit(); }
  // A decoder that failed stays failed: every later write is refused.
  bool fail() {
    failed_ = true;
    return false;
  }
  bool failed_ = false;
  uint64_t consumed_ = 0;
  uint64_t produced_ = 0;

 private:
  uint64_t limit() const { return ratio_ * consumed_ + slack_; }
  uint64_t ratio_;
  uint64_t slack_;
};

class GzipDecoder final : public BoundedDecoder {
 public:
  GzipDecoder(uint64_t ratio, uint64_t slack) : BoundedDecoder(ratio, slack) {
    ready_ = inflateInit2(&zs_, 15 + 16) == Z_OK;
  }
  ~GzipDecoder() override {
    if (ready_) inflateEnd(&zs_);
  }

  bool write(std::string_view in, bool end, std::string& out) override {
    if (!ready_ || failed_) return false;
    consumed_ += in.size();
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    while (zs_.avail_in > 0 || (end && !finished_)) {
      if (finished_) {  // RFC 1952 §2.2: members may follow one another
        if (inflateReset(&zs_) != Z_OK) return fail();
        finished_ = false;
      }
      size_t used = 0;
      uint8_t* at = grow(out, used, 0);
      size_t step = std::min<uint64_t>(out.size() - used, room());
      zs_.next_out = at;
      zs_.avail_out = static_cast<uInt>(step);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      size_t got = step - zs_.avail_out;
      out.resize(used + got);
      produced_ += got;
      if (over()) return fail();
      if (rc == Z_STREAM_END) {
        finished_ = true;
      } else if (rc == Z_BUF_ERROR && zs_.avail_in == 0) {
        if (end) return fail();  // the body ended inside a member
        break;
      } else if (rc != Z_OK) {
        return fail();
      }
    }
    return true;
  }

 private:
  z_stream zs_{};
  bool ready_ = false;
  bool finished_ = false;
};

class BrotliDecoder final : public BoundedDecoder {
 public:
  BrotliDecoder(uint64_t ratio, uint64_t slack) : BoundedDecoder(ratio, slack) {
    state_ = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  }
  ~BrotliDecoder() override {
    if (state_ != nullptr) BrotliDecoderDestroyInstance(state_);
  }

  bool write(std::string_view in, bool end, std::string& out) override {
    if (state_ == nullptr || failed_) return false;
    consumed_ += in.size();
    size_t avail_in = in.size();
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
    for (;;) {
      if (done_) {
        if (avail_in > 0) return fail();  // bytes after the end of the stream
        return true;
      }
      size_t used = 0;
      uint8_t* next_out = grow(out, used, 0);
      size_t step = std::min<uint64_t>(out.size() - used, room());
      size_t avail_out = step;
      BrotliDecoderResult rc = BrotliDecoderDecompressStream(state_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      out.resize(used + step - avail_out);
      produced_ += step - avail_out;
      if (over()) return fail();
      if (rc == BROTLI_DECODER_RESULT_ERROR) return fail();
      if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
        done_ = true;
      } else if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
        if (end) return fail();
        return true;
      }
    }
  }

 private:
  BrotliDecoderState* state_ = nullptr;
  bool done_ = false;
};

class ZstdDecoder final : public BoundedDecoder {
 public:
  ZstdDecoder(uint64_t ratio, uint64_t slack) : BoundedDecoder(ratio, slack) {
    ctx_ = ZSTD_createDCtx();
    if (ctx_ != nullptr) ZSTD_DCtx_setParameter(ctx_, ZSTD_d_windowLogMax, kZstdMaxWindowLog);
  }
  ~ZstdDecoder() override { ZSTD_freeDCtx(ctx_); }

  bool write(std::string_view in, bool end, std::string& out) override {
    if (ctx_ == nullptr || failed_) return false;
    consumed_ += in.size();
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      size_t used = 0;
      uint8_t* at = grow(out, used, 0);
      size_t step = std::min<uint64_t>(out.size() - used, room());
      ZSTD_outBuffer output{at, step, 0};
      size_t hint = ZSTD_decompressStream(ctx_, &output, &input);
      out.resize(used + output.pos);
      produced_ += output.pos;
      if (over()) return fail();
      if (ZSTD_isError(hint)) return fail();
      frame_done_ = hint == 0;  // a frame ended and is flushed whole
      // All input taken and the decoder holds no more output for now.
      if (input.pos == input.size && (frame_done_ || output.pos < step)) break;
    }
    if (end && !frame_done_) return fail();  // the body ended inside a frame
    return true;
  }

 private:
  ZSTD_DCtx* ctx_ = nullptr;
  bool frame_done_ = true;
};

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* ctx) const { ZSTD_freeCCtx(ctx); }
};

}  // namespace

std::string_view codingName(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::Gzip: return "gzip";
    case ContentCoding::Br: return "br";
    case ContentCoding::Zstd: return "zstd";
    case ContentCoding::Identity: break;
  }
  return "identity";
}

std::optional<ContentCoding> parseCoding(std::string_view token) {
  if (equalsIgnoreCase(token, "gzip") || equalsIgnoreCase(token, "x-gzip")) return ContentCoding::Gzip;
  if (equalsIgnoreCase(token, "br")) return ContentCoding::Br;
  if (equalsIgnoreCase(token, "zstd")) return ContentCoding::Zstd;
  if (equalsIgnoreCase(token, "identity")) return ContentCoding::Identity;
  return std::nullopt;
}

int minLevel(ContentCoding coding) { return coding == ContentCoding::Br ? 0 : 1; }

int maxLevel(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::Gzip: return 12;
    case ContentCoding::Br: return 11;
    case ContentCoding::Zstd: return 22;
    case ContentCoding::Identity: break;
  }
  return 0;
}

bool slowLevel(ContentCoding coding, int level) {
  switch (coding) {
    case ContentCoding::Gzip: return level >= 10;
    case ContentCoding::Br: return level >= 10;
    case ContentCoding::Zstd: return level >= 17;
    case ContentCoding::Identity: break;
  }
  return false;
}

std::string encodeWhole(ContentCoding coding, std::string_view in, int level) {
  level = clampLevel(coding, level);
  std::string out;
  switch (coding) {
    case ContentCoding::Identity:
      return std::string(in);
    case ContentCoding::Gzip:
      return gzipCompress(in, level);
    case ContentCoding::Br: {
      size_t size = BrotliEncoderMaxCompressedSize(in.size());
      if (size == 0) size = in.size() + 1024;
      out.resize(size);
      int window = std::clamp(static_cast<int>(std::bit_width(in.size() | 1)) + 1, BROTLI_MIN_WINDOW_BITS, BROTLI_DEFAULT_WINDOW);
      if (!BrotliEncoderCompress(level, window, BROTLI_MODE_GENERIC, in.size(), reinterpret_cast<const uint8_t*>(in.data()),
                                 &size, reinterpret_cast<uint8_t*>(out.data()))) {
        return {};
      }
      out.resize(size);
      return out;
    }
    case ContentCoding::Zstd: {
      thread_local std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> ctx(ZSTD_createCCtx());
      if (ctx == nullptr) return {};
      ZSTD_CCtx_reset(ctx.get(), ZSTD_reset_session_and_parameters);
      ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level);
      ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_windowLog, kZstdMaxWindowLog);
      out.resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compress2(ctx.get(), out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(n)) return {};
      out.resize(n);
      return out;
    }
  }
  return out;
}

std::optional<std::string> decodeWhole(ContentCoding coding, std::string_view in, uint64_t max_bytes) {
  if (coding == ContentCoding::Identity) {
    if (in.size() > max_bytes) return std::nullopt;
    return std::string(in);
  }
  if (coding == ContentCoding::Gzip) return gzipDecompress(in, max_bytes);
  std::unique_ptr<StreamCodec> decoder = makeStreamDecoder(coding, 0, max_bytes);
  std::string out;
  if (decoder == nullptr || !decoder->write(in, true, out)) return std::nullopt;
  return out;
}

std::unique_ptr<StreamCodec> makeStreamEncoder(ContentCoding coding, int level, bool flush_each_write) {
  level = clampLevel(coding, level);
  switch (coding) {
    case ContentCoding::Gzip: return std::make_unique<GzipEncoder>(std::min(level, 9), flush_each_write);
    case ContentCoding::Br: return std::make_unique<BrotliEncoder>(level, flush_each_write);
    case ContentCoding::Zstd: return std::make_unique<ZstdEncoder>(level, flush_each_write);
    case ContentCoding::Identity: break;
  }
  return nullptr;
}

std::unique_ptr<StreamCodec> makeStreamDecoder(ContentCoding coding, uint64_t ratio, uint64_t slack) {
  switch (coding) {
    case ContentCoding::Gzip: return std::make_unique<GzipDecoder>(ratio, slack);
    case ContentCoding::Br: return std::make_unique<BrotliDecoder>(ratio, slack);
    case ContentCoding::Zstd: return std::make_unique<ZstdDecoder>(ratio, slack);
    case ContentCoding::Identity: break;
  }
  return nullptr;
}

}  // namespace perfgate
