// The whole gateway as a state machine under a hostile client and a hostile backend at once: one
// worker (connections, filters, cache, upstream pool) driven on the caller's thread over real
// loopback sockets, with the fuzzer choosing the client's bytes, the backend's responses and the
// read/write boundaries of both. See checkGateway in fuzz_checks.h for the properties.
//
// How a wrong delivery is seen: every body the harness backend sends carries tags "<HOST PATH>"
// naming the request it answers (as the backend received it), and bytes it sends beyond a
// response's framing carry "<evil>". A client response, or a stored cache entry, holding any
// other tag than its own request's (or key's) was delivered or stored for the wrong request.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "filters/cache/cache_key.h"
#include "gateway/http/content_codec.h"
#include "fuzz/fuzz_checks.h"
#include "filters/cache/cache_module.h"
#include "gateway/gateway.h"
#include "gateway/worker.h"

namespace perfgate::fuzz {
namespace {

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "gateway fuzz: %s\n", what.c_str());
  std::abort();
}

constexpr std::string_view kEvil = "<evil>";
constexpr size_t kMaxSteps = 300;
constexpr size_t kMaxClients = 3;

const char* const kHosts[] = {"x", "y"};
const char* const kPaths[] = {"/a", "/b", "/victim", "/nc/a", "/e/a", "/p/a"};
const char* const kRanges[] = {"bytes=0-3", "bytes=2-40", "bytes=10-", "bytes=-5", "bytes=0-3,8-9"};
const char* const kAcceptEncodings[] = {"gzip", "br", "zstd", "gzip, deflate, br, zstd", "br;q=0.5, gzip", "*;q=0",
                                        "zstd, identity;q=0", "x-gzip, br;q=0"};
constexpr ContentCoding kBackendCodings[] = {ContentCoding::Gzip, ContentCoding::Br, ContentCoding::Zstd};
const char* const kMethods[] = {"GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
const char* const kCacheControls[] = {"max-age=60", "no-store", "private", "max-age=0, stale-while-revalidate=30",
                                      "max-age=60, must-revalidate", ""};

// The fuzzer's bytes, read as choices; past the end every choice is 0.
class Input {
 public:
  explicit Input(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  uint8_t byte() { return pos_ < data_.size() ? static_cast<uint8_t>(data_[pos_++]) : 0; }
  size_t below(size_t n) { return n == 0 ? 0 : byte() % n; }
  std::string bytes(size_t n) {
    n = std::min(n, data_.size() - std::min(pos_, data_.size()));
    std::string out(data_.substr(pos_, n));
    pos_ += n;
    return out;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

void setNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

int listenLoopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 64) != 0) {
    broken("cannot listen on loopback");
  }
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

void closeWithReset(int fd) {
  linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

// Reads what is there without blocking; false once the peer closed (or reset).
bool drain(int fd, std::string& into) {
  char buffer[16384];
  while (true) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      into.append(buffer, static_cast<size_t>(n));
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
}

// Sends as much of `bytes` as the socket takes now; returns the count.
size_t sendSome(int fd, std::string_view bytes) {
  if (bytes.empty()) return 0;
  ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

std::string tagFor(std::string_view host, std::string_view path) {
  return "<" + std::string(host) + " " + std::string(path) + ">";
}

// Every complete "<...>" in `body` must be `expected`; "<evil>" never.
// A body as its Content-Encoding says it is encoded (`coding`: the field's value, "" when none),
// decoded for checkTags; false when it does not decode (a corrupt body the backend sent and the
// gateway passed on as it was): its bytes then say nothing about tags.
bool decodeForCheck(std::string_view coding, std::string& body) {
  if (coding.empty()) return true;
  std::optional<ContentCoding> known = parseCoding(coding);
  if (!known) return true;
  std::optional<std::string> decoded = decodeWhole(*known, body, 1 << 20);
  if (!decoded) return false;
  body = std::move(*decoded);
  return true;
}

void checkTags(std::string_view body, std::string_view expected, const std::string& where) {
  size_t at = 0;
  while ((at = body.find('<', at)) != std::string_view::npos) {
    size_t end = body.find_first_of("<>", at + 1);
    if (end == std::string_view::npos) return;
    if (body[end] == '>') {
      std::string_view tag = body.substr(at, end - at + 1);
      if (tag == kEvil) broken(where + ": bytes sent beyond a response's framing were delivered");
      if (tag != expected) {
        broken(where + ": holds " + std::string(tag) + " but belongs to " + std::string(expected));
      }
    }
    at = end;
  }
}

std::optional<std::string_view> fieldOf(std::string_view head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    size_t start = pos + 2;
    size_t eol = head.find("\r\n", start);
    std::string_view line = head.substr(start, eol - start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && equalsIgnoreCase(line.substr(0, colon), name)) {
      return trimOws(line.substr(colon + 1));
    }
    pos = eol;
  }
  return std::nullopt;
}

// Decodes a chunked body at `from`; the bytes consumed (0: incomplete) and the data.
size_t dechunk(std::string_view in, size_t from, std::string& out) {
  size_t pos = from;
  while (true) {
    size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return 0;
    size_t size = std::strtoull(std::string(in.substr(pos, eol - pos)).c_str(), nullptr, 16);
    pos = eol + 2;
    if (size == 0) {  // trailers, then the empty line
      while (true) {
        size_t line_end = in.find("\r\n", pos);
        if (line_end == std::string_view::npos) return 0;
        bool empty = line_end == pos;
        pos = line_end + 2;
        if (empty) return pos - from;
      }
    }
    if (in.size() < pos + size + 2) return 0;
    out.append(in.substr(pos, size));
    pos += size + 2;
  }
}

// ---------------------------------------------------------------------------------------------
// The backend side.

struct BackendRequest {
  std::string method;
  std::string path;
  std::string host;
  std::string range;  // its Range field, "" when none
};

struct BackendConn {
  int fd = -1;
  std::string in;
  std::deque<BackendRequest> waiting;  // received, no response begun
  bool answered_any = false;
  std::string plan;         // bytes of the current response not yet written
  size_t frame_left = 0;    // of `plan`, those up to the end of the response's framing
  bool clean = true;        // every response so far ended exactly at its framing, reusable
  bool close_after = false;  // shut the write side once `plan` is written
  bool whole = false;        // `plan` goes out in one send
  bool closed = false;
  size_t requests = 0;       // received on this connection
};

// Cuts complete requests off the front of c.in (the gateway writes well-formed ones) and checks
// the reuse property for each: a request arrives only on a connection whose every earlier
// response was written whole, ended exactly at its framing and left the connection reusable.
void readRequests(BackendConn& c) {
  while (true) {
    size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    std::string_view head = std::string_view(c.in).substr(0, head_end + 2);
    size_t sp1 = head.find(' ');
    size_t sp2 = head.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) broken("the gateway sent a malformed request line");
    BackendRequest request{std::string(head.substr(0, sp1)), std::string(head.substr(sp1 + 1, sp2 - sp1 - 1)),
                           std::string(fieldOf(head, "host").value_or("")),
                           std::string(fieldOf(head, "range").value_or(""))};
    size_t consumed = head_end + 4;
    if (auto te = fieldOf(head, "transfer-encoding")) {
      std::string body;
      size_t used = dechunk(c.in, consumed, body);
      if (used == 0) return;
      consumed += used;
    } else if (auto length = fieldOf(head, "content-length")) {
      size_t n = std::strtoull(std::string(*length).c_str(), nullptr, 10);
      if (c.in.size() < consumed + n) return;
      consumed += n;
    }
    c.in.erase(0, consumed);

    if (!c.waiting.empty()) broken("the gateway pipelined a request behind an unanswered one");
    if (c.answered_any) {
      if (c.frame_left > 0) broken("a connection was reused before its response was complete");
      if (!c.clean) broken("a connection was reused after a response not framed exactly, or not reusable");
      c.plan.clear();  // late bytes of the last response: never sent now
    }
    if (std::getenv("PERFGATE_FUZZ_TRACE") != nullptr) {
      std::fprintf(stderr, "  backend %d receives %s %s (host %s)\n", c.fd, request.method.c_str(), request.path.c_str(),
                   request.host.c_str());
    }
    c.waiting.push_back(std::move(request));
    ++c.requests;
  }
}

// The response to `request`, shaped by the fuzzer: the bytes, where its framing ends, whether it
// leaves the connection reusable, and whether the backend closes after it.
struct Planned {
  std::string bytes;
  size_t frame = 0;
  bool clean = true;
  bool close_after = false;
  bool whole = false;  // written in one go: a prefix of it might read as a complete response
};

Planned planResponse(Input& in, const BackendRequest& request) {
  std::string tag = tagFor(request.host, request.path);
  std::string body;
  for (size_t i = 0, n = 1 + in.below(4); i < n; ++i) body += tag + " filler text ";
  std::string fields = "Content-Type: text/plain\r\n";
  if (const char* cc = kCacheControls[in.below(std::size(kCacheControls))]; *cc) {
    fields += "Cache-Control: " + std::string(cc) + "\r\n";
  }
  uint8_t flags = in.byte();
  if (flags & 1) fields += "ETag: \"v1\"\r\n";
  if (flags & 2) fields += "Vary: Accept-Encoding\r\n";
  if (flags & 4) fields += "Last-Modified: Sat, 01 Jan 2000 00:00:00 GMT\r\n";
  if (flags & 16) fields += "Content-Location: " + request.path + "\r\n";
  if (flags & 32) {  // encoded by the backend, whatever it was asked; sometimes broken
    ContentCoding coding = kBackendCodings[in.below(std::size(kBackendCodings))];
    body = encodeWhole(coding, body, 3);
    // Cut short, or followed by bytes that start no member or frame: invalid for every decoder
    // (a flipped bit could decode to other content, which no gateway could tell apart).
    if (flags & 64) body = in.below(2) ? body.substr(0, in.below(body.size())) : body + "\x01junk";
    fields += "Content-Encoding: " + std::string(codingName(coding)) + "\r\n";
  }
  const char* status = (flags & 8) ? "404 Not Found" : "200 OK";
  bool head = request.method == "HEAD";
  std::string poison = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nCache-Control: max-age=60\r\n\r\n" + std::string(kEvil);

  Planned p;
  switch (in.below(13)) {
    case 0:
    case 1:  // exact length
      p.bytes = "HTTP/1.1 " + std::string(status) + "\r\n" + fields + "Content-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + (head ? "" : body);
      p.clean = !head || body.empty();  // a HEAD answer declaring a length: never reused
      break;
    case 2: {  // chunked, two chunks
      std::string a = body.substr(0, body.size() / 2);
      std::string b = body.substr(body.size() / 2);
      p.bytes = "HTTP/1.1 " + std::string(status) + "\r\n" + fields + "Transfer-Encoding: chunked\r\n\r\n";
      if (!head) {
        for (const std::string& piece : {a, b}) {
          char size[32];
          std::snprintf(size, sizeof size, "%zx;ext=1\r\n", piece.size());
          if (!piece.empty()) p.bytes += size + piece + "\r\n";
        }
        p.bytes += "0\r\nX-Trailer: t\r\n\r\n";
      }
      p.clean = !head;
      break;
    }
    case 3:  // delimited by closing
      p.bytes = "HTTP/1.1 200 OK\r\n" + fields + "\r\n" + (head ? "" : body);
      p.clean = head;  // a HEAD answer without a length is complete at its head
      p.close_after = !head;
      break;
    case 4:  // the backend closes after it
      p.bytes = "HTTP/1.1 200 OK\r\n" + fields + "Connection: close\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + (head ? "" : body);
      p.clean = false;
      break;
    case 5:  // bodiless, no length
      p.bytes = std::string(in.below(2) ? "HTTP/1.1 304 Not Modified\r\n" : "HTTP/1.1 204 No Content\r\n") +
                (flags & 1 ? "ETag: \"v1\"\r\n" : "") + "Cache-Control: max-age=60\r\n\r\n";
      break;
    case 6: {  // bodiless with a length, and that many bytes later
      std::string declared = in.below(2) ? "HTTP/1.1 304 Not Modified\r\n" : "HTTP/1.1 204 No Content\r\n";
      if (head) declared = "HTTP/1.1 200 OK\r\n";
      p.bytes = declared + "Cache-Control: max-age=60\r\nContent-Length: " + std::to_string(poison.size()) +
                "\r\n\r\n";
      p.frame = p.bytes.size();
      p.bytes += poison;
      p.clean = false;
      return p;
    }
    case 7:  // bytes beyond the length
      p.bytes = "HTTP/1.1 200 OK\r\n" + fields + "Content-Length: " + std::to_string(head ? 0 : body.size()) +
                "\r\n\r\n" + (head ? "" : body);
      p.frame = p.bytes.size();
      p.bytes += poison;  // unclean only once written (then in the same read as the response, or not)
      return p;
    case 8:  // an interim response first
      p.bytes = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n" + fields + "Content-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + (head ? "" : body);
      p.clean = !head || body.empty();  // as for case 0
      break;
    case 9: {  // a malformed head
      const char* bad[] = {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                           "HTTP/1.1 200 OK\nSet-Cookie: a=1\r\nContent-Length: 0\r\n\r\n",
                           "HTTP/1.1 000 X\r\nContent-Length: 0\r\n\r\n",
                           "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
                           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"};
      p.bytes = bad[in.below(std::size(bad))] + poison;
      p.clean = false;
      p.close_after = true;
      break;
    }
    case 10:  // broken chunk framing
      p.bytes = "HTTP/1.1 200 OK\r\n" + fields + "Transfer-Encoding: chunked\r\n\r\n5\r\n" + tag + "zz\r\n" + poison;
      p.clean = false;
      p.close_after = true;
      break;
    case 12: {  // 206: the range asked for ("bytes=a-b" / "a-"), or the fuzzer's, with a true or false Content-Range
      size_t first = 0;
      size_t last = body.size() - 1;
      if (std::sscanf(request.range.c_str(), "bytes=%zu-%zu", &first, &last) < 1 || first >= body.size()) first = 0;
      last = std::min(std::max(last, first), body.size() - 1);
      if (in.below(4) == 0) first = in.below(static_cast<unsigned>(body.size()));
      std::string part = body.substr(first, last - first + 1);
      std::string complete = std::to_string(body.size());
      switch (in.below(5)) {
        case 0: complete = "*"; break;
        case 1: complete = std::to_string(body.size() + in.below(50)); break;  // a length that lies
        case 2: last += in.below(3); break;                                     // a span that lies
        default: break;
      }
      p.bytes = "HTTP/1.1 206 Partial Content\r\n" + fields + "Content-Range: bytes " + std::to_string(first) + "-" +
                std::to_string(last) + "/" + complete + "\r\nContent-Length: " + std::to_string(head ? 0 : part.size()) +
                "\r\n\r\n" + (head ? "" : part);
      break;
    }
    default: {  // the fuzzer's own bytes (no tags of its own), then a close
      std::string raw = in.bytes(in.below(200));
      for (char& ch : raw) {
        if (ch == '<' || ch == '>') ch = '.';
      }
      p.bytes = raw;
      p.clean = false;
      p.close_after = true;
      p.whole = true;
      break;
    }
  }
  if (p.frame == 0) p.frame = p.bytes.size();
  return p;
}

// ---------------------------------------------------------------------------------------------
// The client side.

struct ClientRequest {
  std::string host;
  std::string path;
  bool head = false;
};

struct ClientConn {
  int fd = -1;
  std::string outbox;                // bytes not yet sent
  std::deque<ClientRequest> pending;  // structured requests not yet answered, in order
  bool structured = true;            // false once raw bytes went out: responses cannot be matched
  std::string in;
  bool closed = false;
  size_t answered = 0;  // responses matched and checked
};

std::string buildClientRequest(Input& in, ClientRequest& out) {
  const char* method = kMethods[in.below(std::size(kMethods))];
  out.host = kHosts[in.below(std::size(kHosts))];
  out.path = kPaths[in.below(std::size(kPaths))];
  out.head = std::string_view(method) == "HEAD";
  uint8_t flags = in.byte();
  std::string text = std::string(method) + " " + out.path + " HTTP/1.1\r\nHost: " + out.host + "\r\n";
  if (flags & 1) text += "Accept-Encoding: " + std::string(kAcceptEncodings[in.below(std::size(kAcceptEncodings))]) + "\r\n";
  if (flags & 2) text += "If-None-Match: \"v1\"\r\n";
  if (flags & 4) text += "Cache-Control: no-cache\r\n";
  if (flags & 8) text += "Range: " + std::string(kRanges[in.below(std::size(kRanges))]) + "\r\n";
  if (flags & 16) text += "Connection: close\r\n";
  switch ((flags >> 5) & 3) {
    case 1: {
      std::string body = in.bytes(in.below(64));
      if (flags & 128) text += "Expect: 100-continue\r\n";
      text += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      return text;
    }
    case 2: {
      std::string body = in.bytes(in.below(64));
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", body.size());
      text += "Transfer-Encoding: chunked\r\n\r\n";
      if (!body.empty()) text += size + body + "\r\n";
      text += "0\r\n\r\n";
      return text;
    }
    default:
      return text + "\r\n";
  }
}

// Matches complete responses on a structured connection to its requests, in order, and checks
// each body's tags against its own request's.
void readResponses(ClientConn& c, bool eof) {
  while (c.structured) {
    size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    std::string_view head = std::string_view(c.in).substr(0, head_end + 2);
    int status = head.size() > 12 ? std::atoi(std::string(head.substr(9, 3)).c_str()) : 0;
    size_t consumed = head_end + 4;
    if (status >= 100 && status < 200) {
      c.in.erase(0, consumed);
      continue;
    }
    if (c.pending.empty()) broken("a client got a response it sent no request for: " + std::string(head.substr(0, 40)));
    const ClientRequest& request = c.pending.front();
    std::string body;
    if (request.head || status == 204 || status == 304) {
    } else if (fieldOf(head, "transfer-encoding")) {
      size_t used = dechunk(c.in, consumed, body);
      if (used == 0) return;
      consumed += used;
    } else if (auto length = fieldOf(head, "content-length")) {
      size_t n = std::strtoull(std::string(*length).c_str(), nullptr, 10);
      if (c.in.size() < consumed + n) return;
      body = c.in.substr(consumed, n);
      consumed += n;
    } else {
      if (!eof) return;
      body = c.in.substr(consumed);
      consumed = c.in.size();
    }
    if (status == 206 || decodeForCheck(fieldOf(head, "content-encoding").value_or(""), body)) {
      checkTags(body, tagFor(request.host, request.path), "the response to " + request.host + " " + request.path);
    }
    c.in.erase(0, consumed);
    c.pending.pop_front();
    ++c.answered;
  }
}

// ---------------------------------------------------------------------------------------------

struct Process {
  Process() {
    std::signal(SIGPIPE, SIG_IGN);
    spdlog::set_level(spdlog::level::off);
    backend_listener = listenLoopback(backend_port);
    std::string toml =
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\nmax_body_bytes = \"64KiB\"\n"
        "[cache]\nmax_bytes = \"4MiB\"\nmax_object_bytes = \"256KiB\"\n"
        "[compression]\nmin_bytes = 16\nbackground_queue = 8\n"
        "[upstream.backend]\nurl = \"http://127.0.0.1:" + std::to_string(backend_port) + "\"\nmax_connections = 2\n"
        "[[route]]\nname = \"nc\"\nprefix = \"/nc/\"\nupstream = \"backend\"\ncache = false\n"
        "[[route]]\nname = \"e\"\nprefix = \"/e/\"\nupstream = \"backend\"\netag = true\n"
        "cache_control = \"max-age=60\"\nstale_if_error = \"60s\"\n"
        "[[route]]\nname = \"p\"\nprefix = \"/p/\"\nupstream = \"backend\"\npartial_content = true\n"
        "store_post_responses = true\n"
        "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n";
    ConfigResult result = loadConfigString(toml, "fuzz.toml");
    if (!result) broken("the harness config does not load: " + result.error);
    config = result.config;
  }
  int backend_listener = -1;
  uint16_t backend_port = 0;
  std::shared_ptr<const Config> config;
};

class Run {
 public:
  explicit Run(const Process& process) : process_(process) {
    // Connections a previous run's gateway left in the backend's accept queue.
    while (true) {
      int fd = ::accept(process.backend_listener, nullptr, nullptr);
      if (fd < 0) break;
      closeWithReset(fd);
    }
    GatewayOptions options;
    gateway_ = std::make_unique<Gateway>(options, process.config);
    int listen_fd = listenLoopback(gateway_port_);
    worker_ = std::make_unique<Worker>(0, 1, listen_fd, gateway_->snapshot(), &open_);
  }

  ~Run() {
    for (ClientConn& c : clients_) {
      if (!c.closed) closeWithReset(c.fd);
    }
    for (BackendConn& b : backends_) {
      if (!b.closed) closeWithReset(b.fd);
    }
    for (int i = 0; i < 4; ++i) worker_->runOnce();
    checkCache();
    if (std::getenv("PERFGATE_FUZZ_TRACE") != nullptr) {  // what a run exercised, for seed writers
      size_t answered = 0;
      size_t requests = 0;
      for (const ClientConn& c : clients_) answered += c.answered;
      for (const BackendConn& b : backends_) requests += b.requests;
      std::fprintf(stderr, "gateway fuzz: %zu client connection(s), %zu response(s) checked; %zu backend connection(s), "
                   "%zu request(s); %llu cached\n", clients_.size(), answered, backends_.size(), requests,
                   static_cast<unsigned long long>(gateway_->module<CacheModule>()->store().stats().entries));
    }
    worker_.reset();
    gateway_.reset();
  }

  void step(Input& in) {
    size_t op = in.below(10);
    if (trace_) std::fprintf(stderr, "  op %zu\n", op);
    switch (op) {
      case 0:
        connectClient();
        break;
      case 1:
        if (ClientConn* c = client(in)) {
          ClientRequest request;
          c->outbox += buildClientRequest(in, request);
          c->pending.push_back(request);
        }
        break;
      case 2:
      case 3:
        if (ClientConn* c = client(in)) {
          size_t n = 1 + in.below(256);
          c->outbox.erase(0, sendSome(c->fd, std::string_view(c->outbox).substr(0, std::min(n, c->outbox.size()))));
        }
        break;
      case 4:
        if (ClientConn* c = client(in)) {
          c->outbox += in.bytes(in.below(128));
          c->structured = false;
        }
        break;
      case 5:
        if (ClientConn* c = client(in)) {
          if (in.byte() & 1) {
            ::shutdown(c->fd, SHUT_WR);
          } else {
            closeWithReset(c->fd);
            c->closed = true;
          }
        }
        break;
      case 6:
        if (BackendConn* b = backend(in); b != nullptr && b->plan.empty() && !b->waiting.empty()) {
          Planned p = planResponse(in, b->waiting.front());
          b->waiting.pop_front();
          b->answered_any = true;
          b->plan = std::move(p.bytes);
          b->frame_left = p.frame;
          b->clean = b->clean && p.clean;
          b->close_after = p.close_after;
          b->whole = p.whole;
          if (trace_) {
            std::fprintf(stderr, "  backend %d plans (clean %d, close %d): %.300s\n", b->fd, p.clean, p.close_after,
                         b->plan.c_str());
          }
        }
        break;
      case 7:
      case 8:
        if (BackendConn* b = backend(in); b != nullptr && !b->plan.empty()) {
          size_t n = (in.byte() & 1) || b->whole ? b->plan.size() : 1 + in.below(300);
          size_t sent = sendSome(b->fd, std::string_view(b->plan).substr(0, std::min(n, b->plan.size())));
          if (trace_) std::fprintf(stderr, "  backend %d sends %zu byte(s)\n", b->fd, sent);
          b->plan.erase(0, sent);
          if (sent > b->frame_left) b->clean = false;  // bytes beyond the framing went out
          b->frame_left -= std::min(sent, b->frame_left);
          if (b->plan.empty() && b->close_after) ::shutdown(b->fd, SHUT_WR);
        }
        break;
      default:
        if (BackendConn* b = backend(in)) {
          closeWithReset(b->fd);
          b->closed = true;
        }
        break;
    }
    pump();
  }

 private:
  ClientConn* client(Input& in) {
    if (clients_.empty()) return nullptr;
    ClientConn& c = clients_[in.below(clients_.size())];
    return c.closed ? nullptr : &c;
  }
  BackendConn* backend(Input& in) {
    if (backends_.empty()) return nullptr;
    BackendConn& b = backends_[in.below(backends_.size())];
    return b.closed ? nullptr : &b;
  }

  void connectClient() {
    size_t open = 0;
    for (const ClientConn& c : clients_) open += c.closed ? 0 : 1;
    if (open >= kMaxClients) return;
    // Non-blocking from the start: on loopback the connect completes at once or shortly, and
    // no signal (libFuzzer's timer) can interrupt it half-way.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(gateway_port_);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 && errno != EINPROGRESS) {
      broken(std::string("cannot connect to the gateway: ") + std::strerror(errno));
    }
    ClientConn c;
    c.fd = fd;
    clients_.push_back(std::move(c));
  }

  // Runs the worker's loop and moves bytes until nothing more happens (bounded).
  void pump() {
    for (int round = 0; round < 4; ++round) {
      worker_->runOnce();
      while (true) {
        int fd = ::accept(process_.backend_listener, nullptr, nullptr);
        if (fd < 0) break;
        setNonBlocking(fd);
        BackendConn b;
        b.fd = fd;
        backends_.push_back(std::move(b));
      }
      for (BackendConn& b : backends_) {
        if (b.closed) continue;
        if (!drain(b.fd, b.in)) {
          ::close(b.fd);
          b.closed = true;
        }
        readRequests(b);
      }
      for (ClientConn& c : clients_) {
        if (c.closed) continue;
        bool open = drain(c.fd, c.in);
        if (trace_ && !c.in.empty()) std::fprintf(stderr, "  client has %zu byte(s): %.400s\n", c.in.size(), c.in.c_str());
        if (c.in.find(kEvil) != std::string::npos) broken("bytes sent beyond a response's framing reached a client");
        readResponses(c, !open);
        if (!open) {
          ::close(c.fd);
          c.closed = true;
        }
      }
    }
  }

  // Every stored entry holds its own URL's response: no tag but its key's.
  void checkCache() {
    gateway_->module<CacheModule>()->store().eraseIf([](const CacheEntry& entry) {
      CacheKeyParts parts;
      if (!splitCacheKey(entry.key, parts)) broken("a stored entry has an unreadable key");
      std::string body = entry.body;
      HeaderBlock fields;
      appendSerializedFields(entry.fields, fields);
      if (decodeForCheck(fields.get("content-encoding").value_or(""), body)) {
        checkTags(body, tagFor(parts.host, parts.path), "the stored entry " + std::string(parts.host) + " " +
                                                            std::string(parts.path));
      }
      return false;
    });
  }

  const Process& process_;
  bool trace_ = std::getenv("PERFGATE_FUZZ_TRACE") != nullptr;
  uint16_t gateway_port_ = 0;
  std::atomic<unsigned> open_{0};
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<Worker> worker_;
  std::vector<ClientConn> clients_;
  std::vector<BackendConn> backends_;
};

}  // namespace

void checkGateway(std::string_view input) {
  static Process process;
  Input in(input);
  Run run(process);
  for (size_t i = 0; i < kMaxSteps && !in.done(); ++i) run.step(in);
}

}  // namespace perfgate::fuzz
