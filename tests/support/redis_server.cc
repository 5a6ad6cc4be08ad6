#include "support/redis_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace perfgate::test {
namespace {

// A port the kernel just handed out on 127.0.0.1 (free again once the probe socket is closed).
int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace

std::string RedisServer::binary() {
  for (const char* path : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

RedisServer::RedisServer() {
  for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt) {
    port_ = freePort();
    start();
  }
}

RedisServer::~RedisServer() { kill(); }

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::kill(pid_, SIGCONT);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::pause() const {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() const {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

bool RedisServer::start() {
  std::string bin = binary();
  if (bin.empty()) {
    failure_ = "redis-server is not installed";
    return false;
  }
  std::string port = std::to_string(port_);
  std::string log = dir_.file("redis.log");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(bin.c_str(), bin.c_str(), "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "", "--appendonly",
            "no", "--dir", dir_.path().c_str(), "--logfile", log.c_str(), "--daemonize", "no", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (pid < 0) {
    failure_ = "fork failed";
    return false;
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      failure_ = "redis-server exited: " + readFile(log);
      return false;
    }
    RedisReplyPtr pong = command({"PING"});
    if (pong != nullptr && pong->type == REDIS_REPLY_STATUS) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  failure_ = "redis-server did not answer PING: " + readFile(log);
  kill();
  return false;
}

RedisReplyPtr RedisServer::command(const std::vector<std::string>& argv) const {
  timeval timeout{2, 0};
  redisContext* context = redisConnectWithTimeout("127.0.0.1", port_, timeout);
  if (context == nullptr) return nullptr;
  if (context->err != 0) {
    redisFree(context);
    return nullptr;
  }
  redisSetTimeout(context, timeout);
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& arg : argv) {
    args.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(args.size()), args.data(), lengths.data()));
  redisFree(context);
  return RedisReplyPtr(reply);
}

std::vector<std::string> RedisServer::keys(const std::string& pattern) const {
  std::vector<std::string> names;
  RedisReplyPtr reply = command({"KEYS", pattern});
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return names;
  for (size_t i = 0; i < reply->elements; ++i) names.emplace_back(reply->element[i]->str, reply->element[i]->len);
  return names;
}

}  // namespace perfgate::test
