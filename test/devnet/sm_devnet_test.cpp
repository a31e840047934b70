// The real session-manager on the real pocket-devnet (its CometBFT RPC and WebSocket on 127.0.0.1):
// new blocks reach a connected relay-edge as chain states through the WebSocket NewBlock
// subscription, and through status polling when the WebSocket is refused; a session is answered
// with the chain's facts, including the relay budget's overservicing bonus multiplier read from the
// tokenomics params.

#include <regex>
#include <string>

#include <doctest.h>

#include "test/devnet/devnet_client.h"
#include "test/support/stack.h"

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

struct World {
  explicit World(const std::string& seed)
      : devnet(kBinary, {"--seed", seed}, {"--block-time", "200ms"}, withBonusMultiplier) {
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
  auto query = testing::runToEnd(
      {testing::binaryPath(testing::kLinkDriverVar), "--spool", world.dir / "driver-spool",
       "--endpoint", manager.endpoint(), "--plaintext", "--count", "0", "--query", app, "anvil",
       std::to_string(world.devnet.height())},
      world.dir / "link-driver.log");
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

}  // namespace pocket::devnet::test
