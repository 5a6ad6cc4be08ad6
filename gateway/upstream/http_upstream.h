// Upstream pool for plain-HTTP backends: a small HTTP/1.1 client on plain events, one pool per
// (worker, upstream). Connections are kept alive and reused; at most max_connections (this
// worker's share) are open, further requests queue. Bodies stream both ways with backpressure:
// the response is read only while the client keeps up, the request body is sent only as the
// client provides it.
//
// The sockets are driven as the client side's are (ClientConnection): one recv per readable
// event through SocketInput, into the worker's buffer when the connection holds nothing from
// before; the response head is parsed there and body bytes are handed to the exchange from there,
// so only what the exchange could not take yet (or a partial head) is kept by the connection. Request bytes (the
// head, then the body as the client provides it) are sent with the worker's other sends of the
// loop turn (SendBatch); the write event is armed only while the socket does not take them all.
#pragma once

#include <event2/event.h>

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http/chunked_decoder.h"
#include "gateway/send_batch.h"
#include "gateway/socket_input.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {

class HttpUpstreamPool;
struct HttpConnection;

class HttpTransfer final : public UpstreamTransfer, private BodySink {
 public:
  void resumeReceive() override;
  void resumeSend() override;

 private:
  friend class HttpUpstreamPool;
  friend struct HttpConnection;
  enum class Framing : uint8_t { None, Length, Chunked, UntilClose };

  explicit HttpTransfer(HttpUpstreamPool* pool);
  ~HttpTransfer() override;
  void onBodyData(std::string_view data) override;
  static void onTimeout(evutil_socket_t, short, void* self) noexcept;
  void armTimer(Millis timeout);

  HttpUpstreamPool* pool_;
  UpstreamObserver* observer_ = nullptr;
  HttpConnection* connection_ = nullptr;
  event* timer_;
  std::string request_head_;  // serialized request line and fields
  bool has_body_ = false;
  bool chunked_body_ = false;  // request body sent with chunked framing
  bool idempotent_ = false;
  bool head_request_ = false;
  bool body_sent_ = false;     // request completely written
  bool body_started_ = false;  // some request body bytes were taken from the observer
  bool send_paused_ = false;
  bool receive_paused_ = false;
  bool cancelled_ = false;
  bool retried_ = false;
  bool response_started_ = false;  // a byte of the response arrived
  size_t head_scan_ = 0;
  ResponseHead head_;
  Framing framing_ = Framing::None;
  uint64_t remaining_ = 0;  // Framing::Length
  std::optional<ChunkedDecoder> chunked_;
  std::string pending_;  // chunked: body decoded and not yet taken by the observer
  bool body_complete_ = false;
  bool reusable_ = false;  // the connection may carry another request afterwards
};

// One connection to the backend; carries at most one transfer at a time.
struct HttpConnection final : BatchedSender {
  // BatchedSender: what is left to send of the request (head, then body).
  int sendFd() const override { return fd; }
  size_t gatherSend(iovec* iov, size_t max) override;
  void sent(long result) override;

  // Request bytes not sent yet: the rest of the transfer's head, and `out`.
  size_t unsent() const;

  HttpUpstreamPool* pool = nullptr;
  evutil_socket_t fd = -1;
  event* read_event = nullptr;    // EV_READ, persistent, while reading
  event* write_event = nullptr;   // EV_WRITE: the connect, then while the socket refuses request bytes
  bool reading = false;
  bool write_armed = false;
  int connect_error = 0;          // a connect that failed at once, reported from the write event
  bool drained = false;           // the latest recv found the socket empty (it took less than it asked)
  SocketInput input;              // response bytes read and not yet taken
  size_t head_sent = 0;           // of the transfer's request head
  std::string out;                // request body bytes not sent yet (from out_pos)
  size_t out_pos = 0;
  HttpTransfer* transfer = nullptr;
  bool connected = false;
  unsigned generation = 0;  // the pool's address generation when it connected
  bool reused = false;  // has carried a request before
  bool eof = false;     // the backend closed its side
  bool dead = false;
};

class HttpUpstreamPool final : public UpstreamPool {
 public:
  HttpUpstreamPool(event_base* base, SendBatch& sends, const UpstreamConfig& config, unsigned workers);
  ~HttpUpstreamPool() override;

  void configure(const UpstreamConfig& config, unsigned workers) override;
  bool tls() const override { return false; }
  UpstreamTransfer* start(const UpstreamRequest& request, UpstreamObserver* observer) override;
  void cancel(UpstreamTransfer* transfer) override;

 private:
  friend class HttpTransfer;
  friend struct HttpConnection;
  static void onReadable(evutil_socket_t, short, void* connection) noexcept;
  static void onWritable(evutil_socket_t, short, void* connection) noexcept;
  static void onReap(evutil_socket_t, short, void* self) noexcept;

  void dispatch(HttpTransfer* transfer);  // onto an idle or new connection, or into the queue
  HttpConnection* takeIdle();              // an idle connection proven clean, or null
  void countClose(UpstreamClose reason);
  HttpConnection* connect();
  void attach(HttpTransfer* transfer, HttpConnection* connection);
  void connected(HttpConnection* connection);
  void sendRequest(HttpConnection* connection);
  // What the socket took of the request bytes sent through the batch (SendBatch's result).
  void requestSent(HttpConnection* connection, long result);
  // Takes request body from the client into the connection's output, up to its high-water mark.
  void pumpRequestBody(HttpConnection* connection);
  void readResponse(HttpConnection* connection);
  bool parseHead(HttpConnection* connection, bool& failed);
  // Moves the response body to the observer (decoded, under backpressure), and ends the
  // transfer at the end of the response.
  void deliver(HttpConnection* connection);
  // Offers body bytes to the observer; false when it paused reading or the exchange ended.
  bool offer(HttpConnection* connection, std::string_view data);
  void onConnectionLost(HttpConnection* connection, bool error);
  // The connection's read event on or off (reading pauses under backpressure).
  static void startReading(HttpConnection* connection);
  static void stopReading(HttpConnection* connection);
  // What waits in a backend socket that our buffer has not taken yet: one non-blocking peek.
  enum class SocketRest : uint8_t { Nothing, Bytes, Closed };
  static SocketRest peekSocket(evutil_socket_t fd);
  void finish(HttpTransfer* transfer, UpstreamResult result, const char* detail);
  void release(HttpConnection* connection);
  // Open, idle and queued, into this worker's counters of the upstream (the gauges /metrics sums).
  void publishGauges();  // back to idle (queued transfers take it from there)
  void closeConnection(HttpConnection* connection);
  void recycle(HttpTransfer* transfer);

  event_base* base_;
  SendBatch& sends_;
  UpstreamConfig config_;
  unsigned max_connections_ = 1;
  unsigned max_idle_ = 1;
  unsigned open_ = 0;  // connections open or opening
  unsigned generation_ = 0;  // bumped when a reload changes the backend's address
  event* reap_event_;
  std::vector<HttpConnection*> idle_;
  std::deque<HttpTransfer*> queue_;  // waiting for a connection
  std::vector<HttpTransfer*> free_transfers_;
  std::vector<HttpTransfer*> reap_transfers_;
  std::vector<HttpConnection*> reap_connections_;
  std::vector<HttpTransfer*> all_transfers_;
};

}  // namespace perfgate
