// The load driver against a small in-process HTTP server: every request is answered and timed,
// keep-alive connections are reused, `Connection: close` answers lead to reconnects, and
// non-200 answers and rejected bodies are counted.

#include "test/gateway/load.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <doctest.h>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Answers each request with `response` (blocking, one thread per connection: fine for a test).
class TinyServer {
 public:
  explicit TinyServer(std::string response)
      : response_(std::move(response)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { acceptLoop(); });
  }
  ~TinyServer() {
    stopping_ = true;
    // Wake the blocking accept() with one last connection.
    boost::system::error_code ignored;
    tcp::socket wake(io_);
    wake.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
    for (auto& t : connections_) t.join();
  }
  TinyServer(const TinyServer&) = delete;
  TinyServer& operator=(const TinyServer&) = delete;

  [[nodiscard]] std::string port() const {
    return std::to_string(acceptor_.local_endpoint().port());
  }
  [[nodiscard]] int accepted() const { return accepted_; }

 private:
  void acceptLoop() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++accepted_;
      connections_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }
  void serve(tcp::socket socket) {
    std::string buffer;
    boost::system::error_code ec;
    bool closeAfter = response_.find("Connection: close") != std::string::npos;
    while (true) {
      std::size_t headEnd = asio::read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n", ec);
      if (ec) return;
      // The test requests carry "Content-Length: 2" and a 2-byte body.
      while (buffer.size() < headEnd + 2) {
        char more[64];
        std::size_t n = socket.read_some(asio::buffer(more), ec);
        if (ec) return;
        buffer.append(more, n);
      }
      buffer.erase(0, headEnd + 2);
      asio::write(socket, asio::buffer(response_), ec);
      if (ec || closeAfter) return;
    }
  }

  std::string response_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::vector<std::thread> connections_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
};

constexpr std::string_view kRequest = "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}";

pocket::gateway::LoadOptions options(const TinyServer& server, int connections) {
  pocket::gateway::LoadOptions o;
  o.host = "127.0.0.1";
  o.port = server.port();
  o.connections = connections;
  o.threads = 2;
  o.seconds = 0.3;
  return o;
}

}  // namespace

TEST_CASE("keep-alive connections are reused and every response is timed") {
  TinyServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  int bodies = 0;
  auto report = pocket::gateway::runLoad(options(server, 4), {std::string(kRequest)},
                                         [&](std::string_view body) {
                                           ++bodies;
                                           return body == "ok";
                                         });
  CHECK(report.requests > 10);
  CHECK(report.latencyMicros.size() == report.requests);
  CHECK(std::is_sorted(report.latencyMicros.begin(), report.latencyMicros.end()));
  CHECK(report.errors == 0);
  CHECK(report.non200 == 0);
  CHECK(report.badBodies == 0);
  CHECK(report.reconnects == 0);
  CHECK(server.accepted() == 4);
  CHECK(report.percentileMicros(0.5) <= report.percentileMicros(0.99));
  CHECK(report.requestsPerSecond() > 0);
}

TEST_CASE("Connection: close answers reconnect; non-200 and rejected bodies are counted") {
  TinyServer closing(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno");
  auto report = pocket::gateway::runLoad(options(closing, 2), {std::string(kRequest)}, {});
  CHECK(report.requests > 2);
  CHECK(report.non200 == report.requests);
  CHECK(report.reconnects >= report.requests - 2);

  TinyServer wrongBody("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad");
  auto rejected = pocket::gateway::runLoad(options(wrongBody, 1), {std::string(kRequest)},
                                           [](std::string_view body) { return body == "ok"; });
  CHECK(rejected.requests > 0);
  CHECK(rejected.badBodies == rejected.requests);
}

TEST_CASE("percentiles of an empty and of a small sample") {
  pocket::gateway::LoadReport report;
  CHECK(report.percentileMicros(0.5) == 0);
  report.latencyMicros = {10, 20, 30, 40};
  CHECK(report.percentileMicros(0.5) == 20);
  CHECK(report.percentileMicros(0.99) == 40);
  CHECK(report.percentileMicros(0.0) == 10);
}

TEST_CASE("the open-loop schedule spreads the rate evenly over the connections") {
  using Clock = pocket::gateway::RateSchedule::Clock;
  auto begin = Clock::now();
  constexpr int kConnections = 8;
  constexpr double kRate = 1000;  // 125 per connection per second: one slot every 8 ms
  std::vector<Clock::time_point> slots;
  for (int c = 0; c < kConnections; ++c) {
    pocket::gateway::RateSchedule schedule(begin, kRate, kConnections, c);
    Clock::time_point previous = begin - std::chrono::seconds(1);
    while (true) {
      auto slot = schedule.next();
      CHECK(slot > previous);
      previous = slot;
      if (slot >= begin + std::chrono::seconds(1)) break;
      slots.push_back(slot);
    }
  }
  // One second holds `rate` slots, 1 ms apart once all connections are merged.
  CHECK(slots.size() == 1000);
  std::sort(slots.begin(), slots.end());
  CHECK(slots.front() == begin);
  for (std::size_t i = 1; i < slots.size(); ++i) {
    auto gap = std::chrono::duration<double, std::micro>(slots[i] - slots[i - 1]).count();
    CHECK(gap == doctest::Approx(1000).epsilon(0.001));
  }
}

TEST_CASE("open loop sends at the offered rate, not as fast as the server answers") {
  TinyServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  auto o = options(server, 4);
  o.seconds = 1.0;
  o.rate = 200;
  auto report = pocket::gateway::runLoad(o, {std::string(kRequest)}, {});
  CHECK(report.offeredRate == 200);
  // 200 slots in the second, never more however fast the server answers; how many of them a
  // loaded machine gets out before the deadline depends on its load, so only "some" is checked.
  CHECK(report.requests <= 200);
  CHECK(report.requests > 0);
  CHECK(report.errors == 0);
  CHECK(report.latencyMicros.size() == report.requests);
}

TEST_CASE("open-loop latency counts from the scheduled slot: a slow server's backlog shows") {
  // The server needs at least ~the time of a round trip; one connection offered far more than it
  // can do falls behind its schedule, and the late requests carry the wait.
  TinyServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  auto o = options(server, 1);
  o.threads = 1;
  o.seconds = 0.5;
  o.rate = 1e6;
  auto report = pocket::gateway::runLoad(o, {std::string(kRequest)}, {});
  REQUIRE(report.requests > 10);
  CHECK(report.requests < 500000);
  // The last answered request was scheduled near the start but answered near the end.
  CHECK(report.latencyMicros.back() > 100000);
}

TEST_CASE("the check runs on the first answer of each connection and then every k-th") {
  TinyServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  auto o = options(server, 2);
  o.checkEvery = 10;
  std::atomic<std::uint64_t> calls{0};
  auto report = pocket::gateway::runLoad(o, {std::string(kRequest)}, [&](std::string_view) {
    ++calls;
    return true;
  });
  REQUIRE(report.requests > 40);
  CHECK(report.checked == calls);
  CHECK(report.checked >= 2);
  CHECK(report.checked <= report.requests / 10 + 2);
  CHECK(report.badBodies == 0);
}

TEST_CASE("non-200 answers are counted by status and by X-Relay-Outcome") {
  TinyServer server(
      "HTTP/1.1 403 Forbidden\r\nX-Relay-Outcome: badRingSignature\r\nContent-Length: 2\r\n\r\nno");
  auto report = pocket::gateway::runLoad(options(server, 1), {std::string(kRequest)}, {});
  REQUIRE(report.requests > 0);
  CHECK(report.statuses.at(403) == report.requests);
  CHECK(report.outcomes.at("badRingSignature") == report.requests);
}
