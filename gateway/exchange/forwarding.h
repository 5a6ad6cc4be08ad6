// What crosses the proxy and what does not (RFC 9110 §7.6): the request forwarded upstream and
// the response head sent back to the client, with hop-by-hop fields removed both ways.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/http/connection_fields.h"
#include "gateway/http/header_block.h"
#include "gateway/http/request_parser.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {

// The request to send upstream: target appended to the upstream's base URL (with the normalised
// path unless `original_path`); the client's fields minus hop-by-hop ones, the fields Connection
// names and, unless the upstream has trust_forwarded, the client's forwarding fields (Forwarded,
// X-Forwarded-*, X-Real-IP, X-Host, ...); Host per `host_header`; X-Forwarded-For (appended to),
// X-Forwarded-Proto, X-Forwarded-Host and Via added. `client_ip` is the peer's address.
// Fills `out`, reusing its buffers (an exchange keeps one across the requests of a connection).
void buildUpstreamRequest(const RequestHead& request, const UpstreamConfig& upstream, std::string_view client_ip,
                          bool original_path, UpstreamRequest& out);
inline UpstreamRequest buildUpstreamRequest(const RequestHead& request, const UpstreamConfig& upstream,
                                            std::string_view client_ip, bool original_path = false) {
  UpstreamRequest out;
  buildUpstreamRequest(request, upstream, client_ip, original_path, out);
  return out;
}

// How the response body is delimited toward the client.
enum class BodyFramingOut : uint8_t { None, Length, Chunked, UntilClose };

// The framing of a response toward the client, and its body's length when framed by length.
struct ClientFraming {
  BodyFramingOut framing = BodyFramingOut::None;
  uint64_t length = 0;
};

// Serializes the client's response head into `out` (status line to the final CRLF). Decides the
// framing; clears `keep_alive` when the body has to be delimited by closing (HTTP/1.0 client,
// no length known).
ClientFraming writeClientResponseHead(const ResponseHead& response, const RequestHead& request, bool& keep_alive,
                                      std::string& out);

// Serializes an interim (1xx) response head for the client: its status line and end-to-end
// fields (no framing, no Connection fields, nothing it names), appended to `out`.
void writeInterimHead(const ResponseHead& response, std::string& out);

}  // namespace perfgate
