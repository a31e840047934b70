// The real session-manager on the real pocket-devnet (its CometBFT RPC and WebSocket on 127.0.0.1):
// new blocks reach a connected relay-edge as chain states through the WebSocket NewBlock
// subscription, and through status polling when the WebSocket is refused; a session is answered
// with the chain's facts, including the relay budget's overservicing bonus multiplier read from the
// tokenomics params. And the devnet behind a proxy that makes it hang (accepts connections, never
// answers): every call to it ends at its deadline, the node is reported unhealthy (log, /metrics,
// /readyz, `status`), ingest keeps acking the edges' relays, and everything recovers when the node
// answers again.

#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include <doctest.h>

#include "test/devnet/devnet_client.h"
#include "test/support/stack.h"
#include "test/support/tcp_proxy.h"

namespace pocket::devnet::test {
namespace {

const std::string kBinary = POCKET_DEVNET_BINARY;

// The devnet's genesis with overservicing_bonus_multiplier 3 instead of init's 1.
std::string withBonusMultiplier(std::string genesis) {
  const std::string from = "overservicing_bonus_multiplier: 1";
  auto at = genesis.find(from);
  if (at != std::string::npos) {
    genesis.replace(at, from.size(), "overservicing_bonus_multiplier: 3");
    return genesis;
  }
  // init writes no tokenomics section: add one.
  at = genesis.find("params:\n");
  REQUIRE(at != std::string::npos);
  genesis.insert(at + 8, "  tokenomics:\n    overservicing_bonus_multiplier: 3\n");
  return genesis;
}

// An account's public key is on chain once it signed a transaction: the ring of a session needs
// the application's and its gateways' keys.
void revealKey(const DevnetProcess& devnet, const crypto::PrivateKey& key) {
  auto faucet = devnet.key("faucet").publicKey().address();
  auto tx = signMessages(devnet, key, {msgSend(key.publicKey().address(), faucet, 1)});
  json sent = devnet.broadcast(tx.txRaw);
  REQUIRE_MESSAGE(sent.contains("hash"), sent.dump());
  json included = devnet.waitForTx(sent["hash"].get<std::string>());
  REQUIRE_MESSAGE(included["tx_result"]["code"] == 0, included.dump());
}

std::vector<std::string> initArgs(const std::string& seed, std::vector<std::string> more) {
  more.insert(more.begin(), {"--seed", seed});
  return more;
}

struct World {
  // `moreInitArgs` go to `pocket-devnet init` after --seed.
  explicit World(const std::string& seed, std::vector<std::string> moreInitArgs = {})
      : devnet(kBinary, initArgs(seed, std::move(moreInitArgs)), {"--block-time", "200ms"},
               withBonusMultiplier) {
    devnet.waitForHeight(2);
    revealKey(devnet, devnet.key("application-1"));
    revealKey(devnet, devnet.key("gateway-1"));
  }

  testing::SessionManagerConfigFile managerConfig() const {
    testing::SessionManagerConfigFile config;
    config.supplierKeyFiles = {devnet.dir() + "/keys/supplier-1-operator.key"};
    config.rpcUrl = "http://127.0.0.1:" + std::to_string(devnet.port());
    config.chainId = "pocket";
    return config;
  }

  // A relay-edge for the devnet's supplier, linked to `manager`.
  testing::Edge& startEdge(const testing::SessionManager& manager) {
    testing::EdgeConfigFile config;
    config.supplierKeyFiles = {devnet.dir() + "/keys/supplier-1-operator.key"};
    config.linkEndpoint = manager.endpoint();
    config.spoolDirectory = dir.path() + "/spool";
    // Never called here: the test watches chain states, not relays.
    config.services = {{.id = "anvil", .backendUrl = "http://127.0.0.1:1/"}};
    testing::writeFile(dir / "edge.yaml", config.toYaml());
    edge.emplace("relay-edge", dir / "edge.yaml", dir / "edge.log");
    return *edge;
  }

  DevnetProcess devnet;
  testing::TempDir dir{"sm-devnet"};
  std::optional<testing::Edge> edge;
};

// Waits until the edge's chain height is at least `height`.
bool edgeReaches(const testing::Edge& edge, std::int64_t height) {
  return static_cast<bool>(testing::waitFor(
      [&] { return edge.metric("edge_chain_height") >= static_cast<double>(height); },
      testing::kGenerous, "the edge's chain height " + std::to_string(height)));
}

// A session as `link-driver --query` prints it.
struct QueriedSession {
  std::string id;
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::uint64_t computeUnits = 0;
};

// `link-driver --query` of application `app`'s anvil session at `height` (`extra`: more options).
testing::Run runQuery(const testing::TempDir& dir, const testing::SessionManager& manager,
                      const std::string& app, std::int64_t height,
                      std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {testing::binaryPath(testing::kLinkDriverVar),
                                   "--spool", dir / "query-spool", "--endpoint",
                                   manager.endpoint(), "--plaintext", "--count", "0", "--query",
                                   app, "anvil", std::to_string(height)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return testing::runToEnd(argv, dir / ("query-" + std::to_string(height) + ".log"));
}

QueriedSession querySession(const testing::TempDir& dir, const testing::SessionManager& manager,
                            const std::string& app, std::int64_t height) {
  auto query = runQuery(dir, manager, app, height);
  INFO(query.output);
  REQUIRE(query.status == 0);
  std::smatch m;
  REQUIRE(std::regex_search(
      query.output, m,
      std::regex("session (\\S+) start=(\\d+) end=(\\d+) .*compute_units_per_relay=(\\d+)")));
  return {m[1], std::stoll(m[2]), std::stoll(m[3]), std::stoull(m[4])};
}

// Runs link-driver as edge `edgeId` on spool `spool`: relays 1..count of `session` for `supplier`,
// waiting at most `waitMs` for their acks. Returns it running; the caller waits for its end.
std::unique_ptr<testing::ChildProcess> startDriver(const testing::TempDir& dir,
                                                   const testing::SessionManager& manager,
                                                   const std::string& edgeId,
                                                   const std::string& app,
                                                   const QueriedSession& session,
                                                   const std::string& supplier, int count,
                                                   long waitMs) {
  return std::make_unique<testing::ChildProcess>(
      edgeId,
      std::vector<std::string>{testing::binaryPath(testing::kLinkDriverVar), "--spool",
                               dir / ("spool-" + edgeId), "--endpoint", manager.endpoint(),
                               "--plaintext", "--edge-id", edgeId, "--count",
                               std::to_string(count), "--wait-ms", std::to_string(waitMs),
                               "--session", app, "anvil", session.id,
                               std::to_string(session.start), std::to_string(session.end),
                               "--supplier", supplier, "--compute-units",
                               std::to_string(session.computeUnits)},
      dir / (edgeId + ".log"));
}

// Relays the manager holds for `sessionId` (its /status), 0 if it has none.
std::uint64_t relaysInTree(const testing::SessionManager& manager, const std::string& sessionId) {
  auto doc = nlohmann::json::parse(manager.admin("/status").body, nullptr, false);
  if (doc.is_discarded() || !doc.contains("sessions")) return 0;
  std::uint64_t relays = 0;
  for (const auto& s : doc["sessions"]) {
    if (s.value("sessionId", std::string()) == sessionId) relays += s.value("relays", 0ULL);
  }
  return relays;
}

// The highest sequence number the manager received from `edgeId` (its /status), 0 if none.
std::uint64_t lastSeqOf(const testing::SessionManager& manager, const std::string& edgeId) {
  auto doc = nlohmann::json::parse(manager.admin("/status").body, nullptr, false);
  if (doc.is_discarded() || !doc.contains("edges")) return 0;
  for (const auto& e : doc["edges"]) {
    if (e.value("edgeId", std::string()) == edgeId) return e.value("lastSeq", 0ULL);
  }
  return 0;
}

// The manager's configuration with the devnet behind `node` and `timeoutMs` per chain call.
testing::SessionManagerConfigFile behind(const World& world, const testing::TcpProxy& node,
                                         int timeoutMs) {
  auto config = world.managerConfig();
  config.rpcUrl = "http://127.0.0.1:" + std::to_string(node.port());
  config.timeoutMs = timeoutMs;
  return config;
}

// Waits until `manager` is ready (on a healthy node), then asks it for application `app`'s
// anvil session at the devnet's height.
QueriedSession readyWithSession(const World& world, const testing::SessionManager& manager,
                                const std::string& app) {
  REQUIRE(testing::waitFor([&] { return manager.admin("/readyz").status == 200; },
                           "the manager ready on a healthy node"));
  return querySession(world.dir, manager, app, world.devnet.height());
}

// Relays up to `count` of `session` from edge `edgeId`, all acked within the driver's minute.
void deliver(const testing::TempDir& dir, const testing::SessionManager& manager,
             const std::string& edgeId, const std::string& app, const QueriedSession& session,
             const std::string& supplier, int count) {
  auto edge = startDriver(dir, manager, edgeId, app, session, supplier, count, 60000);
  REQUIRE(edge->exitCode(testing::kGenerous) == 0);
}

}  // namespace

TEST_CASE("WebSocket: every new block reaches the edge as a chain state; the session's budget "
          "carries the chain's bonus multiplier") {
  World world("sm-devnet-ws");
  auto config = world.managerConfig();
  // Status polling so rare that only the WebSocket can move the head along within the test.
  config.pollIntervalMs = 600000;
  testing::SessionManager manager(world.dir.path(), "session-manager", config);
  auto& edge = world.startEdge(manager);
  REQUIRE(edge.waitReady());
  REQUIRE(testing::waitFor([&] { return manager.metric("pocket_chain_feed_subscribed") == 1; },
                           testing::kGenerous, "the block feed's subscription"));

  double statesBefore = edge.metric("edge_link_chain_states_received_total");
  std::int64_t now = world.devnet.height();
  REQUIRE(edgeReaches(edge, now + 5));
  // Blocks announced over the socket (a loaded machine may have the 15 s safety poll find one
  // first, so not necessarily all five), and a chain state per head the manager read.
  CHECK(manager.metric("pocket_chain_feed_blocks_total{source=\"websocket\"}") >= 3);
  CHECK(edge.metric("edge_link_chain_states_received_total") > statesBefore);

  // The session of application-1 for anvil, answered from the chain.
  std::string app = world.devnet.key("application-1").publicKey().address();
  auto query = runQuery(world.dir, manager, app, world.devnet.height());
  INFO(query.output);
  REQUIRE(query.status == 0);
  std::smatch m;
  REQUIRE(std::regex_search(query.output, m,
                            std::regex("session ([0-9a-f]{64}) .*ring_keys=(\\d+) .*"
                                       "stake_upokt=(\\d+) bonus_multiplier=(\\d+)")));
  CHECK(m[2] == "2");  // the application and its gateway
  CHECK(m[3] == "1000000000");
  CHECK(m[4] == "3");  // tokenomics overservicing_bonus_multiplier, not 0
}

TEST_CASE("WebSocket refused: new blocks are found by polling and still reach the edge") {
  World world("sm-devnet-poll");
  auto config = world.managerConfig();
  config.websocketUrl = "ws://127.0.0.1:1/websocket";  // nothing listens on port 1
  config.pollIntervalMs = 200;
  testing::SessionManager manager(world.dir.path(), "session-manager", config);
  auto& edge = world.startEdge(manager);
  REQUIRE(edge.waitReady());

  std::int64_t now = world.devnet.height();
  REQUIRE(edgeReaches(edge, now + 5));
  CHECK(manager.metric("pocket_chain_feed_subscribed") == 0);
  CHECK(manager.metric("pocket_chain_feed_blocks_total{source=\"poll\"}") >= 1);
  CHECK(manager.metric("pocket_chain_feed_reconnects_total") >= 1);
  CHECK(manager.process().output().find("event=block_feed_error") != std::string::npos);
}

TEST_CASE("a hung full node: calls end at their deadline, the node is reported unhealthy, ingest "
          "keeps acking, and a lookup waiting on the node holds up no other edge") {
  // Sessions of 1000 blocks: the test's session stays open (no claim window) all along.
  World world("sm-node-hang", {"--session-blocks", "1000"});
  std::string app = world.devnet.key("application-1").publicKey().address();
  std::string supplier = world.devnet.key("supplier-1-operator").publicKey().address();

  SUBCASE("deadlines, health and acks while the node hangs, and the recovery") {
    testing::TcpProxy node(world.devnet.port());
    auto config = behind(world, node, 2000);
    config.pollIntervalMs = 200;
    testing::SessionManager manager(world.dir.path(), "sm-hang", config);
    auto session = readyWithSession(world, manager, app);
    deliver(world.dir, manager, "edge-a", app, session, supplier, 100);
    REQUIRE(testing::waitFor([&] { return relaysInTree(manager, session.id) == 100; },
                             "100 relays in the session's tree"));

    node.hang();
    // Every call to the node ends at its deadline and the node is reported unhealthy.
    REQUIRE(testing::waitFor([&] { return manager.metric("pocket_chain_node_healthy") == 0; },
                             "pocket_chain_node_healthy 0"));
    // From here on no head can be read (the block loop's last read failed).
    double heightAtHang = manager.metric("sm_chain_height");
    CHECK(manager.metric("pocket_chain_rpc_calls_total{method=\"status\",outcome=\"timeout\"}") >=
          1);
    auto readyz = manager.admin("/readyz");
    CHECK(readyz.status == 503);
    CHECK(readyz.body.find("full node unhealthy") != std::string::npos);
    auto status = testing::runToEnd({testing::binaryPath(testing::kSessionManagerVar), "status",
                                     "--admin", "127.0.0.1:" + std::to_string(manager.adminPort())},
                                    world.dir / "status.txt");
    CHECK(status.status == 0);
    CHECK(status.output.find("full node unhealthy") != std::string::npos);
    std::string log = manager.process().output();
    CHECK(log.find("event=node_health state=unhealthy") != std::string::npos);
    CHECK(log.find("event=chain_head_unavailable") != std::string::npos);

    // A query about a session the manager has not looked up is refused once its chain calls'
    // deadlines pass (seconds), long before the edge's own wait (a minute), and as transient:
    // the edge does not take the node's silence for "no such session".
    auto refused = runQuery(world.dir, manager, app, session.end + 1,
                            {"--query-timeout-ms", "60000"});
    INFO(refused.output);
    CHECK(refused.status == 0);
    CHECK(refused.output.find("error session_chain_unavailable") != std::string::npos);

    // The edge's relays of the known session are acked all the same.
    deliver(world.dir, manager, "edge-a", app, session, supplier, 300);
    CHECK(testing::waitFor([&] { return relaysInTree(manager, session.id) == 300; },
                           "300 relays in the session's tree"));
    CHECK(manager.metric("sm_chain_height") == heightAtHang);  // no head was read meanwhile

    // The node answers again (the calls it held get their answers late): healthy, blocks move on.
    node.resume();
    CHECK(testing::waitFor([&] { return manager.admin("/readyz").status == 200; },
                           "the manager ready again"));
    CHECK(manager.metric("pocket_chain_node_healthy") == 1);
    CHECK(testing::waitFor([&] { return manager.metric("sm_chain_height") > heightAtHang; },
                           "new blocks after the node recovered"));
    CHECK(manager.process().output().find("event=chain_head_recovered") != std::string::npos);
  }

  SUBCASE("a batch whose session lookup waits on the hung node holds up no other edge") {
    testing::TcpProxy node(world.devnet.port());
    // A deadline far beyond the test's own waits: a lookup on the hung node outlasts them.
    testing::SessionManager manager(world.dir.path(), "sm-lookup", behind(world, node, 600000));
    auto session = readyWithSession(world, manager, app);
    deliver(world.dir, manager, "edge-c", app, session, supplier, 100);

    node.hang();
    // Edge D delivers relays of the next session, which the manager has not looked up: the
    // lookup waits on the hung node.
    QueriedSession next{"next-session", session.end + 1, session.end + 1000, session.computeUnits};
    auto waiting = startDriver(world.dir, manager, "edge-d", app, next, supplier, 5, 600000);
    REQUIRE(testing::waitFor([&] { return lastSeqOf(manager, "edge-d") >= 5; },
                             "edge-d's batch at the manager"));
    // Edge C's relays of the known session are acked meanwhile.
    deliver(world.dir, manager, "edge-c", app, session, supplier, 300);
    CHECK(testing::waitFor([&] { return relaysInTree(manager, session.id) == 300; },
                           "300 relays in the session's tree"));
    CHECK(waiting->running());  // its batch is still waiting for the node, unacked
    CHECK(manager.process().output().find("event=batch_awaiting_session edge_id=edge-d") !=
          std::string::npos);
  }
}

}  // namespace pocket::devnet::test
