// The upstream side of the proxy: a pool of keep-alive connections to one backend, per worker.
// Two implementations share this contract:
//  - HttpUpstreamPool (http_upstream.h): plain-HTTP backends, a small HTTP/1.1 client on plain
//    events. It is the pass-through hot path, written by hand because libcurl's
//    per-transfer cost capped pass-through throughput (see README, "Benchmarks").
//  - CurlUpstreamPool (curl_upstream.h): https:// backends, libcurl's multi interface driven by
//    the worker's event_base.
#pragma once

#include <event2/event.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/http/header_block.h"
#include "gateway/http/response_parser.h"
#include "gateway/upstream/upstream_stats.h"

namespace perfgate {

class SendBatch;

// Why a transfer ended.
enum class UpstreamResult : uint8_t {
  Ok,
  ConnectFailed,  // refused, unreachable, DNS failure
  Timeout,        // connect timeout or no progress within response_timeout
  BadResponse,    // garbage status line, oversized or invalid headers, no response at all
  Truncated,      // connection lost after the response started
  SendFailed,     // request could not be sent (including a client body that broke off)
  Overrun,        // the response ended at its framing with more bytes behind it: the backend and
                  // the gateway disagree about where responses end, so it is not trusted either
  Internal,
};

// Sentinels for UpstreamObserver::onUpstreamReadBody: no body bytes available yet; the body
// is broken (bad framing from the client) and the transfer must stop.
inline constexpr size_t kBodyPause = static_cast<size_t>(-1);
inline constexpr size_t kBodyAbort = static_cast<size_t>(-2);

// What a transfer reports to its owner (a client exchange). Calls come from the worker's loop;
// none of them may destroy the transfer or the pool synchronously.
class UpstreamObserver {
 public:
  virtual ~UpstreamObserver() = default;
  // An interim (1xx) response before the final one (100 Continue, 102 Processing, 103 Early
  // Hints; never 101). Its fields belong to it alone.
  virtual void onUpstreamInterim(const ResponseHead& /*head*/) {}
  virtual void onUpstreamHeaders(ResponseHead& head) = 0;
  // Body bytes (transfer coding removed). Return false to pause: the same bytes will be offered
  // again after UpstreamTransfer::resumeReceive().
  virtual bool onUpstreamData(std::string_view data) = 0;
  // Fills `buffer` with request body bytes. Returns the count, 0 at the end of the body, or
  // kBodyPause when none are available yet (then call UpstreamTransfer::resumeSend()), or
  // kBodyAbort when the body cannot be completed.
  virtual size_t onUpstreamReadBody(char* buffer, size_t size) = 0;
  // The transfer is over; after this returns the transfer is gone.
  virtual void onUpstreamDone(UpstreamResult result, const char* detail) = 0;
};

// What to send to the backend.
struct UpstreamRequest {
  std::string method;
  std::string target;   // what goes on the request line: upstream base path + client target
  HeaderBlock headers;  // framing fields (length, coding) excluded
  bool has_body = false;
  int64_t body_length = -1;  // -1: unknown (sent chunked)
  bool head = false;
};

class UpstreamTransfer {
 public:
  virtual ~UpstreamTransfer() = default;
  virtual void resumeReceive() = 0;
  virtual void resumeSend() = 0;
};

class UpstreamPool {
 public:
  virtual ~UpstreamPool() = default;
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;
  // Applies reloaded settings (same scheme); transfers in flight keep theirs.
  virtual void configure(const UpstreamConfig& config, unsigned workers) = 0;
  virtual bool tls() const = 0;
  // Starts a transfer. Returns nullptr (and logs) when it cannot be started.
  virtual UpstreamTransfer* start(const UpstreamRequest& request, UpstreamObserver* observer) = 0;
  // Detaches the observer and aborts the transfer at a safe point (never inside a callback).
  virtual void cancel(UpstreamTransfer* transfer) = 0;
  // This worker's counters of the upstream (worker thread only).
  UpstreamCounters& counters() {
    if (counters_ == nullptr) counters_ = &upstreamCounters(name_);
    return *counters_;
  }

 protected:
  explicit UpstreamPool(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
  UpstreamCounters* counters_ = nullptr;  // looked up on the worker's thread, at first use
};

// The pool that fits `config.url`'s scheme; a plain-HTTP pool sends request heads through the
// worker's `sends`.
std::unique_ptr<UpstreamPool> makeUpstreamPool(event_base* base, SendBatch& sends, const UpstreamConfig& config,
                                               unsigned workers);

// Backend connections open (or opening) in the process, all workers and pools together. Pools
// change it only when a connection opens or closes, never per request; the admin API reads it.
std::atomic<int64_t>& backendConnections();

// This worker's share of a connection limit that counts across all workers.
unsigned perWorkerShare(unsigned total, unsigned workers);

}  // namespace perfgate
