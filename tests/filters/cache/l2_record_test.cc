#include "filters/cache/l2_record.h"

#include <gtest/gtest.h>

#include "filters/cache/l2_cache.h"

namespace perfgate {
namespace {

CacheEntry sample() {
  CacheEntry e;
  e.key = "4:http10:test.local4:/api3:a=1";
  e.variant = "accept-encoding:gzip";
  e.vary = {"accept-encoding", "x-lang"};
  e.route = "api";
  e.tags = {"product-1", "catalog"};
  e.status = 203;
  e.reason = "Non-Authoritative Information";
  e.fields = "Content-Type: application/json\r\nContent-Encoding: gzip\r\nVary: Accept-Encoding\r\n";
  e.body = std::string("\x1f\x8b\x08\x00\0\0binary\0body", 18);
  e.etag = "W/\"x1\"";
  e.last_modified = "Sun, 06 Nov 1994 08:49:37 GMT";
  e.request_time = 1'700'000'000;
  e.response_time = 1'700'000'001;
  e.date_value = 1'699'999'990;
  e.age_value = 5;
  e.freshness_lifetime = 300;
  e.stale_while_revalidate = 30;
  e.stale_if_error = 600;
  e.must_revalidate = true;
  return e;
}

TEST(L2Record, RoundTripKeepsEveryStoredField) {
  CacheEntry in = sample();
  std::string record = encodeL2Record(in);
  L2DecodeError error = L2DecodeError::Magic;
  std::shared_ptr<CacheEntry> out = decodeL2Record(record, 1024, error);
  ASSERT_NE(out, nullptr) << describe(error);
  EXPECT_EQ(error, L2DecodeError::None);
  EXPECT_EQ(out->key, in.key);
  EXPECT_EQ(out->variant, in.variant);
  EXPECT_EQ(out->vary, in.vary);
  EXPECT_EQ(out->route, in.route);
  EXPECT_EQ(out->tags, in.tags);
  EXPECT_EQ(out->status, in.status);
  EXPECT_EQ(out->reason, in.reason);
  EXPECT_EQ(out->fields, in.fields);
  EXPECT_EQ(out->body, in.body);
  EXPECT_EQ(out->etag, in.etag);
  EXPECT_EQ(out->last_modified, in.last_modified);
  EXPECT_EQ(out->request_time, in.request_time);
  EXPECT_EQ(out->response_time, in.response_time);
  EXPECT_EQ(out->date_value, in.date_value);
  EXPECT_EQ(out->age_value, in.age_value);
  EXPECT_EQ(out->freshness_lifetime, in.freshness_lifetime);
  EXPECT_EQ(out->stale_while_revalidate, in.stale_while_revalidate);
  EXPECT_EQ(out->stale_if_error, in.stale_if_error);
  EXPECT_TRUE(out->must_revalidate);
  EXPECT_FALSE(out->no_cache);
  EXPECT_EQ(encodeL2Record(*out), record);
}

TEST(L2Record, EveryTruncationIsRefused) {
  std::string record = encodeL2Record(sample());
  for (size_t n = 0; n < record.size(); ++n) {
    L2DecodeError error = L2DecodeError::None;
    EXPECT_EQ(decodeL2Record(std::string_view(record).substr(0, n), 1024, error), nullptr) << n;
    EXPECT_NE(error, L2DecodeError::None) << n;
  }
}

TEST(L2Record, ForeignDamagedAndOversizedValuesAreRefusedWithAReason) {
  std::string record = encodeL2Record(sample());
  L2DecodeError error = L2DecodeError::None;
  EXPECT_EQ(decodeL2Record("{\"json\": true}", 1024, error), nullptr);
  EXPECT_EQ(error, L2DecodeError::Magic);

  std::string future = record;
  future[4] = 2;
  EXPECT_EQ(decodeL2Record(future, 1024, error), nullptr);
  EXPECT_EQ(error, L2DecodeError::Version);

  EXPECT_EQ(decodeL2Record(record + "x", 1024, error), nullptr);
  EXPECT_EQ(error, L2DecodeError::Malformed);

  std::string flags = record;
  flags[5] = static_cast<char>(0x80);
  EXPECT_EQ(decodeL2Record(flags, 1024, error), nullptr);
  EXPECT_EQ(error, L2DecodeError::Malformed);

  EXPECT_EQ(decodeL2Record(record, 10, error), nullptr);
  EXPECT_EQ(error, L2DecodeError::TooLarge);

  // A stored field that would split the response head a hit sends.
  CacheEntry injected = sample();
  injected.fields = "X-A: 1\r\nSet-Cookie: a=b\nX-B: 2\r\n";
  EXPECT_EQ(decodeL2Record(encodeL2Record(injected), 1024, error), nullptr);
  EXPECT_EQ(error, L2DecodeError::Malformed);
  injected.fields = "X-A: 1";  // no line end
  EXPECT_EQ(decodeL2Record(encodeL2Record(injected), 1024, error), nullptr);
}

TEST(L2Record, RedisTtlIsRemainingFreshnessPlusTheLargerStaleWindow) {
  CacheEntry e = sample();
  e.age_value = 0;
  e.date_value = e.response_time = e.request_time = 1'000;
  e.freshness_lifetime = 100;
  e.stale_while_revalidate = 30;
  e.stale_if_error = 0;
  EXPECT_EQ(L2Cache::ttlOf(e, 1'000), 130);
  EXPECT_EQ(L2Cache::ttlOf(e, 1'040), 90);
  e.stale_if_error = 200;
  EXPECT_EQ(L2Cache::ttlOf(e, 1'040), 260);
  e.stale_if_error = 0;
  e.stale_while_revalidate = 0;
  EXPECT_LE(L2Cache::ttlOf(e, 1'200), 0);  // nothing left: not written
}

TEST(L2Record, EntryKeysNameRouteAndKeyAndSplitBack) {
  L2Config config;
  config.redis = "redis://127.0.0.1";
  config.host = "127.0.0.1";
  config.key_prefix = "p:";
  L2Cache l2(config, 1024);
  std::string name = l2.entryKey("my route", "4:http1:h2:/x0:");
  EXPECT_EQ(name, "p:e:8:my route4:http1:h2:/x0:");
  std::string route;
  std::string key;
  ASSERT_TRUE(l2.splitEntryKey(name, route, key));
  EXPECT_EQ(route, "my route");
  EXPECT_EQ(key, "4:http1:h2:/x0:");
  EXPECT_FALSE(l2.splitEntryKey("p:t:tag", route, key));
  EXPECT_FALSE(l2.splitEntryKey("p:e:99:short", route, key));
  EXPECT_FALSE(l2.splitEntryKey("other:e:1:a4:http", route, key));
  EXPECT_EQ(l2.tagKey("catalog"), "p:t:catalog");
  EXPECT_EQ(l2.channel(), "p:purge");
}

TEST(L2Record, TheRedisPasswordStaysOutOfLogsAndMonitoring) {
  L2Config config;
  config.redis = "redis://:s3cret@127.0.0.1:6380/1";
  ASSERT_EQ(parseRedisUrl(config.redis, config), "");
  L2Cache l2(config, 1024);
  EXPECT_EQ(l2.config().redis, "redis://:***@127.0.0.1:6380/1");
  EXPECT_EQ(l2.config().password, "s3cret");
}

}  // namespace
}  // namespace perfgate
