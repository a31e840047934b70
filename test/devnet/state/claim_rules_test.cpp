// MsgCreateClaim on the devnet state: each of poktroll's checks with a crafted bad message, and
// the accepted claim with its events. Session 1 = blocks 1..10, claim window 12..16.

#include <doctest.h>

#include "common/util/hex.h"
#include "pocket/proof/query.pb.h"
#include "test/devnet/state/chain_fixture.h"

using namespace pocket;
using namespace pocket::devnet;
using namespace pocket::devnet::test;

namespace {

struct ClaimSetup {
  Actors actors;
  Chain chain{testGenesis(actors)};
  protocol::SessionHeader header;

  ClaimSetup() {
    chain.advanceTo(1);
    header = sessionHeaderOf(chain.state(), actors.appAddress(), "anvil", 1);
  }
};

}  // namespace

TEST_CASE("a valid claim is stored, emits EventClaimCreated and is queryable") {
  ClaimSetup s;
  const util::Bytes root = rootWith(3, 3);
  TxOutcome out = s.chain.deliverAt(12, {claimMessage(s.actors.supplierAddress(), s.header, root)},
                                    s.actors.supplierAddress());
  REQUIRE_MESSAGE(out.ok(), out.log);
  const Event* created = findEvent(out.events, "pocket.proof.EventClaimCreated");
  REQUIRE(created != nullptr);
  CHECK(*created->find("num_relays") == "\"3\"");
  CHECK(*created->find("claimed_upokt") == "\"126upokt\"");  // 3 CU × 42 000 000 / 1 000 000
  CHECK(*created->find("claim_proof_status_int") == "0");
  CHECK(*created->find("session_end_block_height") == "\"10\"");
  CHECK(created->attributes.back().key == "msg_index");
  const Event* message = findEvent(out.events, "message");
  REQUIRE(message != nullptr);
  CHECK(*message->find("action") == "/pocket.proof.MsgCreateClaim");
  CHECK(*message->find("sender") == s.actors.supplierAddress());
  CHECK(*message->find("module") == "proof");

  proof::QueryGetClaimRequest req;
  req.set_session_id(s.header.sessionId);
  req.set_supplier_operator_address(s.actors.supplierAddress());
  QueryOutcome q = s.chain.state().query("/pocket.proof.Query/Claim", protocol::serialize(req), 0);
  REQUIRE(q.code == 0);
  CHECK(q.height == 12);
  proof::QueryGetClaimResponse res;
  REQUIRE(protocol::parse(q.value, res));
  CHECK(res.claim().root_hash() == std::string(root.begin(), root.end()));

  // The same query at a height before the claim answers from that height's state: not found.
  QueryOutcome before =
      s.chain.state().query("/pocket.proof.Query/Claim", protocol::serialize(req), 11);
  CHECK(before.code == 22);
  CHECK(before.codespace == "sdk");
  CHECK(before.log == fmt::format("rpc error: code = NotFound desc = session ID \"{}\" and "
                                  "supplier \"{}\": claim not found: key not found",
                                  s.header.sessionId, s.actors.supplierAddress()));
}

TEST_CASE("a claim before its window opens or after it closes is rejected") {
  ClaimSetup early;
  TxOutcome out = early.chain.deliverAt(
      11, {claimMessage(early.actors.supplierAddress(), early.header, rootWith(3, 3))},
      early.actors.supplierAddress());
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("FailedPrecondition",
                             "current block height (11) is less than the session's earliest "
                             "claim commit height (12): claim attempted outside of the session's "
                             "claim window"));

  ClaimSetup late;
  out = late.chain.deliverAt(
      17, {claimMessage(late.actors.supplierAddress(), late.header, rootWith(3, 3))},
      late.actors.supplierAddress());
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("FailedPrecondition",
                             "current block height (17) is greater than session claim window "
                             "close height (16): claim attempted outside of the session's claim "
                             "window"));
  CHECK(late.chain.state().claims().empty());
}

TEST_CASE("a claim with a session id other than the chain's is rejected") {
  ClaimSetup s;
  protocol::SessionHeader wrong = s.header;
  wrong.sessionId = std::string(64, 'a');
  TxOutcome out = s.chain.deliverAt(
      12, {claimMessage(s.actors.supplierAddress(), wrong, rootWith(3, 3))},
      s.actors.supplierAddress());
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("InvalidArgument",
                             fmt::format("session ID does not match onchain session ID; expected "
                                         "\"{}\", got \"{}\": invalid session ID",
                                         s.header.sessionId, wrong.sessionId)));
}

TEST_CASE("a claim by a supplier that is not in the session is rejected") {
  ClaimSetup s;
  const std::string other = s.actors.otherSupplierAddress();
  TxOutcome out = s.chain.deliverAt(12, {claimMessage(other, s.header, rootWith(3, 3))}, other);
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("InvalidArgument",
                             fmt::format("supplier operator address \"{}\" not found in session "
                                         "ID \"{}\": supplier not found",
                                         other, s.header.sessionId)));
}

TEST_CASE("a claim whose compute units are not relays × compute units per relay is rejected") {
  ClaimSetup s;
  TxOutcome out = s.chain.deliverAt(
      12, {claimMessage(s.actors.supplierAddress(), s.header, rootWith(5, 3))},
      s.actors.supplierAddress());
  CHECK(out.code == 1);
  CHECK(out.codespace == "undefined");
  CHECK(out.log == keeperLog("InvalidArgument",
                             "claim compute units: 5 is not equal to number of relays 3 * compute "
                             "units per relay 1 for service anvil: mismatch: claim compute units "
                             "!= number of relays * service compute units per relay"));
}

TEST_CASE("a second claim for the same session and supplier updates the first") {
  ClaimSetup s;
  const std::string supplier = s.actors.supplierAddress();
  REQUIRE(s.chain.deliverAt(12, {claimMessage(supplier, s.header, rootWith(3, 3))}, supplier)
              .ok());
  TxOutcome out = s.chain.deliverAt(13, {claimMessage(supplier, s.header, rootWith(7, 7))},
                                    supplier);
  REQUIRE_MESSAGE(out.ok(), out.log);
  CHECK(findEvent(out.events, "pocket.proof.EventClaimCreated") == nullptr);
  const Event* updated = findEvent(out.events, "pocket.proof.EventClaimUpdated");
  REQUIRE(updated != nullptr);
  CHECK(*updated->find("num_relays") == "\"7\"");
  auto claims = s.chain.state().claims();
  REQUIRE(claims.size() == 1);
  CHECK(claims[0].numRelays == 7);
  CHECK(claims[0].createdAtHeight == 12);
  CHECK(claims[0].updatedAtHeight == 13);
}

TEST_CASE("ValidateBasic rejects malformed claims with the proof module's codes") {
  ClaimSetup s;
  const std::string supplier = s.actors.supplierAddress();
  s.chain.advanceTo(11);
  s.chain.begin();
  ChainState& state = s.chain.state();

  const util::Bytes zeroCount = rootWith(3, 0);
  TxOutcome out = state.validateBasic(std::vector{claimMessage(supplier, s.header, zeroCount)});
  CHECK(out.code == 1104);
  CHECK(out.codespace == "proof");
  CHECK(out.log == fmt::format("has zero count in Merkle root (hex) {}: invalid root hash",
                               util::toHex(zeroCount)));

  const util::Bytes shortRoot(32, 0x01);
  out = state.validateBasic(std::vector{claimMessage(supplier, s.header, shortRoot)});
  CHECK(out.code == 1104);
  CHECK(out.log == "expecting root hash to be 48 bytes, got 32 bytes: invalid root hash");

  protocol::SessionHeader noId = s.header;
  noId.sessionId.clear();
  out = state.validateBasic(std::vector{claimMessage(supplier, noId, rootWith(3, 3))});
  CHECK(out.code == 1115);
  CHECK(out.codespace == "proof");
  CHECK(out.log ==
        "invalid session header: \"\": invalid sessionId: invalid session header");

  out = state.validateBasic(std::vector{claimMessage("cosmos1xyz", s.header, rootWith(3, 3))});
  CHECK(out.code == 1101);
  CHECK(out.log == "cosmos1xyz: invalid address");
  s.chain.end();
}

TEST_CASE("a tx whose second message fails leaves no trace of its first") {
  ClaimSetup s;
  const std::string supplier = s.actors.supplierAddress();
  protocol::SessionHeader wrong = s.header;
  wrong.sessionId = std::string(64, 'b');
  TxOutcome out = s.chain.deliverAt(12,
                                    {claimMessage(supplier, s.header, rootWith(3, 3)),
                                     claimMessage(supplier, wrong, rootWith(3, 3))},
                                    supplier);
  CHECK(out.code == 1);
  CHECK(out.log.starts_with("failed to execute message; message index: 1: rpc error: code = "
                            "InvalidArgument desc = session ID does not match"));
  CHECK(out.events.empty());
  CHECK(s.chain.state().claims().empty());
  proof::QueryGetClaimRequest req;
  req.set_session_id(s.header.sessionId);
  req.set_supplier_operator_address(supplier);
  CHECK(s.chain.state().query("/pocket.proof.Query/Claim", protocol::serialize(req), 0).code ==
        22);
  CHECK(s.chain.state().stats().messagesRejected.at("undefined/1") == 1);
}

TEST_CASE("ValidateBasic of MsgSubmitProof: the SDK's address code, the proof module's others") {
  ClaimSetup s;
  s.chain.advanceTo(11);
  s.chain.begin();
  ChainState& state = s.chain.state();
  const util::Bytes someProof = util::toBytes("gob");
  TxOutcome out = state.validateBasic(std::vector{proofMessage("", s.header, someProof)});
  CHECK(out.code == 7);
  CHECK(out.codespace == "sdk");
  CHECK(out.log == "supplier operator address \"\", error: empty address string is not allowed: "
                   "invalid address");
  out = state.validateBasic(
      std::vector{proofMessage(s.actors.supplierAddress(), s.header, util::Bytes{})});
  CHECK(out.code == 1108);
  CHECK(out.codespace == "proof");
  CHECK(out.log == "proof cannot be empty: invalid proof");
  protocol::SessionHeader backwards = s.header;
  backwards.sessionEndBlockHeight = backwards.sessionStartBlockHeight;
  out = state.validateBasic(
      std::vector{proofMessage(s.actors.supplierAddress(), backwards, someProof)});
  CHECK(out.code == 1115);
  CHECK(out.log == "session end block height cannot be less than or equal to session start block "
                   "height: invalid block height for session: invalid session header");
  s.chain.end();
}

TEST_CASE("a foreign message (MsgSend through the node's handler) is reverted with its tx") {
  ClaimSetup s;
  ChainState& state = s.chain.state();
  const std::string supplier = s.actors.supplierAddress();
  const std::string receiver = s.actors.ownerAddress();
  const std::uint64_t before = state.balance(supplier);
  ForeignMessageHandler send = [&](const protocol::TxMessage&, std::string_view signer) {
    MessageOutcome out;
    if (auto debited = state.debit(signer, 1000); !debited) {
      out.code = kSdkErrInsufficientFunds.code;
      out.codespace = std::string(kSdkErrInsufficientFunds.codespace);
      out.log = debited.error().message + ": insufficient funds";
      return out;
    }
    state.credit(receiver, 1000);
    out.response = protocol::TxMessage{"/cosmos.bank.v1beta1.MsgSendResponse", {}};
    return out;
  };
  const protocol::TxMessage sendMessage{"/cosmos.bank.v1beta1.MsgSend", {}};
  protocol::SessionHeader wrong = s.header;
  wrong.sessionId = std::string(64, 'c');

  s.chain.advanceTo(11);
  s.chain.begin();
  TxOutcome out = state.deliverTx(
      std::vector{sendMessage, claimMessage(supplier, wrong, rootWith(3, 3))}, supplier, send);
  CHECK(out.code == 1);
  CHECK(out.log.starts_with("failed to execute message; message index: 1: "));
  CHECK(state.balance(supplier) == before);
  CHECK(state.balance(receiver) == 0);

  out = state.deliverTx(std::vector{sendMessage}, supplier, send);
  REQUIRE(out.ok());
  CHECK(state.balance(supplier) == before - 1000);
  CHECK(state.balance(receiver) == 1000);
  const Event* message = findEvent(out.events, "message");
  REQUIRE(message != nullptr);
  CHECK(*message->find("module") == "bank");
  s.chain.end();
}

TEST_CASE("genesis errors name the key path") {
  Actors actors;
  Genesis g = testGenesis(actors);
  g.suppliers[0].services[0].serviceId = "missing";
  auto valid = validateGenesis(g);
  REQUIRE_FALSE(valid.ok());
  CHECK(valid.error().message == "suppliers[0].services[0].service_id: unknown service \"missing\"");

  g = testGenesis(actors);
  g.proof.proofRequestProbability = 1.5;
  CHECK(validateGenesis(g).error().message ==
        "params.proof.proof_request_probability: 1.5 is outside [0, 1]");

  g = testGenesis(actors);
  g.accounts[1].publicKey = actors.app.publicKey();
  CHECK(validateGenesis(g).error().message.starts_with("accounts[1].public_key: the key's address"));

  util::LogSink sink(stderr, util::LogLevel::error);
  g.chainId.clear();
  CHECK_THROWS_AS(ChainState(g, sink), std::invalid_argument);
}
