#include "common/protocol/claim_amount.h"

#include <limits>

#include <fmt/format.h>

namespace pocket::protocol {

namespace {

BigInt fromBigEndian(util::ByteSpan bytes) {
  BigInt value = 0;
  for (std::uint8_t b : bytes) value = (value << 8) | b;
  return value;
}

const BigInt& maxHash() {
  static const BigInt kMax = (BigInt(1) << 256) - 1;
  return kMax;
}

util::Result<BigInt> target(util::ByteSpan targetHash) {
  BigInt value = fromBigEndian(targetHash);
  if (value == 0) {
    return util::makeError("bad_difficulty",
                           fmt::format("relay-mining target hash is {} (all zero or empty): the "
                                       "difficulty multiplier is undefined",
                                       targetHash.empty() ? "empty" : "zero"));
  }
  return value;
}

util::Result<std::uint64_t> toU64(const BigInt& value, const char* what) {
  if (value > std::numeric_limits<std::uint64_t>::max()) {
    return util::makeError("amount_overflow",
                           fmt::format("{} {} does not fit in uint64", what, toDecimal(value)));
  }
  return static_cast<std::uint64_t>(value);
}

}  // namespace

util::Result<BigInt> estimatedComputeUnits(std::uint64_t claimedComputeUnits,
                                           util::ByteSpan targetHash) {
  auto t = target(targetHash);
  if (!t) return t.error();
  return BigInt(BigInt(claimedComputeUnits) * maxHash() / *t);
}

util::Result<std::uint64_t> estimatedComputeUnitsU64(std::uint64_t claimedComputeUnits,
                                                     util::ByteSpan targetHash) {
  auto estimated = estimatedComputeUnits(claimedComputeUnits, targetHash);
  if (!estimated) return estimated.error();
  return toU64(*estimated, "estimated compute units");
}

util::Result<std::uint64_t> estimatedRelays(const ClaimTotals& totals, util::ByteSpan targetHash) {
  if (totals.relays == 0) return std::uint64_t{0};
  const std::uint64_t computeUnitsPerRelay = totals.computeUnits / totals.relays;
  if (computeUnitsPerRelay == 0) return std::uint64_t{0};
  auto estimated = estimatedComputeUnitsU64(totals.computeUnits, targetHash);
  if (!estimated) return estimated.error();
  return *estimated / computeUnitsPerRelay;
}

util::Result<BigInt> claimedUpokt(std::uint64_t claimedComputeUnits, util::ByteSpan targetHash,
                                  const SharedParams& paramsAtSessionStart) {
  const std::uint64_t multiplier = paramsAtSessionStart.computeUnitsToTokensMultiplier;
  const std::uint64_t granularity = paramsAtSessionStart.computeUnitCostGranularity;
  constexpr auto kInt64Max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (granularity == 0) {
    return util::makeError("bad_params", "shared params: compute_unit_cost_granularity is 0");
  }
  if (multiplier > kInt64Max || granularity > kInt64Max) {
    return util::makeError("bad_params",
                           fmt::format("shared params: compute_units_to_tokens_multiplier {} or "
                                       "compute_unit_cost_granularity {} exceeds INT64_MAX",
                                       multiplier, granularity));
  }
  auto t = target(targetHash);
  if (!t) return t.error();
  const BigInt numerator = BigInt(claimedComputeUnits) * maxHash() * multiplier;
  const BigInt denominator = *t * granularity;
  return BigInt(numerator / denominator);
}

std::string toDecimal(const BigInt& amount) {
  return amount.str();
}

}  // namespace pocket::protocol
