// One request and its response: routing, the filter chain, the upstream transfer, the request
// body on its way up and the response body on its way down (through the filters' transforms),
// and the figures filters read. One object per request, apart from the connection that carries
// it (Downstream): an HTTP/1.1 connection carries one at a time, an HTTP/2 one would carry many.
//
// Lifetime: begin() starts it; it ends exactly once (finish()), which runs the filters'
// onComplete and tells the connection, always from the exchange's own driving code after the
// filter hook that decided it has returned, so no hook ever sees its state destroyed under it.
// The connection frees (or recycles, reset()) the object later, at a safe point.
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "filters/filter.h"
#include "gateway/exchange/downstream.h"
#include "gateway/snapshot.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {

class ProxyExchange final : public Exchange, public UpstreamObserver {
 public:
  ProxyExchange(Downstream& downstream, event_base* base);
  ~ProxyExchange() override;
  ProxyExchange(const ProxyExchange&) = delete;
  ProxyExchange& operator=(const ProxyExchange&) = delete;

  // The request head, filled by the connection's parser before begin().
  RequestHead& head() { return request_; }

  // Routes the request and runs it (filters, then the upstream). `id` is unique on the worker:
  // a waker from another thread checks it before resuming.
  void begin(std::shared_ptr<const Snapshot> snapshot, uint64_t id, std::chrono::steady_clock::time_point started);
  // Back to the state of a new object, ready for the next request.
  void reset();

  bool ended() const { return ended_; }
  // Begun and not yet ended.
  bool inProgress() const { return id_ != 0 && !ended_; }
  bool responseStarted() const { return response_started_; }
  uint64_t id() const { return id_; }

  // Request body from the wire (decoded): the connection pushes it as it arrives.
  void acceptBody(std::string_view data);
  void bodyComplete() { body_done_ = true; }
  void bodyFailed(const ParseError& error);
  bool bodyDone() const { return body_done_; }
  bool bodyBufferFull() const;
  // The connection read more of the body: a transfer waiting for it goes on.
  void bodyProgress();

  // The client's output drained below its mark: the backend is read again.
  void onWritable();
  // The gateway answers with an error of its own (the connection timed the client out, say).
  void fail(int status, std::string_view message, bool close_after, GatewayError kind = GatewayError::None);
  // The client went away (or the connection is being torn down): the exchange ends incomplete.
  void abort();

  // Exchange (what filters see)
  const RequestHead& request() const override { return request_; }
  const RouteConfig& route() const override { return *route_; }
  std::unique_ptr<FilterState>& state(size_t index) override { return filter_states_[index]; }
  void respond(const ResponseHead& head, std::string_view body, std::shared_ptr<const void> owner,
               std::string_view prefix) override;
  void resume() override;
  std::function<void()> waker() override;
  bool refreshInBackground() override;
  const RouteConfig* routeFor(std::string_view path, std::string& normalized) const override;
  void transformBody(size_t index, BodyTransform& transform) override;
  ExchangeFacts facts() const override;
  ExchangeNotes& notes() override { return notes_; }

 private:
  // UpstreamObserver
  void onUpstreamInterim(const ResponseHead& head) override;
  void onUpstreamHeaders(ResponseHead& head) override;
  bool onUpstreamData(std::string_view data) override;
  size_t onUpstreamReadBody(char* buffer, size_t size) override;
  void onUpstreamDone(UpstreamResult result, const char* detail) override;
  static void onResumeEvent(evutil_socket_t, short, void* self) noexcept;
  static void onSuspendTimeout(evutil_socket_t, short, void* self) noexcept;

  void dispatch();  // filters, then the upstream
  void writeHead(ResponseHead& head);  // the request id is added here, after the filters
  void pushBody(std::string_view data, bool end);  // through filters that transform or hold it
  bool releaseHead(std::string_view body, bool complete);  // false: the exchange is over
  void finish();
  void recordUpstream();  // the core's per-upstream counters (upstream_stats.h)
  void sendError(int status, std::string_view message, bool close_after, std::string_view extra_fields = {});

  Downstream& downstream_;
  event* resume_event_;   // dispatch() again on the next loop turn (Exchange::resume)
  event* suspend_timer_;  // bounds a suspension

  std::shared_ptr<const Snapshot> snapshot_;
  RequestHead request_;
  const RouteConfig* route_ = nullptr;
  uint64_t id_ = 0;
  std::string request_id_;  // the client's acceptable id, or one made for it (ServerConfig::request_id_header)
  UpstreamRequest forwarded_;  // what goes to the backend; its buffers serve the connection's next requests
  std::vector<std::unique_ptr<FilterState>> filter_states_;
  bool suspended_ = false;
  bool ended_ = false;
  bool answered_ = false;  // a response went out whole (respond(), or a local error)
  bool refused_ = false;   // a local error that closes the connection (the client may still be sending)
  bool watched_ = false;   // registered with the worker for its wakers (from its first Suspend)
  ExchangeNotes notes_;

  // Request body (decoded) on its way upstream.
  evbuffer* body_;
  uint64_t body_bytes_ = 0;
  bool body_done_ = true;
  bool body_waiting_ = false;  // the transfer paused its upload for want of data
  std::optional<ParseError> body_error_;

  // Response.
  UpstreamPool* pool_ = nullptr;
  UpstreamTransfer* transfer_ = nullptr;
  bool body_out_ = false;  // the head that went out is followed by a body (not HEAD/204/304)
  // Filters rewriting the body, by chain index (empty when none does: the plain path), and
  // each one's latest output.
  std::vector<BodyTransform*> transforms_;
  std::vector<std::string> transformed_;
  // A head a filter holds back until it has seen the body (FilterAction::Hold).
  static constexpr size_t kNotHeld = static_cast<size_t>(-1);
  size_t held_by_ = kNotHeld;
  std::optional<ResponseHead> held_head_;
  std::string held_body_;
  int status_ = 0;
  uint64_t bytes_out_ = 0;
  bool response_started_ = false;
  unsigned interim_sent_ = 0;  // interim responses passed on to the client
  bool response_complete_ = false;  // the whole response reached the connection
  bool keep_alive_ = true;
  bool receive_paused_ = false;

  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point upstream_started_;
  std::chrono::steady_clock::time_point upstream_headers_;
  std::chrono::steady_clock::time_point finished_;
  GatewayError gateway_error_ = GatewayError::None;
};

}  // namespace perfgate
