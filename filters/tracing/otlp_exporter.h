// Spans to an OpenTelemetry collector: OTLP/HTTP with the JSON encoding, in batches, from a thread
// of its own (workers only append to a bounded queue under a short lock; a full queue drops the
// new span, counted). One POST per batch; a failed export is counted and its spans dropped (a
// tracing backend's outage must not grow the proxy's memory).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "filters/tracing/tracing_config.h"

namespace perfgate {

struct SpanRecord {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  std::array<uint8_t, 8> parent_id{};  // all zero: a root span
  int64_t start_unix_ns = 0;
  int64_t end_unix_ns = 0;
  std::string method;
  std::string route;
  std::string path;
  std::string host;
  std::string client;
  std::string cache;     // "hit", "miss", ... ("": no cache verdict)
  std::string upstream;  // "" when not involved
  std::string request_id;
  int status = 0;
  double upstream_ms = -1;  // request handed upstream -> response head; -1: none
  bool error = false;       // 5xx, or a gateway error
};

// The OTLP JSON body (ExportTraceServiceRequest) for `spans`.
std::string otlpJson(const std::vector<SpanRecord>& spans, const std::string& service_name);

class OtlpExporter {
 public:
  explicit OtlpExporter(const TracingConfig& config);
  ~OtlpExporter();  // exports what is queued (bounded by the export timeout), then stops
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  // Any thread; never blocks on the network.
  void add(SpanRecord span);

  uint64_t exported() const { return exported_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }  // queue full
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }    // export failed
  const TracingConfig& config() const { return config_; }

 private:
  void run();
  bool post(const std::string& body);

  TracingConfig config_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<SpanRecord> queue_;
  bool stopping_ = false;
  bool failing_ = false;  // the exporter thread's: the last export failed
  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> failed_{0};
  std::thread thread_;
};

}  // namespace perfgate
