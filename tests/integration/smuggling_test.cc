// Request smuggling and parsing-discrepancy matrix: each request below is one a front end and a
// backend could frame or route differently. The gateway answers each with a JSON error and
// closes the connection, and the request smuggled behind it never reaches the backend. The few
// forms that are valid (absolute-form targets, harmless lookalike field names) reach the backend
// in one unambiguous form only. tests/vtc/ drives the same matrix with varnishtest.
#include <gtest/gtest.h>

#include "integration/gateway_fixture.h"

namespace perfgate::test {
namespace {

struct Attack {
  std::string name;
  std::string raw;  // the attack; a smuggled request is appended to it
  int status;       // 400, or 501 for a transfer coding the gateway does not implement (RFC 9112 §6.1)
};
void PrintTo(const Attack& a, std::ostream* os) { *os << a.name << " -> " << a.status; }

// A request that a backend reading the attack differently would see as the next one.
const std::string kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: test.local\r\n\r\n";

std::string post(const std::string& fields, const std::string& body) {
  return "POST /echo HTTP/1.1\r\nHost: test.local\r\n" + fields + "\r\n" + body;
}

std::string withNul(std::string s, size_t at) {
  s.insert(at, 1, '\0');
  return s;
}

std::vector<Attack> attacks() {
  const std::string chunked_end = "0\r\n\r\n";
  std::vector<Attack> a = {
      // CL.TE and TE.CL: both framings given.
      {"CL_TE", post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", chunked_end + "G"), 400},
      {"TE_CL", post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "8\r\nSMUGGLED\r\n" + chunked_end), 400},
      {"CL_TE_ZeroLength", post("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", chunked_end), 400},
      // TE.TE: Transfer-Encoding written so that one parser sees chunked and another does not.
      {"TE_UpperCase", post("Content-Length: 5\r\nTransfer-Encoding: CHUNKED\r\n", chunked_end), 400},
      {"TE_MixedCase", post("Content-Length: 5\r\nTransfer-Encoding: cHuNkEd\r\n", chunked_end), 400},
      {"TE_ExtraSpaces", post("Content-Length: 5\r\nTransfer-Encoding:     chunked   \r\n", chunked_end), 400},
      {"TE_TabBeforeValue", post("Content-Length: 5\r\nTransfer-Encoding:\tchunked\r\n", chunked_end), 400},
      {"TE_TabAfterValue", post("Content-Length: 5\r\nTransfer-Encoding: chunked\t\r\n", chunked_end), 400},
      {"TE_SpaceBeforeColon", post("Content-Length: 5\r\nTransfer-Encoding : chunked\r\n", chunked_end), 400},
      {"TE_TabBeforeColon", post("Content-Length: 5\r\nTransfer-Encoding\t: chunked\r\n", chunked_end), 400},
      {"TE_LeadingSpace", post("Content-Length: 5\r\n Transfer-Encoding: chunked\r\n", chunked_end), 400},
      {"TE_ObsFoldedValue", post("Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n", chunked_end), 400},
      {"TE_VerticalTab", post("Content-Length: 5\r\nTransfer-Encoding: \x0b" "chunked\r\n", chunked_end), 400},
      {"TE_FormFeed", post("Transfer-Encoding: chunked\x0c\r\n", chunked_end), 400},
      {"TE_ChunkedThenIdentity", post("Transfer-Encoding: chunked, identity\r\n", chunked_end), 400},
      {"TE_ChunkedTwiceInOneField", post("Transfer-Encoding: chunked, chunked\r\n", chunked_end), 400},
      {"TE_DuplicateFields", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunked_end), 400},
      {"TE_DuplicateChunkedThenIdentity",
       post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", chunked_end), 400},
      {"TE_InHttp10", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked_end, 400},
      // An unknown coding beside Content-Length is still two framings: 400. Alone, it is a
      // coding the gateway cannot decode: 501, and the connection closed all the same.
      {"TE_IdentityThenChunked", post("Content-Length: 5\r\nTransfer-Encoding: identity, chunked\r\n", chunked_end),
       400},
      {"TE_Xchunked", post("Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n", chunked_end), 400},
      {"TE_ChunkedWithParameter", post("Content-Length: 5\r\nTransfer-Encoding: chunked;q=1\r\n", chunked_end), 400},
      {"TE_QuotedChunked", post("Content-Length: 5\r\nTransfer-Encoding: \"chunked\"\r\n", chunked_end), 400},
      {"TE_DuplicateIdentityThenChunked",
       post("Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n", chunked_end), 501},
      {"TE_XchunkedAlone", post("Transfer-Encoding: xchunked\r\n", chunked_end), 501},
      {"TE_QuotedChunkedAlone", post("Transfer-Encoding: \"chunked\"\r\n", chunked_end), 501},
      // Content-Length given twice or ambiguously.
      {"CL_DuplicateSame", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), 400},
      {"CL_DuplicateDifferent", post("Content-Length: 0\r\nContent-Length: 44\r\n", ""), 400},
      {"CL_List", post("Content-Length: 5, 5\r\n", "hello"), 400},
      {"CL_SpaceBeforeColon", post("Content-Length : 5\r\n", "hello"), 400},
      {"CL_LeadingSpace", post("X-A: 1\r\n Content-Length: 5\r\n", "hello"), 400},
      {"CL_PlusSign", post("Content-Length: +5\r\n", "hello"), 400},
      {"CL_SpaceInName", post("Content Length: 5\r\n", "hello"), 400},
      // Line endings and control bytes.
      {"BareLfRequestLine", "GET /echo HTTP/1.1\nHost: test.local\r\n\r\n", 400},
      {"BareLfBetweenFields", "GET /echo HTTP/1.1\r\nHost: test.local\nX-A: 1\r\n\r\n", 400},
      {"BareLfEndOfHead", "GET /echo HTTP/1.1\r\nHost: test.local\r\n\n", 400},
      {"BareLfAllLines", "GET /echo HTTP/1.1\nHost: test.local\n\n", 400},
      {"BareLfHidesContentLength", "POST /echo HTTP/1.1\r\nHost: test.local\r\nX-A: 1\nContent-Length: 5\r\n\r\nhello",
       400},
      {"BareLfInChunkSize", post("Transfer-Encoding: chunked\r\n", "5\nhello\r\n0\r\n\r\n"), 400},
      {"BareLfAfterChunkData", post("Transfer-Encoding: chunked\r\n", "5\r\nhello\n0\r\n\r\n"), 400},
      {"LoneCrInValue", "GET /echo HTTP/1.1\r\nHost: test.local\r\nX-A: a\rContent-Length: 5\r\n\r\n", 400},
      {"LoneCrAsLineEnd", "GET /echo HTTP/1.1\rHost: test.local\r\n\r\n", 400},
      {"LoneCrEndOfField", "GET /echo HTTP/1.1\r\nHost: test.local\r\r\n\r\n", 400},
      {"LoneCrInChunkSize", post("Transfer-Encoding: chunked\r\n", "5\rhello\r\n0\r\n\r\n"), 400},
      {"NulInValue", withNul("GET /echo HTTP/1.1\r\nHost: test.local\r\nX-A: ab\r\n\r\n", 43), 400},
      {"NulInName", withNul("GET /echo HTTP/1.1\r\nHost: test.local\r\nX-A: ab\r\n\r\n", 38), 400},
      {"NulInTarget", withNul("GET /echo HTTP/1.1\r\nHost: test.local\r\n\r\n", 6), 400},
      {"NulInMethod", withNul("GET /echo HTTP/1.1\r\nHost: test.local\r\n\r\n", 1), 400},
      {"NulInChunkExtension", post("Transfer-Encoding: chunked\r\n", withNul("5;a=b\r\nhello\r\n0\r\n\r\n", 3)), 400},
      {"OversizedChunkExtension",
       post("Transfer-Encoding: chunked\r\n", "5;" + std::string(8000, 'x') + "\r\nhello\r\n0\r\n\r\n"), 400},
      {"OversizedChunkExtensionSpread",
       post("Transfer-Encoding: chunked\r\n", "1;" + std::string(5000, 'e') + "\r\nA\r\n" + "0\r\n\r\n"), 400},
      // Request targets that are not origin-form or a valid absolute-form.
      {"AuthorityFormConnect", "CONNECT test.local:443 HTTP/1.1\r\nHost: test.local:443\r\n\r\n", 400},
      {"AuthorityFormGet", "GET test.local:80 HTTP/1.1\r\nHost: test.local\r\n\r\n", 400},
      {"AbsoluteFormWithUserinfo", "GET http://user@evil.example/echo HTTP/1.1\r\nHost: test.local\r\n\r\n", 400},
      {"AbsoluteFormEmptyAuthority", "GET http:///echo HTTP/1.1\r\nHost: test.local\r\n\r\n", 400},
      {"AbsoluteFormUnknownScheme", "GET ftp://evil.example/echo HTTP/1.1\r\nHost: test.local\r\n\r\n", 400},
      {"AbsoluteFormQueryWithoutPath", "GET http://evil.example?x=1 HTTP/1.1\r\nHost: test.local\r\n\r\n", 400},
      {"BackslashInTarget", "GET /echo\\..\\admin HTTP/1.1\r\nHost: test.local\r\n\r\n", 400},
      {"FragmentInTarget", "GET /echo#frag HTTP/1.1\r\nHost: test.local\r\n\r\n", 400},
      // Host missing, duplicated, or not a host.
      {"HostMissing", "GET /echo HTTP/1.1\r\nX-A: 1\r\n\r\n", 400},
      {"HostDuplicate", "GET /echo HTTP/1.1\r\nHost: test.local\r\nHost: evil.example\r\n\r\n", 400},
      {"HostDuplicateOtherCase", "GET /echo HTTP/1.1\r\nHost: test.local\r\nhOST: evil.example\r\n\r\n", 400},
      {"HostDuplicateSameValue", "GET /echo HTTP/1.1\r\nHost: test.local\r\nHost: test.local\r\n\r\n", 400},
      {"HostEmpty", "GET /echo HTTP/1.1\r\nHost: \r\n\r\n", 400},
      {"HostWithPath", "GET /echo HTTP/1.1\r\nHost: evil.example/x\r\n\r\n", 400},
      {"HostWithUserinfo", "GET /echo HTTP/1.1\r\nHost: user@evil.example\r\n\r\n", 400},
      {"HostWithSpace", "GET /echo HTTP/1.1\r\nHost: test.local evil.example\r\n\r\n", 400},
      {"HostSpaceBeforeColon", "GET /echo HTTP/1.1\r\nHost : test.local\r\n\r\n", 400},
  };
  return a;
}

class SmugglingTest : public GatewayTest, public ::testing::WithParamInterface<Attack> {
 protected:
  void SetUp() override { ASSERT_TRUE(startGateway(baseConfig())); }
  void TearDown() override {
    GatewayTest::TearDown();
    for (const ReceivedRequest& r : backend_.requests()) {
      EXPECT_NE(r.path, "/smuggled") << "a smuggled request reached the backend";
    }
    if (!gateway_) return;
    EXPECT_TRUE(gateway_->running()) << "perfgate died: " << gateway_->stderrText();
    HttpResponse resp = get("/echo?after");
    EXPECT_EQ(resp.status, 200) << "a normal request after the attack: " << resp.summary();
  }
};

TEST_P(SmugglingTest, IsRefusedAndNothingReachesTheBackend) {
  EXPECT_TRUE(rejects(GetParam().raw + kSmuggled, GetParam().status));
}

INSTANTIATE_TEST_SUITE_P(Matrix, SmugglingTest, ::testing::ValuesIn(attacks()),
                         [](const ::testing::TestParamInfo<Attack>& p) { return p.param.name; });

// Valid requests that look like the attacks: they reach the backend exactly once, in a form it
// can only read one way.
class SmugglingLookalikeTest : public GatewayTest {
 protected:
  void SetUp() override { ASSERT_TRUE(startGateway(baseConfig())); }

  // Sends `raw` followed by a request for /echo?next on one connection; returns the requests the
  // backend received for it.
  std::vector<ReceivedRequest> forward(const std::string& raw) {
    HttpConnection conn(port());
    EXPECT_TRUE(conn.send(raw + buildRequest("GET", "/echo?next")));
    HttpResponse first = conn.readResponse();
    EXPECT_EQ(first.status, 200) << first.summary();
    HttpResponse second = conn.readResponse();
    EXPECT_EQ(second.status, 200) << second.summary();
    EXPECT_EQ(second.header("X-Echo-Target"), "/echo?next");
    return backend_.requests();
  }
};

TEST_F(SmugglingLookalikeTest, AbsoluteFormIsForwardedAsOriginFormWithItsAuthority) {
  // RFC 9112 §3.2.2: the target's authority replaces Host; the backend gets one Host, and an
  // origin-form target it cannot read as anything else.
  auto received = forward("GET http://other.example/echo?q=1 HTTP/1.1\r\nHost: test.local\r\n\r\n");
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].target, "/echo?q=1");
  EXPECT_EQ(received[0].headerCount("Host"), 1u);
  EXPECT_EQ(received[0].header("Host"), "other.example");
  EXPECT_EQ(received[1].target, "/echo?next");
}

TEST_F(SmugglingLookalikeTest, ChunkedBodyIsForwardedWithOneFraming) {
  auto received = forward(post("Transfer-Encoding: Chunked\r\n", "5;ext=1\r\nhello\r\n0\r\n\r\n"));
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].body, "hello");
  // One framing upstream: never Content-Length together with Transfer-Encoding.
  EXPECT_FALSE(received[0].hasHeader("Content-Length") && received[0].hasHeader("Transfer-Encoding"));
  EXPECT_LE(received[0].headerCount("Transfer-Encoding"), 1u);
  EXPECT_LE(received[0].headerCount("Content-Length"), 1u);
}

TEST_F(SmugglingLookalikeTest, LookalikeFramingFieldNamesNeverReachTheBackend) {
  // "Transfer_Encoding" and "Content_Length" are valid field names that some servers (CGI-style
  // environments, frameworks mapping '-' and '_' alike) read as Transfer-Encoding and
  // Content-Length. Forwarded, they would give the backend a second framing.
  auto received = forward(post("Content-Length: 5\r\nTransfer_Encoding: chunked\r\nContent_Length: 44\r\n", "hello"));
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].body, "hello");
  EXPECT_FALSE(received[0].hasHeader("Transfer_Encoding"));
  EXPECT_FALSE(received[0].hasHeader("Content_Length"));
}

}  // namespace
}  // namespace perfgate::test
