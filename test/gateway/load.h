#pragma once
// Closed-loop HTTP/1.1 load driver: `connections` keep-alive connections spread over `threads`
// event loops (one io_context per thread, no thread per connection, no shared mutable state
// between threads). Each connection sends one pre-serialized request, waits for the whole
// response, and sends the next; a server that answers `Connection: close` (as poktroll's
// RelayMiner does) gets a fresh connection for the next request, counted as a reconnect.
// Requests are taken round-robin from a pool of complete HTTP request messages built up front, so
// the driver itself does no serialization or signing while measuring.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pocket::gateway {

struct LoadOptions {
  std::string host;       // IP address or name of the server
  std::string port;       // TCP port
  int connections = 64;   // concurrent connections (= requests in flight)
  int threads = 2;        // event-loop threads
  double seconds = 10.0;  // measuring time; requests started after it are not sent
};

// Checks one response body (status already known to be 200); false counts the response as bad.
using ResponseCheck = std::function<bool(std::string_view body)>;

struct LoadReport {
  std::uint64_t requests = 0;                // responses received for requests started in time
  std::uint64_t non200 = 0;                  // responses with another status than 200
  std::uint64_t badBodies = 0;               // 200 responses that the ResponseCheck rejected
  std::uint64_t errors = 0;                  // connect/read/write failures
  std::uint64_t reconnects = 0;              // connections opened after the first one of each slot
  double seconds = 0;                        // measured wall time
  std::vector<std::uint32_t> latencyMicros;  // one per response, sorted ascending

  double requestsPerSecond() const {
    return seconds > 0 ? static_cast<double>(requests) / seconds : 0;
  }
  // q in [0, 1]; 0 when there is no sample.
  std::uint32_t percentileMicros(double q) const;
};

// Runs the load. `pool` must be non-empty; `check` may be empty (no body check). Throws
// std::runtime_error when the server cannot be resolved.
LoadReport runLoad(const LoadOptions& options, const std::vector<std::string>& pool,
                   const ResponseCheck& check);

}  // namespace pocket::gateway
