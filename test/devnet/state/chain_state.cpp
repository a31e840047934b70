#include "test/devnet/state/chain_state.h"

#include <nlohmann/json.hpp>

#include "common/crypto/hash.h"

namespace pocket::devnet {

const std::string* Event::find(std::string_view key) const {
  for (const EventAttribute& attribute : attributes) {
    if (attribute.key == key) return &attribute.value;
  }
  return nullptr;
}

std::string ChainState::moduleAddress(std::string_view moduleName) {
  const crypto::Hash32 digest = crypto::sha256(util::asBytes(moduleName));
  return crypto::encodeAddress(util::ByteSpan(digest.data(), 20));
}

std::string_view proofStatusName(ProofStatus status) {
  switch (status) {
    case ProofStatus::pendingValidation: return "PENDING_VALIDATION";
    case ProofStatus::validated: return "VALIDATED";
    case ProofStatus::invalid: return "INVALID";
  }
  return "UNKNOWN";
}

std::string_view settlementOutcomeName(SettlementOutcome outcome) {
  switch (outcome) {
    case SettlementOutcome::pending: return "pending";
    case SettlementOutcome::settled: return "settled";
    case SettlementOutcome::expiredProofMissing: return "expired_proof_missing";
    case SettlementOutcome::expiredProofInvalid: return "expired_proof_invalid";
  }
  return "unknown";
}

}  // namespace pocket::devnet
