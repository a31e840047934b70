#pragma once
// A TCP proxy on 127.0.0.1 that can make the server behind it hang: for tests of a client against
// a full node that accepts connections and then never answers (or answers very late).
//
//   TcpProxy proxy(devnetPort);  // forwards 127.0.0.1:proxy.port() to 127.0.0.1:devnetPort
//   proxy.hang();                // connections are still accepted, no byte moves any more
//   proxy.resume();              // everything held back flows again (a very late answer)
//
// While hung, the proxy reads nothing from either side of any connection, old or new: requests
// in flight stay unanswered, new requests are accepted by TCP and never answered. resume()
// forwards again whatever the kernel buffered, so a client still waiting gets its answer late.
//
// Ownership and threading: one thread (started by the constructor, joined by the destructor)
// owns every socket; hang(), resume() and port() may be called from any thread. Failures to
// bind are thrown (std::runtime_error); a connection whose upstream refuses is closed.

#include <atomic>
#include <cstdint>
#include <thread>

namespace pocket::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int upstreamPort);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void hang();
  void resume();
  bool hung() const { return hung_.load(); }
  // Connections accepted so far (while hung too).
  std::uint64_t accepted() const { return accepted_.load(); }

 private:
  void run();
  void wake();

  int upstreamPort_;
  int listenFd_ = -1;
  int wakeFd_ = -1;  // eventfd: hang(), resume() or stop
  int port_ = 0;
  std::atomic<bool> hung_{false};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::thread thread_;
};

}  // namespace pocket::testing
