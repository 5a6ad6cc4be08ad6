// An exchange with no client: what a filter starts with Exchange::refreshInBackground() (a
// stale-while-revalidate refresh, the refresh after a soft purge). It carries a copy of the
// triggering request, as a GET, through the same route, filter chain and upstream pool as any
// request, so that what it stores is exactly what a fill would store (the same Accept-Encoding
// sent upstream, compressed once, cache headers added, keyed by the same variant); the response
// itself goes nowhere. Filters tell it apart by ExchangeNotes::background.
#pragma once

#include <event2/event.h>

#include <memory>
#include <string>
#include <string_view>

#include "gateway/exchange/downstream.h"
#include "gateway/exchange/exchange.h"
#include "gateway/snapshot.h"

namespace perfgate {

class Worker;

// The request a refresh of `client`'s request sends into the chain, serialized: GET of the same
// target with the client's fields, less those that would make it partial, conditional on the
// client's validators, or carry a body.
std::string backgroundRequestText(const RequestHead& client);

class BackgroundExchange final : public Downstream {
 public:
  // Starts a background copy of `client` on `worker` on its next loop turn (never inside the
  // caller's hook); the worker owns it until it ends. False when the copy cannot be made.
  static bool start(Worker& worker, const RequestHead& client, std::string_view client_address,
                    std::shared_ptr<const Snapshot> snapshot);
  ~BackgroundExchange() override;
  BackgroundExchange(const BackgroundExchange&) = delete;
  BackgroundExchange& operator=(const BackgroundExchange&) = delete;

  // Downstream: everything toward the client is dropped.
  Worker& worker() const override { return worker_; }
  std::string_view clientAddress() const override { return client_address_; }
  bool draining() const override { return false; }
  bool sendHead(const ResponseHead& head, const RequestHead& request, bool& keep_alive) override;
  void sendBody(std::string_view) override {}
  void endBody() override {}
  size_t sendWhole(const ResponseHead&, std::string_view prefix, std::string_view body,
                   const std::shared_ptr<const void>&, const RequestHead&, bool) override {
    return prefix.size() + body.size();
  }
  void sendContinue() override {}
  void sendInterim(const ResponseHead&) override {}
  bool outputFull() const override { return false; }
  bool pumpBody() override { return true; }
  void exchangeDone(ProxyExchange& exchange, bool keep_alive, bool refused) override;

 private:
  BackgroundExchange(Worker& worker, std::string client_address, std::shared_ptr<const Snapshot> snapshot);
  static void onStart(evutil_socket_t, short, void* self) noexcept;

  Worker& worker_;
  std::string client_address_;
  std::shared_ptr<const Snapshot> snapshot_;
  ProxyExchange exchange_;
  event* start_event_;
};

}  // namespace perfgate
