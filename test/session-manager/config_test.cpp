// session-manager.yaml: defaults, derived values, and errors that name the key path.

#include <doctest.h>

#include "common/util/log.h"
#include "session-manager/config.h"

using pocket::sm::ConfigError;
using pocket::sm::parseConfig;

namespace {

const char* kMinimal = R"(
link:
  bind: "tcp://0.0.0.0:7400"
  server_key_file: /etc/sm/link.key
  allow_list_file: /etc/sm/edges.allow
suppliers:
  - key_file: /etc/sm/supplier.key
chain:
  rpc_url: "tcp://node.example:26657"
  chain_id: pocket
)";

std::string errorOf(const std::string& yaml) {
  try {
    parseConfig(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("session-manager config") {
  TEST_CASE("a minimal file gets the documented defaults and a derived websocket URL") {
    auto c = parseConfig(kMinimal);
    CHECK(c.link.bind == "tcp://0.0.0.0:7400");
    CHECK(!c.link.plaintext);
    CHECK(c.suppliers.size() == 1);
    CHECK(c.chain.rpcUrl == "http://node.example:26657");
    CHECK(c.chain.websocketUrl == "ws://node.example:26657/websocket");
    CHECK(c.chain.timeout.count() == 4000);
    CHECK(c.store.directory == "/var/lib/session-manager");
    CHECK(c.store.treeCommitInterval.count() == 2000);
    CHECK(c.admin.host == "127.0.0.1");
    CHECK(c.admin.port == 9465);
    CHECK(c.logFormat == pocket::util::LogFormat::logfmt);
  }

  TEST_CASE("the lifecycle keys: defaults, values and errors with their key path") {
    auto c = parseConfig(kMinimal);
    CHECK(c.lifecycle.enabled);
    CHECK(c.lifecycle.profitabilityGate);
    CHECK(c.lifecycle.retentionBlocks == 100);
    auto set = parseConfig(std::string(kMinimal) +
                           "lifecycle:\n  profitability_gate: false\n  retention_blocks: 7\n");
    CHECK_FALSE(set.lifecycle.profitabilityGate);
    CHECK(set.lifecycle.retentionBlocks == 7);
    CHECK(errorOf(std::string(kMinimal) + "lifecycle:\n  retention_blocks: -1\n")
              .starts_with("lifecycle.retention_blocks: must be a non-negative integer"));
    CHECK(errorOf(std::string(kMinimal) + "lifecycle:\n  enabled: maybe\n")
              .starts_with("lifecycle.enabled: must be true or false"));
    CHECK(errorOf(std::string(kMinimal) + "lifecycle:\n  gate: false\n")
              .starts_with("lifecycle.gate: unknown key"));
  }

  TEST_CASE("the thread priority keys: defaults, values and errors with their key path") {
    auto c = parseConfig(kMinimal);
    CHECK(c.threads.ackPathNice == -10);
    CHECK(c.threads.backgroundNice == 10);
    CHECK(c.threads.backgroundIdle);
    auto set = parseConfig(std::string(kMinimal) +
                           "threads:\n  ack_path_nice: 0\n  background_nice: 19\n"
                           "  background_idle: false\n");
    CHECK(set.threads.ackPathNice == 0);
    CHECK(set.threads.backgroundNice == 19);
    CHECK_FALSE(set.threads.backgroundIdle);
    CHECK(errorOf(std::string(kMinimal) + "threads:\n  background_idle: sometimes\n")
              .starts_with("threads.background_idle: must be true or false"));
    CHECK(errorOf(std::string(kMinimal) + "threads:\n  ack_path_nice: -21\n")
              .starts_with("threads.ack_path_nice: must be a nice value, an integer from -20"));
    CHECK(errorOf(std::string(kMinimal) + "threads:\n  background_nice: 20\n")
              .starts_with("threads.background_nice: must be a nice value"));
    CHECK(errorOf(std::string(kMinimal) + "threads:\n  background_nice: low\n")
              .starts_with("threads.background_nice: must be a nice value"));
    CHECK(errorOf(std::string(kMinimal) + "threads:\n  background_nice: 5x\n")
              .starts_with("threads.background_nice: must be a nice value"));
    CHECK(errorOf(std::string(kMinimal) + "threads:\n  ack_path_nice: 5\n  background_nice: 0\n")
              .starts_with("threads.background_nice: must not be below threads.ack_path_nice (5)"));
    CHECK(errorOf(std::string(kMinimal) + "threads:\n  ingest_nice: 0\n")
              .starts_with("threads.ingest_nice: unknown key"));
  }

  TEST_CASE("an optional section with every key commented out takes its defaults") {
    auto c = parseConfig(std::string(kMinimal) +
                         "lifecycle:\n  # enabled: false\ntransactions:\n  # gas_limit: 5\n");
    CHECK(c.lifecycle.enabled);
    CHECK(c.lifecycle.retentionBlocks == 100);
    CHECK(c.transactions.gasLimit == 0);
    CHECK(errorOf(std::string(kMinimal) + "transactions: 5\n")
              .starts_with("transactions: must be a mapping"));
  }

  TEST_CASE("every error names its key path") {
    std::string base = kMinimal;
    CHECK(errorOf(base + "extra: 1\n").rfind("extra: unknown key", 0) == 0);
    CHECK(errorOf(base + "log:\n  format: xml\n").rfind("log.format: must be logfmt or json", 0) == 0);
    CHECK(errorOf(base + "log:\n  level: loud\n").rfind("log.level:", 0) == 0);
    CHECK(errorOf(base + "admin:\n  listen: nowhere\n").rfind("admin.listen:", 0) == 0);
    CHECK(errorOf(base + "store:\n  tree_commit_interval_ms: 0\n")
              .rfind("store.tree_commit_interval_ms: must be greater than 0", 0) == 0);
    CHECK(errorOf(R"(
link: {bind: "tcp://0.0.0.0:7400", plaintext: true}
suppliers: [{key_file: k}]
chain: {fixture: f.json}
)").rfind("link.plaintext: plain text is allowed only on a loopback", 0) == 0);
    CHECK(errorOf(R"(
link: {bind: "tcp://127.0.0.1:7400"}
suppliers: [{key_file: k}]
chain: {fixture: f.json}
)").rfind("link.server_key_file: is required", 0) == 0);
    CHECK(errorOf(R"(
link: {bind: "tcp://127.0.0.1:7400", plaintext: true}
suppliers: []
chain: {fixture: f.json}
)").rfind("suppliers: is required", 0) == 0);
    CHECK(errorOf(R"(
link: {bind: "tcp://127.0.0.1:7400", plaintext: true}
suppliers: [{key_file: k}]
chain: {fixture: f.json, rpc_url: "http://x:1", chain_id: c}
)").rfind("chain: needs exactly one of rpc_url", 0) == 0);
    CHECK(errorOf(R"(
link: {bind: "tcp://127.0.0.1:7400", plaintext: true}
suppliers: [{key_file: k}]
chain: {rpc_url: "http://x:1"}
)").rfind("chain.chain_id: is required", 0) == 0);
    CHECK(errorOf(R"(
link: {bind: "tcp://127.0.0.1:7400", plaintext: true}
suppliers: [{key_file: k, color: red}]
chain: {fixture: f.json}
)").rfind("suppliers[0].color: unknown key", 0) == 0);
  }

  TEST_CASE("the node's WebSocket: derived, explicit, none, or refused with the reason") {
    auto subscription = [](const std::string& chain) {
      return parseConfig("link: {bind: \"tcp://127.0.0.1:7400\", plaintext: true}\n"
                         "suppliers: [{key_file: k}]\nchain: " + chain + "\n")
          .chain.websocketUrl;
    };
    CHECK(subscription("{rpc_url: \"http://127.0.0.1:26657/\", chain_id: c}") ==
          "ws://127.0.0.1:26657/websocket");
    CHECK(subscription("{rpc_url: \"http://n:1\", chain_id: c, websocket_url: "
                       "\"ws://m:2/ws\"}") == "ws://m:2/ws");
    CHECK(subscription("{rpc_url: \"http://n:1\", chain_id: c, websocket_url: none}").empty());
    // Nothing to derive from (TLS, a path): polling.
    CHECK(subscription("{rpc_url: \"https://n:443\", chain_id: c}").empty());
    CHECK(subscription("{rpc_url: \"http://n:1/rpc\", chain_id: c}").empty());
    std::string base = "link: {bind: \"tcp://127.0.0.1:7400\", plaintext: true}\n"
                       "suppliers: [{key_file: k}]\n";
    CHECK(errorOf(base + "chain: {rpc_url: \"http://n:1\", chain_id: c, websocket_url: "
                         "\"wss://n:1/websocket\"}\n")
              .rfind("chain.websocket_url: \"wss://n:1/websocket\" is not a ws:// URL", 0) == 0);
    CHECK(errorOf(base + "chain: {rpc_url: \"http://n:1\", chain_id: c, websocket_url: "
                         "\"ws://n/websocket\"}\n")
              .rfind("chain.websocket_url: \"ws://n/websocket\" has no host:port", 0) == 0);
    CHECK(errorOf(base + "chain: {fixture: f.json, websocket_url: \"ws://n:1/websocket\"}\n")
              .rfind("chain.websocket_url: is only used with chain.rpc_url", 0) == 0);
  }

  TEST_CASE("plain text on loopback with a static chain and JSON logs") {
    auto c = parseConfig(R"(
link: {bind: "tcp://127.0.0.1:0", plaintext: true}
suppliers: [{key_file: k}]
chain: {fixture: f.json, block_interval_ms: 250}
admin: {listen: "127.0.0.1:0"}
log: {format: json, level: debug}
)");
    CHECK(c.link.plaintext);
    CHECK(c.chain.fixture == "f.json");
    CHECK(c.chain.blockInterval.count() == 250);
    CHECK(c.admin.port == 0);
    CHECK(c.logFormat == pocket::util::LogFormat::json);
    CHECK(c.logLevel == pocket::util::LogLevel::debug);
  }

  TEST_CASE("json log lines carry every key with its unquoted value") {
    std::string json = pocket::util::logfmtToJson(
        "2026-01-01T00:00:00.000Z level=warn event=relay_rejected seq=4 reason=\"a \\\"b\\\" c\"");
    CHECK(json ==
          R"({"time":"2026-01-01T00:00:00.000Z","level":"warn","event":"relay_rejected","seq":"4","reason":"a \"b\" c"})");
  }
}
