#include "gateway/exchange/background_exchange.h"

#include <chrono>

#include "gateway/http/tokens.h"
#include "gateway/worker.h"

namespace perfgate {
namespace {

// Fields of the client's request a refresh does not send: it fetches the whole current
// response for the store, unconditionally (the cache adds its own validators), with no body.
bool droppedFromRefresh(std::string_view name) {
  for (std::string_view dropped : {"range", "if-range", "if-match", "if-none-match", "if-modified-since",
                                   "if-unmodified-since", "content-length", "transfer-encoding", "expect"}) {
    if (equalsIgnoreCase(name, dropped)) return true;
  }
  return false;
}

}  // namespace

std::string backgroundRequestText(const RequestHead& client) {
  std::string text = "GET ";
  text.append(client.target);
  text.append(" HTTP/1.1\r\n");
  for (const HeaderField& field : client.headers) {
    if (droppedFromRefresh(field.name)) continue;
    text.append(field.name);
    text.append(": ");
    text.append(field.value);
    text.append("\r\n");
  }
  text.append("\r\n");
  return text;
}

BackgroundExchange::BackgroundExchange(Worker& worker, std::string client_address,
                                       std::shared_ptr<const Snapshot> snapshot)
    : worker_(worker),
      client_address_(std::move(client_address)),
      snapshot_(std::move(snapshot)),
      exchange_(*this, worker.base()),
      start_event_(event_new(worker.base(), -1, 0, &BackgroundExchange::onStart, this)) {}

BackgroundExchange::~BackgroundExchange() {
  exchange_.abort();  // still running when the worker stops: its filters see it end
  event_free(start_event_);
}

bool BackgroundExchange::start(Worker& worker, const RequestHead& client, std::string_view client_address,
                               std::shared_ptr<const Snapshot> snapshot) {
  std::unique_ptr<BackgroundExchange> background(
      new BackgroundExchange(worker, std::string(client_address), snapshot));
  RequestParser parser(snapshot->config->server.parseLimits());
  std::string text = backgroundRequestText(client);
  size_t consumed = 0;
  if (background->start_event_ == nullptr ||
      parser.parse(text, background->exchange_.head(), consumed) != ParseStatus::Complete) {
    return false;
  }
  background->exchange_.notes().background = true;
  event_active(background->start_event_, 0, 0);
  worker.adoptBackground(std::move(background));
  return true;
}

void BackgroundExchange::onStart(evutil_socket_t, short, void* self) noexcept {
  auto* b = static_cast<BackgroundExchange*>(self);
  b->exchange_.begin(b->snapshot_, b->worker_.nextExchangeId(), std::chrono::steady_clock::now());
}

bool BackgroundExchange::sendHead(const ResponseHead& head, const RequestHead&, bool&) {
  return head.status >= 200 && head.status != 204 && head.status != 304;
}

void BackgroundExchange::exchangeDone(ProxyExchange&, bool, bool) { worker_.releaseBackground(this); }

}  // namespace perfgate
