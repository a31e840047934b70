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
