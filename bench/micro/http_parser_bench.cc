// Micro-benchmarks of the request parser (gateway/http_parser.h): what parsing a request head
// costs a worker before routing, for the heads clients actually send.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "gateway/http/request_parser.h"

namespace perfgate {
namespace {

// wrk's request: the smallest head a keep-alive client sends.
constexpr std::string_view kMinimal = "GET /api/small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

// A browser navigation: 13 fields, about 700 bytes.
constexpr std::string_view kBrowser =
    "GET /api/items/1234?fields=all&page=2 HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "Cache-Control: max-age=0\r\n"
    "sec-ch-ua: \"Chromium\";v=\"119\", \"Not?A_Brand\";v=\"24\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
    "Cookie: session=s0123456789abcdef; theme=dark; consent=1\r\n"
    "If-None-Match: \"08ae24b7fa386af2\"\r\n"
    "\r\n";

// An API POST with a body length: the framing checks run too.
constexpr std::string_view kPost =
    "POST /api/orders?item=42 HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 11\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl\r\n"
    "Accept: application/json\r\n"
    "\r\n";

// One complete head per iteration, into a RequestHead reused as a worker reuses its own.
void parseHead(benchmark::State& state, std::string_view text) {
  RequestParser parser{ParseLimits{}};
  RequestHead head;
  for (auto _ : state) {
    parser.reset();
    size_t consumed = 0;
    ParseStatus status = parser.parse(text, head, consumed);
    if (status != ParseStatus::Complete) {
      state.SkipWithError("the head did not parse");
      break;
    }
    benchmark::DoNotOptimize(head.headers.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}

void BM_ParseMinimalGet(benchmark::State& state) { parseHead(state, kMinimal); }
BENCHMARK(BM_ParseMinimalGet);

void BM_ParseBrowserGet(benchmark::State& state) { parseHead(state, kBrowser); }
BENCHMARK(BM_ParseBrowserGet);

void BM_ParsePostWithLength(benchmark::State& state) { parseHead(state, kPost); }
BENCHMARK(BM_ParsePostWithLength);

// The browser head arriving in pieces of state.range(0) bytes: the scan resumes where it stopped
// instead of starting over on every read.
void BM_ParseBrowserGetInPieces(benchmark::State& state) {
  const size_t piece = static_cast<size_t>(state.range(0));
  RequestParser parser{ParseLimits{}};
  RequestHead head;
  for (auto _ : state) {
    parser.reset();
    size_t consumed = 0;
    ParseStatus status = ParseStatus::Incomplete;
    for (size_t have = piece; status == ParseStatus::Incomplete; have += piece) {
      status = parser.parse(kBrowser.substr(0, have), head, consumed);
    }
    if (status != ParseStatus::Complete) {
      state.SkipWithError("the head did not parse");
      break;
    }
    benchmark::DoNotOptimize(head.headers.size());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseBrowserGetInPieces)->Arg(64)->Arg(256);

}  // namespace
}  // namespace perfgate
