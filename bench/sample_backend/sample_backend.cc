// perfgate-sample-backend: a small, fast HTTP/1.1 backend API that stands in for the user's
// slow backend in the quick start and is the target of the benchmarks. Run with --help.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "server.h"

namespace {

constexpr const char* kUsage = R"(Usage: perfgate-sample-backend [options]

A fast sample HTTP/1.1 backend for trying and benchmarking perfgate.

Options:
  --listen HOST:PORT   address to listen on (default 127.0.0.1:8000; port 0 picks a free port)
  --threads N          worker threads, each with its own SO_REUSEPORT listener (default 1)
  --latency MS         delay added to every /api/* response and to the /site/ page, in
                       milliseconds (default 0)
  --latency MIN-MAX    ... uniformly random in [MIN, MAX] ms
  --help               show this text

When ready it prints one line: "sample-backend ready: listen=HOST:PORT".

Endpoints (GET and HEAD unless noted):
  /api/pass             789-byte JSON, Cache-Control: no-store
  /api/small            789-byte JSON, public, max-age=60, ETag, Last-Modified
  /api/items            item list, max-age=30;  /api/items/ID  one item (404 above 10000)
  /api/search?q=TEXT    results, max-age=10
  /api/orders  (POST)   201 {"ok":true,"bytes":N}, no-store
  /api/login   (POST)   Set-Cookie session, Cache-Control: private
  /                     small HTML home page, max-age=30
  /page                 ~20 KB HTML, max-age=60
  /page-gz              the same HTML sent gzip-compressed (compressed once at start) when the
                        request accepts gzip, identity otherwise; Vary: Accept-Encoding, max-age=60
  /site/                a sample shop page with 40 assets (bench/pageload): 5 CSS, 11 JS, 8 SVG,
                        6 JPEG, 10 PNG under /site/assets/ (versioned names, max-age=31536000,
                        immutable, ETag); the page (max-age=60, ETag; delayed by --latency)
                        fetches /api/items
  /static/app.js        ~30 KB JavaScript, max-age=86400, ETag, Last-Modified
  /assets/bundle.js     ~200 KB minified JavaScript (a generated bundle), max-age=60
  /cache/max-age/N  /cache/no-store  /cache/private  /cache/none
  /cache/etag           ETag + no-cache, 304 on a matching If-None-Match
  /cache/last-modified  Last-Modified only, 304 on If-Modified-Since
  /chunked?n=K&size=S   K chunks of S bytes (default 8 x 1024)
  /download?bytes=N     N bytes (default 10 MiB), streamed with backpressure
  /delay/MS             answers after MS milliseconds
  /status/N             answers with status N (200-599)
  /echo        (any)    JSON of the request: method, target, headers in order, body length
  /__stats              {"requests": N, "connections_accepted": N, "connections_open": N}
)";

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr, "perfgate-sample-backend: %s (see --help)\n", message.c_str());
  std::exit(2);
}

bool parseNumber(std::string_view s, unsigned long max, unsigned long* out) {
  if (s.empty() || s.size() > 9) return false;
  unsigned long n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<unsigned long>(c - '0');
  }
  if (n > max) return false;
  *out = n;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  sample_backend::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto next = [&]() -> std::string_view {
      if (has_value) return value;
      if (i + 1 >= argc) usageError(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--listen") {
      options.listen = std::string(next());
    } else if (arg == "--threads") {
      unsigned long n = 0;
      if (!parseNumber(next(), 1024, &n) || n == 0) usageError("--threads wants a number from 1 to 1024");
      options.threads = static_cast<int>(n);
    } else if (arg == "--latency") {
      std::string_view v = next();
      size_t dash = v.find('-');
      unsigned long lo = 0, hi = 0;
      const unsigned long kMax = 600000;
      bool ok = dash == std::string_view::npos
                    ? parseNumber(v, kMax, &lo) && (hi = lo, true)
                    : parseNumber(v.substr(0, dash), kMax, &lo) && parseNumber(v.substr(dash + 1), kMax, &hi) && lo <= hi;
      if (!ok) usageError("--latency wants MS or MIN-MAX in milliseconds (at most 600000)");
      options.latency_min_ms = static_cast<uint32_t>(lo);
      options.latency_max_ms = static_cast<uint32_t>(hi);
    } else {
      usageError("unknown argument '" + std::string(argv[i]) + "'");
    }
  }

  signal(SIGPIPE, SIG_IGN);
  sample_backend::Server server(options);
  std::string error;
  if (!server.bind(&error)) {
    std::fprintf(stderr, "perfgate-sample-backend: %s\n", error.c_str());
    return 1;
  }
  std::printf("sample-backend ready: listen=%s\n", server.address().c_str());
  std::fflush(stdout);
  server.run();
  return 0;
}
