// A worker: one thread, one event_base, one SO_REUSEPORT listener, its own upstream pools and
// connections. Nothing is shared with other workers on the request path; the main thread talks
// to a worker only through publish() and requestDrain(), which wake it through an eventfd.
#pragma once

#include <event2/event.h>
#include <event2/listener.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "filters/module.h"
#include "gateway/send_batch.h"
#include "gateway/snapshot.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {

class BackgroundExchange;
class ClientConnection;
class ProxyExchange;

class Worker {
 public:
  // What the modules hold on a worker (a Redis link), opened on its thread as it starts.
  using ResourceOpener = std::function<std::vector<std::unique_ptr<WorkerResource>>(event_base* base)>;

  // `listen_fd` is a bound, listening socket the worker takes ownership of.
  Worker(unsigned index, unsigned worker_count, int listen_fd, std::shared_ptr<const Snapshot> snapshot,
         std::atomic<unsigned>* open_connections, ResourceOpener open_resources = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void join();
  // Thread-safe: steady-clock milliseconds when this worker's loop last turned (a timer it runs
  // every second records it; a loop stuck in one callback stops recording), and whether its
  // loop has ended (after a drain).
  int64_t lastTurnMs() const { return last_turn_ms_.load(std::memory_order_relaxed); }
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // Runs the loop once without blocking, on the caller's thread: for a worker never start()ed,
  // driven step by step (the whole-gateway fuzz target).
  void runOnce();

  // Thread-safe (main thread): hand over a new snapshot; stop accepting and drain.
  void publish(std::shared_ptr<const Snapshot> snapshot);
  void requestDrain();
  // Thread-safe: runs `task` on this worker's thread, on a later loop turn.
  void post(std::function<void()> task);

  // Worker thread only.
  event_base* base() const { return base_; }
  const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_; }
  UpstreamPool* pool(const UpstreamConfig& upstream);
  // The sends of this loop turn, made together once its callbacks have run.
  SendBatch& sends() { return *sends_; }
  void release(ClientConnection* connection);  // frees it at a safe point
  // Exchanges no client waits for (BackgroundExchange): held here, freed at a safe point once
  // done, or with the worker.
  void adoptBackground(std::unique_ptr<BackgroundExchange> exchange);
  void releaseBackground(BackgroundExchange* exchange);
  uint64_t nextExchangeId() { return ++exchange_ids_; }
  // Exchanges that handed out a waker (Exchange::waker()), by id: a wake-up posted from another
  // thread finds its exchange here, or nothing once that exchange is gone.
  void watchExchange(uint64_t id, ProxyExchange* exchange) { watched_[id] = exchange; }
  void forgetExchange(uint64_t id) { watched_.erase(id); }
  ProxyExchange* findExchange(uint64_t id) const {
    auto it = watched_.find(id);
    return it == watched_.end() ? nullptr : it->second;
  }

 private:
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int length, void* self) noexcept;
  static void onNotify(evutil_socket_t fd, short, void* self) noexcept;
  static void onReap(evutil_socket_t, short, void* self) noexcept;
  static void onDrainTimeout(evutil_socket_t, short, void* self) noexcept;
  static void onAcceptError(evconnlistener* listener, void* self) noexcept;
  static void onAcceptResume(evutil_socket_t, short, void* self) noexcept;
  static void onHeartbeat(evutil_socket_t, short, void* self) noexcept;
  void run();
  void notify();  // wakes the loop's onNotify
  void adopt(std::shared_ptr<const Snapshot> snapshot);
  void beginDrain();

  unsigned index_;
  unsigned worker_count_;
  int listen_fd_;
  std::atomic<unsigned>* open_connections_;
  event_base* base_ = nullptr;
  std::unique_ptr<SendBatch> sends_;
  evconnlistener* listener_ = nullptr;
  int notify_fd_ = -1;
  event* notify_event_ = nullptr;
  event* reap_event_ = nullptr;
  event* drain_timer_ = nullptr;
  event* accept_pause_ = nullptr;   // re-enables the listener after accept() ran out of resources
  event* heartbeat_ = nullptr;      // records last_turn_ms_ every second
  std::atomic<int64_t> last_turn_ms_{0};
  std::atomic<bool> finished_{false};
  int64_t accept_error_logged_ = 0; // steady-clock seconds of the last such log line
  uint64_t accept_errors_ = 0;      // since then
  std::thread thread_;
  ResourceOpener open_resources_;
  std::vector<std::unique_ptr<WorkerResource>> resources_;  // the modules', on base_

  std::shared_ptr<const Snapshot> snapshot_;
  std::unordered_map<std::string, std::unique_ptr<UpstreamPool>> pools_;
  std::vector<std::unique_ptr<UpstreamPool>> retired_pools_;
  std::unordered_set<ClientConnection*> connections_;
  std::unordered_map<uint64_t, ProxyExchange*> watched_;
  std::vector<ClientConnection*> dead_;
  std::unordered_map<BackgroundExchange*, std::unique_ptr<BackgroundExchange>> background_;
  std::vector<std::unique_ptr<BackgroundExchange>> dead_background_;
  bool draining_ = false;
  uint64_t exchange_ids_ = 0;

  std::mutex mutex_;  // guards the three fields below
  std::shared_ptr<const Snapshot> pending_snapshot_;
  bool drain_requested_ = false;
  std::vector<std::function<void()>> posted_;
};

}  // namespace perfgate
