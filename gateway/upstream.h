// The upstream side of the proxy: a pool of keep-alive connections to one backend, per worker.
// Two implementations share this contract:
//  - HttpUpstreamPool (http_upstream.h): plain-HTTP backends, a small HTTP/1.1 client over
//    bufferevents. It is the pass-through hot path, written by hand because libcurl's
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

#include "gateway/config.h"
#include "gateway/http/header_block.h"
#include "gateway/http/response_parser.h"

namespace perfgate {

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
  // Applies reloaded settings (same scheme); transfers in flight keep theirs.
  virtual void configure(const UpstreamConfig& config, unsigned workers) = 0;
  virtual bool tls() const = 0;
  // Starts a transfer. Returns nullptr (and logs) when it cannot be started.
  virtual UpstreamTransfer* start(UpstreamRequest request, UpstreamObserver* observer) = 0;
  // Detaches the observer and aborts the transfer at a safe point (never inside a callback).
  virtual void cancel(UpstreamTransfer* transfer) = 0;
};

// The pool that fits `config.url`'s scheme.
std::unique_ptr<UpstreamPool> makeUpstreamPool(event_base* base, const UpstreamConfig& config, unsigned workers);

// Why a pool closed a backend connection that was otherwise reusable, to keep every reused
// connection provably clean (an upstream desync must never reach another request).
enum class UpstreamClose : uint8_t {
  Overrun,         // bytes after the end of a response (already read, or waiting in the socket)
  BodilessLength,  // a HEAD/204/304 response that declared a body length or a transfer coding
  Unsolicited,     // bytes arriving on an idle connection
  kCount
};
const char* upstreamCloseName(UpstreamClose reason);

struct UpstreamCloseCounters {
  std::atomic<uint64_t> closed[static_cast<size_t>(UpstreamClose::kCount)]{};
};
// The process-wide counters of the upstream named `name`, created on first use; the reference
// stays valid for the life of the process. Pools look theirs up once, not per request.
UpstreamCloseCounters& upstreamCloseCounters(const std::string& name);

// Backend connections open (or opening) in the process, all workers and pools together. Pools
// change it only when a connection opens or closes, never per request; the admin API reads it.
std::atomic<int64_t>& backendConnections();

// This worker's share of a connection limit that counts across all workers.
unsigned perWorkerShare(unsigned total, unsigned workers);

}  // namespace perfgate
