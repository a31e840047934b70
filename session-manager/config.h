#pragma once
// session-manager configuration (`session-manager.yaml`), validated when it is loaded.
// docs/configuration.md documents every key with its default; docs/examples/session-manager.yaml
// is an annotated example.
//
// Errors: loadConfig throws ConfigError whose message starts with the key path
// (`link.allow_list_file: ...`) and says what is wrong. Unknown keys are errors (a typo must not
// fall back to a default). Key files are loaded (and their permissions checked) by main().

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/util/config_reader.h"
#include "common/util/log.h"

namespace pocket::sm {

// The configuration error of every loader (common/util/config_reader.h): "<key path>: <what>".
using ConfigError = util::ConfigError;

struct LinkConfig {
  std::string bind = "tcp://0.0.0.0:7400";
  bool plaintext = false;      // only with a loopback bind
  std::string serverKeyFile;   // required unless plaintext
  std::string allowListFile;   // required unless plaintext
  int heartbeatIntervalMs = 2000;
};

struct SupplierConfig {
  std::string keyFile;  // hex secp256k1 operator key, owner-only
};

struct ChainConfig {
  // Exactly one of rpcUrl (a full node) and fixture (a static chain) is set.
  std::string rpcUrl;        // CometBFT RPC, http:// or https:// (tcp:// is read as http://)
  // The node's WebSocket for NewBlock events. Default: ws://host:port/websocket derived from an
  // http://host:port rpcUrl; empty (the YAML value `none`, or an rpcUrl it cannot be derived
  // from) = no subscription, new blocks are found by polling `status` every pollInterval.
  std::string websocketUrl;
  std::string chainId;       // required with rpcUrl: the node's network must equal it
  std::chrono::milliseconds timeout{4000};       // per call
  // How often the newest block is read while there is no WebSocket subscription (the static
  // chain's head too); with a node the head is also re-read every 5 intervals as a safety net.
  std::chrono::milliseconds pollInterval{1000};
  std::string fixture;                           // static chain file (fixture_chain.h)
  std::chrono::milliseconds blockInterval{1000};  // the static chain's block time
};

struct StoreConfig {
  std::string directory = "/var/lib/session-manager";
  std::chrono::milliseconds treeCommitInterval{2000};
};

// How claims and proofs are sent (docs/transactions.md).
struct TransactionsConfig {
  // uPOKT per gas until the node says its minimum gas price ("0.000001" or "0.000001upokt").
  std::string gasPrice = "0.000001";
  double gasAdjustment = 1.5;    // gas limit = ceil(simulated gas × this)
  std::uint64_t gasLimit = 0;    // > 0: this constant gas limit, no simulation
  std::uint64_t broadcastWorkers = 8;
  std::int64_t rebroadcastIntervalBlocks = 1;
  std::uint64_t fallbackGasPerMessage = 100000;  // fee estimate before any tx was seen
};

// The claim and proof lifecycle (docs/architecture.md §7). Runs only with a full node.
struct LifecycleConfig {
  bool enabled = true;
  // Skip claims whose claimed uPOKT does not exceed the expected claim and proof fees.
  bool profitabilityGate = true;
  // Blocks a finished session's tree and record are kept (for status and forensics).
  std::int64_t retentionBlocks = 100;
};

// CPU priority (nice value, -20 highest … 19 lowest) of the manager's threads. The ack path (the
// link thread, ZeroMQ's I/O threads that decrypt and encrypt CURVE traffic, the ingest thread)
// runs ahead of background work (the tree threads, the journal reaper; RocksDB's flush and
// compaction threads run at 19 whenever background_nice is above 0), so that a tree commit does
// not hold up the acks of the relays arriving meanwhile. Raising the ack path needs CAP_SYS_NICE
// or an RLIMIT_NICE that allows it (systemd: LimitNICE=); without, it stays at the process's
// priority (logged at start).
// background_idle puts the tree thread and the trees' commit thread under SCHED_IDLE on top: they
// take a CPU only when no other thread wants it, so the ack path never waits behind a tree commit
// on either core.
struct ThreadsConfig {
  int ackPathNice = -10;
  int backgroundNice = 10;
  bool backgroundIdle = true;
};

struct AdminConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9465;  // 0: any free port (tests)
};

struct Config {
  LinkConfig link;
  std::vector<SupplierConfig> suppliers;
  ChainConfig chain;
  StoreConfig store;
  AdminConfig admin;
  TransactionsConfig transactions;
  LifecycleConfig lifecycle;
  ThreadsConfig threads;
  util::LogFormat logFormat = util::LogFormat::logfmt;
  util::LogLevel logLevel = util::LogLevel::info;
};

// Parses and validates YAML text; `origin` names the source in errors.
Config parseConfig(const std::string& yamlText, const std::string& origin = "session-manager.yaml");
Config loadConfig(const std::string& path);

}  // namespace pocket::sm
