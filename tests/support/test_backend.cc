#include "support/test_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

namespace perfgate::test {

namespace {

constexpr size_t kMaxLine = 64 * 1024;
constexpr size_t kMaxHeaders = 1000;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string trimOws(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

bool isTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// Comma-separated tokens of a header value, lowercased and trimmed.
std::vector<std::string> tokens(std::string_view value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string t = trimOws(value.substr(start, comma - start));
    for (char& c : t) c = lower(c);
    if (!t.empty()) out.push_back(t);
    start = comma + 1;
  }
  return out;
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 418: return "I'm a teapot";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

bool parseUnsigned(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Blocking reads/writes over one accepted socket. The owner unblocks it with shutdown().
class SocketIo {
 public:
  explicit SocketIo(int fd) : fd_(fd) {}

  // True when at least one byte is buffered or arrived; false on EOF or error.
  bool fill() {
    if (pos_ > 0 && pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    char tmp[64 * 1024];
    for (;;) {
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  }

  bool atEofBoundary() { return pos_ == buf_.size(); }

  // A line ending in CRLF (returned without it). `bare_lf` is set when a line ended in LF alone.
  bool readLine(std::string& line, bool& bare_lf) {
    bare_lf = false;
    for (;;) {
      size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        size_t end = nl;
        if (end > pos_ && buf_[end - 1] == '\r') {
          --end;
        } else {
          bare_lf = true;
        }
        line.assign(buf_, pos_, end - pos_);
        pos_ = nl + 1;
        return true;
      }
      if (buf_.size() - pos_ > kMaxLine) return false;
      if (!fill()) return false;
    }
  }

  bool readExact(size_t n, std::string& out) {
    while (buf_.size() - pos_ < n) {
      if (!fill()) return false;
    }
    out.append(buf_, pos_, n);
    pos_ += n;
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    return true;
  }

  // Passes the next `n` bytes to `sink` piece by piece, never holding them all.
  template <typename Sink>
  bool readInto(uint64_t n, Sink&& sink) {
    while (n > 0) {
      if (pos_ == buf_.size() && !fill()) return false;
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, buf_.size() - pos_));
      sink(std::string_view(buf_).substr(pos_, take));
      pos_ += take;
      n -= take;
      if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
      }
    }
    return true;
  }

  bool sendAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

 private:
  int fd_;
  std::string buf_;
  size_t pos_ = 0;
};

std::string hex64(uint64_t h) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out = size;
  out.append(data);
  out.append("\r\n");
  return out;
}

// The response /cache describes with its query string (see the header's table).
struct CacheResource {
  int status = 200;
  Headers fields;
  std::string body;
  bool chunked = false;
  uint64_t delay_ms = 0;
};

// RFC 9110 §13.1.2 weak comparison: the opaque tags match, W/ prefixes ignored.
bool weakMatch(std::string_view a, std::string_view b) {
  auto strip = [](std::string_view t) { return t.substr(0, 2) == "W/" ? t.substr(2) : t; };
  return !a.empty() && strip(a) == strip(b);
}

CacheResource cacheResource(const ReceivedRequest& r, size_t fetch) {
  CacheResource res;
  std::string body = "fetch " + std::to_string(fetch) + "\n";
  bool sized = false;
  std::string etag;
  std::string last_modified;
  bool content_type = false;
  std::vector<std::string> echoes;
  std::string_view query;
  if (size_t q = r.target.find('?'); q != std::string::npos) query = std::string_view(r.target).substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = param.find('=');
    std::string name = urlDecode(param.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : urlDecode(param.substr(eq + 1));
    uint64_t number = 0;
    if (name == "cc") {
      res.fields.emplace_back("Cache-Control", value);
    } else if (name == "vary") {
      res.fields.emplace_back("Vary", value);
    } else if (name == "etag") {
      etag = value;
      res.fields.emplace_back("ETag", value);
    } else if (name == "lm") {
      last_modified = value;
      res.fields.emplace_back("Last-Modified", value);
    } else if (name == "expires") {
      res.fields.emplace_back("Expires", value);
    } else if (name == "date") {
      res.fields.emplace_back("Date", value == "now" ? httpDate(std::time(nullptr)) : value);
    } else if (name == "age") {
      res.fields.emplace_back("Age", value);
    } else if (name == "cookie") {
      res.fields.emplace_back("Set-Cookie", value);
    } else if (name == "header") {
      size_t colon = value.find(':');
      if (colon == std::string::npos) continue;
      std::string field = trimOws(std::string_view(value).substr(0, colon));
      content_type |= iequals(field, "Content-Type");
      res.fields.emplace_back(field, trimOws(std::string_view(value).substr(colon + 1)));
    } else if (name == "status" && parseUnsigned(value, number)) {
      res.status = static_cast<int>(number);
    } else if (name == "body") {
      body = value;
    } else if (name == "size" && parseUnsigned(value, number)) {
      body = pattern(number);
      sized = true;
    } else if (name == "echo") {
      echoes.push_back(value);
    } else if (name == "chunked") {
      res.chunked = value == "1";
    } else if (name == "delay" && parseUnsigned(value, number)) {
      res.delay_ms = number;
    }
  }
  if (!sized) {
    for (const std::string& e : echoes) {
      body += e + ": " + (r.hasHeader(e) ? r.header(e) : "(absent)") + "\n";
    }
  }
  res.fields.emplace_back("X-Fetch", std::to_string(fetch));

  // RFC 9110 §13.2.2: If-None-Match, else If-Modified-Since; only for GET/HEAD and a 200.
  bool not_modified = false;
  if (res.status == 200 && (r.method == "GET" || r.method == "HEAD")) {
    if (r.hasHeader("If-None-Match")) {
      for (const std::string& v : r.headerValues("If-None-Match")) {
        size_t start = 0;
        while (start <= v.size()) {
          size_t comma = v.find(',', start);
          if (comma == std::string::npos) comma = v.size();
          std::string tag = trimOws(std::string_view(v).substr(start, comma - start));
          not_modified |= (tag == "*" && !etag.empty()) || weakMatch(tag, etag);
          start = comma + 1;
        }
      }
    } else if (r.hasHeader("If-Modified-Since") && !last_modified.empty()) {
      std::time_t since = parseHttpDate(r.header("If-Modified-Since"));
      std::time_t modified = parseHttpDate(last_modified);
      not_modified = since >= 0 && modified >= 0 && modified <= since;
    }
  }
  if (not_modified) {
    res.status = 304;
    return res;
  }
  if (!content_type) res.fields.insert(res.fields.begin(), {"Content-Type", "text/plain"});
  res.body = std::move(body);
  return res;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void Fnv1a::update(std::string_view data) {
  for (unsigned char c : data) {
    h_ ^= c;
    h_ *= 0x100000001b3ull;
  }
}

std::string Fnv1a::hex() const { return hex64(h_); }

std::string fnv1a64Hex(std::string_view data) {
  Fnv1a f;
  f.update(data);
  return f.hex();
}

std::string pattern(size_t n) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/\n";
  constexpr size_t kLen = sizeof kAlphabet - 1;  // 65: not a power of two, so chunks misalign
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = kAlphabet[i % kLen];
  return out;
}

std::string urlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string urlDecode(std::string_view text) {
  auto hexValue = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 && hexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string httpDate(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char out[64];
  std::strftime(out, sizeof out, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return out;
}

std::time_t parseHttpDate(std::string_view text) {
  std::string s(text);
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return -1;
  return ::timegm(&tm);
}

std::string ReceivedRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return "";
}

bool ReceivedRequest::hasHeader(std::string_view name) const { return headerCount(name) > 0; }

size_t ReceivedRequest::headerCount(std::string_view name) const {
  size_t count = 0;
  for (const auto& h : headers) count += iequals(h.first, name) ? 1 : 0;
  return count;
}

std::vector<std::string> ReceivedRequest::headerValues(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) out.push_back(v);
  }
  return out;
}

TestBackend::TestBackend() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1024) != 0) {
    ::close(fd);
    return;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    ::close(fd);
    return;
  }
  listen_fd_ = fd;
  accept_thread_ = std::thread([this] { acceptLoop(); });
}

TestBackend::~TestBackend() {
  if (listen_fd_ < 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
  }
  cv_.notify_all();
  char c = 'x';
  [[maybe_unused]] ssize_t w = ::write(wake_pipe_[1], &c, 1);
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (Worker& w2 : workers_) {
    if (w2.thread.joinable()) w2.thread.join();
  }
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
}

std::string TestBackend::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<ReceivedRequest> TestBackend::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

ReceivedRequest TestBackend::lastRequest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.empty() ? ReceivedRequest{} : requests_.back();
}

size_t TestBackend::requestCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

bool TestBackend::waitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

size_t TestBackend::requestsFor(std::string_view target) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = per_target_.find(std::string(target));
  return found == per_target_.end() ? 0 : found->second;
}

std::vector<ReceivedRequest> TestBackend::requestsTo(std::string_view target) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ReceivedRequest> out;
  for (const ReceivedRequest& r : requests_) {
    if (r.target == target) out.push_back(r);
  }
  return out;
}

bool TestBackend::waitForRequestsFor(std::string_view target, size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return static_cast<size_t>(std::count_if(requests_.begin(), requests_.end(),
                                             [&](const ReceivedRequest& r) { return r.target == target; })) >= n;
  });
}

void TestBackend::clearRequests() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.clear();
  per_target_.clear();
}

bool TestBackend::waitForNoOpenConnections(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (open_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::vector<std::string> TestBackend::protocolErrors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return protocol_errors_;
}

size_t TestBackend::record(ReceivedRequest request) {
  size_t count = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    count = ++per_target_[request.target];
    requests_.push_back(std::move(request));
  }
  cv_.notify_all();
  return count;
}

void TestBackend::protocolError(std::string what) {
  std::lock_guard<std::mutex> lock(mu_);
  protocol_errors_.push_back(std::move(what));
}

bool TestBackend::sleepFor(std::chrono::milliseconds ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, ms, [&] { return stopping_.load(); });
}

void TestBackend::reapFinished() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void TestBackend::acceptLoop() {
  uint64_t next_id = 1;
  while (!stopping_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int r = ::poll(fds, 2, 1000);
    if (r < 0 && errno != EINTR) break;
    if (stopping_.load() || (fds[1].revents & POLLIN)) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    accepted_.fetch_add(1);
    int now = open_.fetch_add(1) + 1;
    int prev = max_open_.load();
    while (now > prev && !max_open_.compare_exchange_weak(prev, now)) {
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_fds_.insert(fd);
    }
    reapFinished();
    auto done = std::make_shared<std::atomic<bool>>(false);
    uint64_t id = next_id++;
    workers_.push_back(Worker{std::thread([this, fd, id, done] {
                                serveConnection(fd, id);
                                {
                                  std::lock_guard<std::mutex> lock(mu_);
                                  open_fds_.erase(fd);
                                  ::close(fd);
                                }
                                open_.fetch_sub(1);
                                done->store(true);
                              }),
                              done});
  }
}

void TestBackend::serveConnection(int fd, uint64_t id) {
  SocketIo io(fd);
  for (size_t seq = 0; !stopping_.load(); ++seq) {
    ReceivedRequest req;
    req.connection = id;
    req.seq = seq;
    std::string line;
    bool bare_lf = false;
    // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line.
    do {
      if (!io.readLine(line, bare_lf)) {
        if (!io.atEofBoundary()) protocolError("connection closed inside a request line");
        return;
      }
    } while (line.empty());
    if (bare_lf) protocolError("bare LF after request line: " + line);
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
    if (sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos) {
      protocolError("bad request line: " + line);
      io.sendAll("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    req.version = line.substr(sp2 + 1);
    req.path = req.target.substr(0, req.target.find('?'));
    if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") {
      protocolError("bad version: " + line);
      io.sendAll("HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    for (;;) {
      if (!io.readLine(line, bare_lf)) {
        protocolError("connection closed inside the header block of " + req.target);
        return;
      }
      if (bare_lf) protocolError("bare LF in header block of " + req.target);
      if (line.empty()) break;
      size_t colon = line.find(':');
      std::string name = colon == std::string::npos ? "" : line.substr(0, colon);
      bool valid = !name.empty() && std::all_of(name.begin(), name.end(), isTchar);
      std::string value = colon == std::string::npos ? "" : trimOws(std::string_view(line).substr(colon + 1));
      for (char c : value) {
        if (c == '\0' || c == '\r' || c == '\n') valid = false;
      }
      if (!valid) {
        protocolError("bad header line in " + req.target + ": " + line);
        io.sendAll("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      req.headers.emplace_back(std::move(name), std::move(value));
      if (req.headers.size() > kMaxHeaders) {
        protocolError("too many headers in " + req.target);
        return;
      }
    }

    bool keep_alive = req.version == "HTTP/1.1";
    for (const std::string& v : req.headerValues("Connection")) {
      for (const std::string& t : tokens(v)) {
        if (t == "close") keep_alive = false;
        if (t == "keep-alive" && req.version == "HTTP/1.0") keep_alive = true;
      }
    }
    bool expect_continue = false;
    for (const std::string& v : req.headerValues("Expect")) {
      for (const std::string& t : tokens(v)) expect_continue |= t == "100-continue";
    }

    // Choose the endpoint: the first path segment that names one; anything else is /echo.
    std::vector<std::string> segments;
    {
      size_t start = 1;
      while (start <= req.path.size()) {
        size_t slash = req.path.find('/', start);
        if (slash == std::string::npos) slash = req.path.size();
        segments.push_back(req.path.substr(start, slash - start));
        start = slash + 1;
      }
    }
    static const std::set<std::string> kEndpoints = {
        "echo",       "mirror",          "mirror-chunked", "status",         "delay",
        "bytes",      "chunked",         "drip",           "slow-body",      "slow-first-byte",
        "headers",    "close-mid-body",  "close-mid-chunked", "no-response", "discard",
        "read-late",  "close-delimited", "cache"};
    std::string endpoint = "echo";
    std::vector<std::string> args;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (kEndpoints.count(segments[i])) {
        endpoint = segments[i];
        args.assign(segments.begin() + static_cast<std::ptrdiff_t>(i) + 1, segments.end());
        break;
      }
    }
    auto arg = [&](size_t i, uint64_t fallback) {
      uint64_t v = 0;
      return i < args.size() && parseUnsigned(args[i], v) ? v : fallback;
    };

    // /discard counts and hashes the body without keeping it; /read-late/MS waits before reading it.
    req.body_stored = endpoint != "discard" && endpoint != "read-late";
    Fnv1a hash;
    auto sink = [&](std::string_view data) {
      hash.update(data);
      req.body_length += data.size();
      if (req.body_stored) req.body.append(data);
    };
    if (endpoint == "read-late" && !sleepFor(std::chrono::milliseconds(arg(0, 1000)))) return;

    std::vector<std::string> te;
    for (const std::string& v : req.headerValues("Transfer-Encoding")) {
      for (std::string& t : tokens(v)) te.push_back(std::move(t));
    }
    std::vector<std::string> cls = req.headerValues("Content-Length");
    if (!te.empty() && !cls.empty()) protocolError("both Transfer-Encoding and Content-Length on " + req.target);
    if (cls.size() > 1) protocolError("several Content-Length on " + req.target);

    if (!te.empty()) {
      if (te.back() != "chunked" || te.size() != 1) {
        protocolError("unexpected Transfer-Encoding on " + req.target);
        io.sendAll("HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      if (expect_continue && !io.sendAll("HTTP/1.1 100 Continue\r\n\r\n")) return;
      req.chunked = true;
      for (;;) {
        if (!io.readLine(line, bare_lf)) {
          protocolError("connection closed inside a chunk size line of " + req.target);
          return;
        }
        std::string_view size_text = line;
        size_text = size_text.substr(0, size_text.find(';'));
        std::string trimmed = trimOws(size_text);
        uint64_t size = 0;
        auto [p, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), size, 16);
        if (trimmed.empty() || ec != std::errc() || p != trimmed.data() + trimmed.size()) {
          protocolError("bad chunk size line in " + req.target + ": " + line);
          io.sendAll("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
          return;
        }
        if (size == 0) break;
        req.chunk_sizes.push_back(size);
        if (!io.readInto(size, sink)) {
          protocolError("connection closed inside chunk data of " + req.target);
          return;
        }
        std::string crlf;
        if (!io.readExact(2, crlf) || crlf != "\r\n") {
          protocolError("chunk data not followed by CRLF in " + req.target);
          return;
        }
      }
      for (;;) {
        if (!io.readLine(line, bare_lf)) {
          protocolError("connection closed inside the trailers of " + req.target);
          return;
        }
        if (line.empty()) break;
        size_t colon = line.find(':');
        if (colon == std::string::npos) {
          protocolError("bad trailer line in " + req.target);
          return;
        }
        req.trailers.emplace_back(line.substr(0, colon), trimOws(std::string_view(line).substr(colon + 1)));
      }
    } else if (!cls.empty()) {
      uint64_t length = 0;
      if (!parseUnsigned(cls.front(), length)) {
        protocolError("bad Content-Length on " + req.target + ": " + cls.front());
        io.sendAll("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      if (expect_continue && length > 0 && !io.sendAll("HTTP/1.1 100 Continue\r\n\r\n")) return;
      if (length > 0 && !io.readInto(length, sink)) {
        protocolError("connection closed inside the body of " + req.target);
        return;
      }
    }

    req.body_fnv1a = hash.hex();
    const bool head = req.method == "HEAD";
    const bool http10 = req.version == "HTTP/1.0";
    ReceivedRequest copy = req;
    const size_t target_count = record(std::move(req));
    const ReceivedRequest& r = copy;

    auto respond = [&](int status, const Headers& extra, std::string_view body, bool with_length = true) {
      std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) + "\r\n";
      for (const auto& [n, v] : extra) out += n + ": " + v + "\r\n";
      bool bodiless = status < 200 || status == 204 || status == 304;
      if (with_length && !bodiless) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
      if (!keep_alive) out += "Connection: close\r\n";
      else if (http10) out += "Connection: keep-alive\r\n";
      out += "\r\n";
      if (!head && !bodiless) out.append(body);
      return io.sendAll(out);
    };
    auto chunkedHead = [&](int status, const Headers& extra) {
      std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) + "\r\n";
      for (const auto& [n, v] : extra) out += n + ": " + v + "\r\n";
      if (http10) {
        keep_alive = false;  // no chunked replies to HTTP/1.0: close-delimited instead
        out += "Connection: close\r\n";
      } else {
        out += "Transfer-Encoding: chunked\r\n";
        if (!keep_alive) out += "Connection: close\r\n";
      }
      out += "\r\n";
      return io.sendAll(out);
    };
    auto sendChunk = [&](std::string_view data) { return io.sendAll(http10 ? std::string(data) : chunk(data)); };
    auto endChunks = [&] { return http10 || io.sendAll("0\r\n\r\n"); };
    auto echo = [&] {
      nlohmann::json j;
      j["method"] = r.method;
      j["target"] = r.target;
      j["version"] = r.version;
      j["headers"] = nlohmann::json::array();
      for (const auto& [n, v] : r.headers) j["headers"].push_back({n, v});
      j["body_length"] = r.body_length;
      j["body_fnv1a"] = r.body_fnv1a;
      j["chunked"] = r.chunked;
      j["connection"] = r.connection;
      j["seq"] = r.seq;
      std::string body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      return respond(200,
                     {{"Content-Type", "application/json"},
                      {"X-Echo-Method", r.method},
                      {"X-Echo-Target", r.target},
                      {"X-Body-Length", std::to_string(r.body_length)},
                      {"X-Body-Fnv1a", r.body_fnv1a},
                      {"X-Backend-Connection", std::to_string(r.connection)}},
                     body);
    };

    bool ok = true;
    if (endpoint == "echo" || endpoint == "discard" || endpoint == "read-late") {
      ok = echo();
    } else if (endpoint == "mirror") {
      ok = respond(200, {{"Content-Type", "application/octet-stream"}, {"X-Body-Fnv1a", fnv1a64Hex(r.body)}}, r.body);
    } else if (endpoint == "mirror-chunked") {
      ok = chunkedHead(200, {{"Content-Type", "application/octet-stream"}, {"X-Body-Fnv1a", fnv1a64Hex(r.body)}});
      for (size_t off = 0; ok && !head && off < r.body.size(); off += 64 * 1024) {
        ok = sendChunk(std::string_view(r.body).substr(off, 64 * 1024));
      }
      if (ok && !head) ok = endChunks();
    } else if (endpoint == "status") {
      int status = static_cast<int>(arg(0, 200));
      ok = respond(status, {{"Content-Type", "text/plain"}}, "status " + std::to_string(status));
    } else if (endpoint == "delay" || endpoint == "slow-first-byte") {
      if (!sleepFor(std::chrono::milliseconds(arg(0, 1000)))) return;
      ok = echo();
    } else if (endpoint == "bytes") {
      // Streamed in pieces so that very large sizes cost no memory here.
      uint64_t n = arg(0, 0);
      std::string out = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                        std::to_string(n) + "\r\n";
      if (!keep_alive) out += "Connection: close\r\n";
      else if (http10) out += "Connection: keep-alive\r\n";
      out += "\r\n";
      ok = io.sendAll(out);
      constexpr uint64_t kPiece = 65 * 4096;  // a multiple of the pattern's period
      const std::string piece = pattern(kPiece);
      for (uint64_t off = 0; ok && !head && off < n; off += kPiece) {
        ok = io.sendAll(std::string_view(piece).substr(0, static_cast<size_t>(std::min(kPiece, n - off))));
        bytes_sent_.fetch_add(std::min(kPiece, n - off));
      }
    } else if (endpoint == "chunked") {
      uint64_t count = arg(0, 3);
      uint64_t size = arg(1, 100);
      std::string all = pattern(count * size);
      ok = chunkedHead(200, {{"Content-Type", "application/octet-stream"}});
      for (uint64_t i = 0; ok && !head && i < count; ++i) ok = sendChunk(std::string_view(all).substr(i * size, size));
      if (ok && !head) ok = endChunks();
    } else if (endpoint == "drip") {
      uint64_t count = arg(0, 3);
      uint64_t ms = arg(1, 100);
      ok = chunkedHead(200, {{"Content-Type", "text/plain"}});
      for (uint64_t i = 0; ok && !head && i < count; ++i) {
        if (!sleepFor(std::chrono::milliseconds(ms))) return;
        ok = sendChunk("drip " + std::to_string(i) + "\n");
      }
      if (ok && !head) ok = endChunks();
    } else if (endpoint == "slow-body") {
      std::string out = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n";
      out += keep_alive ? (http10 ? "Connection: keep-alive\r\n" : "") : "Connection: close\r\n";
      out += "\r\n";
      ok = io.sendAll(out);
      if (ok && !head) {
        ok = io.sendAll("01234");
        if (!sleepFor(std::chrono::milliseconds(arg(0, 500)))) return;
        ok = ok && io.sendAll("56789");
      }
    } else if (endpoint == "headers") {
      ok = respond(200,
                   {{"Content-Type", "text/plain"},
                    {"X-Order-A", "1"},
                    {"Set-Cookie", "a=1; Path=/"},
                    {"X-Order-B", "2"},
                    {"Set-Cookie", "b=2; Path=/; HttpOnly"},
                    {"X-Order-C", "3"},
                    {"Set-Cookie", "c=3"},
                    {"Connection", "x-custom, keep-alive"},
                    {"X-Custom", "must-not-pass"},
                    {"Keep-Alive", "timeout=5, max=100"},
                    {"Upgrade", "h2c"},
                    {"Proxy-Connection", "keep-alive"},
                    {"X-End-To-End", "kept"}},
                   "headers\n");
    } else if (endpoint == "close-mid-body") {
      io.sendAll("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n" +
                 (head ? std::string() : pattern(100)));
      if (head) continue;
      return;
    } else if (endpoint == "close-mid-chunked") {
      ok = chunkedHead(200, {{"Content-Type", "application/octet-stream"}});
      if (head) continue;
      std::string all = pattern(200);
      ok = ok && sendChunk(std::string_view(all).substr(0, 100));
      ok = ok && sendChunk(std::string_view(all).substr(100, 100));
      return;
    } else if (endpoint == "no-response") {
      return;
    } else if (endpoint == "cache") {
      CacheResource res = cacheResource(r, target_count);
      if (res.delay_ms > 0 && !sleepFor(std::chrono::milliseconds(res.delay_ms))) return;
      if (!res.chunked || res.status == 204 || res.status == 304) {
        ok = respond(res.status, res.fields, res.body);
      } else {
        constexpr size_t kChunk = 16 * 1024;
        ok = chunkedHead(res.status, res.fields);
        for (size_t off = 0; ok && !head && off < res.body.size(); off += kChunk) {
          ok = sendChunk(std::string_view(res.body).substr(off, kChunk));
        }
        if (ok && !head) ok = endChunks();
      }
    } else if (endpoint == "close-delimited") {
      // No Content-Length, no chunking: the body ends when the connection does.
      io.sendAll("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n" +
                 (head ? std::string() : pattern(arg(0, 100))));
      return;
    }
    if (!ok || !keep_alive) return;
  }
}

}  // namespace perfgate::test
