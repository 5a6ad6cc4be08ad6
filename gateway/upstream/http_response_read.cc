// HttpUpstreamPool reading a response: the head through the strict parser, the body by its
// framing (length, chunked, until close) into the transfer's pending buffer under backpressure,
// and the end of the response, where a connection is kept only when provably clean.
#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "gateway/http/response_parser.h"
#include "gateway/upstream/http_upstream.h"

namespace perfgate {
namespace {

constexpr size_t kMaxResponseHeadBytes = 64 * 1024;
constexpr size_t kPendingHighWater = 64 * 1024;  // decoded body waiting for the client
constexpr size_t kInputHighWater = 256 * 1024;   // raw bytes read and not yet taken
constexpr size_t kReadChunk = 16 * 1024;         // the most one recv takes (as bufferevent read: larger
                                                 // reads let the kernel grow the receive buffer, and
                                                 // read further ahead of a slow client)

}  // namespace

void HttpUpstreamPool::startReading(HttpConnection* c) {
  if (c->reading || c->read_event == nullptr || c->eof) return;
  event_add(c->read_event, nullptr);
  c->reading = true;
}

void HttpUpstreamPool::stopReading(HttpConnection* c) {
  if (!c->reading) return;
  event_del(c->read_event);
  c->reading = false;
}

// One recv into the input buffer (no FIONREAD first, as evbuffer_read does), then the bytes are
// taken as bufferevent's read callback took them. A read that returns less than it asked for
// found the socket empty.
void HttpUpstreamPool::onReadable(evutil_socket_t fd, short, void* connection) noexcept {
  auto* c = static_cast<HttpConnection*>(connection);
  evbuffer* in = bufferevent_get_input(c->bev);
  size_t have = evbuffer_get_length(in);
  if (have < kInputHighWater) {
    size_t want = std::min(kReadChunk, kInputHighWater - have);
    evbuffer_iovec space;
    if (evbuffer_reserve_space(in, static_cast<ev_ssize_t>(want), &space, 1) < 1) {
      c->pool->onConnectionLost(c, true);
      return;
    }
    ssize_t n = ::recv(fd, space.iov_base, std::min(space.iov_len, want), 0);
    if (n > 0) {
      space.iov_len = static_cast<size_t>(n);
      evbuffer_commit_space(in, &space, 1);
      c->drained = static_cast<size_t>(n) < want;
    } else {
      evbuffer_commit_space(in, &space, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      stopReading(c);  // the end of the stream stays readable
      c->pool->onConnectionLost(c, n < 0);
      return;
    }
  } else {
    stopReading(c);  // full: resumed once the transfer took what is here
  }
  if (c->transfer == nullptr) {
    // Bytes on an idle connection: the backend is out of step with us. Drop the connection.
    HttpUpstreamPool* pool = c->pool;
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) pool->countClose(UpstreamClose::Unsolicited);
    pool->idle_.erase(std::remove(pool->idle_.begin(), pool->idle_.end(), c), pool->idle_.end());
    pool->closeConnection(c);
    return;
  }
  HttpTransfer* t = c->transfer;
  c->pool->readResponse(c);
  // Reading goes on while the transfer takes what is read and its client keeps up.
  if (c->transfer == t && !c->reading && !t->receive_paused_ && evbuffer_get_length(in) < kInputHighWater) {
    startReading(c);
  }
}

bool HttpUpstreamPool::parseHead(HttpTransfer* t, evbuffer* in, bool& failed) {
  failed = false;
  size_t length = evbuffer_get_length(in);
  size_t window = std::min(length, kMaxResponseHeadBytes);
  const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(window)));
  std::string_view view(data, window);
  size_t from = t->head_scan_ > 3 ? t->head_scan_ - 3 : 0;
  size_t end = view.find("\r\n\r\n", from);
  if (end == std::string_view::npos) {
    t->head_scan_ = window;
    failed = length >= kMaxResponseHeadBytes;
    return false;
  }
  t->head_scan_ = 0;
  ResponseFraming framing;
  if (const char* why = parseResponseHead(view.substr(0, end + 2), t->head_, framing)) {
    spdlog::warn("upstream {}: {}", config_.name, why);
    failed = true;
    return false;
  }
  evbuffer_drain(in, end + 4);

  // RFC 9112 §6.3, in order: no body for HEAD, 1xx, 204, 304; chunked; Content-Length;
  // otherwise the body runs until the connection closes.
  int status = t->head_.status;
  bool bodiless = t->head_request_ || status < 200 || status == 204 || status == 304;
  if (bodiless) {
    t->framing_ = HttpTransfer::Framing::None;
  } else if (framing.transfer_encoding) {
    t->framing_ = framing.chunked ? HttpTransfer::Framing::Chunked : HttpTransfer::Framing::UntilClose;
  } else if (framing.content_length) {
    t->framing_ = HttpTransfer::Framing::Length;
    t->remaining_ = *framing.content_length;
  } else {
    t->framing_ = HttpTransfer::Framing::UntilClose;
  }
  t->reusable_ = !framing.close && t->framing_ != HttpTransfer::Framing::UntilClose;
  // A response that has no body but declares one (HEAD, 204, 304 with a non-zero length or a
  // transfer coding): bytes the backend writes after it cannot be told from the next response,
  // so its connection carries no other request, unless the backend is trusted not to send them.
  if (bodiless && status >= 200 && t->reusable_ && !config_.trust_bodiless_length &&
      (framing.transfer_encoding || framing.content_length.value_or(0) != 0)) {
    t->reusable_ = false;
    countClose(UpstreamClose::BodilessLength);
  }
  return true;
}

void HttpUpstreamPool::readResponse(HttpConnection* c) {
  HttpTransfer* t = c->transfer;
  evbuffer* in = bufferevent_get_input(c->bev);
  if (evbuffer_get_length(in) > 0 && !t->response_started_) t->response_started_ = true;
  t->armTimer(config_.response_timeout);

  while (t->head_.status == 0 || t->head_.status < 200) {
    if (evbuffer_get_length(in) == 0) return;
    bool failed = false;
    t->head_.status = 0;
    if (!parseHead(t, in, failed)) {
      if (failed) finish(t, UpstreamResult::BadResponse, "invalid response head from upstream");
      return;
    }
    if (t->head_.status == 101) {
      finish(t, UpstreamResult::BadResponse, "upstream switched protocols without an Upgrade");
      return;
    }
    if (t->head_.status < 200) {  // an interim response: the final one follows
      if (t->observer_ != nullptr) t->observer_->onUpstreamInterim(t->head_);
      if (c->transfer != t) return;
      continue;
    }
    if (t->framing_ == HttpTransfer::Framing::Chunked) t->chunked_.emplace(UINT64_MAX, kMaxResponseHeadBytes);
    if (t->framing_ == HttpTransfer::Framing::None ||
        (t->framing_ == HttpTransfer::Framing::Length && t->remaining_ == 0)) {
      t->body_complete_ = true;
    }
    if (t->observer_ != nullptr) t->observer_->onUpstreamHeaders(t->head_);
    if (c->transfer != t) return;
  }

  // Move body bytes from the socket into `pending_`, decoded, while the client keeps up.
  while (!t->body_complete_ && evbuffer_get_length(t->pending_) < kPendingHighWater) {
    size_t available = evbuffer_get_length(in);
    if (available == 0) break;
    switch (t->framing_) {
      case HttpTransfer::Framing::Length: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(available, t->remaining_));
        evbuffer_remove_buffer(in, t->pending_, take);
        t->remaining_ -= take;
        t->body_complete_ = t->remaining_ == 0;
        break;
      }
      case HttpTransfer::Framing::Chunked: {
        evbuffer_iovec segment;
        if (evbuffer_peek(in, -1, nullptr, &segment, 1) < 1) break;
        size_t consumed = 0;
        ParseStatus status = t->chunked_->decode(
            std::string_view(static_cast<const char*>(segment.iov_base), segment.iov_len), consumed, *t);
        evbuffer_drain(in, consumed);
        if (status == ParseStatus::Error) {
          finish(t, UpstreamResult::Truncated, "invalid chunked framing from upstream");
          return;
        }
        t->body_complete_ = status == ParseStatus::Complete;
        break;
      }
      case HttpTransfer::Framing::UntilClose:
        evbuffer_remove_buffer(in, t->pending_, available);
        t->body_complete_ = c->eof;
        break;
      case HttpTransfer::Framing::None:
        t->body_complete_ = true;
        break;
    }
  }
  deliver(c);
}

void HttpUpstreamPool::deliver(HttpConnection* c) {
  HttpTransfer* t = c->transfer;
  while (evbuffer_get_length(t->pending_) > 0) {
    evbuffer_iovec segment;
    evbuffer_peek(t->pending_, -1, nullptr, &segment, 1);
    if (t->observer_ == nullptr) return;
    if (!t->observer_->onUpstreamData(std::string_view(static_cast<const char*>(segment.iov_base), segment.iov_len))) {
      t->receive_paused_ = true;
      evtimer_del(t->timer_);
      stopReading(c);
      return;
    }
    evbuffer_drain(t->pending_, segment.iov_len);
  }
  // The exchange may have ended while it took the data (a body transform that failed cancels the
  // transfer, and closes the connection under us): nothing more to read or deliver.
  if (t->observer_ == nullptr) return;
  if (t->body_complete_) {
    if (!t->body_sent_) t->reusable_ = false;  // the backend answered before taking the whole body
    // The response ended at its framing: anything after it, already read or waiting in the
    // socket, means the backend and we disagree about where responses end. This response may
    // itself be the wrong one: it is kept out of the cache and the connection is closed.
    bool overrun = evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
    // A read that found the socket empty saw what a peek now would (bytes arriving later are
    // found before the connection is used again: takeIdle()); else the socket is asked.
    if (!overrun && !c->eof && !c->drained) {
      SocketRest rest = peekSocket(bufferevent_getfd(c->bev));
      overrun = rest == SocketRest::Bytes;
      if (rest == SocketRest::Closed) t->reusable_ = false;
    }
    if (overrun) {
      countClose(UpstreamClose::Overrun);
      finish(t, UpstreamResult::Overrun, "bytes beyond the end of the response");
      return;
    }
    finish(t, UpstreamResult::Ok, "");
    return;
  }
  // More may already be buffered (we stopped at the pending high-water mark).
  if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
    readResponse(c);
  } else if (c->eof) {
    if (t->framing_ == HttpTransfer::Framing::UntilClose) {
      t->reusable_ = false;
      finish(t, UpstreamResult::Ok, "");
    } else {
      finish(t, UpstreamResult::Truncated, "upstream closed the connection in the middle of the response");
    }
  }
}

}  // namespace perfgate
