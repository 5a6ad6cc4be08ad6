// The admin API as modules extend it: an endpoint is a path (or path prefix), the methods it
// answers and a handler. The admin listener (admin_server.h) routes every request to one, or
// answers 404 / 405 with Allow itself, and checks tokens, Origin, Host and Content-Type for the
// state-changing methods before a handler runs.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

struct evhttp_request;

namespace perfgate {

class AdminServer;

enum AdminMethod : unsigned { kGet = 1, kHead = 2, kPost = 4, kPut = 8, kRead = kGet | kHead };

// One admin request. A copy may outlive the handler that received it, to answer later (once).
class AdminCall {
 public:
  AdminCall(AdminServer& server, evhttp_request* request) : server_(&server), request_(request) {}

  std::string_view path() const;
  // The value of query parameter `name`, or "".
  std::string query(std::string_view name) const;
  // The JSON body of a POST or PUT; discarded (is_discarded()) when it is not JSON or nests deeper
  // than the admin API allows.
  nlohmann::json body() const;
  // JSON views of the metrics (gateway/admin/metrics_sink.h), rendered now.
  nlohmann::json view(std::string_view name) const;

  void header(const char* name, const std::string& value);
  void reply(int status, const std::string& body, const char* content_type = "application/json");
  void replyJson(int status, const nlohmann::json& body) { reply(status, body.dump() + "\n"); }
  // {"error": message, "status": status}.
  void replyError(int status, std::string_view message);

 private:
  AdminServer* server_;
  evhttp_request* request_;
};

using AdminHandler = std::function<void(AdminCall&)>;

struct AdminEndpoint {
  std::string path;
  bool prefix = false;  // `path` is a prefix ("/api/cache/routes/" answers ".../NAME")
  unsigned methods = kRead;
  AdminHandler handler;
};

class AdminRoutes {
 public:
  void add(std::string path, bool prefix, unsigned methods, AdminHandler handler) {
    endpoints_.push_back(AdminEndpoint{std::move(path), prefix, methods, std::move(handler)});
  }
  const std::vector<AdminEndpoint>& endpoints() const { return endpoints_; }

 private:
  std::vector<AdminEndpoint> endpoints_;
};

}  // namespace perfgate
