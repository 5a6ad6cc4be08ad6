#include "filters/tracing/otlp_exporter.h"

#include <curl/curl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "filters/tracing/trace_context.h"
#include "gateway/text.h"

namespace perfgate {
namespace {

void appendString(std::string& out, std::string_view value) {
  out.push_back('"');
  appendJsonEscaped(out, value);
  out.push_back('"');
}

void stringAttribute(std::string& out, bool& first, const char* key, std::string_view value) {
  if (value.empty()) return;
  out.append(first ? "" : ",");
  first = false;
  out.append("{\"key\":\"").append(key).append("\",\"value\":{\"stringValue\":");
  appendString(out, value);
  out.append("}}");
}

void intAttribute(std::string& out, bool& first, const char* key, int64_t value) {
  out.append(first ? "" : ",");
  first = false;
  // OTLP JSON carries 64-bit integers as strings.
  out.append("{\"key\":\"").append(key).append("\",\"value\":{\"intValue\":\"").append(std::to_string(value)).append("\"}}");
}

void doubleAttribute(std::string& out, bool& first, const char* key, double value) {
  out.append(first ? "" : ",");
  first = false;
  out.append("{\"key\":\"").append(key).append("\",\"value\":{\"doubleValue\":").append(fmt::format("{:.3f}", value)).append("}}");
}

size_t discard(char*, size_t size, size_t count, void*) { return size * count; }

}  // namespace

std::string otlpJson(const std::vector<SpanRecord>& spans, const std::string& service_name) {
  std::string out;
  out.reserve(256 + spans.size() * 700);
  out.append("{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
  appendString(out, service_name);
  out.append("}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"perfgate\",\"version\":\"" PERFGATE_VERSION "\"},\"spans\":[");
  for (size_t i = 0; i < spans.size(); ++i) {
    const SpanRecord& s = spans[i];
    if (i != 0) out.push_back(',');
    out.append("{\"traceId\":\"");
    appendHex(out, s.trace_id.data(), s.trace_id.size());
    out.append("\",\"spanId\":\"");
    appendHex(out, s.span_id.data(), s.span_id.size());
    out.append("\"");
    bool root = true;
    for (uint8_t b : s.parent_id) root = root && b == 0;
    if (!root) {
      out.append(",\"parentSpanId\":\"");
      appendHex(out, s.parent_id.data(), s.parent_id.size());
      out.append("\"");
    }
    out.append(",\"name\":");
    appendString(out, s.route.empty() ? s.method : s.method + " " + s.route);
    out.append(",\"kind\":2,\"startTimeUnixNano\":\"").append(std::to_string(s.start_unix_ns));
    out.append("\",\"endTimeUnixNano\":\"").append(std::to_string(s.end_unix_ns)).append("\",\"attributes\":[");
    bool first = true;
    stringAttribute(out, first, "http.request.method", s.method);
    stringAttribute(out, first, "url.path", s.path);
    stringAttribute(out, first, "server.address", s.host);
    stringAttribute(out, first, "client.address", s.client);
    intAttribute(out, first, "http.response.status_code", s.status);
    stringAttribute(out, first, "http.route", s.route);
    stringAttribute(out, first, "perfgate.cache", s.cache);
    stringAttribute(out, first, "perfgate.upstream", s.upstream);
    if (s.upstream_ms >= 0) doubleAttribute(out, first, "perfgate.upstream_ms", s.upstream_ms);
    stringAttribute(out, first, "http.request_id", s.request_id);
    out.append("]");
    // Status: ERROR (2) for 5xx (server span rule of the HTTP semantic conventions), else unset.
    if (s.error) out.append(",\"status\":{\"code\":2}");
    out.append("}");
  }
  out.append("]}]}]}");
  return out;
}

OtlpExporter::OtlpExporter(const TracingConfig& config) : config_(config) {
  thread_ = std::thread([this] { run(); });
}

OtlpExporter::~OtlpExporter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void OtlpExporter::add(SpanRecord span) {
  bool full_batch = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= config_.max_queue) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(span));
    full_batch = queue_.size() >= config_.batch_size;
  }
  if (full_batch) wake_.notify_one();
}

void OtlpExporter::run() {
  pthread_setname_np(pthread_self(), "perfgate-otlp");
  std::vector<SpanRecord> batch;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, config_.flush_interval,
                     [this] { return stopping_ || queue_.size() >= config_.batch_size; });
      stopping = stopping_;
      size_t take = std::min<size_t>(queue_.size(), config_.batch_size);
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + take));
      queue_.erase(queue_.begin(), queue_.begin() + take);
    }
    if (!batch.empty()) {
      if (post(otlpJson(batch, config_.service_name))) {
        exported_.fetch_add(batch.size(), std::memory_order_relaxed);
      } else {
        failed_.fetch_add(batch.size(), std::memory_order_relaxed);
      }
      batch.clear();
    }
    if (stopping) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue_.empty()) return;
    }
  }
}

bool OtlpExporter::post(const std::string& body) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return false;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl.get(), CURLOPT_URL, config_.otlp_endpoint.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(config_.export_timeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &discard);
  CURLcode rc = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK || status < 200 || status >= 300) {
    if (!failing_) {  // once per spell of failures: the counter tells how many spans were lost
      std::string why = rc != CURLE_OK ? std::string(curl_easy_strerror(rc)) : "HTTP status " + std::to_string(status);
      spdlog::warn("tracing: export to {} failed: {} (spans are dropped until it works)", config_.otlp_endpoint, why);
    }
    failing_ = true;
    return false;
  }
  if (failing_) spdlog::info("tracing: export to {} works again", config_.otlp_endpoint);
  failing_ = false;
  return true;
}

}  // namespace perfgate
