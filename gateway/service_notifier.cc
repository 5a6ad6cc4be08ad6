#include "gateway/service_notifier.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

namespace perfgate {

ServiceNotifier::~ServiceNotifier() {
  if (watchdog_ != nullptr) event_free(watchdog_);
}

void ServiceNotifier::ready(std::string_view status) {
  std::string message = "READY=1\nSTATUS=" + std::string(status);
  sd_notify(0, message.c_str());
}

void ServiceNotifier::reloading() {
  // MONOTONIC_USEC lets a Type=notify-reload manager match the READY=1 that follows to this reload.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1'000'000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
  std::string message = "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
  sd_notify(0, message.c_str());
}

void ServiceNotifier::stopping() { sd_notify(0, "STOPPING=1\nSTATUS=draining"); }

void ServiceNotifier::startWatchdog(event_base* base,
                                    std::function<bool(std::chrono::microseconds period)> alive) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  period_ = std::chrono::microseconds(usec);
  alive_ = std::move(alive);
  watchdog_ = event_new(base, -1, EV_PERSIST, &ServiceNotifier::onWatchdog, this);
  timeval half{static_cast<time_t>(usec / 2 / 1'000'000), static_cast<suseconds_t>(usec / 2 % 1'000'000)};
  event_add(watchdog_, &half);
  onWatchdog(-1, 0, this);
}

void ServiceNotifier::onWatchdog(evutil_socket_t, short, void* self) noexcept {
  auto* notifier = static_cast<ServiceNotifier*>(self);
  if (!notifier->alive_(notifier->period_)) {
    if (!notifier->warned_) spdlog::error("watchdog: a worker's loop is not turning; no keep-alive sent to systemd");
    notifier->warned_ = true;
    return;
  }
  notifier->warned_ = false;
  sd_notify(0, "WATCHDOG=1");
}

}  // namespace perfgate
