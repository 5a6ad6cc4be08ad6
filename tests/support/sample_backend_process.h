// The bundled sample backend (PERFGATE_SAMPLE_BACKEND) as a child process on 127.0.0.1, for tests
// that put perfgate in front of the backend an operator's first run uses.
#pragma once

#include <sys/types.h>

#include <string>

namespace perfgate::test {

class SampleBackendProcess {
 public:
  // Starts it on an ephemeral port and waits (bounded) for its ready line; check port() > 0.
  SampleBackendProcess();
  ~SampleBackendProcess();  // SIGTERM, then SIGKILL if it lingers
  SampleBackendProcess(const SampleBackendProcess&) = delete;
  SampleBackendProcess& operator=(const SampleBackendProcess&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace perfgate::test
