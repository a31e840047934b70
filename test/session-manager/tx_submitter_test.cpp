// The transaction submitter against an in-process chain whose mempool, blocks, sequences and
// failures the test controls: inclusion by hash, rebroadcast of dropped txs, sequence mismatch
// recovery, each failure kind, the window closing, a restart with txs in flight, fee estimates,
// and parallel broadcast for many signers.

#include <doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "common/crypto/keys.h"
#include "common/protocol/tx.h"
#include "common/util/hex.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "session-manager/config.h"
#include "session-manager/tx_submitter.h"
#include "test/support/process.h"

namespace {

using namespace pocket;
using sm::TxOutcomeKind;

constexpr std::uint64_t kGas = 80000;

crypto::PrivateKey keyOf(const std::string& name) {
  return crypto::PrivateKey::fromSecret(util::asBytes(name));
}

protocol::TxMessage claimMessage(int n) {
  return {std::string(protocol::kMsgCreateClaimTypeUrl),
          util::Bytes{0x0a, 0x01, static_cast<std::uint8_t>(n)}};
}

// A chain in memory, with CometBFT's and the SDK's rules for ordered txs: check-state sequences
// (committed + this signer's txs in the mempool), a cache of seen tx bytes, blocks that take the
// whole mempool, and txs failing in the block with their fee and sequence consumed.
class FakeTxChain final : public sm::TxNode {
 public:
  struct Account {
    std::uint64_t number = 0;
    std::uint64_t sequence = 0;
    std::uint64_t balance = 1'000'000'000;
  };
  struct Pending {
    std::string hash;
    util::Bytes raw;
    protocol::DecodedTx tx;
    std::string signer;
  };

  void addAccount(const std::string& address, std::uint64_t number) {
    std::lock_guard lock(mutex_);
    accounts_[address].number = number;
  }
  void setBalance(const std::string& address, std::uint64_t balance) {
    std::lock_guard lock(mutex_);
    accounts_[address].balance = balance;
  }
  // A tx of this signer sent by someone else, included in the next block.
  void externalTx(const std::string& address) {
    std::lock_guard lock(mutex_);
    ++accounts_[address].sequence;
  }
  // Gone from the mempool (and its cache), as an evicted tx is.
  bool drop(const std::string& hash) {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(mempool_.begin(), mempool_.end(),
                           [&](const Pending& p) { return p.hash == hash; });
    if (it == mempool_.end()) return false;
    mempool_.erase(it);
    cache_.erase(hash);
    return true;
  }
  void dropAll() {
    std::lock_guard lock(mutex_);
    for (const auto& p : mempool_) cache_.erase(p.hash);
    mempool_.clear();
  }
  // Makes every message of the next delivered txs fail (code 1, codespace undefined).
  void failMessages(bool fail) {
    std::lock_guard lock(mutex_);
    failMessages_ = fail;
  }
  // Executes the mempool as block height+1.
  std::int64_t commitBlock() {
    std::lock_guard lock(mutex_);
    ++height_;
    for (auto& p : mempool_) {
      chain::TxResult result;
      result.hash = *util::fromHex(p.hash);
      result.height = height_;
      result.tx = p.raw;
      Account& account = accounts_[p.signer];
      if (p.tx.timeoutHeight != 0 && static_cast<std::int64_t>(p.tx.timeoutHeight) < height_) {
        continue;  // evicted: too late
      }
      if (p.tx.sequence != account.sequence) {
        result.result.code = 32;
        result.result.codespace = "sdk";
        result.result.log = mismatch(account.sequence, p.tx.sequence);
      } else {
        ++account.sequence;
        account.balance -= fee(p.tx);
        result.result.events.push_back(
            {"tx", {{"fee", fmt::format("{}upokt", fee(p.tx)), true}}});
        result.result.gasUsed = static_cast<std::int64_t>(kGas);
        result.result.gasWanted = static_cast<std::int64_t>(p.tx.fee.gasLimit);
        if (failMessages_) {
          result.result.code = 1;
          result.result.codespace = "undefined";
          result.result.log = "failed to execute message; message index: 0: rpc error: code = "
                              "FailedPrecondition desc = claim attempted outside of the "
                              "session's claim window";
        }
      }
      index_[p.hash] = result;
      ++included_[p.hash];
    }
    mempool_.clear();
    return height_;
  }
  // A block without this node's mempool txs (they stay for a later block).
  std::int64_t emptyBlock() {
    std::lock_guard lock(mutex_);
    return ++height_;
  }
  std::int64_t height() const {
    std::lock_guard lock(mutex_);
    return height_;
  }
  std::size_t mempoolSize() const {
    std::lock_guard lock(mutex_);
    return mempool_.size();
  }
  std::vector<std::string> mempoolHashes() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& p : mempool_) out.push_back(p.hash);
    return out;
  }
  // Txs in blocks with code 0 or a code that consumed the sequence (not 32).
  std::size_t landed(const std::set<std::string>& hashes) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& h : hashes) {
      auto it = index_.find(h);
      if (it != index_.end() && it->second.result.code != 32) ++n;
    }
    return n;
  }
  std::optional<protocol::DecodedTx> indexed(const std::string& hash) const {
    std::lock_guard lock(mutex_);
    auto it = index_.find(hash);
    if (it == index_.end()) return std::nullopt;
    return *protocol::decodeTx(it->second.tx);
  }
  int broadcasts() const {
    std::lock_guard lock(mutex_);
    return broadcasts_;
  }
  std::set<std::string> broadcastHashes() const {
    std::lock_guard lock(mutex_);
    return broadcastHashes_;
  }
  void setGasPrice(std::optional<std::string> price) {
    std::lock_guard lock(mutex_);
    gasPrice_ = std::move(price);
  }
  void setDown(bool down) {
    std::lock_guard lock(mutex_);
    down_ = down;
  }

  // --- TxNode ---
  util::Result<protocol::AccountInfo> account(std::string_view address) override {
    std::lock_guard lock(mutex_);
    if (down_) return util::makeError(std::string(chain::kErrTransport), "connection refused");
    auto it = accounts_.find(std::string(address));
    if (it == accounts_.end()) {
      return util::makeError(std::string(chain::kErrNotFound), "account not found");
    }
    return protocol::AccountInfo{std::string(address), {}, it->second.number,
                                 it->second.sequence};
  }
  util::Result<std::uint64_t> simulateGas(util::ByteSpan raw,
                                          sm::SimulationFailure* failure) override {
    std::lock_guard lock(mutex_);
    if (down_) return util::makeError(std::string(chain::kErrTransport), "connection refused");
    auto tx = protocol::decodeTx(raw);
    REQUIRE(tx.ok());
    std::string signer = signerOf(*tx);
    std::uint64_t expected = checkSequence(signer);
    if (tx->sequence != expected) {
      failure->code = 32;
      failure->log = "failed to simulate tx: " + mismatch(expected, tx->sequence);
      return util::makeError(std::string(sm::kErrSimulation), failure->log);
    }
    return kGas;
  }
  util::Result<chain::BroadcastResult> broadcast(util::ByteSpan raw) override {
    std::lock_guard lock(mutex_);
    if (down_) return util::makeError(std::string(chain::kErrTransport), "connection refused");
    ++broadcasts_;
    std::string hash = protocol::txHash(raw);
    broadcastHashes_.insert(hash);
    chain::BroadcastResult result;
    result.hash = *util::fromHex(hash);
    if (cache_.count(hash) != 0) {
      return util::makeError(std::string(chain::kErrTxInCache),
                             "rpc error code=-32603 message=Internal error data=tx already "
                             "exists in cache");
    }
    auto tx = protocol::decodeTx(raw);
    REQUIRE(tx.ok());
    std::string signer = signerOf(*tx);
    auto refuse = [&](std::uint32_t code, std::string log) {
      result.code = code;
      result.codespace = "sdk";
      result.log = std::move(log);
      return result;
    };
    if (tx->timeoutHeight != 0 && static_cast<std::int64_t>(tx->timeoutHeight) < height_) {
      return refuse(30, fmt::format("block height: {}, timeout height: {}: tx timeout height",
                                    height_, tx->timeoutHeight));
    }
    if (accounts_[signer].balance < fee(*tx)) {
      return refuse(5, fmt::format("spendable balance {}upokt is smaller than {}upokt: "
                                   "insufficient funds: insufficient funds",
                                   accounts_[signer].balance, fee(*tx)));
    }
    std::uint64_t expected = checkSequence(signer);
    if (tx->sequence != expected) return refuse(32, mismatch(expected, tx->sequence));
    cache_.insert(hash);
    mempool_.push_back({hash, util::Bytes(raw.begin(), raw.end()), *tx, signer});
    return result;
  }
  util::Result<chain::TxResult> findTx(util::ByteSpan hash) override {
    std::lock_guard lock(mutex_);
    if (down_) return util::makeError(std::string(chain::kErrTransport), "connection refused");
    std::string key = util::toHex(hash);
    std::transform(key.begin(), key.end(), key.begin(), ::toupper);
    auto it = index_.find(key);
    if (it == index_.end()) {
      return util::makeError(std::string(chain::kErrTxNotFound), "tx (" + key + ") not found");
    }
    return it->second;
  }
  util::Result<std::string> minimumGasPrice() override {
    std::lock_guard lock(mutex_);
    if (!gasPrice_) return util::makeError(std::string(sm::kErrNoGasPrice), "unknown query path");
    return *gasPrice_;
  }

 private:
  static std::string mismatch(std::uint64_t expected, std::uint64_t got) {
    return fmt::format("account sequence mismatch, expected {}, got {}: incorrect account sequence",
                       expected, got);
  }
  static std::uint64_t fee(const protocol::DecodedTx& tx) {
    return tx.fee.amount.empty() ? 0 : std::stoull(tx.fee.amount.front().amount);
  }
  static std::string signerOf(const protocol::DecodedTx& tx) {
    return crypto::PublicKey::fromCompressed(tx.signerPublicKey)->address();
  }
  std::uint64_t checkSequence(const std::string& signer) const {
    auto it = accounts_.find(signer);
    std::uint64_t seq = it == accounts_.end() ? 0 : it->second.sequence;
    for (const auto& p : mempool_) {
      if (p.signer == signer) ++seq;
    }
    return seq;
  }

  mutable std::mutex mutex_;
  std::int64_t height_ = 10;
  std::map<std::string, Account> accounts_;
  std::vector<Pending> mempool_;
  std::set<std::string> cache_;
  std::map<std::string, chain::TxResult> index_;
  std::map<std::string, int> included_;
  std::set<std::string> broadcastHashes_;
  std::optional<std::string> gasPrice_;
  int broadcasts_ = 0;
  bool failMessages_ = false;
  bool down_ = false;
};

struct Fixture {
  testing::TempDir dir{"tx-submitter-test"};
  util::LogSink log{stderr, std::getenv("TX_TEST_DEBUG") ? util::LogLevel::debug : util::LogLevel::warn};
  util::MetricsRegistry metrics;
  FakeTxChain chain;
  crypto::PrivateKey supplier = keyOf("supplier-1");
  std::string address = supplier.publicKey().address();
  std::unique_ptr<sm::ChainTxSubmitter> submitter;

  Fixture() {
    chain.addAccount(address, 7);
    start();
  }
  sm::TxSubmitterOptions options() const {
    sm::TxSubmitterOptions o;
    o.chainId = "pocket";
    o.directory = dir / "txs";
    o.fallbackGasPrice = *sm::GasPrice::parse("0.01");
    o.gasAdjustment = 1.5;
    o.broadcastWorkers = 4;
    return o;
  }
  void start(std::vector<crypto::PrivateKey> keys = {}) {
    if (keys.empty()) keys = {supplier};
    submitter.reset();
    submitter = std::make_unique<sm::ChainTxSubmitter>(options(), keys, chain, log, metrics);
  }
  sm::TxRequest request(const std::string& id, std::int64_t timeout = 30, int messages = 1) {
    sm::TxRequest r;
    r.id = id;
    r.signer = address;
    for (int i = 0; i < messages; ++i) r.messages.push_back(claimMessage(i));
    r.timeoutHeight = timeout;
    return r;
  }
  // The chain makes a block; the submitter is told about it.
  std::vector<sm::TxOutcome> block() {
    submitter->waitIdle();  // what was submitted has reached the node
    std::int64_t h = chain.commitBlock();
    return submitter->onBlock(h, 1'767'225'600'000 + h * 1000);
  }
  // The submitter is told the current height again (its first look, or a repeat).
  std::vector<sm::TxOutcome> look() {
    return submitter->onBlock(chain.height(), 1'767'225'600'000 + chain.height() * 1000);
  }
  std::string metric(const std::string& series) {
    std::string text = metrics.render();
    auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return "";
    auto start = at + series.size() + 2;
    return text.substr(start, text.find('\n', start) - start);
  }
};

}  // namespace

TEST_SUITE("tx submitter") {
  TEST_CASE("helpers: the node's expected sequence, gas prices and fees") {
    CHECK(sm::parseExpectedSequence(
              "account sequence mismatch, expected 4, got 3: incorrect account sequence") == 4u);
    CHECK(sm::parseExpectedSequence("failed to simulate tx: account sequence mismatch, expected "
                                    "0, got 4: incorrect account sequence") == 0u);
    CHECK(!sm::parseExpectedSequence("insufficient funds"));
    CHECK(!sm::parseExpectedSequence("account sequence mismatch, expected x"));

    auto price = sm::GasPrice::parse("0.000001upokt");
    REQUIRE(price.ok());
    CHECK(price->feeFor(300000) == 1);  // ceil(0.3)
    CHECK(price->feeFor(2'000'000) == 2);
    CHECK(price->feeFor(0) == 0);
    CHECK(price->text() == "0.000001upokt");
    CHECK(sm::GasPrice::parse("1.5")->feeFor(3) == 5);  // ceil(4.5)
    CHECK(sm::GasPrice::parse("2")->text() == "2upokt");
    for (const char* bad : {"", "upokt", "-1", "0.1uatom", "1.2.3", "0.0000000000000000001"}) {
      auto p = sm::GasPrice::parse(bad);
      REQUIRE_MESSAGE(!p.ok(), bad);
      CHECK(p.error().code == sm::kErrBadGasPrice);
    }
  }

  TEST_CASE("a tx is signed, broadcast, confirmed by hash in the next block, reported once") {
    Fixture f;
    f.look();
    REQUIRE(f.submitter->submit(f.request("claim/a/20/0")).ok());
    f.submitter->waitIdle();
    REQUIRE(f.chain.mempoolSize() == 1);  // broadcast without waiting for a block
    CHECK(!f.submitter->outcome("claim/a/20/0"));

    auto outcomes = f.block();
    REQUIRE(outcomes.size() == 1);
    const auto& o = outcomes[0];
    CHECK(o.id == "claim/a/20/0");
    CHECK(o.kind == TxOutcomeKind::kIncluded);
    CHECK(o.height == 11);
    CHECK(o.gasUsed == static_cast<std::int64_t>(kGas));
    CHECK(o.feeUpokt == 1200);  // ceil(80000 × 1.5) × 0.01
    auto tx = f.chain.indexed(o.txHash);
    REQUIRE(tx);
    CHECK(tx->sequence == 0);
    CHECK(tx->timeoutHeight == 30);
    CHECK(tx->fee.gasLimit == 120000);
    REQUIRE(tx->messages.size() == 1);
    CHECK(tx->messages[0].typeUrl == protocol::kMsgCreateClaimTypeUrl);
    // Signed by the operator key for account number 7 and chain "pocket".
    protocol::UnsignedTx signDoc{tx->bodyBytes, tx->authInfoBytes,
                                 protocol::encodeSignDoc(tx->bodyBytes, tx->authInfoBytes,
                                                         "pocket", 7)};
    CHECK(protocol::verifyTxSignature(signDoc, f.supplier.publicKey(), tx->signatures.at(0)));

    CHECK(f.block().empty());  // reported once
    auto again = f.submitter->outcome("claim/a/20/0");
    REQUIRE(again);
    CHECK(again->txHash == o.txHash);
    CHECK(f.metric("sm_txs_total{outcome=\"included\",reason=\"included\"}") == "1");
    CHECK(f.metric("sm_tx_fees_upokt_total") == "1200");
    CHECK(f.metric("sm_tx_inclusion_blocks_count") == "1");
  }

  TEST_CASE("submit is idempotent by id and refuses bad requests with named codes") {
    Fixture f;
    f.look();
    REQUIRE(f.submitter->submit(f.request("r1")).ok());
    REQUIRE(f.submitter->submit(f.request("r1")).ok());
    f.submitter->waitIdle();
    CHECK(f.chain.broadcasts() == 1);

    auto unknown = f.request("r2");
    unknown.signer = keyOf("someone-else").publicKey().address();
    auto s = f.submitter->submit(unknown);
    REQUIRE(!s.ok());
    CHECK(s.error().code == sm::kErrUnknownSigner);
    CHECK(s.error().message.find(unknown.signer) != std::string::npos);

    auto empty = f.request("r3", 30, 0);
    CHECK(f.submitter->submit(empty).error().code == sm::kErrNoMessages);
    CHECK(f.submitter->submit(f.request("")).error().code == sm::kErrBadRequest);
    CHECK(f.submitter->submit(f.request("r4", 0)).error().code == sm::kErrBadRequest);
    auto large = f.request("r5");
    large.messages = {{std::string(protocol::kMsgSubmitProofTypeUrl),
                       util::Bytes(protocol::kMaxBroadcastTxBytes, 0x01)}};
    CHECK(f.submitter->submit(large).error().code == sm::kErrTxTooLarge);

    f.submitter->waitIdle();
    CHECK(f.chain.broadcasts() == 1);
    CHECK(f.submitter->records().size() == 1);  // the refused ones left nothing behind
  }

  TEST_CASE("a tx dropped from the mempool is rebroadcast with the same bytes") {
    Fixture f;
    f.look();
    REQUIRE(f.submitter->submit(f.request("r")).ok());
    f.submitter->waitIdle();
    auto hashes = f.chain.mempoolHashes();
    REQUIRE(hashes.size() == 1);
    REQUIRE(f.chain.drop(hashes[0]));

    CHECK(f.block().empty());           // not in the block; rebroadcast after it
    CHECK(f.chain.mempoolHashes() == hashes);
    auto outcomes = f.block();
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].kind == TxOutcomeKind::kIncluded);
    CHECK(outcomes[0].txHash == hashes[0]);
    CHECK(f.chain.broadcastHashes().size() == 1);
    CHECK(f.metric("sm_tx_broadcasts_total{kind=\"rebroadcast\"}") == "1");
  }

  TEST_CASE("a rebroadcast of a tx still in the node's cache changes nothing") {
    Fixture f;
    f.look();
    REQUIRE(f.submitter->submit(f.request("r")).ok());
    f.submitter->waitIdle();
    auto kept = f.chain.mempoolHashes();
    REQUIRE(kept.size() == 1);
    // A block passes without the tx; the node still holds it.
    std::int64_t h = f.chain.emptyBlock();
    CHECK(f.submitter->onBlock(h, 0).empty());  // rebroadcast: "tx already exists in cache"
    CHECK(f.chain.broadcasts() == 2);
    CHECK(f.chain.mempoolHashes() == kept);
    auto outcomes = f.block();
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].kind == TxOutcomeKind::kIncluded);
    CHECK(outcomes[0].txHash == kept[0]);
    CHECK(f.chain.broadcastHashes().size() == 1);
  }

  TEST_CASE("sequence mismatch after a tx sent outside the submitter: resync to the expected "
            "sequence and resend") {
    Fixture f;
    f.look();
    REQUIRE(f.submitter->submit(f.request("first")).ok());
    REQUIRE(f.block().size() == 1);  // sequence 0 used; the submitter expects 1 next
    f.chain.externalTx(f.address);   // another client used sequence 1
    REQUIRE(f.submitter->submit(f.request("second")).ok());
    f.submitter->waitIdle();
    auto outcomes = f.block();
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].kind == TxOutcomeKind::kIncluded);
    CHECK(f.chain.indexed(outcomes[0].txHash)->sequence == 2);
    CHECK(f.metric("sm_tx_sequence_recoveries_total") == "1");
  }

  TEST_CASE("claims and proofs of one signer are in the mempool together with consecutive "
            "sequences") {
    Fixture f;
    f.look();
    for (int i = 0; i < 3; ++i) REQUIRE(f.submitter->submit(f.request(fmt::format("r{}", i))).ok());
    f.submitter->waitIdle();
    CHECK(f.chain.mempoolSize() == 3);
    auto outcomes = f.block();
    REQUIRE(outcomes.size() == 3);
    std::set<std::uint64_t> sequences;
    for (const auto& o : outcomes) {
      CHECK(o.kind == TxOutcomeKind::kIncluded);
      sequences.insert(f.chain.indexed(o.txHash)->sequence);
    }
    CHECK(sequences == std::set<std::uint64_t>{0, 1, 2});
  }

  TEST_CASE("a tx whose sequence was taken by another is signed again, never twice in a block") {
    Fixture f;
    f.look();
    REQUIRE(f.submitter->submit(f.request("r")).ok());
    f.submitter->waitIdle();
    auto first = f.chain.mempoolHashes().at(0);
    f.chain.drop(first);
    f.chain.externalTx(f.address);  // sequence 0 consumed elsewhere
    CHECK(f.block().empty());       // seen once: sequence passed, tx not found
    CHECK(f.block().empty());       // seen twice: signed again at sequence 1
    auto outcomes = f.block();
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].kind == TxOutcomeKind::kIncluded);
    CHECK(outcomes[0].txHash != first);
    CHECK(f.chain.indexed(outcomes[0].txHash)->sequence == 1);
    CHECK(f.chain.landed(f.chain.broadcastHashes()) == 1);
    CHECK(f.metric("sm_tx_broadcasts_total{kind=\"resign\"}") == "1");
  }

  TEST_CASE("a tx in a block with a sequence mismatch consumed nothing: signed again") {
    Fixture f;
    f.look();
    REQUIRE(f.submitter->submit(f.request("a")).ok());
    REQUIRE(f.submitter->submit(f.request("b")).ok());
    f.submitter->waitIdle();
    auto hashes = f.chain.mempoolHashes();
    REQUIRE(hashes.size() == 2);
    f.chain.drop(hashes[0]);  // b (sequence 1) reaches the block without a (sequence 0)
    CHECK(f.block().empty());
    CHECK(f.chain.indexed(hashes[1]));  // in the block, code 32
    auto outcomes = f.block();         // a rebroadcast, b signed again at sequence 1
    REQUIRE(outcomes.size() == 2);
    for (const auto& o : outcomes) CHECK(o.kind == TxOutcomeKind::kIncluded);
    CHECK(f.chain.landed(f.chain.broadcastHashes()) == 2);
  }

  TEST_CASE("failure kinds: failed in block, window closed, expired, out of funds") {
    SUBCASE("a message failing in the block consumes the fee") {
      Fixture f;
      f.look();
      f.chain.failMessages(true);
      REQUIRE(f.submitter->submit(f.request("r")).ok());
      f.submitter->waitIdle();
      auto outcomes = f.block();
      REQUIRE(outcomes.size() == 1);
      CHECK(outcomes[0].kind == TxOutcomeKind::kFailedInBlock);
      CHECK(outcomes[0].code == 1);
      CHECK(outcomes[0].codespace == "undefined");
      CHECK(outcomes[0].feeUpokt == 1200);
      CHECK(outcomes[0].reason.find("claim window") != std::string::npos);
      CHECK(f.metric("sm_txs_total{outcome=\"failed_in_block\",reason=\"message_failed\"}") == "1");
    }
    SUBCASE("a window the submitter knows is closed: expired without a broadcast") {
      Fixture f;
      f.look();
      REQUIRE(f.submitter->submit(f.request("r", 5)).ok());
      f.submitter->waitIdle();
      auto outcome = f.submitter->outcome("r");
      REQUIRE(outcome);
      CHECK(outcome->kind == TxOutcomeKind::kExpired);
      CHECK(outcome->reason.rfind("window closed", 0) == 0);
      CHECK(f.chain.broadcasts() == 0);
      CHECK(f.look().size() == 1);
    }
    SUBCASE("a timeout height the node says has passed is refused for good") {
      Fixture f;
      f.look();  // the submitter knows height 10; the chain moves on without telling it
      for (int i = 0; i < 5; ++i) f.chain.emptyBlock();
      REQUIRE(f.submitter->submit(f.request("r", 12)).ok());
      f.submitter->waitIdle();
      auto outcome = f.submitter->outcome("r");
      REQUIRE(outcome);
      CHECK(outcome->kind == TxOutcomeKind::kRejected);
      CHECK(outcome->code == 30);
      CHECK(outcome->reason.rfind("window closed", 0) == 0);
      CHECK(outcome->feeUpokt == 0);
      CHECK(f.look().size() == 1);
      CHECK(f.metric("sm_txs_total{outcome=\"rejected\",reason=\"window_closed\"}") == "1");
    }
    SUBCASE("not included by the timeout height") {
      Fixture f;
      f.look();
      REQUIRE(f.submitter->submit(f.request("r", 12)).ok());
      f.submitter->waitIdle();
      std::vector<sm::TxOutcome> outcomes;
      for (int i = 0; i < 4 && outcomes.empty(); ++i) {
        f.chain.dropAll();  // the node keeps losing it
        outcomes = f.block();
      }
      REQUIRE(outcomes.size() == 1);
      CHECK(f.chain.height() == 13);
      CHECK(outcomes[0].kind == TxOutcomeKind::kExpired);
      CHECK(outcomes[0].reason.find("timeout height 12 passed at height 13") != std::string::npos);
      CHECK(f.chain.broadcastHashes().size() == 1);  // only ever the same bytes
    }
    SUBCASE("out of funds is loud and final") {
      Fixture f;
      f.chain.setBalance(f.address, 10);
      f.look();
      REQUIRE(f.submitter->submit(f.request("r")).ok());
      f.submitter->waitIdle();
      auto outcome = f.submitter->outcome("r");
      REQUIRE(outcome);
      CHECK(outcome->kind == TxOutcomeKind::kRejected);
      CHECK(outcome->code == 5);
      CHECK(outcome->reason.rfind("out of funds", 0) == 0);
      CHECK(f.metric("sm_txs_total{outcome=\"rejected\",reason=\"out_of_funds\"}") == "1");
    }
  }

  TEST_CASE("a signer whose account does not exist: refused with the reason, loudly") {
    Fixture f;
    auto stranger = keyOf("never-funded");
    f.start({f.supplier, stranger});
    f.look();
    auto r = f.request("r");
    r.signer = stranger.publicKey().address();
    REQUIRE(f.submitter->submit(r).ok());
    f.submitter->waitIdle();
    auto outcome = f.submitter->outcome("r");
    REQUIRE(outcome);
    CHECK(outcome->kind == TxOutcomeKind::kRejected);
    CHECK(outcome->code == 9);
    CHECK(outcome->reason.find("does not exist") != std::string::npos);
    CHECK(f.metric("sm_txs_total{outcome=\"rejected\",reason=\"no_account\"}") == "1");
    CHECK(f.chain.broadcasts() == 0);
  }

  TEST_CASE("the node down: nothing is decided, the next block tries again") {
    Fixture f;
    f.look();
    f.chain.setDown(true);
    REQUIRE(f.submitter->submit(f.request("r")).ok());
    f.submitter->waitIdle();
    CHECK(f.look().empty());
    CHECK(f.chain.mempoolSize() == 0);
    f.chain.setDown(false);
    f.look();
    CHECK(f.chain.mempoolSize() == 1);
    auto outcomes = f.block();
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].kind == TxOutcomeKind::kIncluded);
  }

  TEST_CASE("restart with a tx in flight: found by its recorded hash, never sent as a new tx") {
    Fixture f;
    f.look();
    REQUIRE(f.submitter->submit(f.request("r")).ok());
    f.submitter->waitIdle();
    auto hash = f.chain.mempoolHashes().at(0);

    SUBCASE("it lands while the submitter is down") {
      f.submitter.reset();  // the process ends with the tx in the mempool
      f.chain.commitBlock();
      f.start();
      CHECK(f.submitter->records().at(0).state == "broadcast");
      REQUIRE(f.submitter->submit(f.request("r")).ok());  // the lifecycle re-submits: no-op
      auto outcomes = f.look();
      REQUIRE(outcomes.size() == 1);
      CHECK(outcomes[0].kind == TxOutcomeKind::kIncluded);
      CHECK(outcomes[0].txHash == hash);
      CHECK(f.chain.broadcasts() == 1);
    }
    SUBCASE("it was lost while the submitter was down: the same bytes are rebroadcast") {
      f.submitter.reset();
      f.chain.dropAll();
      f.chain.commitBlock();
      f.start();
      REQUIRE(f.submitter->submit(f.request("r")).ok());
      CHECK(f.look().empty());
      CHECK(f.chain.mempoolHashes() == std::vector<std::string>{hash});
      auto outcomes = f.block();
      REQUIRE(outcomes.size() == 1);
      CHECK(outcomes[0].txHash == hash);
      CHECK(f.chain.broadcastHashes().size() == 1);
    }
    SUBCASE("a decided outcome survives the restart") {
      REQUIRE(f.block().size() == 1);
      f.start();
      auto outcome = f.submitter->outcome("r");
      REQUIRE(outcome);
      CHECK(outcome->kind == TxOutcomeKind::kIncluded);
      CHECK(outcome->txHash == hash);
      CHECK(f.look().empty());  // already reported before the restart
      f.submitter->forget("r");
      CHECK(!f.submitter->outcome("r"));
      f.start();
      CHECK(f.submitter->records().empty());
    }
  }

  TEST_CASE("fee estimate: fallback per message, then gas observed in blocks, at the node's "
            "price") {
    Fixture f;
    // 100,000 gas per message × 3 × 1.5 at the fallback price 0.01.
    CHECK(f.submitter->estimateFeeUpokt(protocol::kMsgCreateClaimTypeUrl, 3) == 4500);
    f.chain.setGasPrice("0.02upokt");
    f.look();
    CHECK(f.submitter->gasPrice().text() == "0.02upokt");
    REQUIRE(f.submitter->submit(f.request("r", 30, 2)).ok());
    f.submitter->waitIdle();
    REQUIRE(f.block().size() == 1);
    // 80,000 gas used by a 2-message tx: 40,000 per message.
    CHECK(f.submitter->estimateFeeUpokt(protocol::kMsgCreateClaimTypeUrl, 3) ==
          3600);  // 40000 × 3 × 1.5 × 0.02
    CHECK(f.submitter->estimateFeeUpokt(protocol::kMsgSubmitProofTypeUrl, 1) == 3000);
  }

  TEST_CASE("many signers are broadcast in parallel and all land in the next block") {
    Fixture f;
    std::vector<crypto::PrivateKey> keys;
    for (int i = 0; i < 40; ++i) {
      keys.push_back(keyOf(fmt::format("supplier-{}", i)));
      f.chain.addAccount(keys.back().publicKey().address(), 100 + i);
    }
    f.start(keys);
    f.look();
    for (int i = 0; i < 40; ++i) {
      auto r = f.request(fmt::format("claim/{}", i));
      r.signer = keys[i].publicKey().address();
      REQUIRE(f.submitter->submit(r).ok());
    }
    f.submitter->waitIdle();
    CHECK(f.chain.mempoolSize() == 40);
    auto outcomes = f.block();
    CHECK(outcomes.size() == 40);
    for (const auto& o : outcomes) CHECK(o.kind == TxOutcomeKind::kIncluded);
  }

  TEST_CASE("transactions: keys in session-manager.yaml, validated with their key path") {
    const std::string base = R"(
link: {bind: "tcp://127.0.0.1:7400", plaintext: true}
suppliers: [{key_file: /etc/sm/supplier.key}]
chain: {rpc_url: "http://127.0.0.1:26657", chain_id: pocket}
)";
    auto defaults = sm::parseConfig(base);
    CHECK(defaults.transactions.gasPrice == "0.000001");
    CHECK(defaults.transactions.gasAdjustment == 1.5);
    CHECK(defaults.transactions.gasLimit == 0);
    CHECK(defaults.transactions.broadcastWorkers == 8);
    CHECK(defaults.transactions.rebroadcastIntervalBlocks == 1);

    auto c = sm::parseConfig(base + R"(
transactions:
  gas_price: "0.01upokt"
  gas_adjustment: 1.2
  gas_limit: 500000
  broadcast_workers: 16
  rebroadcast_interval_blocks: 2
  fallback_gas_per_message: 70000
)");
    CHECK(c.transactions.gasPrice == "0.01upokt");
    CHECK(c.transactions.gasAdjustment == 1.2);
    CHECK(c.transactions.gasLimit == 500000);
    CHECK(c.transactions.broadcastWorkers == 16);
    CHECK(c.transactions.rebroadcastIntervalBlocks == 2);
    CHECK(c.transactions.fallbackGasPerMessage == 70000);

    auto errorOf = [&](const std::string& extra) -> std::string {
      try {
        sm::parseConfig(base + extra);
      } catch (const sm::ConfigError& e) {
        return e.what();
      }
      return "";
    };
    CHECK(errorOf("transactions: {gas_price: 1uatom}").rfind("transactions.gas_price: ", 0) == 0);
    CHECK(errorOf("transactions: {gas_adjustment: 0.5}").rfind("transactions.gas_adjustment: ", 0) ==
          0);
    CHECK(errorOf("transactions: {gas_adjustment: abc}").rfind("transactions.gas_adjustment: ", 0) ==
          0);
    CHECK(errorOf("transactions: {broadcast_workers: 0}")
              .rfind("transactions.broadcast_workers: ", 0) == 0);
    CHECK(errorOf("transactions: {rebroadcast_interval_blocks: 0}")
              .rfind("transactions.rebroadcast_interval_blocks: ", 0) == 0);
    CHECK(errorOf("transactions: {gas: 5}").rfind("transactions.gas: unknown key", 0) == 0);
  }
}
