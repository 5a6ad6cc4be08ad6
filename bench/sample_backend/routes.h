// What the sample backend answers: the endpoint table and the response writers.
//
// classify() turns a parsed request head into a Route (copying what it needs, since the head's
// bytes are drained right after); writeResponse() serializes every non-streaming answer.
// Fixed endpoints are pre-serialized once (StaticResponse); per request only the Date and
// Connection lines are added.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "request_parser.h"

struct evbuffer;

namespace sample_backend {

// A pre-serialized fixed response.
struct StaticResponse {
  std::string head;      // status line .. Content-Length line; Date, Connection, CRLF come later
  std::string head_304;  // 304 head with the same validators; empty without validators
  std::string_view body;
  std::string etag;          // empty: none
  time_t last_modified = 0;  // 0: none
};

enum class RouteKind {
  kFixed,       // `fixed`, or its 304 when `not_modified`
  kItem,        // a = id
  kSearch,      // text = decoded q
  kOrders,      // POST; answers with the body length; a = item id from ?item= (0: none)
  kLogin,       // POST
  kCacheVariant,// text = variant ("max-age", "no-store", "private", "none"), a = max-age
  kChunked,     // streaming: a = chunk count, b = chunk size
  kDownload,    // streaming: a = bytes
  kDelay,       // a = milliseconds
  kStatus,      // a = status
  kEcho,        // text = JSON up to the body length
  kStats,       // /__stats, answered by the connection (needs the workers' counters)
  kError,       // a = status, text = message; the connection stays open
};

struct Route {
  RouteKind kind = RouteKind::kFixed;
  const StaticResponse* fixed = nullptr;
  bool not_modified = false;
  bool api = false;  // under /api/, or the /site/ page: subject to --latency
  uint64_t a = 0;
  uint64_t b = 0;
  std::string text;
  std::string allow;  // for 405
};

// How the current exchange frames its response.
struct ResponseContext {
  bool head_method = false;  // HEAD: headers only
  bool keep_alive = true;
  int minor_version = 1;
  std::string_view date_line;  // "Date: ...\r\n"
};

// Builds the fixed responses; call once before serving.
void initRoutes();

Route classify(const RequestHead& head);

bool isStreaming(const Route& route);

// Appends the complete response for a non-streaming route. `body_bytes` is the request body length.
void writeResponse(evbuffer* out, const Route& route, uint64_t body_bytes, const ResponseContext& ctx);

// Appends the head of a streaming route (kChunked, kDownload). Returns whether the body is sent
// with chunked framing (HTTP/1.1) or with Content-Length (HTTP/1.0 clients).
bool writeStreamHead(evbuffer* out, const Route& route, const ResponseContext& ctx);

// Appends a JSON response built from its parts; Content-Length is computed.
void writeJson(evbuffer* out, int status, std::string_view extra_headers, std::string_view body,
               const ResponseContext& ctx);

// Appends the end of a head: Date, the Connection line where needed, the empty line.
void writeHeadEnd(evbuffer* out, const ResponseContext& ctx);

const char* reasonPhrase(int status);

}  // namespace sample_backend
