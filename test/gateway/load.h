#pragma once
// HTTP/1.1 load driver: `connections` keep-alive connections spread over `threads` event loops (one
// io_context per thread, no thread per connection, no shared mutable state between threads). Each
// connection has one request in flight at a time; a server that answers `Connection: close` (as
// poktroll's RelayMiner does) gets a fresh connection for the next request, counted as a reconnect.
// Requests are taken round-robin from a pool of complete HTTP request messages built up front, so
// the driver itself does no serialization or signing while measuring.
//
// Two modes:
//   - closed loop (rate = 0): each connection sends its next request as soon as the previous answer
//     is read; latency is measured from the send. At saturation latency then only reflects
//     connections / throughput (Little's law).
//   - open loop (rate = R > 0): R requests per second in total on a fixed schedule (each connection
//     sends R / connections per second, the connections' schedules interleaved). A request whose
//     slot comes while the previous answer is still outstanding is sent as soon as the connection
//     is free, and its latency is measured from its scheduled slot, not from the late send, so a
//     stall counts against every request it delayed (the coordinated-omission correction of wrk2).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pocket::gateway {

struct LoadOptions {
  std::string host;       // IP address or name of the server
  std::string port;       // TCP port
  int connections = 64;   // concurrent connections (= most requests in flight)
  int threads = 2;        // event-loop threads
  double seconds = 10.0;  // measuring time; requests scheduled after it are not sent
  double rate = 0;        // requests/s over all connections; 0 = closed loop
  // The ResponseCheck runs on the first 200 answer of each connection and then on every
  // `checkEvery`-th 200 answer of the connection (1 = every answer).
  std::uint64_t checkEvery = 1;
};

// Checks one response body (status already known to be 200); false counts the response as bad.
// Called from the event-loop threads concurrently: it must be thread-safe.
using ResponseCheck = std::function<bool(std::string_view body)>;

// Send times of one connection in open-loop mode: slot k of connection `index` (of `connections`)
// is at begin + (index / connections + k) × connections / rate seconds, so the union of all
// connections' slots is `rate` evenly spaced slots per second. A value type.
class RateSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  // Preconditions: rate > 0, connections ≥ 1, index < connections.
  RateSchedule(Clock::time_point begin, double rate, int connections, int index);
  // The slot of the next request, advancing the schedule.
  Clock::time_point next();

 private:
  Clock::time_point begin_;
  double interval_;  // seconds between two slots of this connection
  double offset_;    // seconds from begin to slot 0
  std::uint64_t k_ = 0;
};

struct LoadReport {
  std::uint64_t requests = 0;    // responses received for requests started in time
  std::uint64_t non200 = 0;      // responses with another status than 200
  std::uint64_t checked = 0;     // 200 responses passed to the ResponseCheck
  std::uint64_t badBodies = 0;   // of those, the ones it rejected
  std::uint64_t errors = 0;      // connect/read/write failures
  std::uint64_t reconnects = 0;  // connections opened after the first one of each slot
  std::map<unsigned, std::uint64_t> statuses;     // non-200 responses by HTTP status
  std::map<std::string, std::uint64_t> outcomes;  // non-200 responses by X-Relay-Outcome
  double offeredRate = 0;                         // the rate asked for; 0 in closed loop
  double seconds = 0;                             // measured wall time
  std::vector<std::uint32_t> latencyMicros;       // one per response, sorted ascending

  double requestsPerSecond() const {
    return seconds > 0 ? static_cast<double>(requests) / seconds : 0;
  }
  // q in [0, 1]; 0 when there is no sample.
  std::uint32_t percentileMicros(double q) const;
};

// Runs the load. `pool` must be non-empty; `check` may be empty (no body check). Throws
// std::invalid_argument for an empty pool or a negative rate, std::runtime_error when the server
// cannot be resolved.
LoadReport runLoad(const LoadOptions& options, const std::vector<std::string>& pool,
                   const ResponseCheck& check);

}  // namespace pocket::gateway
