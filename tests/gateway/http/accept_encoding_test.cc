// Unit tests for content negotiation (gateway/http/accept_encoding.h, RFC 9110 §12.5.3) and
// for the media-type test of the compression filter.
#include "gateway/http/accept_encoding.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "filters/compression/compression_filter.h"

namespace perfgate {
namespace {

constexpr ContentCoding kGzipOnly[] = {ContentCoding::Gzip};
constexpr ContentCoding kAll[] = {ContentCoding::Zstd, ContentCoding::Br, ContentCoding::Gzip};

bool prefersGzip(const HeaderBlock& fields) {
  return chooseCoding(parseAcceptEncoding(fields), kGzipOnly) == ContentCoding::Gzip;
}

ContentCoding choose(std::vector<const char*> lines, std::span<const ContentCoding> offered = kAll) {
  HeaderBlock fields{{"Host", "example.com"}};
  for (const char* value : lines) fields.add("Accept-Encoding", value);
  return chooseCoding(parseAcceptEncoding(fields), offered);
}

struct Case {
  std::vector<const char*> accept_encoding;  // field lines; none: no Accept-Encoding at all
  bool gzip;
};

TEST(AcceptEncoding, NegotiationTable) {
  const Case cases[] = {
      {{}, false},                                   // no field: identity (any coding allowed, none sent)
      {{""}, false},                                 // empty: identity only
      {{"gzip"}, true},
      {{"GZip"}, true},                              // codings are case-insensitive
      {{"x-gzip"}, true},                            // §12.5.3: x-gzip is gzip
      {{"deflate, gzip"}, true},
      {{"br, deflate"}, false},                      // gzip not named, no wildcard
      {{"gzip;q=0"}, false},
      {{"gzip; q=0.000"}, false},
      {{"gzip;Q=0.5"}, true},                        // "q" is case-insensitive
      {{"gzip;q=0.001"}, true},
      {{"*"}, true},                                 // the wildcard covers gzip
      {{"*;q=0"}, false},
      {{"*, gzip;q=0"}, false},                      // named explicitly: the wildcard does not apply
      {{"deflate;q=0.5, *;q=0.1"}, true},
      {{"identity"}, false},
      {{"gzip;q=0.5, identity"}, false},             // identity preferred
      {{"gzip, identity;q=0.5"}, true},
      {{"gzip, identity;q=0"}, true},
      {{"identity;q=0, *;q=0"}, false},
      {{"br;q=1.0, gzip;q=0.8"}, true},
      {{"gzip;q=2"}, false},                         // invalid weight: the element is ignored
      {{"gzip;q=abc"}, false},
      {{"gzip;q=0.1234"}, false},                    // at most three decimals
      {{"gzipx"}, false},
      {{"gzip;level=9"}, true},                      // other parameters do not matter
      {{"  gzip  ,  "}, true},
      {{"br", "gzip"}, true},                        // several field lines are one list
      {{"gzip", "gzip;q=0"}, true},                  // the best weight named for it counts
      {{"identity;q=1, gzip;q=0.5, identity;q=0.1"}, false},  // so for identity, in any order
      {{"identity;q=0.1, gzip;q=0.5, identity;q=1"}, false},
      {{"*;q=0, br, *;q=0.5"}, true},                // and for the wildcard
  };
  for (const Case& c : cases) {
    HeaderBlock fields{{"Host", "example.com"}};
    std::string label;
    for (const char* value : c.accept_encoding) {
      fields.add("Accept-Encoding", value);
      label += std::string("[") + value + "]";
    }
    EXPECT_EQ(prefersGzip(fields), c.gzip) << (c.accept_encoding.empty() ? "(absent)" : label);
  }
}

TEST(AcceptEncoding, OtherFieldsDoNotCount) {
  EXPECT_FALSE(prefersGzip({{"TE", "gzip"}, {"Accept", "gzip"}}));
  EXPECT_TRUE(prefersGzip({{"accept-encoding", "gzip"}}));
}

// With every coding offered (server order zstd, br, gzip): the highest weight wins, the server's
// order breaks ties, identity wins only when named with a higher weight.
TEST(AcceptEncoding, ChoosesAmongCodings) {
  using C = ContentCoding;
  EXPECT_EQ(choose({}), C::Identity);
  EXPECT_EQ(choose({"gzip, deflate, br, zstd"}), C::Zstd);       // Chrome 123+
  EXPECT_EQ(choose({"gzip, deflate, br"}), C::Br);               // Safari, older browsers
  EXPECT_EQ(choose({"gzip, deflate"}), C::Gzip);
  EXPECT_EQ(choose({"br;q=0.5, gzip"}), C::Gzip);                // weights before server order
  EXPECT_EQ(choose({"zstd;q=0.9, br;q=0.9, gzip;q=1"}), C::Gzip);
  EXPECT_EQ(choose({"zstd;q=0.5, br;q=0.5"}), C::Zstd);          // a tie: the server's order
  EXPECT_EQ(choose({"ZSTD, Br"}), C::Zstd);                      // case-insensitive
  EXPECT_EQ(choose({"*"}), C::Zstd);                             // the wildcard covers all
  EXPECT_EQ(choose({"*, zstd;q=0"}), C::Br);                     // named: the wildcard does not apply
  EXPECT_EQ(choose({"*;q=0.5, gzip"}), C::Gzip);
  EXPECT_EQ(choose({"br, identity"}), C::Br);                    // equal: a coding is preferred
  EXPECT_EQ(choose({"br;q=0.5, identity"}), C::Identity);
  EXPECT_EQ(choose({"br", "zstd;q=0"}), C::Br);                  // several lines are one list
  EXPECT_EQ(choose({"zstd;q=2, br;q=x"}), C::Identity);          // invalid weights: ignored
  EXPECT_EQ(choose({"deflate, compress"}), C::Identity);
  // Only what is offered can be chosen, in the order offered.
  constexpr ContentCoding kBrGzip[] = {ContentCoding::Gzip, ContentCoding::Br};
  EXPECT_EQ(choose({"gzip, br, zstd"}, kBrGzip), C::Gzip);
  EXPECT_EQ(choose({"br, zstd"}, kBrGzip), C::Br);
  EXPECT_EQ(choose({"zstd"}, kBrGzip), C::Identity);
}

TEST(AcceptEncoding, WhatIsAccepted) {
  AcceptEncoding none = parseAcceptEncoding({});
  EXPECT_FALSE(none.present);
  EXPECT_TRUE(none.accepts(ContentCoding::Identity));
  EXPECT_FALSE(none.accepts(ContentCoding::Gzip));
  AcceptEncoding br = parseAcceptEncoding({{"Accept-Encoding", "br"}});
  EXPECT_TRUE(br.accepts(ContentCoding::Br));
  EXPECT_TRUE(br.accepts(ContentCoding::Identity));  // unless excluded, identity is acceptable
  EXPECT_FALSE(br.accepts(ContentCoding::Gzip));
  EXPECT_FALSE(parseAcceptEncoding({{"Accept-Encoding", "br, identity;q=0"}}).accepts(ContentCoding::Identity));
  EXPECT_FALSE(parseAcceptEncoding({{"Accept-Encoding", "br, *;q=0"}}).accepts(ContentCoding::Identity));
  EXPECT_TRUE(parseAcceptEncoding({{"Accept-Encoding", "*;q=0, identity"}}).accepts(ContentCoding::Identity));
  EXPECT_TRUE(parseAcceptEncoding({{"Accept-Encoding", "x-gzip"}}).accepts(ContentCoding::Gzip));
}

TEST(CompressibleType, MatchesListedTypesAndWildcards) {
  const std::vector<std::string> types{"text/*", "application/json", "image/svg+xml"};
  EXPECT_TRUE(compressibleType("text/html", types));
  EXPECT_TRUE(compressibleType("TEXT/Plain; charset=utf-8", types));
  EXPECT_TRUE(compressibleType("application/json;charset=utf-8", types));
  EXPECT_TRUE(compressibleType(" image/svg+xml ", types));
  EXPECT_FALSE(compressibleType("application/javascript", types));
  EXPECT_FALSE(compressibleType("image/png", types));
  EXPECT_FALSE(compressibleType("text", types));
  EXPECT_FALSE(compressibleType("", types));
  EXPECT_FALSE(compressibleType("textual/html", types));
  EXPECT_FALSE(compressibleType("application/json-seq", types));
}

}  // namespace
}  // namespace perfgate
