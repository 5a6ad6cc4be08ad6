#include "filters/cache/freshness.h"

#include <gtest/gtest.h>

#include <string>

#include "gateway/http/http_date.h"

namespace perfgate {
namespace {

using Fields = HeaderBlock;
constexpr int64_t kDate = 1000000000;  // 2001-09-09T01:46:40Z

// ---------------------------------------------------------------------------------------------
// checkStorable

struct StorableCase {
  const char* name;
  std::string_view method;
  int status;
  const char* request_cc;
  bool authorization;
  Fields response;
  StoragePolicy policy;
  NotStorableReason expected;
};

StoragePolicy heuristicPolicy() {
  StoragePolicy p;
  p.heuristic = true;
  return p;
}
StoragePolicy defaultTtl(int64_t ttl) {
  StoragePolicy p;
  p.default_ttl = ttl;
  return p;
}
StoragePolicy overrideTtl(int64_t ttl) {
  StoragePolicy p;
  p.override_ttl = ttl;
  return p;
}
StoragePolicy allowCookies() {
  StoragePolicy p;
  p.allow_cookies = true;
  return p;
}

constexpr std::string_view kLastModified = "Sat, 01 Jan 2000 00:00:00 GMT";
constexpr std::string_view kExpires = "Sun, 09 Sep 2001 02:46:40 GMT";

void runStorable(const StorableCase* begin, const StorableCase* end) {
  for (const StorableCase* c = begin; c != end; ++c) {
    SCOPED_TRACE(c->name);
    const CacheControl request_cc = parseCacheControl(c->request_cc);
    const CacheControl response_cc = parseCacheControl(c->response);
    const NotStorableReason got = checkStorable(c->method, c->status, request_cc, c->authorization,
                                                c->response, response_cc, c->policy);
    EXPECT_EQ(describe(got), std::string(describe(c->expected)));
  }
}

TEST(FreshnessStorable, MethodAndStatus) {
  const Fields max_age = {{"Cache-Control", "max-age=60"}};
  const StorableCase cases[] = {
      {"GET 200 max-age", "GET", 200, "", false, max_age, {}, NotStorableReason::None},
      {"HEAD is never stored", "HEAD", 200, "", false, max_age, {}, NotStorableReason::Method},
      {"POST", "POST", 200, "", false, max_age, {}, NotStorableReason::Method},
      {"methods are case-sensitive", "get", 200, "", false, max_age, {}, NotStorableReason::Method},
      {"206 without range support", "GET", 206, "", false, max_age, {}, NotStorableReason::Status},
      {"304 freshens, is not stored", "GET", 304, "", false, max_age, {}, NotStorableReason::Status},
      {"1xx is not final", "GET", 103, "", false, max_age, {}, NotStorableReason::Status},
      {"600 is not a status", "GET", 600, "", false, max_age, {}, NotStorableReason::Status},
      {"302 without freshness", "GET", 302, "", false, {}, heuristicPolicy(),
       NotStorableReason::Status},
      {"500 without freshness", "GET", 500, "", false, {{"Last-Modified", kLastModified}},
       heuristicPolicy(), NotStorableReason::Status},
      {"302 max-age", "GET", 302, "", false, max_age, {}, NotStorableReason::None},
      {"302 s-maxage", "GET", 302, "", false, {{"Cache-Control", "s-maxage=5"}}, {},
       NotStorableReason::None},
      {"302 Expires", "GET", 302, "", false, {{"Expires", kExpires}}, {}, NotStorableReason::None},
      {"503 max-age", "GET", 503, "", false, max_age, {}, NotStorableReason::None},
      {"302 route ttl", "GET", 302, "", false, {}, defaultTtl(30), NotStorableReason::None},
      {"302 public + heuristic", "GET", 302, "", false,
       {{"Cache-Control", "public"}, {"Last-Modified", kLastModified}}, heuristicPolicy(),
       NotStorableReason::None},
      {"302 public, no lifetime", "GET", 302, "", false, {{"Cache-Control", "public"}}, {},
       NotStorableReason::NoFreshness},
      {"unknown status with max-age", "GET", 299, "", false, max_age, {}, NotStorableReason::None},
  };
  runStorable(std::begin(cases), std::end(cases));
}

TEST(FreshnessStorable, HeuristicallyCacheableStatuses) {
  // RFC 9110 §15.1's list (206 aside): storable with a Last-Modified heuristic, and only then.
  const Fields lm = {{"Last-Modified", kLastModified}};
  for (int status : {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}) {
    SCOPED_TRACE(status);
    EXPECT_TRUE(statusHeuristicallyCacheable(status));
    EXPECT_EQ(checkStorable("GET", status, {}, false, lm, {}, heuristicPolicy()),
              NotStorableReason::None);
    EXPECT_EQ(checkStorable("GET", status, {}, false, lm, {}, {}), NotStorableReason::NoFreshness);
    EXPECT_EQ(checkStorable("GET", status, {}, false, {}, {}, heuristicPolicy()),
              NotStorableReason::NoFreshness);
  }
  for (int status : {201, 202, 205, 206, 302, 303, 307, 400, 403, 500, 502, 503, 504}) {
    SCOPED_TRACE(status);
    EXPECT_FALSE(statusHeuristicallyCacheable(status));
    EXPECT_NE(checkStorable("GET", status, {}, false, lm, {}, heuristicPolicy()),
              NotStorableReason::None);
  }
}

TEST(FreshnessStorable, DirectivesAndFields) {
  const StorableCase cases[] = {
      {"response no-store", "GET", 200, "", false, {{"Cache-Control", "max-age=60, no-store"}}, {},
       NotStorableReason::NoStore},
      {"request no-store", "GET", 200, "no-store", false, {{"Cache-Control", "max-age=60"}}, {},
       NotStorableReason::NoStore},
      {"no-store on a second line", "GET", 200, "", false,
       {{"Cache-Control", "max-age=60"}, {"cache-control", "No-Store"}}, {},
       NotStorableReason::NoStore},
      // §5.2.2.3: must-understand lets an understood status override no-store.
      {"must-understand, understood", "GET", 200, "", false,
       {{"Cache-Control", "must-understand, no-store, max-age=60"}}, {}, NotStorableReason::None},
      {"must-understand, not understood", "GET", 299, "", false,
       {{"Cache-Control", "must-understand, no-store, max-age=60"}}, {},
       NotStorableReason::Status},
      {"must-understand without no-store", "GET", 299, "", false,
       {{"Cache-Control", "must-understand, max-age=60"}}, {}, NotStorableReason::Status},
      {"request no-store beats must-understand", "GET", 200, "no-store", false,
       {{"Cache-Control", "must-understand, no-store, max-age=60"}}, {},
       NotStorableReason::NoStore},
      {"private", "GET", 200, "", false, {{"Cache-Control", "private, max-age=60"}}, {},
       NotStorableReason::Private},
      {"qualified private is storable", "GET", 200, "", false,
       {{"Cache-Control", "private=\"X-User\", max-age=60"}}, {}, NotStorableReason::None},
      {"malformed qualified private", "GET", 200, "", false,
       {{"Cache-Control", "private=\"\", max-age=60"}}, {}, NotStorableReason::Private},
      // §3.5 Authorization.
      {"authorization, max-age only", "GET", 200, "", true, {{"Cache-Control", "max-age=60"}}, {},
       NotStorableReason::Authorization},
      {"authorization + public", "GET", 200, "", true, {{"Cache-Control", "public, max-age=60"}},
       {}, NotStorableReason::None},
      {"authorization + s-maxage", "GET", 200, "", true, {{"Cache-Control", "s-maxage=60"}}, {},
       NotStorableReason::None},
      {"authorization + must-revalidate", "GET", 200, "", true,
       {{"Cache-Control", "max-age=60, must-revalidate"}}, {}, NotStorableReason::None},
      {"authorization + proxy-revalidate is not enough", "GET", 200, "", true,
       {{"Cache-Control", "max-age=60, proxy-revalidate"}}, {}, NotStorableReason::Authorization},
      {"authorization + route ttl is not enough", "GET", 200, "", true, {}, overrideTtl(60),
       NotStorableReason::Authorization},
      // Set-Cookie: a route policy, not an RFC rule.
      {"set-cookie", "GET", 200, "", false,
       {{"Cache-Control", "max-age=60"}, {"Set-Cookie", "id=1"}}, {}, NotStorableReason::SetCookie},
      {"set-cookie, any case", "GET", 200, "", false,
       {{"Cache-Control", "public, max-age=60"}, {"set-cookie", "id=1"}}, {},
       NotStorableReason::SetCookie},
      {"set-cookie allowed", "GET", 200, "", false,
       {{"Cache-Control", "max-age=60"}, {"Set-Cookie", "id=1"}}, allowCookies(),
       NotStorableReason::None},
      // §4.1 Vary: *.
      {"vary star", "GET", 200, "", false, {{"Cache-Control", "max-age=60"}, {"Vary", "*"}}, {},
       NotStorableReason::VaryStar},
      {"vary star in a list", "GET", 200, "", false,
       {{"Cache-Control", "max-age=60"}, {"Vary", "Accept-Encoding, *"}}, {},
       NotStorableReason::VaryStar},
      {"vary star on a second line", "GET", 200, "", false,
       {{"Cache-Control", "max-age=60"}, {"Vary", "Accept"}, {"vary", " * "}}, {},
       NotStorableReason::VaryStar},
      {"vary by field", "GET", 200, "", false,
       {{"Cache-Control", "max-age=60"}, {"Vary", "Accept-Encoding"}}, {}, NotStorableReason::None},
  };
  runStorable(std::begin(cases), std::end(cases));
}

TEST(FreshnessStorable, Freshness) {
  const StorableCase cases[] = {
      {"nothing to compute a lifetime from", "GET", 200, "", false,
       {{"Content-Type", "text/plain"}}, {}, NotStorableReason::NoFreshness},
      {"validator alone is not enough", "GET", 200, "", false, {{"ETag", "\"v1\""}}, {},
       NotStorableReason::NoFreshness},
      {"no-cache with an ETag", "GET", 200, "", false,
       {{"Cache-Control", "no-cache"}, {"ETag", "\"v1\""}}, {}, NotStorableReason::None},
      {"no-cache with Last-Modified", "GET", 200, "", false,
       {{"Cache-Control", "no-cache"}, {"Last-Modified", kLastModified}}, {},
       NotStorableReason::None},
      {"no-cache without a validator", "GET", 200, "", false, {{"Cache-Control", "no-cache"}}, {},
       NotStorableReason::NoFreshness},
      {"no-cache with max-age", "GET", 200, "", false, {{"Cache-Control", "no-cache, max-age=60"}},
       {}, NotStorableReason::None},
      {"max-age=0 is explicit", "GET", 200, "", false, {{"Cache-Control", "max-age=0"}}, {},
       NotStorableReason::None},
      {"invalid Expires is explicit (stale)", "GET", 200, "", false, {{"Expires", "0"}}, {},
       NotStorableReason::None},
      {"Expires", "GET", 200, "", false, {{"Expires", kExpires}}, {}, NotStorableReason::None},
      {"route default ttl", "GET", 200, "", false, {}, defaultTtl(60), NotStorableReason::None},
      {"route override ttl", "GET", 200, "", false, {}, overrideTtl(60), NotStorableReason::None},
      {"heuristic", "GET", 200, "", false, {{"Last-Modified", kLastModified}}, heuristicPolicy(),
       NotStorableReason::None},
      {"heuristic, invalid Last-Modified", "GET", 200, "", false, {{"Last-Modified", "yesterday"}},
       heuristicPolicy(), NotStorableReason::NoFreshness},
      {"public alone gives no lifetime", "GET", 200, "", false, {{"Cache-Control", "public"}}, {},
       NotStorableReason::NoFreshness},
  };
  runStorable(std::begin(cases), std::end(cases));
}

TEST(FreshnessStorable, FirstRefusingRuleIsReported) {
  const StorableCase cases[] = {
      {"method before no-store", "HEAD", 200, "no-store", false, {{"Cache-Control", "no-store"}},
       {}, NotStorableReason::Method},
      {"status before no-store", "GET", 206, "", false, {{"Cache-Control", "no-store"}}, {},
       NotStorableReason::Status},
      {"no-store before private", "GET", 200, "", false, {{"Cache-Control", "private, no-store"}},
       {}, NotStorableReason::NoStore},
      {"private before authorization", "GET", 200, "", true, {{"Cache-Control", "private"}}, {},
       NotStorableReason::Private},
      {"authorization before set-cookie", "GET", 200, "", true,
       {{"Cache-Control", "max-age=5"}, {"Set-Cookie", "a=b"}}, {},
       NotStorableReason::Authorization},
      {"set-cookie before vary", "GET", 200, "", false,
       {{"Cache-Control", "max-age=5"}, {"Set-Cookie", "a=b"}, {"Vary", "*"}}, {},
       NotStorableReason::SetCookie},
      {"vary before freshness", "GET", 200, "", false, {{"Vary", "*"}}, {},
       NotStorableReason::VaryStar},
  };
  runStorable(std::begin(cases), std::end(cases));
}

TEST(FreshnessStorable, DescribeGivesCacheStatusTokens) {
  struct Case {
    NotStorableReason reason;
    const char* token;
  };
  const Case cases[] = {
      {NotStorableReason::None, "none"},
      {NotStorableReason::Method, "method"},
      {NotStorableReason::Status, "status"},
      {NotStorableReason::NoStore, "no-store"},
      {NotStorableReason::Private, "private"},
      {NotStorableReason::Authorization, "authorization"},
      {NotStorableReason::SetCookie, "set-cookie"},
      {NotStorableReason::VaryStar, "vary-star"},
      {NotStorableReason::NoFreshness, "no-freshness"},
      {NotStorableReason::TooLarge, "too-large"},
      {NotStorableReason::RouteDisabled, "route-disabled"},
      {NotStorableReason::Incomplete, "incomplete"},
      {NotStorableReason::VariantLimit, "variant-limit"},
      {NotStorableReason::Coding, "coding"},
  };
  for (const Case& c : cases) {
    const std::string token = describe(c.reason);
    EXPECT_EQ(token, c.token);
    // RFC 8941 sf-token: starts with ALPHA; these use lower-case letters and '-' only.
    for (char ch : token) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || ch == '-') << token;
  }
}

TEST(FreshnessStorable, UnderstoodStatuses) {
  for (int status : {200, 203, 204, 301, 302, 307, 308, 404, 410, 500, 503}) {
    EXPECT_TRUE(statusUnderstood(status)) << status;
  }
  for (int status : {100, 199, 206, 299, 304, 306, 418, 499, 599, 600}) {
    EXPECT_FALSE(statusUnderstood(status)) << status;
  }
}

// ---------------------------------------------------------------------------------------------
// freshnessLifetime

TEST(FreshnessLifetime, Precedence) {
  const std::string expires_500 = formatHttpDate(kDate + 500);
  const std::string expires_past = formatHttpDate(kDate - 500);
  const std::string lm_1000 = formatHttpDate(kDate - 1000);
  const std::string lm_30_days = formatHttpDate(kDate - 30 * 86400);
  const std::string lm_future = formatHttpDate(kDate + 10);
  struct Case {
    const char* name;
    const char* cache_control;  // nullptr: none
    const std::string* expires;
    const std::string* last_modified;
    StoragePolicy policy;
    int64_t expected;
  };
  StoragePolicy both_ttls;
  both_ttls.override_ttl = 100;
  both_ttls.default_ttl = 300;
  StoragePolicy ttl_and_heuristic = defaultTtl(300);
  ttl_and_heuristic.heuristic = true;
  const std::string invalid = "0";
  const Case cases[] = {
      {"override wins over everything", "s-maxage=10, max-age=20", &expires_500, &lm_1000,
       both_ttls, 100},
      {"override wins over no freshness", nullptr, nullptr, nullptr, overrideTtl(7), 7},
      {"s-maxage over max-age", "max-age=20, s-maxage=10", &expires_500, nullptr, {}, 10},
      {"max-age over Expires", "max-age=20", &expires_500, nullptr, {}, 20},
      {"max-age=0 over Expires", "max-age=0", &expires_500, nullptr, defaultTtl(300), 0},
      {"invalid max-age is stale", "max-age=soon", &expires_500, nullptr, {}, 0},
      {"huge max-age clamps", "max-age=99999999999", nullptr, nullptr, {}, 2147483648},
      {"Expires minus Date", nullptr, &expires_500, &lm_1000, ttl_and_heuristic, 500},
      {"Expires in the past", nullptr, &expires_past, nullptr, {}, 0},
      {"invalid Expires is already expired", nullptr, &invalid, &lm_1000, ttl_and_heuristic, 0},
      {"default ttl over heuristic", nullptr, nullptr, &lm_1000, ttl_and_heuristic, 300},
      {"default ttl", "public", nullptr, nullptr, defaultTtl(300), 300},
      {"heuristic: 10% of Date - Last-Modified", nullptr, nullptr, &lm_1000, heuristicPolicy(),
       100},
      {"heuristic capped at a day", nullptr, nullptr, &lm_30_days, heuristicPolicy(), 86400},
      {"heuristic off", nullptr, nullptr, &lm_1000, {}, 0},
      {"Last-Modified after Date", nullptr, nullptr, &lm_future, heuristicPolicy(), 0},
      {"invalid Last-Modified", nullptr, nullptr, &invalid, heuristicPolicy(), 0},
      {"nothing", "public", nullptr, nullptr, {}, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Fields fields;
    if (c.cache_control) fields.add("Cache-Control", c.cache_control);
    if (c.expires) fields.add("Expires", *c.expires);
    if (c.last_modified) fields.add("Last-Modified", *c.last_modified);
    EXPECT_EQ(freshnessLifetime(fields, parseCacheControl(fields), kDate, c.policy), c.expected);
  }
}

TEST(FreshnessLifetime, FirstExpiresIsUsed) {
  const std::string a = formatHttpDate(kDate + 60);
  const std::string b = formatHttpDate(kDate + 600);
  const Fields fields = {{"Expires", a}, {"expires", b}};
  EXPECT_EQ(freshnessLifetime(fields, {}, kDate, {}), 60);
}

// ---------------------------------------------------------------------------------------------
// currentAge (§4.2.3)

CacheEntry ageEntry(int64_t request_time, int64_t response_time, int64_t date_value,
                    int64_t age_value) {
  CacheEntry entry;
  entry.request_time = request_time;
  entry.response_time = response_time;
  entry.date_value = date_value;
  entry.age_value = age_value;
  return entry;
}

TEST(FreshnessAge, WorkedExample) {
  // Request sent at 1000, response received at 1002 (response_delay 2), its Date 995 (apparent
  // age 7) and Age 3 (corrected_age_value 3 + 2 = 5): corrected_initial_age = max(7, 5) = 7.
  // Sixty seconds in the cache later (resident_time 60), current_age = 67.
  const CacheEntry entry = ageEntry(1000, 1002, 995, 3);
  EXPECT_EQ(currentAge(entry, 1002), 7);
  EXPECT_EQ(currentAge(entry, 1062), 67);
}

TEST(FreshnessAge, Table) {
  struct Case {
    const char* name;
    int64_t request_time, response_time, date_value, age_value, now, expected;
  };
  const Case cases[] = {
      {"nothing elapsed", 1000, 1000, 1000, 0, 1000, 0},
      {"resident time only", 1000, 1000, 1000, 0, 1010, 10},
      {"Age beats apparent age", 1000, 1002, 1001, 30, 1002, 32},
      {"apparent age beats Age", 1000, 1002, 900, 30, 1002, 102},
      {"Date ahead of our clock: apparent age 0", 1000, 1002, 1100, 0, 1012, 12},
      {"response delay counts with Age 0", 1000, 1005, 1005, 0, 1005, 5},
      {"Age alone, delay added", 1000, 1004, 1004, 100, 1104, 204},
      {"clock stepped back: never negative", 1000, 1000, 1000, 0, 900, 0},
      {"clamped Age", 0, 0, 0, 2147483648, 10, 2147483658},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(currentAge(ageEntry(c.request_time, c.response_time, c.date_value, c.age_value), c.now),
              c.expected);
  }
}

// ---------------------------------------------------------------------------------------------
// fillFreshness

TEST(FreshnessFill, FillsEveryField) {
  const std::string date = formatHttpDate(kDate);
  const Fields fields = {
      {"Date", date},
      {"Age", "10"},
      {"Cache-Control", "public, max-age=60, stale-while-revalidate=30, stale-if-error=300"},
      {"ETag", "W/\"v1\""},
      {"Last-Modified", kLastModified},
  };
  CacheEntry entry;
  fillFreshness(entry, fields, kDate + 1, kDate + 2, {});
  EXPECT_EQ(entry.request_time, kDate + 1);
  EXPECT_EQ(entry.response_time, kDate + 2);
  EXPECT_EQ(entry.date_value, kDate);
  EXPECT_EQ(entry.age_value, 10);
  EXPECT_EQ(entry.freshness_lifetime, 60);
  EXPECT_EQ(entry.stale_while_revalidate, 30);
  EXPECT_EQ(entry.stale_if_error, 300);
  EXPECT_FALSE(entry.must_revalidate);
  EXPECT_FALSE(entry.no_cache);
  EXPECT_EQ(entry.etag, "W/\"v1\"");  // W/ kept
  EXPECT_EQ(entry.last_modified, kLastModified);
  // corrected_initial_age = max(apparent 2, Age 10 + delay 1) = 11.
  EXPECT_EQ(currentAge(entry, kDate + 2), 11);
}

TEST(FreshnessFill, DateAndAgeFallbacks) {
  struct Case {
    const char* name;
    Fields fields;
    int64_t date_value;
    int64_t age_value;
    bool validate_always = false;  // the Age says nothing trustworthy: validated before each reuse
  };
  const std::string date = formatHttpDate(kDate - 5);
  const Case cases[] = {
      {"no Date: response_time", {}, kDate, 0},
      {"invalid Date: response_time", {{"Date", "today"}}, kDate, 0},
      {"asctime Date", {{"Date", "Sun Sep  9 01:46:35 2001"}}, kDate - 5, 0},
      {"first Date wins", {{"Date", date}, {"date", "Sun, 09 Sep 2001 01:46:00 GMT"}}, kDate - 5, 0},
      {"Age", {{"age", "42"}}, kDate, 42},
      {"Age with spaces", {{"Age", " 42 "}}, kDate, 42},
      {"list Age: its first member", {{"Age", "3, 4"}}, kDate, 3},
      {"huge Age saturates at 2^31", {{"Age", "99999999999999"}}, kDate, 2147483648},
      {"negative Age", {{"Age", "-3"}}, kDate, 0, true},
      {"Age with a number prefix", {{"Age", "10abc"}}, kDate, 0, true},
      {"fractional Age", {{"Age", "1.5"}}, kDate, 0, true},
      {"empty Age", {{"Age", ""}}, kDate, 0, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CacheEntry entry;
    fillFreshness(entry, c.fields, kDate, kDate, {});
    EXPECT_EQ(entry.date_value, c.date_value);
    EXPECT_EQ(entry.age_value, c.age_value);
    EXPECT_EQ(entry.no_cache, c.validate_always);
  }
}

TEST(FreshnessClassify, AResponseWithAnInvalidAgeIsValidatedBeforeReuse) {
  CacheEntry entry;
  fillFreshness(entry, {{"Cache-Control", "max-age=600"}, {"Age", "10abc"}, {"ETag", "\"v\""}}, kDate, kDate, {});
  EXPECT_EQ(classify(entry, CacheControl{}, kDate + 1, true), Freshness::StaleRevalidate);
}

TEST(FreshnessFill, RevalidationAndStaleWindows) {
  struct Case {
    const char* cache_control;
    StoragePolicy policy;
    bool must_revalidate;
    bool no_cache;
    int64_t swr;
    int64_t sie;
  };
  StoragePolicy route_sie;
  route_sie.stale_if_error = 120;
  const Case cases[] = {
      {"max-age=60, stale-while-revalidate=30, stale-if-error=300", {}, false, false, 30, 300},
      {"max-age=60, must-revalidate, stale-while-revalidate=30, stale-if-error=300", {}, true,
       false, 0, 0},
      {"max-age=60, proxy-revalidate, stale-if-error=300", {}, true, false, 0, 0},
      {"s-maxage=60, stale-while-revalidate=30", {}, true, false, 0, 0},  // §5.2.2.10
      {"no-cache, stale-while-revalidate=30, stale-if-error=300", {}, false, true, 0, 0},
      {"no-cache=\"Set-Cookie\", max-age=5", {}, false, false, 0, 0},  // qualified: no flag
      {"max-age=60", route_sie, false, false, 0, 120},                 // route default
      {"max-age=60, stale-if-error=10", route_sie, false, false, 0, 10},  // response wins
      {"max-age=60, must-revalidate", route_sie, true, false, 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.cache_control);
    CacheEntry entry;
    fillFreshness(entry, {{"Cache-Control", c.cache_control}}, kDate, kDate, c.policy);
    EXPECT_EQ(entry.must_revalidate, c.must_revalidate);
    EXPECT_EQ(entry.no_cache, c.no_cache);
    EXPECT_EQ(entry.stale_while_revalidate, c.swr);
    EXPECT_EQ(entry.stale_if_error, c.sie);
  }
}

TEST(FreshnessFill, ExpiresIsMeasuredFromTheResponsesDate) {
  // Expires − Date, not Expires − our clock: a backend clock 100 s ahead changes nothing.
  const std::string date = formatHttpDate(kDate + 100);
  const std::string expires = formatHttpDate(kDate + 400);
  CacheEntry entry;
  fillFreshness(entry, {{"Date", date}, {"Expires", expires}}, kDate, kDate, {});
  EXPECT_EQ(entry.freshness_lifetime, 300);
  // Without a Date, response_time stands in.
  fillFreshness(entry, {{"Expires", expires}}, kDate, kDate, {});
  EXPECT_EQ(entry.freshness_lifetime, 400);
}

// ---------------------------------------------------------------------------------------------
// classify

struct ClassifyCase {
  const char* name;
  int64_t lifetime;
  int64_t swr;
  bool must_revalidate;
  bool no_cache;
  bool validator;
  const char* request_cc;
  bool honour;
  int64_t age;
  Freshness expected;
};

const char* name(Freshness f) {
  switch (f) {
    case Freshness::Fresh: return "Fresh";
    case Freshness::StaleRevalidate: return "StaleRevalidate";
    case Freshness::StaleWhileRevalidate: return "StaleWhileRevalidate";
    case Freshness::Expired: return "Expired";
  }
  return "?";
}

TEST(FreshnessClassify, Table) {
  using F = Freshness;
  const ClassifyCase cases[] = {
      // name, lifetime, swr, must_revalidate, no_cache, validator, request, honour, age, expected
      {"new", 60, 0, false, false, true, "", true, 0, F::Fresh},
      {"last fresh second", 60, 0, false, false, true, "", true, 59, F::Fresh},
      {"age == lifetime is stale", 60, 0, false, false, true, "", true, 60, F::StaleRevalidate},
      {"stale without validator", 60, 0, false, false, false, "", true, 60, F::Expired},
      {"lifetime 0", 0, 0, false, false, true, "", true, 0, F::StaleRevalidate},
      // Response no-cache: validated on every use, whatever the client says.
      {"no-cache", 60, 0, false, true, true, "", true, 0, F::StaleRevalidate},
      {"no-cache, no validator", 60, 0, false, true, false, "", true, 0, F::Expired},
      {"no-cache beats max-stale", 60, 0, false, true, true, "max-stale", true, 0,
       F::StaleRevalidate},
      {"no-cache beats swr", 60, 30, false, true, true, "", false, 70, F::StaleRevalidate},
      // Request no-cache / max-age / min-fresh: honoured or ignored per route.
      {"request no-cache", 60, 0, false, false, true, "no-cache", true, 0, F::StaleRevalidate},
      {"request no-cache ignored", 60, 0, false, false, true, "no-cache", false, 0, F::Fresh},
      {"request no-cache, no validator", 60, 0, false, false, false, "no-cache", true, 0,
       F::Expired},
      {"request max-age=0", 60, 0, false, false, true, "max-age=0", true, 0, F::StaleRevalidate},
      {"request max-age=0 ignored", 60, 0, false, false, true, "max-age=0", false, 0, F::Fresh},
      {"request max-age=30, age 30", 60, 0, false, false, true, "max-age=30", true, 30, F::Fresh},
      {"request max-age=30, age 31", 60, 0, false, false, true, "max-age=30", true, 31,
       F::StaleRevalidate},
      {"request max-age=30 ignored", 60, 0, false, false, true, "max-age=30", false, 31, F::Fresh},
      {"request min-fresh met", 60, 0, false, false, true, "min-fresh=10", true, 50, F::Fresh},
      {"request min-fresh not met", 60, 0, false, false, true, "min-fresh=10", true, 51,
       F::StaleRevalidate},
      {"request min-fresh ignored", 60, 0, false, false, true, "min-fresh=10", false, 51,
       F::Fresh},
      {"request no-cache beats swr", 60, 30, false, false, true, "no-cache", true, 70,
       F::StaleRevalidate},
      // stale-while-revalidate: [lifetime, lifetime + swr).
      {"swr start", 60, 30, false, false, true, "", true, 60, F::StaleWhileRevalidate},
      {"swr end", 60, 30, false, false, true, "", true, 89, F::StaleWhileRevalidate},
      {"swr over", 60, 30, false, false, true, "", true, 90, F::StaleRevalidate},
      {"swr over, no validator", 60, 30, false, false, false, "", true, 90, F::Expired},
      {"swr without validator", 60, 30, false, false, false, "", true, 70,
       F::StaleWhileRevalidate},
      {"swr, must-revalidate", 60, 30, true, false, true, "", true, 70, F::StaleRevalidate},
      {"fresh with must-revalidate", 60, 0, true, false, true, "", true, 10, F::Fresh},
      // Request max-stale (§5.2.1.2).
      {"max-stale any", 60, 0, false, false, false, "max-stale", true, 100000, F::Fresh},
      {"max-stale=10 within", 60, 0, false, false, true, "max-stale=10", true, 70, F::Fresh},
      {"max-stale=10 over", 60, 0, false, false, true, "max-stale=10", true, 71,
       F::StaleRevalidate},
      {"max-stale=10 over, then swr", 60, 30, false, false, true, "max-stale=10", true, 75,
       F::StaleWhileRevalidate},
      {"max-stale, must-revalidate", 60, 0, true, false, true, "max-stale", true, 61,
       F::StaleRevalidate},
      {"max-stale applies when not honouring", 60, 0, false, false, true, "max-stale=10", false,
       65, F::Fresh},
      {"max-age with max-stale", 60, 0, false, false, true, "max-age=100, max-stale", true, 90,
       F::Fresh},
      {"max-age over, max-stale", 60, 0, false, false, true, "max-age=100, max-stale", true, 101,
       F::StaleRevalidate},
  };
  for (const ClassifyCase& c : cases) {
    SCOPED_TRACE(c.name);
    CacheEntry entry;  // all times 1000: current_age = now − 1000
    entry.request_time = entry.response_time = entry.date_value = 1000;
    entry.freshness_lifetime = c.lifetime;
    entry.stale_while_revalidate = c.swr;
    entry.must_revalidate = c.must_revalidate;
    entry.no_cache = c.no_cache;
    if (c.validator) entry.etag = "\"v1\"";
    EXPECT_STREQ(name(classify(entry, parseCacheControl(c.request_cc), 1000 + c.age, c.honour)),
                 name(c.expected));
  }
}

TEST(FreshnessClassify, LastModifiedIsAValidator) {
  CacheEntry entry;
  entry.last_modified = std::string(kLastModified);
  EXPECT_EQ(classify(entry, {}, 10, true), Freshness::StaleRevalidate);
  entry.last_modified.clear();
  EXPECT_EQ(classify(entry, {}, 10, true), Freshness::Expired);
}

TEST(FreshnessClassify, FromStoredResponseOverTime) {
  // A response with max-age=100 and Age=40 is fresh for 60 more seconds, then served stale for
  // 10 while refreshing, then revalidated with its ETag.
  const std::string date = formatHttpDate(kDate);
  const Fields fields = {{"Date", date},
                         {"Age", "40"},
                         {"Cache-Control", "max-age=100, stale-while-revalidate=10"},
                         {"ETag", "\"abc\""}};
  const CacheControl cc = parseCacheControl(fields);
  ASSERT_EQ(checkStorable("GET", 200, {}, false, fields, cc, {}), NotStorableReason::None);
  CacheEntry entry;
  fillFreshness(entry, fields, kDate, kDate, {});
  EXPECT_EQ(currentAge(entry, kDate), 40);
  EXPECT_EQ(classify(entry, {}, kDate + 59, true), Freshness::Fresh);
  EXPECT_EQ(classify(entry, {}, kDate + 60, true), Freshness::StaleWhileRevalidate);
  EXPECT_EQ(classify(entry, {}, kDate + 69, true), Freshness::StaleWhileRevalidate);
  EXPECT_EQ(classify(entry, {}, kDate + 70, true), Freshness::StaleRevalidate);
}

}  // namespace
}  // namespace perfgate
