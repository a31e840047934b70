#pragma once
// ZAP handler (ZeroMQ RFC 27) for the session manager's ROUTER: CURVE clients whose public key is
// in an allow-list are accepted, every other connection is refused and logged (docs/link.md, "Encryption and keys").
//
// An accepted client gets its z85 public key as ZAP user id, so every message from it carries that
// key in the "User-Id" message property (see net::peerUserId in link_socket.h).
//
// Ownership and threading: a resource owned by main() (or the component that owns the ROUTER's
// context). It owns one thread, which owns the REP socket bound to inproc://zeromq.zap.01 on the
// given context; construct it before the ROUTER binds. One authenticator per context. The counters
// are safe to read from any thread.

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/util/log.h"

namespace pocket::net {

class ZapAuthenticator {
 public:
  // `context` and `log` must outlive this object. Throws zmq::error_t when the ZAP endpoint is
  // already bound on `context`, std::invalid_argument when a key is not 40 z85 characters.
  ZapAuthenticator(zmq::context_t& context, const std::vector<std::string>& allowedPublicKeys,
                   util::LogSink& log);
  // Stops and joins the thread.
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  std::uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  void run();
  void handle(zmq::socket_t& socket);

  util::LogSink& log_;
  std::set<std::string> allowed_;  // z85 public keys; immutable after construction
  zmq::socket_t socket_;           // REP on the ZAP endpoint; used only by thread_ after start
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::thread thread_;  // last: starts after every other member is ready
};

}  // namespace pocket::net
