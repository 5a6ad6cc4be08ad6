#include "gateway/http/tokens.h"

#include <gtest/gtest.h>

#include <string_view>

namespace perfgate {
namespace {

// RFC 9110 §5.5: field-vchar = VCHAR / obs-text, with SP and HTAB between them.
TEST(Tokens, FieldValueBytesAreHtabSpaceVisibleAsciiAndObsText) {
  for (int c = 0; c < 256; ++c) {
    bool expected = c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
    EXPECT_EQ(isFieldValueChar(static_cast<unsigned char>(c)), expected) << "byte " << c;
  }
}

// RFC 9110 §5.6.2 tchar.
TEST(Tokens, TokenBytesAreTcharOnly) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool expected = alnum || (c < 128 && c != 0 && kSpecials.find(static_cast<char>(c)) != std::string_view::npos);
    EXPECT_EQ(isTokenChar(static_cast<unsigned char>(c)), expected) << "byte " << c;
  }
  EXPECT_TRUE(isToken("X-Custom_1"));
  EXPECT_FALSE(isToken(""));
  EXPECT_FALSE(isToken("a b"));
  EXPECT_FALSE(isToken("a:b"));
}

// 1*DIGIT within 64 bits (Content-Length, RFC 9110 §8.6); nothing else is a number.
TEST(Tokens, DecimalIsDigitsOnlyWithinSixtyFourBits) {
  EXPECT_EQ(parseDecimal("0"), 0u);
  EXPECT_EQ(parseDecimal("789"), 789u);
  EXPECT_EQ(parseDecimal("007"), 7u);
  EXPECT_EQ(parseDecimal("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parseDecimal("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parseDecimal("99999999999999999999"), std::nullopt);
  for (std::string_view bad : {"", " 1", "1 ", "+1", "-1", "1a", "0x10", "1,2", "1.0"}) {
    EXPECT_EQ(parseDecimal(bad), std::nullopt) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace perfgate
