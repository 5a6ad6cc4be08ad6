// HttpUpstreamPool reading a response: the head through the strict parser, the body by its
// framing (length, chunked, until close) to the observer under backpressure, and the end of the
// response, where a connection is kept only when provably clean.
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

// One recv (no FIONREAD first), taken from where it landed (SocketInput). Reading stops while
// the observer cannot take more (deliver), so what a connection keeps is at most a read's worth
// beyond a partial head. A read that returns less than it asked for found the socket empty.
void HttpUpstreamPool::onReadable(evutil_socket_t fd, short, void* connection) noexcept {
  auto* c = static_cast<HttpConnection*>(connection);
  ssize_t n = c->input.read(fd, SocketInput::kReadChunk);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    stopReading(c);  // the end of the stream stays readable
    c->pool->onConnectionLost(c, n < 0);
    return;
  }
  c->drained = static_cast<size_t>(n) < SocketInput::kReadChunk;
  HttpUpstreamPool* pool = c->pool;
  if (c->transfer == nullptr) {
    // Bytes on an idle connection: the backend is out of step with us. Drop the connection.
    pool->countClose(UpstreamClose::Unsolicited);
    pool->idle_.erase(std::remove(pool->idle_.begin(), pool->idle_.end(), c), pool->idle_.end());
    pool->closeConnection(c);
    return;
  }
  pool->readResponse(c);
  c->input.settle(!c->dead);
}

bool HttpUpstreamPool::parseHead(HttpConnection* c, bool& failed) {
  HttpTransfer* t = c->transfer;
  failed = false;
  std::string_view input = c->input.view();
  size_t length = input.size();
  size_t window = std::min(length, kMaxResponseHeadBytes);
  std::string_view view = input.substr(0, window);
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
  c->input.consume(end + 4);

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
  if (!c->input.empty()) t->response_started_ = true;
  t->armTimer(config_.response_timeout);

  while (t->head_.status == 0 || t->head_.status < 200) {
    if (c->input.empty()) return;
    bool failed = false;
    t->head_.status = 0;
    if (!parseHead(c, failed)) {
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
  deliver(c);
}

bool HttpUpstreamPool::offer(HttpConnection* c, std::string_view data) {
  HttpTransfer* t = c->transfer;
  if (t->observer_ == nullptr) return false;
  if (!t->observer_->onUpstreamData(data)) {
    t->receive_paused_ = true;
    evtimer_del(t->timer_);
    stopReading(c);
    return false;
  }
  // The exchange may have ended while it took the data (a body transform that failed cancels the
  // transfer, and closes the connection under us): nothing more to read or deliver.
  return c->transfer == t && t->observer_ != nullptr;
}

void HttpUpstreamPool::deliver(HttpConnection* c) {
  HttpTransfer* t = c->transfer;
  // Body bytes go to the observer from where they were read (decoded first when chunked), while
  // it takes them; what it does not take stays where it is until resumeReceive().
  for (;;) {
    if (!t->pending_.empty()) {
      if (!offer(c, t->pending_)) return;
      t->pending_.clear();
    }
    if (t->body_complete_) break;
    std::string_view input = c->input.view();
    if (input.empty()) break;
    switch (t->framing_) {
      case HttpTransfer::Framing::Length: {
        std::string_view part = input.substr(0, static_cast<size_t>(std::min<uint64_t>(input.size(), t->remaining_)));
        if (!offer(c, part)) return;
        c->input.consume(part.size());
        t->remaining_ -= part.size();
        t->body_complete_ = t->remaining_ == 0;
        break;
      }
      case HttpTransfer::Framing::Chunked: {
        size_t consumed = 0;
        ParseStatus status = t->chunked_->decode(input, consumed, *t);
        c->input.consume(consumed);
        if (status == ParseStatus::Error) {
          finish(t, UpstreamResult::Truncated, "invalid chunked framing from upstream");
          return;
        }
        t->body_complete_ = status == ParseStatus::Complete;
        break;
      }
      case HttpTransfer::Framing::UntilClose:
        if (!offer(c, input)) return;
        c->input.consume(input.size());
        break;
      case HttpTransfer::Framing::None:
        t->body_complete_ = true;
        break;
    }
  }
  if (t->observer_ == nullptr) return;
  if (t->body_complete_) {
    if (!t->body_sent_) t->reusable_ = false;  // the backend answered before taking the whole body
    // The response ended at its framing: anything after it, already read or waiting in the
    // socket, means the backend and we disagree about where responses end. This response may
    // itself be the wrong one: it is kept out of the cache and the connection is closed.
    bool overrun = !c->input.empty();
    // A read that found the socket empty saw what a peek now would (bytes arriving later are
    // found before the connection is used again: takeIdle()); else the socket is asked.
    if (!overrun && !c->eof && !c->drained) {
      SocketRest rest = peekSocket(c->fd);
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
  if (c->eof) {
    if (t->framing_ == HttpTransfer::Framing::UntilClose) {
      t->reusable_ = false;
      finish(t, UpstreamResult::Ok, "");
    } else {
      finish(t, UpstreamResult::Truncated, "upstream closed the connection in the middle of the response");
    }
  }
}

}  // namespace perfgate
