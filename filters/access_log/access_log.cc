#include "filters/access_log/access_log.h"

#include <spdlog/async.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "gateway/text.h"

namespace perfgate {

// A file sink that reopens its path on request (on the logger's thread, before the next line).
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(std::string path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) throw std::runtime_error(std::strerror(errno));
  }
  ~ReopenableFileSink() override {
    if (file_ != nullptr) std::fclose(file_);
  }
  void requestReopen() { reopen_.store(true, std::memory_order_release); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    reopenIfAsked();
    if (file_ == nullptr) return;
    std::fwrite(msg.payload.data(), 1, msg.payload.size(), file_);
    std::fputc('\n', file_);
  }
  void flush_() override {
    reopenIfAsked();
    if (file_ != nullptr) std::fflush(file_);
  }

 private:
  void reopenIfAsked() {
    if (!reopen_.exchange(false, std::memory_order_acq_rel)) return;
    std::FILE* fresh = std::fopen(path_.c_str(), "ae");
    if (fresh == nullptr) {
      spdlog::error("access log {}: cannot reopen ({}); writing on to the old file", path_, std::strerror(errno));
      return;
    }
    if (file_ != nullptr) std::fclose(file_);
    file_ = fresh;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::atomic<bool> reopen_{false};
};

namespace {

std::shared_ptr<spdlog::details::thread_pool> sharedThreadPool() {
  static std::shared_ptr<spdlog::details::thread_pool> pool =
      std::make_shared<spdlog::details::thread_pool>(8192, 1);
  return pool;
}

std::atomic<uint64_t> g_lines{0};

using Field = AccessFormat::Field;

struct Name {
  const char* name;
  Field field;
};
// JSON field names, in the order of a default line.
constexpr Name kJsonFields[] = {
    {"time", Field::Time},           {"client", Field::Client},         {"method", Field::Method},
    {"host", Field::Host},           {"path", Field::Path},             {"query", Field::Query},
    {"protocol", Field::Protocol},   {"status", Field::Status},         {"bytes_in", Field::BytesIn},
    {"bytes_out", Field::BytesOut},  {"total_us", Field::TotalUs},      {"upstream_us", Field::UpstreamUs},
    {"route", Field::Route},         {"cache", Field::Cache},           {"upstream", Field::Upstream},
    {"upstream_addr", Field::UpstreamAddr},
    {"user_agent", Field::UserAgent}, {"referer", Field::Referer},      {"request_id", Field::RequestId},
    {"background", Field::Background},
};
// Template variables (nginx's names where nginx has the variable).
constexpr Name kVariables[] = {
    {"remote_addr", Field::Client},        {"time_iso8601", Field::Time},        {"time_local", Field::TimeLocal},
    {"request", Field::Request},           {"request_method", Field::Method},    {"host", Field::Host},
    {"uri", Field::Path},                  {"args", Field::Query},               {"server_protocol", Field::Protocol},
    {"status", Field::Status},             {"request_length", Field::BytesIn},   {"body_bytes_sent", Field::BytesOut},
    {"request_time", Field::RequestTime},  {"upstream_response_time", Field::UpstreamTime},
    {"route", Field::Route},               {"cache_status", Field::Cache},       {"upstream", Field::Upstream},
    {"upstream_addr", Field::UpstreamAddr},
    {"http_user_agent", Field::UserAgent}, {"http_referer", Field::Referer},     {"request_id", Field::RequestId},
};
constexpr char kCombined[] =
    "$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

bool isVariableChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

void appendTime(std::string& line, bool local_form) {
  using namespace std::chrono;
  auto now = system_clock::now();
  time_t seconds = system_clock::to_time_t(now);
  tm utc;
  gmtime_r(&seconds, &utc);
  char stamp[40];
  if (local_form) {  // nginx's $time_local, in UTC: 06/Dec/2026:03:10:00 +0000
    strftime(stamp, sizeof stamp, "%d/%b/%Y:%H:%M:%S +0000", &utc);
    line.append(stamp);
    return;
  }
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  line.append(stamp);
  line.append(fmt::format(".{:03}Z", duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000));
}

// A text value in a template line: as it is, "-" when empty; bytes that could break the line or a
// quoted field (quotes, backslashes, controls, non-ASCII) escaped as \xHH, as nginx does.
void appendText(std::string& line, std::string_view value) {
  if (value.empty()) {
    line.push_back('-');
    return;
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      line.append(fmt::format("\\x{:02X}", c));
    } else {
      line.push_back(static_cast<char>(c));
    }
  }
}

void appendSeconds(std::string& line, int64_t us) { line.append(fmt::format("{}.{:03}", us / 1'000'000, us / 1000 % 1000)); }

}  // namespace

AccessFormat::AccessFormat(const std::string& format, const std::vector<std::string>& fields) {
  if (format == "json") {
    if (fields.empty()) {
      for (const Name& n : kJsonFields) json_fields_.push_back(n.field);
    }
    for (const std::string& name : fields) {
      const Name* found = nullptr;
      for (const Name& n : kJsonFields) {
        if (name == n.name) found = &n;
      }
      if (found == nullptr) throw std::invalid_argument("unknown access log field '" + name + "'");
      json_fields_.push_back(found->field);
    }
    return;
  }
  json_ = false;
  std::string_view text = format == "combined" ? std::string_view(kCombined) : std::string_view(format);
  Piece piece;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size() || !isVariableChar(text[i + 1])) {
      piece.literal.push_back(text[i]);
      continue;
    }
    size_t end = i + 1;
    while (end < text.size() && isVariableChar(text[end])) ++end;
    std::string_view name = text.substr(i + 1, end - i - 1);
    const Name* found = nullptr;
    for (const Name& n : kVariables) {
      if (name == n.name) found = &n;
    }
    if (found == nullptr) throw std::invalid_argument("unknown access log variable '$" + std::string(name) + "'");
    piece.field = found->field;
    pieces_.push_back(std::move(piece));
    piece = Piece();
    i = end - 1;
  }
  if (!piece.literal.empty()) {
    piece.has_field = false;
    pieces_.push_back(std::move(piece));
  }
}

std::vector<std::string> AccessFormat::jsonFieldNames() {
  std::vector<std::string> names;
  for (const Name& n : kJsonFields) names.emplace_back(n.name);
  return names;
}

std::vector<std::string> AccessFormat::variableNames() {
  std::vector<std::string> names;
  for (const Name& n : kVariables) names.emplace_back(n.name);
  return names;
}

void AccessFormat::render(const AccessRecord& r, std::string& line) const {
  if (json_) {
    line.push_back('{');
    bool first = true;
    auto key = [&](const char* name) {
      if (!first) line.push_back(',');
      first = false;
      line.push_back('"');
      line.append(name);
      line.append("\":");
    };
    auto text = [&](const char* name, std::string_view value) {
      key(name);
      line.push_back('"');
      appendJsonEscaped(line, value);
      line.push_back('"');
    };
    for (Field field : json_fields_) {
      switch (field) {
        case Field::Time: key("time"); line.push_back('"'); appendTime(line, false); line.push_back('"'); break;
        case Field::Client: text("client", r.client); break;
        case Field::Method: text("method", r.method); break;
        case Field::Host: text("host", r.host); break;
        case Field::Path: text("path", r.path); break;
        case Field::Query: if (!r.query.empty()) text("query", r.query); break;
        case Field::Protocol: text("protocol", r.protocol); break;
        case Field::Status: key("status"); line.append(std::to_string(r.status)); break;
        case Field::BytesIn: key("bytes_in"); line.append(std::to_string(r.bytes_in)); break;
        case Field::BytesOut: key("bytes_out"); line.append(std::to_string(r.bytes_out)); break;
        case Field::TotalUs: key("total_us"); line.append(std::to_string(r.total_us)); break;
        case Field::UpstreamUs:
          if (r.upstream_us >= 0) {
            key("upstream_us");
            line.append(std::to_string(r.upstream_us));
          }
          break;
        case Field::Route: text("route", r.route); break;
        case Field::Cache: if (!r.cache.empty()) text("cache", r.cache); break;
        case Field::Upstream: if (!r.upstream.empty()) text("upstream", r.upstream); break;
        case Field::UpstreamAddr: if (!r.upstream_addr.empty()) text("upstream_addr", r.upstream_addr); break;
        case Field::UserAgent: if (!r.user_agent.empty()) text("user_agent", r.user_agent); break;
        case Field::Referer: if (!r.referer.empty()) text("referer", r.referer); break;
        case Field::RequestId: if (!r.request_id.empty()) text("request_id", r.request_id); break;
        case Field::Background:
          if (r.background) {
            key("background");
            line.append("true");
          }
          break;
        default: break;  // template-only
      }
    }
    line.push_back('}');
    return;
  }
  for (const Piece& piece : pieces_) {
    line.append(piece.literal);
    if (!piece.has_field) continue;
    switch (piece.field) {
      case Field::Time: appendTime(line, false); break;
      case Field::TimeLocal: appendTime(line, true); break;
      case Field::Client: appendText(line, r.client); break;
      case Field::Method: appendText(line, r.method); break;
      case Field::Host: appendText(line, r.host); break;
      case Field::Path: appendText(line, r.path); break;
      case Field::Query: appendText(line, r.query); break;
      case Field::Protocol: appendText(line, r.protocol); break;
      case Field::Request:
        appendText(line, r.method);
        line.push_back(' ');
        appendText(line, r.path);
        if (!r.query.empty()) {
          line.push_back('?');
          appendText(line, r.query);
        }
        line.push_back(' ');
        appendText(line, r.protocol);
        break;
      case Field::Status: line.append(std::to_string(r.status)); break;
      case Field::BytesIn: line.append(std::to_string(r.bytes_in)); break;
      case Field::BytesOut: line.append(std::to_string(r.bytes_out)); break;
      case Field::RequestTime: appendSeconds(line, r.total_us); break;
      case Field::UpstreamTime:
        if (r.upstream_us >= 0) {
          appendSeconds(line, r.upstream_us);
        } else {
          line.push_back('-');
        }
        break;
      case Field::Route: appendText(line, r.route); break;
      case Field::Cache: appendText(line, r.cache); break;
      case Field::Upstream: appendText(line, r.upstream); break;
      case Field::UpstreamAddr: appendText(line, r.upstream_addr); break;
      case Field::UserAgent: appendText(line, r.user_agent); break;
      case Field::Referer: appendText(line, r.referer); break;
      case Field::RequestId: appendText(line, r.request_id); break;
      default: break;  // JSON-only
    }
  }
}

AccessLog::AccessLog(const std::string& path, AccessFormat format) : path_(path), format_(std::move(format)) {
  static std::atomic<unsigned> counter{0};
  spdlog::sink_ptr sink;
  if (path == "-") {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    file_ = std::make_shared<ReopenableFileSink>(path);
    sink = file_;
  }
  logger_ = std::make_shared<spdlog::async_logger>("access-" + std::to_string(counter++), std::move(sink),
                                                   sharedThreadPool(), spdlog::async_overflow_policy::overrun_oldest);
  logger_->set_pattern("%v");
  logger_->flush_on(spdlog::level::info);
}

AccessLog::~AccessLog() { logger_->flush(); }

void AccessLog::write(const AccessRecord& record) {
  thread_local std::string line;
  line.clear();
  format_.render(record, line);
  g_lines.fetch_add(1, std::memory_order_relaxed);
  logger_->info(line);
}

void AccessLog::reopen() {
  if (file_ == nullptr) return;
  file_->requestReopen();
  logger_->flush();  // through the queue: the logger's thread reopens now, not at the next line
}

uint64_t AccessLog::lines() { return g_lines.load(std::memory_order_relaxed); }

uint64_t AccessLog::dropped() { return sharedThreadPool()->overrun_counter(); }

}  // namespace perfgate
