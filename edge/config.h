#pragma once
// relay-edge configuration (`edge.yaml`), validated when it is loaded. docs/configuration.md
// documents every key with its default.
//
// Errors: loadEdgeConfig throws ConfigError whose message starts with the key path
// (`services.eth.backends.json_rpc.url: ...`) and says what is wrong. Supplier key files are only
// checked for permissions here; reading the keys is the signer's job.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/util/config_reader.h"
#include "common/util/log.h"

namespace pocket::edge {

// The configuration error of every loader (common/util/config_reader.h): "<key path>: <what>".
using ConfigError = util::ConfigError;

struct Endpoint {
  std::string host;     // IPv4/IPv6 literal or name
  std::uint16_t port;  // 0 = any free port (tests)
};

// When the ring signature and session are checked relative to forwarding.
enum class ValidationMode {
  eager,       // verify, then forward; a failing relay never reaches the backend
  optimistic,  // forward and verify at the same time; an unverified relay is never mined
  none,        // no verification at all, nothing is mined (benchmarks of the proxy path only)
};

struct Timeouts {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds firstByte{5000};  // from sending to the first response header byte
  std::chrono::milliseconds total{10000};
};

struct BackendConfig {
  std::string url;  // http:// or https://, may carry a path and query
  std::map<std::string, std::string> headers;  // set on every backend request (override)
  std::optional<std::pair<std::string, std::string>> basicAuth;  // username, password
  bool forwardPocketHeaders = false;
  Timeouts timeouts;
  std::size_t maxResponseBytes = 20 * 1024 * 1024;
  bool useCurl = false;  // http_client: curl (libcurl also for a plain http:// URL)
};

// Rpc-Type header values (poktroll RPCType).
enum class RpcType : int { grpc = 1, websocket = 2, json_rpc = 3, rest = 4, comet_bft = 5 };

struct ServiceConfig {
  std::string id;
  ValidationMode validation = ValidationMode::eager;
  std::optional<BackendConfig> defaultBackend;  // used when no backend matches the Rpc-Type
  std::map<int, BackendConfig> backendsByRpcType;
  std::size_t maxRequestBytes = 20 * 1024 * 1024;  // the RelayRequest body

  // The backend for an Rpc-Type header value (0 = header absent), or nullptr.
  const BackendConfig* backendFor(int rpcType) const;
};

struct SupplierConfig {
  std::string keyFile;  // hex secp256k1 private key, mode 0600 or stricter
};

struct LinkConfig {
  std::string endpoint = "tcp://127.0.0.1:7400";  // the session manager's ROUTER
  std::string edgeId;                             // default: the host name
  bool plaintext = false;                         // true only for loopback tests
  std::string clientKeyFile;        // this edge's CURVE key pair (public-key = / secret-key =)
  std::string serverPublicKeyFile;  // the session manager's CURVE public key
  std::chrono::milliseconds lookupTimeout{1500};  // wait for a session the cache does not hold
};

struct SpoolConfig {
  std::string directory = "/var/lib/relay-edge/spool";
  std::uint64_t maxBytes = 1ull << 30;
  bool fsyncPerBatch = true;
};

// The relay meter (edge/relay_meter.h): what one supplier serves one application per session.
struct RelayMeterConfig {
  bool enabled = true;
  bool overServicing = false;       // serve past the cap anyway (counted, not refused)
  bool overservicingBonus = false;  // cap at overservicing_bonus_multiplier × the guaranteed floor
  std::uint64_t allowanceUpokt = 0;       // added to the cap
  std::uint64_t fleetSharePercent = 100;  // this edge's share of the cap, 1…100
};

struct ServerLimits {
  std::size_t maxHeaderBytes = 64 * 1024;
  std::size_t maxBodyBytes = 20 * 1024 * 1024;  // before the service is known
  std::chrono::milliseconds idleTimeout{60000};
  std::chrono::milliseconds readTimeout{10000};  // from the first byte to the complete request
  std::chrono::milliseconds shutdownGrace{15000};
};

struct EdgeConfig {
  std::vector<Endpoint> listeners;
  Endpoint admin{"127.0.0.1", 9464};
  unsigned threads = 0;  // 0 = hardware concurrency
  ServerLimits limits;
  LinkConfig link;
  std::vector<SupplierConfig> suppliers;
  std::map<std::string, ServiceConfig> services;
  SpoolConfig spool;
  RelayMeterConfig relayMeter;
  util::LogLevel logLevel = util::LogLevel::info;
};

// Parses and validates the YAML text; `origin` names the source in errors.
EdgeConfig parseEdgeConfig(const std::string& yamlText, const std::string& origin = "edge.yaml");
// Reads and parses a file.
EdgeConfig loadEdgeConfig(const std::string& path);

// "20MiB", "512KiB", "1GB", "4096" -> bytes; throws ConfigError naming `keyPath`.
using util::parseByteSize;
// "host:port" or "[v6]:port".
Endpoint parseEndpoint(const std::string& text, const std::string& keyPath);

// Throws ConfigError unless `path` is a regular file that neither group nor others may read or write.
void checkPrivateFile(const std::string& path, const std::string& keyPath);

}  // namespace pocket::edge
