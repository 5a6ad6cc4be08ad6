#include "filters/cache/cache_warmup.h"

#include <event2/keyvalq_struct.h>

#include <algorithm>

#include "gateway/text.h"

namespace perfgate {
namespace {

using Clock = std::chrono::steady_clock;

// "http://host[:port]/path?query" or "/path?query" -> host ("" when not given) and target.
bool splitUrl(const std::string& url, std::string& host, std::string& target) {
  if (url.rfind("http://", 0) == 0) {
    size_t slash = url.find('/', 7);
    host = url.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
    target = slash == std::string::npos ? "/" : url.substr(slash);
    if (host.empty() || host.find_first_of("@ ") != std::string::npos) return false;
  } else {
    host.clear();
    target = url;
  }
  if (target.empty() || target.front() != '/' || target.find('#') != std::string::npos) return false;
  return std::none_of(target.begin(), target.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

}  // namespace

struct CacheWarmup::Job {
  struct Item {
    std::string url;
    std::string host;
    std::string target;
    enum class State : uint8_t { Pending, Running, Done } state = State::Pending;
    int status = 0;        // the gateway's answer; 0 when none came
    std::string x_cache;   // its X-Cache (MISS: fetched and, if storable, stored; HIT: was there)
    std::string error;
  };
  uint64_t id = 0;
  std::vector<Item> items;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t next = 0;
  size_t done = 0;
  std::vector<std::unique_ptr<Fetcher>> fetchers;
  Clock::time_point started = Clock::now();
  Clock::time_point finished;
};

struct CacheWarmup::Fetcher {
  CacheWarmup* owner = nullptr;
  Job* job = nullptr;
  evhttp_connection* connection = nullptr;
  size_t item = 0;
  ~Fetcher() {
    if (connection != nullptr) evhttp_connection_free(connection);
  }
};

CacheWarmup::CacheWarmup(event_base* base) : base_(base) {}
CacheWarmup::~CacheWarmup() = default;

std::string CacheWarmup::parse(const nlohmann::json& body, Request& out) {
  if (!body.is_object()) return "body must be a JSON object: {\"urls\": [...], \"concurrency\": N}";
  for (const auto& [key, value] : body.items()) {
    if (key == "urls") {
      if (!value.is_array() || value.empty()) return "'urls' must be a non-empty array of strings";
      if (value.size() > kMaxUrls) return "at most " + std::to_string(kMaxUrls) + " urls per job";
      for (const auto& url : value) {
        std::string host;
        std::string target;
        if (!url.is_string() || !splitUrl(url.get<std::string>(), host, target)) {
          return "each url must be \"/path?query\" or \"http://host/path?query\": " +
                 (url.is_string() ? "'" + excerpt(url.get<std::string>()) + "'" : std::string("a ") + url.type_name());
        }
        out.urls.push_back(url.get<std::string>());
      }
    } else if (key == "concurrency") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > kMaxConcurrency) {
        return "'concurrency' must be an integer from 1 to " + std::to_string(kMaxConcurrency);
      }
      out.concurrency = value.get<unsigned>();
    } else if (key == "host") {
      if (!value.is_string() || value.get<std::string>().empty()) return "'host' must be a non-empty string";
      out.host = value.get<std::string>();
    } else if (key == "headers") {
      if (!value.is_object()) return "'headers' must be an object of strings";
      for (const auto& [name, field] : value.items()) {
        if (!field.is_string()) return "'headers' must be an object of strings";
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (lower == "host" || lower == "connection" || lower == "content-length" || lower == "transfer-encoding") {
          return "'headers' may not set " + excerpt(name);
        }
        out.headers.emplace_back(name, field.get<std::string>());
      }
    } else {
      return "unknown key '" + excerpt(key) + "': use urls, concurrency, host, headers";
    }
  }
  if (out.urls.empty()) return "'urls' is required";
  return "";
}

uint64_t CacheWarmup::start(Request request, const ListenAddress& listener) {
  // Forget the oldest finished jobs beyond what is kept.
  while (jobs_.size() >= kJobsKept) {
    auto oldest = std::find_if(jobs_.begin(), jobs_.end(), [](const auto& j) { return j.second->fetchers.empty(); });
    if (oldest == jobs_.end()) break;
    jobs_.erase(oldest);
  }
  auto job = std::make_unique<Job>();
  job->id = next_id_++;
  job->headers = std::move(request.headers);
  // A wildcard listener is reached on loopback.
  std::string address = listener.host;
  if (address == "0.0.0.0" || address.empty()) address = "127.0.0.1";
  if (address == "::") address = "::1";
  std::string default_host = request.host.empty() ? ListenAddress{address, listener.port}.toString() : request.host;
  for (std::string& url : request.urls) {
    Job::Item item;
    splitUrl(url, item.host, item.target);  // validated by parse()
    if (item.host.empty()) item.host = default_host;
    item.url = std::move(url);
    job->items.push_back(std::move(item));
  }
  unsigned fetchers = std::min<size_t>(request.concurrency, job->items.size());
  for (unsigned i = 0; i < fetchers; ++i) {
    auto fetcher = std::make_unique<Fetcher>();
    fetcher->owner = this;
    fetcher->job = job.get();
    fetcher->connection = evhttp_connection_base_new(base_, nullptr, address.c_str(), listener.port);
    if (fetcher->connection == nullptr) continue;
    evhttp_connection_set_timeout(fetcher->connection, 60);
    job->fetchers.push_back(std::move(fetcher));
  }
  Job& started = *job;
  uint64_t id = job->id;
  jobs_.emplace(id, std::move(job));
  if (started.fetchers.empty()) {  // could not even make a connection object: every URL fails
    for (Job::Item& item : started.items) {
      item.state = Job::Item::State::Done;
      item.error = "cannot connect to the public listener";
    }
    started.done = started.items.size();
    started.finished = Clock::now();
    return id;
  }
  for (auto& fetcher : started.fetchers) next(*fetcher);
  return id;
}

void CacheWarmup::next(Fetcher& fetcher) {
  Job& job = *fetcher.job;
  while (job.next < job.items.size()) {
    fetcher.item = job.next++;
    Job::Item& item = job.items[fetcher.item];
    item.state = Job::Item::State::Running;
    evhttp_request* request = evhttp_request_new(&CacheWarmup::onResponse, &fetcher);
    evkeyvalq* headers = evhttp_request_get_output_headers(request);
    evhttp_add_header(headers, "Host", item.host.c_str());
    evhttp_add_header(headers, "User-Agent", "perfgate-warmup");
    for (const auto& [name, value] : job.headers) evhttp_add_header(headers, name.c_str(), value.c_str());
    if (evhttp_make_request(fetcher.connection, request, EVHTTP_REQ_GET, item.target.c_str()) == 0) return;
    // evhttp_make_request frees the request when it fails.
    item.state = Job::Item::State::Done;
    item.error = "the request could not be sent";
    ++job.done;
  }
  if (job.done == job.items.size()) finish(job);
}

void CacheWarmup::onResponse(evhttp_request* response, void* self) noexcept {
  auto& fetcher = *static_cast<Fetcher*>(self);
  Job& job = *fetcher.job;
  Job::Item& item = job.items[fetcher.item];
  item.state = Job::Item::State::Done;
  ++job.done;
  if (response == nullptr || evhttp_request_get_response_code(response) == 0) {
    item.error = "no response (connection failed or timed out)";
  } else {
    item.status = evhttp_request_get_response_code(response);
    const char* x_cache = evhttp_find_header(evhttp_request_get_input_headers(response), "X-Cache");
    if (x_cache != nullptr) item.x_cache = x_cache;
  }
  fetcher.owner->next(fetcher);
}

void CacheWarmup::finish(Job& job) {
  if (job.fetchers.empty()) return;  // finished already
  job.finished = Clock::now();
  // The connections are freed on the next loop turn: this may run inside one of their callbacks.
  auto* retired = new std::vector<std::unique_ptr<Fetcher>>(std::move(job.fetchers));
  job.fetchers.clear();
  event_base_once(
      base_, -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* fetchers) { delete static_cast<std::vector<std::unique_ptr<Fetcher>>*>(fetchers); },
      retired, nullptr);
}

nlohmann::json CacheWarmup::status(uint64_t id) const {
  auto found = jobs_.find(id);
  if (found == jobs_.end()) return nullptr;
  const Job& job = *found->second;
  bool running = job.done < job.items.size();
  size_t ok = 0;
  nlohmann::json urls = nlohmann::json::array();
  for (const Job::Item& item : job.items) {
    nlohmann::json entry = {{"url", item.url}};
    switch (item.state) {
      case Job::Item::State::Pending:
        entry["state"] = "pending";
        break;
      case Job::Item::State::Running:
        entry["state"] = "running";
        break;
      case Job::Item::State::Done:
        entry["state"] = "done";
        if (item.status != 0) entry["status"] = item.status;
        if (!item.x_cache.empty()) entry["x_cache"] = item.x_cache;
        if (!item.error.empty()) entry["error"] = item.error;
        if (item.status >= 200 && item.status < 400) ++ok;
        break;
    }
    urls.push_back(std::move(entry));
  }
  auto end = running ? Clock::now() : job.finished;
  return {{"id", job.id},
          {"state", running ? "running" : "done"},
          {"total", job.items.size()},
          {"done", job.done},
          {"ok", ok},
          {"failed", job.done - ok},
          {"elapsed_ms", std::chrono::duration_cast<std::chrono::milliseconds>(end - job.started).count()},
          {"urls", std::move(urls)}};
}

}  // namespace perfgate
