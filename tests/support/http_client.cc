#include "support/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace perfgate::test {

namespace {

using Clock = std::chrono::steady_clock;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string trimOws(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

std::string printable(std::string_view s, size_t max = 300) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

const char* framingName(Framing f) {
  switch (f) {
    case Framing::None: return "no body";
    case Framing::ContentLength: return "content-length";
    case Framing::Chunked: return "chunked";
    case Framing::CloseDelimited: return "close-delimited";
  }
  return "?";
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return "";
}

bool HttpResponse::hasHeader(std::string_view name) const { return headerCount(name) > 0; }

size_t HttpResponse::headerCount(std::string_view name) const {
  size_t count = 0;
  for (const auto& h : headers) count += iequals(h.first, name) ? 1 : 0;
  return count;
}

std::vector<std::string> HttpResponse::headerValues(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) out.push_back(v);
  }
  return out;
}

std::vector<std::string> HttpResponse::headerTokens(std::string_view name) const {
  std::vector<std::string> out;
  for (const std::string& v : headerValues(name)) {
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      std::string t = trimOws(std::string_view(v).substr(start, comma - start));
      for (char& c : t) c = lower(c);
      if (!t.empty()) out.push_back(t);
      start = comma + 1;
    }
  }
  return out;
}

std::string HttpResponse::summary() const {
  std::string out = status == 0 ? std::string("no status line") : version + " " + std::to_string(status) + " " + reason;
  out += ", " + std::to_string(headers.size()) + " headers, body " + std::to_string(body_bytes) + " bytes (" +
         framingName(framing) + ")";
  out += complete ? ", complete" : ", INCOMPLETE";
  if (peer_closed) out += ", peer closed";
  if (!error.empty()) out += ", error: " + error;
  if (!body.empty() && body.size() <= 200) out += ", body: " + printable(body);
  return out;
}

HttpConnection::HttpConnection(int port, Millis timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    connect_error_ = std::string("socket: ") + std::strerror(errno);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      connect_error_ = std::string("connect: ") + std::strerror(errno);
      ::close(fd);
      return;
    }
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (r <= 0 || err != 0) {
      connect_error_ = r <= 0 ? "connect: timeout" : std::string("connect: ") + std::strerror(err);
      ::close(fd);
      return;
    }
  }
  fd_ = fd;
}

HttpConnection::~HttpConnection() { close(); }

HttpConnection::HttpConnection(HttpConnection&& other) noexcept { *this = std::move(other); }

HttpConnection& HttpConnection::operator=(HttpConnection&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    buf_ = std::move(other.buf_);
    eof_ = other.eof_;
    connect_error_ = std::move(other.connect_error_);
    other.fd_ = -1;
    other.eof_ = false;
  }
  return *this;
}

void HttpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void HttpConnection::abortWithReset() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close();
}

void HttpConnection::shutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool HttpConnection::send(std::string_view bytes, Millis timeout) {
  if (fd_ < 0) return false;
  auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int left = remainingMs(deadline);
      if (left == 0 || ::poll(&p, 1, left) <= 0) return false;
      if (p.revents & (POLLERR | POLLHUP)) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool HttpConnection::fill(Clock::time_point deadline, std::string& why) {
  if (fd_ < 0) {
    why = "not connected";
    return false;
  }
  if (eof_) {
    why = "peer closed the connection";
    return false;
  }
  char tmp[64 * 1024];
  for (;;) {
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      why = "peer closed the connection";
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd p{fd_, POLLIN, 0};
      int left = remainingMs(deadline);
      if (left == 0 || ::poll(&p, 1, left) == 0) {
        why = "timed out";
        return false;
      }
      continue;
    }
    eof_ = true;
    why = std::string("connection error: ") + std::strerror(errno);
    return false;
  }
}

HttpResponse HttpConnection::readResponse(const ReadOptions& options) {
  auto deadline = Clock::now() + options.timeout;
  HttpResponse resp;
  std::string why;
  auto fail = [&](std::string what) {
    resp.error = std::move(what);
    resp.peer_closed = eof_;
    return resp;
  };

  for (;;) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline, why)) {
        return fail(buf_.empty() ? "no response: " + why
                                 : "incomplete response head (" + why + "): " + printable(buf_));
      }
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    resp.headers.clear();
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]
    if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0 || status_line[8] != ' ' ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
      return fail("bad status line: " + printable(status_line));
    }
    resp.version = status_line.substr(0, 8);
    int status = 0;
    auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
    if (ec != std::errc() || p != status_line.data() + 12) return fail("bad status code: " + printable(status_line));
    resp.status = status;
    resp.reason = status_line.size() > 13 ? status_line.substr(13) : "";
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string_view line(head.data() + pos, next - pos);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) return fail("bad header line: " + printable(line));
      resp.headers.emplace_back(std::string(line.substr(0, colon)), trimOws(line.substr(colon + 1)));
      pos = next + 2;
    }
    if (status >= 100 && status < 200 && status != 101) {
      resp.interim.push_back(status);
      if (options.stop_at_interim) {
        resp.complete = true;
        return resp;
      }
      continue;
    }
    break;
  }

  if (options.head || resp.status == 204 || resp.status == 304 || resp.status == 101) {
    resp.framing = Framing::None;
    resp.complete = true;
    return resp;
  }

  // Moves up to `n` bytes from the front of buf_ into the body (or only counts them).
  Fnv1a hash;
  auto take = [&](uint64_t n) {
    size_t k = static_cast<size_t>(std::min<uint64_t>(n, buf_.size()));
    std::string_view data(buf_.data(), k);
    hash.update(data);
    resp.body_bytes += k;
    if (options.keep_body) resp.body.append(data);
    buf_.erase(0, k);
    return k;
  };
  auto finish = [&] {
    resp.body_fnv1a = hash.hex();
    return resp;
  };
  auto failBody = [&](std::string what) {
    resp.body_fnv1a = hash.hex();
    return fail(std::move(what));
  };

  std::vector<std::string> te = resp.headerTokens("Transfer-Encoding");
  if (!te.empty()) {
    if (te.back() != "chunked") return fail("response Transfer-Encoding is not chunked: " + resp.header("Transfer-Encoding"));
    resp.framing = Framing::Chunked;
    auto readLine = [&](std::string& line) {
      size_t nl;
      while ((nl = buf_.find("\r\n")) == std::string::npos) {
        if (buf_.size() > 64 * 1024 || !fill(deadline, why)) return false;
      }
      line = buf_.substr(0, nl);
      buf_.erase(0, nl + 2);
      return true;
    };
    for (;;) {
      std::string line;
      if (!readLine(line)) return failBody("chunked body cut before the last chunk (" + why + ")");
      std::string size_text = trimOws(std::string_view(line).substr(0, line.find(';')));
      uint64_t size = 0;
      auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
      if (size_text.empty() || ec != std::errc() || p != size_text.data() + size_text.size()) {
        return failBody("bad chunk size line: " + printable(line));
      }
      if (size == 0) break;
      for (uint64_t left = size; left > 0;) {
        left -= take(left);
        if (left > 0 && !fill(deadline, why)) return failBody("chunked body cut inside a chunk (" + why + ")");
      }
      while (buf_.size() < 2) {
        if (!fill(deadline, why)) return failBody("chunked body cut after chunk data (" + why + ")");
      }
      if (buf_.compare(0, 2, "\r\n") != 0) return failBody("chunk data not followed by CRLF");
      buf_.erase(0, 2);
      resp.chunk_sizes.push_back(static_cast<size_t>(size));
    }
    for (;;) {
      std::string line;
      if (!readLine(line)) return failBody("chunked body cut inside the trailers (" + why + ")");
      if (line.empty()) break;
      size_t colon = line.find(':');
      if (colon == std::string::npos) return failBody("bad trailer line: " + printable(line));
      resp.trailers.emplace_back(line.substr(0, colon), trimOws(std::string_view(line).substr(colon + 1)));
    }
    resp.terminator_seen = true;
    resp.complete = true;
    return finish();
  }

  std::vector<std::string> cls = resp.headerValues("Content-Length");
  if (!cls.empty()) {
    if (cls.size() > 1) return fail("several Content-Length headers in the response");
    uint64_t length = 0;
    auto [p, ec] = std::from_chars(cls[0].data(), cls[0].data() + cls[0].size(), length);
    if (ec != std::errc() || p != cls[0].data() + cls[0].size()) return fail("bad Content-Length: " + cls[0]);
    resp.framing = Framing::ContentLength;
    for (uint64_t left = length; left > 0;) {
      left -= take(left);
      if (left > 0 && !fill(deadline, why)) {
        return failBody("body cut at " + std::to_string(resp.body_bytes) + " of " + std::to_string(length) +
                        " bytes (" + why + ")");
      }
    }
    resp.complete = true;
    return finish();
  }

  resp.framing = Framing::CloseDelimited;
  do {
    take(buf_.size());
  } while (fill(deadline, why));
  take(buf_.size());
  if (!eof_) return failBody("close-delimited body: " + why);
  resp.peer_closed = true;
  resp.complete = true;
  return finish();
}

bool HttpConnection::closedByPeer(Millis timeout, std::string* received) {
  auto deadline = Clock::now() + timeout;
  std::string why;
  for (;;) {
    if (received) received->append(buf_);
    buf_.clear();
    if (!fill(deadline, why)) return eof_;
  }
}

bool HttpConnection::waitReadable(Millis timeout) {
  if (!buf_.empty() || eof_) return true;
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

std::string HttpConnection::readAvailable(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  std::string why;
  while (fill(deadline, why)) {
  }
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

std::string buildRequest(std::string_view method, std::string_view target, const Headers& headers,
                         std::string_view body, std::string_view version) {
  std::string out;
  out.append(method).append(" ").append(target).append(" ").append(version).append("\r\n");
  bool has_host = false;
  bool has_framing = false;
  for (const auto& [n, v] : headers) {
    has_host |= iequals(n, "Host");
    has_framing |= iequals(n, "Content-Length") || iequals(n, "Transfer-Encoding");
  }
  if (!has_host) out += "Host: test.local\r\n";
  for (const auto& [n, v] : headers) out += n + ": " + v + "\r\n";
  if (!has_framing && (!body.empty() || method == "POST" || method == "PUT")) {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n";
  out.append(body);
  return out;
}

std::string chunkedBody(std::string_view body, size_t chunk_size) {
  std::string out;
  for (size_t off = 0; off < body.size(); off += chunk_size) {
    std::string_view part = body.substr(off, chunk_size);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    out += size;
    out.append(part);
    out += "\r\n";
  }
  out += "0\r\n\r\n";
  return out;
}

HttpResponse request(int port, std::string_view method, std::string_view target, const Headers& headers,
                     std::string_view body, Millis timeout) {
  HttpConnection conn(port, timeout);
  if (!conn.connected()) {
    HttpResponse resp;
    resp.error = conn.connectError();
    return resp;
  }
  if (!conn.send(buildRequest(method, target, headers, body), timeout)) {
    // The server may have answered early (e.g. 413) and stopped reading: read what it said.
    HttpResponse resp = conn.readResponse(ReadOptions{timeout, method == "HEAD", false, true});
    if (resp.status == 0) resp.error = "could not send the request; " + resp.error;
    return resp;
  }
  return conn.readResponse(ReadOptions{timeout, method == "HEAD", false, true});
}

int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

HttpResponse adminRequest(int port, std::string_view method, std::string_view target, std::string_view body,
                          Headers headers) {
  headers.push_back({"Host", "127.0.0.1:" + std::to_string(port)});
  if (method == "POST" || method == "PUT") headers.push_back({"Content-Type", "application/json"});
  return request(port, method, target, headers, body);
}

}  // namespace perfgate::test
