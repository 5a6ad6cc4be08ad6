// Backend faults under load: several clients at once hit every way a backend can fail. Each
// client gets the right outcome (a JSON 502/504, or a response cut short with the connection
// closed), the gateway keeps serving, and its file descriptors and memory come back to where
// they were (/proc/PID/fd and /proc/PID/status, before and after).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "integration/gateway_fixture.h"
#include "support/fault_backend.h"
#include "support/sanitizers.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Fault {
  const char* name;
  std::string target;
  // Empty when the outcome is right, else what was wrong.
  std::function<std::string(HttpConnection&, const HttpResponse&)> check;
};

std::string expectGatewayError(const HttpResponse& resp, int status) {
  ::testing::AssertionResult r = isGatewayError(resp, status);
  return r ? "" : r.message();
}

// A 200 whose body never completes: the gateway must close the connection without ending the
// framing, so that the client cannot take a truncated body for a whole one.
std::string expectCutShort(HttpConnection& conn, const HttpResponse& resp) {
  if (resp.status != 200) return "expected a 200 cut short, got " + resp.summary();
  if (resp.complete) return "a truncated body was framed as complete: " + resp.summary();
  if (!resp.peer_closed && !conn.closedByPeer(seconds(5))) return "the connection stayed open after a cut body";
  return "";
}

class BackendFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backend_.ok());
    GatewayConfig config;
    config.backend_port = backend_.port();
    config.workers = 2;
    config.upstream["response_timeout"] = "\"1s\"";
    config.upstream["connect_timeout"] = "\"1s\"";
    config.upstream["max_connections"] = "64";
    config.routes =
        "[[route]]\nname = \"down\"\nprefix = \"/down\"\nupstream = \"down\"\n"
        "[[route]]\nname = \"stale\"\nprefix = \"/cacheable\"\nupstream = \"backend\"\nstale_if_error = \"60s\"\n"
        "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\ncache = false\n";
    config.extra = "[upstream.down]\nurl = \"http://127.0.0.1:" + std::to_string(closedPort()) +
                   "\"\nconnect_timeout = \"1s\"\n";
    gateway_ = std::make_unique<GatewayProcess>(config.toToml());
    ASSERT_TRUE(gateway_->ready()) << gateway_->failure();
  }

  std::vector<Fault> faults() const {
    return {
        // The backend closes after each response, so no idle pooled connection blurs the count.
        {"ok", "/ok/x?close=1",
         [](HttpConnection&, const HttpResponse& r) {
           return r.status == 200 && r.complete && r.body == "ok /ok/x?close=1\n" ? "" : "expected ok, got " + r.summary();
         }},
        {"refused", "/down/x", [](HttpConnection&, const HttpResponse& r) { return expectGatewayError(r, 502); }},
        {"reset mid-headers", "/reset-mid-headers",
         [](HttpConnection&, const HttpResponse& r) { return expectGatewayError(r, 502); }},
        {"reset mid-body", "/reset-mid-body", expectCutShort},
        {"garbage status line", "/garbage-status",
         [](HttpConnection&, const HttpResponse& r) { return expectGatewayError(r, 502); }},
        {"not HTTP", "/not-http", [](HttpConnection&, const HttpResponse& r) { return expectGatewayError(r, 502); }},
        {"oversized head", "/oversized-head",
         [](HttpConnection&, const HttpResponse& r) { return expectGatewayError(r, 502); }},
        {"slow first byte", "/slow-first-byte/3000",
         [](HttpConnection&, const HttpResponse& r) { return expectGatewayError(r, 504); }},
    };
  }

  // One round: each fault once, on its own connection, plus an endless body the client reads a
  // little of and then abandons. Returns the failures.
  std::vector<std::string> round(int client) {
    std::vector<std::string> failures;
    for (const Fault& f : faults()) {
      HttpConnection conn(gateway_->listenPort());
      if (!conn.send(buildRequest("GET", f.target))) {
        failures.push_back(std::string(f.name) + ": send failed");
        continue;
      }
      HttpResponse resp = conn.readResponse();
      std::string why = f.check(conn, resp);
      if (!why.empty()) failures.push_back("client " + std::to_string(client) + ", " + f.name + ": " + why);
    }
    HttpConnection endless(gateway_->listenPort());
    endless.send(buildRequest("GET", "/endless"));
    // The first bytes may be slow to come on a loaded machine; then a little of the body.
    endless.waitReadable(seconds(10));
    std::string got = endless.readAvailable(milliseconds(100));
    if (got.rfind("HTTP/1.1 200", 0) != 0) failures.push_back("endless: no 200 head: " + got.substr(0, 100));
    endless.abortWithReset();
    return failures;
  }

  std::vector<std::string> underLoad(int clients, int rounds) {
    std::mutex mu;
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        for (int r = 0; r < rounds; ++r) {
          std::vector<std::string> f = round(c);
          std::lock_guard<std::mutex> lock(mu);
          failures.insert(failures.end(), f.begin(), f.end());
        }
      });
    }
    for (std::thread& t : threads) t.join();
    return failures;
  }

  // The gateway's open descriptors once the count stops moving.
  int quietFds() const {
    int last = -1;
    for (int i = 0; i < 20; ++i) {
      std::this_thread::sleep_for(milliseconds(250));
      int now = gateway_->openFds();
      if (now == last) return now;
      last = now;
    }
    return last;
  }

  // Waits until the gateway's open descriptors are back to `baseline` (closes are asynchronous).
  int settledFds(int baseline) const {
    int fds = gateway_->openFds();
    for (int i = 0; i < 100 && fds > baseline; ++i) {
      std::this_thread::sleep_for(milliseconds(100));
      fds = gateway_->openFds();
    }
    return fds;
  }

  FaultBackend backend_;
  std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(BackendFaultTest, EveryFaultGetsTheRightOutcomeAndNothingLeaks) {
  // Warm-up: the first round sizes buffers, pools and allocator arenas.
  std::vector<std::string> failures = underLoad(8, 1);
  for (const std::string& f : failures) ADD_FAILURE() << "warm-up: " << f;
  const int fds_before = quietFds();
  const long rss_before = gateway_->rssKiB();
  ASSERT_GT(fds_before, 0);
  ASSERT_GT(rss_before, 0);

  failures = underLoad(8, 5);
  for (const std::string& f : failures) ADD_FAILURE() << f;
  EXPECT_TRUE(gateway_->running()) << "perfgate died: " << gateway_->stderrText();

  // Pooled upstream connections that the backend closed, abandoned endless bodies and cut
  // responses all release their descriptors.
  const int fds_after = settledFds(fds_before);
  EXPECT_LE(fds_after, fds_before) << "open descriptors grew from " << fds_before << " to " << fds_after;
  const long rss_after = gateway_->rssKiB();
  if (!kUnderAddressSanitizer) {
    EXPECT_LT(rss_after - rss_before, 16 * 1024) << "RSS grew from " << rss_before << " KiB to " << rss_after << " KiB";
  }

  // And the gateway still serves.
  HttpResponse resp = request(gateway_->listenPort(), "GET", "/ok/after");
  EXPECT_EQ(resp.status, 200) << resp.summary();
}

TEST_F(BackendFaultTest, StaleResponseIsServedWhenTheBackendFails) {
  // The route allows stale_if_error: once stored, the response outlives the backend.
  HttpResponse fresh = request(gateway_->listenPort(), "GET", "/cacheable/page");
  ASSERT_EQ(fresh.status, 200) << fresh.summary();
  ASSERT_EQ(fresh.body, "cacheable /cacheable/page\n");
  // Past max-age=1 (whole seconds), then the backend goes away.
  std::this_thread::sleep_for(milliseconds(2100));
  backend_.stop();
  for (int i = 0; i < 4; ++i) {
    HttpResponse stale = request(gateway_->listenPort(), "GET", "/cacheable/page");
    EXPECT_EQ(stale.status, 200) << stale.summary();
    EXPECT_EQ(stale.body, "cacheable /cacheable/page\n");
    EXPECT_EQ(stale.header("X-Cache"), "STALE") << stale.summary();
  }
  // Not stored: the backend's failure comes through as it is.
  EXPECT_TRUE(isGatewayError(request(gateway_->listenPort(), "GET", "/cacheable/never-stored"), 502));
  EXPECT_TRUE(isGatewayError(request(gateway_->listenPort(), "GET", "/ok/x"), 502));
}

}  // namespace
}  // namespace perfgate::test
