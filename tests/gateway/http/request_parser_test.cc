// Unit tests for RequestParser (RFC 9112 request heads) and the token helpers.
#include "gateway/http/request_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace perfgate {
namespace {

using namespace std::string_literals;

ParseLimits smallLimits() {
  ParseLimits limits;
  limits.max_request_line = 64;
  limits.max_header_bytes = 512;
  limits.max_headers = 8;
  limits.max_body_bytes = 1000;
  return limits;
}

struct Outcome {
  ParseStatus status = ParseStatus::Incomplete;
  size_t consumed = 0;
  ParseError error;
};

Outcome parseAll(std::string_view data, RequestHead& out, const ParseLimits& limits = {}) {
  RequestParser parser(limits);
  Outcome outcome;
  outcome.status = parser.parse(data, out, outcome.consumed);
  outcome.error = parser.error();
  return outcome;
}

// Feeds `data` one byte more per call (as a connection would deliver it) until the parser
// answers something other than Incomplete. `answered_at` is the prefix length of that answer.
Outcome parseByteByByte(std::string_view data, RequestHead& out, size_t& answered_at,
                        const ParseLimits& limits = {}) {
  RequestParser parser(limits);
  Outcome outcome;
  for (answered_at = 1; answered_at <= data.size(); ++answered_at) {
    outcome.status = parser.parse(data.substr(0, answered_at), out, outcome.consumed);
    if (outcome.status != ParseStatus::Incomplete) break;
  }
  outcome.error = parser.error();
  return outcome;
}

std::string statusName(ParseStatus s) {
  switch (s) {
    case ParseStatus::Complete: return "Complete";
    case ParseStatus::Incomplete: return "Incomplete";
    case ParseStatus::Error: return "Error";
  }
  return "?";
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c >= 0x7f) {
      static const char* hex = "0123456789ABCDEF";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool pointsInto(std::string_view view, const std::string& owner) {
  if (view.empty()) return true;
  const char* begin = owner.data();
  const char* end = owner.data() + owner.size();
  return view.data() >= begin && view.data() + view.size() <= end;
}

bool overlaps(std::string_view view, const std::string& other) {
  return !view.empty() && view.data() < other.data() + other.size() && view.data() + view.size() > other.data();
}

// ---------------------------------------------------------------------------------------------
// Valid requests: each is parsed whole and byte by byte, and both must satisfy `check`.

struct ValidCase {
  std::string name;
  std::string request;  // exactly one head, final CRLFCRLF included, nothing after it
  std::function<void(const RequestHead&)> check;
  ParseLimits limits = {};
};

void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.name; }

std::vector<ValidCase> validCorpus() {
  std::vector<ValidCase> cases;

  cases.push_back({"GetOriginFormWithQuery",
                   "GET /search?q=1&x=%20y HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n"
                   "Accept: */*\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.method, "GET");
                     EXPECT_EQ(h.target, "/search?q=1&x=%20y");
                     EXPECT_EQ(h.path, "/search");
                     EXPECT_EQ(h.query, "q=1&x=%20y");
                     EXPECT_EQ(h.host, "example.com");
                     EXPECT_EQ(h.version, HttpVersion::Http11);
                     EXPECT_EQ(h.framing, BodyFraming::None);
                     EXPECT_TRUE(h.keep_alive);
                     EXPECT_FALSE(h.expect_continue);
                     EXPECT_FALSE(h.isHead());
                     ASSERT_EQ(h.headers.size(), 3u);
                     EXPECT_EQ(h.headers[0].name, "Host");
                     EXPECT_EQ(h.headers[1].name, "User-Agent");
                     EXPECT_EQ(h.headers[2].name, "Accept");
                     EXPECT_EQ(h.headers[2].value, "*/*");
                   }});

  cases.push_back({"GetWithoutQuery", "GET /plain/path HTTP/1.1\r\nHost: h\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.target, "/plain/path");
                     EXPECT_EQ(h.path, "/plain/path");
                     EXPECT_EQ(h.query, "");
                   }});

  cases.push_back({"GetEmptyQuery", "GET /a? HTTP/1.1\r\nHost: h\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.target, "/a?");
                     EXPECT_EQ(h.path, "/a");
                     EXPECT_EQ(h.query, "");
                   }});

  // RFC 3986: pchar allows sub-delims, ':' and '@'; the query may hold '/' and '?'.
  cases.push_back({"TargetWithAllAllowedCharacters",
                   "GET /a/b;c=d,e!$&'()*+:@~-._%2F?x=/?y HTTP/1.1\r\nHost: h\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.path, "/a/b;c=d,e!$&'()*+:@~-._%2F");
                     EXPECT_EQ(h.query, "x=/?y");
                   }});

  cases.push_back({"Head", "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n", [](const RequestHead& h) {
                     EXPECT_EQ(h.method, "HEAD");
                     EXPECT_TRUE(h.isHead());
                     EXPECT_EQ(h.framing, BodyFraming::None);
                   }});

  cases.push_back({"PostContentLength",
                   "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n"
                   "Content-Length: 5\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.method, "POST");
                     EXPECT_EQ(h.framing, BodyFraming::ContentLength);
                     EXPECT_EQ(h.content_length, 5u);
                   }});

  cases.push_back({"ContentLengthCaseInsensitiveName",
                   "PUT /x HTTP/1.1\r\nHost: h\r\ncontent-length: 12\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.method, "PUT");
                     EXPECT_EQ(h.framing, BodyFraming::ContentLength);
                     EXPECT_EQ(h.content_length, 12u);
                   }});

  cases.push_back({"ContentLengthZero", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
                   [](const RequestHead& h) {
                     // No body either way; ContentLength with 0 or None are both faithful.
                     EXPECT_NE(h.framing, BodyFraming::Chunked);
                     EXPECT_EQ(h.content_length, 0u);
                   }});

  cases.push_back({"ContentLengthAtLimit",
                   "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.framing, BodyFraming::ContentLength);
                     EXPECT_EQ(h.content_length, 1000u);
                   },
                   smallLimits()});

  cases.push_back({"ContentLengthOwsTrimmed",
                   "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: \t 7 \t\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.framing, BodyFraming::ContentLength);
                     EXPECT_EQ(h.content_length, 7u);
                   }});

  cases.push_back({"PostChunked",
                   "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.framing, BodyFraming::Chunked);
                     EXPECT_TRUE(h.keep_alive);
                   }});

  // RFC 9112 §7: transfer-coding names are case-insensitive.
  cases.push_back({"ChunkedCaseInsensitive",
                   "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_EQ(h.framing, BodyFraming::Chunked); }});

  cases.push_back({"OptionsStar", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.method, "OPTIONS");
                     EXPECT_EQ(h.target, "*");
                     EXPECT_EQ(h.query, "");
                   }});

  // RFC 9112 §3.2.2: the authority of an absolute-form target replaces the Host header.
  cases.push_back({"AbsoluteForm",
                   "GET http://example.com/a?b HTTP/1.1\r\nHost: other.example\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.target, "/a?b");
                     EXPECT_EQ(h.path, "/a");
                     EXPECT_EQ(h.query, "b");
                     EXPECT_EQ(h.host, "example.com");
                   }});

  cases.push_back({"AbsoluteFormHttpsWithPort",
                   "GET https://example.com:8443/x/y HTTP/1.1\r\nHost: example.com:8443\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.target, "/x/y");
                     EXPECT_EQ(h.path, "/x/y");
                     EXPECT_EQ(h.query, "");
                     EXPECT_EQ(h.host, "example.com:8443");
                   }});

  // RFC 9110 §4.2.1/§4.2.3: an empty path in an http URI is the same as "/".
  cases.push_back({"AbsoluteFormEmptyPath", "GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.target, "/");
                     EXPECT_EQ(h.path, "/");
                     EXPECT_EQ(h.host, "example.com");
                   }});

  cases.push_back({"Http10WithoutHost", "GET /old HTTP/1.0\r\n\r\n", [](const RequestHead& h) {
                     EXPECT_EQ(h.version, HttpVersion::Http10);
                     EXPECT_EQ(h.host, "");
                     EXPECT_FALSE(h.keep_alive);
                     EXPECT_TRUE(h.headers.empty());
                   }});

  cases.push_back({"Http10WithHost", "GET /old HTTP/1.0\r\nHost: h10\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.version, HttpVersion::Http10);
                     EXPECT_EQ(h.host, "h10");
                     EXPECT_FALSE(h.keep_alive);
                   }});

  cases.push_back({"Http10KeepAlive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_TRUE(h.keep_alive); }});

  cases.push_back({"Http10KeepAliveMixedCase", "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_TRUE(h.keep_alive); }});

  cases.push_back({"Http10ConnectionClose", "GET / HTTP/1.0\r\nConnection: close\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_FALSE(h.keep_alive); }});

  cases.push_back({"Http11ConnectionClose", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_FALSE(h.keep_alive); }});

  cases.push_back({"Http11ConnectionCloseUppercase",
                   "GET / HTTP/1.1\r\nHost: h\r\nCONNECTION: CLOSE\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_FALSE(h.keep_alive); }});

  cases.push_back({"Http11ConnectionCloseInList",
                   "GET / HTTP/1.1\r\nHost: h\r\nConnection: x-foo , close\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_FALSE(h.keep_alive); }});

  // RFC 9110 §5.3: repeated list fields combine; "close" in the second line still counts.
  cases.push_back({"Http11ConnectionCloseInSecondField",
                   "GET / HTTP/1.1\r\nHost: h\r\nConnection: x-foo\r\nConnection: close\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_FALSE(h.keep_alive); }});

  cases.push_back({"Http11ConnectionKeepAlive",
                   "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_TRUE(h.keep_alive); }});

  cases.push_back({"Http11ConnectionOtherToken",
                   "GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_TRUE(h.keep_alive); }});

  cases.push_back({"ExpectContinue",
                   "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_TRUE(h.expect_continue);
                     EXPECT_EQ(h.content_length, 10u);
                   }});

  // RFC 9110 §10.1.1: the Expect field value is case-insensitive.
  cases.push_back({"ExpectContinueMixedCase",
                   "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nexpect: 100-Continue\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_TRUE(h.expect_continue); }});

  // RFC 9110 §10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
  // request MUST ignore that expectation."
  cases.push_back({"Http10ExpectContinueIgnored",
                   "POST /u HTTP/1.0\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_FALSE(h.expect_continue); }});

  cases.push_back({"HeaderValueOwsTrimmed",
                   "GET / HTTP/1.1\r\nHost:   h  \r\nX-A: \t  spaced   value \t \r\nX-B:v\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.host, "h");
                     EXPECT_EQ(h.header("X-A"), "spaced   value");
                     EXPECT_EQ(h.header("X-B"), "v");
                   }});

  cases.push_back({"HeaderEmptyValue",
                   "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Blank:   \r\n\r\n",
                   [](const RequestHead& h) {
                     ASSERT_TRUE(h.header("X-Empty").has_value());
                     EXPECT_EQ(*h.header("X-Empty"), "");
                     ASSERT_TRUE(h.header("X-Blank").has_value());
                     EXPECT_EQ(*h.header("X-Blank"), "");
                   }});

  // RFC 9110 §5.5: field-vchar includes obs-text (%x80-FF).
  cases.push_back({"ObsTextInValue",
                   "GET / HTTP/1.1\r\nHost: h\r\nX-Bin: caf\xC3\xA9 \x80\xFF end\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.header("X-Bin"), "caf\xC3\xA9 \x80\xFF end");
                   }});

  // Every tchar is legal in a field name.
  cases.push_back({"AllTcharsInName",
                   "GET / HTTP/1.1\r\nHost: h\r\nX-!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
                   [](const RequestHead& h) {
                     EXPECT_EQ(h.header("x-!#$%&'*+-.^_`|~09azaz"), "v");
                   }});

  cases.push_back({"HostWithPort", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_EQ(h.host, "example.com:8080"); }});

  cases.push_back({"HostIpv6Literal", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
                   [](const RequestHead& h) { EXPECT_EQ(h.host, "[::1]:8080"); }});

  {
    std::string many = "GET /many HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 90; ++i) many += "X-H" + std::to_string(i) + ": v" + std::to_string(i) + "\r\n";
    many += "\r\n";
    cases.push_back({"ManyHeadersInOrder", many, [](const RequestHead& h) {
                       ASSERT_EQ(h.headers.size(), 91u);
                       EXPECT_EQ(h.headers[0].name, "Host");
                       for (int i = 0; i < 90; ++i) {
                         EXPECT_EQ(h.headers[i + 1].name, "X-H" + std::to_string(i));
                         EXPECT_EQ(h.headers[i + 1].value, "v" + std::to_string(i));
                       }
                       EXPECT_EQ(h.header("x-h89"), "v89");
                     }});
  }

  {
    // Exactly max_headers fields is still fine.
    std::string req = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 1; i < 8; ++i) req += "X" + std::to_string(i) + ": v\r\n";
    req += "\r\n";
    cases.push_back({"HeaderCountAtLimit", req,
                     [](const RequestHead& h) { EXPECT_EQ(h.headers.size(), 8u); },
                     smallLimits()});
  }

  {
    // Request line of exactly max_request_line bytes, CRLF included (so also within the
    // limit if the CRLF is not counted).
    std::string line = "GET /";
    line += std::string(64 - 2 - line.size() - 9, 'a');
    line += " HTTP/1.1";
    EXPECT_EQ(line.size() + 2, 64u);
    cases.push_back({"RequestLineAtLimit", line + "\r\nHost: h\r\n\r\n",
                     [](const RequestHead& h) { EXPECT_EQ(h.method, "GET"); }, smallLimits()});
  }

  {
    // A head of exactly max_header_bytes bytes, final CRLFCRLF included.
    std::string req = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    const size_t fixed = req.size() + 4;  // + "\r\n\r\n"
    req += std::string(512 - fixed, 'p');
    req += "\r\n\r\n";
    EXPECT_EQ(req.size(), 512u);
    cases.push_back({"HeadAtByteLimit", req,
                     [](const RequestHead& h) { EXPECT_EQ(h.headers.size(), 2u); }, smallLimits()});
  }

  for (const char* method : {"PUT", "DELETE", "PATCH", "TRACE"}) {
    std::string m = method;
    cases.push_back({std::string("Method") + method, m + " /r HTTP/1.1\r\nHost: h\r\n\r\n",
                     [m](const RequestHead& h) { EXPECT_EQ(h.method, m); }});
  }

  return cases;
}

class HttpParserValid : public ::testing::TestWithParam<ValidCase> {};

TEST_P(HttpParserValid, ParsesWhole) {
  const ValidCase& c = GetParam();
  RequestHead head;
  Outcome o = parseAll(c.request, head, c.limits);
  ASSERT_EQ(o.status, ParseStatus::Complete)
      << printable(c.request) << " -> " << statusName(o.status) << " " << o.error.status << " "
      << o.error.message;
  EXPECT_EQ(o.consumed, c.request.size());
  c.check(head);
}

TEST_P(HttpParserValid, ParsesByteByByte) {
  const ValidCase& c = GetParam();
  RequestHead head;
  size_t answered_at = 0;
  Outcome o = parseByteByByte(c.request, head, answered_at, c.limits);
  ASSERT_EQ(o.status, ParseStatus::Complete)
      << printable(c.request) << " -> " << statusName(o.status) << " at byte " << answered_at
      << ": " << o.error.status << " " << o.error.message;
  EXPECT_EQ(answered_at, c.request.size()) << "answered before the head was complete";
  EXPECT_EQ(o.consumed, c.request.size());
  c.check(head);
}

TEST_P(HttpParserValid, DoesNotReferToInputBuffer) {
  const ValidCase& c = GetParam();
  RequestHead head;
  std::string buffer = c.request + "TRAILING GARBAGE";
  Outcome o = parseAll(buffer, head, c.limits);
  ASSERT_EQ(o.status, ParseStatus::Complete);
  // Every view must point into the head's own storage (its request line, its header block), not
  // into the input; then clobbering the input changes nothing.
  for (const HeaderField& f : head.headers) {
    EXPECT_FALSE(overlaps(f.name, buffer)) << f.name;
    EXPECT_FALSE(overlaps(f.value, buffer)) << f.name;
  }
  std::fill(buffer.begin(), buffer.end(), '#');
  EXPECT_TRUE(pointsInto(head.method, head.line));
  c.check(head);
}

INSTANTIATE_TEST_SUITE_P(HttpParser, HttpParserValid, ::testing::ValuesIn(validCorpus()),
                         [](const ::testing::TestParamInfo<ValidCase>& param_info) {
                           return param_info.param.name;
                         });

// ---------------------------------------------------------------------------------------------
// Rejections: the parser answers Error with the exact status (0 below: any 4xx/5xx).

struct RejectCase {
  std::string name;
  std::string request;
  int status;  // 0: any status >= 400
  ParseLimits limits = {};
};

void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

std::string withHost(std::string_view request_line, std::string_view more_headers = "") {
  std::string r(request_line);
  r += "\r\nHost: h\r\n";
  r += more_headers;
  r += "\r\n";
  return r;
}

std::string getWith(std::string_view headers) {
  return "GET / HTTP/1.1\r\nHost: h\r\n" + std::string(headers) + "\r\n";
}

std::string postWith(std::string_view headers) {
  return "POST / HTTP/1.1\r\nHost: h\r\n" + std::string(headers) + "\r\n";
}

std::vector<RejectCase> rejectCorpus() {
  std::vector<RejectCase> c;
  // Body framing (RFC 9112 §6.1, §6.3): ambiguity is request smuggling.
  c.push_back({"ContentLengthAndChunked",
               postWith("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400});
  c.push_back({"ChunkedAndContentLength",
               postWith("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400});
  c.push_back({"DuplicateContentLengthEqual",
               postWith("Content-Length: 5\r\nContent-Length: 5\r\n"), 400});
  c.push_back({"DuplicateContentLengthDifferent",
               postWith("Content-Length: 5\r\ncontent-length: 6\r\n"), 400});
  c.push_back({"ContentLengthList", postWith("Content-Length: 5, 5\r\n"), 400});
  c.push_back({"ContentLengthNegative", postWith("Content-Length: -1\r\n"), 400});
  c.push_back({"ContentLengthTrailingLetter", postWith("Content-Length: 1a\r\n"), 400});
  c.push_back({"ContentLengthBlank", postWith("Content-Length:  \r\n"), 400});
  c.push_back({"ContentLengthEmpty", postWith("Content-Length:\r\n"), 400});
  c.push_back({"ContentLengthPlus", postWith("Content-Length: +5\r\n"), 400});
  c.push_back({"ContentLengthInnerSpace", postWith("Content-Length: 1 2\r\n"), 400});
  c.push_back({"ContentLengthHex", postWith("Content-Length: 0x10\r\n"), 400});
  c.push_back({"ContentLengthOverflow", postWith("Content-Length: 99999999999999999999\r\n"), 400});
  c.push_back({"ContentLengthOverLimit", postWith("Content-Length: 1001\r\n"), 413, smallLimits()});
  c.push_back({"ContentLengthUint64MaxOverLimit",
               postWith("Content-Length: 18446744073709551615\r\n"), 413});
  c.push_back({"TransferEncodingGzip", postWith("Transfer-Encoding: gzip\r\n"), 501});
  c.push_back({"TransferEncodingGzipChunked", postWith("Transfer-Encoding: gzip, chunked\r\n"), 501});
  c.push_back({"TransferEncodingIdentity", postWith("Transfer-Encoding: identity\r\n"), 501});
  c.push_back({"TransferEncodingGzipBesideLength", postWith("Content-Length: 5\r\nTransfer-Encoding: gzip\r\n"), 400});
  c.push_back({"TransferEncodingGzipInHttp10", "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 400});
  c.push_back({"TransferEncodingChunkedNotLast", postWith("Transfer-Encoding: chunked, gzip\r\n"), 0});
  c.push_back({"TransferEncodingChunkedTwice", postWith("Transfer-Encoding: chunked, chunked\r\n"), 400});
  c.push_back({"TransferEncodingChunkedTwoFields",
               postWith("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400});
  c.push_back({"TransferEncodingGzipThenChunkedFields",
               postWith("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 0});
  c.push_back({"TransferEncodingEmpty", postWith("Transfer-Encoding: \r\n"), 0});
  c.push_back({"TransferEncodingOnHttp10",
               "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400});

  // Field syntax (RFC 9112 §5, RFC 9110 §5.5).
  c.push_back({"ObsFoldSpace", getWith("X-A: a\r\n b\r\n"), 400});
  c.push_back({"ObsFoldTab", getWith("X-A: a\r\n\tb\r\n"), 400});
  c.push_back({"WhitespaceBeforeFirstField", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400});
  c.push_back({"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400});
  c.push_back({"TabBeforeColon", getWith("X-A\t: v\r\n"), 400});
  c.push_back({"NameWithSpace", getWith("X Y: 1\r\n"), 400});
  c.push_back({"NameWithAt", getWith("X@Y: 1\r\n"), 400});
  c.push_back({"NameWithParen", getWith("X(Y): 1\r\n"), 400});
  c.push_back({"NameNonAscii", getWith("X\xC3\xA9: 1\r\n"), 400});
  c.push_back({"EmptyName", getWith(": 1\r\n"), 400});
  c.push_back({"LineWithoutColon", getWith("NoColonHere\r\n"), 400});
  c.push_back({"CrInValue", getWith("X-A: a\rb\r\n"), 400});
  c.push_back({"CrBeforeCrlf", getWith("X-A: a\r\r\n"), 400});
  c.push_back({"NulInValue", getWith("X-A: a\0b\r\n"s), 400});
  c.push_back({"NulInName", getWith("X\0A: b\r\n"s), 400});
  c.push_back({"CtlInValue", getWith("X-A: a\x01" "b\r\n"), 400});
  c.push_back({"DelInValue", getWith("X-A: a\x7f" "b\r\n"), 400});
  c.push_back({"LfInValue", getWith("X-A: a\nb\r\n"), 400});
  c.push_back({"BareLfEverywhere", "GET / HTTP/1.1\nHost: h\n\n", 400});
  c.push_back({"BareLfAfterRequestLine", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400});
  c.push_back({"BareLfAfterField", "GET / HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n", 400});
  c.push_back({"BareLfTerminator", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400});
  c.push_back({"BareCrAfterRequestLine", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400});
  c.push_back({"NulInRequestLine", "GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n"s, 400});
  c.push_back({"NulInMethod", "G\0T / HTTP/1.1\r\nHost: h\r\n\r\n"s, 400});

  // Limits.
  {
    std::string long_line = "GET /" + std::string(80, 'a') + " HTTP/1.1";
    c.push_back({"RequestLineTooLong", long_line + "\r\nHost: h\r\n\r\n", 414, smallLimits()});
    // No CRLF yet, but already past the limit: answer now rather than buffer on.
    c.push_back({"RequestLineTooLongIncomplete", "GET /" + std::string(67, 'a'), 414,
                 smallLimits()});
  }
  {
    std::string req = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 5; ++i) req += "X-Pad" + std::to_string(i) + ": " + std::string(100, 'p') + "\r\n";
    c.push_back({"HeaderBlockTooBig", req + "\r\n", 431, smallLimits()});
    c.push_back({"HeaderBlockTooBigIncomplete", req, 431, smallLimits()});
    c.push_back({"SingleFieldTooBig", getWith("X-Big: " + std::string(600, 'b') + "\r\n"), 431,
                 smallLimits()});
    // Over by a little: a head of limit + 5 bytes whether or not CRLFCRLF is counted.
    std::string just_over = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    just_over += std::string(512 + 5 - just_over.size() - 4, 'p');
    just_over += "\r\n\r\n";
    c.push_back({"HeadJustOverByteLimit", just_over, 431, smallLimits()});
  }
  {
    std::string req = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 1; i < 9; ++i) req += "X" + std::to_string(i) + ": v\r\n";
    c.push_back({"TooManyHeaders", req + "\r\n", 431, smallLimits()});
  }

  // Host (RFC 9112 §3.2).
  c.push_back({"MissingHostHttp11", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400});
  c.push_back({"DuplicateHost", "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400});
  c.push_back({"DuplicateHostOtherCase", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400});
  c.push_back({"HostWithSpace", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400});
  c.push_back({"HostWithSlash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400});
  c.push_back({"HostWithUserinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400});
  c.push_back({"AbsoluteFormWithoutHostHttp11", "GET http://a/ HTTP/1.1\r\n\r\n", 400});

  // Request line (RFC 9112 §3).
  c.push_back({"BadMethodChar", withHost("G@T / HTTP/1.1"), 400});
  c.push_back({"EmptyMethod", withHost(" / HTTP/1.1"), 400});
  c.push_back({"DoubleSpace", withHost("GET  / HTTP/1.1"), 400});
  c.push_back({"TabSeparator", withHost("GET\t/ HTTP/1.1"), 400});
  c.push_back({"TrailingSpace", withHost("GET / HTTP/1.1 "), 400});
  c.push_back({"MissingVersion", withHost("GET /"), 400});
  c.push_back({"ExtraToken", withHost("GET / HTTP/1.1 x"), 400});
  c.push_back({"RelativeTarget", withHost("GET a/b HTTP/1.1"), 400});
  c.push_back({"StarWithGet", withHost("GET * HTTP/1.1"), 400});
  c.push_back({"TargetWithFragment", withHost("GET /a#b HTTP/1.1"), 400});
  c.push_back({"TargetWithCtl", withHost("GET /a\x01 HTTP/1.1"), 400});
  c.push_back({"TargetWithDel", withHost("GET /a\x7f HTTP/1.1"), 400});
  c.push_back({"TargetWithHighByte", withHost("GET /caf\xC3\xA9 HTTP/1.1"), 400});
  c.push_back({"TargetWithBackslash", withHost("GET /a\\b HTTP/1.1"), 400});
  c.push_back({"AbsoluteFormFtp", withHost("GET ftp://a/b HTTP/1.1"), 400});
  c.push_back({"AbsoluteFormEmptyAuthority", withHost("GET http:///a HTTP/1.1"), 0});
  c.push_back({"AbsoluteFormUserinfo", withHost("GET http://u:p@a/ HTTP/1.1"), 0});
  c.push_back({"AbsoluteFormFragment", withHost("GET http://a/b#c HTTP/1.1"), 400});
  c.push_back({"AuthorityFormConnect", withHost("CONNECT example.com:443 HTTP/1.1"), 0});

  // Version (RFC 9112 §2.3).
  c.push_back({"Http20", withHost("GET / HTTP/2.0"), 505});
  c.push_back({"Http12", withHost("GET / HTTP/1.2"), 505});
  c.push_back({"Http30", withHost("GET / HTTP/3.0"), 505});
  c.push_back({"Http09", withHost("GET / HTTP/0.9"), 0});
  c.push_back({"VersionMissingMinor", withHost("GET / HTTP/1"), 400});
  c.push_back({"VersionLowercase", withHost("GET / http/1.1"), 400});
  c.push_back({"VersionTwoDigitMinor", withHost("GET / HTTP/1.10"), 400});
  c.push_back({"VersionNoDot", withHost("GET / HTTP/11"), 400});
  c.push_back({"VersionWrongName", withHost("GET / HTTPS/1.1"), 400});

  // Expect (RFC 9110 §10.1.1).
  c.push_back({"ExpectUnknown", getWith("Expect: something-else\r\n"), 417});
  return c;
}

class HttpParserReject : public ::testing::TestWithParam<RejectCase> {};

void expectRejected(const RejectCase& c, const Outcome& o, const std::string& how) {
  ASSERT_EQ(o.status, ParseStatus::Error)
      << how << ": " << printable(c.request) << " -> " << statusName(o.status);
  if (c.status == 0) {
    EXPECT_GE(o.error.status, 400) << how << ": " << printable(c.request);
    EXPECT_LT(o.error.status, 600) << how << ": " << printable(c.request);
  } else {
    EXPECT_EQ(o.error.status, c.status)
        << how << ": " << printable(c.request) << " (" << o.error.message << ")";
  }
  ASSERT_NE(o.error.message, nullptr);
  EXPECT_STRNE(o.error.message, "");
}

TEST_P(HttpParserReject, Whole) {
  const RejectCase& c = GetParam();
  RequestHead head;
  Outcome o = parseAll(c.request, head, c.limits);
  expectRejected(c, o, "whole");
}

// The resumed scan must not skip a check: the same bytes arriving one at a time are refused
// with the same status, and never accepted.
TEST_P(HttpParserReject, ByteByByte) {
  const RejectCase& c = GetParam();
  RequestHead head;
  size_t answered_at = 0;
  Outcome o = parseByteByByte(c.request, head, answered_at, c.limits);
  expectRejected(c, o, "byte by byte");
}

INSTANTIATE_TEST_SUITE_P(HttpParser, HttpParserReject, ::testing::ValuesIn(rejectCorpus()),
                         [](const ::testing::TestParamInfo<RejectCase>& param_info) {
                           return param_info.param.name;
                         });

// ---------------------------------------------------------------------------------------------
// Incremental use, pipelining and reuse.

TEST(HttpParserIncremental, EmptyInputIsIncomplete) {
  RequestParser parser(ParseLimits{});
  RequestHead head;
  size_t consumed = 12345;
  EXPECT_EQ(parser.parse("", head, consumed), ParseStatus::Incomplete);
}

TEST(HttpParserIncremental, HeadWithoutTerminatorIsIncomplete) {
  RequestParser parser(ParseLimits{});
  RequestHead head;
  size_t consumed = 0;
  EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\nHost: h\r\n", head, consumed), ParseStatus::Incomplete);
  EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\nHost: h\r\n\r", head, consumed),
            ParseStatus::Incomplete);
  EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", head, consumed),
            ParseStatus::Complete);
  EXPECT_EQ(consumed, 27u);
}

TEST(HttpParserIncremental, ConsumedStopsBeforeBody) {
  const std::string head_bytes = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
  const std::string data = head_bytes + "hello world";
  RequestHead head;
  Outcome o = parseAll(data, head);
  ASSERT_EQ(o.status, ParseStatus::Complete);
  EXPECT_EQ(o.consumed, head_bytes.size());
  EXPECT_EQ(head.content_length, 11u);
}

TEST(HttpParserIncremental, ByteByByteWithBodyAndNextRequestBehind) {
  const std::string head_bytes =
      "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string data = head_bytes + "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestParser parser(ParseLimits{});
  RequestHead head;
  for (size_t n = 1; n <= data.size(); ++n) {
    size_t consumed = 0;
    ParseStatus s = parser.parse(std::string_view(data).substr(0, n), head, consumed);
    if (n < head_bytes.size()) {
      ASSERT_EQ(s, ParseStatus::Incomplete) << "at " << n;
    } else {
      ASSERT_EQ(s, ParseStatus::Complete) << "at " << n;
      EXPECT_EQ(consumed, head_bytes.size());
      EXPECT_EQ(head.framing, BodyFraming::Chunked);
      break;
    }
  }
}

TEST(HttpParserIncremental, ChunksOfSeveralSizes) {
  const std::string req =
      "GET /chunks?x=1 HTTP/1.1\r\nHost: example.org\r\nAccept: text/html\r\n"
      "Connection: close\r\nX-Long: " + std::string(300, 'z') + "\r\n\r\n";
  for (size_t step : {2u, 3u, 7u, 16u, 64u}) {
    SCOPED_TRACE(step);
    RequestParser parser(ParseLimits{});
    RequestHead head;
    size_t consumed = 0;
    ParseStatus s = ParseStatus::Incomplete;
    size_t n = 0;
    while (s == ParseStatus::Incomplete && n < req.size()) {
      n = std::min(req.size(), n + step);
      s = parser.parse(std::string_view(req).substr(0, n), head, consumed);
    }
    ASSERT_EQ(s, ParseStatus::Complete);
    EXPECT_EQ(n, req.size());
    EXPECT_EQ(consumed, req.size());
    EXPECT_EQ(head.path, "/chunks");
    EXPECT_EQ(head.host, "example.org");
    EXPECT_FALSE(head.keep_alive);
    EXPECT_EQ(head.header("x-long")->size(), 300u);
  }
}

TEST(HttpParserIncremental, PipelinedRequestsWithReset) {
  const std::string first = "GET /one HTTP/1.1\r\nHost: a\r\nX-First: 1\r\n\r\n";
  const std::string second = "HEAD /two?q HTTP/1.1\r\nHost: b\r\n\r\n";
  const std::string third = "POST /three HTTP/1.1\r\nHost: c\r\nContent-Length: 3\r\n\r\n";
  const std::string data = first + second + third + "abc";

  RequestParser parser(ParseLimits{});
  RequestHead head;
  size_t consumed = 0;
  std::string_view rest = data;

  ASSERT_EQ(parser.parse(rest, head, consumed), ParseStatus::Complete);
  EXPECT_EQ(consumed, first.size());
  EXPECT_EQ(head.path, "/one");
  EXPECT_EQ(head.host, "a");
  rest.remove_prefix(consumed);

  parser.reset();
  RequestHead head2;
  ASSERT_EQ(parser.parse(rest, head2, consumed), ParseStatus::Complete);
  EXPECT_EQ(consumed, second.size());
  EXPECT_EQ(head2.path, "/two");
  EXPECT_EQ(head2.query, "q");
  EXPECT_EQ(head2.host, "b");
  EXPECT_TRUE(head2.isHead());
  rest.remove_prefix(consumed);

  parser.reset();
  RequestHead head3;
  ASSERT_EQ(parser.parse(rest, head3, consumed), ParseStatus::Complete);
  EXPECT_EQ(consumed, third.size());
  EXPECT_EQ(head3.method, "POST");
  EXPECT_EQ(head3.content_length, 3u);
  rest.remove_prefix(consumed);
  EXPECT_EQ(rest, "abc");
}

// After reset() the scan starts over: a shorter next request must not be searched from the
// previous request's scan position.
TEST(HttpParserIncremental, ResetForgetsScanPosition) {
  RequestParser parser(ParseLimits{});
  RequestHead head;
  size_t consumed = 0;
  const std::string long_req = "GET /" + std::string(200, 'l') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_EQ(parser.parse(long_req, head, consumed), ParseStatus::Complete);
  parser.reset();
  const std::string short_req = "GET /s HTTP/1.1\r\nHost: h\r\n\r\n";
  // Arrives in two pieces.
  ASSERT_EQ(parser.parse(std::string_view(short_req).substr(0, 10), head, consumed),
            ParseStatus::Incomplete);
  ASSERT_EQ(parser.parse(short_req, head, consumed), ParseStatus::Complete);
  EXPECT_EQ(consumed, short_req.size());
  EXPECT_EQ(head.path, "/s");
}

// `out` is filled afresh: nothing of a previous request lingers in a reused RequestHead.
// Found by fuzzing (tests/fuzz): the answer must not depend on where the reads split the bytes.
TEST(HttpParserIncremental, RequestLineAtTheLimitSplitBetweenCrAndLf) {
  const ParseLimits limits = smallLimits();
  std::string line = "GET /" + std::string(limits.max_request_line - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(line.size(), limits.max_request_line);
  const std::string data = line + "\r\nHost: h\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseAll(data, head, limits).status, ParseStatus::Complete);
  RequestParser parser(limits);
  size_t consumed = 0;
  EXPECT_EQ(parser.parse(std::string_view(data).substr(0, line.size() + 1), head, consumed), ParseStatus::Incomplete)
      << "a request line of exactly max_request_line bytes, its CR read before its LF";
  EXPECT_EQ(parser.parse(data, head, consumed), ParseStatus::Complete);
}

TEST(HttpParserIncremental, LimitsComeBeforeABareLfWhateverTheSplit) {
  const ParseLimits limits = smallLimits();
  struct Case {
    std::string data;
    int status;
  };
  for (const Case& c : {Case{"GET /" + std::string(100, 'a') + " HTTP/1.1\nHost: h\r\n\r\n", 414},
                        Case{"GET / HTTP/1.1\r\nX-A: " + std::string(600, 'v') + "\nHost: h\r\n\r\n", 431}}) {
    RequestHead head;
    Outcome whole = parseAll(c.data, head, limits);
    size_t answered_at = 0;
    Outcome split = parseByteByByte(c.data, head, answered_at, limits);
    EXPECT_EQ(whole.status, ParseStatus::Error);
    EXPECT_EQ(whole.error.status, c.status) << whole.error.message;
    EXPECT_EQ(split.error.status, c.status) << split.error.message;
  }
}

TEST(HttpParserIncremental, ReusedHeadIsOverwritten) {
  RequestParser parser(ParseLimits{});
  RequestHead head;
  size_t consumed = 0;
  const std::string first =
      "POST http://first.example/a?b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Expect: 100-continue\r\nConnection: close\r\nX-One: 1\r\n\r\n";
  ASSERT_EQ(parser.parse(first, head, consumed), ParseStatus::Complete);
  ASSERT_EQ(head.framing, BodyFraming::Chunked);
  parser.reset();
  const std::string second = "GET /2 HTTP/1.1\r\nHost: second\r\n\r\n";
  ASSERT_EQ(parser.parse(second, head, consumed), ParseStatus::Complete);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/2");
  EXPECT_EQ(head.query, "");
  EXPECT_EQ(head.host, "second");
  EXPECT_EQ(head.framing, BodyFraming::None);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(head.headers.size(), 1u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_FALSE(head.header("X-One").has_value());

  parser.reset();
  const std::string third = "PUT /3 HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n";
  ASSERT_EQ(parser.parse(third, head, consumed), ParseStatus::Complete);
  parser.reset();
  ASSERT_EQ(parser.parse(second, head, consumed), ParseStatus::Complete);
  EXPECT_EQ(head.framing, BodyFraming::None);
  EXPECT_EQ(head.content_length, 0u);
}

// RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before the
// request line.
TEST(HttpParserIncremental, LeadingEmptyLine) {
  const std::string req = "\r\nGET /after-crlf HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  Outcome o = parseAll(req, head);
  ASSERT_EQ(o.status, ParseStatus::Complete) << o.error.status << " " << o.error.message;
  EXPECT_EQ(o.consumed, req.size());
  EXPECT_EQ(head.path, "/after-crlf");

  size_t answered_at = 0;
  RequestHead head2;
  o = parseByteByByte(req, head2, answered_at);
  ASSERT_EQ(o.status, ParseStatus::Complete);
  EXPECT_EQ(answered_at, req.size());
  EXPECT_EQ(o.consumed, req.size());
  EXPECT_EQ(head2.path, "/after-crlf");
}

// Ignoring empty lines must not let a client buffer without bound.
TEST(HttpParserIncremental, LeadingEmptyLinesAreBounded) {
  std::string flood;
  for (int i = 0; i < 600; ++i) flood += "\r\n";
  RequestHead head;
  Outcome o = parseAll(flood, head, smallLimits());
  ASSERT_EQ(o.status, ParseStatus::Error);
  EXPECT_GE(o.error.status, 400);
}

// ---------------------------------------------------------------------------------------------
// RequestHead::header() and the token helpers.

TEST(HttpParserHeaders, LookupIsCaseInsensitiveAndFirstWins) {
  RequestHead head;
  const std::string req =
      "GET / HTTP/1.1\r\nHost: h\r\nX-Dup: first\r\nAccept: a\r\nx-dup: second\r\n\r\n";
  ASSERT_EQ(parseAll(req, head).status, ParseStatus::Complete);
  EXPECT_EQ(head.header("X-Dup"), "first");
  EXPECT_EQ(head.header("x-dup"), "first");
  EXPECT_EQ(head.header("X-DUP"), "first");
  EXPECT_EQ(head.header("HOST"), "h");
  EXPECT_FALSE(head.header("X-Missing").has_value());
  EXPECT_FALSE(head.header("X-Du").has_value());
  EXPECT_FALSE(head.header("X-Dupe").has_value());
  ASSERT_EQ(head.headers.size(), 4u);
  EXPECT_EQ(head.headers[1].name, "X-Dup");
  EXPECT_EQ(head.headers[3].name, "x-dup");  // case kept as received
  EXPECT_EQ(head.headers[3].value, "second");
}

TEST(HttpParserHeaders, EqualsIgnoreCase) {
  EXPECT_TRUE(equalsIgnoreCase("", ""));
  EXPECT_TRUE(equalsIgnoreCase("Content-Length", "content-length"));
  EXPECT_TRUE(equalsIgnoreCase("ABC", "abc"));
  EXPECT_FALSE(equalsIgnoreCase("abc", "abcd"));
  EXPECT_FALSE(equalsIgnoreCase("abc", "abd"));
  // ASCII only: '@' (0x40) and '`' (0x60) are not letters.
  EXPECT_FALSE(equalsIgnoreCase("@", "`"));
  EXPECT_FALSE(equalsIgnoreCase("[", "{"));
  EXPECT_FALSE(equalsIgnoreCase("\xC3\xA9", "\xC3\x89"));
}

TEST(HttpParserHeaders, HasToken) {
  EXPECT_TRUE(hasToken("close", "close"));
  EXPECT_TRUE(hasToken("Close", "close"));
  EXPECT_TRUE(hasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(hasToken("  a ,\tb\t, c ", "b"));
  EXPECT_TRUE(hasToken("a,,b", "b"));
  EXPECT_TRUE(hasToken("a, b", "a"));
  EXPECT_FALSE(hasToken("", "close"));
  EXPECT_FALSE(hasToken("closed", "close"));
  EXPECT_FALSE(hasToken("close", "closed"));
  EXPECT_FALSE(hasToken("foo,bar", "ba"));
  EXPECT_FALSE(hasToken("x-close", "close"));
  EXPECT_FALSE(hasToken(" , ", "close"));
}

}  // namespace
}  // namespace perfgate
