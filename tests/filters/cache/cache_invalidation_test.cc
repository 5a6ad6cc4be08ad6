// Invalidation by unsafe methods (RFC 9111 §4.4) across routes: a write invalidates its target URI
// and the same-host URIs in Location and Content-Location, every variant, whatever route the
// write came through (an uncached route included: operators put writes there). The sequence seen
// in front of a shop API: POST /api/orders answered 201 with Content-Location naming a product,
// whose stored GETs (gzip and identity) must not be served afterwards.
#include <gtest/gtest.h>

#include <string>

#include "support/filter_driver.h"

namespace perfgate::test {
namespace {

// Orders go through an uncached route; products are cached for 30 s.
std::string shopConfig() {
  return "[upstream.backend]\nurl = \"http://127.0.0.1:9\"\n\n"
         "[[route]]\nname = \"orders\"\nprefix = \"/api/orders\"\nupstream = \"backend\"\ncache = false\n\n"
         "[[route]]\nname = \"products\"\nprefix = \"/api/products\"\nupstream = \"backend\"\n";
}

// A product's stock goes down with every write; a write is answered `order_status` with
// `order_fields`.
class Shop {
 public:
  Shop(FilterDriver& driver, int order_status, HeaderBlock order_fields)
      : order_status_(order_status), order_fields_(std::move(order_fields)) {
    driver.backend = [this](const UpstreamRequest& request) {
      BackendResponse response;
      if (request.method != "GET" && request.method != "HEAD") {
        --stock_;
        response.status = order_status_;
        response.fields = order_fields_;
        response.fields.add("Content-Type", "application/json");
        response.body = "{\"ordered\": true}";
        return response;
      }
      response.fields.add("Content-Type", "application/json");
      response.fields.add("Cache-Control", "public, max-age=30");
      response.body = "{\"id\": 2653, \"stock\": " + std::to_string(stock_) + ", \"padding\": \"" +
                      std::string(400, 'x') + "\"}";  // big enough to be compressed
      return response;
    };
  }
  int stock() const { return stock_; }

 private:
  int stock_ = 10;
  int order_status_;
  HeaderBlock order_fields_;
};

HeaderBlock gzipClient() { return {{"Accept-Encoding", "gzip"}}; }

// Stores both variants of the product, then checks they are hits.
void storeProduct(FilterDriver& driver, const std::string& target) {
  ASSERT_EQ(driver.get(target, gzipClient()).header("X-Cache"), "MISS");
  ASSERT_EQ(driver.get(target, gzipClient()).header("X-Cache"), "HIT");
  ASSERT_EQ(driver.get(target).header("X-Cache"), "HIT");  // identity, decoded from the gzip copy
}

TEST(CacheInvalidation, AnOrderThroughAnUncachedRouteInvalidatesTheProductItNames) {
  FilterDriver driver(shopConfig());
  Shop shop(driver, 201, {{"Content-Location", "/api/products/2653"}});
  storeProduct(driver, "/api/products/2653");
  storeProduct(driver, "/api/products/7");

  ASSERT_EQ(driver.send("POST", "/api/orders", {}, "{\"item\": 2653}").status, 201);
  // Neither variant outlived the order (were one left, the other would be made from it).
  ClientResponse identity = driver.get("/api/products/2653");
  EXPECT_EQ(identity.header("X-Cache"), "MISS") << "a variant outlived the order";
  EXPECT_NE(identity.body.find("\"stock\": 9"), std::string::npos) << identity.body;
  ClientResponse gzip = driver.get("/api/products/2653", gzipClient());
  EXPECT_EQ(gzip.header("X-Cache"), "HIT") << "made from the new identity copy";
  EXPECT_EQ(driver.get("/api/products/7", gzipClient()).header("X-Cache"), "HIT") << "another product stays";
}

TEST(CacheInvalidation, LocationInAbsoluteFormOnTheSameHostInvalidatesAndOtherHostsDoNot) {
  FilterDriver driver(shopConfig());
  Shop shop(driver, 303,
            {{"Location", "http://TEST.local/api/products/2653"}, {"Content-Location", "http://other.example/api/products/7"}});
  storeProduct(driver, "/api/products/2653");
  storeProduct(driver, "/api/products/7");
  ASSERT_EQ(driver.send("POST", "/api/orders", {}, "{}").status, 303);
  EXPECT_EQ(driver.get("/api/products/2653", gzipClient()).header("X-Cache"), "MISS");
  EXPECT_EQ(driver.get("/api/products/7", gzipClient()).header("X-Cache"), "HIT") << "another host's URI";
}

TEST(CacheInvalidation, ANamedPathIsNormalisedAsRequestPathsAre) {
  FilterDriver driver(shopConfig());
  Shop shop(driver, 201, {{"Content-Location", "/api/products/./%32653?"}});
  storeProduct(driver, "/api/products/2653?");
  ASSERT_EQ(driver.send("POST", "/api/orders", {}, "{}").status, 201);
  EXPECT_EQ(driver.get("/api/products/2653?", gzipClient()).header("X-Cache"), "MISS");
}

TEST(CacheInvalidation, AnErrorInvalidatesNothing) {
  FilterDriver driver(shopConfig());
  Shop shop(driver, 409, {{"Content-Location", "/api/products/2653"}});
  storeProduct(driver, "/api/products/2653");
  ASSERT_EQ(driver.send("POST", "/api/orders", {}, "{}").status, 409);
  EXPECT_EQ(driver.get("/api/products/2653", gzipClient()).header("X-Cache"), "HIT");
}

TEST(CacheInvalidation, AWriteToACachedUrlInvalidatesItThroughAnyRoute) {
  FilterDriver driver(shopConfig());
  Shop shop(driver, 204, {});
  storeProduct(driver, "/api/products/2653");
  ASSERT_EQ(driver.send("DELETE", "/api/products/2653").status, 204);
  // Both variants went: the first request finds neither to make its own from.
  EXPECT_EQ(driver.get("/api/products/2653", gzipClient()).header("X-Cache"), "MISS");
}

}  // namespace
}  // namespace perfgate::test
