// The responses the gateway makes itself when it refuses or fails a request: a JSON body
// {"error": "...", "status": N} with the status's reason phrase, Date, no-store.
#pragma once

#include <string>
#include <string_view>

#include "gateway/http/response_parser.h"

namespace perfgate {

// The reason phrase of `status` (RFC 9110 §15), "Error" for one the gateway never makes.
const char* reasonPhrase(int status);

// `head` and `body` of an error response: status, reason, Date, Content-Type, Cache-Control,
// Content-Length and `extra_fields` ("Name: value\r\n" lines, e.g. Allow for a 405).
void makeErrorResponse(int status, std::string_view message, ResponseHead& head, std::string& body,
                       std::string_view extra_fields = {});

// The same as bytes on the wire, for a connection that has no exchange to answer through (a
// refused connection, a malformed request head): with `close`, Connection: close; with
// `http10_keep_alive`, Connection: keep-alive; without `with_body`, the head only (HEAD).
std::string gatewayErrorResponse(int status, std::string_view message, bool close, bool http10_keep_alive,
                                 bool with_body, std::string_view extra_fields = {});

}  // namespace perfgate
