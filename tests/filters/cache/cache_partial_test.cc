// Partial content (RFC 9111 §3.3, §3.4) on a route with `partial_content`: a Range the store
// cannot answer goes to the backend (only the bytes the stored parts lack, under If-Range), 206
// answers are stored as parts and combined when they are of one representation, and the parts
// answer the ranges they hold. Without the key a ranged miss fetches the whole object.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "filters/cache/partial_content.h"
#include "support/filter_driver.h"

namespace perfgate::test {
namespace {

std::string config(bool partial_content = true) {
  return std::string("[upstream.backend]\nurl = \"http://127.0.0.1:9\"\n\n[[route]]\nname = \"media\"\n"
                     "prefix = \"/\"\nupstream = \"backend\"\ncompression = false\n") +
         (partial_content ? "partial_content = true\n" : "");
}

std::string representation(size_t size, char salt = 'a') {
  std::string out(size, ' ');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>(salt + i * 7 % 23);
  return out;
}

// Serves `body` with Range (one range) and If-Range as an origin does, counting requests.
class RangeOrigin {
 public:
  RangeOrigin(FilterDriver& driver, std::string body, std::string etag = "\"v1\"")
      : body_(std::move(body)), etag_(std::move(etag)) {
    driver.backend = [this](const UpstreamRequest& request) { return answer(request); };
  }

  void change(std::string body, std::string etag) {
    body_ = std::move(body);
    etag_ = std::move(etag);
  }
  std::string ignoring_if_range_etag;  // set: 206 with this tag whatever If-Range says (a broken origin)
  std::string content_range_length;    // set: sent in place of the complete length ("*")

 private:
  BackendResponse answer(const UpstreamRequest& request) {
    BackendResponse response;
    response.fields.add("Cache-Control", "max-age=60");
    response.fields.add("Content-Type", "video/mp4");
    response.fields.add("Accept-Ranges", "bytes");
    std::optional<std::string_view> range = request.headers.get("range");
    std::optional<std::string_view> if_range = request.headers.get("if-range");
    bool current = !if_range || *if_range == etag_ || !ignoring_if_range_etag.empty();
    std::optional<ByteRange> asked = range ? singleRange(*range, body_.size()) : std::nullopt;
    if (!asked || asked->unsatisfiable || !current) {
      response.fields.add("ETag", etag_);
      response.body = body_;
      return response;
    }
    response.status = 206;
    response.fields.add("ETag", ignoring_if_range_etag.empty() ? etag_ : ignoring_if_range_etag);
    std::string length = content_range_length.empty() ? std::to_string(body_.size()) : content_range_length;
    response.fields.add("Content-Range", "bytes " + std::to_string(asked->first) + "-" + std::to_string(asked->last) +
                                             "/" + length);
    response.body = body_.substr(asked->first, asked->last - asked->first + 1);
    return response;
  }

  std::string body_;
  std::string etag_;
};

std::string rangeSent(const UpstreamRequest& request) {
  return std::string(request.headers.get("range").value_or("(none)"));
}

TEST(PartialContent, ARangedMissAsksForTheRangeAndTheStoredPartAnswersItAgain) {
  FilterDriver driver(config());
  const std::string body = representation(100'000);
  RangeOrigin origin(driver, body);
  ClientResponse first = driver.get("/video", {{"Range", "bytes=0-999"}});
  ASSERT_EQ(first.status, 206);
  EXPECT_EQ(first.body, body.substr(0, 1000));
  EXPECT_EQ(first.header("Cache-Status"), "perfgate; fwd=miss; stored");
  ASSERT_EQ(driver.backendRequests().size(), 1u);
  EXPECT_EQ(rangeSent(driver.backendRequests()[0]), "bytes=0-999") << "not the whole 100 kB";

  for (const char* range : {"bytes=0-999", "bytes=10-19", "bytes=-100000"}) {
    SCOPED_TRACE(range);
    ClientResponse again = driver.get("/video", {{"Range", range}});
    if (std::string_view(range) == "bytes=-100000") {  // the whole, which one part does not hold
      EXPECT_EQ(again.status, 206);
      EXPECT_EQ(again.body, body);
      EXPECT_EQ(rangeSent(driver.backendRequests().back()), "bytes=1000-99999") << "only what is missing";
      continue;
    }
    ASSERT_EQ(again.status, 206);
    EXPECT_EQ(again.header("X-Cache"), "HIT");
    std::string_view spec = std::string_view(range).substr(6);
    uint64_t from = std::stoull(std::string(spec.substr(0, spec.find('-'))));
    uint64_t to = std::stoull(std::string(spec.substr(spec.find('-') + 1)));
    EXPECT_EQ(again.header("Content-Range"),
              "bytes " + std::to_string(from) + "-" + std::to_string(to) + "/100000");
    EXPECT_EQ(again.header("Content-Length"), std::to_string(to - from + 1));
    EXPECT_EQ(again.body, body.substr(from, to - from + 1));
    EXPECT_EQ(driver.backendRequests().size(), 1u);
  }
}

TEST(PartialContent, AnOverlappingRangeFetchesOnlyTheMissingBytesAndIsAnsweredWhole) {
  FilterDriver driver(config());
  const std::string body = representation(100'000);
  RangeOrigin origin(driver, body);
  driver.get("/video", {{"Range", "bytes=0-999"}});
  ClientResponse combined = driver.get("/video", {{"Range", "bytes=500-1499"}});
  ASSERT_EQ(combined.status, 206);
  EXPECT_EQ(combined.header("Content-Range"), "bytes 500-1499/100000");
  EXPECT_EQ(combined.body, body.substr(500, 1000));
  EXPECT_EQ(combined.header("Cache-Status").substr(0, 38), "perfgate; fwd=partial; stored; ttl=60");
  ASSERT_EQ(driver.backendRequests().size(), 2u);
  const UpstreamRequest& asked = driver.backendRequests()[1];
  EXPECT_EQ(rangeSent(asked), "bytes=1000-1499");
  EXPECT_EQ(asked.headers.get("if-range").value_or(""), "\"v1\"") << "the parts must be of one representation";
  // Both parts are now one: any range within 0-1499 is a hit.
  ClientResponse hit = driver.get("/video", {{"Range", "bytes=900-1100"}});
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_EQ(hit.body, body.substr(900, 201));
  // A gap between parts: only the gap is asked for.
  driver.get("/video", {{"Range", "bytes=3000-3999"}});
  ClientResponse spanning = driver.get("/video", {{"Range", "bytes=1000-3499"}});
  EXPECT_EQ(spanning.body, body.substr(1000, 2500));
  EXPECT_EQ(rangeSent(driver.backendRequests().back()), "bytes=1500-2999");
  EXPECT_EQ(driver.backendRequests().size(), 4u);
}

TEST(PartialContent, PartsCoveringTheWholeBecomeTheCompleteResponse) {
  FilterDriver driver(config());
  const std::string body = representation(3000);
  RangeOrigin origin(driver, body);
  driver.get("/clip", {{"Range", "bytes=0-1499"}});
  driver.get("/clip", {{"Range", "bytes=1500-2999"}});
  ClientResponse whole = driver.get("/clip");
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(whole.header("X-Cache"), "HIT");
  EXPECT_EQ(whole.header("Content-Length"), "3000");
  EXPECT_FALSE(whole.has("Content-Range"));
  EXPECT_EQ(whole.body, body);
  EXPECT_EQ(driver.backendRequests().size(), 2u);
  ClientResponse head = driver.send("HEAD", "/clip");
  EXPECT_EQ(head.header("X-Cache"), "HIT");
  EXPECT_EQ(head.header("Content-Length"), "3000");
}

TEST(PartialContent, ARequestWithoutRangeOnPartsFetchesTheWholeAndReplacesThem) {
  FilterDriver driver(config());
  const std::string body = representation(5000);
  RangeOrigin origin(driver, body);
  driver.get("/f", {{"Range", "bytes=0-99"}});
  ClientResponse whole = driver.get("/f");
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, body);
  EXPECT_EQ(rangeSent(driver.backendRequests().back()), "(none)");
  EXPECT_EQ(driver.get("/f").header("X-Cache"), "HIT");
  EXPECT_EQ(driver.get("/f", {{"Range", "bytes=4000-4099"}}).header("X-Cache"), "HIT");
  EXPECT_EQ(driver.backendRequests().size(), 2u);
}

TEST(PartialContent, AChangedRepresentationReplacesThePartsInsteadOfMixingWithThem) {
  FilterDriver driver(config());
  const std::string old_body = representation(4000, 'a');
  const std::string new_body = representation(4000, 'k');
  RangeOrigin origin(driver, old_body);
  driver.get("/v", {{"Range", "bytes=0-999"}});
  origin.change(new_body, "\"v2\"");
  // If-Range "v1" no longer holds: the backend sends the whole new representation.
  ClientResponse changed = driver.get("/v", {{"Range", "bytes=500-1499"}});
  ASSERT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body, new_body);
  ClientResponse hit = driver.get("/v", {{"Range", "bytes=0-9"}});
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_EQ(hit.body, new_body.substr(0, 10)) << "no byte of the old representation is served";
}

TEST(PartialContent, APartOfAnotherRepresentationIsNotCombined) {
  FilterDriver driver(config());
  const std::string body = representation(4000);
  RangeOrigin origin(driver, body);
  driver.get("/w", {{"Range", "bytes=0-999"}});
  origin.ignoring_if_range_etag = "\"other\"";  // answers 206 whatever If-Range says
  ClientResponse answer = driver.get("/w", {{"Range", "bytes=500-1499"}});
  // The backend's own 206 (of the missing span) goes to the client as it came: HTTP lets a client
  // get other ranges than it asked for, and it must read Content-Range; no bytes are mixed.
  ASSERT_EQ(answer.status, 206);
  EXPECT_EQ(answer.header("Content-Range"), "bytes 1000-1499/4000");
  EXPECT_EQ(answer.body, body.substr(1000, 500));
  // The newer part replaced the old one (§3.4: only the most recent is used).
  EXPECT_NE(driver.get("/w", {{"Range", "bytes=0-9"}}).header("X-Cache"), "HIT");
}

TEST(PartialContent, APartOfUnknownLengthIsNotStoredAndPastTheEndIs416FromTheParts) {
  FilterDriver driver(config());
  RangeOrigin origin(driver, representation(2000));
  origin.content_range_length = "*";
  driver.get("/u", {{"Range", "bytes=0-99"}});
  EXPECT_NE(driver.get("/u", {{"Range", "bytes=0-99"}}).header("X-Cache"), "HIT");
  origin.content_range_length.clear();
  driver.get("/k", {{"Range", "bytes=0-99"}});
  ClientResponse past = driver.get("/k", {{"Range", "bytes=5000-"}});
  EXPECT_EQ(past.status, 416);
  EXPECT_EQ(past.header("Content-Range"), "bytes */2000");
  EXPECT_EQ(past.header("X-Cache"), "HIT");
}

TEST(PartialContent, ClientValidatorsAreAnsweredFromParts) {
  FilterDriver driver(config());
  RangeOrigin origin(driver, representation(2000));
  driver.get("/c", {{"Range", "bytes=0-99"}});
  ClientResponse not_modified = driver.get("/c", {{"If-None-Match", "\"v1\""}});
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.header("X-Cache"), "HIT");
  // An If-Range that does not hold on the parts: the whole representation, from the backend.
  ClientResponse whole = driver.get("/c", {{"Range", "bytes=0-99"}, {"If-Range", "\"v0\""}});
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(driver.backendRequests().size(), 2u);
}

TEST(PartialContent, OffByDefaultARangedMissFetchesTheWholeObject) {
  FilterDriver driver(config(false));
  const std::string body = representation(2000);
  RangeOrigin origin(driver, body);
  driver.get("/o", {{"Range", "bytes=0-99"}});
  EXPECT_EQ(rangeSent(driver.backendRequests()[0]), "(none)");
  ClientResponse hit = driver.get("/o", {{"Range", "bytes=1000-1099"}});
  EXPECT_EQ(hit.header("X-Cache"), "HIT");
  EXPECT_EQ(hit.body, body.substr(1000, 100));
}

TEST(PartialContentParts, ContentRangeMissingSpanAndCombination) {
  EXPECT_FALSE(parseContentRange("bytes 0-9/*"));
  EXPECT_FALSE(parseContentRange("bytes 9-0/10"));
  EXPECT_FALSE(parseContentRange("bytes 0-10/10"));
  EXPECT_FALSE(parseContentRange("items 0-1/10"));
  std::optional<ContentRange> range = parseContentRange("bytes 5-9/10");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->first, 5u);
  EXPECT_EQ(range->last, 9u);
  EXPECT_EQ(range->complete, 10u);

  CacheEntry stored;
  stored.status = 206;
  stored.etag = "\"t\"";
  stored.complete_length = 100;
  stored.parts = {{10, std::string(10, 'a')}, {40, std::string(10, 'b')}};
  auto span = [&](uint64_t first, uint64_t last) {
    std::optional<ByteRange> missing = missingSpan(stored, ByteRange{first, last, false});
    return missing ? std::to_string(missing->first) + "-" + std::to_string(missing->last) : std::string("none");
  };
  EXPECT_EQ(span(10, 19), "none");
  EXPECT_EQ(span(0, 19), "0-9");
  EXPECT_EQ(span(15, 45), "20-39");
  EXPECT_EQ(span(15, 60), "20-60");
  EXPECT_EQ(span(0, 99), "0-99");

  CacheEntry fresh = stored;
  fresh.parts = {{20, std::string(20, 'c')}};  // fills the gap exactly
  combineParts(fresh, &stored, 1000);
  ASSERT_EQ(fresh.parts.size(), 1u);
  EXPECT_EQ(fresh.parts[0].first, 10u);
  EXPECT_EQ(fresh.parts[0].bytes, std::string(10, 'a') + std::string(20, 'c') + std::string(10, 'b'));

  CacheEntry weak = stored;
  weak.etag = "W/\"t\"";
  weak.parts = {{0, std::string(10, 'w')}};
  CacheEntry weak_stored = stored;
  weak_stored.etag = "W/\"t\"";
  combineParts(weak, &weak_stored, 1000);
  EXPECT_EQ(weak.parts.size(), 1u) << "a weak validator never combines parts";

  CacheEntry last = stored;
  last.parts = {{0, std::string(100, 'z')}};
  combineParts(last, nullptr, 1000);
  EXPECT_EQ(last.status, 200) << "one part holding the whole is the complete response";
  EXPECT_EQ(last.body.size(), 100u);
  EXPECT_TRUE(last.parts.empty());
}

}  // namespace
}  // namespace perfgate::test
