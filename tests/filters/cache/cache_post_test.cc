// POST responses reused for GETs (RFC 9110 §9.3.3, RFC 9111 §4), on routes with
// `store_post_responses`: a 200/203 with explicit freshness and a Content-Location of the same
// value as the POST's target is that URL's current representation, stored after the POST's own
// invalidation (§4.4) and answering the GETs that follow.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "support/filter_driver.h"

namespace perfgate::test {
namespace {

std::string config(bool store_post = true) {
  return std::string("[upstream.backend]\nurl = \"http://127.0.0.1:9\"\n\n[[route]]\nname = \"api\"\n"
                     "prefix = \"/\"\nupstream = \"backend\"\n") +
         (store_post ? "store_post_responses = true\n" : "");
}

// Answers POSTs with `post_fields` and "posted N", GETs with max-age=60 and "got N".
struct Origin {
  Origin(FilterDriver& driver, HeaderBlock fields, int status = 200) : post_fields(std::move(fields)) {
    driver.backend = [this, status](const UpstreamRequest& request) {
      BackendResponse response;
      response.fields.add("Content-Type", "application/json");
      if (request.method == "POST") {
        response.status = status;
        for (HeaderField field : post_fields) response.fields.add(field.name, field.value);
        response.body = "posted " + std::to_string(++posts);
      } else {
        response.fields.add("Cache-Control", "max-age=60");
        response.body = "got " + std::to_string(++gets);
      }
      return response;
    };
  }
  HeaderBlock post_fields;
  int posts = 0;
  int gets = 0;
};

TEST(PostResponses, OneNamingItsOwnUrlWithExplicitFreshnessAnswersTheNextGets) {
  FilterDriver driver(config());
  Origin origin(driver, {{"Cache-Control", "max-age=60"}, {"Content-Location", "/doc/7?v=1"}});
  EXPECT_EQ(driver.get("/doc/7?v=1").body, "got 1");  // stored; the POST must replace it
  ClientResponse posted = driver.send("POST", "/doc/7?v=1", {{"Content-Type", "application/json"}}, "{}");
  EXPECT_EQ(posted.body, "posted 1");
  EXPECT_EQ(posted.header("Cache-Status"), "perfgate; fwd=method; stored");
  for (int i = 0; i < 2; ++i) {
    ClientResponse get = driver.get("/doc/7?v=1");
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(get.header("X-Cache"), "HIT");
    EXPECT_EQ(get.body, "posted 1");
  }
  EXPECT_EQ(origin.gets, 1);
  driver.clock().advance(60);
  EXPECT_EQ(driver.get("/doc/7?v=1").body, "got 2") << "its lifetime is the POST response's";
}

TEST(PostResponses, AnAbsoluteContentLocationOfTheSameHostCounts) {
  FilterDriver driver(config());
  Origin origin(driver, {{"Expires", "Thu, 01 Jan 2099 00:00:00 GMT"}, {"Content-Location", "http://test.local/a"}});
  driver.send("POST", "/a", {}, "x");
  EXPECT_EQ(driver.get("/a").body, "posted 1");
  EXPECT_EQ(origin.gets, 0);
}

TEST(PostResponses, OthersAreNotStored) {
  struct Case {
    const char* why;
    HeaderBlock fields;
    int status;
    HeaderBlock request;
  };
  const Case cases[] = {
      {"no explicit freshness", {{"Content-Location", "/d"}}, 200, {}},
      {"heuristic only", {{"Content-Location", "/d"}, {"Last-Modified", "Mon, 01 Jan 2001 00:00:00 GMT"}}, 200, {}},
      {"no Content-Location", {{"Cache-Control", "max-age=60"}}, 200, {}},
      {"another URL", {{"Cache-Control", "max-age=60"}, {"Content-Location", "/d/other"}}, 200, {}},
      {"another query", {{"Cache-Control", "max-age=60"}, {"Content-Location", "/d?x=1"}}, 200, {}},
      {"another host", {{"Cache-Control", "max-age=60"}, {"Content-Location", "http://evil.example/d"}}, 200, {}},
      {"201 Created", {{"Cache-Control", "max-age=60"}, {"Content-Location", "/d"}}, 201, {}},
      {"no-store", {{"Cache-Control", "max-age=60, no-store"}, {"Content-Location", "/d"}}, 200, {}},
      {"private", {{"Cache-Control", "private, max-age=60"}, {"Content-Location", "/d"}}, 200, {}},
      {"Set-Cookie", {{"Cache-Control", "max-age=60"}, {"Content-Location", "/d"}, {"Set-Cookie", "s=1"}}, 200, {}},
      {"Authorization", {{"Cache-Control", "max-age=60"}, {"Content-Location", "/d"}}, 200,
       {{"Authorization", "Bearer t"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    FilterDriver driver(config());
    Origin origin(driver, c.fields, c.status);
    driver.send("POST", "/d", c.request, "x");
    ClientResponse get = driver.get("/d");
    EXPECT_EQ(get.body, "got 1");
    EXPECT_EQ(origin.gets, 1);
  }
}

TEST(PostResponses, OffUnlessTheRouteSaysSo) {
  FilterDriver driver(config(false));
  Origin origin(driver, {{"Cache-Control", "max-age=60"}, {"Content-Location", "/d"}});
  ClientResponse posted = driver.send("POST", "/d", {}, "x");
  EXPECT_FALSE(posted.has("Cache-Status"));
  EXPECT_EQ(driver.get("/d").body, "got 1");
}

}  // namespace
}  // namespace perfgate::test
