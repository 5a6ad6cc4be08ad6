// The access log: one line per request, in JSON (fields selectable), nginx's `combined` format, or
// a template of $variables; written by spdlog's async logger so a worker never waits on the disk
// (a full queue drops the oldest lines, counted). The file is reopened on request (SIGUSR1, a
// reload), so logrotate can move it away; "-" writes to standard output (containers).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog {
class logger;
}

namespace perfgate {

class ReopenableFileSink;

struct AccessRecord {
  std::string_view client;
  std::string_view method;
  std::string_view host;
  std::string_view path;
  std::string_view query;
  std::string_view protocol;  // "HTTP/1.1"
  std::string_view route;
  std::string_view cache;     // X-Cache's verdict ("HIT", "MISS", ...); "" when the cache had no say
  std::string_view upstream;       // the upstream's name; "" when none was involved
  std::string_view upstream_addr;  // its host:port, as configured
  std::string_view user_agent;
  std::string_view referer;
  std::string_view request_id;
  int status = 0;
  uint64_t bytes_in = 0;   // request body bytes
  uint64_t bytes_out = 0;  // response body bytes
  int64_t total_us = 0;
  int64_t upstream_us = -1;  // -1: no upstream involved
  bool background = false;   // a refresh the gateway made itself (no client waited for it)
};

// What a line holds and how it is laid out, compiled once from the config.
class AccessFormat {
 public:
  enum class Field : uint8_t {
    Time, Client, Method, Host, Path, Query, Protocol, Status, BytesIn, BytesOut, TotalUs, UpstreamUs, Route,
    Cache, Upstream, UpstreamAddr, UserAgent, Referer, RequestId, Background,
    // template-only
    TimeLocal, Request, RequestTime, UpstreamTime,
  };
  // "json" (with `fields`, or every field), "combined", or a template ("$remote_addr $status ...").
  // Throws std::invalid_argument naming an unknown field or variable.
  AccessFormat(const std::string& format, const std::vector<std::string>& fields);
  void render(const AccessRecord& record, std::string& line) const;

  // The JSON field names, and the template variables, in README order.
  static std::vector<std::string> jsonFieldNames();
  static std::vector<std::string> variableNames();

 private:
  struct Piece {
    std::string literal;  // before the field
    Field field;
    bool has_field = true;
  };
  bool json_ = true;
  std::vector<Field> json_fields_;
  std::vector<Piece> pieces_;  // a template, "combined" included
};

class AccessLog {
 public:
  // Opens (appends to) `path`, or standard output for "-". Throws std::runtime_error when the
  // file cannot be opened.
  AccessLog(const std::string& path, AccessFormat format);
  ~AccessLog();
  const std::string& path() const { return path_; }
  void write(const AccessRecord& record);
  // The file is closed and opened again by the path (after a rename by logrotate), before the
  // next line is written; a no-op for standard output.
  void reopen();
  // Lines handed to the logger, and lines it dropped because its queue was full (shared by every
  // access log of the process).
  static uint64_t lines();
  static uint64_t dropped();

 private:
  std::string path_;
  AccessFormat format_;
  std::shared_ptr<ReopenableFileSink> file_;  // null for standard output
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace perfgate
