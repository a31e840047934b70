#include "test/support/tcp_proxy.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pocket::testing {

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// Writes all of `data` to a blocking socket; false when the peer is gone.
bool writeAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// One proxied connection: the client's socket and the upstream's.
struct Pair {
  int client = -1;
  int upstream = -1;
  void close() {
    if (client >= 0) ::close(client);
    if (upstream >= 0) ::close(upstream);
    client = upstream = -1;
  }
};

}  // namespace

TcpProxy::TcpProxy(int upstreamPort) : upstreamPort_(upstreamPort) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) throw std::runtime_error("tcp proxy: socket: " + std::string(strerror(errno)));
  sockaddr_in address = loopback(0);
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listenFd_, 64) != 0) {
    ::close(listenFd_);
    throw std::runtime_error("tcp proxy: bind/listen: " + std::string(strerror(errno)));
  }
  socklen_t length = sizeof address;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_.store(true);
  wake();
  thread_.join();
  ::close(wakeFd_);
  ::close(listenFd_);
}

void TcpProxy::hang() {
  hung_.store(true);
  wake();
}

void TcpProxy::resume() {
  hung_.store(false);
  wake();
}

void TcpProxy::wake() {
  std::uint64_t one = 1;
  (void)!::write(wakeFd_, &one, sizeof one);
}

void TcpProxy::run() {
  std::vector<Pair> pairs;
  char buffer[65536];
  while (!stop_.load()) {
    bool forwarding = !hung_.load();
    std::vector<pollfd> fds = {{wakeFd_, POLLIN, 0}, {listenFd_, POLLIN, 0}};
    // While hung nothing is read: bytes stay in the kernel until resume().
    if (forwarding) {
      for (const auto& p : pairs) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.upstream, POLLIN, 0});
      }
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
    if ((fds[0].revents & POLLIN) != 0) {
      std::uint64_t n;
      (void)!::read(wakeFd_, &n, sizeof n);
    }
    if ((fds[1].revents & POLLIN) != 0) {
      int client = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        accepted_.fetch_add(1);
        int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address = loopback(upstreamPort_);
        if (upstream >= 0 &&
            ::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
          pairs.push_back(Pair{client, upstream});
        } else {
          if (upstream >= 0) ::close(upstream);
          ::close(client);
        }
      }
    }
    if (!forwarding) continue;
    // fds[2 + 2i] is pairs[i].client, fds[3 + 2i] its upstream (polled before any change).
    std::size_t polled = (fds.size() - 2) / 2;
    for (std::size_t i = 0; i < polled; ++i) {
      Pair& p = pairs[i];
      for (int side = 0; side < 2 && p.client >= 0; ++side) {
        const pollfd& f = fds[2 + 2 * i + static_cast<std::size_t>(side)];
        if ((f.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        int from = side == 0 ? p.client : p.upstream;
        int to = side == 0 ? p.upstream : p.client;
        ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
        if (n <= 0 || !writeAll(to, buffer, static_cast<std::size_t>(n))) p.close();
      }
    }
    std::erase_if(pairs, [](const Pair& p) { return p.client < 0; });
  }
  for (auto& p : pairs) p.close();
}

}  // namespace pocket::testing
