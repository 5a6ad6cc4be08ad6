#include "gateway/upstream/upstream_probe.h"

#include <event2/bufferevent.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace perfgate {

struct UpstreamProber::Attempt {
  Round* round = nullptr;
  bufferevent* bev = nullptr;
  ProbeResult result;
  bool settled = false;
};

struct UpstreamProber::Round {
  std::vector<std::unique_ptr<Attempt>> attempts;
  std::chrono::steady_clock::time_point started;
  event* deadline = nullptr;
  size_t pending = 0;
  Done done;
  bool finished = false;
};

namespace {

// host and port of "host[:port]" / "[v6]:port" (https default 443, http 80).
bool splitAuthority(const UpstreamConfig& upstream, std::string& host, int& port) {
  std::string_view a = upstream.authority;
  port = upstream.tls ? 443 : 80;
  std::string_view port_text;
  if (!a.empty() && a.front() == '[') {
    size_t close = a.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(a.substr(1, close - 1));
    if (close + 1 < a.size()) port_text = a.substr(close + 2);
  } else {
    size_t colon = a.rfind(':');
    host = std::string(a.substr(0, colon));
    if (colon != std::string_view::npos) port_text = a.substr(colon + 1);
  }
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size()) return false;
  }
  return !host.empty();
}

}  // namespace

UpstreamProber::UpstreamProber(event_base* base, evdns_base* dns) : base_(base), dns_(dns) {}

UpstreamProber::~UpstreamProber() {
  for (auto& round : rounds_) {
    for (auto& attempt : round->attempts) {
      if (attempt->bev != nullptr) bufferevent_free(attempt->bev);
    }
    event_free(round->deadline);
  }
}

void UpstreamProber::probe(const Config& config, std::chrono::milliseconds deadline, Done done) {
  for (auto it = rounds_.begin(); it != rounds_.end();) {
    if ((*it)->finished) {
      event_free((*it)->deadline);
      it = rounds_.erase(it);
    } else {
      ++it;
    }
  }
  auto round = std::make_unique<Round>();
  Round* r = round.get();
  r->done = std::move(done);
  r->started = std::chrono::steady_clock::now();
  r->deadline = evtimer_new(base_, &UpstreamProber::onDeadline, r);
  rounds_.push_back(std::move(round));
  for (const UpstreamConfig& upstream : config.upstreams) {
    auto attempt = std::make_unique<Attempt>();
    Attempt* a = attempt.get();
    a->round = r;
    a->result.upstream = upstream.name;
    r->attempts.push_back(std::move(attempt));
    a->bev = bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE);
    if (a->bev == nullptr) {
      a->settled = true;
      a->result.error = "cannot create a socket";
      continue;
    }
    bufferevent_setcb(a->bev, nullptr, nullptr, &UpstreamProber::onEvent, a);
    ++r->pending;
    int rc;
    if (upstream.address_length != 0) {
      rc = bufferevent_socket_connect(a->bev, reinterpret_cast<const sockaddr*>(&upstream.address),
                                      static_cast<int>(upstream.address_length));
    } else {
      std::string host;
      int port = 0;
      rc = splitAuthority(upstream, host, port) && dns_ != nullptr
               ? bufferevent_socket_connect_hostname(a->bev, dns_, AF_UNSPEC, host.c_str(), port)
               : -1;
    }
    if (rc != 0 && !a->settled) {
      // Failed at once (an immediate error may also have come through onEvent already).
      a->settled = true;
      --r->pending;
      a->result.error = std::string("connect: ") + evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
    }
  }
  timeval tv{static_cast<time_t>(deadline.count() / 1000), static_cast<suseconds_t>(deadline.count() % 1000 * 1000)};
  evtimer_add(r->deadline, &tv);
  if (r->pending == 0) event_active(r->deadline, EV_TIMEOUT, 0);  // report on the next loop turn
}

void UpstreamProber::onEvent(bufferevent*, short events, void* self) noexcept {
  auto* a = static_cast<Attempt*>(self);
  if (a->settled) return;
  a->settled = true;
  Round* r = a->round;
  if (events & BEV_EVENT_CONNECTED) {
    a->result.ok = true;
    a->result.connect_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - r->started).count();
  } else {
    int dns_error = bufferevent_socket_get_dns_error(a->bev);
    a->result.error = dns_error != 0 ? std::string("resolve: ") + evutil_gai_strerror(dns_error)
                                     : std::string("connect: ") + evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
  }
  bufferevent_disable(a->bev, EV_READ | EV_WRITE);
  if (--r->pending == 0) event_active(r->deadline, EV_TIMEOUT, 0);  // finish outside this callback
}

void UpstreamProber::onDeadline(evutil_socket_t, short, void* self) noexcept { finish(static_cast<Round*>(self)); }

void UpstreamProber::finish(Round* r) {
  if (r->finished) return;
  r->finished = true;
  std::vector<ProbeResult> results;
  for (auto& a : r->attempts) {
    if (!a->settled) a->result.error = "no answer before the deadline";
    if (a->bev != nullptr) {
      bufferevent_free(a->bev);
      a->bev = nullptr;
    }
    results.push_back(std::move(a->result));
  }
  Done done = std::move(r->done);
  // The round itself (and its deadline event, whose callback this may be) goes at the next
  // probe() or with the prober.
  done(std::move(results));
}

}  // namespace perfgate
