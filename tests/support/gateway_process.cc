#include "support/gateway_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef PERFGATE_BINARY
#error "PERFGATE_BINARY must name the perfgate executable"
#endif

namespace perfgate::test {

namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
  std::string error;
};

// fork/exec PERFGATE_BINARY with `args`, stdin from /dev/null, stdout/stderr to pipes.
Child spawn(const std::vector<std::string>& args) {
  Child child;
  std::vector<std::string> argv_storage;
  argv_storage.push_back(PERFGATE_BINARY);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    child.error = std::string("pipe: ") + std::strerror(errno);
    return child;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    child.error = std::string("pipe: ") + std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return child;
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execv(argv[0], argv.data());
    const char msg[] = "exec of perfgate failed\n";
    [[maybe_unused]] ssize_t w = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  if (devnull >= 0) ::close(devnull);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    child.error = std::string("fork: ") + std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return child;
  }
  child.pid = pid;
  child.out_fd = out_pipe[0];
  child.err_fd = err_pipe[0];
  return child;
}

ExitStatus fromWaitStatus(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) {
    s.exited = true;
    s.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
  }
  return s;
}

std::string tail(const std::string& s, size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

}  // namespace

std::string ExitStatus::describe() const {
  if (exited) return "exit code " + std::to_string(code);
  return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/perfgate-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  std::string path = file(name);
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << content;
  }
  std::filesystem::rename(tmp, path);
  return path;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string GatewayConfig::toToml() const {
  std::map<std::string, std::string> s = {{"listen", "\"127.0.0.1:0\""}, {"workers", std::to_string(workers)}};
  // PERFGATE_TEST_IO_URING=false runs a suite on the other send path (one sendmsg per connection).
  if (const char* io_uring = std::getenv("PERFGATE_TEST_IO_URING"); io_uring != nullptr && *io_uring != '\0') {
    s["io_uring"] = io_uring;
  }
  for (const auto& [k, v] : server) s[k] = v;
  std::map<std::string, std::string> u = {{"url", "\"http://127.0.0.1:" + std::to_string(backend_port) + "\""}};
  for (const auto& [k, v] : upstream) u[k] = v;

  std::string out = "[server]\n";
  for (const auto& [k, v] : s) out += k + " = " + v + "\n";
  out += "\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[log]\nlevel = \"" + log_level + "\"\n";
  if (!access_log.empty()) out += "access_log = \"" + access_log + "\"\n";
  out += "\n[upstream.backend]\n";
  for (const auto& [k, v] : u) out += k + " = " + v + "\n";
  out += "\n";
  if (routes.empty()) {
    out += "[[route]]\nname = \"all\"\nprefix = \"/\"\nupstream = \"backend\"\n";
  } else {
    out += routes;
  }
  if (!extra.empty()) out += "\n" + extra;
  return out;
}

RunResult runPerfgate(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  RunResult result;
  Child child = spawn(args);
  if (child.pid < 0) {
    result.err = child.error;
    return result;
  }
  auto deadline = Clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_open ? child.out_fd : -1, POLLIN, 0}, {err_open ? child.err_fd : -1, POLLIN, 0}};
    int r = ::poll(fds, 2, static_cast<int>(left));
    if (r < 0 && errno != EINTR) break;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
  }
  if (result.timed_out) ::kill(child.pid, SIGKILL);
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = fromWaitStatus(status);
  ::close(child.out_fd);
  ::close(child.err_fd);
  return result;
}

CheckConfigResult checkConfig(const std::string& toml, const std::string& file_name) {
  TempDir dir;
  CheckConfigResult result;
  result.path = dir.write(file_name, toml);
  result.run = runPerfgate({"--check-config", result.path});
  return result;
}

GatewayProcess::GatewayProcess(const std::string& toml) : GatewayProcess(toml, Options{}) {}

GatewayProcess::GatewayProcess(const std::string& toml, Options options) {
  if (dir_.path().empty()) {
    failure_ = "could not create a temporary directory";
    return;
  }
  config_path_ = dir_.write("perfgate.toml", toml);
  std::vector<std::string> args = {"--config", config_path_};
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  start(std::move(args), options, "config:\n" + toml);
}

std::unique_ptr<GatewayProcess> GatewayProcess::withArgs(const std::vector<std::string>& args) {
  return withArgs(args, Options{});
}

std::unique_ptr<GatewayProcess> GatewayProcess::withArgs(const std::vector<std::string>& args, Options options) {
  std::unique_ptr<GatewayProcess> p(new GatewayProcess());
  std::string what = "args:";
  for (const std::string& a : args) what += " " + a;
  p->start(args, options, what);
  return p;
}

void GatewayProcess::start(std::vector<std::string> args, const Options& options, const std::string& what) {
  Child child = spawn(args);
  if (child.pid < 0) {
    failure_ = "could not start " PERFGATE_BINARY ": " + child.error;
    return;
  }
  pid_ = child.pid;
  reader_ = std::thread([this, out = child.out_fd, err = child.err_fd] { readerLoop(out, err); });
  if (!options.expect_ready) return;

  std::unique_lock<std::mutex> lock(mu_);
  bool got = cv_.wait_for(lock, options.ready_timeout, [&] {
    size_t at = out_.find("perfgate ready:");
    return (at != std::string::npos && out_.find('\n', at) != std::string::npos) || streams_closed_;
  });
  size_t at = out_.find("perfgate ready:");
  if (!got || at == std::string::npos || out_.find('\n', at) == std::string::npos) {
    failure_ = std::string(got ? "perfgate exited" : "timed out") + " before printing its ready line.\n" + what +
               "\nstdout:\n" + tail(out_, 2000) + "\nstderr:\n" + tail(err_, 6000);
    return;
  }
  ready_line_ = out_.substr(at, out_.find('\n', at) - at);
  lock.unlock();

  // "perfgate ready: listen=HOST:PORT admin=HOST:PORT workers=N[ metrics=HOST:PORT]"
  auto field = [&](const std::string& key) -> std::string {
    size_t p = ready_line_.find(" " + key + "=");
    if (p == std::string::npos) return "";
    p += key.size() + 2;
    size_t e = ready_line_.find(' ', p);
    return ready_line_.substr(p, e == std::string::npos ? std::string::npos : e - p);
  };
  auto portOf = [](const std::string& hostport) {
    size_t colon = hostport.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(hostport.c_str() + colon + 1);
  };
  listen_port_ = portOf(field("listen"));
  admin_port_ = portOf(field("admin"));
  metrics_port_ = portOf(field("metrics"));
  workers_ = std::atoi(field("workers").c_str());
  if (listen_port_ <= 0) {
    failure_ = "could not parse the ready line: " + ready_line_;
    return;
  }
  ready_ = true;
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0 && running()) {
    ::kill(pid_, SIGTERM);
    if (!waitExit(std::chrono::seconds(5))) {
      ::kill(pid_, SIGKILL);
      waitExit(std::chrono::seconds(5));
    }
  }
  if (reader_.joinable()) reader_.join();
  // Under -DPERFGATE_SANITIZE=ON the gateway reports leaks and undefined behaviour on stderr
  // (at exit, for leaks); any such report fails the test that ran it.
  std::string err = stderrText();
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    if (err.find(marker) != std::string::npos) ADD_FAILURE() << "perfgate reported: " << marker;
  }
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "--- perfgate (pid %d) stderr, last 4000 bytes ---\n%s\n--- end of perfgate stderr ---\n",
                 static_cast<int>(pid_), tail(err, 4000).c_str());
  }
}

void GatewayProcess::readerLoop(int out_fd, int err_fd) {
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    pollfd fds[2] = {{out_open ? out_fd : -1, POLLIN, 0}, {err_open ? err_fd : -1, POLLIN, 0}};
    int r = ::poll(fds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    char buf[8192];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        std::lock_guard<std::mutex> lock(mu_);
        (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    cv_.notify_all();
  }
  ::close(out_fd);
  ::close(err_fd);
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams_closed_ = true;
  }
  cv_.notify_all();
}

bool GatewayProcess::signal(int sig) const { return pid_ > 0 && !exit_ && ::kill(pid_, sig) == 0; }

long GatewayProcess::rssKiB() const {
  if (pid_ <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

int GatewayProcess::openFds() const {
  if (pid_ <= 0) return -1;
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid_) + "/fd", ec);
  if (ec) return -1;
  int count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return -1;
    ++count;
  }
  return count;
}

bool GatewayProcess::running() {
  if (pid_ <= 0 || exit_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_ = fromWaitStatus(status);
    return false;
  }
  return r == 0;
}

std::optional<ExitStatus> GatewayProcess::waitExit(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Let the reader drain what the process wrote before it exited, so stderrText() is complete.
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(2), [&] { return streams_closed_; });
  return exit_;
}

void GatewayProcess::rewriteConfig(const std::string& toml) const { dir_.write("perfgate.toml", toml); }

std::string GatewayProcess::stdoutText() const {
  std::lock_guard<std::mutex> lock(mu_);
  return out_;
}

std::string GatewayProcess::stderrText() const {
  std::lock_guard<std::mutex> lock(mu_);
  return err_;
}

bool GatewayProcess::waitForStderr(const std::string& needle, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return err_.find(needle) != std::string::npos; });
}

}  // namespace perfgate::test
