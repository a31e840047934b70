// Throughput of the devnet chain state (test/devnet/state): how long one block of N claim txs
// and one block of N proof txs (with their end-of-block validation) take, one supplier serving
// N applications. Claims and proofs are real: ring-signed relays in the project's SMST. Prints
// `name=value` lines:
//   devnet_state_claim_block_ms   beginBlock + N deliverTx(MsgCreateClaim) + endBlock
//   devnet_state_claims_per_s
//   devnet_state_proof_block_ms   beginBlock + N deliverTx(MsgSubmitProof) + endBlock (validation)
//   devnet_state_proofs_per_s
//   devnet_state_{claim,proof}_block_cpu_ms   the same blocks in process CPU time

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/crypto/ring.h"
#include "common/protocol/proof_requirement.h"
#include "common/protocol/proto_bytes.h"
#include "common/protocol/relay.h"
#include "common/protocol/tx.h"
#include "common/smst/gob.h"
#include "common/smst/trie.h"
#include "pocket/proof/tx.pb.h"
#include "test/devnet/state/chain_state.h"

using namespace pocket;
using namespace pocket::devnet;
using Clock = std::chrono::steady_clock;

namespace {

util::Bytes blockHash(std::int64_t h) {
  auto d = crypto::sha256(util::asBytes(fmt::format("bench-block-{}", h)));
  return util::Bytes(d.begin(), d.end());
}

// CPU time of this process (the bench is single-threaded), so that a loaded machine shows.
double cpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void die(const std::string& why) {
  std::fprintf(stderr, "devnet_state_bench: %s\n", why.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--claims") n = std::stoul(argv[i + 1]);
  }
  const auto supplierKey = crypto::PrivateKey::fromSecret(util::asBytes("bench-supplier"));
  const std::string supplier = supplierKey.publicKey().address();
  Genesis g;
  g.proof.proofRequirementThresholdUpokt = 1;  // every claim needs a proof
  g.services.push_back(Service{"anvil", "anvil", 1, "", easiestRelayMiningTarget()});
  g.accounts.push_back(Account{supplier, 1'000'000'000'000, supplierKey.publicKey()});
  g.suppliers.push_back(Supplier{supplier, supplier, 1'000'000, {{"anvil", {{"http://127.0.0.1:1"}}}}});
  std::vector<crypto::PrivateKey> apps;
  for (std::size_t i = 0; i < n; ++i) {
    apps.push_back(crypto::PrivateKey::fromSecret(util::asBytes(fmt::format("bench-app-{}", i))));
    const std::string address = apps.back().publicKey().address();
    g.accounts.push_back(Account{address, 0, apps.back().publicKey()});
    g.applications.push_back(Application{address, 1'000'000'000, {"anvil"}, {}, 0});
  }
  util::LogSink sink(stderr, util::LogLevel::warn);
  ChainState state(g, sink);
  auto block = [&](std::int64_t h, auto&& body) {
    if (!state.beginBlock(h, Time{}, blockHash(h))) die("beginBlock");
    body();
    if (!state.endBlock()) die("endBlock");
  };
  block(1, [] {});

  // One session tree of 10 relays per application.
  std::vector<protocol::SessionHeader> headers;
  std::vector<std::unique_ptr<smst::MemoryStore>> stores;
  std::vector<std::unique_ptr<smst::SparseMerkleSumTrie>> tries;
  for (std::size_t i = 0; i < n; ++i) {
    auto session = state.getSession(g.applications[i].address, "anvil", 1);
    if (!session) die(session.error().message);
    headers.push_back(protocol::fromProtoSessionHeader(session->header()));
    stores.push_back(std::make_unique<smst::MemoryStore>());
    tries.push_back(std::make_unique<smst::SparseMerkleSumTrie>(*stores.back()));
    const auto ring = crypto::expectedRingKeys(apps[i].publicKey(), {});
    for (int r = 0; r < 10; ++r) {
      protocol::RelayRequest req;
      req.meta.sessionHeader = headers.back();
      req.meta.supplierOperatorAddress = supplier;
      req.payload = util::toBytes(fmt::format("request {} {}", i, r));
      auto sig = crypto::signRing(apps[i], ring, protocol::requestSignableHash(req));
      if (!sig) die(sig.error().message);
      req.meta.signature = crypto::encodeRingSignature(*sig);
      protocol::RelayResponse res;
      res.meta.sessionHeader = headers.back();
      res.payload = util::toBytes("response");
      protocol::signResponse(res, supplierKey);
      const util::Bytes bytes = protocol::relayBytes(req, res);
      tries.back()->update(protocol::relayHash(bytes), bytes, 1);
    }
  }
  for (std::int64_t h = 2; h <= 11; ++h) block(h, [] {});

  auto claimStart = Clock::now();
  const double claimCpuStart = cpuMs();
  block(12, [&] {
    for (std::size_t i = 0; i < n; ++i) {
      proof::MsgCreateClaim msg;
      msg.set_supplier_operator_address(supplier);
      *msg.mutable_session_header() = protocol::toProtoSessionHeader(headers[i]);
      const smst::Digest root = tries[i]->root();
      msg.set_root_hash(std::string(root.begin(), root.end()));
      std::vector<protocol::TxMessage> tx{{std::string(protocol::kMsgCreateClaimTypeUrl),
                                           protocol::serialize(msg)}};
      if (!state.validateBasic(tx).ok()) die("claim ValidateBasic");
      auto out = state.deliverTx(tx, supplier);
      if (!out.ok()) die(out.log);
    }
  });
  const double claimMs =
      std::chrono::duration<double, std::milli>(Clock::now() - claimStart).count();
  const double claimCpu = cpuMs() - claimCpuStart;
  for (std::int64_t h = 13; h <= 15; ++h) block(h, [] {});

  std::vector<std::string> proofs;
  for (std::size_t i = 0; i < n; ++i) {
    auto closest = tries[i]->proveClosest(protocol::proofPath(state.blockHash(15),
                                                              headers[i].sessionId));
    if (!closest) die(closest.error().message);
    auto compact = smst::compactClosestProof(*closest);
    if (!compact) die(compact.error().message);
    const util::Bytes gob = smst::encodeGob(*compact);
    proofs.emplace_back(gob.begin(), gob.end());
  }
  auto proofStart = Clock::now();
  const double proofCpuStart = cpuMs();
  block(16, [&] {
    for (std::size_t i = 0; i < n; ++i) {
      proof::MsgSubmitProof msg;
      msg.set_supplier_operator_address(supplier);
      *msg.mutable_session_header() = protocol::toProtoSessionHeader(headers[i]);
      msg.set_proof(proofs[i]);
      std::vector<protocol::TxMessage> tx{{std::string(protocol::kMsgSubmitProofTypeUrl),
                                           protocol::serialize(msg)}};
      auto out = state.deliverTx(tx, supplier);
      if (!out.ok()) die(out.log);
    }
  });
  const double proofMs =
      std::chrono::duration<double, std::milli>(Clock::now() - proofStart).count();
  const double proofCpu = cpuMs() - proofCpuStart;
  if (state.stats().proofsValid != n) die("not every proof validated");

  std::printf("devnet_state_claim_block_ms=%.1f\n", claimMs);
  std::printf("devnet_state_claims_per_s=%.0f\n", static_cast<double>(n) / (claimMs / 1000));
  std::printf("devnet_state_claim_block_cpu_ms=%.1f\n", claimCpu);
  std::printf("devnet_state_proof_block_ms=%.1f\n", proofMs);
  std::printf("devnet_state_proof_block_cpu_ms=%.1f\n", proofCpu);
  std::printf("devnet_state_proofs_per_s=%.0f\n", static_cast<double>(n) / (proofMs / 1000));
  return 0;
}
