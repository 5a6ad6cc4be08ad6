// Upstream connection pool: one libcurl multi handle per (worker, upstream), driven by the
// worker's event_base (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION, as in curl's
// hiperfifo example). Keep-alive connections are reused across requests; easy handles are
// recycled. Bodies stream both ways with pause/resume for backpressure.
#pragma once

#include <curl/curl.h>
#include <event2/event.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "gateway/config.h"
#include "gateway/http_parser.h"

namespace perfgate {

// Why a transfer ended.
enum class UpstreamResult : uint8_t {
  Ok,
  ConnectFailed,    // refused, unreachable, DNS failure
  Timeout,          // connect timeout or no progress within response_timeout
  BadResponse,      // garbage status line, oversized or invalid headers, no response at all
  Truncated,        // connection lost after the response started
  SendFailed,       // request could not be sent (including a client body that broke off)
  Internal,
};

// A backend response head, as received (1xx interim responses are skipped).
struct UpstreamResponseHead {
  int status = 0;
  std::string_view reason;
  std::vector<HeaderField> headers;  // in received order, hop-by-hop ones included
  std::string raw;                   // owns what the views point into
};

// What a transfer reports to its owner (a client exchange). Calls come from the worker's loop;
// none of them may destroy the transfer or the pool synchronously.
class UpstreamObserver {
 public:
  virtual ~UpstreamObserver() = default;
  virtual void onUpstreamHeaders(UpstreamResponseHead& head) = 0;
  // Body bytes (transfer coding removed). Return false to pause: the same bytes will be offered
  // again after Transfer::resumeReceive().
  virtual bool onUpstreamData(std::string_view data) = 0;
  // Fills `buffer` with request body bytes. Returns the count, 0 at the end of the body, or
  // CURL_READFUNC_PAUSE when none are available yet (then call Transfer::resumeSend()).
  virtual size_t onUpstreamReadBody(char* buffer, size_t size) = 0;
  // The transfer is over; after this returns the transfer is gone.
  virtual void onUpstreamDone(UpstreamResult result, const char* detail) = 0;
};

class UpstreamPool;

// What to send to the backend.
struct UpstreamRequest {
  std::string method;
  std::string url;                   // absolute URL: upstream base + request target
  std::vector<std::string> headers;  // "Name: value" lines, already filtered
  bool has_body = false;
  int64_t body_length = -1;  // -1: unknown (sent chunked)
  bool head = false;
};

class Transfer {
 public:
  void resumeReceive();
  void resumeSend();

 private:
  friend class UpstreamPool;
  Transfer(UpstreamPool* pool, CURL* easy);
  ~Transfer();

  static size_t onHeaderLine(char* data, size_t size, size_t count, void* self) noexcept;
  static size_t onBodyData(char* data, size_t size, size_t count, void* self) noexcept;
  static size_t onReadBody(char* data, size_t size, size_t count, void* self) noexcept;
  static void onProgressTimeout(evutil_socket_t, short, void* self) noexcept;
  void armProgressTimer();
  void applyPause();

  UpstreamPool* pool_;
  CURL* easy_;
  curl_slist* header_list_ = nullptr;
  event* progress_timer_ = nullptr;
  UpstreamObserver* observer_ = nullptr;
  UpstreamResponseHead head_;
  size_t header_bytes_ = 0;
  bool head_done_ = false;
  bool in_multi_ = false;
  bool cancelled_ = false;
  bool recv_paused_ = false;
  bool send_paused_ = false;
  bool timed_out_ = false;
  bool bad_head_ = false;
};

class UpstreamPool {
 public:
  UpstreamPool(event_base* base, const UpstreamConfig& config, unsigned workers);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Applies reloaded settings; transfers in flight keep theirs.
  void configure(const UpstreamConfig& config, unsigned workers);
  const UpstreamConfig& config() const { return config_; }

  // Starts a transfer. Returns nullptr (and logs) when curl refuses it.
  Transfer* start(UpstreamRequest request, UpstreamObserver* observer);

  // Detaches the observer and aborts the transfer at a safe point (never inside a curl callback).
  void cancel(Transfer* transfer);

  size_t activeTransfers() const { return active_; }

 private:
  friend class Transfer;
  static int onSocket(CURL* easy, curl_socket_t fd, int what, void* self, void* socket_event) noexcept;
  static int onTimer(CURLM* multi, long timeout_ms, void* self) noexcept;
  static void onSocketEvent(evutil_socket_t fd, short events, void* self) noexcept;
  static void onTimerEvent(evutil_socket_t, short, void* self) noexcept;
  static void onReap(evutil_socket_t, short, void* self) noexcept;
  void drive(curl_socket_t fd, int action);
  void collectFinished();
  void finish(Transfer* transfer, UpstreamResult result, const char* detail);
  void recycle(Transfer* transfer);
  void setConstantOptions(Transfer* transfer);
  void timeOut(Transfer* transfer);

  event_base* base_;
  UpstreamConfig config_;
  CURLM* multi_;
  event* timer_;
  event* reap_event_;
  std::vector<Transfer*> owned_;      // every transfer this pool created
  std::vector<Transfer*> idle_;       // recycled transfers (easy handles kept)
  std::vector<Transfer*> cancelled_;  // waiting for onReap
  std::unordered_set<event*> socket_events_;
  size_t active_ = 0;
};

}  // namespace perfgate
