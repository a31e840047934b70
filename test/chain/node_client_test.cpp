// NodeClient against a loopback fake node replaying replies in the shapes of CometBFT v0.38:
// every decoded field, the exact request encodings, and every failure a node can produce.

#include "common/chain/node_client.h"

#include <cstdio>

#include <doctest/doctest.h>

#include "common/crypto/sha256.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "test/chain/fake_node.h"
#include "test/vectors_path.h"

namespace pocket::chain {
namespace {

using test::FakeNode;
using test::FakeReply;
using test::RecordedRequest;

const char* kStatusResult = R"({
  "node_info":{
    "protocol_version":{"p2p":"8","block":"11","app":"0"},
    "id":"5576458aef205977e18fd50b274e9b5d9014525a",
    "listen_addr":"tcp://0.0.0.0:26656",
    "network":"pocket",
    "version":"0.38.19",
    "channels":"40202122233038606100",
    "moniker":"devnet",
    "other":{"tx_index":"on","rpc_address":"tcp://0.0.0.0:26657"}},
  "sync_info":{
    "latest_block_hash":"6051B98DB3A667DDE4A609DF4D1AE4870AB6D325126185ADE7CBD40CD0088D14",
    "latest_app_hash":"C1A57A4D7F1D5A4B8C3C2A7E2B1E0A34F0F6A1E4D5C2B7A8E9F0A1B2C3D4E5F6",
    "latest_block_height":"91",
    "latest_block_time":"2026-01-01T00:01:31Z",
    "earliest_block_hash":"CC414A03E6F4CC398890F0BAC4466EC0E25DE9FBB5C8BD81DA5FF7146C880E8B",
    "earliest_app_hash":"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    "earliest_block_height":"1",
    "earliest_block_time":"2026-01-01T00:00:00.5Z",
    "catching_up":false},
  "validator_info":{
    "address":"F1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
    "pub_key":{"type":"tendermint/PubKeyEd25519","value":"JK3j8wGDGw052XLwU9VkuXa+vT57ZwwnaY/CPtWZkdg="},
    "voting_power":"10"}})";

struct Harness {
  explicit Harness(FakeNode::Handler handler, int retries = 2)
      : node(std::move(handler)),
        log(std::fopen("/dev/null", "w")),
        sink(log),
        client(makeConfig(node.rpcUrl(), retries), metrics, sink) {}
  ~Harness() { std::fclose(log); }

  static NodeClientConfig makeConfig(const std::string& url, int retries) {
    NodeClientConfig config;
    config.rpcUrl = url;
    config.readRetries = retries;
    config.retryBackoffInitial = std::chrono::milliseconds(1);
    config.retryBackoffMax = std::chrono::milliseconds(2);
    return config;
  }

  FakeNode node;
  std::FILE* log;
  util::LogSink sink;
  util::MetricsRegistry metrics;
  NodeClient client;
};

// Answers every request with this result.
FakeNode::Handler always(std::string resultJson) {
  return [resultJson](const RecordedRequest& request) {
    return FakeReply::json(test::rpcResult(request.parsed["id"], resultJson));
  };
}

std::string hexUpper(util::ByteSpan bytes) {
  std::string hex = util::toHex(bytes);
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return hex;
}

TEST_CASE("status: the request is a POST / JSON-RPC 2.0 call and every field is decoded") {
  Harness h(always(kStatusResult));
  auto status = h.client.status();
  REQUIRE_MESSAGE(status.ok(), status.error().message);
  CHECK(status->nodeId == "5576458aef205977e18fd50b274e9b5d9014525a");
  CHECK(status->network == "pocket");
  CHECK(status->version == "0.38.19");
  CHECK(status->moniker == "devnet");
  CHECK(status->txIndex == "on");
  CHECK(hexUpper(status->latestBlockHash) ==
        "6051B98DB3A667DDE4A609DF4D1AE4870AB6D325126185ADE7CBD40CD0088D14");
  CHECK(status->latestAppHash.size() == 32);
  CHECK(status->latestBlockHeight == 91);
  CHECK(status->latestBlockTime.seconds == 1767225691);  // 2026-01-01T00:01:31Z
  CHECK(status->latestBlockTime.nanos == 0);
  CHECK(status->earliestBlockHeight == 1);
  CHECK(status->earliestBlockTime.nanos == 500000000);
  CHECK(hexUpper(status->earliestBlockHash) ==
        "CC414A03E6F4CC398890F0BAC4466EC0E25DE9FBB5C8BD81DA5FF7146C880E8B");
  CHECK_FALSE(status->catchingUp);

  auto requests = h.node.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/");
  CHECK(requests[0].parsed["jsonrpc"] == "2.0");
  CHECK(requests[0].parsed["method"] == "status");
  CHECK(requests[0].parsed["params"] == nlohmann::json::object());
}

// A `block` result built around a header of header-hash.json.
std::string blockResult(const nlohmann::json& header, const std::string& hashHex,
                        const std::string& txsJson) {
  nlohmann::json result = {
      {"block_id", {{"hash", hashHex}, {"parts", {{"total", 1}, {"hash", std::string(64, 'A')}}}}},
      {"block",
       {{"header", header},
        {"data", {{"txs", nlohmann::json::parse(txsJson)}}},
        {"evidence", {{"evidence", nlohmann::json::array()}}},
        {"last_commit",
         {{"height", "90"},
          {"round", 0},
          {"block_id", {{"hash", hashHex}, {"parts", {{"total", 1}, {"hash", hashHex}}}}},
          {"signatures", nlohmann::json::array()}}}}}};
  return result.dump();
}

TEST_CASE("block: height as a quoted string, latest without a height, header fields and hash") {
  auto vectors = test::loadVectors("cosmos/header-hash.json");
  for (const auto& vectorCase : vectors["cases"]) {
    CAPTURE(vectorCase["name"].get<std::string>());
    const auto& header = vectorCase["header_json"];
    std::string hash = vectorCase["hash"].get<std::string>();
    std::string hashUpper = hexUpper(*util::fromHex(hash));
    Harness h(always(blockResult(header, hashUpper, R"(["AQID","BAU="])")));

    auto latest = h.client.block();
    REQUIRE_MESSAGE(latest.ok(), latest.error().message);
    auto atHeight = h.client.block(91);
    REQUIRE(atHeight.ok());
    auto requests = h.node.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].parsed["method"] == "block");
    CHECK_FALSE(requests[0].parsed["params"].contains("height"));
    CHECK(requests[1].parsed["params"]["height"] == "91");

    const Block& block = *latest;
    CHECK(hexUpper(block.blockId.hash) == hashUpper);
    CHECK(block.blockId.partSetTotal == 1);
    CHECK(block.header.chainId == header["chain_id"].get<std::string>());
    CHECK(block.header.height == std::stoll(header["height"].get<std::string>()));
    CHECK(hexUpper(block.header.proposerAddress) == header["proposer_address"].get<std::string>());
    CHECK(hexUpper(block.header.lastBlockId.hash) ==
          header["last_block_id"]["hash"].get<std::string>());
    // The decoded header hashes to the block id: every field was read exactly.
    auto recomputed = protocol::headerHash(block.header);
    REQUIRE(recomputed.ok());
    CHECK(hexUpper(*recomputed) == hashUpper);
    REQUIRE(block.txs.size() == 2);
    CHECK(block.txs[0] == util::Bytes{1, 2, 3});
    CHECK(block.txs[1] == util::Bytes{4, 5});
    CHECK(block.lastCommitHeight == 90);
  }
}

TEST_CASE("block: an empty block has txs [] and a missing version.app is 0") {
  auto vectors = test::loadVectors("cosmos/header-hash.json");
  const auto& header = vectors["cases"][2]["header_json"];
  Harness h(always(blockResult(header, std::string(64, 'B'), "[]")));
  auto block = h.client.block(91);
  REQUIRE_MESSAGE(block.ok(), block.error().message);
  CHECK(block->txs.empty());
  CHECK(block->header.versionApp == 0);
}

TEST_CASE("abci_query: data as hex, height as a string, prove false; response decoded") {
  auto vectors = test::loadVectors("cosmos/abci-query.json");
  std::string requestHex, responseBase64;
  for (const auto& entry : vectors["entries"]) {
    if (entry["name"] == "get_session_request") requestHex = entry["bytes_hex"];
    if (entry["name"] == "get_session_response") responseBase64 = entry["base64"];
  }
  REQUIRE(!requestHex.empty());
  std::string result =
      R"({"response":{"code":0,"log":"","info":"","index":"0","key":null,"value":")" +
      responseBase64 + R"(","proofOps":null,"height":"100","codespace":""}})";
  Harness h(always(result));
  auto query =
      protocol::getSessionQuery("pokt1e8yx3wwyy09l2xqlfgmjze75lncem7u3756aj8", "anvil", 95);
  auto response = h.client.abciQuery(query, 0);
  REQUIRE_MESSAGE(response.ok(), response.error().message);
  CHECK(response->code == 0);
  CHECK(response->height == 100);
  CHECK(util::toBase64(response->value) == responseBase64);
  auto requests = h.node.requests();
  REQUIRE(requests.size() == 1);
  const auto& params = requests[0].parsed["params"];
  CHECK(requests[0].parsed["method"] == "abci_query");
  CHECK(params["path"] == "/pocket.session.Query/GetSession");
  CHECK(params["data"] == requestHex);
  CHECK(params["height"] == "0");
  CHECK(params["prove"] == false);

  auto atHeight = h.client.abciQuery(query, 95);
  REQUIRE(atHeight.ok());
  CHECK(h.node.requests()[1].parsed["params"]["height"] == "95");
}

TEST_CASE("abci_query: an ABCI error is a successful reply carrying code, codespace and log") {
  Harness h(always(
      R"({"response":{"code":6,"log":"rpc error: code = Internal desc = block height 120 is ahead of the last committed block height 100: error during session hydration: unknown request","info":"","index":"0","key":null,"value":null,"proofOps":null,"height":"100","codespace":"sdk"}})"));
  auto response = h.client.abciQuery(protocol::sharedParamsQuery(), 0);
  REQUIRE(response.ok());
  CHECK(response->code == 6);
  CHECK(response->codespace == "sdk");
  CHECK(response->log.find("is ahead of the last committed block height") != std::string::npos);
  CHECK(response->value.empty());
}

TEST_CASE("JSON-RPC error objects: named codes for what callers act on, never retried") {
  struct Case {
    std::string data;
    std::string_view code;
  };
  const Case cases[] = {
      {"height 120 must be less than or equal to the current blockchain height 100",
       kErrHeightUnavailable},
      {"height 3 is not available, lowest height is 1000", kErrHeightUnavailable},
      {"height must be greater than 0, but got 0", kErrHeightUnavailable},
      {"tx (93C020A4A855CD912F09EBFA6C025ABB6441ECDE9683F28A2DDE794C1791C062) not found",
       kErrTxNotFound},
      {"transaction indexing is disabled", kErrRpc},
  };
  for (const auto& c : cases) {
    CAPTURE(c.data);
    Harness h([&](const RecordedRequest& request) {
      return FakeReply::json(
          test::rpcError(request.parsed["id"], -32603, "Internal error", c.data));
    });
    auto block = h.client.block(120);
    REQUIRE_FALSE(block.ok());
    CHECK(block.error().code == c.code);
    CHECK(block.error().message.find("code=-32603") != std::string::npos);
    CHECK(block.error().message.find("Internal error") != std::string::npos);
    CHECK(h.node.requestCount("block") == 1);
  }
}

TEST_CASE("malformed replies name the JSON path, and reads are retried") {
  struct Case {
    std::string body;
    std::string path;
  };
  std::string bareNumber = kStatusResult;
  bareNumber.replace(bareNumber.find(R"("latest_block_height":"91")"),
                     std::string(R"("latest_block_height":"91")").size(),
                     R"("latest_block_height":91)");
  std::string lowercaseBool = kStatusResult;
  lowercaseBool.replace(lowercaseBool.find(R"("catching_up":false)"),
                        std::string(R"("catching_up":false)").size(), R"("catching_up":"false")");
  std::string badHex = kStatusResult;
  badHex.replace(badHex.find("6051B98D"), 8, "6051B98Z");
  std::string badTime = kStatusResult;
  badTime.replace(badTime.find("2026-01-01T00:01:31Z"), 20, "2026-01-01 00:01:31 ");
  const Case cases[] = {
      {R"({"jsonrpc":"2.0","id":1,"result":)" + bareNumber + "}",
       "result.sync_info.latest_block_height"},
      {R"({"jsonrpc":"2.0","id":1,"result":)" + lowercaseBool + "}",
       "result.sync_info.catching_up"},
      {R"({"jsonrpc":"2.0","id":1,"result":)" + badHex + "}", "result.sync_info.latest_block_hash"},
      {R"({"jsonrpc":"2.0","id":1,"result":)" + badTime + "}",
       "result.sync_info.latest_block_time"},
      {R"({"jsonrpc":"2.0","id":1,"result":{"node_info":{}}})", "result.node_info.id"},
      {R"({"jsonrpc":"2.0","id":1,"result":{"node_info":{"id":"x","network":"pocket",)", "$"},
      {R"({"jsonrpc":"2.0","id":1})", "result"},
      {R"({"id":1,"result":{}})", "jsonrpc"},
      {R"([1,2,3])", "$"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body.substr(0, 80));
    Harness h([&](const RecordedRequest&) { return FakeReply::json(c.body); }, /*retries=*/2);
    auto status = h.client.status();
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == kErrMalformed);
    CHECK_MESSAGE(status.error().message.find(c.path + ":") != std::string::npos,
                  status.error().message);
    CHECK(h.node.requestCount("status") == 3);  // 1 + 2 retries
  }
}

TEST_CASE("a failed read that succeeds on retry is delivered once, and the retry is counted") {
  int calls = 0;
  Harness h([&](const RecordedRequest& request) {
    if (++calls == 1) return FakeReply::close();
    return FakeReply::json(test::rpcResult(request.parsed["id"], kStatusResult));
  });
  auto status = h.client.status();
  REQUIRE_MESSAGE(status.ok(), status.error().message);
  CHECK(status->latestBlockHeight == 91);
  CHECK(h.node.requestCount("status") == 2);
  CHECK(h.metrics.render().find(
            "pocket_chain_rpc_retries_total{method=\"status\",reason=\"transport\"} 1") !=
        std::string::npos);
}

TEST_CASE("a hung node is a timeout after the per-call deadline, not a hang") {
  Harness h([](const RecordedRequest&) { return FakeReply::hang(); }, /*retries=*/0);
  CallOptions options;
  options.timeout = std::chrono::milliseconds(300);
  auto status = h.client.status(options);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == kErrTimeout);
}

TEST_CASE("connection refused is a transport error") {
  std::string url;
  {
    FakeNode closed([](const RecordedRequest&) { return FakeReply::close(); });
    url = closed.rpcUrl();
  }
  std::FILE* devnull = std::fopen("/dev/null", "w");
  util::LogSink sink(devnull);
  util::MetricsRegistry metrics;
  NodeClientConfig config;
  config.rpcUrl = url;
  config.readRetries = 1;
  config.retryBackoffInitial = std::chrono::milliseconds(1);
  NodeClient client(config, metrics, sink);
  auto status = client.status();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == kErrTransport);
  CHECK(metrics.render().find(
            "pocket_chain_rpc_calls_total{method=\"status\",outcome=\"transport\"} 2") !=
        std::string::npos);
  std::fclose(devnull);
}

TEST_CASE("an HTTP error page instead of JSON-RPC is a transport error naming the status") {
  Harness h([](const RecordedRequest&) { return FakeReply::http(503, "<html>busy</html>"); }, 0);
  auto status = h.client.status();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == kErrTransport);
  CHECK(status.error().message.find("HTTP 503") != std::string::npos);
}

TEST_CASE("broadcast_tx_sync: tx as base64, CheckTx verdicts decoded, never retried") {
  util::Bytes tx(2000, 0x5a);  // larger than curl's Expect threshold
  SUBCASE("accepted and rejected by CheckTx") {
    Harness h(always(
        R"({"code":32,"data":"","log":"account sequence mismatch, expected 4, got 3: incorrect account sequence","codespace":"sdk","hash":"93C020A4A855CD912F09EBFA6C025ABB6441ECDE9683F28A2DDE794C1791C062"})"));
    auto result = h.client.broadcastTxSync(tx);
    REQUIRE_MESSAGE(result.ok(), result.error().message);
    CHECK(result->code == 32);
    CHECK(result->codespace == "sdk");
    CHECK(result->log ==
          "account sequence mismatch, expected 4, got 3: incorrect account sequence");
    CHECK(result->data.empty());
    CHECK(hexUpper(result->hash) ==
          "93C020A4A855CD912F09EBFA6C025ABB6441ECDE9683F28A2DDE794C1791C062");
    auto requests = h.node.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].parsed["method"] == "broadcast_tx_sync");
    CHECK(requests[0].parsed["params"]["tx"] == util::toBase64(tx));
  }
  SUBCASE("already in the cache") {
    Harness h([](const RecordedRequest& request) {
      return FakeReply::json(test::rpcError(request.parsed["id"], -32603, "Internal error",
                                            "tx already exists in cache"));
    });
    auto result = h.client.broadcastTxSync(tx);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == kErrTxInCache);
  }
  SUBCASE("a lost reply is not retried") {
    Harness h([](const RecordedRequest&) { return FakeReply::close(); }, /*retries=*/5);
    auto result = h.client.broadcastTxSync(tx);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == kErrTransport);
    CHECK(h.node.requestCount("broadcast_tx_sync") == 1);
  }
}

TEST_CASE("tx: hash as base64 of the raw bytes; result, events and tx decoded") {
  Harness h(always(R"({
  "hash":"93C020A4A855CD912F09EBFA6C025ABB6441ECDE9683F28A2DDE794C1791C062",
  "height":"103","index":0,
  "tx_result":{"code":0,"data":"EiYKJC9wb2NrZXQucHJvb2YuTXNnQ3JlYXRlQ2xhaW1SZXNwb25zZQ==","log":"","info":"",
    "gas_wanted":"300000","gas_used":"114035",
    "events":[
      {"type":"message","attributes":[{"key":"action","value":"/pocket.proof.MsgCreateClaim","index":true},{"key":"sender","value":"pokt13x4cdvjayy0a6lmn7dd5e9ha03u0kdhmf5dyvc","index":true}]},
      {"type":"pocket.proof.EventClaimCreated","attributes":[{"key":"num_relays","value":"\"42\"","index":true},{"key":"msg_index","value":"0"}]}],
    "codespace":""},
  "tx":"AQIDBA=="})"));
  auto hash = util::fromHex("93C020A4A855CD912F09EBFA6C025ABB6441ECDE9683F28A2DDE794C1791C062");
  auto result = h.client.tx(*hash);
  REQUIRE_MESSAGE(result.ok(), result.error().message);
  CHECK(h.node.requests()[0].parsed["params"]["hash"] ==
        "k8AgpKhVzZEvCev6bAJau2RB7N6Wg/KKLd55TBeRwGI=");
  CHECK(h.node.requests()[0].parsed["params"]["prove"] == false);
  CHECK(result->hash == *hash);
  CHECK(result->height == 103);
  CHECK(result->index == 0);
  CHECK(result->result.code == 0);
  CHECK(result->result.gasWanted == 300000);
  CHECK(result->result.gasUsed == 114035);
  CHECK(result->result.data.size() == 40);
  REQUIRE(result->result.events.size() == 2);
  CHECK(result->result.events[0].type == "message");
  CHECK(result->result.events[0].attributes[0].key == "action");
  CHECK(result->result.events[0].attributes[0].value == "/pocket.proof.MsgCreateClaim");
  CHECK(result->result.events[0].attributes[0].index);
  CHECK(result->result.events[1].attributes[0].value == "\"42\"");
  CHECK_FALSE(result->result.events[1].attributes[1].index);
  CHECK(result->tx == util::Bytes{1, 2, 3, 4});

  CHECK(h.client.tx(util::Bytes(31)).error().code == kErrBadArgument);
}

TEST_CASE("block_results: tx results and finalize-block events") {
  Harness h(always(R"({"height":"103",
    "txs_results":[{"code":5,"data":null,"log":"insufficient funds","info":"","gas_wanted":"1","gas_used":"2","events":[],"codespace":"sdk"}],
    "finalize_block_events":[{"type":"pocket.tokenomics.EventClaimSettled","attributes":[{"key":"num_relays","value":"\"42\"","index":true},{"key":"mode","value":"EndBlock","index":true}]}],
    "validator_updates":[],"consensus_param_updates":null,"app_hash":"AQI="})"));
  auto result = h.client.blockResults(103);
  REQUIRE_MESSAGE(result.ok(), result.error().message);
  CHECK(h.node.requests()[0].parsed["params"]["height"] == "103");
  CHECK(result->height == 103);
  REQUIRE(result->txResults.size() == 1);
  CHECK(result->txResults[0].code == 5);
  CHECK(result->txResults[0].codespace == "sdk");
  CHECK(result->txResults[0].log == "insufficient funds");
  REQUIRE(result->finalizeBlockEvents.size() == 1);
  CHECK(result->finalizeBlockEvents[0].type == "pocket.tokenomics.EventClaimSettled");
  CHECK(result->finalizeBlockEvents[0].attributes[1].value == "EndBlock");
  CHECK(result->appHash == util::Bytes{1, 2});
}

TEST_CASE("bad arguments are refused before anything is sent") {
  Harness h(always("{}"));
  CHECK(h.client.block(-1).error().code == kErrBadArgument);
  CHECK(h.client.abciQuery("no-slash", {}, 0).error().code == kErrBadArgument);
  CHECK(h.client.abciQuery("/a/b", {}, -5).error().code == kErrBadArgument);
  CHECK(h.client.broadcastTxSync({}).error().code == kErrBadArgument);
  CHECK(h.node.requests().empty());
}

TEST_CASE("stop() ends a call stuck on a hung node and refuses later calls") {
  Harness h([](const RecordedRequest&) { return FakeReply::hang(); }, 0);
  std::thread stopper([&] {
    // Stop once the request is at the node (a condition, not a sleep-then-assert).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (h.node.requestCount("status") == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    h.client.stop();
  });
  CallOptions options;
  options.timeout = std::chrono::seconds(60);
  auto status = h.client.status(options);
  stopper.join();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == kErrStopped);
  CHECK(h.client.status().error().code == kErrStopped);
}

TEST_CASE("configuration errors name the key") {
  NodeClientConfig config;
  config.rpcUrl = "tcp://127.0.0.1:26657";
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("rpc_url"), std::invalid_argument);
  config.rpcUrl = "http://127.0.0.1:26657";
  config.callTimeout = std::chrono::milliseconds(0);
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("call_timeout"), std::invalid_argument);
}

}  // namespace
}  // namespace pocket::chain
