// pocket-devnet end to end: the real binary on 127.0.0.1, driven through its CometBFT RPC as the
// session manager and Cosmos tooling drive a poktroll node. RPC shapes and errors, queries, the
// ante rules with crafted transactions (code, codespace, log), WebSocket events, and a claim and
// proof built with the project's own relay, SMST and transaction code, validated and settled.

#include <fstream>
#include <map>

#include <doctest.h>

#include "common/chain/json_reader.h"
#include "common/protocol/block_header.h"
#include "common/protocol/session_id.h"
#include "test/devnet/ante.h"
#include "test/devnet/devnet_client.h"
#include "test/devnet/node.h"
#include "test/devnet/rpc_json.h"
#include "test/devnet/state/chain_fixture.h"
#include "test/support/promtool.h"

namespace pocket::devnet::test {
namespace {

const std::string kBinary = POCKET_DEVNET_BINARY;

util::Bytes hexOf(const json& value) {
  return *util::fromHex(value.get<std::string>());
}

// The header as the session manager's chain client decodes it.
protocol::BlockHeader headerFromJson(const json& j) {
  auto header = chain::json::header(chain::json::At{j, "block.header"});
  REQUIRE_MESSAGE(header.ok(), header.error().message);
  return *header;
}

const Event* unusedFindEvent = nullptr;  // chain_fixture's helpers are header-only

bool hasEvent(const json& events, const std::string& type, const std::string& key,
              const std::string& value) {
  for (const auto& event : events) {
    if (event["type"] != type) continue;
    for (const auto& attribute : event["attributes"]) {
      if (attribute["key"] == key && attribute["value"] == value) return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("RPC: status, blocks chained by last_block_id with block_id.hash = the header hash") {
  // 50 ms blocks, the shortest block time tests use: 20 blocks, each chained to the one before
  // and later in time.
  constexpr int kBlocks = 20;
  DevnetProcess devnet(kBinary, {"--seed", "rpc-shapes"}, {"--block-time", "50ms"});
  devnet.waitForHeight(kBlocks + 1);

  json status = devnet.call("status");
  CHECK(status["node_info"]["network"] == "pocket");
  CHECK(status["node_info"]["other"]["tx_index"] == "on");
  CHECK(status["sync_info"]["catching_up"] == false);
  CHECK(status["sync_info"]["earliest_block_height"] == "1");
  CHECK(status["sync_info"]["latest_block_height"].is_string());

  json previous;
  for (int h = 1; h <= kBlocks; ++h) {
    CAPTURE(h);
    json block = devnet.call("block", {{"height", std::to_string(h)}});
    const json& header = block["block"]["header"];
    CHECK(header["height"] == std::to_string(h));
    auto hash = protocol::headerHash(headerFromJson(header));
    REQUIRE(hash.ok());
    CHECK(block["block_id"]["hash"] == upperHex(*hash));
    CHECK(block["block"]["data"]["txs"] == json::array());
    CHECK(block["block"]["evidence"]["evidence"] == json::array());
    if (h > 1) {
      CHECK(header["last_block_id"] == previous["block_id"]);
      CHECK(block["block"]["last_commit"]["height"] == std::to_string(h - 1));
      auto time = protocol::parseRfc3339(header["time"].get<std::string>());
      auto before = protocol::parseRfc3339(previous["block"]["header"]["time"].get<std::string>());
      REQUIRE(time.ok());
      REQUIRE(before.ok());
      CHECK(std::pair(time->seconds, time->nanos) > std::pair(before->seconds, before->nanos));
    }
    previous = block;
  }
  json latest = devnet.call("block", json::object());
  CHECK(std::stoll(latest["block"]["header"]["height"].get<std::string>()) >= kBlocks + 1);

  json chain = devnet.call("blockchain", {{"minHeight", "1"}, {"maxHeight", "3"}});
  REQUIRE(chain["block_metas"].size() == 3);
  CHECK(chain["block_metas"][0]["header"]["height"] == "3");
  CHECK(chain["block_metas"][2]["block_id"]["hash"] ==
        devnet.call("block", {{"height", "1"}})["block_id"]["hash"]);
  CHECK(devnet.call("header", {{"height", "2"}})["header"]["height"] == "2");

  json info = devnet.call("abci_info")["response"];
  CHECK(info["data"] == "pocket");
  CHECK(info["version"] == "v0.1.35");
  CHECK(info["last_block_height"].is_string());
  CHECK_FALSE(info.contains("app_version"));

  json results = devnet.call("block_results", {{"height", "2"}});
  CHECK(results["height"] == "2");
  CHECK(results["txs_results"].is_null());
}

TEST_CASE("RPC: strict parameters and the real node's errors") {
  DevnetProcess devnet(kBinary, {"--seed", "rpc-errors"}, {"--block-time", "100ms"});
  devnet.waitForHeight(2);

  json bare = devnet.callError("block", {{"height", 2}});
  CHECK(bare["code"] == -32602);
  CHECK(bare["message"] == "Invalid params");
  CHECK(bare["data"] ==
        "error converting json params to arguments: invalid 64-bit integer encoding \"2\", "
        "expected string");
  json zero = devnet.callError("block", {{"height", "0"}});
  CHECK(zero["code"] == -32603);
  CHECK(zero["message"] == "Internal error");
  CHECK(zero["data"] == "height must be greater than 0, but got 0");
  json future = devnet.callError("block", {{"height", "1000000"}});
  CHECK(future["data"].get<std::string>().starts_with(
      "height 1000000 must be less than or equal to the current blockchain height "));
  json hexData = devnet.callError("abci_query", {{"path", "/x"}, {"data", "0xzz"}});
  CHECK(hexData["code"] == -32602);
  json unknown = devnet.callError("no_such_method");
  CHECK(unknown["code"] == -32601);
  CHECK(unknown["message"] == "Method not found");
  CHECK(devnet.callError("subscribe", {{"query", "tm.event='NewBlock'"}})["code"] == -32601);
  json notFound = devnet.callError("tx", {{"hash", util::toBase64(util::Bytes(32, 0xab))}});
  CHECK(notFound["data"] ==
        "tx (ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB) not found");

  // URI form: bare digits, id -1; a bad value is HTTP 500 with -32602.
  HttpReply uri = devnet.get("/block?height=1");
  CHECK(uri.status == 200);
  CHECK(uri.parsed()["id"] == -1);
  CHECK(uri.parsed()["result"]["block"]["header"]["height"] == "1");
  HttpReply uriBad = devnet.get("/block?height=abc");
  CHECK(uriBad.status == 500);
  CHECK(uriBad.parsed()["error"]["code"] == -32602);
  CHECK(devnet.get("/abci_query?path=%22/cosmos.bank.v1beta1.Query/Balance%22&data=0x0a00")
            .parsed()["result"]["response"]["code"]
            .is_number());
  CHECK(devnet.get("/subscribe?query=x").status == 404);

  // Batches: an array of replies, ids echoed; one reply alone is an object; notifications get none.
  HttpReply batch =
      devnet.post(json::array({{{"jsonrpc", "2.0"}, {"id", "a"}, {"method", "health"}},
                               {{"jsonrpc", "2.0"}, {"id", 7}, {"method", "abci_info"}}}));
  json replies = batch.parsed();
  REQUIRE(replies.is_array());
  REQUIRE(replies.size() == 2);
  CHECK(replies[0]["id"] == "a");
  CHECK(replies[1]["id"] == 7);
  CHECK(devnet.post(json::array({{{"jsonrpc", "2.0"}, {"id", 3}, {"method", "health"}}}))
            .parsed()["id"] == 3);
  HttpReply notification = devnet.post({{"jsonrpc", "2.0"}, {"method", "health"}});
  CHECK(notification.status == 200);
  CHECK(notification.body.empty());
  json tooMany = json::array();
  for (int i = 0; i < 11; ++i)
    tooMany.push_back({{"jsonrpc", "2.0"}, {"id", i}, {"method", "health"}});
  HttpReply overBatch = devnet.post(tooMany);
  CHECK(overBatch.status == 400);
  CHECK(overBatch.parsed()["error"]["code"] == -32600);

  HttpReply parse = httpCall(devnet.port(), http::verb::post, "/", "{not json");
  CHECK(parse.status == 500);
  CHECK(parse.parsed()["error"]["code"] == -32700);
  CHECK(httpCall(devnet.port(), http::verb::post, "/nope", "{}").status == 404);
  HttpReply huge = httpCall(devnet.port(), http::verb::post, "/", std::string(1000001, ' '));
  CHECK(huge.parsed()["error"]["code"] == -32600);
}

TEST_CASE("abci_query: accounts, balances, sessions consistent with block hashes, simulation") {
  DevnetProcess devnet(kBinary, {"--seed", "queries"}, {"--block-time", "100ms"});
  devnet.waitForHeight(3);
  std::string faucet = devnet.key("faucet").publicKey().address();
  protocol::AccountInfo account = devnet.account(faucet);
  CHECK(account.accountNumber == 0);
  CHECK(account.sequence == 0);
  CHECK(account.publicKey.empty());
  CHECK(devnet.balance(faucet) == 1000000000000000);

  // `init` gives applications and gateways their public keys (rings are built from them before
  // those accounts ever sign); supplier accounts get theirs from their first transaction.
  for (const char* name : {"application-1", "gateway-1"}) {
    CAPTURE(name);
    const crypto::PublicKey expected = devnet.key(name).publicKey();
    protocol::AccountInfo known = devnet.account(expected.address());
    CHECK(known.publicKey ==
          util::Bytes(expected.compressed().begin(), expected.compressed().end()));
    CHECK(known.sequence == 0);
  }
  CHECK(devnet.account(devnet.key("supplier-1-operator").publicKey().address()).publicKey.empty());

  std::string nobody = crypto::PrivateKey::fromSecret(util::asBytes(std::string_view("nobody")))
                           .publicKey()
                           .address();
  json missing = devnet.query(protocol::accountQuery(nobody));
  CHECK(missing["code"] == 22);
  CHECK(missing["codespace"] == "sdk");
  CHECK(missing["log"] ==
        "rpc error: code = NotFound desc = account " + nobody + " not found: key not found");
  CHECK(missing["value"].is_null());
  json ahead = devnet.query(protocol::accountQuery(faucet), 1000000);
  CHECK(ahead["code"] == 26);
  CHECK(ahead["log"] ==
        "cannot query with height in the future; please provide a valid height: invalid height");

  // GetSession: the session id is the one derived from the block hash at the session start.
  std::string app = devnet.key("application-1").publicKey().address();
  std::string operatorAddress = devnet.key("supplier-1-operator").publicKey().address();
  json response = devnet.query(protocol::getSessionQuery(app, "anvil", 2));
  REQUIRE_MESSAGE(response["code"] == 0, response.dump());
  auto session =
      protocol::decodeGetSessionResponse(*util::fromBase64(response["value"].get<std::string>()));
  REQUIRE(session.ok());
  CHECK(session->header().session_start_block_height() == 1);
  CHECK(session->header().session_end_block_height() == 10);
  REQUIRE(session->suppliers_size() == 1);
  CHECK(session->suppliers(0).operator_address() == operatorAddress);
  util::Bytes startHash = hexOf(devnet.call("block", {{"height", "1"}})["block_id"]["hash"]);
  auto expectedId = protocol::sessionId(startHash, "anvil", app, 1);
  REQUIRE(expectedId.ok());
  CHECK(session->session_id() == expectedId->id);

  // Simulation: protobuf and JSON forms, constant gas, sequence checked.
  crypto::PrivateKey faucetKey = devnet.key("faucet");
  protocol::TxOptions options;
  options.chainId = "pocket";
  crypto::PublicKey faucetPublicKey = faucetKey.publicKey();
  options.signerPublicKey.assign(faucetPublicKey.compressed().begin(),
                                 faucetPublicKey.compressed().end());
  options.fee.gasLimit = 200000;
  std::vector<protocol::TxMessage> messages{msgSend(faucet, nobody, 5)};
  auto unsignedTx = protocol::buildUnsignedTx(messages, options);
  REQUIRE(unsignedTx.ok());
  json simulated = devnet.query(protocol::simulateQuery(protocol::simulationTxRaw(*unsignedTx)));
  REQUIRE_MESSAGE(simulated["code"] == 0, simulated.dump());
  auto gas =
      protocol::decodeSimulateResponse(*util::fromBase64(simulated["value"].get<std::string>()));
  REQUIRE(gas.ok());
  CHECK(gas->gasUsed == devnet::kGasPerTx + devnet::kGasPerMessage);
  json appSimulated =
      devnet.query(protocol::appSimulateQuery(protocol::simulationTxRaw(*unsignedTx)));
  REQUIRE(appSimulated["code"] == 0);
  auto appGas = protocol::decodeAppSimulateResponse(
      *util::fromBase64(appSimulated["value"].get<std::string>()));
  REQUIRE(appGas.ok());
  CHECK(appGas->gasUsed == gas->gasUsed);
  options.sequence = 4;
  auto wrongSequence = protocol::buildUnsignedTx(messages, options);
  json failed = devnet.query(protocol::appSimulateQuery(protocol::simulationTxRaw(*wrongSequence)));
  CHECK(failed["code"] == 32);
  CHECK(failed["log"] ==
        "failed to simulate tx: account sequence mismatch, expected 0, got 4: incorrect account "
        "sequence");
  json failedGrpc =
      devnet.query(protocol::simulateQuery(protocol::simulationTxRaw(*wrongSequence)));
  CHECK(failedGrpc["code"] == 6);

  // The state document.
  json state = devnet.state();
  CHECK(state["chain_id"] == "pocket");
  CHECK(state["height"].get<std::int64_t>() >= 3);
  CHECK(state["claims"].is_array());

  HttpReply metrics = devnet.get("/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("devnet_blocks_total") != std::string::npos);
  auto verdict = pocket::testing::promtoolCheckMetrics(metrics.body, devnet.dir() + "/metrics.txt");
  INFO("promtool says:\n" << verdict.complaints);
  CHECK(verdict.clean());
}

TEST_CASE("transactions: the ante rules, each with a crafted bad transaction") {
  // One-hour blocks: nothing is committed during the test, so every sequence comes from the
  // check state (committed 0 + txs waiting in the mempool).
  DevnetProcess devnet(kBinary, {"--seed", "ante"}, {"--block-time", "1h"},
                       [](std::string genesis) {
                         auto at = genesis.find("min_gas_price: \"0.000001\"");
                         return genesis.replace(at, 25, "min_gas_price: \"0.01\"   ");
                       });
  crypto::PrivateKey faucet = devnet.key("faucet");
  std::string from = faucet.publicKey().address();
  std::string to = devnet.key("gateway-1").publicKey().address();
  auto send = [&](SignOptions sign) {
    return signMessages(devnet, faucet, {msgSend(from, to, 10)}, sign);
  };
  SignOptions base;
  base.fee = 2000;  // 200000 gas × 0.01

  protocol::SignedTx first = send(base);
  json accepted = devnet.broadcast(first.txRaw);
  CHECK(accepted["code"] == 0);
  CHECK(accepted["hash"] == first.hash);
  CHECK(accepted["codespace"] == "");

  json duplicate = devnet.broadcast(first.txRaw);
  CHECK(duplicate["code"] == -32603);
  CHECK(duplicate["data"] == "tx already exists in cache");

  SignOptions second = base;
  second.sequence = 1;
  CHECK(devnet.broadcast(send(second).txRaw)["code"] == 0);  // check state counts the mempool tx

  SignOptions stale = base;
  stale.sequence = 1;
  stale.memo = "again";
  json staleReply = devnet.broadcast(send(stale).txRaw);
  CHECK(staleReply["code"] == 32);
  CHECK(staleReply["codespace"] == "sdk");
  CHECK(staleReply["log"] ==
        "account sequence mismatch, expected 2, got 1: incorrect account sequence");

  SignOptions future = base;
  future.sequence = 7;
  json futureReply = devnet.broadcast(send(future).txRaw);
  CHECK(futureReply["code"] == 32);
  CHECK(futureReply["codespace"] == "sdk");
  CHECK(futureReply["log"] ==
        "account sequence mismatch, expected 2, got 7: incorrect account sequence");

  const std::string badSignatureLog =
      "signature verification failed; please verify account number (0) and chain-id (pocket): "
      "(unable to verify single signer signature): unauthorized";
  SignOptions otherChain = base;
  otherChain.sequence = 2;
  otherChain.chainId = "pocket-beta";
  json chainReply = devnet.broadcast(send(otherChain).txRaw);
  CHECK(chainReply["code"] == 4);
  CHECK(chainReply["codespace"] == "sdk");
  CHECK(chainReply["log"] == badSignatureLog);

  SignOptions otherAccount = base;
  otherAccount.sequence = 2;
  otherAccount.accountNumber = 5;
  json accountReply = devnet.broadcast(send(otherAccount).txRaw);
  CHECK(accountReply["code"] == 4);
  CHECK(accountReply["codespace"] == "sdk");
  CHECK(accountReply["log"] == badSignatureLog);

  SignOptions good = base;
  good.sequence = 2;
  protocol::SignedTx tampered = send(good);
  tampered.signature[10] ^= 0x40;
  std::vector<util::Bytes> tamperedSignatures{tampered.signature};
  util::Bytes tamperedRaw =
      protocol::encodeTxRaw(tampered.bodyBytes, tampered.authInfoBytes, tamperedSignatures);
  json signatureReply = devnet.broadcast(tamperedRaw);
  CHECK(signatureReply["code"] == 4);
  CHECK(signatureReply["codespace"] == "sdk");
  CHECK(signatureReply["log"] == badSignatureLog);

  SignOptions cheap = good;
  cheap.fee = 1999;
  json feeReply = devnet.broadcast(send(cheap).txRaw);
  CHECK(feeReply["code"] == 13);
  CHECK(feeReply["codespace"] == "sdk");
  CHECK(feeReply["log"] ==
        "insufficient fees; got: 1999upokt required: 2000upokt: insufficient fee");

  // The gateway holds 1,000,000,000 upokt.
  crypto::PrivateKey gateway = devnet.key("gateway-1");
  SignOptions rich;
  rich.fee = 2000000000;
  json fundsReply =
      devnet.broadcast(signMessages(devnet, gateway, {msgSend(to, from, 1)}, rich).txRaw);
  CHECK(fundsReply["code"] == 5);
  CHECK(fundsReply["codespace"] == "sdk");
  CHECK(fundsReply["log"] ==
        "spendable balance 1000000000upokt is smaller than 2000000000upokt: insufficient funds: "
        "insufficient funds");

  json garbage = devnet.broadcast(util::Bytes{0x0a, 0xff, 0x01});
  CHECK(garbage["code"] == 2);
  CHECK(garbage["codespace"] == "sdk");

  // Rejected txs consumed nothing: the next valid tx is still sequence 2.
  CHECK(devnet.broadcast(send(good).txRaw)["code"] == 0);
  CHECK(devnet.call("num_unconfirmed_txs")["n_txs"] == "3");
  // Every rejection is counted by stage and code.
  std::string metrics = devnet.get("/metrics").body;
  CHECK(metrics.find("devnet_txs_rejected_total{stage=\"check\",code=\"sdk/32\"} 2") !=
        std::string::npos);
  CHECK(metrics.find("devnet_txs_rejected_total{stage=\"mempool\",code=\"duplicate\"} 1") !=
        std::string::npos);
}

TEST_CASE(
    "transactions land in blocks: tx, tx_search, block_results, WebSocket events, failed txs "
    "consume fee and sequence") {
  DevnetProcess devnet(kBinary, {"--seed", "inclusion"}, {"--block-time", "100ms"});
  devnet.waitForHeight(2);
  crypto::PrivateKey faucet = devnet.key("faucet");
  std::string from = faucet.publicKey().address();
  std::string to = crypto::PrivateKey::fromSecret(util::asBytes(std::string_view("recipient")))
                       .publicKey()
                       .address();

  WsClient ws(devnet.port());
  ws.send({{"jsonrpc", "2.0"},
           {"id", 5},
           {"method", "subscribe"},
           {"params", {{"query", "tm.event='NewBlockHeader'"}}}});
  auto ack = ws.read();
  REQUIRE(ack.has_value());
  CHECK((*ack)["id"] == 5);
  CHECK((*ack)["result"] == json::object());
  auto header = ws.readUntil(
      [](const json& m) { return m.contains("result") && m["result"].contains("data"); });
  REQUIRE(header.has_value());
  CHECK((*header)["id"] == 5);
  CHECK((*header)["result"]["data"]["type"] == "tendermint/event/NewBlockHeader");
  CHECK((*header)["result"]["query"] == "tm.event='NewBlockHeader'");
  ws.send({{"jsonrpc", "2.0"},
           {"id", 6},
           {"method", "subscribe"},
           {"params", {{"query", "tm.event='Tx' AND message.sender='" + from + "'"}}}});
  REQUIRE(ws.readUntil([](const json& m) { return m["id"] == 6; }).has_value());

  SignOptions sign;
  protocol::SignedTx tx = signMessages(devnet, faucet, {msgSend(from, to, 12345)}, sign);
  REQUIRE(devnet.broadcast(tx.txRaw)["code"] == 0);
  json landed = devnet.waitForTx(tx.hash);
  CHECK(landed["hash"] == tx.hash);
  CHECK(landed["index"] == 0);
  CHECK(landed["tx_result"]["code"] == 0);
  CHECK(landed["tx"] == util::toBase64(tx.txRaw));
  CHECK(hasEvent(landed["tx_result"]["events"], "message", "sender", from));
  CHECK(hasEvent(landed["tx_result"]["events"], "tx", "acc_seq", from + "/0"));
  CHECK(hasEvent(landed["tx_result"]["events"], "transfer", "recipient", to));
  CHECK(devnet.balance(to) == 12345);
  CHECK(devnet.balance(from) == 1000000000000000 - 12345 - 1000);
  CHECK(devnet.account(from).sequence == 1);
  CHECK(devnet.account(from).publicKey.size() == 33);

  auto event = ws.readUntil([&](const json& m) {
    return m["id"] == 6 && m.contains("result") && m["result"].contains("data");
  });
  REQUIRE(event.has_value());
  const json& txEvent = (*event)["result"];
  CHECK(txEvent["data"]["type"] == "tendermint/event/Tx");
  CHECK(txEvent["data"]["value"]["TxResult"]["height"] == landed["height"]);
  CHECK(txEvent["events"]["tx.hash"][0] == tx.hash);

  json search = devnet.call("tx_search", {{"query", "message.sender='" + from + "'"},
                                          {"prove", false},
                                          {"page", "1"},
                                          {"per_page", "30"},
                                          {"order_by", "asc"}});
  CHECK(search["total_count"] == "1");
  CHECK(search["txs"][0]["hash"] == tx.hash);
  json blockResults = devnet.call("block_results", {{"height", landed["height"]}});
  CHECK(blockResults["txs_results"][0]["code"] == 0);
  json block = devnet.call("block", {{"height", landed["height"]}});
  CHECK(block["block"]["data"]["txs"][0] == util::toBase64(tx.txRaw));

  // A tx that fails in the block still pays its fee and uses its sequence.
  crypto::PrivateKey app = devnet.key("application-1");
  std::string appAddress = app.publicKey().address();
  std::uint64_t before = devnet.balance(appAddress);
  protocol::SignedTx tooMuch =
      signMessages(devnet, app, {msgSend(appAddress, to, before * 2)}, sign);
  REQUIRE(devnet.broadcast(tooMuch.txRaw)["code"] == 0);  // CheckTx does not run messages
  json failed = devnet.waitForTx(tooMuch.hash);
  CHECK(failed["tx_result"]["code"] == 5);
  CHECK(failed["tx_result"]["codespace"] == "sdk");
  CHECK(failed["tx_result"]["log"].get<std::string>().find("insufficient funds") !=
        std::string::npos);
  CHECK(devnet.balance(appAddress) == before - 1000);
  CHECK(devnet.account(appAddress).sequence == 1);

  // Five subscriptions per client at most; unknown unsubscriptions are refused.
  for (int i = 0; i < 3; ++i) {
    ws.send({{"jsonrpc", "2.0"},
             {"id", 10 + i},
             {"method", "subscribe"},
             {"params", {{"query", "tm.event='Tx' AND tx.height>" + std::to_string(i)}}}});
    auto reply = ws.readUntil(
        [&](const json& m) { return m["id"] == 10 + i && !m["result"].contains("data"); });
    REQUIRE(reply.has_value());
    CHECK_FALSE(reply->contains("error"));
  }
  ws.send({{"jsonrpc", "2.0"},
           {"id", 20},
           {"method", "subscribe"},
           {"params", {{"query", "tm.event='NewBlock'"}}}});
  auto refused = ws.readUntil([](const json& m) { return m["id"] == 20; });
  REQUIRE(refused.has_value());
  CHECK((*refused)["error"]["code"] == -32603);
  CHECK((*refused)["error"]["data"] == "max_subscriptions_per_client 5 reached");
  ws.send({{"jsonrpc", "2.0"},
           {"id", 21},
           {"method", "unsubscribe"},
           {"params", {{"query", "tm.event='NewBlock'"}}}});
  auto notSubscribed = ws.readUntil([](const json& m) { return m["id"] == 21; });
  REQUIRE(notSubscribed.has_value());
  CHECK((*notSubscribed)["error"]["data"] == "subscription not found");
}

TEST_CASE(
    "a claim and a proof built with the project's own relay, SMST and tx code are accepted, "
    "validated and settled") {
  Actors actors;
  crypto::PublicKey appKey = actors.app.publicKey();
  // Wide windows (40 blocks of 100 ms) so that a loaded machine does not miss them.
  std::string genesis = fmt::format(
      R"(chain_id: pocket
block_time: 100ms
min_gas_price: "0"
params:
  shared: {{claim_window_close_offset_blocks: 40, proof_window_close_offset_blocks: 40}}
  proof: {{proof_requirement_threshold: 1, proof_submission_fee: 10}}
services:
  - {{id: anvil, compute_units_per_relay: 1}}
accounts:
  - {{address: {app}, balance: 0, public_key: {appKey}}}
  - {{address: {supplier}, balance: 1000000000}}
applications:
  - {{address: {app}, stake: 100000000, services: [anvil]}}
suppliers:
  - operator_address: {supplier}
    owner_address: {owner}
    stake: 1000000000
    services:
      - service_id: anvil
        endpoints: [{{url: "http://127.0.0.1:8545", rpc_type: JSON_RPC}}]
)",
      fmt::arg("app", actors.appAddress()), fmt::arg("appKey", appKey.hex()),
      fmt::arg("supplier", actors.supplierAddress()), fmt::arg("owner", actors.ownerAddress()));
  DevnetProcess devnet(kBinary, {"--seed", "claims"}, {}, [&](std::string) { return genesis; });

  // Session 1 (blocks 1-10) as the chain hydrates it.
  json response = devnet.query(protocol::getSessionQuery(actors.appAddress(), "anvil", 1));
  REQUIRE_MESSAGE(response["code"] == 0, response.dump());
  auto session =
      protocol::decodeGetSessionResponse(*util::fromBase64(response["value"].get<std::string>()));
  REQUIRE(session.ok());
  protocol::SessionHeader header = protocol::fromProtoSessionHeader(session->header());
  SessionTree tree;
  constexpr int kRelays = 5;
  for (int i = 0; i < kRelays; ++i) tree.add(makeRelay(header, actors, i), 1);
  util::Bytes root = tree.root();

  // A claim with a wrong session id fails in the block with poktroll's keeper error.
  devnet.waitForHeight(12);  // claim window: 12 .. 52
  protocol::SessionHeader wrongId = header;
  wrongId.sessionId = std::string(64, '0');
  protocol::SignedTx wrong = signMessages(
      devnet, actors.supplier, {claimMessage(actors.supplierAddress(), wrongId, root)}, {});
  REQUIRE(devnet.broadcast(wrong.txRaw)["code"] == 0);
  json wrongResult = devnet.waitForTx(wrong.hash)["tx_result"];
  CHECK(wrongResult["code"] == 1);
  CHECK(wrongResult["codespace"] == "undefined");
  CHECK(wrongResult["log"].get<std::string>().starts_with(
      "failed to execute message; message index: 0: rpc error: code = InvalidArgument desc = "));
  CHECK(wrongResult["log"].get<std::string>().find("invalid session ID") != std::string::npos);

  protocol::SignedTx claim = signMessages(
      devnet, actors.supplier, {claimMessage(actors.supplierAddress(), header, root)}, {});
  REQUIRE(devnet.broadcast(claim.txRaw)["code"] == 0);
  json claimResult = devnet.waitForTx(claim.hash)["tx_result"];
  REQUIRE_MESSAGE(claimResult["code"] == 0, claimResult.dump());
  CHECK(hasEvent(claimResult["events"], "message", "action", "/pocket.proof.MsgCreateClaim"));
  bool created = false;
  for (const auto& e : claimResult["events"])
    created = created || e["type"] == "pocket.proof.EventClaimCreated";
  CHECK(created);

  // The proof: path from the hash of block proof-window-open − 1 = 51.
  devnet.waitForHeight(52);
  util::Bytes seed = hexOf(devnet.call("block", {{"height", "51"}})["block_id"]["hash"]);
  util::Bytes proofBytes = tree.proofFor(seed, header.sessionId);
  protocol::SignedTx proof = signMessages(
      devnet, actors.supplier, {proofMessage(actors.supplierAddress(), header, proofBytes)}, {});
  REQUIRE(devnet.broadcast(proof.txRaw)["code"] == 0);
  json proofResult = devnet.waitForTx(proof.hash)["tx_result"];
  REQUIRE_MESSAGE(proofResult["code"] == 0, proofResult.dump());
  CHECK(hasEvent(proofResult["events"], "message", "action", "/pocket.proof.MsgSubmitProof"));

  // Settlement at the proof window close (92).
  devnet.waitForHeight(93);
  json state = devnet.state();
  REQUIRE(state["claims"].size() == 1);
  const json& record = state["claims"][0];
  CHECK(record["session_id"] == header.sessionId);
  CHECK(record["num_relays"] == kRelays);
  CHECK(record["proof_status"] == "VALIDATED");
  CHECK(record["settlement"] == "settled");
  CHECK(record["settled_at_height"] == 92);
  // 5 relays × 1 CU × 42,000,000 / 1,000,000 = 210 upokt; the owner gets the supplier share (0.7).
  CHECK(record["claimed_upokt"] == "210");
  CHECK(record["settled_upokt"] == 210);
  CHECK(devnet.balance(actors.ownerAddress()) == 147);

  // The settlement events are in the block results of the settlement height.
  json results = devnet.call("block_results", {{"height", "92"}});
  bool settled = false;
  for (const auto& e : results["finalize_block_events"])
    settled = settled || e["type"] == "pocket.tokenomics.EventClaimSettled";
  CHECK(settled);

  // `inspect` prints the same story: the table, and the document itself with --json.
  const std::string rpc = fmt::format("http://127.0.0.1:{}", devnet.port());
  auto table =
      pocket::testing::runToEnd({kBinary, "inspect", "--rpc", rpc}, devnet.dir() + "/inspect.log");
  REQUIRE_MESSAGE(table.status == 0, table.output);
  CHECK(table.output.find("claims (1)") != std::string::npos);
  CHECK(table.output.find(actors.supplierAddress()) != std::string::npos);
  CHECK(table.output.find("VALIDATED") != std::string::npos);
  CHECK(table.output.find("settled") != std::string::npos);
  auto document = pocket::testing::runToEnd({kBinary, "inspect", "--rpc", rpc, "--json"},
                                            devnet.dir() + "/inspect-json.log");
  REQUIRE_MESSAGE(document.status == 0, document.output);
  json inspected = json::parse(document.output);
  REQUIRE(inspected["claims"].size() == 1);
  CHECK(inspected["claims"][0]["settlement"] == "settled");
  CHECK(inspected["claims"][0]["session_id"] == header.sessionId);
  auto refused = pocket::testing::runToEnd({kBinary, "inspect", "--rpc", "127.0.0.1"},
                                           devnet.dir() + "/inspect-bad.log");
  CHECK(refused.status == 1);
  CHECK(refused.output.find("--rpc: '127.0.0.1' is not http://host:port") != std::string::npos);
  (void)unusedFindEvent;
}

}  // namespace pocket::devnet::test

namespace pocket::devnet::test {
namespace {

// POST /devnet/<action>: the test knob's answer (HTTP 200 required).
json control(const DevnetProcess& devnet, const std::string& target) {
  HttpReply reply = httpCall(devnet.port(), http::verb::post, target);
  REQUIRE_MESSAGE(reply.status == 200, target, ": ", reply.body);
  return reply.parsed();
}

std::int64_t stateHeight(const DevnetProcess& devnet) {
  return devnet.state()["height"].get<std::int64_t>();
}

// A JSON-RPC POST answered with nothing: the connection was closed unanswered.
bool unanswered(const DevnetProcess& devnet, const std::string& method) {
  try {
    devnet.post({{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", json::object()}});
    return false;
  } catch (const std::exception&) {
    return true;
  }
}

}  // namespace

TEST_CASE("broadcast_tx_commit: waits for the block; CheckTx and cache refusals answer at once") {
  // The commit timeout is generous here: only the inclusion of a valid tx is awaited.
  DevnetProcess devnet(kBinary, {"--seed", "commit"},
                       {"--block-time", "100ms", "--timeout-broadcast-tx-commit", "60s"});
  devnet.waitForHeight(2);
  crypto::PrivateKey faucet = devnet.key("faucet");
  std::string from = faucet.publicKey().address();
  std::string to = devnet.key("gateway-1").publicKey().address();
  const std::uint64_t before = devnet.balance(to);

  protocol::SignedTx send = signMessages(devnet, faucet, {msgSend(from, to, 77)});
  json committed = devnet.call("broadcast_tx_commit", {{"tx", util::toBase64(send.txRaw)}});
  CHECK(committed["hash"] == send.hash);
  CHECK(committed["check_tx"]["code"] == 0);
  CHECK(committed["check_tx"]["codespace"] == "");
  CHECK(committed["check_tx"]["gas_wanted"] == "200000");
  CHECK(committed["tx_result"]["code"] == 0);
  CHECK(hasEvent(committed["tx_result"]["events"], "message", "action",
                 "/cosmos.bank.v1beta1.MsgSend"));
  REQUIRE(committed["height"].is_string());
  const std::string height = committed["height"];
  CHECK(std::stoll(height) >= 2);
  // The answer came after the commit: the tx and the balance are there already.
  json found =
      devnet.call("tx", {{"hash", util::toBase64(*util::fromHex(send.hash))}, {"prove", false}});
  CHECK(found["height"] == height);
  CHECK(found["tx_result"] == committed["tx_result"]);
  CHECK(devnet.balance(to) == before + 77);

  // The same bytes again: CometBFT's cache refuses before CheckTx, wrapped by the commit route.
  json duplicate = devnet.callError("broadcast_tx_commit", {{"tx", util::toBase64(send.txRaw)}});
  CHECK(duplicate["code"] == -32603);
  CHECK(duplicate["data"] == "error on broadcastTxCommit: tx already exists in cache");

  // Refused by CheckTx: answered at once with an empty tx_result and height 0.
  SignOptions stale;
  stale.sequence = 0;
  stale.memo = "stale";
  protocol::SignedTx staleTx = signMessages(devnet, faucet, {msgSend(from, to, 1)}, stale);
  json refused = devnet.call("broadcast_tx_commit", {{"tx", util::toBase64(staleTx.txRaw)}});
  CHECK(refused["check_tx"]["code"] == 32);
  CHECK(refused["check_tx"]["codespace"] == "sdk");
  CHECK(refused["check_tx"]["log"] ==
        "account sequence mismatch, expected 1, got 0: incorrect account sequence");
  CHECK(refused["tx_result"]["code"] == 0);
  CHECK(refused["tx_result"]["events"] == json::array());
  CHECK(refused["height"] == "0");
  CHECK(refused["hash"] == staleTx.hash);

  // The URI form waits the same way (reply id -1).
  protocol::SignedTx viaUri = signMessages(devnet, faucet, {msgSend(from, to, 3)});
  HttpReply uri = devnet.get("/broadcast_tx_commit?tx=0x" + util::toHex(viaUri.txRaw));
  REQUIRE_MESSAGE(uri.status == 200, uri.body);
  CHECK(uri.parsed()["id"] == -1);
  CHECK(uri.parsed()["result"]["tx_result"]["code"] == 0);
  CHECK(devnet.balance(to) == before + 80);

  // Inside a batch the wait is not served: the tx is admitted, the reply says so.
  protocol::SignedTx batched = signMessages(devnet, faucet, {msgSend(from, to, 5)});
  json batch = devnet
                   .post(json::array({{{"jsonrpc", "2.0"},
                                       {"id", 7},
                                       {"method", "broadcast_tx_commit"},
                                       {"params", {{"tx", util::toBase64(batched.txRaw)}}}},
                                      {{"jsonrpc", "2.0"}, {"id", 8}, {"method", "health"}}}))
                   .parsed();
  REQUIRE(batch.is_array());
  CHECK(batch[0]["error"]["code"] == -32603);
  CHECK(batch[0]["error"]["data"].get<std::string>().find("not served inside a batch") !=
        std::string::npos);
  CHECK(batch[1]["result"] == json::object());
  CHECK(devnet.waitForTx(batched.hash)["tx_result"]["code"] == 0);
}

TEST_CASE("broadcast_tx_commit: a tx that no block includes times out with CometBFT's error") {
  // One-hour blocks: nothing after block 1, so the wait can only end by the (short) timeout.
  DevnetProcess devnet(kBinary, {"--seed", "commit-timeout"},
                       {"--block-time", "1h", "--timeout-broadcast-tx-commit", "300ms"});
  crypto::PrivateKey faucet = devnet.key("faucet");
  std::string from = faucet.publicKey().address();
  protocol::SignedTx send = signMessages(devnet, faucet, {msgSend(from, from, 1)});
  json timedOut = devnet.callError("broadcast_tx_commit", {{"tx", util::toBase64(send.txRaw)}});
  CHECK(timedOut["code"] == -32603);
  CHECK(timedOut["data"] == "timed out waiting for tx to be included in a block");
  // The tx stays in the mempool, as on a real node.
  CHECK(devnet.call("num_unconfirmed_txs")["n_txs"] == "1");
  CHECK(devnet.get("/metrics")
            .body.find("devnet_rpc_rejections_total{reason=\"commit_timeout\"} 1") !=
        std::string::npos);
}

TEST_CASE("test knob: flushing the mempool drops waiting txs until the client rebroadcasts") {
  DevnetProcess devnet(kBinary, {"--seed", "flush"}, {"--block-time", "100ms"});
  devnet.waitForHeight(2);
  crypto::PrivateKey faucet = devnet.key("faucet");
  std::string from = faucet.publicKey().address();
  std::string to = devnet.key("gateway-1").publicKey().address();
  const std::uint64_t before = devnet.balance(to);

  // Every block of the next 100000 starts with an empty mempool: accepted txs never land.
  json flushing = control(devnet, "/devnet/flush-mempool?blocks=100000");
  CHECK(flushing["flush_before_blocks"] == 100000);
  protocol::SignedTx send = signMessages(devnet, faucet, {msgSend(from, to, 11)});
  json accepted = devnet.broadcast(send.txRaw);
  REQUIRE(accepted["code"] == 0);
  const std::int64_t broadcastAt = devnet.height();
  devnet.waitForHeight(broadcastAt + 3);
  json missing = devnet.callError("tx", {{"hash", util::toBase64(*util::fromHex(send.hash))}});
  CHECK(missing["data"] == "tx (" + send.hash + ") not found");
  CHECK(devnet.balance(to) == before);
  CHECK(devnet.account(from).sequence == 0);
  CHECK(devnet.log().find("event=tx_dropped tx=" + send.hash) != std::string::npos);

  // Stop flushing; the same bytes are accepted again (the cache was emptied) and land.
  json stopped = control(devnet, "/devnet/flush-mempool?blocks=0");
  CHECK(stopped["flush_before_blocks"] == 0);
  json again = devnet.broadcast(send.txRaw);
  REQUIRE_MESSAGE(again["code"] == 0, again.dump());
  CHECK(devnet.waitForTx(send.hash)["tx_result"]["code"] == 0);
  CHECK(devnet.balance(to) == before + 11);
  CHECK(devnet.get("/metrics").body.find("devnet_txs_dropped_total{reason=\"mempool_flushed\"}") !=
        std::string::npos);

  // The JSON-RPC route of a real node (unsafe_flush_mempool) and bad knob arguments.
  CHECK(devnet.call("unsafe_flush_mempool") == json::object());
  HttpReply bad = httpCall(devnet.port(), http::verb::post, "/devnet/flush-mempool?blocks=x");
  CHECK(bad.status == 400);
  CHECK(bad.parsed()["error"] ==
        "/devnet/flush-mempool: blocks must be a count of blocks from 0 to 100000 (?blocks=N)");
  CHECK(httpCall(devnet.port(), http::verb::get, "/devnet/flush-mempool").status == 405);
  CHECK(httpCall(devnet.port(), http::verb::post, "/devnet/no-such-knob").status == 404);
}

TEST_CASE("test knob: an RPC outage for N blocks while the chain keeps producing blocks") {
  DevnetProcess devnet(kBinary, {"--seed", "outage"}, {"--block-time", "100ms"});
  devnet.waitForHeight(2);
  WsClient ws(devnet.port());
  ws.send({{"jsonrpc", "2.0"},
           {"id", 5},
           {"method", "subscribe"},
           {"params", {{"query", "tm.event='NewBlockHeader'"}}}});
  REQUIRE(ws.readUntil([](const json& m) { return m.contains("result"); }));

  // A long outage: the RPC and WebSocket go silent, /devnet/state still answers and the chain
  // goes on.
  json outage = control(devnet, "/devnet/rpc-outage?blocks=100000");
  const std::int64_t from = outage["from_height"];
  CHECK(outage["until_height"] == from + 100000);
  CHECK(unanswered(devnet, "status"));
  CHECK_THROWS(devnet.get("/status"));
  CHECK(devnet.get("/metrics").status == 200);
  // The subscriber is disconnected: reading ends without a message that is not a block event.
  CHECK_FALSE(ws.readUntil([](const json&) { return false; }));
  REQUIRE(pocket::testing::waitFor([&] { return stateHeight(devnet) >= from + 3; },
                                   "blocks during the outage"));
  CHECK(unanswered(devnet, "health"));
  CHECK(devnet.get("/metrics").body.find("devnet_rpc_rejections_total{reason=\"rpc_outage\"}") !=
        std::string::npos);

  // Ended early with blocks=0: the RPC answers at once, at the height the chain reached.
  control(devnet, "/devnet/rpc-outage?blocks=0");
  CHECK(devnet.height() >= from + 3);

  // A short outage ends by itself once its blocks are committed.
  json shortOutage = control(devnet, "/devnet/rpc-outage?blocks=3");
  const std::int64_t until = shortOutage["until_height"];
  REQUIRE(pocket::testing::waitFor([&] { return stateHeight(devnet) >= until; },
                                   "the end of a 3-block outage"));
  CHECK(devnet.height() >= until);
  CHECK(httpCall(devnet.port(), http::verb::post, "/devnet/rpc-outage").status == 400);
}

TEST_CASE("abci_query: node config, all balances, claim not found, store paths and prove") {
  DevnetProcess devnet(kBinary, {"--seed", "more-queries"}, {"--block-time", "100ms"});
  devnet.waitForHeight(3);
  std::string faucet = devnet.key("faucet").publicKey().address();

  // cosmos.base.node.v1beta1.Service/Config: the genesis min gas price as DecCoins.
  json config = devnet.query(protocol::AbciQuery{std::string(kNodeConfigQueryPath), {}});
  REQUIRE_MESSAGE(config["code"] == 0, config.dump());
  util::Bytes value = *util::fromBase64(config["value"].get<std::string>());
  std::map<std::uint32_t, std::string> fields;
  auto read = protocol::wire::readFields(
      value, "ConfigResponse",
      [&](protocol::wire::Reader&,
          const protocol::wire::Field& field) -> std::optional<util::Error> {
        fields[field.number] = std::string(util::asChars(field.bytes));
        return std::nullopt;
      });
  REQUIRE(read.ok());
  CHECK(fields[1] == "0.000001000000000000upokt");

  // x/bank AllBalances: the upokt balance; nothing for an empty account.
  util::Bytes request;
  protocol::wire::Writer writer(request);
  writer.stringField(1, faucet);
  json all = devnet.query(protocol::AbciQuery{std::string(kAllBalancesQueryPath), request});
  REQUIRE_MESSAGE(all["code"] == 0, all.dump());
  util::Bytes coin;
  protocol::wire::Writer coinWriter(coin);
  coinWriter.stringField(1, "upokt");
  coinWriter.stringField(2, "1000000000000000");
  util::Bytes expected;
  protocol::wire::Writer expectedWriter(expected);
  expectedWriter.messageHeader(1, coin.size());
  expectedWriter.raw(coin);
  expectedWriter.messageHeader(2, 0);
  CHECK(util::toHex(*util::fromBase64(all["value"].get<std::string>())) == util::toHex(expected));

  // A claim that does not exist: NotFound → code 22.
  json claim = devnet.query(protocol::claimQuery(std::string(64, 'a'), faucet));
  CHECK(claim["code"] == 22);
  CHECK(claim["codespace"] == "sdk");
  CHECK(claim["log"].get<std::string>().ends_with(": claim not found: key not found"));

  // prove=true on a gRPC path answers as the SDK does (no proofOps); store paths are refused.
  json proved =
      devnet.call("abci_query", {{"path", std::string(protocol::kBalanceQueryPath)},
                                 {"data", util::toHex(protocol::balanceQuery(faucet).data)},
                                 {"height", "2"},
                                 {"prove", true}})["response"];
  CHECK(proved["code"] == 0);
  CHECK(proved["proofOps"].is_null());
  json store = devnet.call(
      "abci_query",
      {{"path", "/store/bank/key"}, {"data", "00"}, {"height", "0"}, {"prove", true}})["response"];
  CHECK(store["code"] == 6);
  CHECK(store["codespace"] == "sdk");
  CHECK(store["log"] ==
        "pocket-devnet serves no store queries (/store/bank/key): it keeps no IAVL store, so it "
        "has neither raw keys nor merkle proofs; use the gRPC query paths: unknown request");
}

}  // namespace pocket::devnet::test
