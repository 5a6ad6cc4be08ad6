#include "gateway/http/response_parser.h"

#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

bool allFieldBytes(std::string_view s) {
  for (unsigned char c : s) {
    if (!isFieldValueChar(c)) return false;
  }
  return true;
}

}  // namespace

const char* parseResponseHead(std::string_view text, ResponseHead& head, ResponseFraming& framing) {
  framing = ResponseFraming();
  head.status = 0;
  head.reason.clear();
  std::string_view raw = head.headers.adopt(text);  // the fields are noted inside this copy

  // status-line = HTTP-version SP status-code SP [ reason-phrase ]  (RFC 9112 §4). A missing
  // SP before an empty reason is tolerated, as every client does.
  size_t line_end = raw.find("\r\n");
  std::string_view line = raw.substr(0, line_end);
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' ')) {
    return "malformed status line";
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return "non-numeric status code";
    status = status * 10 + (line[i] - '0');
  }
  // RFC 9110 §15: status codes are 100..599; "000" is neither interim nor final.
  if (status < 100 || status > 599) return "status code out of range";
  std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view();
  if (!allFieldBytes(reason)) return "control character in the reason phrase";
  head.status = status;
  head.reason.assign(reason);
  framing.http10 = line[7] == '0';
  bool close_token = false;
  bool keep_alive_token = false;

  size_t pos = line_end == std::string_view::npos ? raw.size() : line_end + 2;
  while (pos < raw.size()) {
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = raw.size();
    std::string_view field = raw.substr(pos, eol - pos);
    pos = eol + 2;
    // RFC 9112 §5.1, §5.2: a token, then the colon at once; obs-fold and bare CR/LF refused.
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return "field line without a colon";
    std::string_view name = field.substr(0, colon);
    if (!isToken(name)) return "invalid field name (or obs-fold)";
    std::string_view value = trimOws(field.substr(colon + 1));
    if (!allFieldBytes(value)) return "control character in a field value";
    head.headers.addParsed(name, value);

    if (equalsIgnoreCase(name, "content-length")) {
      std::optional<uint64_t> length = value.size() > 18 ? std::nullopt : parseDecimal(value);
      if (!length) return "invalid Content-Length";
      if (framing.content_length && *framing.content_length != *length) return "conflicting Content-Length fields";
      framing.content_length = length;
    } else if (equalsIgnoreCase(name, "transfer-encoding")) {
      framing.transfer_encoding = true;
      size_t comma = value.rfind(',');
      framing.chunked =
          equalsIgnoreCase(trimOws(comma == std::string_view::npos ? value : value.substr(comma + 1)), "chunked");
    } else if (equalsIgnoreCase(name, "connection")) {
      close_token = close_token || hasToken(value, "close");
      keep_alive_token = keep_alive_token || hasToken(value, "keep-alive");
    }
  }
  framing.close = close_token || (framing.http10 && !keep_alive_token);
  if (framing.transfer_encoding && framing.content_length) return "Content-Length beside Transfer-Encoding";
  return nullptr;
}

}  // namespace perfgate
