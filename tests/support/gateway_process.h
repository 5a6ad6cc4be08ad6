// Runs the real perfgate binary (PERFGATE_BINARY) as a child process for end-to-end tests: writes
// the config to a temporary directory, waits for the ready line on stdout, and collects stderr.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace perfgate::test {

struct ExitStatus {
  bool exited = false;  // exited normally (then `code` is set), else killed by `signal`
  int code = -1;
  int signal = 0;
  std::string describe() const;  // "exit code 0" / "killed by signal 9 (Killed)"
};

// A directory under $TMPDIR (or /tmp) removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to file(name) (replacing it atomically) and returns its path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

std::string readFile(const std::string& path);  // "" when missing

// Builds a gateway config around one backend, with values tests commonly vary. Every value is raw
// TOML ("\"300ms\"", "4"); the defaults keep the tests quick and the listeners on ephemeral ports.
struct GatewayConfig {
  int backend_port = 0;
  int workers = 2;
  std::map<std::string, std::string> server;    // [server] key -> raw TOML value
  std::map<std::string, std::string> upstream;  // [upstream.backend] key -> raw TOML value
  std::string log_level = "info";
  std::string access_log;                       // path; empty: off
  // [[route]] tables; when empty, one route "all" with prefix "/" to "backend".
  std::string routes;
  // Appended verbatim (more [upstream.X] tables...).
  std::string extra;

  std::string toToml() const;
};

struct RunResult {
  ExitStatus status;
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs PERFGATE_BINARY with `args` to completion (killed after `timeout`).
RunResult runPerfgate(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Writes `toml` to a temporary file named `file_name` and runs `perfgate --check-config` on it.
struct CheckConfigResult {
  RunResult run;
  std::string path;  // where the file was (already removed)
};
CheckConfigResult checkConfig(const std::string& toml, const std::string& file_name = "check.toml");

class GatewayProcess {
 public:
  struct Options {
    std::vector<std::string> extra_args;  // after "--config FILE"
    std::chrono::milliseconds ready_timeout{10'000};
    bool expect_ready = true;  // false: do not wait for the ready line (tests of failed starts)
  };

  // Starts perfgate with `toml` as its config file. Check ready(); on failure, failure() says why
  // and includes the child's stderr.
  explicit GatewayProcess(const std::string& toml);
  GatewayProcess(const std::string& toml, Options options);
  // Starts perfgate with exactly `args` (no config file written): the drop-in command line.
  static std::unique_ptr<GatewayProcess> withArgs(const std::vector<std::string>& args);
  static std::unique_ptr<GatewayProcess> withArgs(const std::vector<std::string>& args, Options options);
  // SIGTERM, then SIGKILL when it has not exited within a few seconds.
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  bool ready() const { return ready_; }
  const std::string& failure() const { return failure_; }
  const std::string& readyLine() const { return ready_line_; }

  int listenPort() const { return listen_port_; }
  int adminPort() const { return admin_port_; }
  int metricsPort() const { return metrics_port_; }  // 0 without [metrics] listen
  int workers() const { return workers_; }
  pid_t pid() const { return pid_; }

  bool signal(int sig) const;
  // Resident memory of the process from /proc (VmRSS), in KiB; -1 when unavailable.
  long rssKiB() const;
  // Open file descriptors of the process (entries of /proc/PID/fd); -1 when unavailable.
  int openFds() const;
  bool running();  // not yet exited (reaps it when it has)
  // Waits for exit; nullopt when it is still running after `timeout`.
  std::optional<ExitStatus> waitExit(std::chrono::milliseconds timeout);

  const std::string& configPath() const { return config_path_; }
  // Replaces the config file (atomically: write then rename), for SIGHUP tests.
  void rewriteConfig(const std::string& toml) const;
  const TempDir& dir() const { return dir_; }

  std::string stdoutText() const;
  std::string stderrText() const;
  // Waits until stderr contains `needle` (true) or `timeout` passes (false).
  bool waitForStderr(const std::string& needle, std::chrono::milliseconds timeout) const;

 private:
  GatewayProcess() = default;
  void start(std::vector<std::string> args, const Options& options, const std::string& what);
  void readerLoop(int out_fd, int err_fd);

  TempDir dir_;
  std::string config_path_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> exit_;
  bool ready_ = false;
  std::string failure_;
  std::string ready_line_;
  int listen_port_ = 0;
  int admin_port_ = 0;
  int metrics_port_ = 0;
  int workers_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string out_;
  std::string err_;
  bool streams_closed_ = false;
  std::thread reader_;
};

}  // namespace perfgate::test
