#pragma once
// Plain-HTTP/1.1 backend calls on one event loop: Asio sockets, Beast's response parser, keep-alive
// connections pooled per host and port. BackendClient sends http:// backends here (unless a
// backend asks for curl) and everything else to libcurl; both honour the same BackendRequest
// contract (timeouts, size cap, headers as given, arrival-order response headers).
//
// Why it exists: per relay, libcurl's transfer setup (URL parsing, connection-cache lookup with a
// liveness poll, request assembly, a readiness poll after sending, header matching) cost 13-16 µs
// of CPU on the reference machine, a fifth of the edge's work on a plain proxied relay; this
// client does the same job in a few µs (docs/BENCHMARKS.md, "Edge").
//
// Ownership and threading as BackendClient: one per loop, every call on the loop's thread,
// callbacks on it too, never inside send(). Destroyed with calls in flight, it drops their
// callbacks (as BackendClient does).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "edge/backend_client.h"

namespace pocket::edge {

// An http:// URL split for a request: where to connect, the Host header, the request target.
struct PlainHttpUrl {
  std::string host;        // name or IP literal, IPv6 without brackets
  std::uint16_t port = 80;
  std::string authority;   // as written (the Host header)
  std::string target;      // path and query, starting with '/'
};

// nullopt unless `url` is http:// with a host and no user info (those go to curl).
std::optional<PlainHttpUrl> parsePlainHttpUrl(std::string_view url);

class NativeBackend {
 public:
  explicit NativeBackend(boost::asio::io_context& loop);
  ~NativeBackend();
  NativeBackend(const NativeBackend&) = delete;
  NativeBackend& operator=(const NativeBackend&) = delete;

  // Starts the call to `url` (parsed from request.url); `done` runs exactly once, on the loop.
  void send(BackendRequest request, PlainHttpUrl url, BackendClient::Callback done);
  std::size_t active() const;
  // Fails every call in flight with `transport`; their callbacks run before this returns.
  void cancelAll();
  // Idle keep-alive connections (for tests).
  std::size_t idleConnections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pocket::edge
