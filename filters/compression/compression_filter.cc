#include "filters/compression/compression_filter.h"

#include <charconv>
#include <string>

#include "gateway/http/cache_control.h"
#include "gateway/http/accept_encoding.h"
#include "gateway/http/gzip_codec.h"
#include "gateway/upstream/upstream.h"

namespace perfgate {
namespace {

// The body of one exchange on its way to gzip: whole (buffered, bounded by the Content-Length
// checked at the head) or as a stream.
class GzipTransform final : public FilterState, public BodyTransform {
 public:
  GzipTransform(int level, bool whole, bool flush_each_write, CompressionCounters& counters)
      : level_(level), counters_(counters) {
    if (!whole) stream_ = std::make_unique<GzipStream>(level, flush_each_write);
  }

  bool transform(std::string_view in, bool end, std::string& out) override {
    bytes_in_ += in.size();
    size_t before = out.size();
    if (stream_ != nullptr) {
      if (!stream_->write(in, end, out)) return false;
    } else {
      pending_.append(in);
      if (end) {
        out.append(gzipCompress(pending_, level_));
        pending_ = std::string();
      }
    }
    bytes_out_ += out.size() - before;
    if (end) {
      CompressionCounters::bump(counters_.compressed);
      CompressionCounters::bump(counters_.bytes_in, bytes_in_);
      CompressionCounters::bump(counters_.bytes_out, bytes_out_);
    }
    return true;
  }

 private:
  int level_;
  CompressionCounters& counters_;
  std::unique_ptr<GzipStream> stream_;
  std::string pending_;  // whole mode: the body so far
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
};

bool hasBody(int status) { return status >= 200 && status != 204 && status != 304; }

// Adds Accept-Encoding to the response's Vary (RFC 9110 §12.5.5), merging all Vary lines into
// one; leaves "Vary: *" and a Vary that already names it alone.
void addVaryAcceptEncoding(ResponseHead& head) {
  std::string merged;
  bool listed = false;
  head.headers.forEach("vary", [&](std::string_view value) {
    forEachListElement(value, [&](std::string_view element) {
      listed = listed || element == "*" || equalsIgnoreCase(element, "accept-encoding");
      if (!merged.empty()) merged.append(", ");
      merged.append(element);
    });
  });
  if (listed) return;
  if (!merged.empty()) merged.append(", ");
  merged.append("Accept-Encoding");
  head.headers.set("Vary", merged);
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

CompressionFilter::CompressionFilter(const CompressionConfig& config, std::shared_ptr<CompressionStats> stats)
    : config_(config), stats_(std::move(stats)) {}

FilterAction CompressionFilter::onRequest(Exchange& exchange, size_t) const {
  if (exchange.route().settings<CompressionRouteSettings>().compression) {
    exchange.notes().gzip_variant = prefersGzip(exchange.request().headers);
  }
  return FilterAction::Continue;
}

void CompressionFilter::onUpstreamRequest(Exchange& exchange, size_t, UpstreamRequest& request) const {
  if (!exchange.notes().gzip_variant) return;
  // As Varnish does: the backend is asked for gzip or identity only, so whatever it sends is one
  // of the two representations a cache keeps per URL (ExchangeNotes::gzip_variant).
  request.headers.remove("accept-encoding");
  if (*exchange.notes().gzip_variant) request.headers.add("Accept-Encoding", "gzip");
}

FilterAction CompressionFilter::onResponseHead(Exchange& exchange, size_t index, ResponseHead& head) const {
  const RouteConfig& route = exchange.route();
  if (!route.settings<CompressionRouteSettings>().compression || !hasBody(head.status) || head.status == 206) {
    return FilterAction::Continue;
  }
  if (std::optional<std::string_view> coding = head.headers.get("content-encoding");
      coding && !equalsIgnoreCase(*coding, "identity")) {
    // Encoded by the backend, which was asked according to Accept-Encoding: a cache must key it
    // by that even when the backend forgot to say so.
    addVaryAcceptEncoding(head);
    return FilterAction::Continue;
  }
  if (head.headers.get("content-range")) return FilterAction::Continue;
  std::optional<std::string_view> type = head.headers.get("content-type");
  if (!type || !compressibleType(*type, config_.types)) return FilterAction::Continue;
  // RFC 9111 §5.2.2.6 / §5.2.1.6: no-transform forbids changing the content.
  if (parseCacheControl(head.headers).no_transform) return FilterAction::Continue;
  std::optional<uint64_t> length;
  if (std::optional<std::string_view> field = head.headers.get("content-length")) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(field->data(), field->data() + field->size(), value);
    if (ec == std::errc() && end == field->data() + field->size()) length = value;
  }
  if (length && *length < config_.min_bytes) return FilterAction::Continue;

  // From here the representation depends on Accept-Encoding, whatever this client sent.
  addVaryAcceptEncoding(head);
  const RequestHead& request = exchange.request();
  if (request.isHead() || !prefersGzip(request.headers)) return FilterAction::Continue;

  head.headers.set("Content-Encoding", "gzip");
  head.headers.remove("content-length");
  if (std::optional<std::string_view> etag = head.headers.get("etag"); etag && !etag->empty() && etag->front() == '"') {
    head.headers.set("ETag", "W/" + std::string(*etag));  // RFC 9110 §8.8.1: no longer byte-equal
  }
  bool whole = length && *length <= exchange.notes().body_kept_up_to;
  auto transform = std::make_unique<GzipTransform>(whole ? config_.level : config_.stream_level, whole,
                                                   !length, stats_->local());
  exchange.transformBody(index, *transform);
  exchange.state(index) = std::move(transform);
  return FilterAction::Continue;
}

}  // namespace perfgate
