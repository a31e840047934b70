// MsgSubmitProof, end-of-block proof validation and settlement on the devnet state. Claims and
// proofs are built from real relays (ring-signed requests, supplier-signed responses) in the
// project's own SMST. Session 1 = blocks 1..10: claim window 12..16, proof window 16..20, proof
// seed block 15, settlement at 20.

#include <doctest.h>

#include <nlohmann/json.hpp>

#include "common/util/hex.h"
#include "pocket/proof/query.pb.h"
#include "test/devnet/state/chain_fixture.h"

using namespace pocket;
using namespace pocket::devnet;
using namespace pocket::devnet::test;

namespace {

struct ProofSetup {
  Actors actors;
  std::unique_ptr<Chain> chain;
  protocol::SessionHeader header;
  SessionTree tree;
  std::string supplier;

  explicit ProofSetup(std::optional<Genesis> genesis = std::nullopt,
                      RelayFault fault = RelayFault::none, int relays = 5) {
    chain = std::make_unique<Chain>(genesis ? *genesis : testGenesis(actors));
    supplier = actors.supplierAddress();
    // The node records a signer's key from its first transaction.
    REQUIRE(chain->state().setPublicKey(supplier, actors.supplier.publicKey()).ok());
    chain->advanceTo(1);
    header = sessionHeaderOf(chain->state(), actors.appAddress(), "anvil", 1);
    for (int i = 0; i < relays; ++i) tree.add(makeRelay(header, actors, i, fault), 1);
  }

  TxOutcome claim(std::int64_t height = 12) {
    return chain->deliverAt(height, {claimMessage(supplier, header, tree.root())}, supplier);
  }
  // The proof for the path seeded by block `seedHeight` (the chain's: 15).
  util::Bytes proofBytes(std::int64_t seedHeight = 15) {
    chain->advanceTo(seedHeight);
    return tree.proofFor(chain->state().blockHash(seedHeight), header.sessionId);
  }
  TxOutcome prove(std::int64_t height, const util::Bytes& proof) {
    return chain->deliverAt(height, {proofMessage(supplier, header, proof)}, supplier);
  }
  const ClaimRecord record() {
    auto claims = chain->state().claims();
    REQUIRE(claims.size() == 1);
    return claims[0];
  }
};

std::string failureReasonAt(Chain& chain, std::int64_t height) {
  const Event* checked = findEvent(chain.endEventsAt(height),
                                   "pocket.proof.EventProofValidityChecked");
  REQUIRE(checked != nullptr);
  return *checked->find("failure_reason");
}

}  // namespace

TEST_CASE("a valid claim and proof are accepted, validated and settled with the right amounts") {
  ProofSetup s;
  ChainState& state = s.chain->state();
  REQUIRE(s.claim().ok());
  const std::uint64_t supplierBalance = state.balance(s.supplier);

  TxOutcome out = s.prove(16, s.proofBytes());
  REQUIRE_MESSAGE(out.ok(), out.log);
  const Event* submitted = findEvent(out.events, "pocket.proof.EventProofSubmitted");
  REQUIRE(submitted != nullptr);
  CHECK(*submitted->find("claimed_upokt") == "\"210upokt\"");  // 5 CU × 42
  // The proof submission fee (10 upokt) moved to the proof module.
  CHECK(state.balance(s.supplier) == supplierBalance - 10);
  CHECK(state.balance(ChainState::moduleAddress("proof")) == 10);

  // Validated at the end of the block that carried it.
  const Event* checked = findEvent(s.chain->endEventsAt(16),
                                   "pocket.proof.EventProofValidityChecked");
  REQUIRE(checked != nullptr);
  CHECK(*checked->find("claim_proof_status_int") == "1");
  CHECK(*checked->find("failure_reason") == "\"\"");
  CHECK(checked->attributes.back().key == "mode");
  CHECK(checked->attributes.back().value == "EndBlock");
  CHECK(s.record().proofStatus == ProofStatus::validated);

  // Settled exactly at proof window close (20), not before.
  s.chain->advanceTo(19);
  CHECK(findEvent(s.chain->endEventsAt(19), "pocket.tokenomics.EventClaimSettled") == nullptr);
  const std::uint64_t appStake = state.applicationStake(s.actors.appAddress());
  const std::string dao = state.tokenomicsParamsAt(20).daoRewardAddress;
  s.chain->advanceTo(20);
  const Event* settled = findEvent(s.chain->endEventsAt(20),
                                   "pocket.tokenomics.EventClaimSettled");
  REQUIRE(settled != nullptr);
  CHECK(*settled->find("settled_upokt") == "\"210upokt\"");
  CHECK(*settled->find("claimed_upokt") == "\"210upokt\"");
  CHECK(*settled->find("proof_requirement_int") == "2");  // THRESHOLD
  CHECK(*settled->find("session_id") == "\"" + s.header.sessionId + "\"");
  // Burned from the application's stake, minted and distributed 70% supplier owner, 15% source
  // owner (the DAO here: the service has no owner), 10% DAO + 5% proposer (to the DAO).
  CHECK(state.applicationStake(s.actors.appAddress()) == appStake - 210);
  CHECK(state.balance(s.actors.ownerAddress()) == 147);
  CHECK(state.balance(dao) == 210 - 147);
  const ClaimRecord record = s.record();
  CHECK(record.settlement == SettlementOutcome::settled);
  CHECK(record.settledUpokt == 210);
  CHECK(record.settledAtHeight == 20);
  REQUIRE(record.proofRequirement.has_value());
  CHECK(record.proofRequirement->reason == protocol::ProofRequirementReason::kThreshold);

  // Settled claims are deleted.
  proof::QueryGetClaimRequest req;
  req.set_session_id(s.header.sessionId);
  req.set_supplier_operator_address(s.supplier);
  CHECK(state.query("/pocket.proof.Query/Claim", protocol::serialize(req), 0).code == 22);
  CHECK(state.query("/pocket.proof.Query/Claim", protocol::serialize(req), 19).code == 0);
  CHECK(state.stats().claimsSettled == 1);

  // /devnet/state shows the whole story.
  const nlohmann::json doc = state.stateJson();
  CHECK(doc["height"] == 20);
  REQUIRE(doc["claims"].size() == 1);
  CHECK(doc["claims"][0]["proof_status"] == "VALIDATED");
  CHECK(doc["claims"][0]["proof_requirement"] == "THRESHOLD");
  CHECK(doc["claims"][0]["settlement"] == "settled");
  CHECK(doc["claims"][0]["num_relays"] == 5);
}

TEST_CASE("a proof before its window opens or after it closes is rejected") {
  ProofSetup tooEarly;
  REQUIRE(tooEarly.claim().ok());
  tooEarly.chain->advanceTo(14);
  const util::Bytes anyProof = tooEarly.tree.proofFor(testBlockHash(14), tooEarly.header.sessionId);
  TxOutcome out = tooEarly.prove(15, anyProof);
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("FailedPrecondition",
                             "current block height (15) is less than session's earliest proof "
                             "commit height (16): proof attempted outside of the session's proof "
                             "window"));

  ProofSetup late;
  REQUIRE(late.claim().ok());
  const util::Bytes lateProof = late.proofBytes();
  out = late.prove(21, lateProof);
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("FailedPrecondition",
                             "current block height (21) is greater than session proof window "
                             "close height (20): proof attempted outside of the session's proof "
                             "window"));
}

TEST_CASE("a proof without a claim is rejected") {
  ProofSetup s;
  TxOutcome out = s.prove(16, s.proofBytes());
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("FailedPrecondition",
                             fmt::format("no claim found for session ID \"{}\" and supplier "
                                         "\"{}\": claim not found",
                                         s.header.sessionId, s.supplier)));
}

TEST_CASE("a truncated gob proof is rejected as an invalid proof") {
  ProofSetup s;
  REQUIRE(s.claim().ok());
  util::Bytes proof = s.proofBytes();
  proof.resize(proof.size() / 2);
  TxOutcome out = s.prove(16, proof);
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log.starts_with(keeperLog("FailedPrecondition",
                                      "failed to unmarshal sparse compact merkle closest proof: ")));
  CHECK(out.log.ends_with(": invalid proof"));
}

TEST_CASE("a proof for the wrong path is invalidated at the end of the block and expires") {
  ProofSetup s;
  REQUIRE(s.claim().ok());
  const std::uint64_t stake = s.chain->state().supplierStake(s.supplier);
  const util::Bytes proof = s.proofBytes(14);  // seeded by block 14 instead of 15
  REQUIRE(s.prove(16, proof).ok());            // the path is only checked at the end of the block
  CHECK(failureReasonAt(*s.chain, 16).starts_with(
      "\"the path of the proof provided ("));
  CHECK(failureReasonAt(*s.chain, 16).ends_with(
      ") does not match one expected by the onchain protocol (" +
      util::toHex(protocol::proofPath(testBlockHash(15), s.header.sessionId)) +
      "): invalid proof\""));
  CHECK(s.record().proofStatus == ProofStatus::invalid);

  s.chain->advanceTo(20);
  const Event* expired = findEvent(s.chain->endEventsAt(20), "pocket.tokenomics.EventClaimExpired");
  REQUIRE(expired != nullptr);
  CHECK(*expired->find("expiration_reason") == "\"PROOF_INVALID\"");
  const Event* slashed =
      findEvent(s.chain->endEventsAt(20), "pocket.tokenomics.EventSupplierSlashed");
  REQUIRE(slashed != nullptr);
  CHECK(*slashed->find("proof_missing_penalty") == "\"320000000upokt\"");
  CHECK(s.chain->state().supplierStake(s.supplier) == stake - 320'000'000);
  CHECK(s.record().settlement == SettlementOutcome::expiredProofInvalid);
  CHECK(s.record().slashedUpokt == 320'000'000);
}

TEST_CASE("a relay with a bad ring signature makes the proof invalid") {
  ProofSetup s(std::nullopt, RelayFault::badRingSignature);
  REQUIRE(s.claim().ok());
  REQUIRE(s.prove(16, s.proofBytes()).ok());
  CHECK(failureReasonAt(*s.chain, 16) ==
        "\"invalid relay request signature or bytes: invalid relay request signature\"");
  CHECK(s.record().proofStatus == ProofStatus::invalid);
}

TEST_CASE("a relay with a bad supplier signature makes the proof invalid") {
  ProofSetup s(std::nullopt, RelayFault::badSupplierSignature);
  REQUIRE(s.claim().ok());
  REQUIRE(s.prove(16, s.proofBytes()).ok());
  CHECK(failureReasonAt(*s.chain, 16) == "\"invalid signature: invalid relay response\"");
}

TEST_CASE("an application key the chain does not know makes the ring check fail") {
  Actors actors;
  Genesis g = testGenesis(actors);
  g.accounts[0].publicKey.reset();
  ProofSetup s(g);
  REQUIRE(s.claim().ok());
  REQUIRE(s.prove(16, s.proofBytes()).ok());
  CHECK(failureReasonAt(*s.chain, 16) ==
        fmt::format("\"error getting ring for application address {}: public key not found: "
                    "invalid relay request\"",
                    s.actors.appAddress()));
}

TEST_CASE("a relay below the service's difficulty target is rejected") {
  Actors actors;
  Genesis g = testGenesis(actors);
  crypto::Hash32 hard{};
  hard[3] = 0x01;  // 2^224: practically no relay hash is below it
  g.services[0].relayMiningDifficultyTarget = hard;
  ProofSetup s(g);
  REQUIRE(s.claim().ok());
  TxOutcome out = s.prove(16, s.proofBytes());
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log.starts_with(keeperLog(
      "FailedPrecondition",
      "failed to validate relay difficulty for service anvil due to: the difficulty relay being "
      "proven is (")));
  CHECK(out.log.ends_with(
      "), and is smaller than the target difficulty "
      "(115792089237316195423570985008687907853269984665640564039457584007913129639935/"
      "26959946667150639794667015087019630673637144422540572481103610249216): invalid relay: "
      "invalid relay difficulty"));
}

TEST_CASE("a proof that is not required is rejected, and the claim settles without one") {
  Actors actors;
  Genesis g = testGenesis(actors);
  g.proof.proofRequirementThresholdUpokt = 1'000'000'000'000;
  g.proof.proofRequestProbability = 0;
  ProofSetup s(g);
  REQUIRE(s.claim().ok());
  TxOutcome out = s.prove(16, s.proofBytes());
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("FailedPrecondition", "proof not required"));

  s.chain->advanceTo(20);
  const Event* settled =
      findEvent(s.chain->endEventsAt(20), "pocket.tokenomics.EventClaimSettled");
  REQUIRE(settled != nullptr);
  CHECK(*settled->find("proof_requirement_int") == "0");
  CHECK(s.record().settlement == SettlementOutcome::settled);
}

TEST_CASE("a required proof that never comes expires the claim as PROOF_MISSING and slashes") {
  ProofSetup s;
  REQUIRE(s.claim().ok());
  const std::uint64_t stake = s.chain->state().supplierStake(s.supplier);
  s.chain->advanceTo(20);
  const Event* expired = findEvent(s.chain->endEventsAt(20), "pocket.tokenomics.EventClaimExpired");
  REQUIRE(expired != nullptr);
  CHECK(*expired->find("expiration_reason") == "\"PROOF_MISSING\"");
  CHECK(s.chain->state().supplierStake(s.supplier) == stake - 320'000'000);
  CHECK(s.record().settlement == SettlementOutcome::expiredProofMissing);
  CHECK(s.chain->state().stats().claimsExpired == 1);
}

TEST_CASE("a supplier that cannot pay the proof submission fee is rejected") {
  Actors actors;
  Genesis g = testGenesis(actors);
  g.accounts[1].balanceUpokt = 10;  // not strictly more than the fee
  ProofSetup s(g);
  REQUIRE(s.claim().ok());
  TxOutcome out = s.prove(16, s.proofBytes());
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("FailedPrecondition",
                             "account has 10, but the proof submission fee is 10upokt: not enough "
                             "funds to submit proof"));
}
