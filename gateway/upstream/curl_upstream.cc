#include "gateway/upstream/curl_upstream.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "gateway/event_util.h"
#include "gateway/http/response_parser.h"
#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

constexpr size_t kMaxResponseHeadBytes = 64 * 1024;
constexpr size_t kMaxIdleTransfers = 1024;

// Turns the header block into curl's list, in curl's dialect: "Name;" sends an empty field,
// "Name:" suppresses a field curl would add by itself.
bool buildHeaderList(const UpstreamRequest& request, curl_slist*& list) {
  bool have_accept = false;
  bool have_content_type = false;
  std::string line;
  auto append = [&list](const char* text) {
    curl_slist* next = curl_slist_append(list, text);
    if (next == nullptr) return false;
    list = next;
    return true;
  };
  for (HeaderField field : request.headers) {
    std::string_view name = field.name;
    std::string_view value = field.value;
    if (equalsIgnoreCase(name, "accept")) have_accept = true;
    if (equalsIgnoreCase(name, "content-type")) have_content_type = true;
    line.assign(name);
    if (value.empty()) {
      line.push_back(';');
    } else {
      line.append(": ");
      line.append(value);
    }
    if (!append(line.c_str())) return false;
  }
  if (!have_accept && !append("Accept:")) return false;
  if (request.has_body && !have_content_type && !append("Content-Type:")) return false;
  if (!append("Expect:")) return false;
  if (request.has_body && request.body_length < 0 && !append("Transfer-Encoding: chunked")) return false;
  return true;
}

}  // namespace

CurlTransfer::CurlTransfer(CurlUpstreamPool* pool, CURL* easy) : pool_(pool), easy_(easy) {
  progress_timer_ = evtimer_new(pool->base_, &CurlTransfer::onProgressTimeout, this);
}

CurlTransfer::~CurlTransfer() {
  if (progress_timer_ != nullptr) event_free(progress_timer_);
  curl_slist_free_all(header_list_);
  curl_easy_cleanup(easy_);
}

void CurlTransfer::armProgressTimer() {
  timeval tv = toTimeval(pool_->config_.response_timeout);
  evtimer_add(progress_timer_, &tv);
}

void CurlTransfer::applyPause() {
  int mask = (recv_paused_ ? CURLPAUSE_RECV : 0) | (send_paused_ ? CURLPAUSE_SEND : 0);
  CURLcode rc = curl_easy_pause(easy_, mask);
  if (rc != CURLE_OK) spdlog::warn("upstream {}: curl_easy_pause: {}", pool_->config_.name, curl_easy_strerror(rc));
}

void CurlTransfer::resumeReceive() {
  if (!recv_paused_ || cancelled_) return;
  recv_paused_ = false;
  armProgressTimer();
  applyPause();
}

void CurlTransfer::resumeSend() {
  if (!send_paused_ || cancelled_) return;
  send_paused_ = false;
  armProgressTimer();
  applyPause();
}

size_t CurlTransfer::onHeaderLine(char* data, size_t size, size_t count, void* self) noexcept {
  auto* t = static_cast<CurlTransfer*>(self);
  size_t n = size * count;
  if (t->observer_ == nullptr || t->bad_head_) return 0;
  t->header_bytes_ += n;
  std::string_view line(data, n);
  // Every line ends in CRLF, with no other CR or LF in it (libcurl also takes a bare LF) and no
  // NUL; the rest is judged by the one response-head parser every upstream client shares.
  if (t->header_bytes_ > kMaxResponseHeadBytes || line.size() < 2 || line.substr(line.size() - 2) != "\r\n" ||
      line.find_first_of(std::string_view("\r\n\0", 3)) != line.size() - 2) {
    t->bad_head_ = true;
    return 0;
  }
  t->armProgressTimer();
  if (line.size() > 2) {
    t->head_text_.append(line);
    return n;
  }
  // Empty line: the end of a head. Interim 1xx responses are consumed here (101 is never
  // expected: Upgrade is not forwarded).
  ResponseFraming framing;
  if (const char* why = parseResponseHead(t->head_text_, t->head_, framing)) {
    spdlog::warn("upstream {}: {}", t->pool_->config_.name, why);
    t->bad_head_ = true;
    return 0;
  }
  t->head_text_.clear();
  if (t->head_.status < 200) {
    if (t->head_.status == 101) {
      t->bad_head_ = true;
      return 0;
    }
    if (t->observer_ != nullptr) t->observer_->onUpstreamInterim(t->head_);
    t->head_.status = 0;
    return n;
  }
  t->head_done_ = true;
  t->observer_->onUpstreamHeaders(t->head_);
  return n;
}

size_t CurlTransfer::onBodyData(char* data, size_t size, size_t count, void* self) noexcept {
  auto* t = static_cast<CurlTransfer*>(self);
  size_t n = size * count;
  if (t->observer_ == nullptr || !t->head_done_) return 0;  // aborts the transfer
  if (!t->observer_->onUpstreamData(std::string_view(data, n))) {
    t->recv_paused_ = true;
    evtimer_del(t->progress_timer_);
    return CURL_WRITEFUNC_PAUSE;
  }
  if (t->observer_ == nullptr) return 0;  // the exchange ended while it took the data: abort
  t->armProgressTimer();
  return n;
}

size_t CurlTransfer::onReadBody(char* data, size_t size, size_t count, void* self) noexcept {
  auto* t = static_cast<CurlTransfer*>(self);
  if (t->observer_ == nullptr) return CURL_READFUNC_ABORT;
  size_t n = t->observer_->onUpstreamReadBody(data, size * count);
  if (n == kBodyAbort) return CURL_READFUNC_ABORT;
  if (n == kBodyPause) {
    t->send_paused_ = true;
    evtimer_del(t->progress_timer_);
    return CURL_READFUNC_PAUSE;
  }
  t->armProgressTimer();
  return n;
}

void CurlTransfer::onProgressTimeout(evutil_socket_t, short, void* self) noexcept {
  auto* t = static_cast<CurlTransfer*>(self);
  t->pool_->timeOut(t);
}

CurlUpstreamPool::CurlUpstreamPool(event_base* base, const UpstreamConfig& config, unsigned workers)
    : UpstreamPool(config.name),
      base_(base), config_(config), multi_(curl_multi_init()) {
  timer_ = evtimer_new(base_, &CurlUpstreamPool::onTimerEvent, this);
  reap_event_ = event_new(base_, -1, 0, &CurlUpstreamPool::onReap, this);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlUpstreamPool::onSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlUpstreamPool::onTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  configure(config, workers);
}

CurlUpstreamPool::~CurlUpstreamPool() {
  // As in HttpUpstreamPool: a background fetch still running is told it is over (it frees itself).
  for (CurlTransfer* t : owned_) {
    if (UpstreamObserver* observer = std::exchange(t->observer_, nullptr)) {
      observer->onUpstreamDone(UpstreamResult::Internal, "the upstream pool was closed");
    }
  }
  for (CurlTransfer* t : owned_) {
    if (t->in_multi_) curl_multi_remove_handle(multi_, t->easy_);
  }
  curl_multi_cleanup(multi_);
  for (event* ev : socket_events_) event_free(ev);
  for (CurlTransfer* t : owned_) delete t;
  event_free(timer_);
  event_free(reap_event_);
}

void CurlUpstreamPool::configure(const UpstreamConfig& config, unsigned workers) {
  config_ = config;
  long max_connections = perWorkerShare(config.max_connections, workers);
  long max_idle = config.max_idle_connections == 0
                      ? max_connections
                      : perWorkerShare(config.max_idle_connections, workers);
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, max_connections);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_connections);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, max_idle);
}

UpstreamTransfer* CurlUpstreamPool::start(const UpstreamRequest& request, UpstreamObserver* observer) {
  CurlTransfer* t = nullptr;
  if (!idle_.empty()) {
    t = idle_.back();
    idle_.pop_back();
  } else {
    CURL* easy = curl_easy_init();
    if (easy == nullptr) {
      spdlog::error("upstream {}: curl_easy_init failed", config_.name);
      return nullptr;
    }
    t = new CurlTransfer(this, easy);
    owned_.push_back(t);
    setConstantOptions(t);
  }

  // Only what differs between requests is set here; a recycled handle keeps the rest.
  CURL* e = t->easy_;
  if (!buildHeaderList(request, t->header_list_)) {
    recycle(t);
    return nullptr;
  }
  t->url_.assign(config_.origin);
  t->url_.append(request.target);
  if (curl_easy_setopt(e, CURLOPT_URL, t->url_.c_str()) != CURLE_OK) {
    spdlog::warn("upstream {}: curl rejected url {}", config_.name, t->url_);
    recycle(t);
    return nullptr;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->header_list_);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_CAINFO, config_.tls_ca_file.empty() ? nullptr : config_.tls_ca_file.c_str());
  // After a HEAD, bytes the backend sends cannot be told from the next response (a HEAD answer
  // declares its body's length): the connection is not reused unless the backend is trusted.
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, request.head && !config_.trust_bodiless_length ? 1L : 0L);
  if (request.head) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (request.has_body) {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body_length));
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
  const char* implied = request.head ? "HEAD" : request.has_body ? "POST" : "GET";
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method == implied ? nullptr : request.method.c_str());

  t->observer_ = observer;
  CURLMcode mc = curl_multi_add_handle(multi_, e);
  if (mc != CURLM_OK) {
    spdlog::error("upstream {}: curl_multi_add_handle: {}", config_.name, curl_multi_strerror(mc));
    t->observer_ = nullptr;
    recycle(t);
    return nullptr;
  }
  t->in_multi_ = true;
  t->armProgressTimer();
  return t;
}

namespace {

// Counted sockets for backendConnections(): libcurl opens and closes them through these.
curl_socket_t openCountedSocket(void*, curlsocktype, curl_sockaddr* address) noexcept {
  curl_socket_t fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd != CURL_SOCKET_BAD) backendConnections().fetch_add(1, std::memory_order_relaxed);
  return fd;
}

int closeCountedSocket(void*, curl_socket_t fd) noexcept {
  backendConnections().fetch_sub(1, std::memory_order_relaxed);
  return ::close(fd);
}

}  // namespace

void CurlUpstreamPool::setConstantOptions(CurlTransfer* t) {
  CURL* e = t->easy_;
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &openCountedSocket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &closeCountedSocket);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROXY, "");  // never a proxy from the environment
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);  // forward the path exactly as the client sent it
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &CurlTransfer::onHeaderLine);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlTransfer::onBodyData);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, &CurlTransfer::onReadBody);
  curl_easy_setopt(e, CURLOPT_READDATA, t);
}

void CurlUpstreamPool::cancel(UpstreamTransfer* base) {
  auto* transfer = static_cast<CurlTransfer*>(base);
  if (transfer->cancelled_) return;
  transfer->observer_ = nullptr;
  transfer->cancelled_ = true;
  evtimer_del(transfer->progress_timer_);
  cancelled_.push_back(transfer);
  event_active(reap_event_, 0, 0);
}

void CurlUpstreamPool::onReap(evutil_socket_t, short, void* self) noexcept {
  auto* pool = static_cast<CurlUpstreamPool*>(self);
  std::vector<CurlTransfer*> reaped;
  reaped.swap(pool->cancelled_);
  for (CurlTransfer* t : reaped) {
    if (t->in_multi_) {
      curl_multi_remove_handle(pool->multi_, t->easy_);
      t->in_multi_ = false;
    }
    pool->recycle(t);
  }
}

void CurlUpstreamPool::recycle(CurlTransfer* t) {
  evtimer_del(t->progress_timer_);
  curl_easy_setopt(t->easy_, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(t->header_list_);
  t->header_list_ = nullptr;
  t->observer_ = nullptr;
  t->head_ = ResponseHead();
  t->head_text_.clear();
  t->header_bytes_ = 0;
  t->head_done_ = t->cancelled_ = t->recv_paused_ = t->send_paused_ = false;
  t->bad_head_ = false;
  if (idle_.size() < kMaxIdleTransfers) {
    idle_.push_back(t);
  } else {
    owned_.erase(std::find(owned_.begin(), owned_.end(), t));
    delete t;
  }
}

void CurlUpstreamPool::timeOut(CurlTransfer* t) {
  if (!t->in_multi_ || t->cancelled_) return;
  finish(t, UpstreamResult::Timeout, "no response from upstream within response_timeout");
}

void CurlUpstreamPool::finish(CurlTransfer* t, UpstreamResult result, const char* detail) {
  if (t->in_multi_) {
    curl_multi_remove_handle(multi_, t->easy_);
    t->in_multi_ = false;
  }
  if (t->cancelled_) return;  // onReap recycles it
  evtimer_del(t->progress_timer_);
  UpstreamObserver* observer = t->observer_;
  t->observer_ = nullptr;
  if (observer != nullptr) observer->onUpstreamDone(result, detail);
  recycle(t);
}

void CurlUpstreamPool::collectFinished() {
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &pending)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CurlTransfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    if (t == nullptr) continue;
    CURLcode code = msg->data.result;
    UpstreamResult result = UpstreamResult::Ok;
    const char* detail = "";
    if (t->bad_head_) {
      result = UpstreamResult::BadResponse;
      detail = "invalid response head from upstream";
    } else {
      switch (code) {
        case CURLE_OK:
          if (!t->head_done_) {
            result = UpstreamResult::BadResponse;
            detail = "upstream sent no response";
          }
          break;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
          result = UpstreamResult::ConnectFailed;
          detail = curl_easy_strerror(code);
          break;
        case CURLE_OPERATION_TIMEDOUT:
          result = UpstreamResult::Timeout;
          detail = "upstream connect timed out";
          break;
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_SEND_ERROR:
          result = t->head_done_ ? UpstreamResult::Truncated : UpstreamResult::SendFailed;
          detail = curl_easy_strerror(code);
          break;
        default:
          result = t->head_done_ ? UpstreamResult::Truncated : UpstreamResult::BadResponse;
          detail = curl_easy_strerror(code);
          break;
      }
    }
    finish(t, result, detail);
  }
}

void CurlUpstreamPool::drive(curl_socket_t fd, int action) {
  int running = 0;
  CURLMcode mc = curl_multi_socket_action(multi_, fd, action, &running);
  if (mc != CURLM_OK) spdlog::error("upstream {}: curl_multi_socket_action: {}", config_.name, curl_multi_strerror(mc));
  collectFinished();
}

int CurlUpstreamPool::onSocket(CURL*, curl_socket_t fd, int what, void* self, void* socket_event) noexcept {
  auto* pool = static_cast<CurlUpstreamPool*>(self);
  auto* ev = static_cast<event*>(socket_event);
  if (what == CURL_POLL_REMOVE) {
    if (ev != nullptr) {
      pool->socket_events_.erase(ev);
      event_free(ev);
    }
    return 0;
  }
  short kind = EV_PERSIST;
  if (what & CURL_POLL_IN) kind |= EV_READ;
  if (what & CURL_POLL_OUT) kind |= EV_WRITE;
  if (ev != nullptr) {
    event_del(ev);
    event_assign(ev, pool->base_, fd, kind, &CurlUpstreamPool::onSocketEvent, pool);
  } else {
    ev = event_new(pool->base_, fd, kind, &CurlUpstreamPool::onSocketEvent, pool);
    if (ev == nullptr) return -1;
    pool->socket_events_.insert(ev);
    curl_multi_assign(pool->multi_, fd, ev);
  }
  event_add(ev, nullptr);
  return 0;
}

int CurlUpstreamPool::onTimer(CURLM*, long timeout_ms, void* self) noexcept {
  auto* pool = static_cast<CurlUpstreamPool*>(self);
  // CURLMOPT_TIMERFUNCTION: -1 deletes the timer; any other value replaces it. Never call
  // curl from here: the timer event does it.
  if (timeout_ms < 0) {
    evtimer_del(pool->timer_);
  } else {
    timeval tv = toTimeval(Millis(timeout_ms));
    evtimer_add(pool->timer_, &tv);
  }
  return 0;
}

void CurlUpstreamPool::onSocketEvent(evutil_socket_t fd, short events, void* self) noexcept {
  int action = ((events & EV_READ) ? CURL_CSELECT_IN : 0) | ((events & EV_WRITE) ? CURL_CSELECT_OUT : 0);
  static_cast<CurlUpstreamPool*>(self)->drive(fd, action);
}

void CurlUpstreamPool::onTimerEvent(evutil_socket_t, short, void* self) noexcept {
  static_cast<CurlUpstreamPool*>(self)->drive(CURL_SOCKET_TIMEOUT, 0);
}

}  // namespace perfgate
