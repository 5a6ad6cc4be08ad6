// What each fuzz target checks, shared by the libFuzzer entry points (tests/fuzz/*_fuzz.cc) and by
// the replay test in the normal suite (fuzz_corpus_test.cc), which runs every seed and every saved
// crash input through the same checks.
//
// A check never returns on a broken property: it prints what broke and aborts, which libFuzzer
// reports as a crash and saves the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace perfgate::fuzz {

// One entry per target: the name (also its corpus folder) and its check.
struct Target {
  const char* name;
  void (*check)(std::string_view input);
};

// Request heads, parsed at once and prefix by prefix (both must agree), then the body framing
// of each pipelined request: chunked bodies through ChunkedDecoder, fixed lengths skipped.
void checkRequestParser(std::string_view input);
// Chunked bodies decoded at once and in pieces (both must agree), within the body limit.
void checkChunkedDecoder(std::string_view input);
// A TOML config: a frozen config or one "fuzz.toml:line:col: message", never anything else.
void checkConfig(std::string_view input);
// Cache-Control values: parsed values in range, directive names case-insensitive, one field the
// same as the same list given as a field vector.
void checkCacheControl(std::string_view input);
// Accept-Encoding negotiation among zstd, br and gzip (chooseCoding): case-insensitive,
// independent of element order and of field lines, the chosen coding of the highest weight, an
// added full-weight coding always wins.
void checkAcceptEncoding(std::string_view input);
// Accept-Encoding variant keys (order-independent, idempotent, field lines combine as one list)
// and primary keys (makeCacheKey / splitCacheKey round trip).
void checkCacheKey(std::string_view input);

// L2 records (Redis values): whatever decodes encodes back to the same bytes, within the body
// limit, with stored fields a hit can replay; anything else is refused with a reason.
void checkL2Record(std::string_view input);

// The whole gateway (one worker: connections, filters, cache, upstream pool) between a client
// and a backend whose bytes, and the read boundaries of both, the input chooses
// (gateway_fuzz.cc): clients ask for gzip, br, zstd or none with any weights, the backend
// sometimes encodes its bodies (sometimes corruptly) whatever it was asked. Nothing crashes or leaks; no response body reaches a client or the cache for
// a request it does not belong to; bytes a backend sends beyond a response's framing reach no
// one; a backend connection carries another request only after a response that ended exactly at
// its framing and left it reusable; the gateway never pipelines requests to a backend.
void checkGateway(std::string_view input);

inline constexpr Target kTargets[] = {
    {"request_parser", checkRequestParser}, {"chunked_decoder", checkChunkedDecoder},
    {"config", checkConfig},                {"cache_control", checkCacheControl},
    {"cache_key", checkCacheKey},           {"accept_encoding", checkAcceptEncoding},
    {"l2_record", checkL2Record},           {"gateway", checkGateway},
};

}  // namespace perfgate::fuzz
