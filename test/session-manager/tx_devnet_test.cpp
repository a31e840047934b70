// The transaction submitter against the real pocket-devnet binary over loopback JSON-RPC: a tx
// included and confirmed by hash, a message failing in the block, the signer out of funds, a
// sequence used by a tx sent outside the submitter, a window that closes, a restart with a tx in
// flight that must not become a second tx, and a tx the devnet drops from its mempool
// (POST /devnet/flush-mempool) that is rebroadcast as the same bytes and lands once.

#include <memory>
#include <string>

#include <doctest.h>

#include "common/chain/chain_queries.h"
#include "common/chain/node_client.h"
#include "common/protocol/tx.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "session-manager/tx_node.h"
#include "session-manager/tx_submitter.h"
#include "test/devnet/devnet_client.h"
#include "test/support/process.h"

namespace {

using namespace pocket;
using devnet::test::DevnetProcess;
using sm::TxOutcomeKind;

const char* devnetBinary() {
  static std::string path = testing::binaryPath("POCKET_DEVNET");
  return path.c_str();
}

// The genesis `init` wrote, with supplier-1-owner's balance set to 0 (an account that exists
// and cannot pay a fee).
std::string withoutOwnerFunds(std::string genesis) {
  auto at = genesis.find("# keys/supplier-1-owner.key");
  REQUIRE(at != std::string::npos);
  auto balance = genesis.find("balance: ", at);
  REQUIRE(balance != std::string::npos);
  balance += 9;
  auto end = genesis.find('\n', balance);
  return genesis.replace(balance, end - balance, "0");
}

// A devnet, a chain client and a submitter for the faucet and one supplier operator.
struct DevnetFixture {
  DevnetProcess devnet{
      devnetBinary(), {"--seed", "tx-devnet-test"}, {"--block-time", "300ms"}, withoutOwnerFunds};
  testing::TempDir dir{"tx-devnet-test"};
  util::LogSink log{stderr, util::LogLevel::warn};
  util::MetricsRegistry metrics;
  std::unique_ptr<chain::NodeClient> node;
  std::unique_ptr<chain::ChainQueries> queries;
  std::unique_ptr<sm::NodeTxChain> txChain;
  std::unique_ptr<sm::ChainTxSubmitter> submitter;
  crypto::PrivateKey faucet = devnet.key("faucet");
  crypto::PrivateKey owner = devnet.key("supplier-1-owner");  // no funds (withoutOwnerFunds)
  std::string faucetAddress = faucet.publicKey().address();
  std::int64_t told = 0;  // the last height the submitter was told

  DevnetFixture() {
    chain::NodeClientConfig config;
    config.rpcUrl = "http://127.0.0.1:" + std::to_string(devnet.port());
    node = std::make_unique<chain::NodeClient>(config, metrics, log);
    queries = std::make_unique<chain::ChainQueries>(*node, metrics, log);
    txChain = std::make_unique<sm::NodeTxChain>(*node, *queries);
    start();
  }
  void start() {
    submitter.reset();
    sm::TxSubmitterOptions o;
    o.chainId = "pocket";
    o.directory = dir / "txs";
    o.fallbackGasPrice = *sm::GasPrice::parse("0.000001");
    o.broadcastWorkers = 2;
    submitter = std::make_unique<sm::ChainTxSubmitter>(o, std::vector{faucet, owner}, *txChain, log,
                                                       metrics);
    told = 0;
  }
  std::int64_t height() {
    auto status = node->status();
    REQUIRE_MESSAGE(status.ok(), status.error().message);
    return status->latestBlockHeight;
  }
  // Tells the submitter about every new height until `id` is decided (or the deadline passes).
  std::optional<sm::TxOutcome> decide(const std::string& id) {
    std::optional<sm::TxOutcome> decided;
    auto ok = testing::waitFor(
        [&] {
          auto status = node->status();
          if (!status || status->latestBlockHeight <= told) return false;
          told = status->latestBlockHeight;
          submitter->onBlock(told, status->latestBlockTime.seconds * 1000);
          decided = submitter->outcome(id);
          return decided.has_value();
        },
        "an outcome for " + id);
    REQUIRE(ok);
    return decided;
  }
  void tellHeight() {
    told = height();
    submitter->onBlock(told, 0);
  }
  sm::TxRequest send(const std::string& id, const crypto::PrivateKey& from, std::uint64_t amount,
                     std::int64_t timeoutHeight) {
    sm::TxRequest r;
    r.id = id;
    r.signer = from.publicKey().address();
    r.messages = {
        devnet::test::msgSend(r.signer, devnet.key("gateway-1").publicKey().address(), amount)};
    r.timeoutHeight = timeoutHeight;
    return r;
  }
  std::string metric(const std::string& series) {
    std::string text = metrics.render();
    auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return "";
    auto begin = at + series.size() + 2;
    return text.substr(begin, text.find('\n', begin) - begin);
  }
};

}  // namespace

TEST_SUITE("tx submitter on pocket-devnet") {
  TEST_CASE(
      "a tx is included and confirmed by hash; a failing message and missing funds are "
      "told apart") {
    DevnetFixture f;
    f.tellHeight();
    std::uint64_t before = f.devnet.balance(f.faucetAddress);
    REQUIRE(f.submitter->submit(f.send("send/ok", f.faucet, 1000, f.height() + 20)).ok());
    auto ok = f.decide("send/ok");
    CHECK(ok->kind == TxOutcomeKind::kIncluded);
    CHECK(ok->code == 0);
    CHECK(ok->height > 0);
    CHECK(ok->gasUsed > 0);
    CHECK(ok->feeUpokt > 0);
    auto inChain = f.devnet.waitForTx(ok->txHash);
    CHECK(inChain["height"] == std::to_string(ok->height));
    CHECK(f.devnet.balance(f.faucetAddress) == before - 1000 - ok->feeUpokt);

    // More than the faucet holds: admitted (CheckTx does not run messages), fails in the block
    // with the bank's code; the fee is paid.
    REQUIRE(f.submitter
                ->submit(f.send("send/too-much", f.faucet, 1'000'000'000'000'000, f.height() + 20))
                .ok());
    auto failed = f.decide("send/too-much");
    CHECK(failed->kind == TxOutcomeKind::kFailedInBlock);
    CHECK(failed->code == 5);
    CHECK(failed->feeUpokt > 0);
    CHECK(!failed->log.empty());

    // A signer without funds cannot pay the fee: refused by CheckTx, never included.
    REQUIRE(f.submitter->submit(f.send("send/broke", f.owner, 1, f.height() + 20)).ok());
    auto broke = f.decide("send/broke");
    CHECK(broke->kind == TxOutcomeKind::kRejected);
    CHECK(broke->code == 5);
    CHECK(broke->reason.rfind("out of funds", 0) == 0);
    CHECK(f.metric("sm_txs_total{outcome=\"rejected\",reason=\"out_of_funds\"}") == "1");
  }

  TEST_CASE("a tx sent outside the submitter with the same key: the sequence is recovered") {
    DevnetFixture f;
    f.tellHeight();
    REQUIRE(f.submitter->submit(f.send("first", f.faucet, 1, f.height() + 20)).ok());
    REQUIRE(f.decide("first")->kind == TxOutcomeKind::kIncluded);

    // Another client signs with the faucet key at the committed sequence and it lands.
    auto account = f.devnet.account(f.faucetAddress);
    protocol::TxOptions options;
    options.chainId = "pocket";
    options.accountNumber = account.accountNumber;
    options.sequence = account.sequence;
    crypto::PublicKey faucetPublicKey = f.faucet.publicKey();
    options.signerPublicKey.assign(faucetPublicKey.compressed().begin(),
                                   faucetPublicKey.compressed().end());
    options.fee.gasLimit = 200000;
    options.fee.amount = {protocol::Coin{"upokt", "1000"}};
    std::vector<protocol::TxMessage> messages{
        devnet::test::msgSend(f.faucetAddress, f.devnet.key("gateway-1").publicKey().address(), 7)};
    auto outside = protocol::signTx(*protocol::buildUnsignedTx(messages, options), f.faucet);
    REQUIRE(f.devnet.broadcast(outside.txRaw)["code"] == 0);
    f.devnet.waitForTx(outside.hash);

    REQUIRE(f.submitter->submit(f.send("second", f.faucet, 2, f.height() + 20)).ok());
    auto second = f.decide("second");
    CHECK(second->kind == TxOutcomeKind::kIncluded);
    CHECK(std::stoull(f.metric("sm_tx_sequence_recoveries_total")) >= 1);
    CHECK(f.devnet.account(f.faucetAddress).sequence == account.sequence + 2);
  }

  TEST_CASE("the window closes: expired when the submitter knows, refused when the node says") {
    DevnetFixture f;
    // The submitter has not been told any height: it broadcasts, and the node refuses the
    // passed timeout height (code 30).
    f.devnet.waitForHeight(3);
    REQUIRE(f.submitter->submit(f.send("late/node", f.faucet, 1, 2)).ok());
    f.submitter->waitIdle();  // signed and refused before the submitter learns a height
    auto refused = f.decide("late/node");
    CHECK(refused->kind == TxOutcomeKind::kRejected);
    CHECK(refused->code == 30);
    CHECK(refused->reason.rfind("window closed", 0) == 0);

    // Told the height first: decided without a broadcast.
    f.tellHeight();
    REQUIRE(f.submitter->submit(f.send("late/known", f.faucet, 1, 2)).ok());
    auto expired = f.decide("late/known");
    CHECK(expired->kind == TxOutcomeKind::kExpired);
    CHECK(expired->txHash.empty());
    CHECK(expired->reason.rfind("window closed: timeout height 2 passed", 0) == 0);
  }

  TEST_CASE("a tx dropped from the mempool for a few blocks: rebroadcast, the same bytes, once") {
    DevnetFixture f;
    f.tellHeight();
    auto sequence = f.devnet.account(f.faucetAddress).sequence;
    // Every block starts with an empty mempool: the tx is admitted and never included.
    REQUIRE(devnet::test::httpCall(f.devnet.port(), boost::beast::http::verb::post,
                                   "/devnet/flush-mempool?blocks=100000")
                .status == 200);
    REQUIRE(f.submitter->submit(f.send("dropped", f.faucet, 4, f.height() + 1000)).ok());
    f.submitter->waitIdle();
    const std::string hash = f.submitter->records().at(0).txHash;
    // Told of new blocks until it has broadcast the tx three times (two rebroadcasts).
    REQUIRE(testing::waitFor(
        [&] {
          auto status = f.node->status();
          if (!status || status->latestBlockHeight <= f.told) return false;
          f.told = status->latestBlockHeight;
          f.submitter->onBlock(f.told, 0);
          return f.submitter->records().at(0).broadcasts >= 3;
        },
        "two rebroadcasts"));
    CHECK_FALSE(f.submitter->outcome("dropped").has_value());
    CHECK(f.devnet.log().find("event=tx_dropped tx=" + hash) != std::string::npos);
    REQUIRE(devnet::test::httpCall(f.devnet.port(), boost::beast::http::verb::post,
                                   "/devnet/flush-mempool?blocks=0")
                .status == 200);
    auto outcome = f.decide("dropped");
    CHECK(outcome->kind == TxOutcomeKind::kIncluded);
    CHECK(outcome->txHash == hash);  // the same bytes, never signed again
    CHECK(std::stoull(f.metric("sm_tx_broadcasts_total{kind=\"rebroadcast\"}")) >= 2);
    CHECK(f.metric("sm_tx_broadcasts_total{kind=\"resign\"}") == "0");
    CHECK(f.devnet.account(f.faucetAddress).sequence == sequence + 1);
  }

  TEST_CASE("restart with a tx in flight: the recorded tx is confirmed, no second tx is sent") {
    DevnetFixture f;
    f.tellHeight();
    auto sequence = f.devnet.account(f.faucetAddress).sequence;
    REQUIRE(f.submitter->submit(f.send("inflight", f.faucet, 3, f.height() + 20)).ok());
    f.submitter->waitIdle();  // broadcast, not yet confirmed
    auto first = f.submitter->records().at(0);
    CHECK(first.state == "broadcast");
    f.start();  // a new process on the same records
    REQUIRE(f.submitter->submit(f.send("inflight", f.faucet, 3, f.height() + 20)).ok());
    auto outcome = f.decide("inflight");
    CHECK(outcome->kind == TxOutcomeKind::kIncluded);
    CHECK(outcome->txHash == first.txHash);
    // A few more blocks: still exactly one tx of this signer landed.
    auto h = f.height();
    f.devnet.waitForHeight(h + 3);
    CHECK(f.devnet.account(f.faucetAddress).sequence == sequence + 1);
  }
}
