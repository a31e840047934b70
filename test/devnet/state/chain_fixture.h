#pragma once
// A small chain for the devnet state tests: one service ("anvil"), one application with a known
// key, one supplier (operator and owner keys), blocks with deterministic hashes, and helpers that
// build relays, session trees, claims and proofs with the project's own relay, ring, SMST and gob
// code, exactly as a RelayMiner would.

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <doctest.h>
#include <fmt/format.h>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/crypto/ring.h"
#include "common/protocol/proof_requirement.h"
#include "common/protocol/proto_bytes.h"
#include "common/protocol/relay.h"
#include "common/protocol/tx.h"
#include "common/smst/gob.h"
#include "common/smst/store.h"
#include "common/smst/trie.h"
#include "common/util/log.h"
#include "pocket/proof/tx.pb.h"
#include "test/devnet/state/chain_state.h"

namespace pocket::devnet::test {

inline crypto::PrivateKey keyFor(std::string_view secret) {
  return crypto::PrivateKey::fromSecret(util::asBytes(secret));
}

inline util::Bytes testBlockHash(std::int64_t height) {
  const crypto::Hash32 h = crypto::sha256(util::asBytes(fmt::format("devnet-test-block-{}", height)));
  return util::Bytes(h.begin(), h.end());
}

struct Actors {
  crypto::PrivateKey app = keyFor("test-app");
  crypto::PrivateKey supplier = keyFor("test-supplier-operator");
  crypto::PrivateKey owner = keyFor("test-supplier-owner");
  crypto::PrivateKey otherSupplier = keyFor("test-other-supplier");
  crypto::PrivateKey stranger = keyFor("test-stranger");

  std::string appAddress() const { return app.publicKey().address(); }
  std::string supplierAddress() const { return supplier.publicKey().address(); }
  std::string ownerAddress() const { return owner.publicKey().address(); }
  std::string otherSupplierAddress() const { return otherSupplier.publicKey().address(); }
};

// Genesis defaults: sessions of 10 blocks (session 1 = blocks 1..10, claim window 12..16,
// proof window 16..20, proof seed block 15, settlement at 20), proof always required by
// threshold (1 upokt).
inline Genesis testGenesis(const Actors& actors) {
  Genesis g;
  g.chainId = "pocket";
  g.proof.proofRequirementThresholdUpokt = 1;
  g.proof.proofSubmissionFeeUpokt = 10;
  g.services.push_back(Service{"anvil", "Anvil", 1, "", easiestRelayMiningTarget()});
  g.services.push_back(Service{"other", "Other", 1, "", easiestRelayMiningTarget()});
  g.accounts.push_back(Account{actors.appAddress(), 0, actors.app.publicKey()});
  g.accounts.push_back(Account{actors.supplierAddress(), 1'000'000'000, std::nullopt});
  g.accounts.push_back(Account{actors.otherSupplierAddress(), 1'000'000'000, std::nullopt});
  g.applications.push_back(Application{actors.appAddress(), 100'000'000, {"anvil"}, {}, 0});
  g.suppliers.push_back(Supplier{actors.ownerAddress(),
                                 actors.supplierAddress(),
                                 1'000'000'000,
                                 {SupplierService{"anvil", {{"http://127.0.0.1:8545"}}}}});
  g.suppliers.push_back(Supplier{actors.otherSupplierAddress(),
                                 actors.otherSupplierAddress(),
                                 1'000'000'000,
                                 {SupplierService{"other", {{"http://127.0.0.1:8546"}}}}});
  return g;
}

// Drives a ChainState block by block.
class Chain {
 public:
  explicit Chain(Genesis genesis)
      : sink_(stderr, util::LogLevel::error), state_(std::move(genesis), sink_) {}

  ChainState& state() { return state_; }

  // Commits empty blocks up to and including `height`.
  void advanceTo(std::int64_t height) {
    while (state_.height() < height) {
      begin();
      end();
    }
  }
  // Starts block height()+1 (custom hash if one was registered).
  void begin() {
    const std::int64_t h = state_.height() + 1;
    auto custom = hashes_.find(h);
    const util::Bytes hash = custom != hashes_.end() ? custom->second : testBlockHash(h);
    const Time time = Time{} + std::chrono::seconds(1'767'225'600 + h);
    REQUIRE(state_.beginBlock(h, time, hash).ok());
  }
  std::vector<Event> end() {
    auto events = state_.endBlock();
    REQUIRE(events.ok());
    endEvents_[state_.height()] = *events;
    return *events;
  }
  // One block at `height` (earlier empty blocks committed first) with one tx from `signer`;
  // runs validateBasic first, like the node, and returns the first failing outcome.
  TxOutcome deliverAt(std::int64_t height, std::vector<protocol::TxMessage> messages,
                      const std::string& signer) {
    advanceTo(height - 1);
    begin();
    TxOutcome outcome = state_.validateBasic(messages);
    if (outcome.ok()) outcome = state_.deliverTx(messages, signer);
    end();
    return outcome;
  }
  void setBlockHash(std::int64_t height, util::Bytes hash) { hashes_[height] = std::move(hash); }
  const std::vector<Event>& endEventsAt(std::int64_t height) { return endEvents_[height]; }

 private:
  util::LogSink sink_;
  ChainState state_;
  std::map<std::int64_t, util::Bytes> hashes_;
  std::map<std::int64_t, std::vector<Event>> endEvents_;
};

// The session of (app, service) containing `height` as the chain hydrates it.
inline protocol::SessionHeader sessionHeaderOf(ChainState& state, const std::string& app,
                                               const std::string& service,
                                               std::int64_t height) {
  auto session = state.getSession(app, service, height);
  REQUIRE_MESSAGE(session.ok(), (session.ok() ? "" : session.error().message));
  return protocol::fromProtoSessionHeader(session->header());
}

// How to spoil a relay.
enum class RelayFault { none, badRingSignature, badSupplierSignature };

// A mined relay: its SMST value (relayBytes) and key (relayHash).
inline util::Bytes makeRelay(const protocol::SessionHeader& header, const Actors& actors,
                             int index, RelayFault fault = RelayFault::none) {
  protocol::RelayRequest request;
  request.meta.sessionHeader = header;
  request.meta.supplierOperatorAddress = actors.supplierAddress();
  request.payload = util::toBytes(fmt::format("{{\"jsonrpc\":\"2.0\",\"id\":{}}}", index));
  const std::vector<crypto::PublicKey> ring = crypto::expectedRingKeys(actors.app.publicKey(), {});
  protocol::RelayRequest signedOver = request;
  if (fault == RelayFault::badRingSignature) signedOver.payload = util::toBytes("something else");
  auto signature = crypto::signRing(actors.app, ring, protocol::requestSignableHash(signedOver));
  REQUIRE(signature.ok());
  request.meta.signature = crypto::encodeRingSignature(*signature);

  protocol::RelayResponse response;
  response.meta.sessionHeader = header;
  response.payload = util::toBytes(fmt::format("{{\"result\":\"0x{:x}\"}}", index));
  protocol::signResponse(response, fault == RelayFault::badSupplierSignature ? actors.stranger
                                                                             : actors.supplier);
  return protocol::relayBytes(request, response);
}

// One supplier's tree for one session, built like the RelayMiner builds it.
class SessionTree {
 public:
  SessionTree() : trie_(store_) {}
  void add(const util::Bytes& relayBytes, std::uint64_t computeUnits) {
    const crypto::Hash32 key = protocol::relayHash(relayBytes);
    trie_.update(key, relayBytes, computeUnits);
  }
  util::Bytes root() {
    const smst::Digest d = trie_.root();
    return util::Bytes(d.begin(), d.end());
  }
  // gob(compact(ProveClosest(path))): MsgSubmitProof.proof.
  util::Bytes proofFor(util::ByteSpan seedBlockHash, const std::string& sessionId) {
    const crypto::Hash32 path = protocol::proofPath(seedBlockHash, sessionId);
    auto closest = trie_.proveClosest(path);
    REQUIRE(closest.ok());
    auto compact = smst::compactClosestProof(*closest);
    REQUIRE(compact.ok());
    return smst::encodeGob(*compact);
  }

 private:
  smst::MemoryStore store_;
  smst::SparseMerkleSumTrie trie_;
};

inline protocol::TxMessage claimMessage(const std::string& supplier,
                                        const protocol::SessionHeader& header,
                                        util::ByteSpan root) {
  proof::MsgCreateClaim msg;
  msg.set_supplier_operator_address(supplier);
  *msg.mutable_session_header() = protocol::toProtoSessionHeader(header);
  msg.set_root_hash(std::string(root.begin(), root.end()));
  return protocol::TxMessage{std::string(protocol::kMsgCreateClaimTypeUrl),
                             protocol::serialize(msg)};
}

inline protocol::TxMessage proofMessage(const std::string& supplier,
                                        const protocol::SessionHeader& header,
                                        util::ByteSpan proofBytes) {
  proof::MsgSubmitProof msg;
  msg.set_supplier_operator_address(supplier);
  *msg.mutable_session_header() = protocol::toProtoSessionHeader(header);
  msg.set_proof(std::string(proofBytes.begin(), proofBytes.end()));
  return protocol::TxMessage{std::string(protocol::kMsgSubmitProofTypeUrl),
                             protocol::serialize(msg)};
}

// A 48-byte root with the given sum and count (hash part arbitrary).
inline util::Bytes rootWith(std::uint64_t sum, std::uint64_t count) {
  util::Bytes root(48, 0x11);
  smst::writeBE64(root.data() + 32, sum);
  smst::writeBE64(root.data() + 40, count);
  return root;
}

// The log a poktroll keeper error gets in a tx result.
inline std::string keeperLog(std::string_view grpcCode, std::string_view text,
                             std::size_t index = 0) {
  return fmt::format("failed to execute message; message index: {}: rpc error: code = {} desc = {}",
                     index, grpcCode, text);
}

inline const Event* findEvent(const std::vector<Event>& events, std::string_view type) {
  for (const Event& e : events) {
    if (e.type == type) return &e;
  }
  return nullptr;
}

}  // namespace pocket::devnet::test
