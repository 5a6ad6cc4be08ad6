// One client connection: HTTP/1.1 over a bufferevent, one request at a time (pipelined requests
// wait in the input buffer and are answered in order), each forwarded through the worker's
// upstream pool with the body streamed both ways under backpressure.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "gateway/forwarding.h"
#include "gateway/http_parser.h"
#include "gateway/snapshot.h"
#include "gateway/upstream.h"

namespace perfgate {

class Worker;

// A response made by the gateway itself: JSON body {"error": ..., "status": N}. `extra_fields`
// ("Name: value\r\n" lines) go into the head, e.g. Allow for a 405.
std::string gatewayErrorResponse(int status, std::string_view message, bool close, bool http10_keep_alive,
                                 bool with_body, std::string_view extra_fields = {});

class ClientConnection final : public UpstreamObserver, public Exchange, private BodySink {
 public:
  ClientConnection(Worker* worker, bufferevent* bev, std::string client_ip);
  ~ClientConnection() override;
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  void start();
  // Graceful shutdown: idle connections close now, busy ones after their current response.
  void drain();
  // Immediate close; the object is freed later by the worker, at a safe point.
  void close();
  bool closed() const { return closed_; }

  // Exchange (what filters see)
  const RequestHead& request() const override { return request_; }
  const RouteConfig& route() const override { return *route_; }
  std::unique_ptr<FilterState>& state(size_t index) override { return filter_states_[index]; }
  void respond(int status, std::string_view head, std::string_view body,
               const std::shared_ptr<const void>& owner) override;
  void resume() override;
  std::function<void()> waker() override;
  bool fetchInBackground(UpstreamRequest request, UpstreamObserver* observer) override;
  UpstreamRequest upstreamRequest() const override;
  void transformBody(size_t index, BodyTransform& transform) override;
  ExchangeFacts facts() const override;

 private:
  enum class Timer : uint8_t { None, Idle, Header, Body, Linger, Suspended };

  // libevent callbacks (noexcept trampolines).
  static void onReadable(bufferevent*, void* self) noexcept;
  static void onWritable(bufferevent*, void* self) noexcept;
  static void onEvent(bufferevent*, short events, void* self) noexcept;
  static void onTimer(evutil_socket_t, short, void* self) noexcept;
  static void onResume(evutil_socket_t, short, void* self) noexcept;

  // UpstreamObserver
  void onUpstreamHeaders(UpstreamResponseHead& head) override;
  bool onUpstreamData(std::string_view data) override;
  size_t onUpstreamReadBody(char* buffer, size_t size) override;
  void onUpstreamDone(UpstreamResult result, const char* detail) override;
  // BodySink (chunked request bodies)
  void onBodyData(std::string_view data) override;

  void processInput();
  bool parseHead();  // false: nothing more to do now
  void beginRequest();
  void dispatch();  // filters, then the upstream
  bool pumpBody();  // moves request body from the input to body_; false on a framing error
  void finishRequest();
  void sendLocal(int status, std::string_view message, bool close_after, std::string_view extra_fields = {});
  // Response body through filters that transform or hold it (not the plain pass-through path).
  void writeResponseHead(const UpstreamResponseHead& head);
  void pushBody(std::string_view data, bool end);
  bool releaseHead(std::string_view body, bool complete);  // false: the exchange is over
  void writeBody(std::string_view data);
  void closeAfterFlush();
  // Writes `parts` straight to the socket, without blocking; returns the bytes it took.
  size_t sendNow(std::span<const std::string_view> parts);
  void linger();
  void armTimer(Timer kind, Millis timeout);
  void resetRequestState();

  Worker* worker_;
  bufferevent* bev_;
  std::string client_ip_;
  event* timer_ = nullptr;
  event* resume_event_ = nullptr;  // processes pipelined input on the next loop turn
  Timer timer_kind_ = Timer::None;
  std::chrono::steady_clock::time_point deadline_;  // of timer_kind_
  std::chrono::steady_clock::time_point timer_at_ = std::chrono::steady_clock::time_point::max();  // event due

  std::shared_ptr<const Snapshot> snapshot_;  // of the request in flight
  RequestParser parser_;
  RequestHead request_;
  const RouteConfig* route_ = nullptr;
  bool in_request_ = false;
  uint64_t exchange_id_ = 0;  // unique on this worker: tells a waker its exchange is still the one
  std::vector<std::unique_ptr<FilterState>> filter_states_;
  bool suspended_ = false;       // a filter holds the request back (Exchange::resume())
  bool resume_dispatch_ = false;  // the resume event re-runs dispatch() rather than input
  bool processing_ = false;  // inside processInput(); finishRequest() must not recurse

  // Request body (decoded) on its way upstream.
  evbuffer* body_ = nullptr;
  uint64_t body_remaining_ = 0;  // Content-Length framing
  std::optional<ChunkedDecoder> chunked_;
  uint64_t body_bytes_ = 0;
  bool body_done_ = true;
  bool body_error_ = false;
  bool body_waiting_ = false;  // the transfer paused its upload for want of data
  ParseError body_parse_error_;

  // Response.
  UpstreamPool* pool_ = nullptr;
  UpstreamTransfer* transfer_ = nullptr;
  BodyFramingOut framing_ = BodyFramingOut::None;
  std::string head_scratch_;
  ExtraHeaders extra_;  // header lines filters add to the response
  // Filters rewriting the body, by chain index (empty when none does: the plain path), and
  // each one's latest output.
  std::vector<BodyTransform*> transforms_;
  std::vector<std::string> transformed_;
  // A head a filter holds back until it has seen the body (FilterAction::Hold).
  static constexpr size_t kNotHeld = static_cast<size_t>(-1);
  size_t held_by_ = kNotHeld;
  std::optional<UpstreamResponseHead> held_head_;
  std::string held_body_;
  int status_ = 0;
  uint64_t bytes_out_ = 0;
  bool response_started_ = false;
  bool response_complete_ = false;  // the whole response reached the output buffer
  bool keep_alive_ = true;
  bool receive_paused_ = false;

  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point upstream_started_;
  std::chrono::steady_clock::time_point upstream_headers_;
  std::chrono::steady_clock::time_point finished_;
  GatewayError gateway_error_ = GatewayError::None;

  bool draining_ = false;
  bool peer_eof_ = false;  // the client half-closed its side
  bool closing_ = false;  // closes once the output is flushed
  bool lingering_ = false;  // output flushed and shut down; discarding input until EOF
  bool error_reply_ = false;  // closing after an error reply
  bool closed_ = false;
};

}  // namespace perfgate
