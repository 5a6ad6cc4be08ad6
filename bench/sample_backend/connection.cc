#include "connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <algorithm>
#include <cstdio>

#include "content.h"
#include "server.h"

namespace sample_backend {
namespace {

constexpr size_t kReadHighWatermark = 1024 * 1024;  // stop reading while a response waits
constexpr size_t kStreamHigh = 256 * 1024;          // fill the output up to this while streaming
constexpr size_t kStreamLow = 64 * 1024;            // refill when it drains below this
constexpr size_t kMaxChunkLine = 4096;
constexpr size_t kOutputLimit = 4 * 1024 * 1024;    // stop answering pipelined requests above this

}  // namespace

Connection* Connection::create(Worker& worker, evutil_socket_t fd) {
  bufferevent* bev = bufferevent_socket_new(worker.base(), fd, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) {
    evutil_closesocket(fd);
    return nullptr;
  }
  auto* c = new Connection(worker, bev);
  bufferevent_setcb(bev, &Connection::onRead, &Connection::onWrite, &Connection::onEvent, c);
  bufferevent_setwatermark(bev, EV_READ, 0, kReadHighWatermark);
  if (bufferevent_enable(bev, EV_READ | EV_WRITE) != 0) {
    c->close();
    return nullptr;
  }
  return c;
}

Connection::Connection(Worker& worker, bufferevent* bev) : worker_(worker), bev_(bev) {}

Connection::~Connection() {
  if (timer_ != nullptr) event_free(timer_);
  if (delayed_ != nullptr) evbuffer_free(delayed_);
}

void Connection::onRead(bufferevent*, void* arg) noexcept { static_cast<Connection*>(arg)->processInput(); }

void Connection::onWrite(bufferevent*, void* arg) noexcept {
  auto* c = static_cast<Connection*>(arg);
  if (c->state_ == State::kStreaming) {
    c->refillStream();
    if (c->state_ == State::kHead) c->processInput();
  } else if (c->state_ == State::kHead && c->output_paused_) {
    c->output_paused_ = false;
    bufferevent_setwatermark(c->bev_, EV_WRITE, 0, 0);
    c->processInput();
  } else if (c->state_ == State::kClosing && evbuffer_get_length(bufferevent_get_output(c->bev_)) == 0) {
    c->close();
  }
}

void Connection::onEvent(bufferevent*, short what, void* arg) noexcept {
  auto* c = static_cast<Connection*>(arg);
  if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
    c->close();
    return;
  }
  if (what & BEV_EVENT_EOF) {
    // The client sent all it will send. Answer what is complete, then close; a request cut off
    // in its body gets nothing.
    c->peer_eof_ = true;
    if (c->state_ == State::kHead && !c->output_paused_) {
      c->closeWhenFlushed();
    } else if (c->state_ == State::kBody) {
      c->close();
    }
  }
}

void Connection::onTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* c = static_cast<Connection*>(arg);
  if (c->state_ != State::kWaiting) return;
  evbuffer_add_buffer(bufferevent_get_output(c->bev_), c->delayed_);
  c->finishResponse();
  c->processInput();
}

ResponseContext Connection::context() const {
  ResponseContext ctx;
  ctx.head_method = head_method_;
  ctx.keep_alive = keep_alive_;
  ctx.minor_version = minor_version_;
  ctx.date_line = worker_.dateLine();
  return ctx;
}

void Connection::processInput() {
  if (state_ != State::kHead && state_ != State::kBody) return;
  evbuffer* in = bufferevent_get_input(bev_);
  while (state_ == State::kHead || state_ == State::kBody) {
    if (state_ == State::kHead) {
      if (!readHead(in)) break;
      if (state_ == State::kBody) continue;  // the head announced a body: consume it first
    } else if (!consumeBody(in)) {
      break;
    }
    respond();
  }
  if (peer_eof_ && state_ == State::kHead && !output_paused_) closeWhenFlushed();
}

bool Connection::readHead(evbuffer* in) {
  const size_t len = evbuffer_get_length(in);
  if (len == 0) return false;
  if (evbuffer_get_length(bufferevent_get_output(bev_)) > kOutputLimit) {
    // A client that pipelines without reading: wait until the output drains (onWrite).
    output_paused_ = true;
    bufferevent_setwatermark(bev_, EV_WRITE, kStreamLow, 0);
    return false;
  }
  const size_t want = std::min(len, kMaxHeadBytes);
  const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(want)));
  if (data == nullptr) {
    close();
    return false;
  }
  switch (parseRequestHead(data, want, head_)) {
    case ParseStatus::kIncomplete:
      return false;
    case ParseStatus::kBadRequest:
      fail(400, "bad request");
      return false;
    case ParseStatus::kTooLarge:
      fail(431, "request header fields too large");
      return false;
    case ParseStatus::kBadVersion:
      fail(505, "HTTP version not supported");
      return false;
    case ParseStatus::kComplete:
      break;
  }
  beginRequest();  // copies what it needs out of the head before it is drained
  evbuffer_drain(in, head_.head_bytes);
  return true;
}

void Connection::beginRequest() {
  route_ = classify(head_);
  if (route_.kind != RouteKind::kStats) worker_.countRequest();
  head_method_ = head_.method == "HEAD";
  keep_alive_ = head_.keep_alive;
  minor_version_ = head_.minor_version;
  body_bytes_ = 0;
  if (!head_.hasBody()) return;
  state_ = State::kBody;
  body_chunked_ = head_.chunked;
  chunk_state_ = ChunkState::kSize;
  body_remaining_ = head_.chunked ? 0 : static_cast<uint64_t>(head_.content_length);
  if (head_.expect_continue && minor_version_ == 1) {
    evbuffer_add(bufferevent_get_output(bev_), "HTTP/1.1 100 Continue\r\n\r\n", 25);
  }
}

bool Connection::consumeBody(evbuffer* in) {
  if (body_chunked_) return consumeChunked(in);
  const uint64_t n = std::min<uint64_t>(evbuffer_get_length(in), body_remaining_);
  evbuffer_drain(in, n);
  body_remaining_ -= n;
  body_bytes_ += n;
  return body_remaining_ == 0;
}

// RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; last-chunk, trailers, CRLF.
bool Connection::consumeChunked(evbuffer* in) {
  for (;;) {
    switch (chunk_state_) {
      case ChunkState::kSize:
      case ChunkState::kTrailer: {
        size_t eol_len = 0;
        evbuffer_ptr eol = evbuffer_search_eol(in, nullptr, &eol_len, EVBUFFER_EOL_CRLF);
        if (eol.pos < 0) {
          if (evbuffer_get_length(in) > kMaxChunkLine) fail(400, "chunk line too long");
          return false;
        }
        if (static_cast<size_t>(eol.pos) > kMaxChunkLine) {
          fail(400, "chunk line too long");
          return false;
        }
        char line[kMaxChunkLine + 1];
        evbuffer_remove(in, line, static_cast<size_t>(eol.pos));
        evbuffer_drain(in, eol_len);
        const size_t line_len = static_cast<size_t>(eol.pos);
        if (chunk_state_ == ChunkState::kTrailer) {
          if (line_len == 0) return true;  // end of the trailer section
          continue;                        // trailer fields are ignored
        }
        uint64_t size = 0;
        size_t i = 0;
        for (; i < line_len; ++i) {
          const char c = line[i];
          int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                                       : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
          if (digit < 0) break;
          if (i >= 15) {
            fail(400, "chunk size too large");
            return false;
          }
          size = size * 16 + static_cast<uint64_t>(digit);
        }
        if (i == 0 || (i < line_len && line[i] != ';' && line[i] != ' ' && line[i] != '\t')) {
          fail(400, "bad chunk size");
          return false;
        }
        if (size == 0) {
          chunk_state_ = ChunkState::kTrailer;
        } else {
          body_remaining_ = size;
          chunk_state_ = ChunkState::kData;
        }
        break;
      }
      case ChunkState::kData: {
        const uint64_t n = std::min<uint64_t>(evbuffer_get_length(in), body_remaining_);
        evbuffer_drain(in, n);
        body_remaining_ -= n;
        body_bytes_ += n;
        if (body_remaining_ > 0) return false;
        chunk_state_ = ChunkState::kDataEnd;
        break;
      }
      case ChunkState::kDataEnd: {
        char crlf[2];
        const ev_ssize_t got = evbuffer_copyout(in, crlf, 2);
        if (got >= 1 && crlf[0] == '\n') {
          evbuffer_drain(in, 1);
        } else if (got == 2 && crlf[0] == '\r' && crlf[1] == '\n') {
          evbuffer_drain(in, 2);
        } else if (got < 2 && (got == 0 || crlf[0] == '\r')) {
          return false;
        } else {
          fail(400, "bad chunk data");
          return false;
        }
        chunk_state_ = ChunkState::kSize;
        break;
      }
    }
  }
}

void Connection::respond() {
  evbuffer* out = bufferevent_get_output(bev_);
  if (isStreaming(route_)) {
    startStream();
    return;
  }
  if (route_.kind == RouteKind::kStats) {
    writeJson(out, 200, "Cache-Control: no-store\r\n", worker_.statsJson(), context());
    finishResponse();
    return;
  }
  const uint64_t delay_ms = route_.kind == RouteKind::kDelay ? route_.a : route_.api ? worker_.latencyMs() : 0;
  if (delay_ms == 0) {
    writeResponse(out, route_, body_bytes_, context());
    finishResponse();
    return;
  }
  // Hold the answer (and with it every later pipelined one) until the timer fires.
  if (delayed_ == nullptr) delayed_ = evbuffer_new();
  if (timer_ == nullptr) timer_ = evtimer_new(worker_.base(), &Connection::onTimer, this);
  if (delayed_ == nullptr || timer_ == nullptr) {
    close();
    return;
  }
  writeResponse(delayed_, route_, body_bytes_, context());
  const timeval tv{static_cast<time_t>(delay_ms / 1000), static_cast<suseconds_t>((delay_ms % 1000) * 1000)};
  if (evtimer_add(timer_, &tv) != 0) {
    close();
    return;
  }
  state_ = State::kWaiting;
}

void Connection::finishResponse() {
  if (!keep_alive_) {
    closeWhenFlushed();
  } else {
    state_ = State::kHead;
  }
}

void Connection::startStream() {
  evbuffer* out = bufferevent_get_output(bev_);
  stream_chunked_ = writeStreamHead(out, route_, context());
  if (head_method_) {
    finishResponse();
    return;
  }
  stream_offset_ = 0;
  if (route_.kind == RouteKind::kDownload) {
    stream_remaining_ = route_.a;
  } else {
    stream_remaining_ = route_.a * route_.b;  // used when an HTTP/1.0 client gets Content-Length
    chunks_left_ = route_.a;
    chunk_left_ = 0;
  }
  state_ = State::kStreaming;
  // The write callback now fires whenever the output drains below kStreamLow.
  bufferevent_setwatermark(bev_, EV_WRITE, kStreamLow, 0);
  refillStream();
}

void Connection::refillStream() {
  evbuffer* out = bufferevent_get_output(bev_);
  auto addFiller = [&](uint64_t n) {
    // By reference into the static pattern: nothing is copied, nothing is allocated per byte.
    evbuffer_add_reference(out, pattern() + stream_offset_ % kPatternPeriod, n, nullptr, nullptr);
    stream_offset_ += n;
  };
  bool done = false;
  while (!done && evbuffer_get_length(out) < kStreamHigh) {
    if (!stream_chunked_) {
      const uint64_t n = std::min<uint64_t>(stream_remaining_, kPatternBlock);
      if (n > 0) addFiller(n);
      stream_remaining_ -= n;
      done = stream_remaining_ == 0;
      continue;
    }
    if (chunk_left_ == 0) {
      if (chunks_left_ == 0) {
        evbuffer_add(out, "0\r\n\r\n", 5);
        done = true;
        continue;
      }
      evbuffer_add_printf(out, "%llx\r\n", static_cast<unsigned long long>(route_.b));
      chunk_left_ = route_.b;
      --chunks_left_;
    }
    const uint64_t n = std::min<uint64_t>(chunk_left_, kPatternBlock);
    addFiller(n);
    chunk_left_ -= n;
    if (chunk_left_ == 0) evbuffer_add(out, "\r\n", 2);
  }
  if (done) {
    bufferevent_setwatermark(bev_, EV_WRITE, 0, 0);
    finishResponse();
  }
}

void Connection::fail(int status, const char* message) {
  keep_alive_ = false;
  head_method_ = false;
  minor_version_ = 1;
  char body[128];
  std::snprintf(body, sizeof body, "{\"error\":\"%s\",\"status\":%d}", message, status);
  writeJson(bufferevent_get_output(bev_), status, "", body, context());
  closeWhenFlushed();
}

void Connection::closeWhenFlushed() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosing;
  bufferevent_disable(bev_, EV_READ);
  if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) close();
}

void Connection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  if (timer_ != nullptr) evtimer_del(timer_);
  bufferevent_free(bev_);  // closes the socket; no callback of ours runs after this
  bev_ = nullptr;
  worker_.countClosed();
  worker_.retire(this);
}

}  // namespace sample_backend
