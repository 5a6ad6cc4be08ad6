// The service manager's view of the process (systemd Type=notify, sd_notify(3)): READY=1 once the
// listeners and workers are live, RELOADING=1 / READY=1 around a reload, STOPPING=1 when a drain
// starts, and WATCHDOG=1 every half WatchdogSec while a liveness check holds. Without
// $NOTIFY_SOCKET (not started by systemd) every call does nothing.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <string_view>

namespace perfgate {

class ServiceNotifier {
 public:
  ServiceNotifier() = default;
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  void ready(std::string_view status);
  void reloading();
  void stopping();
  // With WatchdogSec set for this process: pings on `base` every half period while `alive`
  // (given the period) says so; a failing check stops the pings, and systemd acts on the timeout.
  void startWatchdog(event_base* base, std::function<bool(std::chrono::microseconds period)> alive);

 private:
  static void onWatchdog(evutil_socket_t, short, void* self) noexcept;

  event* watchdog_ = nullptr;
  std::chrono::microseconds period_{0};
  std::function<bool(std::chrono::microseconds)> alive_;
  bool warned_ = false;  // a failed check was logged (once per failure spell)
};

}  // namespace perfgate
