#pragma once
// The proof path and the proof requirement of a claim (docs/protocol.md §8;
// x/proof/keeper/msg_server_submit_proof.go ProofRequirementForClaim, pkg/crypto/protocol/
// proof_path.go). Both depend on the hash of the proof seed block, proofWindowOpen − 1
// (SessionWindows::proofSeedHeight(), common/protocol/session.h); never use a later block.
//
// Getting the requirement wrong is expensive both ways: an unrequired proof is rejected
// (ErrProofNotRequired) and fails the whole batched proof tx; a skipped required proof is slashed.
//
// Pure functions, thread-safe.

#include <cstdint>
#include <string_view>

#include "common/crypto/hash.h"
#include "common/protocol/claim_amount.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::protocol {

// sha256(seedBlockHash ‖ ascii(sessionId)), sessionId being the 64-character hex string: the path
// the proof must prove (ProveClosest) and the chain checks.
crypto::Hash32 proofPath(util::ByteSpan seedBlockHash, std::string_view sessionId);

// pocket.proof.ProofRequirementReason, with its proto numbers.
enum class ProofRequirementReason : int {
  kNotRequired = 0,
  kProbabilistic = 1,
  kThreshold = 2,
};

// "NOT_REQUIRED", "PROBABILISTIC", "THRESHOLD" (the proto enum names, as events print them).
std::string_view reasonName(ProofRequirementReason reason);

// The pocket.proof.Params fields the decision reads: the params in force when it is evaluated
// (the chain reads its current proof params, not those at session start).
struct ProofParams {
  double proofRequestProbability = 0;     // field 2, in [0, 1]
  BigInt proofRequirementThresholdUpokt;  // field 3 amount (denom upokt)

  // Genesis defaults: 0.25 and 20 000 000 upokt. Mainnet: 0.01 and 100 upokt.
  static ProofParams genesisDefaults();
  static ProofParams mainnet();
};

struct ProofRequirement {
  ProofRequirementReason reason = ProofRequirementReason::kNotRequired;
  // The SeededFloat64 sample in [0, 1); not drawn (−1) when the threshold already decided.
  double sample = -1;

  bool required() const { return reason != ProofRequirementReason::kNotRequired; }
};

// Whether a claim must be proven:
//   1. claimedUpokt ≥ threshold ⇒ THRESHOLD;
//   2. else sample = SeededFloat64(sha256(claimBytes), seedBlockHash); sample ≤ probability ⇒
//      PROBABILISTIC; otherwise NOT_REQUIRED.
// `claimBytes` is the canonical gogoproto Marshal of pocket.proof.Claim {1
// supplier_operator_address, 2 session_header, 3 root_hash} (field 4 proof_validation_status is 0
// and therefore absent), which the caller serializes. `claimedUpokt` comes from claimedUpokt() with
// the params and difficulty at session start. `seedBlockHash` is the 32-byte hash of block
// proofWindowOpen − 1. Errors: "bad_claim" (empty claimBytes), "bad_block_hash" (seed hash not 32
// bytes), "bad_params" (probability NaN or outside [0, 1], or a negative threshold).
util::Result<ProofRequirement> proofRequirement(const BigInt& claimedUpokt,
                                                const ProofParams& params,
                                                util::ByteSpan claimBytes,
                                                util::ByteSpan seedBlockHash);

}  // namespace pocket::protocol
