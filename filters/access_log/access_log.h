// The access log: one JSON object per request, written by spdlog's async file sink so a worker
// never waits on the disk.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace perfgate {

struct AccessRecord {
  std::string_view client;
  std::string_view method;
  std::string_view path;
  std::string_view route;
  int status = 0;
  uint64_t bytes_in = 0;   // request body bytes
  uint64_t bytes_out = 0;  // response body bytes
  int64_t total_us = 0;
  int64_t upstream_us = -1;  // -1: no upstream involved
  bool background = false;   // a refresh the gateway made itself (no client waited for it)
};

class AccessLog {
 public:
  // Opens (appends to) `path`. Throws std::runtime_error when the file cannot be opened.
  explicit AccessLog(const std::string& path);
  ~AccessLog();
  const std::string& path() const { return path_; }
  void write(const AccessRecord& record);

 private:
  std::string path_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace perfgate
