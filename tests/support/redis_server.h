// A real redis-server (Debian's) for the L2 cache tests: started on an ephemeral loopback port
// in its own temporary directory, without persistence, stopped (SIGKILL) on destruction. Also a
// small blocking client (hiredis) for the test's own checks.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "support/gateway_process.h"

namespace perfgate::test {

struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

class RedisServer {
 public:
  // The redis-server binary, "" when it is not installed (tests then skip).
  static std::string binary();

  RedisServer();  // starts it; check running() / failure()
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool running() const { return pid_ > 0; }
  const std::string& failure() const { return failure_; }
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

  // SIGKILL, as a crash would; then start() brings it back, empty, on the same port.
  void kill();
  bool start();
  // SIGSTOP / SIGCONT: a Redis that accepts but does not answer (a slow or hung server).
  void pause() const;
  void resume() const;

  // One command on a fresh blocking connection; null when Redis does not answer.
  RedisReplyPtr command(const std::vector<std::string>& argv) const;
  // Every key name matching `pattern`.
  std::vector<std::string> keys(const std::string& pattern) const;

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string failure_;
};

}  // namespace perfgate::test
