// Unit tests for the gzip codec (filters/compression/gzip_codec.h): output decodes with plain
// zlib to the input, streams use bounded steps, and a stream without per-write flushes gives the
// same bytes however the input is split (what makes a hashed ETag of gzip output stable).
#include "gateway/http/gzip_codec.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <optional>
#include <string>

#include "support/sample_text.h"

namespace perfgate {
namespace {

std::optional<std::string> zlibGunzip(const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buffer[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - zs.avail_out);
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

std::string streamed(const std::string& in, size_t piece, int level, bool flush) {
  GzipStream stream(level, flush);
  std::string out;
  for (size_t at = 0; at < in.size(); at += piece) {
    EXPECT_TRUE(stream.write(std::string_view(in).substr(at, piece), false, out));
  }
  EXPECT_TRUE(stream.write({}, true, out));
  return out;
}

TEST(GzipCodec, StreamRoundTripsAtEveryLevel) {
  const std::string text = test::sampleText(300000, 1);
  for (int level = 1; level <= 9; level += 4) {
    for (bool flush : {false, true}) {
      std::string gz = streamed(text, 7000, level, flush);
      EXPECT_LT(gz.size(), text.size() / 3) << level;
      EXPECT_EQ(zlibGunzip(gz), text) << "level " << level << " flush " << flush;
    }
  }
}

TEST(GzipCodec, UnflushedStreamDoesNotDependOnHowInputIsSplit) {
  const std::string text = test::sampleText(200000, 2);
  const std::string whole = streamed(text, text.size(), 1, false);
  for (size_t piece : {1u, 100u, 4096u, 16384u, 65537u}) {
    EXPECT_EQ(streamed(text, piece, 1, false), whole) << piece;
  }
}

TEST(GzipCodec, FlushedStreamHandsOverEveryPieceAtOnce) {
  GzipStream stream(1, true);
  std::string out;
  ASSERT_TRUE(stream.write("data: event one\n\n", false, out));
  // A sync flush ends on a byte boundary with all input decodable: inflate sees the event.
  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  char buffer[256];
  zs.next_in = reinterpret_cast<Bytef*>(out.data());
  zs.avail_in = static_cast<uInt>(out.size());
  zs.next_out = reinterpret_cast<Bytef*>(buffer);
  zs.avail_out = sizeof buffer;
  EXPECT_EQ(inflate(&zs, Z_SYNC_FLUSH), Z_OK);
  EXPECT_EQ(std::string(buffer, sizeof buffer - zs.avail_out), "data: event one\n\n");
  inflateEnd(&zs);
}

TEST(GzipCodec, EmptyBodyIsAValidMember) {
  EXPECT_EQ(zlibGunzip(streamed("", 1, 1, false)), "");
  EXPECT_EQ(zlibGunzip(gzipCompress("", 6)), "");
}

TEST(GzipCodec, WholeBufferRoundTripsAndDecompressIsBounded) {
  const std::string text = test::sampleText(20000, 3);
  for (int level : {1, 6, 9, 12}) {
    std::string gz = gzipCompress(text, level);
    EXPECT_EQ(zlibGunzip(gz), text) << level;
    EXPECT_EQ(gzipDecompress(gz, text.size()), text) << level;
  }
  std::string gz = gzipCompress(text, 6);
  EXPECT_FALSE(gzipDecompress(gz, text.size() - 1));            // over the limit
  EXPECT_FALSE(gzipDecompress(gz.substr(0, gz.size() - 4), 1 << 20));  // truncated
  EXPECT_FALSE(gzipDecompress("not gzip at all", 1 << 20));
  EXPECT_FALSE(gzipDecompress(gz + "trailing", 1 << 20));
  EXPECT_EQ(gzipDecompress(streamed(text, 999, 1, true), 1 << 20), text);
}

}  // namespace
}  // namespace perfgate
