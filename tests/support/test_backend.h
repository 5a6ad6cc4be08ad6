// A real HTTP/1.1 origin server for integration tests: listens on 127.0.0.1 (ephemeral port),
// one thread per connection over plain blocking sockets, and records every request it receives.
//
// What it answers is chosen by the request path, so a test reads as what it asks for. A path may
// carry any leading prefix ("/api/v2/echo" acts as "/echo"): the first segment that names an
// endpoint wins; a path naming none acts as "/echo".
//
//   /echo                 200, JSON {"method","target","version","headers":[[n,v]...],
//                         "body_length","body_fnv1a","connection","seq"}; also X-Echo-Method,
//                         X-Echo-Target, X-Body-Length, X-Body-Fnv1a, X-Backend-Connection
//   /mirror               200, the request body back, with Content-Length
//   /mirror-chunked       200, the request body back, chunked (64 KiB chunks)
//   /status/N             status N, body "status N" (none for 1xx/204/304)
//   /delay/MS             sleeps MS, then as /echo
//   /slow-first-byte/MS   same as /delay/MS (nothing is sent before MS have passed)
//   /bytes/N              200, N bytes of pattern(N), Content-Length (streamed: any size)
//   /chunked/K/S          200, K chunks of S bytes (together pattern(K*S)), chunked
//   /drip/K/MS            200, chunked, K chunks of "drip i\n", one every MS
//   /slow-body/MS         200, Content-Length 10: "01234", MS pause, "56789"
//   /headers              200 with three Set-Cookie interleaved with X-Order-A/B/C, and the
//                         hop-by-hop set a proxy must strip: Connection: x-custom, keep-alive;
//                         X-Custom; Keep-Alive; Upgrade; Proxy-Connection; also X-End-To-End
//   /close-mid-body       200, Content-Length 1000, sends 100 bytes, closes
//   /close-mid-chunked    200, chunked, sends two chunks, closes without the last chunk
//   /no-response          reads the request, closes without answering
//   /close-delimited/N    200 with neither Content-Length nor chunking: N bytes, then close
//   /discard              as /echo, but the body is only counted and hashed, not kept
//   /read-late/MS         waits MS before reading the request body (not kept), then as /echo
//   /cache/ANY?PARAMS     a cacheable resource whose response is described by its query string,
//                         for cache tests (see below)
//
// /cache: each query parameter NAME=VALUE (VALUE percent-decoded; '+' stays '+'; a parameter
// may repeat where noted) shapes the response. The whole target (path and query) names the
// resource, so distinct queries are distinct resources to a cache too.
//   cc=V         Cache-Control: V (repeatable: one field line each)
//   vary=V       Vary: V (repeatable)
//   etag=V       ETag: V, as written (quotes included: etag=%22v1%22)
//   lm=DATE      Last-Modified: DATE
//   expires=V    Expires: V
//   date=V       Date: V ("now": the current time); no Date field unless given
//   age=N        Age: N
//   cookie=V     Set-Cookie: V
//   header=N:V   any other field N: V (repeatable; Content-Type here replaces the default)
//   status=N     the status (default 200)
//   body=TEXT    the body (default "fetch N\n", N as in X-Fetch)
//   size=N       the body is pattern(N) instead (Content-Length N)
//   echo=NAME    appends "NAME: <the request's NAME field, or (absent)>\n" to the body (repeatable;
//                not with size)
//   chunked=1    the body is sent chunked (16 KiB chunks) instead of with Content-Length
//   delay=MS     waits MS after receiving the request, before answering
// Every response carries Content-Type: text/plain (unless header= sets one) and X-Fetch: N, the
// number of requests received for this exact target so far, this one included (counted as by
// requestsFor(): every method, reset by clearRequests()). A GET or HEAD whose status would be 200
// is answered 304 (the same fields without Content-Type, no body) when If-None-Match lists the
// etag (weak comparison, RFC 9110 §13.1.2; "*" matches any etag), or, when the request has no
// If-None-Match, when If-Modified-Since is a date >= lm. Other methods get the same response as GET.
//
// Request bodies may come with Content-Length or chunked (decoded and recorded); Expect:
// 100-continue is answered. Keep-alive per RFC 9112 (HTTP/1.0 only when asked).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace perfgate::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

// FNV-1a 64-bit of `data`, as 16 lowercase hex digits.
std::string fnv1a64Hex(std::string_view data);

// The same, fed piece by piece.
class Fnv1a {
 public:
  void update(std::string_view data);
  std::string hex() const;

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

// Deterministic filler bytes used by /bytes and /chunked: byte i of pattern(n) does not depend on n.
std::string pattern(size_t n);

// Case-insensitive ASCII comparison of header names.
bool iequals(std::string_view a, std::string_view b);

// Percent-encodes every byte but RFC 3986 unreserved ones (ALPHA DIGIT - . _ ~), for query values.
std::string urlEncode(std::string_view text);
// Decodes %XX escapes (a malformed escape is kept as written); '+' is not a space.
std::string urlDecode(std::string_view text);

// IMF-fixdate (RFC 9110 §5.6.7) of `t` seconds since the epoch: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string httpDate(std::time_t t);
// Parses an IMF-fixdate; -1 when `text` is not one.
std::time_t parseHttpDate(std::string_view text);

// One request as the backend received it.
struct ReceivedRequest {
  std::string method;
  std::string target;   // as sent, query included
  std::string path;     // target without the query
  std::string version;  // "HTTP/1.1"
  Headers headers;      // in the order received, names as sent
  std::string body;     // decoded (chunked bodies de-chunked); empty for /discard
  uint64_t body_length = 0;  // decoded length, also for /discard
  std::string body_fnv1a;    // fnv1a64Hex of the decoded body, also for /discard
  bool body_stored = true;
  bool chunked = false;            // the body came with Transfer-Encoding: chunked
  std::vector<size_t> chunk_sizes; // sizes of the chunks when chunked
  Headers trailers;                // trailer fields after a chunked body
  uint64_t connection = 0;         // id of the connection it came on (1, 2, ...)
  size_t seq = 0;                  // index of the request on that connection (0, 1, ...)

  // First value of header `name` (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
  bool hasHeader(std::string_view name) const;
  size_t headerCount(std::string_view name) const;
  std::vector<std::string> headerValues(std::string_view name) const;
};

class TestBackend {
 public:
  TestBackend();  // listens at once; check ok() (tests: ASSERT_TRUE(backend.ok()))
  ~TestBackend(); // closes the listener and every connection, joins every thread
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  int port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:PORT"

  // Copies of the requests received so far (complete: head and body), in completion order.
  std::vector<ReceivedRequest> requests() const;
  ReceivedRequest lastRequest() const;  // default-constructed when none yet
  size_t requestCount() const;
  // Waits until at least `n` requests have been received (true) or `timeout` passed (false).
  bool waitForRequests(size_t n, std::chrono::milliseconds timeout) const;
  // Requests received (any method) whose target, query included, is exactly `target`.
  size_t requestsFor(std::string_view target) const;
  std::vector<ReceivedRequest> requestsTo(std::string_view target) const;
  // Waits until requestsFor(target) >= n (true) or `timeout` passed (false).
  bool waitForRequestsFor(std::string_view target, size_t n, std::chrono::milliseconds timeout) const;
  void clearRequests();

  // Connection counters.
  uint64_t connectionsAccepted() const { return accepted_.load(); }
  int connectionsOpen() const { return open_.load(); }
  int maxConnectionsOpen() const { return max_open_.load(); }
  uint64_t bytesBodySent() const { return bytes_sent_.load(); }  // /bytes body bytes written so far
  void resetMaxConnectionsOpen() { max_open_.store(open_.load()); }
  // Waits until no connection is open (true) or `timeout` passed (false).
  bool waitForNoOpenConnections(std::chrono::milliseconds timeout) const;

  // Things the backend could not parse (a gateway sending malformed requests), one line each.
  std::vector<std::string> protocolErrors() const;

 private:
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void acceptLoop();
  void serveConnection(int fd, uint64_t id);
  // Waits `ms` unless the backend is stopping; false when stopping.
  bool sleepFor(std::chrono::milliseconds ms);
  // Returns how many recorded requests, this one included, have the same target.
  size_t record(ReceivedRequest request);
  void protocolError(std::string what);
  void reapFinished();

  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;
  std::unordered_map<std::string, size_t> per_target_;  // requests_ counted by target
  std::vector<std::string> protocol_errors_;
  std::set<int> open_fds_;
  std::list<Worker> workers_;

  std::atomic<uint64_t> accepted_{0};
  std::atomic<int> open_{0};
  std::atomic<int> max_open_{0};
  std::atomic<uint64_t> bytes_sent_{0};
};

}  // namespace perfgate::test
