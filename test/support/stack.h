#pragma once
// A running stack for end-to-end tests, built from typed parts: relay-test-backend, the session
// manager's double (sm-double) with a session fixture, N relay-edges, and relay-gateway runs, each
// in one temporary directory with its real configuration file (edge.yaml written with yaml-cpp,
// the fixture with nlohmann::json) and its log.
//
//   auto stack = StackBuilder("edge-e2e")
//                    .key("supplier", supplierKey)
//                    .fixture(fixture)
//                    .edge(EdgeConfigFile{...})
//                    .start();
//   stack->edge().admin("/readyz").status ...
//
// Parts a test does not ask for are not started: no edge means no backend; withoutSessionManager()
// points the edges' link at a port where nothing listens. More parts (a session-manager binary, a
// local chain) join as further optional members started by the builder in dependency order.
//
// Binaries are found through environment variables that meson's test() sets (binaryPath); a
// missing one fails with its name. Every start waits for readiness (a port file, the edge's
// "listener=… admin=…" log line) within kGenerous and fails with the process's log.
// While a Stack lives, a doctest assertion that fails prints the state and log tail of each of
// its processes.
//
// Threading: one test thread drives a Stack; Edge::admin may be called from any thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <doctest.h>

#include "common/crypto/keys.h"
#include "test/support/process.h"

namespace pocket::testing {

// Environment variables naming the binaries (set by test/*/meson.build).
inline constexpr const char* kRelayEdgeVar = "POCKET_RELAY_EDGE";
inline constexpr const char* kTestBackendVar = "POCKET_RELAY_TEST_BACKEND";
inline constexpr const char* kSmDoubleVar = "POCKET_SM_DOUBLE";
inline constexpr const char* kRelayGatewayVar = "POCKET_RELAY_GATEWAY";
inline constexpr const char* kLinkDriverVar = "POCKET_LINK_DRIVER";
inline constexpr const char* kSessionManagerVar = "POCKET_SESSION_MANAGER";

// ---- The session fixture sm-double serves (`--fixture`).

// Shared-params overrides; an absent field keeps the chain's (genesis) value.
struct ChainParams {
  std::optional<std::int64_t> numBlocksPerSession;
  std::optional<std::int64_t> gracePeriodEndOffsetBlocks;
  std::optional<std::int64_t> claimWindowOpenOffsetBlocks;
  nlohmann::json toJson() const;
};

struct FixtureSession {
  std::string applicationAddress;
  std::string serviceId;
  std::string sessionId;
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::vector<std::string> suppliers;     // operator addresses
  std::vector<std::string> ringPubKeys;   // compressed public keys, hex
  std::uint64_t computeUnitsPerRelay = 1;
  std::optional<std::string> difficultyTarget;        // 64 hex digits
  std::optional<ChainParams> windowParams;             // the session's own window params
  std::optional<std::uint64_t> applicationStakeUpokt;  // the relay meter's budget
  nlohmann::json toJson() const;
};

// A session of application `app` whose ring is the application and `gateways` (the ring the edge
// expects), for `service` with `suppliers` (operator addresses), blocks [start, end], at the
// easiest difficulty target (every relay is mined).
FixtureSession ringSession(const crypto::PublicKey& app,
                           const std::vector<crypto::PublicKey>& gateways, std::string service,
                           std::string sessionId, std::int64_t start, std::int64_t end,
                           std::vector<std::string> suppliers);

struct SessionFixture {
  std::int64_t height = 1;
  bool advance = false;  // sm-double advances the height by one per chain state when true
  std::optional<ChainParams> sharedParams;
  std::vector<FixtureSession> sessions;
  nlohmann::json toJson() const;
};

// ---- relay-edge's edge.yaml (docs/configuration.md).

struct EdgeServiceConfig {
  std::string id;
  std::optional<std::string> validation;       // eager | optimistic | none
  std::optional<std::string> maxRequestBytes;  // "16KiB"
  // The backend: `backendUrl` when set, otherwise the stack's relay-test-backend + backendPath.
  std::optional<std::string> backendUrl;
  std::string backendPath;
  std::optional<int> timeoutMs;
  std::optional<int> firstByteTimeoutMs;
};

struct EdgeConfigFile {
  std::vector<std::string> listeners = {"127.0.0.1:0"};
  std::string adminListener = "127.0.0.1:0";
  int threads = 2;
  std::string logLevel = "info";
  std::vector<std::string> supplierKeyFiles;  // paths; StackBuilder::edge accepts key names
  std::string linkEndpoint;                   // filled by the stack
  bool linkPlaintext = true;
  std::string edgeId = "edge";
  std::optional<int> lookupTimeoutMs;
  std::string spoolDirectory;                 // filled by the stack: <dir>/spool-<edgeId>
  std::vector<EdgeServiceConfig> services;
  std::string toYaml() const;
};

// ---- session-manager's session-manager.yaml (docs/configuration.md).

struct SessionManagerConfigFile {
  std::string bind = "tcp://127.0.0.1:0";
  bool plaintext = true;
  std::string serverKeyFile;                  // with plaintext = false
  std::string allowListFile;                  // with plaintext = false
  std::vector<std::string> supplierKeyFiles;  // paths; StackBuilder accepts key names
  // The chain: a full node (rpcUrl, chainId, optional websocketUrl) or a static chain (fixture,
  // filled by the stack with its fixture.json).
  std::string rpcUrl;
  std::string chainId;
  std::optional<std::string> websocketUrl;
  std::optional<int> pollIntervalMs;
  std::optional<int> timeoutMs;  // chain.timeout_ms: the deadline of one call to the node
  std::string fixture;
  std::optional<int> blockIntervalMs;
  std::string storeDirectory;  // filled by the stack: <dir>/sm-store
  std::optional<int> treeCommitIntervalMs;
  std::string adminListen = "127.0.0.1:0";
  std::string logLevel = "info";
  std::string toYaml() const;
};

// ---- Running parts.

// A plain HTTP/1.1 answer.
struct HttpAnswer {
  int status = 0;  // 0: no answer (connection refused, reset or no status line)
  std::string body;
};
// GET http://127.0.0.1:port/path, Connection: close; waits at most `timeout` for the answer.
HttpAnswer httpGet(int port, const std::string& path,
                   std::chrono::milliseconds timeout = kGenerous);

class TestBackend {
 public:
  TestBackend(const std::string& dir, std::vector<std::string> extraArgs = {});
  std::string url(const std::string& path = "") const;
  int port() const { return port_; }
  ChildProcess& process() { return *process_; }

 private:
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// Which session manager a stack runs: the double (test/sm-double) or the real session-manager
// binary on a static chain (`chain.fixture`) made of the same SessionFixture.
enum class ManagerKind { smDouble, real };
inline const char* managerName(ManagerKind kind) {
  return kind == ManagerKind::smDouble ? "sm-double" : "session-manager";
}
inline constexpr ManagerKind kBothManagers[] = {ManagerKind::smDouble, ManagerKind::real};

// What a session manager holds for one session: relays (distinct relay hashes) and their compute
// units, over all suppliers.
struct SessionTally {
  std::uint64_t relays = 0;
  std::uint64_t computeUnits = 0;
};

// received.log of sm-double: R (accepted), H (duplicate by hash) and X (rejected) lines.
struct ReceivedLog {
  std::multiset<std::string> accepted;  // relay hashes (hex)
  std::size_t duplicates = 0;
  std::size_t rejected = 0;
  static ReceivedLog parse(const std::string& text);
};

class SmDouble {
 public:
  // Starts `sm-double serve` on an ephemeral 127.0.0.1 port with `args` (e.g. --plaintext) and
  // waits for its port file. Its state (received.log, high-water marks) lives in <dir>/sm.
  SmDouble(const std::string& dir, const std::string& fixturePath, std::vector<std::string> args,
           int chainIntervalMs);
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::string outDir() const { return dir_ + "/sm"; }
  std::string receivedText() const;
  ReceivedLog received() const { return ReceivedLog::parse(receivedText()); }
  ChildProcess& process() { return *process_; }
  void kill9() { process_->kill9(); }
  // Starts it again on the same port and state, with other `args` when given.
  void restart(std::optional<std::vector<std::string>> args = std::nullopt);
  // The arguments it runs with (after its fixed ones).
  const std::vector<std::string>& args() const { return args_; }

 private:
  std::vector<std::string> argv(const std::string& bind) const;
  void waitListening();
  std::string dir_, fixturePath_;
  std::vector<std::string> args_;
  int chainIntervalMs_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// The real session-manager (`run --config`), started and restarted on the same link port and
// store (the port it chose at the first start is written into its configuration).
class SessionManager {
 public:
  // Writes `config` to <dir>/<name>.yaml, starts it (`run --config FILE` and `runArgs`, e.g.
  // --crash-at after_write:3) and waits for its sm_started line.
  SessionManager(const std::string& dir, const std::string& name, SessionManagerConfigFile config,
                 std::vector<std::string> runArgs = {});
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(linkPort_); }
  int linkPort() const { return linkPort_; }
  int adminPort() const { return adminPort_; }
  HttpAnswer admin(const std::string& path) const { return httpGet(adminPort_, path); }
  // The sample value of the /metrics line `series` (name{labels}), or -1 when absent.
  double metric(const std::string& series) const;
  // The store directory (session trees, high-water marks).
  const std::string& storeDirectory() const { return config_.storeDirectory; }
  ChildProcess& process() { return *process_; }
  void kill9() { process_->kill9(); }
  // Starts it again (after kill9() or an exit; a running one is killed first) on the same port,
  // store and configuration, with `runArgs` instead of the first start's.
  void restart(std::vector<std::string> runArgs = {});

 private:
  std::vector<std::string> argv(const std::vector<std::string>& runArgs) const;
  void waitStarted();
  std::string dir_, name_;
  SessionManagerConfigFile config_;
  std::unique_ptr<ChildProcess> process_;
  int linkPort_ = 0;
  int adminPort_ = 0;
};

class Edge {
 public:
  // Starts relay-edge on `configPath` and waits until it prints its ports.
  Edge(const std::string& name, const std::string& configPath, const std::string& logPath);
  int relayPort() const { return relayPort_; }
  int adminPort() const { return adminPort_; }
  std::string relayUrl(const std::string& path = "/") const;
  HttpAnswer admin(const std::string& path) const { return httpGet(adminPort_, path); }
  // The sample value of the /metrics line `series` (name{labels}), or -1 when absent.
  double metric(const std::string& series) const;
  // Waits until /readyz answers 200.
  Waited waitReady(std::chrono::milliseconds deadline = kGenerous) const;
  ChildProcess& process() { return *process_; }
  void kill9() { process_->kill9(); }
  // Starts the ended edge again on the same configuration (and so the same spool).
  void restart();

 private:
  void waitListening();
  std::unique_ptr<ChildProcess> process_;
  int relayPort_ = 0;
  int adminPort_ = 0;
};

class Stack {
 public:
  explicit Stack(const std::string& prefix);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  std::string path(const std::string& name) const { return dir / name; }
  Edge& edge(std::size_t i = 0) { return *edges.at(i); }
  // The link endpoint of whichever session manager runs ("" without one).
  std::string managerEndpoint() const;
  // The process of whichever session manager runs (sm-double or session-manager).
  ChildProcess& managerProcess();
  // Kills whichever session manager runs (SIGKILL, if it still runs) and starts it again on the
  // same port and state, without fault injection (sm-double: its arguments without
  // --exit-after-durable-batches; session-manager: without run arguments).
  void restartManager();
  // Per session id, what the running session manager holds: sm-double's received.log, or the real
  // manager's /status.
  std::map<std::string, SessionTally> managerSessions() const;
  // Starts another process, owned by the stack (killed when it goes), whose output is appended to
  // <dir>/<name>.log; it is part of the logs shown on failure.
  ChildProcess& spawn(const std::string& name, std::vector<std::string> argv);
  // Runs relay-gateway with `args` to its end; output in <dir>/gateway-N.log.
  Run gateway(std::vector<std::string> args);
  // The state and log tail of every process of the stack.
  std::string describe() const;

  TempDir dir;
  std::unique_ptr<TestBackend> backend;
  std::unique_ptr<SmDouble> sm;             // with ManagerKind::smDouble
  std::unique_ptr<SessionManager> manager;  // with ManagerKind::real
  std::vector<std::unique_ptr<Edge>> edges;

 private:
  int gatewayRuns_ = 0;
  std::vector<std::unique_ptr<ChildProcess>> spawned_;
  // Prints describe() with any failed doctest assertion while the stack lives.
  doctest::detail::ContextScope<std::function<void(std::ostream*)>> logsOnFailure_;
};

class StackBuilder {
 public:
  explicit StackBuilder(std::string prefix) : prefix_(std::move(prefix)) {}
  // Writes <dir>/<name>.key (hex, mode 0600); an edge lists it by name in supplierKeyFiles.
  StackBuilder& key(const std::string& name, const crypto::PrivateKey& key);
  StackBuilder& fixture(SessionFixture fixture);
  // sm-double's arguments after serve/--bind/--out/--fixture/--port-file and the link's
  // encryption (--plaintext, or --server-key/--allow-list with linkCurve()).
  StackBuilder& sessionManagerArgs(std::vector<std::string> args);
  StackBuilder& chainIntervalMs(int ms);
  // The edges' link points at a port where nothing listens; no sm-double runs.
  StackBuilder& withoutSessionManager();
  // Runs the real session-manager (plain text on loopback, a static chain of the fixture, every
  // edge's supplier keys) instead of sm-double; ManagerKind::smDouble keeps the double.
  StackBuilder& manager(ManagerKind kind);
  // The session manager (either kind) also keeps the relays of the supplier whose key was written
  // with key(name): for tests without an edge (link-driver). sm-double keeps every relay anyway.
  StackBuilder& managerSupplierKey(const std::string& name);
  // The session manager (either kind) dies right after its n-th durable write and before the
  // acks of what it wrote: sm-double exits with status 3 after its n-th synced batch
  // (--exit-after-durable-batches), session-manager kills itself with SIGKILL after the synced
  // journal write of its n-th group commit (--crash-at after_write:n). Stack::restartManager()
  // starts it again without the fault.
  StackBuilder& managerDiesAfterDurableWrite(int n);
  // CURVE on the link instead of plain text, for either kind of manager: its key pair file and
  // the allow-list of edge public keys (common/net/curve_keys.h formats). The stack's own edges
  // speak plain text, so this is for stacks whose clients bring their keys (link-driver --key).
  StackBuilder& linkCurve(std::string serverKeyFile, std::string allowListFile);
  // Backend arguments (relay-test-backend) when an edge needs one.
  StackBuilder& backendArgs(std::vector<std::string> args);
  StackBuilder& edge(EdgeConfigFile config);
  // Starts everything: backend, then sm-double, then each edge.
  std::unique_ptr<Stack> start();

 private:
  std::string prefix_;
  std::vector<std::pair<std::string, std::string>> keys_;  // name, hex secret
  SessionFixture fixture_;
  bool sessionManager_ = true;
  ManagerKind managerKind_ = ManagerKind::smDouble;
  std::vector<std::string> smArgs_;
  std::vector<std::string> managerSupplierKeys_;  // key names
  std::optional<int> dieAfterDurableWrite_;
  std::string curveServerKeyFile_, curveAllowListFile_;  // empty: plain text
  int chainIntervalMs_ = 200;
  std::vector<std::string> backendArgs_;
  std::vector<EdgeConfigFile> edges_;
};

}  // namespace pocket::testing
