#pragma once
// HTTP client for backend calls, driven by one event loop so that no thread is tied up per
// in-flight call. Plain http:// backends go through NativeBackend (edge/native_backend.h: Asio
// sockets, Beast's parser, keep-alive connections pooled per host); https:// backends, URLs with
// user info, and requests that ask for it go through libcurl's multi interface (its connection
// cache keeps connections alive per host; easy handles are pooled). Both keep the same contract.
//
// Ownership: one BackendClient per event loop, owned by whoever owns the per-loop state; it must be
// destroyed on its loop's thread or after the loop stopped. Threading: every method must be called
// on the loop's thread; callbacks run on it too. Errors: never throws for a failed call; the
// outcome says what failed (connect, timeout, size cap, transport).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "edge/config.h"

namespace pocket::edge {

struct BackendRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Timeouts timeouts;
  std::size_t maxResponseBytes = 20 * 1024 * 1024;
  bool useCurl = false;  // libcurl even for a plain http:// URL (backend `http_client: curl`)
};

enum class BackendFailure {
  none,
  connect,           // could not connect (refused, unreachable, connect timeout)
  firstByteTimeout,  // connected, but no response header in time
  timeout,           // the whole call took longer than the total timeout
  tooLarge,          // the response body exceeded maxResponseBytes
  transport,         // anything else: reset connection, malformed response, ...
};

std::string_view backendFailureName(BackendFailure failure);

struct BackendResult {
  BackendFailure failure = BackendFailure::none;
  std::string error;  // what failed, when failure != none
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order, names as sent
  std::string body;
  std::chrono::nanoseconds elapsed{0};
};

class BackendClient {
 public:
  using Callback = std::function<void(BackendResult&&)>;

  explicit BackendClient(boost::asio::io_context& loop);
  ~BackendClient();
  BackendClient(const BackendClient&) = delete;
  BackendClient& operator=(const BackendClient&) = delete;

  // Starts the call; `done` runs exactly once on the loop's thread (never inside send()).
  void send(BackendRequest request, Callback done);
  // Calls in flight.
  std::size_t active() const;
  // Fails every call in flight with `transport` (used at shutdown).
  void cancelAll();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pocket::edge
