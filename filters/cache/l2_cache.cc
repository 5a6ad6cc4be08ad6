#include "filters/cache/l2_cache.h"

#include <arpa/inet.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "filters/cache/freshness.h"
#include "filters/cache/l2_record.h"

namespace perfgate {
namespace {

thread_local RedisLink* tls_link = nullptr;

// Writes one record and keeps the key's TTL at the largest of its variants'; each tag set (ARGV[4]
// on) names the key and lives as long.
constexpr std::string_view kStoreScript =
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "local ttl = tonumber(ARGV[3])\n"
    "if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end\n"
    "for i = 4, #ARGV do\n"
    "  redis.call('SADD', ARGV[i], KEYS[1])\n"
    "  if redis.call('TTL', ARGV[i]) < ttl then redis.call('EXPIRE', ARGV[i], ttl) end\n"
    "end\n"
    "return 1\n";

constexpr unsigned kTimeoutsBeforeReconnect = 5;
constexpr Millis kFirstBackoff{100};

int64_t steadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

timeval toTimeval(Millis ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// A SCAN MATCH pattern that matches `text` literally.
std::string globLiteral(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string_view replyText(const redisReply* reply) {
  return reply != nullptr && reply->str != nullptr ? std::string_view(reply->str, reply->len) : std::string_view();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RedisLink

RedisLink::RedisLink(event_base* base, L2Cache& owner, std::string name, bool worker)
    : base_(base), owner_(owner), name_(std::move(name)), worker_(worker) {
  timer_ = evtimer_new(base_, &RedisLink::onTimer, this);
  if (worker_) owner_.links_.fetch_add(1);
}

RedisLink::~RedisLink() {
  if (worker_ && state_ == State::Ready) owner_.linkReady(false);
  if (worker_) owner_.links_.fetch_sub(1);
  state_ = State::Idle;
  if (context_ != nullptr) {
    redisAsyncContext* context = context_;
    context_ = nullptr;
    context->data = nullptr;
    redisAsyncFree(context);  // runs every pending callback with a null reply
  }
  event_free(timer_);
}

void RedisLink::start() { connect(); }

void RedisLink::connect() {
  const L2Config& config = owner_.config();
  if (!worker_ && config.socket_path.empty()) owner_.resolve();
  redisAsyncContext* context = config.socket_path.empty()
                                   ? redisAsyncConnect(owner_.address().c_str(), config.port)
                                   : redisAsyncConnectUnix(config.socket_path.c_str());
  if (context == nullptr || context->err != 0) {
    std::string error = context != nullptr ? context->errstr : "out of memory";
    if (context != nullptr) redisAsyncFree(context);
    fail("connect: " + error);
    return;
  }
  context->data = this;
  if (redisLibeventAttach(context, base_) != REDIS_OK) {
    redisAsyncFree(context);
    fail("cannot attach to the event loop");
    return;
  }
  redisAsyncSetConnectCallback(context, &RedisLink::onConnect);
  redisAsyncSetDisconnectCallback(context, &RedisLink::onDisconnect);
  context_ = context;
  state_ = State::Connecting;
  timeval deadline = toTimeval(config.connect_timeout);
  evtimer_add(timer_, &deadline);
}

void RedisLink::onConnect(const redisAsyncContext* context, int status) noexcept {
  auto* link = static_cast<RedisLink*>(context->data);
  if (link == nullptr || link->context_ != context) return;
  if (status != REDIS_OK) {
    // hiredis frees the context after this callback.
    link->context_ = nullptr;
    link->fail(std::string("connect: ") + context->errstr);
    return;
  }
  link->handshake();
}

void RedisLink::handshake() {
  const L2Config& config = owner_.config();
  auto step = [this](const char* what) {
    return [this, what](redisReply* reply) {
      if (state_ != State::Connecting) return;
      if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
        fail(std::string(what) + ": " + std::string(reply != nullptr ? replyText(reply) : "no reply"));
      }
    };
  };
  if (!config.password.empty()) send({"AUTH", config.password}, step("AUTH"), true);
  if (config.db != 0) send({"SELECT", std::to_string(config.db)}, step("SELECT"), true);
  // The PING's reply comes after the others': the link is ready once it does.
  send({"PING"}, [this](redisReply* reply) {
    if (state_ != State::Connecting) return;
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      fail("PING: " + std::string(reply != nullptr ? replyText(reply) : "no reply"));
      return;
    }
    becomeReady();
  }, true);
}

void RedisLink::becomeReady() {
  evtimer_del(timer_);
  state_ = State::Ready;
  backoff_ = kFirstBackoff;
  timeouts_in_a_row_ = 0;
  drop_ = false;
  L2Counters::bump(owner_.counters().connects);
  if (worker_) owner_.linkReady(true);
  if (failed_) {
    spdlog::info("l2 (redis {}): {} connected again", owner_.config().redis, name_);
    std::lock_guard<std::mutex> lock(owner_.error_mutex_);
    owner_.logged_.erase(name_);
  }
  failed_ = false;
  if (!channel_.empty()) {
    const char* argv[] = {"SUBSCRIBE", channel_.c_str()};
    size_t lengths[] = {9, channel_.size()};
    redisAsyncCommandArgv(context_, &RedisLink::onMessage, this, 2, argv, lengths);
  }
}

void RedisLink::onDisconnect(const redisAsyncContext* context, int) noexcept {
  auto* link = static_cast<RedisLink*>(context->data);
  if (link == nullptr || link->context_ != context) return;
  link->context_ = nullptr;  // hiredis frees it after this callback
  link->fail(std::string("connection lost: ") + (context->err != 0 ? context->errstr : "closed by the server"));
}

void RedisLink::fail(const std::string& error) {
  if (state_ == State::Ready) {
    L2Counters::bump(owner_.counters().disconnects);
    if (worker_) owner_.linkReady(false);
  }
  L2Counters::bump(owner_.counters().errors);
  owner_.noteError(name_, error);
  failed_ = true;
  state_ = State::Idle;
  drop_ = false;
  subscribed_ = false;
  if (context_ != nullptr) {
    redisAsyncContext* context = context_;
    context_ = nullptr;
    context->data = nullptr;
    redisAsyncFree(context);  // deferred by hiredis when inside one of its callbacks
  }
  timeval wait = toTimeval(backoff_);
  evtimer_add(timer_, &wait);
  backoff_ = std::min(backoff_ * 2, owner_.config().reconnect_max);
}

void RedisLink::onTimer(evutil_socket_t, short, void* self) noexcept {
  auto* link = static_cast<RedisLink*>(self);
  switch (link->state_) {
    case State::Idle:
      link->connect();
      break;
    case State::Connecting:
      link->fail("connect timeout");
      break;
    case State::Ready:
      if (link->drop_) link->fail("no reply within the timeout, " + std::to_string(kTimeoutsBeforeReconnect) + " times in a row");
      break;
  }
}

void RedisLink::noteTimeout() {
  if (state_ != State::Ready || ++timeouts_in_a_row_ < kTimeoutsBeforeReconnect || drop_) return;
  drop_ = true;  // replaced from the timer, not from inside the caller's callback
  event_active(timer_, EV_TIMEOUT, 1);
}

bool RedisLink::command(const std::vector<std::string_view>& argv, Done done) {
  if (state_ != State::Ready || drop_ || pending_ >= owner_.config().max_pending) return false;
  return send(argv, std::move(done), false);
}

bool RedisLink::send(const std::vector<std::string_view>& argv, Done done, bool) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (std::string_view arg : argv) {
    args.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* call = new Call{this, std::move(done)};
  if (redisAsyncCommandArgv(context_, &RedisLink::onReply, call, static_cast<int>(args.size()), args.data(),
                            lengths.data()) != REDIS_OK) {
    delete call;
    return false;
  }
  ++pending_;
  return true;
}

void RedisLink::onReply(redisAsyncContext*, void* reply, void* privdata) noexcept {
  auto* call = static_cast<Call*>(privdata);
  RedisLink* link = call->link;
  --link->pending_;
  auto* r = static_cast<redisReply*>(reply);
  if (r != nullptr) {
    link->timeouts_in_a_row_ = 0;
    // WRONGTYPE: a foreign value under one of our names; the caller counts it as such.
    if (r->type == REDIS_REPLY_ERROR && replyText(r).substr(0, 9) != "WRONGTYPE") {
      L2Counters::bump(link->owner_.counters().errors);
      link->owner_.noteError(link->name_, std::string(replyText(r)));
    }
  }
  call->done(r);
  delete call;
}

void RedisLink::subscribe(std::string channel, std::function<void(std::string_view)> message) {
  channel_ = std::move(channel);
  message_ = std::move(message);
}

void RedisLink::onMessage(redisAsyncContext*, void* reply, void* self) noexcept {
  auto* link = static_cast<RedisLink*>(self);
  auto* r = static_cast<redisReply*>(reply);
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  if (replyText(r->element[0]) == "subscribe") link->subscribed_ = true;
  if (replyText(r->element[0]) != "message" || r->element[2]->type != REDIS_REPLY_STRING) return;
  if (link->message_) link->message_(replyText(r->element[2]));
}

// ---------------------------------------------------------------------------------------------
// L2Cache

L2Cache::L2Cache(L2Config config, uint64_t max_object_bytes)
    : config_(std::move(config)), max_object_bytes_(max_object_bytes) {
  // The URL is kept for logs and /api/monitoring only (the parts are parsed already): without
  // its password.
  if (!config_.password.empty()) {
    size_t at = config_.redis.rfind('@');
    if (at != std::string::npos) config_.redis = "redis://:***" + config_.redis.substr(at);
  }
  std::random_device random;
  char id[17];
  std::snprintf(id, sizeof id, "%08x%08x", random(), random());
  instance_id_ = id;
  address_ = config_.host;
  if (config_.socket_path.empty()) resolve();
}

L2Cache::~L2Cache() { stopControl(); }

void L2Cache::resolve() {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string resolved = config_.host;
  if (getaddrinfo(config_.host.c_str(), nullptr, &hints, &found) == 0 && found != nullptr) {
    char text[INET6_ADDRSTRLEN] = "";
    const sockaddr* address = found->ai_addr;
    if (address->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
    } else if (address->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text, sizeof text);
    }
    if (text[0] != '\0') resolved = text;
    freeaddrinfo(found);
  }
  std::lock_guard<std::mutex> lock(error_mutex_);
  address_ = resolved;
}

std::string L2Cache::address() const {
  std::lock_guard<std::mutex> lock(error_mutex_);
  return address_;
}

void L2Cache::noteError(const std::string& link, const std::string& error) {
  std::string text = link + ": " + error;
  {
    std::lock_guard<std::mutex> lock(error_mutex_);
    last_error_ = text;
    last_error_ns_ = steadyNanos();
    std::string& logged = logged_[link];
    if (logged == error) return;  // once per change and link, not once per retry
    logged = error;
  }
  spdlog::warn("l2 (redis {}): {}", config_.redis, text);
}

void L2Cache::linkReady(bool ready) {
  if (ready) {
    ready_.fetch_add(1);
  } else {
    ready_.fetch_sub(1);
  }
}

L2Cache::State L2Cache::state() const {
  State s;
  s.enabled = true;
  s.links = links_.load();
  s.ready = ready_.load();
  s.control_ready = control_ != nullptr && control_->ready();
  s.subscriber_ready = subscriber_ != nullptr && subscriber_->ready() && subscriber_->subscribed();
  std::lock_guard<std::mutex> lock(error_mutex_);
  s.last_error = last_error_;
  if (last_error_ns_ != 0) s.last_error_seconds_ago = (steadyNanos() - last_error_ns_) / 1e9;
  return s;
}

std::string L2Cache::entryKey(std::string_view route, std::string_view key) const {
  std::string name = config_.key_prefix;
  name.append("e:");
  name.append(std::to_string(route.size()));
  name.push_back(':');
  name.append(route);
  name.append(key);
  return name;
}

std::string L2Cache::tagKey(std::string_view tag) const { return config_.key_prefix + "t:" + std::string(tag); }

bool L2Cache::splitEntryKey(std::string_view name, std::string& route, std::string& key) const {
  const std::string head = config_.key_prefix + "e:";
  if (name.substr(0, head.size()) != head) return false;
  name.remove_prefix(head.size());
  size_t colon = name.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 6) return false;
  size_t length = 0;
  for (char c : name.substr(0, colon)) {
    if (c < '0' || c > '9') return false;
    length = length * 10 + static_cast<size_t>(c - '0');
  }
  name.remove_prefix(colon + 1);
  if (length > name.size()) return false;
  route.assign(name.substr(0, length));
  key.assign(name.substr(length));
  return true;
}

std::unique_ptr<RedisLink> L2Cache::attachWorker(event_base* base) {
  auto link = std::make_unique<RedisLink>(base, *this, "worker " + std::to_string(links_.load()), true);
  tls_link = link.get();
  link->start();
  return link;
}

RedisLink* L2Cache::local() { return tls_link; }

int64_t L2Cache::ttlOf(const CacheEntry& entry, int64_t now) {
  int64_t remaining = entry.freshness_lifetime - currentAge(entry, now);
  return remaining + std::max(entry.stale_while_revalidate, entry.stale_if_error);
}

bool L2Cache::lookup(std::string_view route, std::string_view key, std::function<void(Records&)> records,
                     std::function<void()> wake) {
  RedisLink* link = local();
  if (link == nullptr || !link->ready()) {
    L2Counters::bump(counters_.unavailable);
    return false;
  }
  struct Pending {
    L2Cache* cache;
    RedisLink* link;
    std::string key;
    std::function<void(Records&)> records;
    std::function<void()> wake;
    event* timer = nullptr;
    bool woken = false;
  };
  auto pending = std::make_shared<Pending>(Pending{this, link, std::string(key), std::move(records), std::move(wake)});
  std::string name = entryKey(route, key);
  bool sent = link->command({"HGETALL", name}, [pending](redisReply* reply) {
    L2Cache& cache = *pending->cache;
    event_free(pending->timer);
    pending->timer = nullptr;
    Records found;
    if (reply == nullptr) {
      // counted where it failed (error reply, connection lost)
    } else if (reply->type == REDIS_REPLY_ERROR) {
      L2Counters::bump(cache.counters_.corrupt);  // WRONGTYPE: not a hash of ours
    } else if (reply->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        L2DecodeError error = L2DecodeError::None;
        std::shared_ptr<CacheEntry> entry = decodeL2Record(replyText(reply->element[i + 1]), cache.max_object_bytes_, error);
        // Only a record of exactly this key, filed under its own variant, is taken.
        if (entry == nullptr || entry->key != pending->key || entry->variant != replyText(reply->element[i])) {
          L2Counters::bump(cache.counters_.corrupt);
          spdlog::debug("l2: ignored a value for {}: {}", pending->key,
                        entry == nullptr ? describe(error) : "record of another key or variant");
          continue;
        }
        found.push_back(std::move(entry));
      }
      L2Counters::bump(found.empty() ? cache.counters_.misses : cache.counters_.hits);
    }
    pending->records(found);
    if (!pending->woken) {
      pending->woken = true;
      pending->wake();
    }
  });
  if (!sent) {
    L2Counters::bump(counters_.unavailable);
    return false;
  }
  L2Counters::bump(counters_.lookups);
  pending->timer = evtimer_new(link->base_, [](evutil_socket_t, short, void* arg) noexcept {
    auto* p = static_cast<Pending*>(arg);
    if (p->woken) return;
    p->woken = true;
    L2Counters::bump(p->cache->counters_.timeouts);
    p->wake();
    p->link->noteTimeout();
  }, pending.get());
  timeval wait = toTimeval(config_.timeout);
  evtimer_add(pending->timer, &wait);
  return true;
}

void L2Cache::store(const CacheEntry& entry, int64_t now) {
  if (entry.partial()) return;  // parts stay in the instance that fetched them
  int64_t ttl = ttlOf(entry, now);
  if (ttl <= 0) return;
  RedisLink* link = local();
  if (link == nullptr || !link->ready() || link->pending() >= config_.max_pending) {
    L2Counters::bump(counters_.writes_dropped);
    return;
  }
  std::string name = entryKey(entry.route, entry.key);
  std::string record = encodeL2Record(entry);
  std::string ttl_text = std::to_string(ttl);
  std::vector<std::string> tags;
  tags.reserve(entry.tags.size());
  for (const std::string& tag : entry.tags) tags.push_back(tagKey(tag));
  std::vector<std::string_view> argv = {"EVAL", kStoreScript, "1", name, entry.variant, record, ttl_text};
  for (const std::string& tag : tags) argv.push_back(tag);
  bool sent = link->command(argv, [this](redisReply* reply) {
    if (reply != nullptr && reply->type != REDIS_REPLY_ERROR) L2Counters::bump(counters_.writes);
  });
  if (!sent) L2Counters::bump(counters_.writes_dropped);
}

void L2Cache::erase(std::string_view route, std::string_view key) {
  RedisLink* link = local();
  if (link == nullptr) return;
  link->command({"UNLINK", entryKey(route, key)}, [this](redisReply* reply) {
    if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER) L2Counters::bump(counters_.deletes, reply->integer);
  });
}

void L2Cache::startControl(event_base* base, std::function<void(std::string_view)> message) {
  control_ = std::make_unique<RedisLink>(base, *this, "control", false);
  subscriber_ = std::make_unique<RedisLink>(base, *this, "subscriber", false);
  subscriber_->subscribe(channel(), std::move(message));
  control_->start();
  subscriber_->start();
}

void L2Cache::stopControl() {
  subscriber_.reset();
  control_.reset();
}

bool L2Cache::eraseMatching(std::function<bool(std::string_view, std::string_view)> pred) {
  if (control_ == nullptr || !control_->ready()) return false;
  struct Scan {
    L2Cache* cache;
    std::function<bool(std::string_view, std::string_view)> pred;
    std::string pattern;
    std::function<void(const std::string&)> next;
  };
  auto scan = std::make_shared<Scan>();
  scan->cache = this;
  scan->pred = std::move(pred);
  scan->pattern = globLiteral(config_.key_prefix) + "*";
  std::weak_ptr<Scan> weak = scan;
  scan->next = [weak](const std::string& cursor) {
    std::shared_ptr<Scan> self = weak.lock();
    if (self == nullptr) return;
    L2Cache& cache = *self->cache;
    // The reply's callback holds the scan alive until the last page.
    bool sent = cache.control_->command(
        {"SCAN", cursor, "MATCH", self->pattern, "COUNT", "1000"}, [self](redisReply* reply) {
          L2Cache& owner = *self->cache;
          if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return;
          std::vector<std::string> doomed;
          std::string route;
          std::string key;
          std::string tags = owner.config_.key_prefix + "t:";
          const redisReply* names = reply->element[1];
          for (size_t i = 0; names->type == REDIS_REPLY_ARRAY && i < names->elements; ++i) {
            std::string_view name = replyText(names->element[i]);
            bool entry = owner.splitEntryKey(name, route, key);
            if (entry ? !self->pred || self->pred(route, key) : !self->pred && name.substr(0, tags.size()) == tags) {
              doomed.emplace_back(name);
            }
          }
          if (!doomed.empty()) {
            std::vector<std::string_view> argv = {"UNLINK"};
            argv.insert(argv.end(), doomed.begin(), doomed.end());
            owner.control_->command(argv, [&owner](redisReply* r) {
              if (r != nullptr && r->type == REDIS_REPLY_INTEGER) L2Counters::bump(owner.counters_.deletes, r->integer);
            });
          }
          std::string next_cursor(replyText(reply->element[0]));
          if (next_cursor != "0") self->next(next_cursor);
        });
    (void)sent;  // a lost link ends the scan; the next clear starts over
  };
  scan->next("0");
  return true;
}

bool L2Cache::eraseTag(const std::string& tag) {
  if (control_ == nullptr || !control_->ready()) return false;
  std::string set = tagKey(tag);
  return control_->command({"SMEMBERS", set}, [this, set](redisReply* reply) {
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return;
    std::vector<std::string_view> argv = {"UNLINK", set};
    for (size_t i = 0; i < reply->elements; ++i) argv.push_back(replyText(reply->element[i]));
    control_->command(argv, [this](redisReply* r) {
      if (r != nullptr && r->type == REDIS_REPLY_INTEGER) L2Counters::bump(counters_.deletes, r->integer);
    });
  });
}

bool L2Cache::publish(const std::string& message) {
  if (control_ == nullptr || !control_->ready()) return false;
  bool sent = control_->command({"PUBLISH", channel(), message}, [](redisReply*) {});
  if (sent) L2Counters::bump(counters_.purges_sent);
  return sent;
}

}  // namespace perfgate
