// L2Cache: the shared second cache layer on Redis (hiredis, libevent adapter). Several gateway
// instances pointed at one Redis share their stored responses and their purges.
//
// - Lookup order is L1 → L2 → backend. On an L1 miss the cache filter parks the exchange and asks
//   Redis on its own worker's event_base (one connection per worker, RedisLink); the reply's
//   records go into L1 and the exchange looks again. The wait is bounded by [cache.l2] timeout:
//   past it the exchange goes on as a miss (a late reply still fills L1).
// - A fill writes L2 behind the client's back (never waited for). One Redis hash per URL (and
//   route) holds its variants, field = variant, value = a versioned record (l2_record.h); the
//   key's TTL is the response's remaining freshness plus its stale window, kept at the largest of
//   its variants'. Tags get a set each, for clear by tag.
// - Purges (the admin clear) run on the main thread: SCAN + UNLINK of the matching keys, and a
//   PUBLISH on `<key_prefix>purge` that every other instance's subscriber turns into the same
//   L1 clear.
// - Redis down, slow or restarted: nothing waits on it. Lookups while a link is not ready are
//   plain misses, writes are dropped, each link reconnects with doubling backoff; every failure
//   is counted and the last one kept for /api/monitoring/*.
#pragma once

#include <event2/event.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "filters/cache/cache_entry.h"
#include "filters/cache/cache_config.h"
#include "filters/module.h"

struct redisAsyncContext;
struct redisReply;

namespace perfgate {

class L2Cache;

// Counters of the L2 layer, summed over every link (relaxed atomics: L2 traffic is misses only).
struct L2Counters {
  std::atomic<uint64_t> lookups{0};        // L1 misses asked of Redis
  std::atomic<uint64_t> hits{0};           // ... answered with at least one usable record
  std::atomic<uint64_t> misses{0};         // ... answered with none
  std::atomic<uint64_t> timeouts{0};       // ... not answered within [cache.l2] timeout
  std::atomic<uint64_t> unavailable{0};    // L1 misses not asked: the link was not ready
  std::atomic<uint64_t> corrupt{0};        // values that were not valid records for their key (ignored)
  std::atomic<uint64_t> writes{0};         // records written
  std::atomic<uint64_t> writes_dropped{0}; // writes not sent: link not ready or too many in flight
  std::atomic<uint64_t> deletes{0};        // keys removed (invalidation, clear)
  std::atomic<uint64_t> errors{0};         // failed commands and connection failures
  std::atomic<uint64_t> connects{0};       // links that became ready
  std::atomic<uint64_t> disconnects{0};    // ready links lost
  std::atomic<uint64_t> purges_sent{0};    // purge messages published
  std::atomic<uint64_t> purges_received{0};  // purge messages from other instances applied

  static void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
    counter.fetch_add(by, std::memory_order_relaxed);
  }
};

// One hiredis async connection on one event_base (one thread), reconnecting by itself.
class RedisLink final : public WorkerResource {
 public:
  using Done = std::function<void(redisReply* reply)>;  // reply: null when the command failed

  // A `worker` link counts in L2Cache::State::links/ready.
  RedisLink(event_base* base, L2Cache& owner, std::string name, bool worker);
  ~RedisLink() override;
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Connects (and keeps reconnecting until destroyed).
  void start();
  bool ready() const { return state_ == State::Ready; }
  // Subscriber mode: Redis confirmed the subscription on the current connection.
  bool subscribed() const { return subscribed_; }
  size_t pending() const { return pending_; }

  // Sends a command; `done` runs exactly once on this link's thread (null reply on any failure,
  // also when the connection goes). False (done not called) when the link is not ready or
  // `max_pending` commands are in flight.
  bool command(const std::vector<std::string_view>& argv, Done done);

  // Subscriber mode: SUBSCRIBE `channel` whenever the link becomes ready; `message` gets each
  // message's payload.
  void subscribe(std::string channel, std::function<void(std::string_view)> message);

  // A command went unanswered for longer than the lookup timeout; after several in a row the
  // connection is taken as hung and replaced.
  void noteTimeout();

 private:
  enum class State : uint8_t { Idle, Connecting, Ready };
  struct Call {
    RedisLink* link;
    Done done;
  };
  static void onConnect(const redisAsyncContext* context, int status) noexcept;
  static void onDisconnect(const redisAsyncContext* context, int status) noexcept;
  static void onReply(redisAsyncContext* context, void* reply, void* call) noexcept;
  static void onMessage(redisAsyncContext* context, void* reply, void* link) noexcept;
  static void onTimer(evutil_socket_t, short, void* self) noexcept;
  void connect();
  void handshake();
  void becomeReady();
  // Drops the connection (counting `error`) and schedules a reconnect.
  void fail(const std::string& error);
  bool send(const std::vector<std::string_view>& argv, Done done, bool handshake);

  event_base* base_;
  L2Cache& owner_;
  std::string name_;
  bool worker_;
  redisAsyncContext* context_ = nullptr;
  bool drop_ = false;               // too many timeouts in a row: replace the connection
  State state_ = State::Idle;
  event* timer_ = nullptr;          // connect deadline while connecting; reconnect backoff while idle
  Millis backoff_{100};
  size_t pending_ = 0;
  unsigned timeouts_in_a_row_ = 0;
  std::string channel_;
  std::function<void(std::string_view)> message_;
  bool subscribed_ = false;
  bool failed_ = false;  // an error since the last time it was ready: log the recovery

  friend class L2Cache;
};

class L2Cache {
 public:
  struct State {
    bool enabled = false;
    unsigned links = 0;        // worker links
    unsigned ready = 0;        // ... ready now
    bool control_ready = false;
    bool subscriber_ready = false;
    std::string last_error;    // "" when none yet
    double last_error_seconds_ago = -1;  // < 0: none
  };

  L2Cache(L2Config config, uint64_t max_object_bytes);
  ~L2Cache();

  const L2Config& config() const { return config_; }
  L2Counters& counters() { return counters_; }
  const L2Counters& counters() const { return counters_; }
  State state() const;
  // A random id for this process: its own purge messages come back to it and are skipped.
  const std::string& instanceId() const { return instance_id_; }

  // Redis names: a URL's hash under a route; a tag's set; the purge channel.
  std::string entryKey(std::string_view route, std::string_view key) const;
  std::string tagKey(std::string_view tag) const;
  std::string channel() const { return config_.key_prefix + "purge"; }
  // The route and cache key named by an entryKey(); false for other names.
  bool splitEntryKey(std::string_view name, std::string& route, std::string& key) const;

  // --- Worker side (the calling thread's link) ---
  // Opens the calling worker thread's link on `base`; the link lives until the returned handle
  // is destroyed (before `base`).
  std::unique_ptr<RedisLink> attachWorker(event_base* base);
  static RedisLink* local();

  using Records = std::vector<std::shared_ptr<CacheEntry>>;
  // Asks for the stored variants of `key` on `route`. `records` runs when the reply comes, with
  // the records that decoded as variants of exactly this key (heads not yet serialized; none on
  // failure); `wake` runs once, at the reply or at the timeout, whichever is first. False when
  // the link is not ready (nothing is called).
  bool lookup(std::string_view route, std::string_view key, std::function<void(Records&)> records,
              std::function<void()> wake);
  // Write-behind of a stored entry; the TTL is the entry's remaining freshness plus its stale
  // window at `now` (nothing is written when that is not positive, nor for a partial entry).
  void store(const CacheEntry& entry, int64_t now);
  // Removes every variant of `key` on `route`.
  void erase(std::string_view route, std::string_view key);
  // Seconds a record of `entry` is kept at `now`: remaining freshness + stale window.
  static int64_t ttlOf(const CacheEntry& entry, int64_t now);

  // --- Main thread: purges across instances ---
  // Opens the control and subscriber links on `base`; `message` gets every purge message that
  // another instance published.
  void startControl(event_base* base, std::function<void(std::string_view)> message);
  void stopControl();
  // Removes from Redis every entry for which `pred(route, key)` holds (all when null), by SCAN;
  // false when the control link is not ready.
  bool eraseMatching(std::function<bool(std::string_view route, std::string_view key)> pred);
  // Removes the entries a tag's set names, and the set.
  bool eraseTag(const std::string& tag);
  // Publishes a purge message to the other instances; false when the control link is not ready.
  bool publish(const std::string& message);

  void noteError(const std::string& link, const std::string& error);
  void linkReady(bool ready);
  // host or socket to connect to; a host name is resolved on the main thread (at start and at
  // each control reconnect), so that worker links never wait on DNS.
  std::string address() const;
  void resolve();

 private:
  L2Config config_;
  uint64_t max_object_bytes_;
  std::string instance_id_;
  L2Counters counters_;
  std::atomic<unsigned> links_{0};
  std::atomic<unsigned> ready_{0};
  mutable std::mutex error_mutex_;
  std::string last_error_;
  int64_t last_error_ns_ = 0;  // steady clock
  std::map<std::string, std::string> logged_;  // per link: the error last logged (one line per change)
  std::string address_;        // guarded by error_mutex_ too
  std::unique_ptr<RedisLink> control_;
  std::unique_ptr<RedisLink> subscriber_;

  friend class RedisLink;
};

}  // namespace perfgate
