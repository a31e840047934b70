// The claim and proof lifecycle against a fake chain and a fake transaction submitter, over a real
// session store: transitions and their persistence, one tx per supplier per window, the proof
// requirement and proofs that verify against the claimed root, the profitability gate, chain
// outages, tx failures, settlement read-back, retention, and restarts that resubmit in-flight txs
// under the same id (docs/architecture.md §7).

#include <doctest.h>

#include <set>

#include "common/crypto/keys.h"
#include "common/protocol/proto_bytes.h"
#include "common/protocol/tx.h"
#include "common/smst/gob.h"
#include "common/smst/proof.h"
#include "common/smst/store.h"
#include "common/util/hex.h"
#include "pocket/proof/tx.pb.h"
#include "session-manager/lifecycle.h"
#include "session-manager/lifecycle_chain.h"
#include "session-manager/session_store.h"
#include "test/link/test_support.h"
#include "test/session-manager/sm_test_support.h"
#include "test/support/process.h"

using namespace pocket;

namespace {

std::string addressOf(std::uint8_t seed) {
  util::Bytes secret(32, seed);
  return crypto::PrivateKey::fromSecret(secret).publicKey().address();
}

const std::string kSupplierA = addressOf(1);
const std::string kSupplierB = addressOf(2);
const std::string kApplication = addressOf(3);

// Session 0 of makeSession: blocks 11..20; genesis windows: claim 22..26, proof 26..30.
constexpr std::int64_t kClaimOpen = 22;
constexpr std::int64_t kClaimClose = 26;
constexpr std::int64_t kProofOpen = 26;
constexpr std::int64_t kProofClose = 30;

sm::SessionFacts sessionOf(int index, const std::vector<std::string>& suppliers) {
  sm::SessionFacts facts = test::makeSession(index);
  facts.header.applicationAddress = kApplication;
  facts.supplierOperatorAddresses = suppliers;
  return facts;
}

class FakeLifecycleChain final : public sm::LifecycleChain {
 public:
  util::Result<sm::SessionFacts> session(const std::string& app, const std::string& service,
                                         std::int64_t start) override {
    if (!available) return util::makeError(std::string(sm::kChainUnavailable), "node down");
    for (const auto& s : sessions) {
      if (s.header.applicationAddress == app && s.header.serviceId == service &&
          s.header.sessionStartBlockHeight == start) {
        return s;
      }
    }
    return util::makeError(std::string(sm::kChainNotFound), "no such session");
  }
  util::Result<util::Bytes> blockHash(std::int64_t height) override {
    if (!available) return util::makeError(std::string(sm::kChainUnavailable), "node down");
    hashesRead.push_back(height);
    return util::Bytes(32, static_cast<std::uint8_t>(height));
  }
  util::Result<sm::ProofFacts> proofFacts() override {
    if (!available) return util::makeError(std::string(sm::kChainUnavailable), "node down");
    return proof;
  }
  util::Result<std::uint64_t> spendableUpokt(const std::string&) override {
    if (!available) return util::makeError(std::string(sm::kChainUnavailable), "node down");
    return balance;
  }
  util::Result<std::vector<sm::SettlementEvent>> settlements(std::int64_t height) override {
    if (!available) return util::makeError(std::string(sm::kChainUnavailable), "node down");
    return events[height];
  }

  bool available = true;
  std::vector<sm::SessionFacts> sessions;
  sm::ProofFacts proof;
  std::uint64_t balance = 1'000'000'000;
  std::map<std::int64_t, std::vector<sm::SettlementEvent>> events;
  std::vector<std::int64_t> hashesRead;
};

// Records what it is given; outcomes are decided by the test.
class FakeSubmitter final : public sm::TxSubmitter {
 public:
  util::Status submit(const sm::TxRequest& request) override {
    submits.push_back(request);
    if (known.count(request.id) != 0) return util::Ok{};
    known.insert(request.id);
    requests.push_back(request);
    return util::Ok{};
  }
  std::vector<sm::TxOutcome> onBlock(std::int64_t height, std::int64_t) override {
    heights.push_back(height);
    auto out = std::move(pending);
    pending.clear();
    for (const auto& o : out) decided[o.id] = o;
    return out;
  }
  std::optional<sm::TxOutcome> outcome(const std::string& id) const override {
    auto it = decided.find(id);
    if (it == decided.end()) return std::nullopt;
    return it->second;
  }
  std::uint64_t estimateFeeUpokt(std::string_view typeUrl, std::size_t count) const override {
    return (typeUrl == protocol::kMsgCreateClaimTypeUrl ? claimFee : proofFee) * count;
  }
  void forget(const std::string& id) override { forgotten.insert(id); }

  // Decides `id` at the next onBlock.
  void decide(const std::string& id, sm::TxOutcomeKind kind, std::int64_t height,
              std::uint64_t fee = 10) {
    sm::TxOutcome o;
    o.id = id;
    o.kind = kind;
    o.txHash = "AB" + std::to_string(height);
    o.height = height;
    o.feeUpokt = kind == sm::TxOutcomeKind::kRejected ? 0 : fee;
    if (kind != sm::TxOutcomeKind::kIncluded) {
      o.code = 1;
      o.codespace = "undefined";
      o.reason = "failed for the test";
    }
    pending.push_back(o);
  }

  std::vector<sm::TxRequest> submits;   // every call
  std::vector<sm::TxRequest> requests;  // new ids only
  std::set<std::string> known;
  std::vector<sm::TxOutcome> pending;
  std::map<std::string, sm::TxOutcome> decided;
  std::set<std::string> forgotten;
  std::vector<std::int64_t> heights;
  std::uint64_t claimFee = 10;
  std::uint64_t proofFee = 20;
};

struct Harness {
  Harness() {
    chain.sessions = {sessionOf(0, {kSupplierA, kSupplierB}), sessionOf(1, {kSupplierA, kSupplierB})};
    chain.proof.params.proofRequestProbability = 1.0;
    chain.proof.params.proofRequirementThresholdUpokt = 1'000'000'000;
    chain.proof.proofSubmissionFeeUpokt = 5;
    open();
  }
  ~Harness() { close(); }

  void open() {
    metrics = std::make_unique<util::MetricsRegistry>();
    store = std::make_unique<sm::SessionStore>(dir.path() + "/store", log.sink(), *metrics);
    lifecycle = std::make_unique<sm::Lifecycle>(
        options, *store, chain, submitter, [](std::function<void()> task) { task(); },
        log.sink(), *metrics);
  }
  void close() {
    lifecycle.reset();
    store.reset();
    metrics.reset();
  }
  void reopen() {
    close();
    open();
  }

  // `count` relays of session `index` for `supplier`, made durable as the ingest would.
  void mine(int index, const std::string& supplier, int count, int from = 0) {
    sm::SessionFacts facts = sessionOf(index, {kSupplierA, kSupplierB});
    sm::TreeInfo info;
    info.supplierOperatorAddress = supplier;
    info.header = facts.header;
    info.computeUnitsPerRelay = facts.computeUnitsPerRelay;
    auto windows = protocol::sessionWindows(facts.windowParams, facts.header.sessionEndBlockHeight);
    info.claimWindowOpen = windows->claimWindowOpen;
    info.proofWindowClose = windows->proofWindowClose;
    sm::WriteSet changes;
    for (int n = from; n < from + count; ++n) {
      auto relay = test::makeRelay(n, facts, supplier);
      crypto::Hash32 hash;
      std::copy(relay.relayHash.begin(), relay.relayHash.end(), hash.begin());
      changes.addRelay(info, hash, relay.relayBytes, relay.computeUnits);
    }
    store->write(changes);
  }

  // `count` sessions of supplier A ending with session 0 (services svc0.., ids 'k'..), one relay
  // each: the sessions of one claim window. Five apps would be needed on a real chain; here
  // several services of session 0's grid.
  void mineSameWindow(int count) {
    for (int i = 0; i < count; ++i) {
      sm::SessionFacts facts = sessionOf(0, {kSupplierA});
      facts.header.serviceId = "svc" + std::to_string(i);
      facts.header.sessionId = std::string(64, static_cast<char>('k' + i));
      chain.sessions.push_back(facts);
      sm::TreeInfo info;
      info.supplierOperatorAddress = kSupplierA;
      info.header = facts.header;
      info.computeUnitsPerRelay = 7;
      info.claimWindowOpen = kClaimOpen;
      info.proofWindowClose = kProofClose;
      sm::WriteSet changes;
      auto relay = test::makeRelay(i, facts, kSupplierA);
      crypto::Hash32 hash;
      std::copy(relay.relayHash.begin(), relay.relayHash.end(), hash.begin());
      changes.addRelay(info, hash, relay.relayBytes, 7);
      store->write(changes);
    }
  }
  // The record of mineSameWindow's session `i`.
  sm::SessionRecord sameWindow(int i) {
    std::string id(64, static_cast<char>('k' + i));
    for (const auto& r : lifecycle->sessions()) {
      if (r.info.header.sessionId == id) return r;
    }
    FAIL("no record for same-window session ", i);
    return {};
  }

  void step(std::int64_t height) { lifecycle->step(height, height * 1000); }
  void stepThrough(std::int64_t from, std::int64_t to) {
    for (std::int64_t h = from; h <= to; ++h) step(h);
  }

  const sm::SessionRecord& record(int index, const std::string& supplier) {
    static sm::SessionRecord copy;
    std::string id(64, static_cast<char>('a' + index));
    for (const auto& r : lifecycle->sessions()) {
      if (r.info.supplierOperatorAddress == supplier && r.info.header.sessionId == id) {
        copy = r;
        return copy;
      }
    }
    FAIL("no record for session ", index, " of ", supplier);
    return copy;
  }
  std::string state(int index, const std::string& supplier) { return record(index, supplier).state; }

  std::uint64_t metric(const std::string& line) {
    std::string text = metrics->render();
    auto at = text.find("\n" + line + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + line.size() + 2));
  }

  pocket::testing::TempDir dir;
  test::CapturedLog log;
  FakeLifecycleChain chain;
  FakeSubmitter submitter;
  sm::LifecycleOptions options;
  std::unique_ptr<util::MetricsRegistry> metrics;
  std::unique_ptr<sm::SessionStore> store;
  std::unique_ptr<sm::Lifecycle> lifecycle;
};

std::vector<proof::MsgCreateClaim> claimsOf(const sm::TxRequest& request) {
  std::vector<proof::MsgCreateClaim> out;
  for (const auto& m : request.messages) {
    REQUIRE(m.typeUrl == protocol::kMsgCreateClaimTypeUrl);
    proof::MsgCreateClaim msg;
    REQUIRE(msg.ParseFromArray(m.value.data(), static_cast<int>(m.value.size())));
    out.push_back(msg);
  }
  return out;
}

std::vector<proof::MsgSubmitProof> proofsOf(const sm::TxRequest& request) {
  std::vector<proof::MsgSubmitProof> out;
  for (const auto& m : request.messages) {
    REQUIRE(m.typeUrl == protocol::kMsgSubmitProofTypeUrl);
    proof::MsgSubmitProof msg;
    REQUIRE(msg.ParseFromArray(m.value.data(), static_cast<int>(m.value.size())));
    out.push_back(msg);
  }
  return out;
}

}  // namespace

TEST_CASE("lifecycle: two suppliers are claimed, proven and settled, one tx each per window") {
  Harness h;
  h.mine(0, kSupplierA, 3);
  h.mine(0, kSupplierB, 2);
  h.step(15);
  CHECK(h.state(0, kSupplierA) == "open");
  h.step(kClaimOpen - 1);
  CHECK(h.submitter.requests.empty());

  h.step(kClaimOpen);
  CHECK(h.state(0, kSupplierA) == "claim_submitted");
  CHECK(h.state(0, kSupplierB) == "claim_submitted");
  REQUIRE(h.submitter.requests.size() == 2);
  std::map<std::string, sm::TxRequest> bySigner;
  for (const auto& r : h.submitter.requests) bySigner[r.signer] = r;
  const sm::TxRequest& claimA = bySigner.at(kSupplierA);
  CHECK(claimA.id == "claim/" + kSupplierA + "/22/0");
  CHECK(claimA.timeoutHeight == kClaimClose);
  auto claims = claimsOf(claimA);
  REQUIRE(claims.size() == 1);
  // The claimed root is the flushed tree's, with the relays' sum and count.
  auto rootA = h.record(0, kSupplierA).rootHex;
  CHECK(util::toHex(util::toBytes(claims[0].root_hash())) == rootA);
  CHECK(h.record(0, kSupplierA).relays == 3);
  CHECK(h.record(0, kSupplierA).computeUnits == 21);
  CHECK(h.record(0, kSupplierA).claimedUpokt == "882");  // 21 CU × 42 uPOKT
  CHECK(claims[0].session_header().session_id() == std::string(64, 'a'));

  // Relays arriving after the flush cannot change the claimed root.
  CHECK(h.store->isFlushed(sm::treeKey(kSupplierA, std::string(64, 'a'))));

  h.submitter.decide(claimA.id, sm::TxOutcomeKind::kIncluded, kClaimOpen + 1);
  h.submitter.decide(bySigner.at(kSupplierB).id, sm::TxOutcomeKind::kIncluded, kClaimOpen + 1);
  h.step(kClaimOpen + 1);
  CHECK(h.state(0, kSupplierA) == "claimed");
  CHECK(h.record(0, kSupplierA).claimTxHash == "AB23");
  CHECK(h.record(0, kSupplierA).claimTxHeight == kClaimOpen + 1);

  h.stepThrough(kClaimOpen + 2, kProofOpen - 1);
  CHECK(h.state(0, kSupplierA) == "claimed");
  h.step(kProofOpen);
  // The seed is exactly block proofWindowOpen − 1.
  CHECK(h.chain.hashesRead.front() == kProofOpen - 1);
  CHECK(h.state(0, kSupplierA) == "proof_submitted");
  CHECK(h.record(0, kSupplierA).proofRequirement == "PROBABILISTIC");
  REQUIRE(h.submitter.requests.size() == 4);
  const sm::TxRequest* proofA = nullptr;
  for (const auto& r : h.submitter.requests) {
    if (r.signer == kSupplierA && r.id.starts_with("proof/")) proofA = &r;
  }
  REQUIRE(proofA != nullptr);
  CHECK(proofA->id == "proof/" + kSupplierA + "/26/0");
  CHECK(proofA->timeoutHeight == kProofClose);
  auto proofs = proofsOf(*proofA);
  REQUIRE(proofs.size() == 1);
  // The proof decodes and verifies against the claimed root, on the path from the seed block.
  auto decoded = smst::decodeSparseCompactMerkleClosestProof(util::toBytes(proofs[0].proof()));
  REQUIRE(decoded.ok());
  auto root = util::fromHex(rootA);
  CHECK(smst::verifyCompactClosestProof(*decoded, *root, smst::ValueHasher::none).ok());
  auto path = protocol::proofPath(util::Bytes(32, kProofOpen - 1), std::string(64, 'a'));
  CHECK(decoded->path == util::Bytes(path.begin(), path.end()));

  for (const auto& r : h.submitter.requests) {
    if (r.id.starts_with("proof/")) {
      h.submitter.decide(r.id, sm::TxOutcomeKind::kIncluded, kProofOpen + 1);
    }
  }
  h.step(kProofOpen + 1);
  CHECK(h.state(0, kSupplierA) == "proven");

  sm::SettlementEvent settledA{kSupplierA, kApplication, "svc", 20, true, 882, ""};
  sm::SettlementEvent expiredB{kSupplierB, kApplication, "svc", 20, false, 0, "PROOF_INVALID"};
  h.chain.events[kProofClose] = {settledA, expiredB};
  h.stepThrough(kProofOpen + 2, kProofClose);
  CHECK(h.state(0, kSupplierA) == "settled");
  CHECK(h.record(0, kSupplierA).settledUpokt == 882);
  CHECK(h.record(0, kSupplierA).feesUpokt == 20);
  CHECK(h.state(0, kSupplierB) == "expired");
  CHECK(h.record(0, kSupplierB).reasonCode == "proof_invalid");
  CHECK(h.metric("sm_settled_upokt_total") == 882);
  CHECK(h.log.contains("event=session_state state=settled"));
  CHECK(h.log.contains("supplier=" + kSupplierA));

  // Retention: after retention_blocks the tree, its record and the submitter's records go.
  h.step(kProofClose + h.options.retentionBlocks - 1);
  CHECK(h.lifecycle->sessions().size() == 2);
  h.step(kProofClose + h.options.retentionBlocks);
  CHECK(h.lifecycle->sessions().empty());
  CHECK(h.store->summaries().empty());
  CHECK(h.store->lifecycleRecords().empty());
  CHECK(h.submitter.forgotten.count(claimA.id) == 1);
}

TEST_CASE("lifecycle: a session whose proof is not required is not proven") {
  Harness h;
  h.chain.proof.params.proofRequestProbability = 0;
  h.mine(0, kSupplierA, 2);
  h.step(kClaimOpen);
  REQUIRE(h.submitter.requests.size() == 1);
  h.submitter.decide(h.submitter.requests[0].id, sm::TxOutcomeKind::kIncluded, kClaimOpen);
  h.step(kClaimOpen + 1);
  h.step(kProofOpen);
  CHECK(h.state(0, kSupplierA) == "proof_not_required");
  CHECK(h.record(0, kSupplierA).proofRequirement == "NOT_REQUIRED");
  CHECK(h.submitter.requests.size() == 1);
  h.chain.events[kProofClose] = {{kSupplierA, kApplication, "svc", 20, true, 588, ""}};
  h.step(kProofClose);
  CHECK(h.state(0, kSupplierA) == "settled");
}

TEST_CASE("lifecycle: the threshold requires a proof whatever the probability") {
  Harness h;
  h.chain.proof.params.proofRequestProbability = 0;
  h.chain.proof.params.proofRequirementThresholdUpokt = 100;
  h.mine(0, kSupplierA, 3);  // 882 uPOKT
  h.step(kClaimOpen);
  h.submitter.decide(h.submitter.requests[0].id, sm::TxOutcomeKind::kIncluded, kClaimOpen);
  h.step(kClaimOpen + 1);
  h.step(kProofOpen);
  CHECK(h.state(0, kSupplierA) == "proof_submitted");
  CHECK(h.record(0, kSupplierA).proofRequirement == "THRESHOLD");
}

TEST_CASE("lifecycle: unprofitable claims are skipped unless the gate is off") {
  SUBCASE("gate on") {
    Harness h;
    h.submitter.claimFee = 1000;  // more than the 294 uPOKT one relay earns
    h.mine(0, kSupplierA, 1);
    h.mine(1, kSupplierA, 1);
    h.step(kClaimOpen);
    CHECK(h.state(0, kSupplierA) == "skipped_unprofitable");
    CHECK(h.record(0, kSupplierA).reasonCode == "unprofitable");
    CHECK(h.submitter.requests.empty());
    CHECK(h.log.contains("reason_code=unprofitable"));
    CHECK(h.metric("sm_claims_total{outcome=\"skipped_unprofitable\",reason=\"unprofitable\"}") ==
          1);
  }
  SUBCASE("gate off") {
    Harness h;
    h.options.profitabilityGate = false;
    h.reopen();
    h.submitter.claimFee = 1000;
    h.mine(0, kSupplierA, 1);
    h.step(kClaimOpen);
    CHECK(h.state(0, kSupplierA) == "claim_submitted");
  }
  SUBCASE("the chance of a proof counts") {
    Harness h;
    h.submitter.claimFee = 10;
    h.submitter.proofFee = 1000;  // + 5 submission fee, weighted by probability 1
    h.mine(0, kSupplierA, 1);
    h.step(kClaimOpen);
    CHECK(h.state(0, kSupplierA) == "skipped_unprofitable");
  }
}

TEST_CASE("lifecycle: a low balance is warned about and measured") {
  Harness h;
  h.chain.balance = 3;
  h.mine(0, kSupplierA, 2);
  h.step(kClaimOpen);
  CHECK(h.log.contains("event=supplier_balance_low"));
  CHECK(h.metric("sm_supplier_balance_short{supplier=\"" + kSupplierA + "\"}") == 1);
}

TEST_CASE("lifecycle: sessions of one window share a tx; large batches are split") {
  Harness h;
  h.options.maxMessageBytesPerTx = 600;  // about two claims per tx
  h.reopen();
  h.mineSameWindow(5);
  h.step(kClaimOpen);
  REQUIRE(h.submitter.requests.size() >= 2);
  std::size_t messages = 0;
  for (std::size_t p = 0; p < h.submitter.requests.size(); ++p) {
    CHECK(h.submitter.requests[p].id == "claim/" + kSupplierA + "/22/" + std::to_string(p));
    messages += h.submitter.requests[p].messages.size();
  }
  CHECK(messages == 5);
}

TEST_CASE("lifecycle: a chain outage delays the flush; a closed window fails the claim") {
  Harness h;
  h.mine(0, kSupplierA, 1);
  h.chain.available = false;
  h.step(kClaimOpen);
  CHECK(h.state(0, kSupplierA) == "open");
  CHECK(h.log.contains("event=lifecycle_retry"));
  h.chain.available = true;
  h.step(kClaimOpen + 1);
  CHECK(h.state(0, kSupplierA) == "claim_submitted");

  Harness late;
  late.mine(0, kSupplierA, 1);
  late.chain.available = false;
  late.stepThrough(kClaimOpen, kClaimClose);
  late.chain.available = true;
  late.step(kClaimClose + 1);
  // Flushed (the root is fixed) but the window has closed: nothing is sent.
  CHECK(late.state(0, kSupplierA) == "claim_failed");
  CHECK(late.record(0, kSupplierA).reasonCode == "window_closed");
  CHECK(late.submitter.requests.empty());
}

TEST_CASE("lifecycle: windows come from the params at the session end, not from the tree's") {
  Harness h;
  h.mine(0, kSupplierA, 1);  // the tree says claim window open 22
  // A params change before the session ended moved the claim window one block later.
  h.chain.sessions[0].windowParams.claimWindowOpenOffsetBlocks = 2;
  h.step(kClaimOpen);
  CHECK(h.state(0, kSupplierA) == "open");
  CHECK(h.submitter.requests.empty());
  h.step(kClaimOpen + 1);
  CHECK(h.state(0, kSupplierA) == "claim_submitted");
  CHECK(h.record(0, kSupplierA).claimWindowOpen == kClaimOpen + 1);
  CHECK(h.submitter.requests[0].id == "claim/" + kSupplierA + "/23/0");
  CHECK(h.submitter.requests[0].timeoutHeight == kClaimClose + 1);
  // Pricing stays with the params at the session start.
  CHECK(h.record(0, kSupplierA).claimedUpokt == "294");
}

TEST_CASE("lifecycle: a failed claim tx ends the session with the chain's reason") {
  Harness h;
  h.mine(0, kSupplierA, 1);
  h.step(kClaimOpen);
  h.submitter.decide(h.submitter.requests[0].id, sm::TxOutcomeKind::kFailedInBlock, kClaimOpen);
  h.step(kClaimOpen + 1);
  CHECK(h.state(0, kSupplierA) == "claim_failed");
  CHECK(h.record(0, kSupplierA).reasonCode == "tx_failed_in_block");
  CHECK(h.record(0, kSupplierA).reason.find("failed for the test") != std::string::npos);
  CHECK(h.metric("sm_claims_total{outcome=\"failed\",reason=\"tx_failed_in_block\"}") == 1);
  // Nothing landed on chain: no settlement to wait for, the session is over.
  h.step(kProofClose + h.options.retentionBlocks + 1);
  CHECK(h.lifecycle->sessions().empty());
}

TEST_CASE("lifecycle: the message index of a failed batch names its session; the rest is resent") {
  CHECK(sm::failedMessageIndex("failed to execute message; message index: 12: rpc error: x") ==
        std::size_t{12});
  CHECK_FALSE(sm::failedMessageIndex("out of gas").has_value());
  CHECK_FALSE(sm::failedMessageIndex("message index: x").has_value());

  Harness h;
  h.mineSameWindow(3);
  h.step(kClaimOpen);
  REQUIRE(h.submitter.requests.size() == 1);
  const std::string first = "claim/" + kSupplierA + "/22/0";
  REQUIRE(h.submitter.requests[0].id == first);
  REQUIRE(claimsOf(h.submitter.requests[0]).size() == 3);

  // Message 1 (session 'l') fails the whole tx in block 23.
  h.submitter.decide(first, sm::TxOutcomeKind::kFailedInBlock, kClaimOpen + 1, 30);
  h.submitter.pending.back().log =
      "failed to execute message; message index: 1: rpc error: code = InvalidArgument desc = "
      "session ID does not match";
  h.step(kClaimOpen + 1);
  CHECK(h.sameWindow(1).state == "claim_failed");
  CHECK(h.sameWindow(1).reasonCode == "message_rejected");
  CHECK(h.sameWindow(1).reason.find("session ID does not match") != std::string::npos);
  CHECK(h.sameWindow(1).feesUpokt == 10);  // its share of the failed tx's fee
  // The other two are in a new tx (a new id), without the failing message, in the same block.
  REQUIRE(h.submitter.requests.size() == 2);
  const sm::TxRequest& resent = h.submitter.requests[1];
  CHECK(resent.id == first + "/r/0");
  CHECK(resent.timeoutHeight == kClaimClose);
  auto claims = claimsOf(resent);
  REQUIRE(claims.size() == 2);
  CHECK(claims[0].session_header().session_id() == std::string(64, 'k'));
  CHECK(claims[1].session_header().session_id() == std::string(64, 'm'));
  CHECK(h.sameWindow(0).state == "claim_submitted");
  CHECK(h.sameWindow(0).claimTxId == resent.id);
  CHECK(h.log.contains("event=batch_resent kind=claim tx=" + first));
  CHECK(h.log.contains("reason_code=batch_resend"));
  CHECK(h.metric("sm_batch_resends_total{kind=\"claim\"}") == 1);
  CHECK(h.metric("sm_claims_total{outcome=\"failed\",reason=\"message_rejected\"}") == 1);

  // A restart while the resent tx is in flight resubmits it under its id, the same messages.
  h.reopen();
  h.step(kClaimOpen + 2);
  CHECK(h.submitter.requests.size() == 2);
  CHECK(h.submitter.submits.back().id == resent.id);
  CHECK(h.submitter.submits.back().messages.size() == 2);

  h.submitter.decide(resent.id, sm::TxOutcomeKind::kIncluded, kClaimOpen + 3);
  h.step(kClaimOpen + 3);
  CHECK(h.sameWindow(0).state == "claimed");
  CHECK(h.sameWindow(2).state == "claimed");

  // Proofs: both required (probability 1); message 0 fails, the other is resent and proven.
  h.step(kProofOpen);
  REQUIRE(h.submitter.requests.size() == 3);
  const std::string proof = "proof/" + kSupplierA + "/26/0";
  CHECK(h.submitter.requests[2].id == proof);
  REQUIRE(proofsOf(h.submitter.requests[2]).size() == 2);
  h.submitter.decide(proof, sm::TxOutcomeKind::kFailedInBlock, kProofOpen + 1);
  h.submitter.pending.back().log =
      "failed to execute message; message index: 0: rpc error: code = FailedPrecondition desc = "
      "account has 5upokt, but the proof submission fee is 1000000upokt: not enough funds to "
      "submit proof";
  h.step(kProofOpen + 1);
  CHECK(h.sameWindow(0).state == "proof_failed");
  CHECK(h.sameWindow(0).reasonCode == "message_rejected");
  REQUIRE(h.submitter.requests.size() == 4);
  CHECK(h.submitter.requests[3].id == proof + "/r/0");
  auto proofs = proofsOf(h.submitter.requests[3]);
  REQUIRE(proofs.size() == 1);
  CHECK(proofs[0].session_header().session_id() == std::string(64, 'm'));
  CHECK(h.sameWindow(2).state == "proof_submitted");
  CHECK(h.metric("sm_batch_resends_total{kind=\"proof\"}") == 1);

  // A failure that names no message fails every session of the tx, as before.
  h.submitter.decide(proof + "/r/0", sm::TxOutcomeKind::kFailedInBlock, kProofOpen + 2);
  h.step(kProofOpen + 2);
  CHECK(h.sameWindow(2).state == "proof_failed");
  CHECK(h.sameWindow(2).reasonCode == "tx_failed_in_block");
}

TEST_CASE("lifecycle: a batch the node refused for one message; a closed window ends the rest") {
  Harness h;
  h.mineSameWindow(2);
  h.step(kClaimOpen);
  REQUIRE(h.submitter.requests.size() == 1);
  // A full node's simulation runs the messages: refused before any block, the message named.
  h.submitter.decide(h.submitter.requests[0].id, sm::TxOutcomeKind::kRejected, kClaimClose);
  h.submitter.pending.back().log =
      "rpc error: code = Unknown desc = failed to execute message; message index: 0: rpc error";
  h.step(kClaimClose + 1);  // the outcome is learnt after the window closed
  CHECK(h.sameWindow(0).state == "claim_failed");
  CHECK(h.sameWindow(0).reasonCode == "message_rejected");
  CHECK(h.sameWindow(1).state == "claim_failed");
  CHECK(h.sameWindow(0).reason.find("refused by the node before any block") != std::string::npos);
  CHECK(h.sameWindow(1).reasonCode == "window_closed");
  CHECK(h.submitter.requests.size() == 1);
}

TEST_CASE("lifecycle: a required proof that never landed is expired at the window close") {
  Harness h;
  h.mine(0, kSupplierA, 1);
  h.step(kClaimOpen);
  h.submitter.decide(h.submitter.requests[0].id, sm::TxOutcomeKind::kIncluded, kClaimOpen);
  h.step(kClaimOpen + 1);
  h.step(kProofOpen);
  h.submitter.decide(h.submitter.requests[1].id, sm::TxOutcomeKind::kExpired, kProofClose);
  h.chain.events[kProofClose] = {{kSupplierA, kApplication, "svc", 20, false, 0, "PROOF_MISSING"}};
  h.step(kProofClose);
  CHECK(h.log.contains("state=proof_failed"));
  CHECK(h.log.contains("reason_code=tx_expired"));
  CHECK(h.state(0, kSupplierA) == "expired");
  CHECK(h.record(0, kSupplierA).reasonCode == "proof_missing");
}

TEST_CASE("lifecycle: a restart resubmits in-flight txs under the same id, never twice") {
  Harness h;
  h.mine(0, kSupplierA, 2);
  h.mine(0, kSupplierB, 1);
  h.step(kClaimOpen);
  REQUIRE(h.submitter.requests.size() == 2);
  auto root = h.record(0, kSupplierA).rootHex;

  SUBCASE("the submitter never saw the tx (crash between record and submit)") {
    FakeSubmitter fresh;
    h.close();
    h.metrics = std::make_unique<util::MetricsRegistry>();
    h.store = std::make_unique<sm::SessionStore>(h.dir.path() + "/store", h.log.sink(), *h.metrics);
    h.lifecycle = std::make_unique<sm::Lifecycle>(
        h.options, *h.store, h.chain, fresh, [](std::function<void()> task) { task(); },
        h.log.sink(), *h.metrics);
    CHECK(h.state(0, kSupplierA) == "claim_submitted");
    h.step(kClaimOpen + 1);
    REQUIRE(fresh.requests.size() == 2);
    std::set<std::string> ids;
    for (const auto& r : fresh.requests) ids.insert(r.id);
    CHECK(ids.count("claim/" + kSupplierA + "/22/0") == 1);
    CHECK(ids.count("claim/" + kSupplierB + "/22/0") == 1);
    for (const auto& r : fresh.requests) {
      if (r.signer != kSupplierA) continue;
      auto claims = claimsOf(r);
      REQUIRE(claims.size() == 1);
      CHECK(util::toHex(util::toBytes(claims[0].root_hash())) == root);
    }
    h.step(kClaimOpen + 2);
    CHECK(fresh.submits.size() == 2);  // once per restart, not once per block
    h.close();
  }
  SUBCASE("the submitter knows the tx: the resubmission is a no-op") {
    h.reopen();
    h.step(kClaimOpen + 1);
    CHECK(h.submitter.requests.size() == 2);
    CHECK(h.submitter.submits.size() == 4);
  }
  SUBCASE("decided while down: applied at restart") {
    h.submitter.decided[h.submitter.requests[0].id] = {h.submitter.requests[0].id,
                                                       sm::TxOutcomeKind::kIncluded, "CAFE", 23};
    h.reopen();
    h.step(kClaimOpen + 2);
    CHECK(h.record(0, h.submitter.requests[0].signer).state == "claimed");
    CHECK(h.record(0, h.submitter.requests[0].signer).claimTxHash == "CAFE");
  }
}

TEST_CASE("lifecycle: a restart with a proof in flight rebuilds the same proof") {
  Harness h;
  h.mine(0, kSupplierA, 4);
  h.step(kClaimOpen);
  h.submitter.decide(h.submitter.requests[0].id, sm::TxOutcomeKind::kIncluded, kClaimOpen);
  h.step(kClaimOpen + 1);
  h.step(kProofOpen);
  REQUIRE(h.submitter.requests.size() == 2);
  const auto before = h.submitter.requests[1];
  FakeSubmitter fresh;
  h.close();
  h.metrics = std::make_unique<util::MetricsRegistry>();
  h.store = std::make_unique<sm::SessionStore>(h.dir.path() + "/store", h.log.sink(), *h.metrics);
  h.lifecycle = std::make_unique<sm::Lifecycle>(
      h.options, *h.store, h.chain, fresh, [](std::function<void()> task) { task(); },
      h.log.sink(), *h.metrics);
  h.step(kProofOpen + 1);
  REQUIRE(fresh.requests.size() == 1);
  CHECK(fresh.requests[0].id == before.id);
  REQUIRE(fresh.requests[0].messages.size() == 1);
  CHECK(fresh.requests[0].messages[0].value == before.messages[0].value);
  h.close();
}

TEST_CASE("lifecycle: a session without relays has no tree and claims nothing") {
  Harness h;
  h.mine(1, kSupplierA, 1);  // only session 1 (blocks 21..30) has relays
  h.stepThrough(15, kClaimClose);
  CHECK(h.submitter.requests.empty());
  CHECK(h.lifecycle->sessions().size() == 1);
}

TEST_CASE("lifecycle chain: settlement events are read from finalize-block events") {
  chain::Event settled{"pocket.tokenomics.EventClaimSettled",
                       {{"supplier_operator_address", "\"pokt1s\"", true},
                        {"application_address", "\"pokt1a\"", true},
                        {"service_id", "\"svc\"", true},
                        {"session_end_block_height", "\"20\"", true},
                        {"settled_upokt", "\"882upokt\"", true},
                        {"mode", "EndBlock", true}}};
  chain::Event expired{"pocket.tokenomics.EventClaimExpired",
                       {{"supplier_operator_address", "\"pokt1s\"", true},
                        {"application_address", "\"pokt1a\"", true},
                        {"service_id", "\"svc\"", true},
                        {"session_end_block_height", "\"30\"", true},
                        {"expiration_reason", "\"PROOF_MISSING\"", true}}};
  chain::Event other{"pocket.tokenomics.EventSupplierSlashed", {}};
  auto events = sm::settlementEvents({settled, other, expired});
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  CHECK((*events)[0].settled);
  CHECK((*events)[0].settledUpokt == 882);
  CHECK((*events)[0].sessionEnd == 20);
  CHECK((*events)[0].supplier == "pokt1s");
  CHECK_FALSE((*events)[1].settled);
  CHECK((*events)[1].expirationReason == "PROOF_MISSING");

  chain::Event broken{"pocket.tokenomics.EventClaimSettled",
                      {{"session_end_block_height", "\"twenty\"", true}}};
  auto bad = sm::settlementEvents({broken});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == sm::kLifecycleChainBadReply);
  CHECK(bad.error().message.find("session_end_block_height") != std::string::npos);
}

TEST_CASE("store: a flushed tree keeps its root, refuses relays and proves from any thread") {
  pocket::testing::TempDir dir;
  test::CapturedLog log;
  util::MetricsRegistry metrics;
  sm::SessionStore store(dir.path() + "/store", log.sink(), metrics);
  auto facts = sessionOf(0, {kSupplierA});
  sm::TreeInfo info{kSupplierA, facts.header, 7, kClaimOpen, kProofClose};
  sm::WriteSet changes;
  auto relay = test::makeRelay(0, facts, kSupplierA);
  crypto::Hash32 hash;
  std::copy(relay.relayHash.begin(), relay.relayHash.end(), hash.begin());
  changes.addRelay(info, hash, relay.relayBytes, 7);
  store.write(changes);
  std::string tree = sm::treeKey(kSupplierA, facts.header.sessionId);

  auto unflushed = store.proveClosest(tree, util::Bytes(32, 1));
  REQUIRE_FALSE(unflushed.ok());
  CHECK(unflushed.error().code == sm::kStoreNotFlushed);
  auto unknown = store.flushTree("nobody/x");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == sm::kStoreUnknownTree);

  auto root = store.flushTree(tree);
  REQUIRE(root.ok());
  CHECK(store.flushTree(tree)->size() == smst::kDigestSize);
  CHECK(*store.flushTree(tree) == *root);
  auto proof = store.proveClosest(tree, util::Bytes(32, 1));
  REQUIRE(proof.ok());
  CHECK(smst::verifyClosestProof(*proof, *root, smst::ValueHasher::none).ok());

  sm::WriteSet more;
  auto second = test::makeRelay(1, facts, kSupplierA);
  std::copy(second.relayHash.begin(), second.relayHash.end(), hash.begin());
  more.addRelay(info, hash, second.relayBytes, 7);
  CHECK_THROWS_AS(store.write(more), smst::StoreError);
}

TEST_CASE("store: the flushed root and lifecycle records survive a reopen; removal erases them") {
  pocket::testing::TempDir dir;
  test::CapturedLog log;
  auto facts = sessionOf(0, {kSupplierA});
  std::string tree = sm::treeKey(kSupplierA, facts.header.sessionId);
  smst::Digest root{};
  {
    util::MetricsRegistry metrics;
    sm::SessionStore store(dir.path() + "/store", log.sink(), metrics);
    sm::TreeInfo info{kSupplierA, facts.header, 7, kClaimOpen, kProofClose};
    sm::WriteSet changes;
    auto relay = test::makeRelay(0, facts, kSupplierA);
    crypto::Hash32 hash;
    std::copy(relay.relayHash.begin(), relay.relayHash.end(), hash.begin());
    changes.addRelay(info, hash, relay.relayBytes, 7);
    store.write(changes);
    root = *store.flushTree(tree);
    store.putLifecycleRecord(tree, "{\"x\":1}");
  }
  util::MetricsRegistry metrics;
  sm::SessionStore store(dir.path() + "/store", log.sink(), metrics);
  CHECK(store.isFlushed(tree));
  CHECK(*store.flushTree(tree) == root);
  CHECK(store.lifecycleRecords().at(tree) == "{\"x\":1}");
  store.removeTree(tree, "test");
  CHECK(store.lifecycleRecords().empty());
  CHECK_FALSE(store.isFlushed(tree));
  CHECK(log.contains("reason=test"));
}
