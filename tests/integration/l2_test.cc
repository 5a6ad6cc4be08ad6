// The shared L2 cache end to end: a real redis-server (started here on an ephemeral port) and two
// perfgate processes in front of one test backend, as two instances behind a load balancer.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "integration/gateway_fixture.h"
#include "support/cache_target.h"
#include "support/redis_server.h"
#include "support/scripted_backend.h"

namespace perfgate::test {
namespace {

using std::chrono::milliseconds;

// Polls `done` every 20 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, milliseconds timeout = milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return done();
}

class L2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RedisServer::binary().empty()) GTEST_SKIP() << "redis-server is not installed (scripts/deps.sh test)";
    redis_ = std::make_unique<RedisServer>();
    ASSERT_TRUE(redis_->running()) << redis_->failure();
    ASSERT_TRUE(backend_.ok());
  }

  std::string config(const std::string& l2_extra = "", int backend_port = 0) const {
    GatewayConfig c;
    c.backend_port = backend_port != 0 ? backend_port : backend_.port();
    c.extra = "[cache.l2]\nredis = \"" + redis_->url() + "\"\ntimeout = \"500ms\"\nreconnect_max = \"300ms\"\n" +
              "key_prefix = \"t:\"\n" + l2_extra;
    return c.toToml();
  }

  // A gateway whose worker links are all ready (in front of backend_, or of `backend_port`).
  std::unique_ptr<GatewayProcess> startInstance(int backend_port = 0) {
    auto gateway = std::make_unique<GatewayProcess>(config("", backend_port));
    if (!gateway->ready()) {
      ADD_FAILURE() << gateway->failure();
      return gateway;
    }
    GatewayProcess* g = gateway.get();
    EXPECT_TRUE(eventually([&] { return l2(*g)["status"] == "up" && l2(*g)["subscriber_ready"] == true; }))
        << l2(*g).dump();
    return gateway;
  }

  static nlohmann::json admin(const GatewayProcess& g, const std::string& method, const std::string& path,
                              const std::string& body = "") {
    HttpResponse resp = adminRequest(g.adminPort(), method, path, body);
    nlohmann::json j = nlohmann::json::parse(resp.body, nullptr, false);
    return j.is_discarded() ? nlohmann::json(nullptr) : j;
  }
  static nlohmann::json l2(const GatewayProcess& g) { return admin(g, "GET", "/api/monitoring/metrics")["l2"]; }
  static uint64_t counter(const GatewayProcess& g, const char* name) {
    nlohmann::json j = l2(g);
    return j.is_object() && j[name].is_number() ? j[name].get<uint64_t>() : 0;
  }

  // Redis names of the entries stored for targets containing `needle`.
  std::vector<std::string> entryKeys(const std::string& needle) const { return redis_->keys("t:e:*" + needle + "*"); }

  HttpResponse get(const GatewayProcess& g, const std::string& target, const Headers& headers = {}) const {
    return request(g.listenPort(), "GET", target, headers);
  }

  TestBackend backend_;
  std::unique_ptr<RedisServer> redis_;
};

TEST_F(L2Test, FillThroughOneInstanceIsAnL2HitThroughTheOther) {
  auto a = startInstance();
  auto b = startInstance();
  ASSERT_TRUE(a->ready() && b->ready());
  const std::string target = cacheTarget("shared", {{"cc", "public, max-age=60"}, {"etag", "\"s1\""}});

  HttpResponse first = get(*a, target);
  ASSERT_EQ(first.status, 200) << first.summary();
  EXPECT_EQ(first.header("X-Cache"), "MISS");
  ASSERT_TRUE(eventually([&] { return entryKeys("shared").size() == 1; })) << "the fill was not written behind";

  HttpResponse second = get(*b, target);
  ASSERT_EQ(second.status, 200) << second.summary();
  EXPECT_EQ(second.header("X-Cache"), "HIT");
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(second.header("ETag"), "\"s1\"");
  EXPECT_EQ(backend_.requestsFor(target), 1u) << "B went to the backend instead of L2";
  EXPECT_EQ(counter(*b, "hits"), 1u);
  // The L2 hit filled B's L1: the next one does not ask Redis again.
  EXPECT_EQ(get(*b, target).header("X-Cache"), "HIT");
  EXPECT_EQ(counter(*b, "lookups"), 1u);

  // The L2 families in /metrics, as Prometheus reads them.
  std::string text = request(b->adminPort(), "GET", "/metrics").body;
  EXPECT_NE(text.find("\nperfgate_l2_up 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nperfgate_l2_lookups_total{result=\"hit\"} 1\n"), std::string::npos) << text;
  if (::access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed (scripts/deps.sh test)";
  TempDir dir;
  std::string command = "/usr/bin/promtool check metrics < " + dir.write("metrics.txt", text) + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[512];
  while (size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  EXPECT_EQ(::pclose(pipe), 0) << output;
  EXPECT_EQ(output, "") << output;
}

TEST_F(L2Test, VaryVariantsAndTheGzipVariantSurviveTheRoundTrip) {
  auto a = startInstance();
  auto b = startInstance();
  ASSERT_TRUE(a->ready() && b->ready());
  // Compressible (text/plain, 4 KiB): stored once as gzip for clients that take it.
  const std::string target = cacheTarget("variants", {{"cc", "max-age=60"}, {"size", "4096"}, {"vary", "X-Lang"}});
  HttpResponse gzip_en = get(*a, target, {{"Accept-Encoding", "gzip"}, {"X-Lang", "en"}});
  HttpResponse plain_fr = get(*a, target, {{"X-Lang", "fr"}});
  ASSERT_EQ(gzip_en.status, 200);
  ASSERT_EQ(gzip_en.header("Content-Encoding"), "gzip");
  ASSERT_EQ(backend_.requestsFor(target), 2u);
  ASSERT_TRUE(eventually([&] {
    RedisReplyPtr n = entryKeys("variants").empty() ? nullptr : redis_->command({"HLEN", entryKeys("variants")[0]});
    return n != nullptr && n->type == REDIS_REPLY_INTEGER && n->integer == 2;
  }));

  HttpResponse b_gzip = get(*b, target, {{"Accept-Encoding", "gzip"}, {"X-Lang", "en"}});
  EXPECT_EQ(b_gzip.header("X-Cache"), "HIT");
  EXPECT_EQ(b_gzip.header("Content-Encoding"), "gzip");
  EXPECT_EQ(b_gzip.body, gzip_en.body);
  HttpResponse b_fr = get(*b, target, {{"X-Lang", "fr"}});
  EXPECT_EQ(b_fr.header("X-Cache"), "HIT");
  EXPECT_FALSE(b_fr.hasHeader("Content-Encoding"));
  EXPECT_EQ(b_fr.body, plain_fr.body);
  // The identity form of the gzip variant, decoded from what came from L2.
  HttpResponse b_en_plain = get(*b, target, {{"X-Lang", "en"}});
  EXPECT_EQ(b_en_plain.header("X-Cache"), "HIT");
  EXPECT_EQ(b_en_plain.body, plain_fr.body);
  EXPECT_EQ(backend_.requestsFor(target), 2u);
}

TEST_F(L2Test, ClearOnOneInstanceEmptiesRedisAndTheOtherInstancesL1) {
  auto a = startInstance();
  auto b = startInstance();
  ASSERT_TRUE(a->ready() && b->ready());
  const std::string target = cacheTarget("purged", {{"cc", "max-age=60"}});
  const std::string other = cacheTarget("kept", {{"cc", "max-age=60"}});
  ASSERT_EQ(get(*a, target).header("X-Cache"), "MISS");
  ASSERT_EQ(get(*a, other).header("X-Cache"), "MISS");
  ASSERT_TRUE(eventually([&] { return entryKeys("purged").size() == 1 && entryKeys("kept").size() == 1; }));
  ASSERT_EQ(get(*b, target).header("X-Cache"), "HIT");  // now in B's L1 too
  ASSERT_EQ(get(*b, other).header("X-Cache"), "HIT");

  nlohmann::json cleared = admin(*a, "POST", "/api/cache/clear", nlohmann::json({{"url", target}}).dump());
  EXPECT_EQ(cleared["removed"], 1) << cleared.dump();
  EXPECT_EQ(cleared["l2"], "sent") << cleared.dump();
  EXPECT_TRUE(eventually([&] { return entryKeys("purged").empty(); })) << "still in Redis";
  EXPECT_TRUE(eventually([&] { return counter(*b, "purges_received") == 1; })) << l2(*b).dump();

  HttpResponse after = get(*b, target);
  EXPECT_EQ(after.header("X-Cache"), "MISS") << "B still served its L1 copy";
  EXPECT_EQ(backend_.requestsFor(target), 2u);
  EXPECT_EQ(get(*b, other).header("X-Cache"), "HIT") << "the clear went beyond its URL";
  EXPECT_EQ(entryKeys("kept").size(), 1u);

  // Clear all: every entry of ours goes from Redis.
  ASSERT_EQ(admin(*b, "POST", "/api/cache/clear", "{}")["l2"], "sent");
  EXPECT_TRUE(eventually([&] { return redis_->keys("t:*").empty(); }));
  EXPECT_TRUE(eventually([&] { return counter(*a, "purges_received") == 1; }));
  EXPECT_EQ(get(*a, other).header("X-Cache"), "MISS");
}

TEST_F(L2Test, RouteToggleReachesTheOtherInstance) {
  auto a = startInstance();
  auto b = startInstance();
  ASSERT_TRUE(a->ready() && b->ready());
  HttpResponse put = adminRequest(a->adminPort(), "PUT", "/api/cache/routes/all", "{\"enabled\": false}");
  ASSERT_EQ(put.status, 200) << put.summary();
  EXPECT_TRUE(eventually([&] { return admin(*b, "GET", "/api/cache/routes")["routes"][0]["enabled"] == false; }));
}

TEST_F(L2Test, RedisKilledMidLoadCausesNoClientErrorsAndIsUsedAgainAfterARestart) {
  auto a = startInstance();
  ASSERT_TRUE(a->ready());
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::string first_failure;
  std::mutex failure_mutex;
  std::vector<std::thread> clients;
  for (int c = 0; c < 2; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop.load(); ++i) {
        // Half fresh URLs (L1 misses that ask L2), half repeats (L1 hits).
        std::string target = cacheTarget("load" + std::to_string(c), {{"cc", "max-age=60"}, {"i", std::to_string(i % 2 ? i : 0)}});
        HttpResponse resp = get(*a, target);
        if (resp.status == 200) {
          ok.fetch_add(1);
        } else {
          failed.fetch_add(1);
          std::lock_guard<std::mutex> lock(failure_mutex);
          if (first_failure.empty()) first_failure = resp.summary();
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return ok.load() >= 50; }));
  redis_->kill();
  int at_kill = ok.load();
  EXPECT_TRUE(eventually([&] { return ok.load() >= at_kill + 100; }, milliseconds(10000)));
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0) << first_failure;

  nlohmann::json down = l2(*a);
  EXPECT_NE(down["status"], "up") << down.dump();
  EXPECT_GT(down["errors"].get<uint64_t>(), 0u) << down.dump();
  EXPECT_TRUE(down["last_error"].is_string()) << down.dump();
  nlohmann::json health = admin(*a, "GET", "/api/monitoring/health");
  EXPECT_EQ(health["status"], "degraded") << health.dump();
  HttpResponse prom = request(a->adminPort(), "GET", "/metrics");
  EXPECT_NE(prom.body.find("perfgate_l2_up 0"), std::string::npos);

  ASSERT_TRUE(redis_->start()) << redis_->failure();
  EXPECT_TRUE(eventually([&] { return l2(*a)["status"] == "up"; }, milliseconds(10000))) << l2(*a).dump();
  uint64_t lookups = counter(*a, "lookups");
  const std::string target = cacheTarget("after-restart", {{"cc", "max-age=60"}});
  EXPECT_EQ(get(*a, target).status, 200);
  EXPECT_TRUE(eventually([&] { return entryKeys("after-restart").size() == 1; })) << "not written after the restart";
  EXPECT_GT(counter(*a, "lookups"), lookups);
  EXPECT_NE(request(a->adminPort(), "GET", "/metrics").body.find("perfgate_l2_up 1"), std::string::npos);
}

TEST_F(L2Test, AnUnansweringRedisCostsALookupTimeoutThenAMiss) {
  auto a = startInstance();
  ASSERT_TRUE(a->ready());
  redis_->pause();
  const std::string target = cacheTarget("slow", {{"cc", "max-age=60"}});
  HttpResponse resp = get(*a, target);
  redis_->resume();
  EXPECT_EQ(resp.status, 200) << resp.summary();
  EXPECT_EQ(resp.header("X-Cache"), "MISS");
  EXPECT_EQ(backend_.requestsFor(target), 1u);
  EXPECT_GE(counter(*a, "timeouts"), 1u) << l2(*a).dump();
  // Redis answers again: the same link carries on (a single timeout does not replace it).
  EXPECT_TRUE(eventually([&] { return entryKeys("slow").size() == 1; }));
  EXPECT_EQ(l2(*a)["status"], "up");
}

TEST_F(L2Test, CorruptAndForeignValuesAreCountedAndNeverServed) {
  auto a = startInstance();
  ASSERT_TRUE(a->ready());
  const std::string target = cacheTarget("corrupt", {{"cc", "max-age=60"}});
  ASSERT_EQ(get(*a, target).status, 200);
  ASSERT_TRUE(eventually([&] { return entryKeys("corrupt").size() == 1; }));
  std::string name = entryKeys("corrupt")[0];
  RedisReplyPtr fields = redis_->command({"HKEYS", name});
  ASSERT_TRUE(fields != nullptr && fields->type == REDIS_REPLY_ARRAY && fields->elements == 1);
  std::string variant(fields->element[0]->str, fields->element[0]->len);
  RedisReplyPtr record = redis_->command({"HGET", name, variant});
  ASSERT_TRUE(record != nullptr && record->type == REDIS_REPLY_STRING);
  std::string damaged(record->str, record->len);
  damaged[damaged.size() / 2] ^= 0x5a;  // somewhere in the middle
  damaged.resize(damaged.size() - 3);   // and cut short
  redis_->command({"HSET", name, variant, damaged});
  // A foreign value under another URL's name: a plain string, not one of our hashes.
  const std::string foreign_target = cacheTarget("foreign", {{"cc", "max-age=60"}});
  std::string foreign_name = name;
  foreign_name.replace(foreign_name.find("corrupt"), 7, "foreign");
  redis_->command({"SET", foreign_name, "not a perfgate record"});

  auto b = startInstance();  // a cold L1
  ASSERT_TRUE(b->ready());
  HttpResponse resp = get(*b, target);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("X-Cache"), "MISS");
  EXPECT_EQ(resp.body, "fetch 2\n");
  HttpResponse foreign = get(*b, foreign_target);
  EXPECT_EQ(foreign.status, 200);
  EXPECT_EQ(foreign.header("X-Cache"), "MISS");
  EXPECT_EQ(counter(*b, "corrupt"), 2u) << l2(*b).dump();
  EXPECT_EQ(counter(*b, "hits"), 0u);
}

TEST_F(L2Test, RedisTtlIsTheRemainingFreshnessPlusTheStaleWindow) {
  auto a = startInstance();
  ASSERT_TRUE(a->ready());
  const std::string target = cacheTarget("ttl", {{"cc", "max-age=100, stale-while-revalidate=30"}, {"age", "10"}});
  ASSERT_EQ(get(*a, target).status, 200);
  ASSERT_TRUE(eventually([&] { return entryKeys("ttl").size() == 1; }));
  RedisReplyPtr ttl = redis_->command({"TTL", entryKeys("ttl")[0]});
  ASSERT_TRUE(ttl != nullptr && ttl->type == REDIS_REPLY_INTEGER);
  // 100 - 10 (Age) + 30, less the second or so the write took.
  EXPECT_LE(ttl->integer, 120);
  EXPECT_GE(ttl->integer, 117);
}

// An L1 entry stale by its age is looked up in L2 before the backend: another instance may have
// stored a newer copy there. B's copy arrives already stale (Age past max-age); A then stores a
// fresh one; B answers from it without a third backend request.
TEST_F(L2Test, AStaleL1EntryIsLookedUpInL2BeforeTheBackend) {
  ScriptedBackend origin([](int, int, const std::string& head) {
    static std::atomic<int> fetches{0};
    int n = ++fetches;
    std::string body = "version " + std::to_string(n) + "\n";
    std::string age = n == 1 ? "Age: 100\r\n" : "";  // the first answer is stale on arrival
    (void)head;
    return Reply("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n" + age + "ETag: \"v" + std::to_string(n) +
                 "\"\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  });
  auto a = startInstance(origin.port());
  auto b = startInstance(origin.port());
  ASSERT_TRUE(a->ready() && b->ready());

  ASSERT_EQ(get(*b, "/stale-l1").body, "version 1\n");
  HttpResponse fresh = get(*a, "/stale-l1");
  ASSERT_EQ(fresh.body, "version 2\n") << fresh.summary();
  ASSERT_TRUE(eventually([&] {
    std::vector<std::string> keys = entryKeys("stale-l1");
    return keys.size() == 1 && redis_->command({"TTL", keys[0]})->integer > 30;
  })) << "A's fresh copy was not written behind";

  uint64_t lookups = counter(*b, "lookups");
  HttpResponse from_l2 = get(*b, "/stale-l1");
  EXPECT_EQ(from_l2.body, "version 2\n") << from_l2.summary();
  EXPECT_EQ(from_l2.header("X-Cache"), "HIT");
  EXPECT_EQ(counter(*b, "lookups"), lookups + 1) << "B did not ask L2 for its stale entry";
  EXPECT_EQ(origin.requests(), 2) << "B went to the backend instead";
}

}  // namespace
}  // namespace perfgate::test
