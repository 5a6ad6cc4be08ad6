// Unit tests for the cache's primary and variant keys (filters/cache/cache_key.h).
#include "filters/cache/cache_key.h"

#include <gtest/gtest.h>

#include <xxhash.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace perfgate {
namespace {

using Fields = HeaderBlock;

std::string variant(const std::vector<std::string>& vary, const Fields& fields) {
  return makeVariantKey(vary, fields);
}

std::string acceptEncoding(std::string_view value) {
  return makeVariantKey({"accept-encoding"}, {{"Accept-Encoding", value}});
}

// All strings of length <= max_len over `alphabet`.
std::vector<std::string> allStrings(std::string_view alphabet, size_t max_len) {
  std::vector<std::string> out{""};
  size_t begin = 0;
  for (size_t len = 1; len <= max_len; ++len) {
    size_t end = out.size();
    for (size_t i = begin; i < end; ++i) {
      for (char c : alphabet) out.push_back(out[i] + c);
    }
    begin = end;
  }
  return out;
}

TEST(CacheKeyTest, NormalizesSchemeHostAndDefaultPort) {
  std::string key = makeCacheKey("http", "example.com", "/a", "b=1");
  EXPECT_EQ(makeCacheKey("HTTP", "Example.COM", "/a", "b=1"), key);
  EXPECT_EQ(makeCacheKey("http", "example.com:80", "/a", "b=1"), key);
  EXPECT_EQ(makeCacheKey("http", "example.com:", "/a", "b=1"), key);
  EXPECT_NE(makeCacheKey("http", "example.com:8080", "/a", "b=1"), key);
  EXPECT_NE(makeCacheKey("https", "example.com", "/a", "b=1"), key);
  EXPECT_EQ(makeCacheKey("https", "example.com:443", "/a", ""), makeCacheKey("https", "example.com", "/a", ""));
  EXPECT_NE(makeCacheKey("https", "example.com:80", "/a", ""), makeCacheKey("https", "example.com", "/a", ""));
  EXPECT_EQ(makeCacheKey("http", "[::1]:80", "/", ""), makeCacheKey("http", "[::1]", "/", ""));
  EXPECT_NE(makeCacheKey("http", "[::1]:81", "/", ""), makeCacheKey("http", "[::1]", "/", ""));
  EXPECT_NE(makeCacheKey("http", "::80", "/", ""), makeCacheKey("http", ":", "/", ""));  // not a port
  // Path and query are the backend's to interpret: kept byte for byte.
  EXPECT_NE(makeCacheKey("http", "example.com", "/A", "b=1"), key);
  EXPECT_NE(makeCacheKey("http", "example.com", "/a", "B=1"), key);
  EXPECT_NE(makeCacheKey("http", "example.com", "/%61", "b=1"), key);
}

TEST(CacheKeyTest, SplitsBackIntoNormalizedParts) {
  std::string key = makeCacheKey("HTTP", "Api.Example.com:80", "/items/3:4", "q=a:b&x=12:");
  CacheKeyParts parts;
  ASSERT_TRUE(splitCacheKey(key, parts));
  EXPECT_EQ(parts.scheme, "http");
  EXPECT_EQ(parts.host, "api.example.com");
  EXPECT_EQ(parts.path, "/items/3:4");
  EXPECT_EQ(parts.query, "q=a:b&x=12:");

  EXPECT_FALSE(splitCacheKey("", parts));
  EXPECT_FALSE(splitCacheKey("http://example.com/", parts));
  EXPECT_FALSE(splitCacheKey(key + "x", parts));
  EXPECT_FALSE(splitCacheKey(key.substr(0, key.size() - 1), parts));
}

TEST(CacheKeyTest, SeparatorLookalikesDoNotCollide) {
  // Pairs that a naive "host + path + '?' + query" concatenation would merge.
  EXPECT_NE(makeCacheKey("http", "a", "/b?c", ""), makeCacheKey("http", "a", "/b", "c"));
  EXPECT_NE(makeCacheKey("http", "a", "/b", ""), makeCacheKey("http", "a/b", "", ""));
  EXPECT_NE(makeCacheKey("http", "a", "", "1:b"), makeCacheKey("http", "a", "1:b", ""));
  EXPECT_NE(makeCacheKey("http", "a", "3:abc", ""), makeCacheKey("http", "a3:abc", "", ""));
}

// Every tuple over an alphabet rich in the encoding's own characters (digits, ':') and URL
// separators gets its own key: the encoding is injective, not just unlikely to collide. Hosts
// avoid ':' here because a port-like suffix is normalized on purpose (tested above).
TEST(CacheKeyTest, DistinctTuplesNeverShareAKey) {
  std::vector<std::string> hosts = allStrings("a1/?", 3);
  std::vector<std::string> rest = allStrings("a1:/?", 2);
  std::set<std::string> keys;
  size_t tuples = 0;
  for (const std::string& host : hosts) {
    for (const std::string& path : rest) {
      for (const std::string& query : rest) {
        ++tuples;
        std::string key = makeCacheKey("http", host, path, query);
        keys.insert(key);
        CacheKeyParts parts;
        ASSERT_TRUE(splitCacheKey(key, parts));
        ASSERT_EQ(std::make_tuple(parts.host, parts.path, parts.query),
                  std::make_tuple(std::string_view(host), std::string_view(path), std::string_view(query)));
      }
    }
  }
  EXPECT_EQ(keys.size(), tuples);
}

TEST(CacheKeyTest, RandomLongPartsNeverShareAKey) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab019:/?&=%";
  auto randomPart = [&](size_t max_len) {
    std::string s(rng() % (max_len + 1), 'a');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    return s;
  };
  std::map<std::string, std::tuple<std::string, std::string, std::string>> seen;
  for (int i = 0; i < 50000; ++i) {
    std::string host = randomPart(12);
    for (char& c : host) if (c == ':') c = 'b';
    auto tuple = std::make_tuple(host, randomPart(40), randomPart(40));
    auto [it, inserted] = seen.emplace(makeCacheKey("http", host, std::get<1>(tuple), std::get<2>(tuple)), tuple);
    if (!inserted) {
      ASSERT_EQ(it->second, tuple) << "two tuples share key " << it->first;
    }
  }
}

TEST(CacheKeyTest, HashIsXxh3OfTheKey) {
  std::string a = makeCacheKey("http", "example.com", "/a", "");
  std::string b = makeCacheKey("http", "example.com", "/b", "");
  EXPECT_EQ(hashKey(a), XXH3_64bits(a.data(), a.size()));
  EXPECT_EQ(hashKey(a), hashKey(std::string(a)));
  EXPECT_NE(hashKey(a), hashKey(b));
}

TEST(CacheKeyTest, VariantIsEmptyOnlyWithoutVary) {
  EXPECT_EQ(variant({}, {{"Accept-Encoding", "gzip"}}), "");
  EXPECT_NE(variant({"accept-encoding"}, {}), "");
  EXPECT_NE(variant({"accept-language"}, {{"Accept-Language", ""}}), "");
}

TEST(CacheKeyTest, VariantTellsAbsentFromEmpty) {
  EXPECT_NE(variant({"accept-language"}, {}), variant({"accept-language"}, {{"Accept-Language", ""}}));
  EXPECT_NE(variant({"accept-encoding"}, {}), acceptEncoding(""));
  EXPECT_NE(variant({"accept-encoding"}, {}), acceptEncoding("gzip;q=0"));
}

TEST(CacheKeyTest, VariantCombinesLinesAndNormalizesWhitespace) {
  std::vector<std::string> vary{"accept-language"};
  std::string one_line = variant(vary, {{"Accept-Language", "en, fr"}});
  EXPECT_EQ(variant(vary, {{"accept-language", "en"}, {"Host", "x"}, {"ACCEPT-LANGUAGE", "fr"}}), one_line);
  EXPECT_EQ(variant(vary, {{"Accept-Language", " en, \t  fr  "}}), one_line);
  EXPECT_EQ(variant({"Accept-Language"}, {{"Accept-Language", "en, fr"}}), one_line);
  EXPECT_NE(variant(vary, {{"Accept-Language", "fr, en"}}), one_line);  // equal weights: order can decide
  EXPECT_NE(variant(vary, {{"Accept-Language", "en"}}), one_line);
  EXPECT_EQ(variant(vary, {{"Accept-Language", "en"}, {"Accept", "text/html"}}),
            variant(vary, {{"Accept-Language", "en"}}));  // fields not named by Vary do not count
  // Values of fields that are not weighted lists keep their case.
  EXPECT_NE(variant({"x-mode"}, {{"X-Mode", "Dark"}}), variant({"x-mode"}, {{"X-Mode", "dark"}}));
}

// Accept-Language, Accept and Accept-Charset: requests a server must answer alike share a
// variant (case, whitespace, the spelling of weights, the order that weights decide); requests
// it may answer differently never do.
TEST(CacheKeyTest, WeightedListsAreNormalised) {
  auto language = [](std::string_view value) { return variant({"accept-language"}, {{"Accept-Language", value}}); };
  std::string en_fr = language("en-GB, fr;q=0.5");
  EXPECT_EQ(language("EN-gb,FR;Q=0.5"), en_fr);
  EXPECT_EQ(language("fr;q=0.5, en-gb"), en_fr);  // the weights decide the order
  EXPECT_EQ(language("en-gb;q=1.000 ,  fr;q=0.50"), en_fr);
  EXPECT_EQ(language("en-gb;q=1, , fr;q=0.500"), en_fr);
  EXPECT_NE(language("en-gb, fr;q=0.6"), en_fr);
  EXPECT_NE(language("en-gb, fr"), en_fr);
  EXPECT_NE(language("en-gb, fr;q=0"), en_fr);
  EXPECT_NE(language("fr, en-gb"), language("en-gb, fr"));  // equal weights: order may break the tie
  // A malformed weight stays apart from every well-formed spelling.
  EXPECT_NE(language("en-gb, fr;q=0.5000"), en_fr);
  EXPECT_NE(language("en-gb, fr;q=5"), language("en-gb, fr"));

  auto accept = [](std::string_view value) { return variant({"accept"}, {{"Accept", value}}); };
  EXPECT_EQ(accept("Text/HTML;level=1, application/json;q=0.9"),
            accept("application/json; q=0.9, text/html; level=1"));
  EXPECT_NE(accept("text/html;level=1"), accept("text/html;level=2"));  // other parameters count
  EXPECT_EQ(variant({"accept-charset"}, {{"Accept-Charset", "UTF-8, iso-8859-1;q=0.2"}}),
            variant({"Accept-Charset"}, {{"accept-charset", "iso-8859-1;q=0.20, utf-8"}}));
}

TEST(CacheKeyTest, AcceptEncodingIsACanonicalSet) {
  std::string gzip_deflate = acceptEncoding("gzip, deflate");
  EXPECT_EQ(acceptEncoding("deflate,gzip"), gzip_deflate);
  EXPECT_EQ(acceptEncoding("  GZIP ,\tDeflate  "), gzip_deflate);
  EXPECT_EQ(acceptEncoding("x-gzip, deflate"), gzip_deflate);
  EXPECT_EQ(acceptEncoding("gzip;q=0.5, deflate;q=1.0"), gzip_deflate);
  EXPECT_EQ(acceptEncoding("gzip ; Q=0.8, deflate, gzip, ,"), gzip_deflate);
  EXPECT_EQ(makeVariantKey({"accept-encoding"}, {{"Accept-Encoding", "deflate"}, {"accept-encoding", "gzip"}}),
            gzip_deflate);
  EXPECT_NE(acceptEncoding("gzip"), gzip_deflate);
  EXPECT_NE(acceptEncoding("gzip, deflate, br"), gzip_deflate);

  EXPECT_NE(acceptEncoding("gzip;q=0"), acceptEncoding("gzip"));
  EXPECT_NE(acceptEncoding("gzip;q=0"), acceptEncoding(""));
  EXPECT_EQ(acceptEncoding("gzip;q=0.000"), acceptEncoding("gzip;q=0"));
  EXPECT_EQ(acceptEncoding("gzip;q=0, gzip"), acceptEncoding("gzip"));  // the higher weight wins
  EXPECT_EQ(acceptEncoding("gzip;q=1, deflate;q=0"), acceptEncoding("deflate;q=0, gzip"));
  EXPECT_NE(acceptEncoding("gzip, *;q=0"), acceptEncoding("gzip"));
  EXPECT_NE(acceptEncoding("gzip, identity;q=0"), acceptEncoding("gzip"));

  // A malformed weight is kept apart from every well-formed spelling.
  EXPECT_NE(acceptEncoding("gzip;q=abc"), acceptEncoding("gzip"));
  EXPECT_NE(acceptEncoding("gzip;q=abc"), acceptEncoding("gzip;q=0"));
  EXPECT_NE(acceptEncoding("gzip;q=2"), acceptEncoding("gzip"));
}

// Every combination of absent/present values for two Vary names over an alphabet rich in the
// encoding's characters gets its own variant.
TEST(CacheKeyTest, DistinctRequestsNeverShareAVariant) {
  std::vector<std::string> values = allStrings("a1:=-, ", 2);
  std::vector<std::string> vary{"x-a", "x-b"};
  std::set<std::string> variants;
  size_t combos = 0;
  for (size_t a = 0; a <= values.size(); ++a) {
    for (size_t b = 0; b <= values.size(); ++b) {
      Fields fields;
      if (a < values.size()) fields.add("X-A", values[a]);
      if (b < values.size()) fields.add("X-B", values[b]);
      // Values that OWS trimming or collapsing would merge are not distinct requests.
      bool distinct_form = true;
      for (const HeaderField& f : fields) {
        if (trimOws(f.value) != f.value || f.value.find("  ") != std::string_view::npos) distinct_form = false;
      }
      if (!distinct_form) continue;
      ++combos;
      variants.insert(makeVariantKey(vary, fields));
    }
  }
  EXPECT_EQ(variants.size(), combos);
}

}  // namespace
}  // namespace perfgate
