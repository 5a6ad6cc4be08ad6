#include "gateway/http/error_response.h"

#include "gateway/text.h"
#include "gateway/http/http_date.h"

namespace perfgate {

const char* reasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

void makeErrorResponse(int status, std::string_view message, ResponseHead& head, std::string& body,
                       std::string_view extra_fields) {
  body = "{\"error\": \"";
  appendJsonEscaped(body, message);
  body.append("\", \"status\": ");
  body.append(std::to_string(status));
  body.append("}\n");
  head.status = status;
  head.reason = reasonPhrase(status);
  head.headers.clear();
  head.headers.add("Date", httpDate());
  head.headers.add("Content-Type", "application/json");
  head.headers.add("Cache-Control", "no-store");
  appendSerializedFields(extra_fields, head.headers);
  head.headers.add("Content-Length", std::to_string(body.size()));
}

std::string gatewayErrorResponse(int status, std::string_view message, bool close, bool http10_keep_alive,
                                 bool with_body, std::string_view extra_fields) {
  ResponseHead head;
  std::string body;
  makeErrorResponse(status, message, head, body, extra_fields);
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + head.reason + "\r\n";
  head.headers.appendTo(out);
  if (close) {
    out.append("Connection: close\r\n");
  } else if (http10_keep_alive) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (with_body) out.append(body);
  return out;
}

}  // namespace perfgate
