// Unit tests for the background encoder (filters/cache/background_encoder.h): what it makes joins
// the store beside its source; a full queue drops and counts; a variant queued twice is made
// once; a source that does not decode is not tried again while it is stored.
#include "filters/cache/background_encoder.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "filters/cache/cache_key.h"
#include "filters/cache/stored_response.h"
#include "gateway/http/content_codec.h"
#include "support/sample_text.h"

namespace perfgate {
namespace {

// A stored identity response for `path`, in the store.
CacheEntryPtr stored(CacheStore& store, const std::string& path, std::string body) {
  auto entry = std::make_shared<CacheEntry>();
  entry->key = makeCacheKey("http", "example.com", path, "");
  entry->hash = hashKey(entry->key);
  entry->vary = {"accept-encoding"};
  entry->variant = makeVariantKey(entry->vary, {}, ContentCoding::Identity);
  entry->fields = "Content-Type: text/html\r\n";
  entry->body = std::move(body);
  finishEntry(*entry);
  EXPECT_TRUE(store.insert(entry));
  return entry;
}

BackgroundEncoder::Job brotliOf(const CacheEntryPtr& source) {
  return {source, ContentCoding::Br, 11, makeVariantKey(source->vary, {{"Accept-Encoding", "br"}}, ContentCoding::Br),
          64 << 20, false};
}

TEST(BackgroundEncoder, TheMadeVariantJoinsTheStoreBesideItsSource) {
  auto store = std::make_shared<CacheStore>(256 << 20);
  auto stats = std::make_shared<CompressionStats>();
  BackgroundEncoder encoder(store, stats, 1, 4);
  const std::string body = test::sampleText(30000, 1);
  CacheEntryPtr source = stored(*store, "/a", body);
  ASSERT_TRUE(encoder.submit(brotliOf(source)));
  ASSERT_TRUE(encoder.submit(brotliOf(source)));  // the same variant again: made once
  encoder.drain();
  CacheEntryPtr made = store->lookup(source->key, source->hash, brotliOf(source).variant);
  ASSERT_NE(made, nullptr);
  EXPECT_EQ(storedCoding(*made), ContentCoding::Br);
  EXPECT_EQ(decodeWhole(ContentCoding::Br, made->body, 1 << 20), body);
  EXPECT_EQ(store->lookup(source->key, source->hash, source->variant), source) << "the source stays";
  BackgroundEncoder::Totals totals = encoder.totals();
  EXPECT_EQ(totals.submitted, 1u);
  EXPECT_EQ(totals.stored, 1u);
  EXPECT_EQ(stats->merged().compressed[codingIndex(ContentCoding::Br)], 1u);
  EXPECT_EQ(stats->merged().bytes_in[codingIndex(ContentCoding::Br)], body.size());
}

TEST(BackgroundEncoder, AFullQueueDropsAndCountsWhatItRefuses) {
  auto store = std::make_shared<CacheStore>(256 << 20);
  BackgroundEncoder encoder(store, std::make_shared<CompressionStats>(), 1, 1);
  // Brotli 11 of 1 MB takes the thread for most of a second: the queue (one place) fills behind it.
  CacheEntryPtr slow = stored(*store, "/slow", test::sampleText(1 << 20, 2));
  CacheEntryPtr b = stored(*store, "/b", test::sampleText(20000, 3));
  CacheEntryPtr c = stored(*store, "/c", test::sampleText(20000, 4));
  ASSERT_TRUE(encoder.submit(brotliOf(slow)));
  bool b_queued = encoder.submit(brotliOf(b));
  bool c_queued = encoder.submit(brotliOf(c));
  EXPECT_FALSE(b_queued && c_queued) << "one place behind a job still running";
  encoder.drain();
  BackgroundEncoder::Totals totals = encoder.totals();
  EXPECT_GE(totals.dropped, 1u);
  EXPECT_EQ(totals.dropped + totals.submitted, 3u);
  EXPECT_EQ(totals.stored, totals.submitted);
  EXPECT_EQ(totals.queued, 0u);
  // A dropped job is submitted again by a later request, and then made.
  ASSERT_TRUE(encoder.submit(brotliOf(c)));
  encoder.drain();
  EXPECT_NE(store->lookup(c->key, c->hash, brotliOf(c).variant), nullptr);
}

TEST(BackgroundEncoder, ASourceThatDoesNotDecodeIsNotTriedAgain) {
  auto store = std::make_shared<CacheStore>(256 << 20);
  BackgroundEncoder encoder(store, std::make_shared<CompressionStats>(), 1, 4);
  auto broken = std::make_shared<CacheEntry>();
  broken->key = makeCacheKey("http", "example.com", "/broken", "");
  broken->hash = hashKey(broken->key);
  broken->vary = {"accept-encoding"};
  broken->variant = makeVariantKey(broken->vary, {{"Accept-Encoding", "gzip"}}, ContentCoding::Gzip);
  broken->fields = "Content-Type: text/html\r\nContent-Encoding: gzip\r\n";
  broken->body = "not gzip at all";
  finishEntry(*broken);
  ASSERT_TRUE(store->insert(broken));
  ASSERT_TRUE(encoder.submit(brotliOf(broken)));
  encoder.drain();
  EXPECT_EQ(encoder.totals().failed, 1u);
  EXPECT_TRUE(encoder.submit(brotliOf(broken)));  // remembered: not queued again
  encoder.drain();
  EXPECT_EQ(encoder.totals().submitted, 1u);
  EXPECT_EQ(encoder.totals().failed, 1u);
}

}  // namespace
}  // namespace perfgate
