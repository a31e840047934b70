#include "common/protocol/proof_requirement.h"

#include <cmath>

#include <fmt/format.h>

#include "common/protocol/go_rand.h"

namespace pocket::protocol {

crypto::Hash32 proofPath(util::ByteSpan seedBlockHash, std::string_view sessionId) {
  return crypto::sha256(seedBlockHash, util::asBytes(sessionId));
}

std::string_view reasonName(ProofRequirementReason reason) {
  switch (reason) {
    case ProofRequirementReason::kNotRequired:
      return "NOT_REQUIRED";
    case ProofRequirementReason::kProbabilistic:
      return "PROBABILISTIC";
    case ProofRequirementReason::kThreshold:
      return "THRESHOLD";
  }
  return "UNKNOWN";
}

ProofParams ProofParams::genesisDefaults() {
  ProofParams p;
  p.proofRequestProbability = 0.25;
  p.proofRequirementThresholdUpokt = 20'000'000;
  return p;
}

ProofParams ProofParams::mainnet() {
  ProofParams p;
  p.proofRequestProbability = 0.01;
  p.proofRequirementThresholdUpokt = 100;
  return p;
}

util::Result<ProofRequirement> proofRequirement(const BigInt& claimedUpokt,
                                                const ProofParams& params,
                                                util::ByteSpan claimBytes,
                                                util::ByteSpan seedBlockHash) {
  const double probability = params.proofRequestProbability;
  if (std::isnan(probability) || probability < 0 || probability > 1) {
    return util::makeError("bad_params",
                           fmt::format("proof params: proof_request_probability {} is outside "
                                       "[0, 1]",
                                       probability));
  }
  if (params.proofRequirementThresholdUpokt < 0) {
    return util::makeError("bad_params", "proof params: proof_requirement_threshold is negative");
  }
  if (claimBytes.empty()) {
    return util::makeError("bad_claim", "claim bytes are empty");
  }
  if (seedBlockHash.size() != crypto::Hash32{}.size()) {
    return util::makeError(
        "bad_block_hash",
        fmt::format("proof seed block hash has {} bytes, expected 32", seedBlockHash.size()));
  }

  ProofRequirement result;
  if (claimedUpokt >= params.proofRequirementThresholdUpokt) {
    result.reason = ProofRequirementReason::kThreshold;
    return result;
  }
  const crypto::Hash32 claimHash = crypto::sha256(claimBytes);
  result.sample = seededFloat64(claimHash, seedBlockHash);
  result.reason = result.sample <= probability ? ProofRequirementReason::kProbabilistic
                                               : ProofRequirementReason::kNotRequired;
  return result;
}

}  // namespace pocket::protocol
