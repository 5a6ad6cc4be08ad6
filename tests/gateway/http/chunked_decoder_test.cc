// Unit tests for ChunkedDecoder (RFC 9112 §7.1).
#include "gateway/http/chunked_decoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace perfgate {
namespace {

using namespace std::string_literals;

constexpr uint64_t kMaxBody = 1024 * 1024;
constexpr size_t kMaxTrailer = 1024;

class CollectSink : public BodySink {
 public:
  void onBodyData(std::string_view data) override { body.append(data); }
  std::string body;
};

struct Decoded {
  ParseStatus status = ParseStatus::Incomplete;
  size_t consumed = 0;  // of the whole input, across pieces
  std::string body;
  uint64_t body_bytes = 0;
  ParseError error;
};

// Feeds `pieces` in order, as a connection would: bytes the decoder did not consume are
// offered again together with the next piece. Stops at the first Complete or Error.
Decoded decodePieces(const std::vector<std::string_view>& pieces, uint64_t max_body = kMaxBody,
                     size_t max_trailer = kMaxTrailer) {
  ChunkedDecoder decoder(max_body, max_trailer);
  CollectSink sink;
  Decoded d;
  std::string pending;
  for (std::string_view piece : pieces) {
    pending.append(piece);
    size_t consumed = 0;
    d.status = decoder.decode(pending, consumed, sink);
    EXPECT_LE(consumed, pending.size());
    d.consumed += consumed;
    pending.erase(0, consumed);
    if (d.status != ParseStatus::Incomplete) break;
  }
  d.body = sink.body;
  d.body_bytes = decoder.bodyBytes();
  d.error = decoder.error();
  return d;
}

Decoded decodeWhole(std::string_view in, uint64_t max_body = kMaxBody,
                    size_t max_trailer = kMaxTrailer) {
  return decodePieces({in}, max_body, max_trailer);
}

Decoded decodeByteByByte(std::string_view in, uint64_t max_body = kMaxBody,
                         size_t max_trailer = kMaxTrailer) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < in.size(); ++i) pieces.push_back(in.substr(i, 1));
  return decodePieces(pieces, max_body, max_trailer);
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c >= 0x7f) out += "\\x" + std::to_string(c);
    else out += static_cast<char>(c);
  }
  return out;
}

const char* statusName(ParseStatus s) {
  switch (s) {
    case ParseStatus::Complete: return "Complete";
    case ParseStatus::Incomplete: return "Incomplete";
    case ParseStatus::Error: return "Error";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Valid bodies: whole, byte by byte, and split at every one and every two points.

struct ValidChunked {
  std::string name;
  std::string message;  // the chunked body, exactly
  std::string body;     // what it decodes to
  uint64_t max_body = kMaxBody;
  size_t max_trailer = kMaxTrailer;
};

void PrintTo(const ValidChunked& c, std::ostream* os) { *os << c.name; }

std::vector<ValidChunked> validChunked() {
  std::vector<ValidChunked> v;
  v.push_back({"Simple", "5\r\nhello\r\n0\r\n\r\n", "hello"});
  v.push_back({"Empty", "0\r\n\r\n", ""});
  v.push_back({"MultiChunk", "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n", "hello world"});
  v.push_back({"UpperAndLowerHex",
               "A\r\n0123456789\r\na\r\nabcdefghij\r\n1F\r\n" + std::string(31, 'u') + "\r\n1f\r\n" +
                   std::string(31, 'l') + "\r\n0\r\n\r\n",
               "0123456789abcdefghij" + std::string(31, 'u') + std::string(31, 'l')});
  v.push_back({"LeadingZeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"});
  v.push_back({"SixteenHexDigits", "0000000000000003\r\nabc\r\n0\r\n\r\n", "abc"});
  v.push_back({"Extensions", "5;name=value\r\nhello\r\n6;a;b=\"q s\"\r\n world\r\n0;last\r\n\r\n",
               "hello world"});
  v.push_back({"LongExtension", "5;" + std::string(1000, 'e') + "=v\r\nhello\r\n0\r\n\r\n",
               "hello"});
  v.push_back({"Trailers", "5\r\nhello\r\n0\r\nX-Trailer: v\r\nX-Other:  w \r\n\r\n", "hello"});
  v.push_back({"TrailersAfterEmptyBody", "0\r\nX-Checksum: abc\r\n\r\n", ""});
  v.push_back({"DataLooksLikeFraming", "4\r\n\r\n\r\n\r\n7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n",
               "\r\n\r\n0\r\n\r\n\r\n"});
  v.push_back({"BinaryData", "6\r\n\0\xff\x01\n\r\x80\r\n0\r\n\r\n"s, "\0\xff\x01\n\r\x80"s});
  v.push_back({"BodyAtLimit", "6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n", "abcdefghij", 10});
  v.push_back({"LargeChunk", "1000\r\n" + std::string(4096, 'x') + "\r\n0\r\n\r\n",
               std::string(4096, 'x')});
  return v;
}

class ChunkedDecoderValid : public ::testing::TestWithParam<ValidChunked> {};

TEST_P(ChunkedDecoderValid, Whole) {
  const ValidChunked& c = GetParam();
  Decoded d = decodeWhole(c.message, c.max_body, c.max_trailer);
  ASSERT_EQ(d.status, ParseStatus::Complete)
      << printable(c.message) << " -> " << statusName(d.status) << " " << d.error.status << " "
      << d.error.message;
  EXPECT_EQ(d.consumed, c.message.size());
  EXPECT_EQ(d.body, c.body);
  EXPECT_EQ(d.body_bytes, c.body.size());
}

TEST_P(ChunkedDecoderValid, ByteByByte) {
  const ValidChunked& c = GetParam();
  Decoded d = decodeByteByByte(c.message, c.max_body, c.max_trailer);
  ASSERT_EQ(d.status, ParseStatus::Complete)
      << statusName(d.status) << " " << d.error.status << " " << d.error.message;
  EXPECT_EQ(d.consumed, c.message.size());
  EXPECT_EQ(d.body, c.body);
  EXPECT_EQ(d.body_bytes, c.body.size());
}

TEST_P(ChunkedDecoderValid, EverySplitPoint) {
  const ValidChunked& c = GetParam();
  const std::string_view m = c.message;
  for (size_t i = 0; i <= m.size(); ++i) {
    Decoded d = decodePieces({m.substr(0, i), m.substr(i)}, c.max_body, c.max_trailer);
    ASSERT_EQ(d.status, ParseStatus::Complete) << "split at " << i << ": " << d.error.message;
    EXPECT_EQ(d.consumed, m.size()) << "split at " << i;
    ASSERT_EQ(d.body, c.body) << "split at " << i;
  }
}

TEST_P(ChunkedDecoderValid, EveryPairOfSplitPoints) {
  const ValidChunked& c = GetParam();
  const std::string_view m = c.message;
  if (m.size() > 200) GTEST_SKIP() << "covered by EverySplitPoint";
  for (size_t i = 0; i <= m.size(); ++i) {
    for (size_t j = i; j <= m.size(); ++j) {
      Decoded d = decodePieces({m.substr(0, i), m.substr(i, j - i), m.substr(j)}, c.max_body,
                               c.max_trailer);
      ASSERT_EQ(d.status, ParseStatus::Complete) << "split at " << i << "," << j;
      EXPECT_EQ(d.consumed, m.size()) << "split at " << i << "," << j;
      ASSERT_EQ(d.body, c.body) << "split at " << i << "," << j;
    }
  }
}

// On Complete the bytes after the message stay unconsumed: they are the next request.
TEST_P(ChunkedDecoderValid, LeavesPipelinedBytes) {
  const ValidChunked& c = GetParam();
  const std::string next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string data = c.message + next;
  Decoded d = decodeWhole(data, c.max_body, c.max_trailer);
  ASSERT_EQ(d.status, ParseStatus::Complete);
  EXPECT_EQ(d.consumed, c.message.size());
  EXPECT_EQ(std::string_view(data).substr(d.consumed), next);
  EXPECT_EQ(d.body, c.body);

  // Same when the message and the next request arrive byte by byte.
  Decoded b = decodeByteByByte(data, c.max_body, c.max_trailer);
  ASSERT_EQ(b.status, ParseStatus::Complete);
  EXPECT_EQ(b.consumed, c.message.size());
  EXPECT_EQ(b.body, c.body);
}

INSTANTIATE_TEST_SUITE_P(Chunked, ChunkedDecoderValid, ::testing::ValuesIn(validChunked()),
                         [](const ::testing::TestParamInfo<ValidChunked>& param_info) {
                           return param_info.param.name;
                         });

// ---------------------------------------------------------------------------------------------
// Rejections.

struct RejectChunked {
  std::string name;
  std::string message;
  std::vector<int> statuses;  // any of these is right
  uint64_t max_body = kMaxBody;
  size_t max_trailer = kMaxTrailer;
};

void PrintTo(const RejectChunked& c, std::ostream* os) { *os << c.name; }

std::vector<RejectChunked> rejectChunked() {
  std::vector<RejectChunked> v;
  v.push_back({"NonHexSize", "g\r\nhello\r\n0\r\n\r\n", {400}});
  v.push_back({"NonHexAfterDigits", "5x\r\nhello\r\n0\r\n\r\n", {400}});
  v.push_back({"EmptySize", "\r\nhello\r\n0\r\n\r\n", {400}});
  v.push_back({"EmptySizeWithExtension", ";ext\r\nhello\r\n0\r\n\r\n", {400}});
  v.push_back({"LeadingSpace", " 5\r\nhello\r\n0\r\n\r\n", {400}});
  v.push_back({"NegativeSize", "-5\r\nhello\r\n0\r\n\r\n", {400}});
  v.push_back({"HexPrefix", "0x5\r\nhello\r\n0\r\n\r\n", {400}});
  // Sizes that do not fit: 17 hex digits is past 2^64.
  v.push_back({"SizeOverflow17Digits", "fffffffffffffffff\r\n", {400, 413}});
  v.push_back({"SizeOverflow17DigitsWithValueOne", "10000000000000001\r\n", {400, 413}});
  v.push_back({"SizeMaxUint64", "ffffffffffffffff\r\n", {400, 413}});
  v.push_back({"SizeAbove2Pow63", "8000000000000001\r\n", {400, 413}, UINT64_MAX});
  v.push_back({"MissingCrlfAfterData", "5\r\nhelloX\r\n0\r\n\r\n", {400}});
  v.push_back({"OnlyCrAfterData", "5\r\nhello\rX0\r\n\r\n", {400}});
  v.push_back({"BareLfAfterSize", "5\nhello\r\n0\r\n\r\n", {400}});
  v.push_back({"BareCrAfterSize", "5\rhello\r\n0\r\n\r\n", {400}});
  v.push_back({"BareLfAfterData", "5\r\nhello\n0\r\n\r\n", {400}});
  v.push_back({"BareLfAfterLastChunk", "5\r\nhello\r\n0\n\r\n", {400}});
  v.push_back({"BareLfFinal", "5\r\nhello\r\n0\r\n\n", {400}});
  v.push_back({"BareLfInExtension", "5;a\nhello\r\n0\r\n\r\n", {400}});
  v.push_back({"BareCrInExtension", "5;a\rb\r\nhello\r\n0\r\n\r\n", {400}});
  v.push_back({"ChunkOverMaxBody", "b\r\nhello world\r\n0\r\n\r\n", {413}, 10});
  v.push_back({"CumulativeOverMaxBody", "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n", {413}, 10});
  v.push_back({"ExtensionTooLong", "5;" + std::string(5000, 'e') + "\r\nhello\r\n0\r\n\r\n",
               {400}});
  v.push_back({"ExtensionFarTooLong", "5;" + std::string(64 * 1024, 'e') + "\r\nhello\r\n0\r\n\r\n",
               {400}});
  {
    std::string trailers = "0\r\n";
    for (int i = 0; i < 40; ++i) trailers += "X-T" + std::to_string(i) + ": " + std::string(40, 't') + "\r\n";
    v.push_back({"TrailersTooBig", trailers + "\r\n", {431, 400}});
  }
  v.push_back({"TrailerWithoutColon", "0\r\nBad Trailer\r\n\r\n", {400}});
  v.push_back({"TrailerNoColonToken", "0\r\nNoColon\r\n\r\n", {400}});
  v.push_back({"TrailerEmptyName", "0\r\n: v\r\n\r\n", {400}});
  v.push_back({"TrailerSpaceBeforeColon", "0\r\nX-T : v\r\n\r\n", {400}});
  v.push_back({"TrailerObsFold", "0\r\nX-T: a\r\n b\r\n\r\n", {400}});
  v.push_back({"TrailerBareLf", "0\r\nX-T: a\n\r\n", {400}});
  v.push_back({"TrailerBareCr", "0\r\nX-T: a\rb\r\n\r\n", {400}});
  v.push_back({"TrailerNul", "0\r\nX-T: a\0b\r\n\r\n"s, {400}});
  return v;
}

class ChunkedDecoderReject : public ::testing::TestWithParam<RejectChunked> {};

void expectRejected(const RejectChunked& c, const Decoded& d, const char* how) {
  ASSERT_EQ(d.status, ParseStatus::Error)
      << how << ": " << printable(c.message.substr(0, 80)) << " -> " << statusName(d.status);
  bool expected = false;
  for (int s : c.statuses) expected = expected || s == d.error.status;
  EXPECT_TRUE(expected) << how << ": got " << d.error.status << " (" << d.error.message << ")";
  ASSERT_NE(d.error.message, nullptr);
  EXPECT_STRNE(d.error.message, "");
  EXPECT_LE(d.body_bytes, c.max_body);
}

TEST_P(ChunkedDecoderReject, Whole) {
  const RejectChunked& c = GetParam();
  expectRejected(c, decodeWhole(c.message, c.max_body, c.max_trailer), "whole");
}

TEST_P(ChunkedDecoderReject, ByteByByte) {
  const RejectChunked& c = GetParam();
  expectRejected(c, decodeByteByByte(c.message, c.max_body, c.max_trailer), "byte by byte");
}

INSTANTIATE_TEST_SUITE_P(Chunked, ChunkedDecoderReject, ::testing::ValuesIn(rejectChunked()),
                         [](const ::testing::TestParamInfo<RejectChunked>& param_info) {
                           return param_info.param.name;
                         });

// ---------------------------------------------------------------------------------------------

// A chunk size over the limit is refused from its size line alone, before any of its data:
// the gateway must not read (or forward) a body it is going to refuse.
TEST(ChunkedDecoder, OversizedChunkRefusedAtSizeLine) {
  ChunkedDecoder decoder(10, kMaxTrailer);
  CollectSink sink;
  size_t consumed = 0;
  EXPECT_EQ(decoder.decode("b\r\n", consumed, sink), ParseStatus::Error);
  EXPECT_EQ(decoder.error().status, 413);
  EXPECT_TRUE(sink.body.empty());
}

TEST(ChunkedDecoder, DataDeliveredAsItArrives) {
  ChunkedDecoder decoder(kMaxBody, kMaxTrailer);
  CollectSink sink;
  size_t consumed = 0;
  std::string_view first = "a\r\n01234";
  ASSERT_EQ(decoder.decode(first, consumed, sink), ParseStatus::Incomplete);
  EXPECT_EQ(consumed, first.size());
  EXPECT_EQ(sink.body, "01234");
  EXPECT_EQ(decoder.bodyBytes(), 5u);
  std::string_view second = "56789\r\n0\r\n\r\nNEXT";
  ASSERT_EQ(decoder.decode(second, consumed, sink), ParseStatus::Complete);
  EXPECT_EQ(consumed, second.size() - 4);
  EXPECT_EQ(sink.body, "0123456789");
  EXPECT_EQ(decoder.bodyBytes(), 10u);
}

TEST(ChunkedDecoder, EmptyInputIsIncomplete) {
  ChunkedDecoder decoder(kMaxBody, kMaxTrailer);
  CollectSink sink;
  size_t consumed = 99;
  EXPECT_EQ(decoder.decode("", consumed, sink), ParseStatus::Incomplete);
  EXPECT_EQ(consumed, 0u);
}

TEST(ChunkedDecoder, TruncatedBodyStaysIncomplete) {
  const std::string_view m = "5\r\nhello\r\n0\r\nX-T: v\r\n\r\n";
  for (size_t n = 0; n < m.size(); ++n) {
    Decoded d = decodeWhole(m.substr(0, n));
    EXPECT_EQ(d.status, ParseStatus::Incomplete) << "prefix " << n;
  }
}

// Trailers are dropped, never passed on as body data.
TEST(ChunkedDecoder, TrailersAreNotBody) {
  Decoded d = decodeWhole("3\r\nabc\r\n0\r\nX-Secret: s\r\n\r\n");
  ASSERT_EQ(d.status, ParseStatus::Complete);
  EXPECT_EQ(d.body, "abc");
}

}  // namespace
}  // namespace perfgate
