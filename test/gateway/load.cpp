#include "test/gateway/load.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace pocket::gateway {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Counters of one event-loop thread; only that thread touches them.
struct ThreadStats {
  std::uint64_t requests = 0;
  std::uint64_t non200 = 0;
  std::uint64_t badBodies = 0;
  std::uint64_t errors = 0;
  std::uint64_t reconnects = 0;
  std::vector<std::uint32_t> latencyMicros;
};

// Shared read-only state of a run.
struct Plan {
  tcp::endpoint endpoint;
  const std::vector<std::string>* pool = nullptr;
  const ResponseCheck* check = nullptr;
  Clock::time_point deadline;
};

// One connection slot: sends requests back to back until the deadline, reconnecting when the
// server closes. Lives on one io_context, kept alive by the handlers it schedules.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, const Plan& plan, ThreadStats& stats, std::size_t firstRequest)
      : socket_(io), retryTimer_(io), plan_(plan), stats_(stats), next_(firstRequest) {}

  void start() { connect(); }

 private:
  void connect() {
    if (Clock::now() >= plan_.deadline) return;
    if (connected_once_) ++stats_.reconnects;
    connected_once_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
    socket_.async_connect(plan_.endpoint,
                          [self = shared_from_this()](boost::system::error_code ec) {
                            if (ec) return self->fail();
                            self->socket_.set_option(tcp::no_delay(true));
                            self->send();
                          });
  }

  void fail() {
    ++stats_.errors;
    boost::system::error_code ignored;
    socket_.close(ignored);
    // Back off briefly so a refused connection does not spin the loop.
    retryTimer_.expires_after(std::chrono::milliseconds(10));
    retryTimer_.async_wait(
        [self = shared_from_this()](boost::system::error_code) { self->connect(); });
  }

  void send() {
    if (Clock::now() >= plan_.deadline) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      return;
    }
    const std::string& request = (*plan_.pool)[next_ % plan_.pool->size()];
    ++next_;
    started_ = Clock::now();
    asio::async_write(socket_, asio::buffer(request),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->fail();
                        self->receive();
                      });
  }

  void receive() {
    parser_.emplace();
    parser_->body_limit(256U << 20);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (ec) return self->fail();
                       self->received();
                     });
  }

  void received() {
    auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_).count();
    stats_.latencyMicros.push_back(
        static_cast<std::uint32_t>(std::min<long long>(micros, UINT32_MAX)));
    ++stats_.requests;
    auto& response = parser_->get();
    if (response.result_int() != 200) {
      ++stats_.non200;
    } else if (*plan_.check && !(*plan_.check)(response.body())) {
      ++stats_.badBodies;
    }
    if (parser_->keep_alive()) {
      send();
    } else {
      buffer_.clear();
      connect();
    }
  }

  tcp::socket socket_;
  asio::steady_timer retryTimer_;     // back-off after a failure
  const Plan& plan_;                  // owned by runLoad, outlives the loop
  ThreadStats& stats_;                // this thread's counters
  std::size_t next_;                  // index of the next pool entry
  bool connected_once_ = false;       // later connects count as reconnects
  Clock::time_point started_;         // send time of the request in flight
  boost::beast::flat_buffer buffer_;  // read buffer, kept across responses
  std::optional<http::response_parser<http::string_body>> parser_;  // one per response
};

}  // namespace

std::uint32_t LoadReport::percentileMicros(double q) const {
  if (latencyMicros.empty()) return 0;
  auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(latencyMicros.size())));
  index = std::clamp<std::size_t>(index, 1, latencyMicros.size()) - 1;
  return latencyMicros[index];
}

LoadReport runLoad(const LoadOptions& options, const std::vector<std::string>& pool,
                   const ResponseCheck& check) {
  if (pool.empty()) throw std::invalid_argument("the request pool is empty");
  int threads = std::max(1, options.threads);
  int connections = std::max(1, options.connections);

  asio::io_context resolverIo;
  tcp::resolver resolver(resolverIo);
  auto results = resolver.resolve(options.host, options.port);
  if (results.empty()) {
    throw std::runtime_error("cannot resolve " + options.host + ":" + options.port);
  }

  Plan plan;
  plan.endpoint = results.begin()->endpoint();
  plan.pool = &pool;
  plan.check = &check;

  std::vector<std::unique_ptr<asio::io_context>> loops;
  loops.reserve(static_cast<std::size_t>(threads));
  std::vector<ThreadStats> stats(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) loops.push_back(std::make_unique<asio::io_context>(1));

  auto begin = Clock::now();
  plan.deadline = begin + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(options.seconds));
  for (int c = 0; c < connections; ++c) {
    auto t = static_cast<std::size_t>(c % threads);
    // Spread the connections over the pool so they do not all send the same relay.
    std::size_t first =
        pool.size() * static_cast<std::size_t>(c) / static_cast<std::size_t>(connections);
    std::make_shared<Connection>(*loops[t], plan, stats[t], first)->start();
  }

  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto& io = *loops[static_cast<std::size_t>(t)];
      // Returns once every connection has stopped; requests still in flight at the deadline get
      // a grace period.
      io.run_until(plan.deadline + std::chrono::seconds(5));
    });
  }
  for (auto& w : workers) w.join();
  auto end = std::min(Clock::now(), plan.deadline);

  LoadReport report;
  report.seconds = std::chrono::duration<double>(end - begin).count();
  for (auto& s : stats) {
    report.requests += s.requests;
    report.non200 += s.non200;
    report.badBodies += s.badBodies;
    report.errors += s.errors;
    report.reconnects += s.reconnects;
    report.latencyMicros.insert(report.latencyMicros.end(), s.latencyMicros.begin(),
                                s.latencyMicros.end());
  }
  std::sort(report.latencyMicros.begin(), report.latencyMicros.end());
  return report;
}

}  // namespace pocket::gateway
