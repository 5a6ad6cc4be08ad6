// What an exchange needs of the connection that carries it: the wire format toward the client
// (HTTP/1.1 framing today, an HTTP/2 stream later), the request body as it arrives, and the
// connection's verdict on what may happen next. The exchange knows HTTP semantics, the filters
// and the upstream; the connection knows bytes, sockets and timers.
#pragma once

#include <memory>
#include <string_view>

#include "gateway/http/request_parser.h"
#include "gateway/http/response_parser.h"

namespace perfgate {

class ProxyExchange;
class Worker;

class Downstream {
 public:
  virtual ~Downstream() = default;

  virtual Worker& worker() const = 0;
  virtual std::string_view clientAddress() const = 0;
  // The connection is closing down (graceful shutdown): no keep-alive after this response.
  virtual bool draining() const = 0;

  // The response head toward the client, after the filters. The connection picks the framing;
  // it clears `keep_alive` when the body can only be delimited by closing. Returns whether a
  // body follows (not for HEAD, 1xx, 204, 304).
  virtual bool sendHead(const ResponseHead& head, const RequestHead& request, bool& keep_alive) = 0;
  // Response body bytes (transfer coding removed); the connection frames them.
  virtual void sendBody(std::string_view data) = 0;
  // The body is complete (the chunked terminator, where chunked).
  virtual void endBody() = 0;
  // A whole response at once: `prefix` (serialized status line and fields; may be empty, then
  // the status line is made from head), head.headers, then the body by reference (kept alive by
  // `owner`). Returns the bytes queued, head and body.
  virtual size_t sendWhole(const ResponseHead& head, std::string_view prefix, std::string_view body,
                           const std::shared_ptr<const void>& owner, const RequestHead& request,
                           bool keep_alive) = 0;
  // "100 Continue" before the request body is read (RFC 9110 §10.1.1).
  virtual void sendContinue() = 0;
  // An interim response from the backend (102, 103, ...), before the final head.
  virtual void sendInterim(const ResponseHead& head) = 0;
  // Backpressure: true while the client has not taken enough of what was sent; the exchange
  // stops reading the backend until onWritable().
  virtual bool outputFull() const = 0;

  // Moves request body bytes from the wire into the exchange (acceptBody); false when the body's
  // framing is broken (the exchange then holds the error).
  virtual bool pumpBody() = 0;

  // The exchange is over (its response queued whole, or ended short). The connection goes on with
  // the next request, or closes (`refused`: after an error, lingering for what the client still
  // sends); it frees the exchange later, at a safe point, never inside this call.
  virtual void exchangeDone(ProxyExchange& exchange, bool keep_alive, bool refused) = 0;
};

}  // namespace perfgate
