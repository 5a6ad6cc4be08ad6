#include "filters/compression/compression_filter.h"

#include <string>

#include "gateway/http/accept_encoding.h"
#include "gateway/http/cache_control.h"
#include "gateway/http/content_codec.h"
#include "gateway/http/tokens.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {
namespace {

// The body of one exchange on its way into a coding: whole (buffered, bounded by the
// Content-Length checked at the head) or as a stream.
class EncodeTransform final : public FilterState, public BodyTransform {
 public:
  EncodeTransform(ContentCoding coding, int level, bool whole, bool flush_each_write, CompressionCounters& counters)
      : coding_(coding), level_(level), counters_(counters) {
    if (!whole) stream_ = makeStreamEncoder(coding, level, flush_each_write);
  }

  bool transform(std::string_view in, bool end, std::string& out) override {
    bytes_in_ += in.size();
    size_t before = out.size();
    if (stream_ != nullptr) {
      if (!stream_->write(in, end, out)) return false;
    } else {
      pending_.append(in);
      if (end) {
        std::string encoded = encodeWhole(coding_, pending_, level_);
        if (encoded.empty()) return false;
        out.append(encoded);
        pending_ = std::string();
      }
    }
    bytes_out_ += out.size() - before;
    if (end) counters_.encoded(coding_, bytes_in_, bytes_out_);
    return true;
  }

 private:
  ContentCoding coding_;
  int level_;
  CompressionCounters& counters_;
  std::unique_ptr<StreamCodec> stream_;
  std::string pending_;  // whole mode: the body so far
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
};

// A body the backend encoded in a coding the client does not take, decoded as it passes.
class DecodeTransform final : public FilterState, public BodyTransform {
 public:
  DecodeTransform(ContentCoding coding, CompressionCounters& counters)
      : coding_(coding), decoder_(makeStreamDecoder(coding)), counters_(counters) {}

  bool transform(std::string_view in, bool end, std::string& out) override {
    if (decoder_ == nullptr || !decoder_->write(in, end, out)) return false;
    if (end) CompressionCounters::bump(counters_.decoded[codingIndex(coding_)]);
    return true;
  }

 private:
  ContentCoding coding_;
  std::unique_ptr<StreamCodec> decoder_;
  CompressionCounters& counters_;
};

bool hasBody(int status) { return status >= 200 && status != 204 && status != 304; }

std::optional<uint64_t> contentLength(const HeaderBlock& fields) {
  std::optional<std::string_view> field = fields.get("content-length");
  return field ? parseDecimal(*field) : std::nullopt;
}

// The new body's fields: its coding named, the length gone (it goes out chunked), the tag weak.
void markRecoded(ResponseHead& head, ContentCoding coding) {
  if (coding == ContentCoding::Identity) {
    head.headers.remove("content-encoding");
  } else {
    head.headers.set("Content-Encoding", codingName(coding));
  }
  head.headers.remove("content-length");
  if (std::optional<std::string_view> etag = head.headers.get("etag"); etag && !etag->empty()) {
    head.headers.set("ETag", recodedEtag(*etag));
  }
}

}  // namespace

bool compressibleType(std::string_view content_type, const std::vector<std::string>& types) {
  std::string_view media = trimOws(content_type.substr(0, content_type.find(';')));
  size_t slash = media.find('/');
  if (slash == std::string_view::npos) return false;
  for (const std::string& type : types) {
    if (type.size() >= 2 && type.compare(type.size() - 2, 2, "/*") == 0) {
      if (slash + 2 == type.size() && equalsIgnoreCase(media.substr(0, slash + 1), std::string_view(type).substr(0, slash + 1))) {
        return true;
      }
    } else if (equalsIgnoreCase(media, type)) {
      return true;
    }
  }
  return false;
}

bool encodable(const CompressionConfig& config, int status, const HeaderBlock& fields, std::optional<uint64_t> length) {
  if (!hasBody(status) || status == 206 || fields.get("content-range")) return false;
  std::optional<std::string_view> type = fields.get("content-type");
  if (!type || !compressibleType(*type, config.types)) return false;
  if (parseCacheControl(fields).no_transform) return false;
  return !length || *length >= config.min_bytes;
}

void addVaryAcceptEncoding(HeaderBlock& fields) {
  std::string merged;
  bool listed = false;
  fields.forEach("vary", [&](std::string_view value) {
    forEachListElement(value, [&](std::string_view element) {
      listed = listed || element == "*" || equalsIgnoreCase(element, "accept-encoding");
      if (!merged.empty()) merged.append(", ");
      merged.append(element);
    });
  });
  if (listed) return;
  if (!merged.empty()) merged.append(", ");
  merged.append("Accept-Encoding");
  fields.set("Vary", merged);
}

std::string recodedEtag(std::string_view etag) {
  if (etag.empty() || etag.front() != '"') return std::string(etag);
  return "W/" + std::string(etag);
}

CompressionFilter::CompressionFilter(const CompressionConfig& config, std::shared_ptr<CompressionStats> stats)
    : config_(config), stats_(std::move(stats)) {
  for (ContentCoding coding : config_.codings) {
    if (!config_.inBackground(coding)) fast_codings_.push_back(coding);
  }
}

FilterAction CompressionFilter::onRequest(Exchange& exchange, size_t) const {
  if (exchange.route().settings<CompressionRouteSettings>().compression) {
    exchange.notes().coding_variant = chooseCoding(parseAcceptEncoding(exchange.request().headers), config_.codings);
  }
  return FilterAction::Continue;
}

void CompressionFilter::onUpstreamRequest(Exchange& exchange, size_t, UpstreamRequest& request) const {
  std::optional<ContentCoding> coding = exchange.notes().coding_variant;
  if (!coding) return;
  // As Varnish does with gzip: the backend is asked for the one coding this client is to get
  // (or identity), so whatever it sends is one of the representations a cache keeps per URL.
  request.headers.remove("accept-encoding");
  if (*coding != ContentCoding::Identity) request.headers.add("Accept-Encoding", codingName(*coding));
}

FilterAction CompressionFilter::onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const {
  std::optional<ContentCoding>& variant = exchange.notes().coding_variant;
  if (!variant || !hasBody(head.status) || head.status == 206) return FilterAction::Continue;
  const RequestHead& request = exchange.request();
  if (std::optional<std::string_view> field = head.headers.get("content-encoding");
      field && !equalsIgnoreCase(*field, "identity")) {
    std::optional<ContentCoding> sent = parseCoding(trimOws(*field));  // before `field` goes with a change
    // Encoded by the backend, which was asked according to Accept-Encoding: a cache must key it
    // by that even when the backend forgot to say so.
    addVaryAcceptEncoding(head.headers);
    if (!sent) {
      exchange.notes().unknown_coding = true;  // passed on as it is; never stored
      return FilterAction::Continue;
    }
    if (*sent == *variant) return FilterAction::Continue;
    // Not the coding asked for: keyed by what it is, and decoded for a client that does not take it.
    variant = *sent;
    if (request.isHead() || parseAcceptEncoding(request.headers).accepts(*sent) ||
        parseCacheControl(head.headers).no_transform) {
      return FilterAction::Continue;
    }
    variant = ContentCoding::Identity;
    return decode(exchange, index, head, *sent);
  }
  std::optional<uint64_t> length = contentLength(head.headers);
  if (!encodable(config_, head.status, head.headers, length)) return FilterAction::Continue;

  // From here the representation depends on Accept-Encoding, whatever this client sent.
  addVaryAcceptEncoding(head.headers);
  if (request.isHead() || *variant == ContentCoding::Identity) return FilterAction::Continue;

  const bool whole = length && *length <= exchange.notes().body_kept_up_to;
  ContentCoding coding = *variant;
  if (whole && config_.inBackground(coding)) {
    // Stored in the client's best fast coding now; the cache makes the slow one in the background.
    coding = chooseCoding(parseAcceptEncoding(request.headers), fast_codings_);
    variant = coding;
    if (coding == ContentCoding::Identity) return FilterAction::Continue;
  }
  markRecoded(head, coding);
  auto transform = std::make_unique<EncodeTransform>(
      coding, whole ? config_.wholeLevel(coding) : config_.streamLevel(coding), whole, !length, stats_->local());
  exchange.transformBody(index, *transform);
  exchange.state(index) = std::move(transform);
  return FilterAction::Continue;
}

FilterAction CompressionFilter::decode(Exchange& exchange, size_t index, ResponseHead& head, ContentCoding coding) const {
  markRecoded(head, ContentCoding::Identity);
  auto transform = std::make_unique<DecodeTransform>(coding, stats_->local());
  exchange.transformBody(index, *transform);
  exchange.state(index) = std::move(transform);
  return FilterAction::Continue;
}

}  // namespace perfgate
