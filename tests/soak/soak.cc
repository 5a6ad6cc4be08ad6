// Soak: steady load through perfgate while the backend is killed and restarted twice. perfgate
// stays up, its memory is flat after the warm-up, and every response is either the right one or
// a clean JSON 502/503/504. A separate ctest entry with the label "soak"; the length is
// PERFGATE_SOAK_SECONDS (default 60, at most 300).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "integration/gateway_fixture.h"
#include "support/fault_backend.h"
#include "support/sanitizers.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

seconds soakLength() {
  const char* env = std::getenv("PERFGATE_SOAK_SECONDS");
  long s = env != nullptr ? std::atol(env) : 60;
  return seconds(std::clamp(s, 12L, 300L));
}

struct Tally {
  std::atomic<uint64_t> correct{0};
  std::atomic<uint64_t> gateway_errors{0};
  std::atomic<uint64_t> correct_after_restarts{0};
  std::mutex mu;
  std::vector<std::string> failures;  // the first few

  void fail(std::string what) {
    std::lock_guard<std::mutex> lock(mu);
    if (failures.size() < 20) failures.push_back(std::move(what));
  }
  size_t failureCount() {
    std::lock_guard<std::mutex> lock(mu);
    return failures.size();
  }
};

TEST(SoakTest, BackendKilledAndRestartedTwiceUnderLoad) {
  const seconds length = soakLength();
  auto backend = std::make_unique<FaultBackend>();
  ASSERT_TRUE(backend->ok());
  const int backend_port = backend->port();

  GatewayConfig config;
  config.backend_port = backend_port;
  config.workers = 2;
  config.log_level = "warn";
  config.upstream["connect_timeout"] = "\"1s\"";
  config.upstream["response_timeout"] = "\"2s\"";
  config.routes =
      "[[route]]\nname = \"cached\"\nprefix = \"/cacheable\"\nupstream = \"backend\"\nstale_if_error = \"5m\"\n"
      "[[route]]\nname = \"pass\"\nprefix = \"/\"\nupstream = \"backend\"\ncache = false\n";
  GatewayProcess gateway(config.toToml());
  ASSERT_TRUE(gateway.ready()) << gateway.failure();

  Tally tally;
  std::atomic<bool> running{true};
  std::atomic<bool> restarted_twice{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      HttpConnection conn;
      for (uint64_t n = 0; running; ++n) {
        if (!conn.connected()) conn = HttpConnection(gateway.listenPort());
        const bool cached = n % 2 == 1;
        const std::string target = cached ? "/cacheable/k" + std::to_string(n % 40)
                                          : "/ok/c" + std::to_string(c) + "-" + std::to_string(n);
        const std::string body = (cached ? "cacheable " : "ok ") + target + "\n";
        if (!conn.send(buildRequest("GET", target))) {
          tally.fail(target + ": could not send on a connection the gateway did not close");
          conn.close();
          continue;
        }
        HttpResponse resp = conn.readResponse();
        if (resp.status == 200 && resp.complete && resp.body == body) {
          ++tally.correct;
          if (restarted_twice) ++tally.correct_after_restarts;
        } else if ((resp.status == 502 || resp.status == 503 || resp.status == 504) &&
                   isGatewayError(resp, resp.status)) {
          ++tally.gateway_errors;
        } else {
          tally.fail(target + ": " + resp.summary() + (resp.error.empty() ? "" : " (" + resp.error + ")"));
        }
        if (!resp.ok() || saysClose(resp) || resp.peer_closed) conn.close();
      }
    });
  }

  // Timeline: warm-up, then the backend dies for 3 s at 1/3 and at 2/3 of the run.
  const auto start = Clock::now();
  const auto warm = start + length / 6;
  std::vector<std::pair<Clock::time_point, bool>> events = {
      {start + length / 3, false}, {start + length / 3 + seconds(3), true},
      {start + 2 * length / 3, false}, {start + 2 * length / 3 + seconds(3), true}};
  long rss_warm = -1;
  long rss_max = 0;
  int restarts = 0;
  size_t next_event = 0;
  while (Clock::now() < start + length) {
    std::this_thread::sleep_for(milliseconds(250));
    const auto now = Clock::now();
    if (next_event < events.size() && now >= events[next_event].first) {
      if (events[next_event].second) {
        backend = std::make_unique<FaultBackend>(backend_port);
        ASSERT_TRUE(backend->ok()) << "could not restart the backend on port " << backend_port;
        if (++restarts == 2) restarted_twice = true;
      } else {
        backend->stop();
      }
      ++next_event;
    }
    if (now >= warm) {
      long rss = gateway.rssKiB();
      if (rss_warm < 0) rss_warm = rss;
      rss_max = std::max(rss_max, rss);
    }
    ASSERT_TRUE(gateway.running()) << "perfgate died: " << gateway.stderrText();
  }
  running = false;
  for (std::thread& t : clients) t.join();
  const long rss_end = gateway.rssKiB();

  for (const std::string& f : tally.failures) ADD_FAILURE() << f;
  EXPECT_EQ(tally.failureCount(), 0u);
  EXPECT_EQ(restarts, 2);
  EXPECT_GT(tally.correct.load(), 0u);
  EXPECT_GT(tally.correct_after_restarts.load(), 0u) << "nothing was served after the backend came back";
  EXPECT_GT(tally.gateway_errors.load(), 0u) << "the outages were never seen: the test did not test anything";
  // Flat after warm-up: what the run adds is bounded, not proportional to its length.
  if (!kUnderAddressSanitizer) {
    EXPECT_LT(rss_max - rss_warm, 24 * 1024) << "RSS went from " << rss_warm << " KiB after warm-up to " << rss_max
                                           << " KiB";
  }
  if (!kUnderAddressSanitizer) {
    EXPECT_LT(rss_end - rss_warm, 16 * 1024) << "RSS went from " << rss_warm << " KiB to " << rss_end << " KiB";
  }
  EXPECT_TRUE(gateway.running());
  std::printf("soak %llds: %llu correct, %llu gateway errors, RSS %ld -> %ld KiB (max %ld)\n",
              static_cast<long long>(length.count()), static_cast<unsigned long long>(tally.correct.load()),
              static_cast<unsigned long long>(tally.gateway_errors.load()), rss_warm, rss_end, rss_max);
}

}  // namespace
}  // namespace perfgate::test
