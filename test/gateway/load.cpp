#include "test/gateway/load.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
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
  std::uint64_t checked = 0;
  std::uint64_t badBodies = 0;
  std::uint64_t errors = 0;
  std::uint64_t reconnects = 0;
  std::map<unsigned, std::uint64_t> statuses;
  std::map<std::string, std::uint64_t> outcomes;
  std::vector<std::uint32_t> latencyMicros;
};

// Shared read-only state of a run.
struct Plan {
  tcp::endpoint endpoint;
  const std::vector<std::string>* pool = nullptr;
  const ResponseCheck* check = nullptr;
  std::uint64_t checkEvery = 1;
  Clock::time_point deadline;
};

// One connection slot: sends requests until the deadline (back to back, or on its schedule in
// open-loop mode), reconnecting when the server closes. Lives on one io_context, kept alive by the
// handlers it schedules.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, const Plan& plan, ThreadStats& stats, std::size_t firstRequest,
             std::optional<RateSchedule> schedule)
      : socket_(io),
        timer_(io),
        plan_(plan),
        stats_(stats),
        next_(firstRequest),
        schedule_(schedule) {}

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
    timer_.expires_after(std::chrono::milliseconds(10));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code) { self->connect(); });
  }

  void send() {
    auto now = Clock::now();
    // Open loop: the request belongs to its slot; latency counts from there.
    started_ = schedule_ ? schedule_->next() : now;
    if (started_ >= plan_.deadline || now >= plan_.deadline) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      return;
    }
    if (started_ > now) {
      timer_.expires_at(started_);
      timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec) return;
        self->write();
      });
      return;
    }
    write();
  }

  void write() {
    const std::string& request = (*plan_.pool)[next_ % plan_.pool->size()];
    ++next_;
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
      ++stats_.statuses[response.result_int()];
      auto outcome = response.find("X-Relay-Outcome");
      if (outcome != response.end()) ++stats_.outcomes[std::string(outcome->value())];
    } else if (*plan_.check) {
      // The first answer of the connection, then every checkEvery-th.
      if (ok_ % plan_.checkEvery == 0) {
        ++stats_.checked;
        if (!(*plan_.check)(response.body())) ++stats_.badBodies;
      }
      ++ok_;
    }
    if (parser_->keep_alive()) {
      send();
    } else {
      buffer_.clear();
      connect();
    }
  }

  tcp::socket socket_;
  asio::steady_timer timer_;              // back-off after a failure; wait for the next slot
  const Plan& plan_;                      // owned by runLoad, outlives the loop
  ThreadStats& stats_;                    // this thread's counters
  std::size_t next_;                      // index of the next pool entry
  std::optional<RateSchedule> schedule_;  // open-loop send slots; none in closed loop
  std::uint64_t ok_ = 0;                  // 200 answers so far (for the check sampling)
  bool connected_once_ = false;           // later connects count as reconnects
  Clock::time_point started_;             // send time (or slot) of the request in flight
  boost::beast::flat_buffer buffer_;      // read buffer, kept across responses
  std::optional<http::response_parser<http::string_body>> parser_;  // one per response
};

}  // namespace

RateSchedule::RateSchedule(Clock::time_point begin, double rate, int connections, int index)
    : begin_(begin),
      interval_(static_cast<double>(connections) / rate),
      offset_(interval_ * static_cast<double>(index) / static_cast<double>(connections)) {
}

RateSchedule::Clock::time_point RateSchedule::next() {
  double at = offset_ + interval_ * static_cast<double>(k_++);
  return begin_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at));
}

std::uint32_t LoadReport::percentileMicros(double q) const {
  if (latencyMicros.empty()) return 0;
  auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(latencyMicros.size())));
  index = std::clamp<std::size_t>(index, 1, latencyMicros.size()) - 1;
  return latencyMicros[index];
}

LoadReport runLoad(const LoadOptions& options, const std::vector<std::string>& pool,
                   const ResponseCheck& check) {
  if (pool.empty()) throw std::invalid_argument("the request pool is empty");
  if (!(options.rate >= 0)) throw std::invalid_argument("the rate must be 0 or positive");
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
  plan.checkEvery = std::max<std::uint64_t>(1, options.checkEvery);

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
    std::optional<RateSchedule> schedule;
    if (options.rate > 0) schedule.emplace(begin, options.rate, connections, c);
    std::make_shared<Connection>(*loops[t], plan, stats[t], first, schedule)->start();
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
  report.offeredRate = options.rate;
  report.seconds = std::chrono::duration<double>(end - begin).count();
  for (auto& s : stats) {
    report.requests += s.requests;
    report.non200 += s.non200;
    report.checked += s.checked;
    report.badBodies += s.badBodies;
    for (const auto& [status, n] : s.statuses) report.statuses[status] += n;
    for (const auto& [outcome, n] : s.outcomes) report.outcomes[outcome] += n;
    report.errors += s.errors;
    report.reconnects += s.reconnects;
    report.latencyMicros.insert(report.latencyMicros.end(), s.latencyMicros.begin(),
                                s.latencyMicros.end());
  }
  std::sort(report.latencyMicros.begin(), report.latencyMicros.end());
  return report;
}

}  // namespace pocket::gateway
