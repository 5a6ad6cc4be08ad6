// One client connection of the sample backend: reads pipelined HTTP/1.1 requests, answers them
// in order, delays /api/* and /delay/* answers with a timer, and streams large bodies under
// write backpressure.
#pragma once

#include <event2/util.h>

#include <cstdint>

#include "request_parser.h"
#include "routes.h"

struct bufferevent;
struct evbuffer;
struct event;

namespace sample_backend {

class Worker;

class Connection {
 public:
  // Takes ownership of `fd`. Returns nullptr (fd closed) when libevent cannot set it up.
  static Connection* create(Worker& worker, evutil_socket_t fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

 private:
  enum class State {
    kHead,       // waiting for / parsing a request head
    kBody,       // consuming a request body
    kWaiting,    // response held back by a timer (--latency, /delay)
    kStreaming,  // writing a large body as the socket drains
    kClosing,    // last response queued; close once written
    kClosed,     // bufferevent freed; the worker deletes the object soon
  };
  enum class ChunkState { kSize, kData, kDataEnd, kTrailer };

  Connection(Worker& worker, bufferevent* bev);

  static void onRead(bufferevent* bev, void* arg) noexcept;
  static void onWrite(bufferevent* bev, void* arg) noexcept;
  static void onEvent(bufferevent* bev, short what, void* arg) noexcept;
  static void onTimer(evutil_socket_t fd, short what, void* arg) noexcept;

  // Parses and answers every complete request in the input, in order, until one has to wait.
  void processInput();
  // Parses one request head; true when a request began (the head is consumed).
  bool readHead(evbuffer* in);
  void beginRequest();
  // Consumes request body bytes; true once the whole body is in.
  bool consumeBody(evbuffer* in);
  bool consumeChunked(evbuffer* in);
  void respond();
  void finishResponse();
  void startStream();
  void refillStream();
  // Answers a protocol error (400/431/505) and closes.
  void fail(int status, const char* message);
  void closeWhenFlushed();
  void close();
  ResponseContext context() const;

  Worker& worker_;
  bufferevent* bev_;
  event* timer_ = nullptr;       // created on first delay
  evbuffer* delayed_ = nullptr;  // a response held back until timer_ fires
  State state_ = State::kHead;
  bool peer_eof_ = false;
  bool output_paused_ = false;  // too much unread output: parsing waits for the socket to drain

  RequestHead head_;  // reused; its views are only valid while the head is in the input
  Route route_;
  bool head_method_ = false;
  bool keep_alive_ = true;
  int minor_version_ = 1;

  bool body_chunked_ = false;
  ChunkState chunk_state_ = ChunkState::kSize;
  uint64_t body_remaining_ = 0;  // Content-Length left, or the current chunk's bytes left
  uint64_t body_bytes_ = 0;

  bool stream_chunked_ = false;
  uint64_t stream_offset_ = 0;     // bytes of filler sent so far (selects the pattern phase)
  uint64_t stream_remaining_ = 0;  // Content-Length mode: bytes left
  uint64_t chunks_left_ = 0;       // chunked mode: chunks not yet started
  uint64_t chunk_left_ = 0;        // chunked mode: bytes left in the current chunk
};

}  // namespace sample_backend
