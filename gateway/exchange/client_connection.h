// One client connection speaking HTTP/1.1: it parses request heads, decodes request bodies,
// frames responses, and owns the timers of the client's side (head, body, idle, send, linger).
// Each request is a ProxyExchange, one at a time: pipelined requests wait in the input buffer and
// are answered in order.
//
// The socket is driven with plain events, one system call per direction per request where the
// kernel allows. Input: one recv per readable event (no FIONREAD first), through SocketInput: with
// nothing left over from before, it reads into the worker's buffer and the request is parsed there,
// in place; only bytes left over (a partial head, pipelined requests, body the exchange cannot take
// yet) are kept by the connection, so an idle keep-alive connection holds no input memory and a
// request read whole costs no allocation. Reading pauses while the connection holds a head's limit
// plus the body read-ahead. Output has a queue of its own: a whole response (a cache hit) goes to
// the socket at once in one sendmsg from where it is stored, when nothing is queued before it; a
// streamed one (pass-through) is queued as the exchange produces it and sent, head and body
// together, with the worker's other sends of the loop turn (SendBatch: one io_uring call for the
// turn). The write event is armed only while the socket does not take everything (the send timeout
// with it), and then writes the queue itself; a response the socket takes at once costs no
// epoll_ctl.
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>

#include <string_view>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "gateway/exchange/downstream.h"
#include "gateway/exchange/exchange.h"
#include "gateway/exchange/forwarding.h"
#include "gateway/http/chunked_decoder.h"
#include "gateway/http/request_parser.h"
#include "gateway/send_batch.h"
#include "gateway/socket_input.h"

namespace perfgate {

class Worker;

class ClientConnection final : public Downstream, private BodySink, private BatchedSender {
 public:
  // Takes `fd` (a connected, non-blocking socket) and closes it when freed.
  ClientConnection(Worker* worker, evutil_socket_t fd, std::string client_ip);
  ~ClientConnection() override;
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  void start();
  // Graceful shutdown: idle connections close now, busy ones after their current response.
  void drain();
  // Immediate close; the object is freed later by the worker, at a safe point.
  void close();
  bool closed() const { return closed_; }

  // Downstream
  Worker& worker() const override { return *worker_; }
  std::string_view clientAddress() const override { return client_ip_; }
  bool draining() const override { return draining_; }
  bool sendHead(const ResponseHead& head, const RequestHead& request, bool& keep_alive) override;
  void sendBody(std::string_view data) override;
  void endBody() override;
  size_t sendWhole(const ResponseHead& head, std::string_view prefix, std::string_view body,
                   const std::shared_ptr<const void>& owner, const RequestHead& request, bool keep_alive) override;
  void sendContinue() override;
  void sendInterim(const ResponseHead& head) override;
  bool outputFull() const override;
  bool pumpBody() override;
  void exchangeDone(ProxyExchange& exchange, bool keep_alive, bool refused) override;

 private:
  enum class Timer : uint8_t { None, Idle, Header, Body, Linger };

  // libevent callbacks (noexcept trampolines).
  static void onSocketReadable(evutil_socket_t, short, void* self) noexcept;
  static void onSocketWritable(evutil_socket_t, short what, void* self) noexcept;
  static void onTimer(evutil_socket_t, short, void* self) noexcept;
  static void onResume(evutil_socket_t, short, void* self) noexcept;

  // BodySink (chunked request bodies, decoded into the exchange)
  void onBodyData(std::string_view data) override { exchange_->acceptBody(data); }

  // BatchedSender: what out_ holds.
  int sendFd() const override { return fd_; }
  size_t gatherSend(iovec* iov, size_t max) override;
  void sent(long result) override;

  bool inExchange() const { return exchange_ != nullptr && exchange_->inProgress(); }
  void processInput();
  bool parseHead();  // false: nothing more to do now
  void beginExchange();
  // A refusal before any exchange began (malformed head, head timeout): counted, then closed.
  void refuse(int status, std::string_view message);
  void closeAfterFlush();
  // One recv, then the requests it completes (see the class comment).
  void readAndProcess();
  // Input held before reading pauses: a head's limit plus the body read-ahead.
  size_t inputLimit() const;
  // The client sent all it will send (RFC 9112 §9.6 half-close).
  void onPeerEof();
  // Reading resumes once input_ is below its limit again (after the exchange took input).
  void resumeReading();
  // Bytes were added to out_: they are sent with this loop turn's sends (or when the socket
  // takes more, if it is full).
  void queued();
  // Writes out_ until the socket would block (the write event's work), then afterWrite().
  void writeOut();
  // Arms or disarms the write event to match what out_ still holds, then does what a drained
  // queue allows (the exchange reads on, a closing connection lingers).
  void afterWrite();
  // Writes `parts` straight to the socket, without blocking; returns the bytes it took.
  size_t sendNow(std::span<const std::string_view> parts);
  // Writes the response sendWhole() set aside (head_scratch_ and whole_), if any.
  void flushWhole();
  void linger();
  void armTimer(Timer kind, Millis timeout);

  Worker* worker_;
  evutil_socket_t fd_;
  std::string client_ip_;
  SocketInput input_;                // request bytes read and not yet taken
  event* read_event_ = nullptr;      // EV_READ, persistent, while reading
  bool reading_ = false;
  evbuffer* out_ = nullptr;          // response bytes the socket has not taken yet
  event* write_event_ = nullptr;     // EV_WRITE while out_ holds bytes the socket refused
  bool write_armed_ = false;
  event* timer_ = nullptr;
  event* resume_event_ = nullptr;  // processes pipelined input on the next loop turn
  Timer timer_kind_ = Timer::None;
  std::chrono::steady_clock::time_point deadline_;  // of timer_kind_
  std::chrono::steady_clock::time_point timer_at_ = std::chrono::steady_clock::time_point::max();  // event due

  RequestParser parser_;
  const void* parser_snapshot_;  // the config the parser's limits came from
  // The current (or last) exchange; an ended one is reset and reused for the next request, at a
  // safe point (parsing the next head), never inside its own calls.
  std::unique_ptr<ProxyExchange> exchange_;
  bool processing_ = false;  // inside processInput(); exchangeDone() must not recurse

  // Request body framing on the wire.
  uint64_t body_remaining_ = 0;  // Content-Length framing
  std::optional<ChunkedDecoder> chunked_;

  // Response framing toward the client.
  BodyFramingOut framing_ = BodyFramingOut::None;
  std::string head_scratch_;
  // A whole response (sendWhole) waiting for its exchange to be done; its head is head_scratch_.
  struct WholeResponse {
    std::string_view prefix;
    std::string_view body;
    std::shared_ptr<const void> owner;  // keeps prefix and body alive; else they point into copy
    std::string copy;
  };
  std::optional<WholeResponse> whole_;

  bool draining_ = false;
  bool peer_eof_ = false;     // the client half-closed its side
  bool closing_ = false;      // closes once the output is flushed
  bool lingering_ = false;    // output flushed and shut down; discarding input until EOF
  bool error_reply_ = false;  // closing after an error reply
  bool closed_ = false;
};

}  // namespace perfgate
