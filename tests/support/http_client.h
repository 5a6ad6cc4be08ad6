// A raw-socket HTTP/1.1 client for tests: sends arbitrary bytes (malformed requests included) and
// reads responses strictly, recording how each was framed, so tests can assert on the wire format.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "support/test_backend.h"

namespace perfgate::test {

using Millis = std::chrono::milliseconds;

// Generous default for a single wait: tests assert on outcomes, never on speed.
inline constexpr Millis kDefaultTimeout{8000};

enum class Framing { None, ContentLength, Chunked, CloseDelimited };

struct HttpResponse {
  std::string version;  // "HTTP/1.1"
  int status = 0;       // 0 when no status line arrived
  std::string reason;
  Headers headers;      // in order, names as sent
  std::string body;     // decoded (de-chunked); empty when read with keep_body = false
  uint64_t body_bytes = 0;  // decoded body bytes received (also when not kept)
  std::string body_fnv1a;   // fnv1a64Hex of those bytes
  Framing framing = Framing::None;
  bool complete = false;             // the body arrived whole (CL satisfied, 0-chunk seen, or EOF for close-delimited)
  bool terminator_seen = false;      // chunked: the last chunk (0) and the end of the trailers arrived
  std::vector<size_t> chunk_sizes;   // chunked: the sizes of the chunks as received
  Headers trailers;
  std::vector<int> interim;          // 1xx statuses received before this response
  bool peer_closed = false;          // EOF/reset seen while reading this response
  std::string error;                 // why reading failed; empty on success

  bool ok() const { return error.empty() && status != 0; }
  std::string header(std::string_view name) const;  // first value, "" when absent
  bool hasHeader(std::string_view name) const;
  size_t headerCount(std::string_view name) const;
  std::vector<std::string> headerValues(std::string_view name) const;
  // Comma-separated tokens of every `name` header, lowercased ("Connection: close, X" -> close, x).
  std::vector<std::string> headerTokens(std::string_view name) const;
  // One line for failure messages: "HTTP/1.1 200 OK, 12 headers, body 10 bytes (content-length), complete".
  std::string summary() const;
};

struct ReadOptions {
  Millis timeout = kDefaultTimeout;
  bool head = false;            // the request was HEAD: no body follows whatever the headers say
  bool stop_at_interim = false; // return a 1xx response as it is instead of reading on
  bool keep_body = true;        // false: only count and hash the body (huge downloads)
};

class HttpConnection {
 public:
  HttpConnection() = default;
  // Connects to 127.0.0.1:port; check connected().
  explicit HttpConnection(int port, Millis timeout = kDefaultTimeout);
  ~HttpConnection();
  HttpConnection(HttpConnection&& other) noexcept;
  HttpConnection& operator=(HttpConnection&& other) noexcept;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  const std::string& connectError() const { return connect_error_; }
  int fd() const { return fd_; }

  // Sends all of `bytes` (false when the peer closed or nothing could be written for `timeout`).
  bool send(std::string_view bytes, Millis timeout = kDefaultTimeout);
  // Reads one response (1xx responses are collected in `interim` unless stop_at_interim).
  HttpResponse readResponse(const ReadOptions& options = {});
  HttpResponse readResponse(Millis timeout, bool head = false) { return readResponse(ReadOptions{timeout, head, false}); }

  // Waits up to `timeout` for the peer to close (EOF or reset): true when it did. Bytes that
  // arrive meanwhile are discarded and appended to `*received` when given.
  bool closedByPeer(Millis timeout = kDefaultTimeout, std::string* received = nullptr);
  // True when bytes (or EOF) are ready to read within `timeout`; consumes nothing.
  bool waitReadable(Millis timeout);
  // Whatever arrives within `timeout` (stops early at EOF); leaves nothing buffered.
  std::string readAvailable(Millis timeout);
  // Bytes already read from the socket but not yet consumed by readResponse.
  const std::string& buffered() const { return buf_; }

  void shutdownWrite();
  // Closes with SO_LINGER 0: the peer sees a reset instead of a FIN.
  void abortWithReset();
  void close();

 private:
  // Reads more bytes into buf_; returns false on EOF/error/timeout and sets the reason.
  bool fill(std::chrono::steady_clock::time_point deadline, std::string& why);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  std::string connect_error_;
};

// "METHOD target version\r\n" + headers + "\r\n" + body. Adds "Host: test.local" when the headers
// have no Host, and Content-Length when the body is non-empty (or the method is POST/PUT) and the
// headers have neither Content-Length nor Transfer-Encoding.
std::string buildRequest(std::string_view method, std::string_view target, const Headers& headers = {},
                         std::string_view body = {}, std::string_view version = "HTTP/1.1");

// `body` as chunked transfer coding in chunks of `chunk_size` (the last may be shorter), with the
// last chunk and an empty trailer section.
std::string chunkedBody(std::string_view body, size_t chunk_size);

// One request on a fresh connection; the response (error set when anything failed).
HttpResponse request(int port, std::string_view method, std::string_view target, const Headers& headers = {},
                     std::string_view body = {}, Millis timeout = kDefaultTimeout);

// A call to the admin listener on `port` as an operator's client makes it: Host names the listener
// (127.0.0.1:PORT) and a POST or PUT says Content-Type: application/json, as the admin API
// requires of state-changing calls. `headers` are added (and may override neither).
HttpResponse adminRequest(int port, std::string_view method, std::string_view target, std::string_view body = {},
                          Headers headers = {});

// A port on 127.0.0.1 on which nothing listens (bound then closed).
int closedPort();

}  // namespace perfgate::test
