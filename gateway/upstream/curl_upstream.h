// Upstream pool for https:// backends: one libcurl multi handle per (worker, upstream), driven
// by the worker's event_base (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION, as in curl's
// hiperfifo example). Keep-alive connections are reused across requests; easy handles are
// recycled. Bodies stream both ways with pause/resume for backpressure.
#pragma once

#include <curl/curl.h>
#include <event2/event.h>

#include <unordered_set>
#include <vector>

#include "gateway/upstream/upstream.h"

namespace perfgate {

class CurlUpstreamPool;

class CurlTransfer final : public UpstreamTransfer {
 public:
  void resumeReceive() override;
  void resumeSend() override;

 private:
  friend class CurlUpstreamPool;
  CurlTransfer(CurlUpstreamPool* pool, CURL* easy);
  ~CurlTransfer() override;

  static size_t onHeaderLine(char* data, size_t size, size_t count, void* self) noexcept;
  static size_t onBodyData(char* data, size_t size, size_t count, void* self) noexcept;
  static size_t onReadBody(char* data, size_t size, size_t count, void* self) noexcept;
  static void onProgressTimeout(evutil_socket_t, short, void* self) noexcept;
  void armProgressTimer();
  void applyPause();

  CurlUpstreamPool* pool_;
  CURL* easy_;
  curl_slist* header_list_ = nullptr;
  event* progress_timer_ = nullptr;
  UpstreamObserver* observer_ = nullptr;
  ResponseHead head_;
  std::string head_text_;  // the head's lines so far, CRLF-terminated
  std::string url_;
  size_t header_bytes_ = 0;
  bool head_done_ = false;
  bool in_multi_ = false;
  bool cancelled_ = false;
  bool recv_paused_ = false;
  bool send_paused_ = false;
  bool bad_head_ = false;
};

class CurlUpstreamPool final : public UpstreamPool {
 public:
  CurlUpstreamPool(event_base* base, const UpstreamConfig& config, unsigned workers);
  ~CurlUpstreamPool() override;
  CurlUpstreamPool(const CurlUpstreamPool&) = delete;
  CurlUpstreamPool& operator=(const CurlUpstreamPool&) = delete;

  void configure(const UpstreamConfig& config, unsigned workers) override;
  bool tls() const override { return true; }
  UpstreamTransfer* start(const UpstreamRequest& request, UpstreamObserver* observer) override;
  void cancel(UpstreamTransfer* transfer) override;

 private:
  friend class CurlTransfer;
  static int onSocket(CURL* easy, curl_socket_t fd, int what, void* self, void* socket_event) noexcept;
  static int onTimer(CURLM* multi, long timeout_ms, void* self) noexcept;
  static void onSocketEvent(evutil_socket_t fd, short events, void* self) noexcept;
  static void onTimerEvent(evutil_socket_t, short, void* self) noexcept;
  static void onReap(evutil_socket_t, short, void* self) noexcept;
  void drive(curl_socket_t fd, int action);
  void collectFinished();
  void finish(CurlTransfer* transfer, UpstreamResult result, const char* detail);
  void recycle(CurlTransfer* transfer);
  void setConstantOptions(CurlTransfer* transfer);
  void timeOut(CurlTransfer* transfer);

  event_base* base_;
  UpstreamConfig config_;
  CURLM* multi_;
  event* timer_;
  event* reap_event_;
  std::vector<CurlTransfer*> owned_;      // every transfer this pool created
  std::vector<CurlTransfer*> idle_;       // recycled transfers (easy handles kept)
  std::vector<CurlTransfer*> cancelled_;  // waiting for onReap
  std::unordered_set<event*> socket_events_;
};

}  // namespace perfgate
