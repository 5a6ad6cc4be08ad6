// Shared pieces of the end-to-end tests: a fixture owning a TestBackend and a perfgate process in
// front of it, and assertions for the gateway's own JSON errors and rejected connections.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/gateway_process.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace perfgate::test {

// The response is an error the gateway made itself: `status`, Content-Type application/json and
// a body {"error": "...", "status": N}.
inline ::testing::AssertionResult isGatewayError(const HttpResponse& resp, int status) {
  if (resp.status != status) {
    return ::testing::AssertionFailure() << "expected status " << status << ", got " << resp.summary();
  }
  if (resp.header("Content-Type").rfind("application/json", 0) != 0) {
    return ::testing::AssertionFailure() << "expected Content-Type application/json, got '"
                                         << resp.header("Content-Type") << "'; " << resp.summary();
  }
  if (!resp.complete) return ::testing::AssertionFailure() << "error body incomplete: " << resp.summary();
  nlohmann::json j = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return ::testing::AssertionFailure() << "error body is not a JSON object: " << resp.summary();
  }
  if (!j.contains("error") || !j["error"].is_string() || j["error"].get<std::string>().empty()) {
    return ::testing::AssertionFailure() << "error body lacks a non-empty \"error\" string: " << resp.body;
  }
  if (!j.contains("status") || !j["status"].is_number_integer() || j["status"].get<int>() != status) {
    return ::testing::AssertionFailure() << "error body lacks \"status\": " << status << ": " << resp.body;
  }
  return ::testing::AssertionSuccess();
}

// True when the response says "Connection: close" (as a token).
inline bool saysClose(const HttpResponse& resp) {
  for (const std::string& t : resp.headerTokens("Connection")) {
    if (t == "close") return true;
  }
  return false;
}

class GatewayTest : public ::testing::Test {
 protected:
  // Whatever a test did, the gateway never sent the backend a malformed request. (Requests cut
  // short, "connection closed inside ...", are expected when clients abort.)
  void TearDown() override {
    for (const std::string& e : backend_.protocolErrors()) {
      if (e.rfind("connection closed", 0) != 0) ADD_FAILURE() << "the backend received a malformed request: " << e;
    }
  }

  // A config around backend_ with the harness defaults (see GatewayConfig).
  GatewayConfig baseConfig() const {
    GatewayConfig c;
    c.backend_port = backend_.port();
    return c;
  }

  ::testing::AssertionResult startGateway(const GatewayConfig& config,
                                          GatewayProcess::Options options = GatewayProcess::Options{}) {
    return startGatewayToml(config.toToml(), std::move(options));
  }

  ::testing::AssertionResult startGatewayToml(const std::string& toml,
                                              GatewayProcess::Options options = GatewayProcess::Options{}) {
    if (!backend_.ok()) return ::testing::AssertionFailure() << "the test backend could not listen";
    gateway_ = std::make_unique<GatewayProcess>(toml, std::move(options));
    if (!gateway_->ready()) return ::testing::AssertionFailure() << gateway_->failure();
    return ::testing::AssertionSuccess();
  }

  int port() const { return gateway_ ? gateway_->listenPort() : 0; }

  HttpResponse get(const std::string& target, const Headers& headers = {}) {
    return request(port(), "GET", target, headers);
  }

  // Sends `raw` on a fresh connection and checks the gateway answers `status` as a JSON error with
  // Connection: close, closes the connection, and forwarded nothing to the backend.
  ::testing::AssertionResult rejects(const std::string& raw, int status) {
    size_t before = backend_.requestCount();
    HttpConnection conn(port());
    if (!conn.connected()) return ::testing::AssertionFailure() << "connect: " << conn.connectError();
    conn.send(raw);  // may fail half-way when the gateway rejects early; the answer matters
    HttpResponse resp = conn.readResponse();
    ::testing::AssertionResult error = isGatewayError(resp, status);
    if (!error) return error;
    if (!saysClose(resp)) {
      return ::testing::AssertionFailure() << "the " << status << " lacks Connection: close; " << resp.summary();
    }
    std::string extra;
    if (!conn.closedByPeer(kDefaultTimeout, &extra)) {
      return ::testing::AssertionFailure() << "the gateway kept the connection open after " << status;
    }
    if (!extra.empty()) {
      return ::testing::AssertionFailure() << "bytes after the " << status << " response: " << extra.substr(0, 300);
    }
    if (backend_.requestCount() != before) {
      return ::testing::AssertionFailure() << "the backend received the rejected request: "
                                           << backend_.lastRequest().method << " " << backend_.lastRequest().target;
    }
    return ::testing::AssertionSuccess();
  }

  TestBackend backend_;
  std::unique_ptr<GatewayProcess> gateway_;
};

}  // namespace perfgate::test
