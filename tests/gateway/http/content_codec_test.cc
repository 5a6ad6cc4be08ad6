// Unit tests for the content codecs (gateway/http/content_codec.h): every coding's whole and
// streamed output decodes with the coding's own library (brotli's and zstd's one-shot decoders,
// zlib), however the input is split; flushed streams can be decoded piece by piece; decoders
// refuse truncated, trailing and oversized output (a compression bomb) instead of growing.
#include "gateway/http/content_codec.h"

#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <optional>
#include <string>

#include "support/sample_text.h"

namespace perfgate {
namespace {

constexpr ContentCoding kCodings[] = {ContentCoding::Gzip, ContentCoding::Br, ContentCoding::Zstd};

// Decoded by the coding's library directly, not through the codec under test.
std::optional<std::string> reference(ContentCoding coding, const std::string& in) {
  std::string out;
  if (coding == ContentCoding::Br) {
    BrotliDecoderState* state = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    size_t avail_in = in.size();
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
    BrotliDecoderResult rc;
    do {
      uint8_t buffer[16384];
      size_t avail_out = sizeof buffer;
      uint8_t* next_out = buffer;
      rc = BrotliDecoderDecompressStream(state, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      out.append(reinterpret_cast<char*>(buffer), sizeof buffer - avail_out);
    } while (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
    BrotliDecoderDestroyInstance(state);
    if (rc != BROTLI_DECODER_RESULT_SUCCESS || avail_in != 0) return std::nullopt;
    return out;
  }
  if (coding == ContentCoding::Zstd) {
    ZSTD_DCtx* ctx = ZSTD_createDCtx();
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    size_t hint = 1;
    while (input.pos < input.size) {
      char buffer[16384];
      ZSTD_outBuffer output{buffer, sizeof buffer, 0};
      hint = ZSTD_decompressStream(ctx, &output, &input);
      if (ZSTD_isError(hint)) break;
      out.append(buffer, output.pos);
    }
    ZSTD_freeDCtx(ctx);
    if (ZSTD_isError(hint) || hint != 0) return std::nullopt;
    return out;
  }
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    char buffer[16384];
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - zs.avail_out);
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

std::string streamed(ContentCoding coding, int level, bool flush, const std::string& in, size_t piece) {
  std::unique_ptr<StreamCodec> encoder = makeStreamEncoder(coding, level, flush);
  EXPECT_NE(encoder, nullptr);
  std::string out;
  for (size_t at = 0; at < in.size(); at += piece) {
    EXPECT_TRUE(encoder->write(std::string_view(in).substr(at, piece), false, out));
  }
  EXPECT_TRUE(encoder->write({}, true, out));
  return out;
}

TEST(ContentCoding, NamesRoundTrip) {
  for (ContentCoding coding : {ContentCoding::Identity, ContentCoding::Gzip, ContentCoding::Br, ContentCoding::Zstd}) {
    EXPECT_EQ(parseCoding(codingName(coding)), coding);
  }
  EXPECT_EQ(parseCoding("X-GZIP"), ContentCoding::Gzip);
  EXPECT_EQ(parseCoding("BR"), ContentCoding::Br);
  EXPECT_EQ(parseCoding("deflate"), std::nullopt);
  EXPECT_EQ(parseCoding("gzip, br"), std::nullopt);
}

TEST(ContentCodec, WholeOutputDecodesWithTheCodingsOwnLibrary) {
  const std::string text = test::sampleText(200000, 1);
  for (ContentCoding coding : kCodings) {
    for (int level : {minLevel(coding), 5, maxLevel(coding)}) {
      std::string encoded = encodeWhole(coding, text, level);
      EXPECT_LT(encoded.size(), text.size() / 3) << codingName(coding) << " " << level;
      EXPECT_TRUE(reference(coding, encoded) == text) << codingName(coding) << " " << level;
      EXPECT_TRUE(decodeWhole(coding, encoded, text.size()) == text) << codingName(coding) << " " << level;
    }
    EXPECT_EQ(reference(coding, encodeWhole(coding, "", 5)), "") << codingName(coding);
  }
  EXPECT_EQ(encodeWhole(ContentCoding::Identity, "abc", 5), "abc");
}

TEST(ContentCodec, SlowLevelsCompressSmallerThanGzip) {
  const std::string text = test::sampleText(200000, 2);
  size_t gzip = encodeWhole(ContentCoding::Gzip, text, 6).size();
  EXPECT_LT(encodeWhole(ContentCoding::Br, text, 11).size(), gzip);
  EXPECT_LT(encodeWhole(ContentCoding::Zstd, text, 19).size(), gzip);
  EXPECT_TRUE(slowLevel(ContentCoding::Br, 11));
  EXPECT_FALSE(slowLevel(ContentCoding::Br, 9));
  EXPECT_TRUE(slowLevel(ContentCoding::Zstd, 19));
  EXPECT_FALSE(slowLevel(ContentCoding::Zstd, 16));
  EXPECT_FALSE(slowLevel(ContentCoding::Gzip, 9));
}

TEST(ContentCodec, StreamsDecodeHoweverTheInputIsSplit) {
  const std::string text = test::sampleText(300000, 3);
  for (ContentCoding coding : kCodings) {
    for (size_t piece : {size_t{1000}, size_t{65536}, text.size()}) {
      for (bool flush : {false, true}) {
        EXPECT_TRUE(reference(coding, streamed(coding, 3, flush, text, piece)) == text)
            << codingName(coding) << " piece " << piece << " flush " << flush;
      }
    }
    // Without flushes the bytes depend on the content only.
    EXPECT_TRUE(streamed(coding, 3, false, text, 1000) == streamed(coding, 3, false, text, 7777)) << codingName(coding);
  }
}

TEST(ContentCodec, AFlushedStreamDecodesPieceByPiece) {
  const std::string first = "data: {\"event\": 1}\n\n";
  const std::string second = "data: {\"event\": 2}\n\n";
  for (ContentCoding coding : kCodings) {
    std::unique_ptr<StreamCodec> encoder = makeStreamEncoder(coding, 3, true);
    std::unique_ptr<StreamCodec> decoder = makeStreamDecoder(coding);
    std::string wire;
    std::string seen;
    ASSERT_TRUE(encoder->write(first, false, wire));
    ASSERT_TRUE(decoder->write(wire, false, seen));
    EXPECT_EQ(seen, first) << codingName(coding) << ": the first event must be readable before the second";
    wire.clear();
    ASSERT_TRUE(encoder->write(second, true, wire));
    ASSERT_TRUE(decoder->write(wire, true, seen));
    EXPECT_EQ(seen, first + second) << codingName(coding);
  }
}

TEST(ContentCodec, DecodersRefuseTruncatedTrailingAndCorruptInput) {
  const std::string text = test::sampleText(50000, 4);
  for (ContentCoding coding : kCodings) {
    std::string encoded = encodeWhole(coding, text, 5);
    EXPECT_EQ(decodeWhole(coding, encoded.substr(0, encoded.size() - 5), 1 << 20), std::nullopt) << codingName(coding);
    std::string corrupt = encoded;
    corrupt[corrupt.size() / 2] ^= 0x55;
    corrupt[corrupt.size() / 3] ^= 0x55;
    std::optional<std::string> decoded = decodeWhole(coding, corrupt, 1 << 20);
    EXPECT_TRUE(!decoded || *decoded != text) << codingName(coding);
    EXPECT_EQ(decodeWhole(coding, "not encoded at all", 1 << 20), std::nullopt) << codingName(coding);
  }
  std::string br = encodeWhole(ContentCoding::Br, text, 5);
  EXPECT_EQ(decodeWhole(ContentCoding::Br, br + "x", 1 << 20), std::nullopt) << "bytes after the stream";
  // gzip and zstd allow members / frames one after another (RFC 1952 §2.2, RFC 8878 §3).
  for (ContentCoding coding : {ContentCoding::Gzip, ContentCoding::Zstd}) {
    std::string twice = encodeWhole(coding, "one ", 5) + encodeWhole(coding, "two", 5);
    std::unique_ptr<StreamCodec> decoder = makeStreamDecoder(coding);
    std::string out;
    EXPECT_TRUE(decoder->write(twice, true, out)) << codingName(coding);
    EXPECT_EQ(out, "one two") << codingName(coding);
  }
}

TEST(ContentCodec, DecodersStopAtTheirBound) {
  const std::string zeros(8 << 20, '\0');  // 8 MiB of zeros: a few KiB encoded
  for (ContentCoding coding : kCodings) {
    std::string bomb = encodeWhole(coding, zeros, 5);
    ASSERT_LT(bomb.size(), 64u * 1024) << codingName(coding);
    EXPECT_EQ(decodeWhole(coding, bomb, 1 << 20), std::nullopt) << codingName(coding);
    std::optional<std::string> exact = decodeWhole(coding, bomb, zeros.size());
    EXPECT_TRUE(exact && *exact == zeros) << codingName(coding) << ": exactly at the bound";
    // A stream decoder bounds its output by its input (here 16 times plus 64 KiB).
    std::unique_ptr<StreamCodec> decoder = makeStreamDecoder(coding, 16, 64 << 10);
    std::string out;
    EXPECT_FALSE(decoder->write(bomb, true, out)) << codingName(coding);
    EXPECT_LE(out.size(), 16 * bomb.size() + (64 << 10) + 1) << codingName(coding);
  }
}

TEST(ContentCodec, ZstdFramesStayWithinTheWindowEveryClientDecodes) {
  // RFC 9659 §3: 8 MiB at most, even at level 22 whose default window is larger.
  const std::string text = test::sampleText(1 << 20, 5);
  std::string encoded = encodeWhole(ContentCoding::Zstd, text, 22);
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, 23);  // what a client that keeps to 8 MiB allows
  std::string out(text.size(), '\0');
  ZSTD_inBuffer input{encoded.data(), encoded.size(), 0};
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  size_t rc = ZSTD_decompressStream(ctx, &output, &input);
  ZSTD_freeDCtx(ctx);
  ASSERT_FALSE(ZSTD_isError(rc)) << ZSTD_getErrorName(rc);
  EXPECT_EQ(rc, 0u);
  EXPECT_TRUE(out == text);
}

}  // namespace
}  // namespace perfgate
