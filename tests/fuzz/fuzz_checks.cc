#include "fuzz/fuzz_checks.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/http/cache_control.h"
#include "filters/cache/cache_key.h"
#include "filters/cache/l2_record.h"
#include "gateway/http/accept_encoding.h"
#include "gateway/config/config.h"
#include "gateway/http/chunked_decoder.h"

namespace perfgate::fuzz {
namespace {

[[noreturn]] void broken(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
  std::abort();
}

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) broken(#cond, __FILE__, __LINE__); \
  } while (0)

// Small limits, so that inputs of a few KiB reach every limit.
ParseLimits fuzzLimits() {
  ParseLimits limits;
  limits.max_request_line = 256;
  limits.max_header_bytes = 1024;
  limits.max_headers = 16;
  limits.max_body_bytes = 4096;
  return limits;
}
constexpr size_t kMaxTrailer = 256;

bool within(std::string_view inner, std::string_view outer) {
  return inner.empty() ||
         (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

class CollectSink : public BodySink {
 public:
  void onBodyData(std::string_view data) override { body.append(data); }
  std::string body;
};

struct ParseOutcome {
  ParseStatus status = ParseStatus::Incomplete;
  int error_status = 0;
  size_t consumed = 0;
  RequestHead head;
};

// The whole input at once.
ParseOutcome parseAtOnce(std::string_view data) {
  ParseOutcome o;
  RequestParser parser(fuzzLimits());
  o.status = parser.parse(data, o.head, o.consumed);
  if (o.status == ParseStatus::Error) o.error_status = parser.error().status;
  return o;
}

// Growing prefixes of the input, as a connection receives it; `step` bytes more each time.
ParseOutcome parseByPrefix(std::string_view data, size_t step) {
  ParseOutcome o;
  RequestParser parser(fuzzLimits());
  for (size_t end = std::min(step, data.size());; end = std::min(end + step, data.size())) {
    o.status = parser.parse(data.substr(0, end), o.head, o.consumed);
    if (o.status != ParseStatus::Incomplete || end == data.size()) break;
  }
  if (o.status == ParseStatus::Error) o.error_status = parser.error().status;
  return o;
}

void checkHead(const RequestHead& head, size_t consumed, std::string_view data, const ParseLimits& limits) {
  FUZZ_CHECK(consumed <= data.size());
  std::string_view text = data.substr(0, consumed);  // leading empty lines, then the head
  FUZZ_CHECK(text.size() >= 4 && text.substr(text.size() - 4) == "\r\n\r\n");
  size_t line_at = text.find(head.line + "\r\n");
  FUZZ_CHECK(line_at != std::string_view::npos && text.size() - line_at <= limits.max_header_bytes);
  FUZZ_CHECK(text.substr(0, line_at).find_first_not_of("\r\n") == std::string_view::npos);
  FUZZ_CHECK(within(head.method, head.line));
  FUZZ_CHECK(!head.method.empty());
  // The target is a view into the head, except "/" for an absolute-form target without a path.
  FUZZ_CHECK(within(head.target, head.line) || head.target == "/");
  FUZZ_CHECK(head.target == "*" || (!head.target.empty() && head.target.front() == '/'));
  FUZZ_CHECK(head.target.find_first_of(" \r\n#") == std::string_view::npos);
  // Host: the Host field's value, or the authority of an absolute-form target.
  FUZZ_CHECK(head.host.empty() || within(head.host, head.line) || head.header("host") == head.host);
  FUZZ_CHECK(head.host.find_first_of(" \t\r\n@/,") == std::string_view::npos);
  if (head.version == HttpVersion::Http11) FUZZ_CHECK(!head.host.empty());
  FUZZ_CHECK(head.headers.size() <= limits.max_headers);
  size_t hosts = 0, lengths = 0, codings = 0;
  for (const HeaderField& field : head.headers) {
    FUZZ_CHECK(!within(field.name, data) && (field.value.empty() || !within(field.value, data)));  // own copies
    FUZZ_CHECK(!field.name.empty());
    for (unsigned char c : field.name) FUZZ_CHECK(isTokenChar(c));
    for (unsigned char c : field.value) FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
    FUZZ_CHECK(trimOws(field.value) == field.value);
    hosts += equalsIgnoreCase(field.name, "host");
    lengths += equalsIgnoreCase(field.name, "content-length");
    codings += equalsIgnoreCase(field.name, "transfer-encoding");
  }
  FUZZ_CHECK(hosts <= 1 && lengths <= 1);
  switch (head.framing) {
    case BodyFraming::None:
      FUZZ_CHECK(lengths == 0 && codings == 0);
      break;
    case BodyFraming::ContentLength:
      FUZZ_CHECK(lengths == 1 && codings == 0);
      FUZZ_CHECK(head.content_length <= limits.max_body_bytes);
      break;
    case BodyFraming::Chunked:
      // Only HTTP/1.1 may be chunked, never together with Content-Length.
      FUZZ_CHECK(lengths == 0 && codings >= 1 && head.version == HttpVersion::Http11);
      break;
  }
}

bool sameHead(const RequestHead& a, const RequestHead& b) {
  if (a.line != b.line || a.method != b.method || a.target != b.target || a.host != b.host ||
      a.version != b.version || a.framing != b.framing || a.content_length != b.content_length ||
      a.keep_alive != b.keep_alive || a.expect_continue != b.expect_continue ||
      a.headers.size() != b.headers.size()) {
    return false;
  }
  for (size_t i = 0; i < a.headers.size(); ++i) {
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) return false;
  }
  return true;
}

struct DecodeOutcome {
  ParseStatus status = ParseStatus::Incomplete;
  int error_status = 0;
  size_t consumed = 0;
  std::string body;
  uint64_t body_bytes = 0;
};

// Feeds `data` in pieces whose sizes cycle through `sizes` (all at once when empty). Unconsumed
// bytes are offered again with the next piece, as a connection does.
DecodeOutcome decodeInPieces(std::string_view data, const std::vector<size_t>& sizes, uint64_t max_body) {
  ChunkedDecoder decoder(max_body, kMaxTrailer);
  CollectSink sink;
  DecodeOutcome o;
  size_t offered_end = 0;
  size_t next = 0;
  while (true) {
    size_t piece = sizes.empty() ? data.size() : sizes[next++ % sizes.size()];
    offered_end = std::min(data.size(), offered_end + piece);
    std::string_view offered = data.substr(o.consumed, offered_end - o.consumed);
    size_t used = 0;
    o.status = decoder.decode(offered, used, sink);
    FUZZ_CHECK(used <= offered.size());
    o.consumed += used;
    if (o.status == ParseStatus::Incomplete) FUZZ_CHECK(used == offered.size());
    if (o.status != ParseStatus::Incomplete || offered_end == data.size()) break;
  }
  if (o.status == ParseStatus::Error) o.error_status = decoder.error().status;
  o.body = std::move(sink.body);
  o.body_bytes = decoder.bodyBytes();
  FUZZ_CHECK(o.body.size() == o.body_bytes);
  FUZZ_CHECK(o.body_bytes <= max_body);
  return o;
}

// Piece sizes taken from the input's first bytes, so the fuzzer explores the splits too.
std::vector<size_t> pieceSizes(std::string_view seed) {
  std::vector<size_t> sizes;
  for (size_t i = 0; i < std::min<size_t>(seed.size(), 4); ++i) {
    sizes.push_back(1 + static_cast<unsigned char>(seed[i]) % 13);
  }
  if (sizes.empty()) sizes.push_back(1);
  return sizes;
}

void checkDecoderAgreement(std::string_view data, uint64_t max_body) {
  DecodeOutcome whole = decodeInPieces(data, {}, max_body);
  for (const std::vector<size_t>& sizes : {std::vector<size_t>{1}, pieceSizes(data)}) {
    DecodeOutcome split = decodeInPieces(data, sizes, max_body);
    FUZZ_CHECK(split.status == whole.status);
    FUZZ_CHECK(split.error_status == whole.error_status);
    if (whole.status != ParseStatus::Error) {
      FUZZ_CHECK(split.consumed == whole.consumed);
      FUZZ_CHECK(split.body == whole.body);
    }
  }
  if (whole.status == ParseStatus::Error) {
    FUZZ_CHECK(whole.error_status == 400 || whole.error_status == 413 || whole.error_status == 431);
  }
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool sameCacheControl(const CacheControl& a, const CacheControl& b) {
  return a.max_age == b.max_age && a.s_maxage == b.s_maxage && a.max_stale == b.max_stale &&
         a.any_stale == b.any_stale && a.min_fresh == b.min_fresh &&
         a.stale_while_revalidate == b.stale_while_revalidate && a.stale_if_error == b.stale_if_error &&
         a.no_cache == b.no_cache && a.no_store == b.no_store && a.private_ == b.private_ &&
         a.public_ == b.public_ && a.must_revalidate == b.must_revalidate &&
         a.proxy_revalidate == b.proxy_revalidate && a.no_transform == b.no_transform &&
         a.only_if_cached == b.only_if_cached && a.must_understand == b.must_understand &&
         a.immutable == b.immutable && a.no_cache_fields == b.no_cache_fields &&
         a.private_fields == b.private_fields;
}

void checkDelta(const std::optional<int64_t>& v) {
  if (v) FUZZ_CHECK(*v >= 0 && *v <= kDeltaSecondsMax);
}

// `input` cut at every comma, empty pieces kept (the raw list elements, untrimmed).
std::vector<std::string_view> commaSeparated(std::string_view input) {
  std::vector<std::string_view> elements;
  for (std::string_view rest = input;;) {
    size_t comma = rest.find(',');
    elements.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return elements;
}

// The elements joined by commas, last first.
std::string reversedList(const std::vector<std::string_view>& elements) {
  std::string out;
  for (auto it = elements.rbegin(); it != elements.rend(); ++it) {
    if (it != elements.rbegin()) out.push_back(',');
    out.append(*it);
  }
  return out;
}

// The normalized Accept-Encoding inside a variant key for Vary: accept-encoding.
std::string acceptEncodingPart(const HeaderBlock& fields) {
  static const std::vector<std::string> kVary = {"accept-encoding"};
  std::string key = makeVariantKey(kVary, fields);
  const std::string_view prefix = "15:accept-encoding=";
  FUZZ_CHECK(key.compare(0, prefix.size(), prefix) == 0);
  std::string_view rest = std::string_view(key).substr(prefix.size());
  size_t colon = rest.find(':');
  FUZZ_CHECK(colon != std::string_view::npos);
  FUZZ_CHECK(std::to_string(rest.size() - colon - 1) == rest.substr(0, colon));
  return std::string(rest.substr(colon + 1));
}

}  // namespace

void checkRequestParser(std::string_view input) {
  const ParseLimits limits = fuzzLimits();
  std::string_view data = input;
  for (int request = 0; request < 8 && !data.empty(); ++request) {
    ParseOutcome whole = parseAtOnce(data);
    size_t step = 1 + static_cast<unsigned char>(data[0]) % 17;
    for (size_t s : {size_t{1}, step}) {
      ParseOutcome split = parseByPrefix(data, s);
      FUZZ_CHECK(split.status == whole.status);
      FUZZ_CHECK(split.error_status == whole.error_status);
      if (whole.status == ParseStatus::Complete) {
        FUZZ_CHECK(split.consumed == whole.consumed);
        FUZZ_CHECK(sameHead(split.head, whole.head));
      }
    }
    if (whole.status == ParseStatus::Error) {
      const int s = whole.error_status;
      FUZZ_CHECK(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505);
      return;
    }
    if (whole.status == ParseStatus::Incomplete) return;
    checkHead(whole.head, whole.consumed, data, limits);
    data.remove_prefix(whole.consumed);
    if (whole.head.framing == BodyFraming::ContentLength) {
      if (whole.head.content_length > data.size()) return;
      data.remove_prefix(static_cast<size_t>(whole.head.content_length));
    } else if (whole.head.framing == BodyFraming::Chunked) {
      checkDecoderAgreement(data, limits.max_body_bytes);
      DecodeOutcome body = decodeInPieces(data, {}, limits.max_body_bytes);
      if (body.status != ParseStatus::Complete) return;
      data.remove_prefix(body.consumed);
    }
  }
}

void checkChunkedDecoder(std::string_view input) {
  // The first byte picks the body limit, so that 413 is reached too.
  uint64_t max_body = 1024 * 1024;
  if (!input.empty()) {
    max_body = static_cast<unsigned char>(input[0]) * 16u;
    input.remove_prefix(1);
  }
  checkDecoderAgreement(input, max_body);
}

void checkConfig(std::string_view input) {
  ConfigResult result = loadConfigString(input, "fuzz.toml");
  FUZZ_CHECK((result.config != nullptr) != !result.error.empty());
  if (!result.config) {
    // "fuzz.toml:LINE:COL: message"
    std::string_view e = result.error;
    FUZZ_CHECK(e.rfind("fuzz.toml:", 0) == 0);
    e.remove_prefix(10);
    size_t colon = e.find(':');
    FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
    for (char c : e.substr(0, colon)) FUZZ_CHECK(c >= '0' && c <= '9');
    e.remove_prefix(colon + 1);
    colon = e.find(':');
    FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
    for (char c : e.substr(0, colon)) FUZZ_CHECK(c >= '0' && c <= '9');
    FUZZ_CHECK(e.size() > colon + 2 && e.substr(colon, 2) == ": ");
    return;
  }
  const Config& c = *result.config;
  FUZZ_CHECK(!c.routes.empty());
  for (const RouteConfig& route : c.routes) {
    FUZZ_CHECK(route.path.empty() != route.prefix.empty());
    FUZZ_CHECK(route.upstream_index < c.upstreams.size());
    FUZZ_CHECK(c.upstreams[route.upstream_index].name == route.upstream);
  }
  for (const UpstreamConfig& u : c.upstreams) {
    FUZZ_CHECK(u.max_connections > 0);
    FUZZ_CHECK(u.tls || u.address_length > 0);
  }
  FUZZ_CHECK(c.server.max_connections > 0);
}

void checkCacheControl(std::string_view input) {
  CacheControl cc = parseCacheControl(input);
  for (const auto* v : {&cc.max_age, &cc.s_maxage, &cc.max_stale, &cc.min_fresh,
                        &cc.stale_while_revalidate, &cc.stale_if_error}) {
    checkDelta(*v);
  }
  FUZZ_CHECK(!(cc.any_stale && cc.max_stale));
  for (const auto* list : {&cc.no_cache_fields, &cc.private_fields}) {
    for (const std::string& name : *list) {
      FUZZ_CHECK(!name.empty());
      for (char ch : name) FUZZ_CHECK(isTokenChar(static_cast<unsigned char>(ch)) && !(ch >= 'A' && ch <= 'Z'));
    }
  }
  // Directive names and field names are case-insensitive; digits have no case.
  FUZZ_CHECK(sameCacheControl(cc, parseCacheControl(upper(input))));
  // One field line, or the same value in a field vector among other fields.
  HeaderBlock fields = {{"X-Other", "no-store"}, {"cache-CONTROL", input}};
  FUZZ_CHECK(sameCacheControl(cc, parseCacheControl(fields)));
  checkDelta(parseDeltaSeconds(input));
}

void checkAcceptEncoding(std::string_view input) {
  constexpr ContentCoding kOffered[] = {ContentCoding::Zstd, ContentCoding::Br, ContentCoding::Gzip};
  auto choose = [&](const HeaderBlock& fields) { return chooseCoding(parseAcceptEncoding(fields), kOffered); };
  const AcceptEncoding accept = parseAcceptEncoding({{"Accept-Encoding", input}});
  const ContentCoding chosen = chooseCoding(accept, kOffered);
  // Coding names and "q" are case-insensitive; other fields are not read.
  FUZZ_CHECK(choose({{"accept-encoding", upper(input)}}) == chosen);
  FUZZ_CHECK(choose({{"X-Accept-Encoding", "gzip"}, {"TE", "br"}, {"Accept-Encoding", input}}) == chosen);
  const std::vector<std::string_view> elements = commaSeparated(input);
  // The order of the elements does not matter, nor how they are split over field lines.
  HeaderBlock one_per_line;
  for (auto it = elements.rbegin(); it != elements.rend(); ++it) one_per_line.add("Accept-Encoding", *it);
  FUZZ_CHECK(choose({{"Accept-Encoding", reversedList(elements)}}) == chosen);
  FUZZ_CHECK(choose(one_per_line) == chosen);
  // What is chosen is accepted, with the highest weight offered; identity only when no coding
  // has a weight, or identity is named with a higher one.
  int best = 0;
  for (ContentCoding coding : kOffered) best = std::max(best, accept.weight[codingIndex(coding)]);
  if (chosen == ContentCoding::Identity) {
    FUZZ_CHECK(best == 0 || (accept.identity_named && accept.weight[codingIndex(ContentCoding::Identity)] > best));
  } else {
    FUZZ_CHECK(accept.accepts(chosen) && accept.weight[codingIndex(chosen)] == best);
  }
  // A coding named with full weight always wins (no weight is above 1), the server's first
  // choice on a tie.
  FUZZ_CHECK(choose({{"Accept-Encoding", std::string(input) + ",zstd"}}) == ContentCoding::Zstd);
  ContentCoding with_br = choose({{"Accept-Encoding", std::string(input) + ",br"}});
  FUZZ_CHECK(with_br == ContentCoding::Br || (with_br == ContentCoding::Zstd && accept.weight[codingIndex(ContentCoding::Zstd)] == 1000));
  // Refusing every coding by name leaves only those the input itself named with a weight (one
  // it covered by "*" alone is refused now).
  ContentCoding refused = choose({{"Accept-Encoding", std::string(input) + ",zstd;q=0,br;q=0,gzip;q=0,x-gzip;q=0,*;q=0"}});
  FUZZ_CHECK(refused == ContentCoding::Identity || accept.accepts(refused));
  // Offering gzip alone: gzip or identity, and gzip exactly when it had a weight of its own best.
  constexpr ContentCoding kGzip[] = {ContentCoding::Gzip};
  ContentCoding gzip_only = chooseCoding(accept, kGzip);
  FUZZ_CHECK(gzip_only == ContentCoding::Identity || gzip_only == ContentCoding::Gzip);
  FUZZ_CHECK((gzip_only == ContentCoding::Gzip) == (accept.accepts(ContentCoding::Gzip) &&
             !(accept.identity_named && accept.weight[codingIndex(ContentCoding::Identity)] > accept.weight[codingIndex(ContentCoding::Gzip)])));
}

void checkCacheKey(std::string_view input) {
  // Accept-Encoding: the normalized form is order-independent and a fixed point.
  std::string normalized = acceptEncodingPart({{"Accept-Encoding", input}});
  const std::vector<std::string_view> elements = commaSeparated(input);
  FUZZ_CHECK(acceptEncodingPart({{"Accept-Encoding", reversedList(elements)}}) == normalized);
  FUZZ_CHECK(acceptEncodingPart({{"accept-encoding", normalized}}) == normalized);
  // Two field lines are one comma-separated list (RFC 9110 §5.3).
  if (elements.size() > 1) {
    size_t first = elements[0].size();
    FUZZ_CHECK(acceptEncodingPart({{"Accept-Encoding", input.substr(0, first)},
                                   {"Accept-Encoding", input.substr(first + 1)}}) == normalized);
  }

  // Primary keys: any four parts survive the round trip (scheme and host lower-cased).
  std::string_view parts[4];
  std::string_view rest = input;
  for (int i = 0; i < 3; ++i) {
    size_t cut = rest.find('\x01');
    parts[i] = rest.substr(0, cut);
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
  }
  parts[3] = rest;
  std::string key = makeCacheKey(parts[0], parts[1], parts[2], parts[3]);
  CacheKeyParts out;
  FUZZ_CHECK(splitCacheKey(key, out));
  FUZZ_CHECK(out.path == parts[2] && out.query == parts[3]);
  FUZZ_CHECK(out.scheme.size() == parts[0].size());
  FUZZ_CHECK(equalsIgnoreCase(out.scheme, parts[0]));
  FUZZ_CHECK(makeCacheKey(out.scheme, out.host, out.path, out.query) == key);
  FUZZ_CHECK(!splitCacheKey(key + "x", out));
}

void checkL2Record(std::string_view input) {
  constexpr uint64_t kLimit = 4096;
  L2DecodeError error = L2DecodeError::None;
  std::shared_ptr<CacheEntry> entry = decodeL2Record(input, kLimit, error);
  if (entry == nullptr) {
    FUZZ_CHECK(error != L2DecodeError::None);
    return;
  }
  FUZZ_CHECK(error == L2DecodeError::None);
  FUZZ_CHECK(entry->body.size() <= kLimit);
  FUZZ_CHECK(!entry->key.empty());
  FUZZ_CHECK(entry->status >= 100 && entry->status <= 999);
  FUZZ_CHECK(entry->reason.find_first_of("\r\n") == std::string::npos);
  // The stored fields are whole "Name: value\r\n" lines: nothing a hit replays can split a header.
  std::string_view fields = entry->fields;
  while (!fields.empty()) {
    size_t eol = fields.find("\r\n");
    FUZZ_CHECK(eol != std::string_view::npos);
    std::string_view line = fields.substr(0, eol);
    FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos && line.find(':') != std::string_view::npos);
    fields.remove_prefix(eol + 2);
  }
  // One layout per entry: what decoded is exactly what encoding it gives.
  FUZZ_CHECK(encodeL2Record(*entry) == input);
}

}  // namespace perfgate::fuzz
