#pragma once
// HTTP/1.1 server on Boost.Beast: keep-alive, any method and any path, header and body limits,
// one acceptor per event loop on the same port (SO_REUSEPORT, the kernel spreads connections).
//
// Ownership: the server keeps references to the EventLoops, the handler and the sink; they must
// outlive it. Connections own themselves (shared_ptr held by their pending operation).
// Threading: a connection lives on one loop; the handler is called on that loop and may answer
// later from any thread through the Responder (the answer is posted back to the loop).
// Errors: requests that break the limits get 413 / 431 / 400 and the connection is closed; a
// failing socket only ends its own connection. Everything the server ends on its own (those
// answers, timeouts, failed accepts) is counted in `edge_http_refusals_total{server,reason}` with
// a reason of HttpRefusal and logged as `http_refused` (`accept_failed` for accepts).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <boost/beast/http.hpp>

#include "common/util/log.h"
#include "common/util/metrics.h"
#include "edge/config.h"
#include "edge/event_loops.h"

namespace pocket::edge {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

class HttpConnection;

// Why the server itself ended a request or a connection (the `reason` label).
enum class HttpRefusal {
  malformedRequest,  // 400: not parseable as HTTP/1.x
  bodyTooLarge,      // 413: body over limits.max_body_bytes
  headerTooLarge,    // 431: header over limits.max_header_bytes
  idleTimeout,       // a keep-alive connection sent nothing for limits.idle_timeout_ms
  headerTimeout,     // a header started but did not complete in time
  bodyTimeout,       // a body did not complete within limits.read_timeout_ms
  writeTimeout,      // the client did not read its response within limits.read_timeout_ms
  acceptFailed,      // accept(2) failed (e.g. out of file descriptors)
};
inline constexpr std::size_t kHttpRefusalCount = 8;
std::string_view httpRefusalName(HttpRefusal refusal);

// Answers one request exactly once. Move-only. Dropping a Responder without answering closes the
// connection (the peer sees a reset, never a hang).
class Responder {
 public:
  Responder() = default;
  explicit Responder(std::shared_ptr<HttpConnection> connection);
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&&) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  // Sends the response (Content-Length and keep-alive are filled in). Any thread.
  void send(HttpResponse&& response);
  // The time the complete request was read.
  std::chrono::steady_clock::time_point arrival() const;

 private:
  std::shared_ptr<HttpConnection> connection_;
};

struct RequestContext {
  unsigned loop;  // index of the event loop this request runs on
  std::chrono::steady_clock::time_point arrival;
};

using HttpHandler = std::function<void(const RequestContext&, HttpRequest&&, Responder)>;

class HttpServer {
 public:
  // Binds and listens on `endpoint` on every loop at once (throws std::runtime_error on failure).
  // Call start() to begin accepting. `serverName` labels its counters in `metrics` (servers with
  // the same name share them); `metrics` and `log` must outlive the server.
  HttpServer(EventLoops& loops, const Endpoint& endpoint, const ServerLimits& limits,
             HttpHandler handler, util::MetricsRegistry& metrics, const std::string& serverName,
             util::LogSink& log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  // The bound port (useful with port 0).
  std::uint16_t port() const { return port_; }
  // Stops accepting, closes idle keep-alive connections and marks busy ones to close after their
  // response. Any thread; returns at once.
  void shutdown();
  // Requests read and not yet answered.
  std::uint64_t inFlight() const;
  std::uint64_t openConnections() const;

 private:
  friend class HttpConnection;
  struct Loop;
  // Shared with the connections, which may outlive the server until their loop is destroyed.
  struct Core;
  static void accept(const std::shared_ptr<Core>& core, Loop& loop);

  std::shared_ptr<Core> core_;
  std::uint16_t port_ = 0;
};

// A plain-text response with the given status (helper for handlers).
HttpResponse textResponse(http::status status, std::string body, unsigned version = 11);

}  // namespace pocket::edge
