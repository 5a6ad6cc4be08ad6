#include "gateway/http/cache_control.h"

#include <gtest/gtest.h>

namespace perfgate {
namespace {

using Fields = std::vector<std::string>;

TEST(CacheControl, EmptyValueHasNoDirectives) {
  for (const char* text : {"", " ", ",", " , ,\t,", "\t"}) {
    SCOPED_TRACE(text);
    const CacheControl cc = parseCacheControl(text);
    EXPECT_FALSE(cc.max_age || cc.s_maxage || cc.max_stale || cc.min_fresh ||
                 cc.stale_while_revalidate || cc.stale_if_error);
    EXPECT_FALSE(cc.no_cache || cc.no_store || cc.private_ || cc.public_ || cc.must_revalidate ||
                 cc.proxy_revalidate || cc.no_transform || cc.only_if_cached ||
                 cc.must_understand || cc.immutable || cc.any_stale);
    EXPECT_TRUE(cc.no_cache_fields.empty() && cc.private_fields.empty());
  }
}

TEST(CacheControl, FlagDirectives) {
  struct Case {
    const char* text;
    bool CacheControl::*flag;
  };
  const Case cases[] = {
      {"no-cache", &CacheControl::no_cache},
      {"no-store", &CacheControl::no_store},
      {"private", &CacheControl::private_},
      {"public", &CacheControl::public_},
      {"must-revalidate", &CacheControl::must_revalidate},
      {"proxy-revalidate", &CacheControl::proxy_revalidate},
      {"no-transform", &CacheControl::no_transform},
      {"only-if-cached", &CacheControl::only_if_cached},
      {"must-understand", &CacheControl::must_understand},
      {"immutable", &CacheControl::immutable},
      {"max-stale", &CacheControl::any_stale},
      // Directive names are case-insensitive (§5.2: "Cache directives are identified by a token,
      // to be compared case-insensitively").
      {"NO-STORE", &CacheControl::no_store},
      {"Public", &CacheControl::public_},
      {"Must-Revalidate", &CacheControl::must_revalidate},
      {"No-Cache", &CacheControl::no_cache},
      {"Max-Stale", &CacheControl::any_stale},
      // Restrictive flags hold even when malformed.
      {"no-store=1", &CacheControl::no_store},
      {"no-store junk", &CacheControl::no_store},
      {"must-revalidate=\"yes\"", &CacheControl::must_revalidate},
      {"no-cache=\"unterminated", &CacheControl::no_cache},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_TRUE(parseCacheControl(c.text).*c.flag);
  }
}

TEST(CacheControl, PermissiveFlagsOnlyWhenWellFormed) {
  for (const char* text : {"public=1", "public=\"\"", "public junk", "immutable=yes",
                           "publicity", "public-ish"}) {
    SCOPED_TRACE(text);
    const CacheControl cc = parseCacheControl(text);
    EXPECT_FALSE(cc.public_);
    EXPECT_FALSE(cc.immutable);
  }
}

TEST(CacheControl, DeltaSecondsDirectives) {
  struct Case {
    const char* text;
    std::optional<int64_t> CacheControl::*slot;
    int64_t expected;
  };
  const Case cases[] = {
      {"max-age=60", &CacheControl::max_age, 60},
      {"max-age=0", &CacheControl::max_age, 0},
      {"max-age=007", &CacheControl::max_age, 7},
      {"MAX-AGE=60", &CacheControl::max_age, 60},
      {"max-age=\"60\"", &CacheControl::max_age, 60},  // §5.2: accept the quoted form too
      {"max-age = 60", &CacheControl::max_age, 60},    // OWS around '=' tolerated
      {"s-maxage=300", &CacheControl::s_maxage, 300},
      {"S-MaxAge=300", &CacheControl::s_maxage, 300},
      {"max-stale=30", &CacheControl::max_stale, 30},
      {"min-fresh=10", &CacheControl::min_fresh, 10},
      {"stale-while-revalidate=15", &CacheControl::stale_while_revalidate, 15},
      {"stale-if-error=86400", &CacheControl::stale_if_error, 86400},
      // §1.2.2: larger than 2^31 is 2^31.
      {"max-age=2147483647", &CacheControl::max_age, 2147483647},
      {"max-age=2147483648", &CacheControl::max_age, 2147483648},
      {"max-age=2147483649", &CacheControl::max_age, 2147483648},
      {"max-age=99999999999999999999999999999999", &CacheControl::max_age, 2147483648},
      {"s-maxage=4294967296", &CacheControl::s_maxage, 2147483648},
      {"stale-if-error=100000000000", &CacheControl::stale_if_error, 2147483648},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const CacheControl cc = parseCacheControl(c.text);
    ASSERT_TRUE((cc.*c.slot).has_value());
    EXPECT_EQ(*(cc.*c.slot), c.expected);
  }
}

TEST(CacheControl, InvalidMaxAgeMeansStale) {
  // §4.2.1: "Caches are encouraged to consider responses that have invalid freshness information
  // (e.g., a max-age directive with non-integer content) to be stale."
  for (const char* text : {"max-age", "max-age=", "max-age=abc", "max-age=-1", "max-age=1.5",
                           "max-age=60s", "max-age=\"\"", "max-age=\"6 0\"", "max-age=+5",
                           "max-age=0x10", "max-age=60 junk", "max-age=\"60"}) {
    SCOPED_TRACE(text);
    const CacheControl cc = parseCacheControl(text);
    ASSERT_TRUE(cc.max_age.has_value());
    EXPECT_EQ(*cc.max_age, 0);
  }
  for (const char* text : {"s-maxage", "s-maxage=ten", "s-maxage=-10"}) {
    SCOPED_TRACE(text);
    const CacheControl cc = parseCacheControl(text);
    ASSERT_TRUE(cc.s_maxage.has_value());
    EXPECT_EQ(*cc.s_maxage, 0);
  }
}

TEST(CacheControl, InvalidLooseningDirectivesAreIgnored) {
  const char* cases[] = {"max-stale=abc",           "max-stale=-1",       "min-fresh",
                         "min-fresh=x",             "stale-while-revalidate",
                         "stale-while-revalidate=", "stale-if-error=1.5", "stale-if-error=\"\"",
                         "max-stale=5 junk"};
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    const CacheControl cc = parseCacheControl(text);
    EXPECT_FALSE(cc.max_stale || cc.any_stale || cc.min_fresh || cc.stale_while_revalidate ||
                 cc.stale_if_error);
  }
}

TEST(CacheControl, SeveralDirectivesWithSpacesAndCase) {
  const CacheControl cc =
      parseCacheControl("  Public ,MAX-AGE=3600,\ts-maxage=600 ,  must-revalidate,stale-if-error=60 ");
  EXPECT_TRUE(cc.public_);
  EXPECT_EQ(cc.max_age, 3600);
  EXPECT_EQ(cc.s_maxage, 600);
  EXPECT_TRUE(cc.must_revalidate);
  EXPECT_EQ(cc.stale_if_error, 60);
  EXPECT_FALSE(cc.no_cache);
  EXPECT_FALSE(cc.private_);
}

TEST(CacheControl, QuotedStringsHideCommasAndEscapes) {
  // An unknown extension with a quoted argument holding commas and directive names must not leak
  // directives into the list (§5.2.3 extensions; RFC 9110 §5.6.4 quoted-string).
  CacheControl cc = parseCacheControl(R"(ext="no-store, private, max-age=0", max-age=60)");
  EXPECT_FALSE(cc.no_store);
  EXPECT_FALSE(cc.private_);
  EXPECT_EQ(cc.max_age, 60);

  cc = parseCacheControl(R"(ext="a \" , no-store", public)");
  EXPECT_FALSE(cc.no_store);
  EXPECT_TRUE(cc.public_);

  cc = parseCacheControl(R"(ext="a\\", no-store)");  // escaped backslash, then the quote closes
  EXPECT_TRUE(cc.no_store);

  cc = parseCacheControl(R"(max-age="6\0")");  // quoted-pair inside a number
  EXPECT_EQ(cc.max_age, 60);

  // A malformed element is skipped up to the next comma outside quotes.
  cc = parseCacheControl(R"(junk "x, no-store", public)");
  EXPECT_FALSE(cc.no_store);
  EXPECT_TRUE(cc.public_);
}

TEST(CacheControl, QualifiedNoCacheAndPrivate) {
  struct Case {
    const char* text;
    bool no_cache;
    Fields no_cache_fields;
    bool private_;
    Fields private_fields;
  };
  const Case cases[] = {
      {R"(no-cache="Set-Cookie")", false, {"set-cookie"}, false, {}},
      {R"(no-cache="Set-Cookie, X-Token")", false, {"set-cookie", "x-token"}, false, {}},
      {R"(no-cache=" a ,, b ")", false, {"a", "b"}, false, {}},
      {"no-cache=Set-Cookie", false, {"set-cookie"}, false, {}},  // token form accepted
      {R"(private="X-User")", false, {}, false, {"x-user"}},
      {R"(private="X-User, X-Session", max-age=5)", false, {}, false, {"x-user", "x-session"}},
      {R"(PRIVATE="x-a", private="X-B")", false, {}, false, {"x-a", "x-b"}},  // merged
      {R"(no-cache="A\-B")", false, {"a-b"}, false, {}},  // quoted-pair undone
      // Malformed or empty lists act unqualified (the restrictive reading).
      {R"(no-cache="")", true, {}, false, {}},
      {R"(no-cache=" , ")", true, {}, false, {}},
      {R"(no-cache="bad name")", true, {}, false, {}},
      {R"(private="a b")", false, {}, true, {}},
      {R"(private="")", false, {}, true, {}},
      {"private=", false, {}, true, {}},
      // Unqualified and qualified together: the flag is set and the names are kept.
      {R"(no-cache, no-cache="X-A")", true, {"x-a"}, false, {}},
      {R"(private="X-A", private)", false, {}, true, {"x-a"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const CacheControl cc = parseCacheControl(c.text);
    EXPECT_EQ(cc.no_cache, c.no_cache);
    EXPECT_EQ(cc.no_cache_fields, c.no_cache_fields);
    EXPECT_EQ(cc.private_, c.private_);
    EXPECT_EQ(cc.private_fields, c.private_fields);
  }
}

TEST(CacheControl, FirstOccurrenceWins) {
  // §4.2.1: for a directive given more than once "either the first occurrence should be used or
  // the response should be considered stale" — the first is used.
  EXPECT_EQ(parseCacheControl("max-age=60, max-age=10").max_age, 60);
  EXPECT_EQ(parseCacheControl("max-age=abc, max-age=60").max_age, 0);  // first, invalid: stale
  EXPECT_EQ(parseCacheControl("s-maxage=5, s-maxage=500").s_maxage, 5);
  EXPECT_EQ(parseCacheControl("stale-if-error=1, stale-if-error=2").stale_if_error, 1);
  // Ignored (invalid) loosening directives do not count as an occurrence.
  EXPECT_EQ(parseCacheControl("min-fresh=x, min-fresh=5").min_fresh, 5);

  CacheControl cc = parseCacheControl("max-stale, max-stale=10");
  EXPECT_TRUE(cc.any_stale);
  EXPECT_FALSE(cc.max_stale);
  cc = parseCacheControl("max-stale=10, max-stale");
  EXPECT_FALSE(cc.any_stale);
  EXPECT_EQ(cc.max_stale, 10);
}

TEST(CacheControl, UnknownDirectivesAreIgnored) {
  const CacheControl cc = parseCacheControl(
      R"(community="UCI", foo, bar=baz, max-age=30, x-ext="a,b", no-storex, private-ish)");
  EXPECT_EQ(cc.max_age, 30);
  EXPECT_FALSE(cc.no_store);
  EXPECT_FALSE(cc.private_);
  EXPECT_TRUE(cc.private_fields.empty());
}

TEST(CacheControl, CombinesEveryCacheControlFieldLine) {
  // RFC 9110 §5.3: several field lines are one comma-separated list, in order.
  const HeaderBlock fields = {
      {"Content-Type", "application/json"},
      {"Cache-Control", "max-age=60"},
      {"cache-control", "no-cache=\"Set-Cookie\""},
      {"X-Cache-Control", "no-store"},  // a different field
      {"CACHE-CONTROL", "max-age=5, must-revalidate"},
      {"Cache-Control", ""},
  };
  const CacheControl cc = parseCacheControl(fields);
  EXPECT_EQ(cc.max_age, 60);
  EXPECT_EQ(cc.no_cache_fields, Fields{"set-cookie"});
  EXPECT_FALSE(cc.no_cache);
  EXPECT_FALSE(cc.no_store);
  EXPECT_TRUE(cc.must_revalidate);

  EXPECT_FALSE(parseCacheControl(HeaderBlock{}).max_age);
  EXPECT_FALSE(parseCacheControl(HeaderBlock{{"Pragma", "no-cache"}}).no_cache);
}

TEST(CacheControl, MergeAddsToAnExistingValue) {
  CacheControl cc = parseCacheControl("max-age=10");
  mergeCacheControl(cc, "max-age=20, no-store");
  EXPECT_EQ(cc.max_age, 10);
  EXPECT_TRUE(cc.no_store);
}

TEST(CacheControl, ParseDeltaSeconds) {
  EXPECT_EQ(parseDeltaSeconds("0"), 0);
  EXPECT_EQ(parseDeltaSeconds("120"), 120);
  EXPECT_EQ(parseDeltaSeconds("2147483648"), kDeltaSecondsMax);
  EXPECT_EQ(parseDeltaSeconds("18446744073709551616"), kDeltaSecondsMax);  // no overflow
  for (const char* text : {"", " 1", "1 ", "-1", "+1", "1e3", "abc", "1,2"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parseDeltaSeconds(text).has_value());
  }
}

}  // namespace
}  // namespace perfgate
