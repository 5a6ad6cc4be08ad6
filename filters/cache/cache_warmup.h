// Cache warmup jobs for the admin API (POST /api/cache/warmup, GET /api/cache/warmup/ID).
//
// A job fetches its URLs through the gateway's own public listener, as a client would, so each
// response takes the normal path (routing, cache lookup, coalescing, storage rules) and lands in
// the cache exactly as a real request's would. It runs on the admin thread's event_base with
// libevent's HTTP client (`concurrency` keep-alive connections, each fetching one URL after
// another), never on a worker's loop.
#pragma once

#include <event2/event.h>
#include <event2/http.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config/config.h"

namespace perfgate {

class CacheWarmup {
 public:
  static constexpr size_t kMaxUrls = 10000;
  static constexpr unsigned kMaxConcurrency = 64;
  static constexpr size_t kJobsKept = 32;  // finished jobs beyond this are forgotten, oldest first

  struct Request {
    std::vector<std::string> urls;  // "/path?query" or "http://host[:port]/path?query"
    unsigned concurrency = 8;
    std::string host;  // Host for path-only URLs ("" : the public listener's address)
    std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
  };

  explicit CacheWarmup(event_base* base);
  ~CacheWarmup();
  CacheWarmup(const CacheWarmup&) = delete;
  CacheWarmup& operator=(const CacheWarmup&) = delete;

  // Parses an admin request body into `out`; returns "" or what is wrong with it.
  static std::string parse(const nlohmann::json& body, Request& out);

  // Starts fetching through the listener at `listener`; returns the job's id.
  uint64_t start(Request request, const ListenAddress& listener);

  // The job's progress and per-URL outcome; null when there is no such job.
  nlohmann::json status(uint64_t id) const;

 private:
  struct Job;
  struct Fetcher;
  static void onResponse(evhttp_request* response, void* fetcher) noexcept;
  void next(Fetcher& fetcher);
  void finish(Job& job);

  event_base* base_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::unique_ptr<Job>> jobs_;
};

}  // namespace perfgate
