#pragma once
// What a claim is worth, exactly as poktroll computes it (x/proof/types/claim.go,
// pkg/crypto/protocol/relay_difficulty.go), with exact big-integer arithmetic (Boost cpp_int; Go
// uses big.Rat and floors with big.Int.Div, which is floor for these non-negative values):
//
//   multiplier               = (2^256 − 1) / target            (target = relay-mining target hash,
//                                                               big-endian; 32 × 0xff ⇒ 1)
//   estimated compute units  = ⌊ sum × multiplier ⌋
//   claimed uPOKT            = ⌊ sum × multiplier × CUTTM / granularity ⌋   (one floor, at the end)
//   estimated relays         = ⌊ estimated compute units / ⌊ sum / count ⌋ ⌋   (0 if count or
//                                                                           ⌊sum/count⌋ is 0)
//
// sum and count are the claim root's compute-unit sum and relay count. Epochs (docs/protocol.md
// §5): CUTTM / granularity are the shared params at the SESSION START height, and the target is
// the service's relay-mining difficulty at the session start height
// (RelayMiningDifficultyAtHeight(service, session_start)).
//
// Pure functions, thread-safe. Errors: "bad_difficulty" (empty or all-zero target: Go would divide
// by zero), "bad_params" (compute_unit_cost_granularity 0, or CUTTM / granularity above INT64_MAX,
// which Go converts to negative numbers), "amount_overflow" (a uint64 view of a value that does not
// fit; Go would silently keep the low 64 bits).

#include <cstdint>
#include <string>

#include <boost/multiprecision/cpp_int.hpp>

#include "common/protocol/session.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::protocol {

using BigInt = boost::multiprecision::cpp_int;

// The root's totals (common to the SMST claim root: bytes 32..39 sum, 40..47 count, big-endian).
struct ClaimTotals {
  std::uint64_t computeUnits = 0;  // sum
  std::uint64_t relays = 0;        // count
};

// ⌊ sum × (2^256 − 1) / target ⌋.
util::Result<BigInt> estimatedComputeUnits(std::uint64_t claimedComputeUnits,
                                           util::ByteSpan targetHash);
// The same as the uint64 that EventClaimCreated / EventClaimSettled carry.
util::Result<std::uint64_t> estimatedComputeUnitsU64(std::uint64_t claimedComputeUnits,
                                                     util::ByteSpan targetHash);
// num_estimated_relays of the claim events.
util::Result<std::uint64_t> estimatedRelays(const ClaimTotals& totals, util::ByteSpan targetHash);

// The claim's uPOKT amount: compared with proof_requirement_threshold, and used by the fee gate
// (a session is worth claiming only if this is > 2 uPOKT).
util::Result<BigInt> claimedUpokt(std::uint64_t claimedComputeUnits, util::ByteSpan targetHash,
                                  const SharedParams& paramsAtSessionStart);

// Decimal digits of a non-negative amount ("1764"), as Coin.amount and event strings write it.
std::string toDecimal(const BigInt& amount);

}  // namespace pocket::protocol
