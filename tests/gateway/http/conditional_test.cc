// Unit tests for conditional-request evaluation (filters/cache_headers/conditional.h, RFC 9110
// §13) and the generated ETag (filters/cache_headers/cache_headers_filter.h).
#include "gateway/http/conditional.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <string>

#include "filters/cache_headers/cache_headers_filter.h"

namespace perfgate {
namespace {

RequestHead parsed(const std::string& fields) {
  RequestParser parser{ParseLimits{}};
  RequestHead head;
  size_t consumed = 0;
  std::string raw = "GET / HTTP/1.1\r\nHost: example.com\r\n" + fields + "\r\n";
  EXPECT_EQ(parser.parse(raw, head, consumed), ParseStatus::Complete) << raw;
  return head;
}

TEST(EtagComparison, StrongAndWeakPerRfc9110Table) {
  // RFC 9110 §8.8.3.2, the example table.
  EXPECT_FALSE(strongEtagMatch("W/\"1\"", "W/\"1\""));
  EXPECT_TRUE(weakEtagMatch("W/\"1\"", "W/\"1\""));
  EXPECT_FALSE(strongEtagMatch("W/\"1\"", "W/\"2\""));
  EXPECT_FALSE(weakEtagMatch("W/\"1\"", "W/\"2\""));
  EXPECT_FALSE(strongEtagMatch("W/\"1\"", "\"1\""));
  EXPECT_TRUE(weakEtagMatch("W/\"1\"", "\"1\""));
  EXPECT_TRUE(strongEtagMatch("\"1\"", "\"1\""));
  EXPECT_TRUE(weakEtagMatch("\"1\"", "\"1\""));
  EXPECT_FALSE(weakEtagMatch("", ""));
  EXPECT_FALSE(strongEtagMatch("", ""));
  EXPECT_FALSE(weakEtagMatch("\"1\"", "\"10\""));
}

TEST(NotModified, IfNoneMatchListsWildcardAndWeakness) {
  EXPECT_TRUE(notModified(parsed("If-None-Match: \"a\"\r\n"), "\"a\"", ""));
  EXPECT_TRUE(notModified(parsed("If-None-Match: W/\"a\"\r\n"), "\"a\"", ""));
  EXPECT_TRUE(notModified(parsed("If-None-Match: \"a\"\r\n"), "W/\"a\"", ""));
  EXPECT_TRUE(notModified(parsed("If-None-Match: \"x\", \"y\" ,W/\"a\"\r\n"), "\"a\"", ""));
  EXPECT_TRUE(notModified(parsed("If-None-Match: *\r\n"), "\"a\"", ""));
  EXPECT_FALSE(notModified(parsed("If-None-Match: \"b\"\r\n"), "\"a\"", ""));
  EXPECT_FALSE(notModified(parsed("If-None-Match: \"a\"\r\n"), "", ""));
  EXPECT_FALSE(notModified(parsed(""), "\"a\"", ""));
}

TEST(NotModified, IfModifiedSinceOnlyWithoutIfNoneMatch) {
  const char* lm = "Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_TRUE(notModified(parsed("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), "", lm));
  EXPECT_TRUE(notModified(parsed("If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\n"), "", lm));
  EXPECT_FALSE(notModified(parsed("If-Modified-Since: Sat, 05 Nov 1994 08:49:37 GMT\r\n"), "", lm));
  EXPECT_FALSE(notModified(parsed("If-Modified-Since: yesterday\r\n"), "", lm));
  EXPECT_FALSE(notModified(parsed("If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\n"), "", ""));
  // §13.2.2: If-None-Match present, If-Modified-Since is not looked at.
  EXPECT_FALSE(notModified(
      parsed("If-None-Match: \"b\"\r\nIf-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\n"), "\"a\"", lm));
}

TEST(NotModified, FieldsA304Carries) {
  for (const char* name : {"Cache-Control", "content-location", "Date", "ETag", "Expires", "Vary", "Last-Modified"}) {
    EXPECT_TRUE(isNotModifiedField(name)) << name;
  }
  for (const char* name : {"Content-Type", "Content-Length", "Content-Encoding", "Set-Cookie", "X-Other"}) {
    EXPECT_FALSE(isNotModifiedField(name)) << name;
  }
}

TEST(GeneratedEtag, IsTheQuotedXxh3_128OfTheBody) {
  const std::string body = "hello, world\n";
  XXH128_hash_t hash = XXH3_128bits(body.data(), body.size());
  char expected[40];
  snprintf(expected, sizeof expected, "\"%016llx%016llx\"", static_cast<unsigned long long>(hash.high64),
           static_cast<unsigned long long>(hash.low64));
  EXPECT_EQ(strongEtagOf(body), expected);
  EXPECT_EQ(strongEtagOf(body).size(), 34u);
  EXPECT_NE(strongEtagOf(body), strongEtagOf(body + " "));
  EXPECT_EQ(strongEtagOf(""), strongEtagOf(""));
}

}  // namespace
}  // namespace perfgate
