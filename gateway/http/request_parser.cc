#include "gateway/http/request_parser.h"

#include <array>
#include <cstring>

#include "gateway/http/tokens.h"
#include "gateway/http/uri.h"

namespace perfgate {
namespace {

// Bytes allowed in a request target (RFC 3986 pchar, '/', '?', and '%' for escapes): visible
// ASCII except '#' (fragments are never sent) and the characters RFC 3986 excludes, such as '\',
// which some backends read as '/' and so could step around a route prefix.
constexpr std::array<bool, 256> makeTargetTable() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c) t[c] = true;
  for (char c : std::string_view("#\\\"<>^`{|}")) t[static_cast<unsigned char>(c)] = false;
  return t;
}
constexpr std::array<bool, 256> kTarget = makeTargetTable();



}  // namespace

ParseStatus RequestParser::fail(int status, const char* message) {
  error_ = ParseError{status, message};
  return ParseStatus::Error;
}

ParseStatus RequestParser::parse(std::string_view data, RequestHead& out, size_t& consumed) {
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
  size_t start = 0;
  while (start + 1 < data.size() && data[start] == '\r' && data[start + 1] == '\n') start += 2;
  if (start >= data.size() || (data[start] == '\r' && start + 1 == data.size())) {
    if (start > limits_.max_header_bytes) return fail(431, "request header fields too large");
    return ParseStatus::Incomplete;
  }

  // Find the end of the head (an empty line). Every LF must follow a CR: a bare LF is a line
  // terminator to some parsers and not to others, which is how requests get smuggled.
  size_t head_end = 0;
  bool bare_lf = false;
  size_t i = scanned_ > start ? scanned_ : start;
  while (i < data.size()) {
    const void* found = std::memchr(data.data() + i, '\n', data.size() - i);
    if (found == nullptr) {
      i = data.size();
      break;
    }
    size_t at = static_cast<const char*>(found) - data.data();
    if (at == start || data[at - 1] != '\r') {
      bare_lf = true;
      i = at;
      break;
    }
    if (line_end_ == 0) line_end_ = at;
    i = at + 1;
    if (at >= start + 3 && data[at - 2] == '\n') {
      head_end = at + 1;
      break;
    }
  }
  scanned_ = i;

  // The limits are judged on the bytes before a bare LF as on a head still incomplete, and a CR
  // still waiting for its LF is not part of the request line: the answer must not depend on how
  // the bytes were split into reads.
  size_t seen = bare_lf ? i : data.size();
  size_t line_length = line_end_ != 0 ? line_end_ - 1 - start
                                      : seen - start - (seen > start && data[seen - 1] == '\r' ? 1 : 0);
  if (line_length > limits_.max_request_line) return fail(414, "request line too long");
  if (head_end == 0) {
    if (seen - start > limits_.max_header_bytes) {
      return fail(431, "request header fields too large");
    }
    if (bare_lf) return fail(400, "bare LF in request head");
    return ParseStatus::Incomplete;
  }
  if (head_end - start > limits_.max_header_bytes) {
    return fail(431, "request header fields too large");
  }

  consumed = head_end;
  std::string_view head = data.substr(start, head_end - start);
  size_t line_end = head.find("\r\n");
  return parseHead(head.substr(0, line_end), head.substr(line_end + 2), out);
}

ParseStatus RequestParser::parseHead(std::string_view line, std::string_view fields, RequestHead& out) {
  out.framing = BodyFraming::None;
  out.content_length = 0;
  out.expect_continue = false;
  out.host = {};
  out.line.assign(line);
  ParseStatus status = parseRequestLine(out.line, out);
  if (status != ParseStatus::Complete) return status;

  std::string_view text = out.headers.adopt(fields);  // the field section and its final CRLF
  size_t count = 0;
  size_t pos = 0;
  while (true) {
    size_t eol = text.find("\r\n", pos);
    std::string_view field = text.substr(pos, eol - pos);
    pos = eol + 2;
    if (field.empty()) break;
    // RFC 9112 §5.2: obs-fold is rejected (we are not a user agent that could unfold it).
    if (field.front() == ' ' || field.front() == '\t') return fail(400, "obsolete line folding");
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return fail(400, "header line without colon");
    std::string_view name = field.substr(0, colon);
    // RFC 9112 §5.1: no whitespace is allowed between the field name and colon.
    if (!isToken(name)) return fail(400, "invalid header name");
    std::string_view value = trimOws(field.substr(colon + 1));
    for (unsigned char c : value) {
      if (!isFieldValueChar(c)) return fail(400, "invalid character in header value");
    }
    if (++count > limits_.max_headers) return fail(431, "too many header fields");
    out.headers.addParsed(name, value);
  }
  return interpretHeaders(out);
}

ParseStatus RequestParser::parseRequestLine(std::string_view line, RequestHead& out) {
  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single spaces.
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);

  if (!isToken(method)) return fail(400, "invalid method");
  if (target.empty()) return fail(400, "empty request target");
  for (size_t i = 0; i < target.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(target[i]);
    if (!kTarget[c]) return fail(400, "invalid character in request target");
    if (c == '%' && (i + 2 >= target.size() || !isHexDigit(target[i + 1]) || !isHexDigit(target[i + 2]))) {
      return fail(400, "invalid percent-encoding in request target");
    }
  }

  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return fail(400, "malformed HTTP version");
  }
  if (version == "HTTP/1.1") {
    out.version = HttpVersion::Http11;
  } else if (version == "HTTP/1.0") {
    out.version = HttpVersion::Http10;
  } else {
    return fail(505, "HTTP version not supported");
  }

  out.method = method;
  if (target.front() == '/') {
    out.target = target;
  } else if (target == "*") {
    if (method != "OPTIONS") return fail(400, "asterisk-form is for OPTIONS only");
    out.target = target;
  } else if (startsWithIgnoreCase(target, "http://") || startsWithIgnoreCase(target, "https://")) {
    // RFC 9112 §3.2.2 absolute-form: the authority replaces Host (§3.2.2, last paragraph).
    size_t scheme_end = target.find("://") + 3;
    size_t path_start = target.find_first_of("/?", scheme_end);
    std::string_view authority = target.substr(scheme_end, path_start - scheme_end);
    if (!isValidAuthority(authority)) {
      return fail(400, "invalid authority in absolute-form target");
    }
    out.host = authority;
    if (path_start == std::string_view::npos) {
      out.target = "/";
    } else if (target[path_start] == '?') {
      return fail(400, "absolute-form target without a path");
    } else {
      out.target = target.substr(path_start);
    }
  } else {
    // Authority-form (CONNECT) and anything else: we are a reverse proxy, not a tunnel.
    return fail(400, "unsupported request-target form");
  }

  size_t question = out.target.find('?');
  out.path = out.target.substr(0, question);
  out.path_changed = out.path != "*" && normalizePath(out.path, limits_.merge_slashes, out.normalized);
  if (out.path_changed) out.path = out.normalized;
  out.query = question == std::string_view::npos ? std::string_view() : out.target.substr(question + 1);
  return ParseStatus::Complete;
}

ParseStatus RequestParser::interpretHeaders(RequestHead& out) {
  bool have_host = false;
  bool have_length = false;
  bool have_te = false;
  bool chunked = false;
  bool unknown_coding = false;  // a transfer coding other than chunked
  bool close = false;
  bool keep_alive = false;

  for (HeaderField field : out.headers) {
    std::string_view name = field.name;
    std::string_view value = field.value;
    switch (name.size()) {
      case 4:
        if (equalsIgnoreCase(name, "host")) {
          if (have_host) return fail(400, "duplicate Host header");
          have_host = true;
          if (!isValidAuthority(value)) return fail(400, "invalid Host header");
          if (out.host.empty()) out.host = value;
        }
        break;
      case 6:
        if (equalsIgnoreCase(name, "expect")) {
          if (!equalsIgnoreCase(value, "100-continue")) return fail(417, "unsupported expectation");
          out.expect_continue = true;
        }
        break;
      case 10:
        if (equalsIgnoreCase(name, "connection")) {
          forEachListElement(value, [&](std::string_view token) {
            if (equalsIgnoreCase(token, "close")) close = true;
            if (equalsIgnoreCase(token, "keep-alive")) keep_alive = true;
          });
        }
        break;
      case 14:
        if (equalsIgnoreCase(name, "content-length")) {
          // RFC 9112 §6.3: a repeated Content-Length is a framing ambiguity; refuse it.
          if (have_length) return fail(400, "duplicate Content-Length");
          have_length = true;
          std::optional<uint64_t> length = parseDecimal(value);
          if (!length) return fail(400, "invalid Content-Length");
          out.content_length = *length;
        }
        break;
      case 17:
        if (equalsIgnoreCase(name, "transfer-encoding")) {
          have_te = true;
          bool bad = false;
          forEachListElement(value, [&](std::string_view coding) {
            if (chunked) bad = true;  // chunked applied twice, or not the final coding
            if (equalsIgnoreCase(coding, "chunked")) {
              chunked = true;
            } else {
              unknown_coding = true;
            }
          });
          if (bad) return fail(400, "chunked must be the final transfer coding, once");
        }
        break;
      default:
        break;
    }
  }

  if (have_te) {
    // RFC 9112 §6.1: Transfer-Encoding in a 1.0 request means faulty framing; with
    // Content-Length it is the classic smuggling vector. Both are refused outright.
    if (out.version == HttpVersion::Http10) return fail(400, "Transfer-Encoding in HTTP/1.0");
    if (have_length) return fail(400, "both Content-Length and Transfer-Encoding");
    // Otherwise well framed, but with a coding the gateway cannot decode (RFC 9112 §6.1: 501).
    if (unknown_coding) return fail(501, "unsupported transfer coding");
    if (!chunked) return fail(400, "Transfer-Encoding without chunked");
    out.framing = BodyFraming::Chunked;
  } else if (have_length) {
    if (out.content_length > limits_.max_body_bytes) return fail(413, "request body too large");
    out.framing = BodyFraming::ContentLength;
  }

  if (out.version == HttpVersion::Http11) {
    if (!have_host) return fail(400, "missing Host header");
    out.keep_alive = !close;
  } else {
    out.keep_alive = keep_alive && !close;
    if (out.expect_continue) out.expect_continue = false;  // 100-continue is an HTTP/1.1 feature
  }
  if (out.framing == BodyFraming::None ||
      (out.framing == BodyFraming::ContentLength && out.content_length == 0)) {
    out.expect_continue = false;
  }
  return ParseStatus::Complete;
}

}  // namespace perfgate
