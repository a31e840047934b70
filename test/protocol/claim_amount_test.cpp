#include "common/protocol/claim_amount.h"

#include <doctest.h>

using namespace pocket;
using protocol::SharedParams;

namespace {

// Difficulty 1 (32 × 0xff): every relay is mined.
util::Bytes baseTarget() {
  return util::Bytes(32, 0xff);
}

util::Bytes targetWithLeadingZeroBytes(int zeros) {
  util::Bytes target(32, 0xff);
  for (int i = 0; i < zeros; ++i) target[static_cast<std::size_t>(i)] = 0x00;
  return target;
}

}  // namespace

TEST_CASE("base difficulty: claimed uPOKT = sum × CUTTM / granularity, floored once") {
  // tx-sign.json create_claim: 42 relays of 1 compute unit; genesis pricing ⇒ the "1764upokt" of
  // the claim events.
  auto genesis = protocol::claimedUpokt(42, baseTarget(), SharedParams::genesisDefaults());
  REQUIRE(genesis.ok());
  CHECK(protocol::toDecimal(*genesis) == "1764");
  // Mainnet pricing, 145 990 / 1 000 000 per compute unit: 42 → 6.13158 → 6.
  CHECK(protocol::toDecimal(*protocol::claimedUpokt(42, baseTarget(), SharedParams::mainnet())) ==
        "6");
  // 7 compute units → 1.02193 → 1; 6 → 0.87594 → 0.
  CHECK(*protocol::claimedUpokt(7, baseTarget(), SharedParams::mainnet()) == 1);
  CHECK(*protocol::claimedUpokt(6, baseTarget(), SharedParams::mainnet()) == 0);
  CHECK(*protocol::estimatedComputeUnitsU64(42, baseTarget()) == 42);
  CHECK(*protocol::estimatedRelays({42, 42}, baseTarget()) == 42);
}

TEST_CASE("a harder target scales compute units by (2^256 − 1) / target, exactly") {
  // Two leading zero bytes: target = 2^240 − 1, multiplier = (2^256 − 1)/(2^240 − 1) = 2^16 +
  // 2^-240·… so ⌊sum × multiplier⌋ = sum × 65536 for small sums (the excess is far below 1).
  const util::Bytes target = targetWithLeadingZeroBytes(2);
  CHECK(*protocol::estimatedComputeUnitsU64(10, target) == 655'360);
  // 10 relays of 3 compute units: estimated 30 × 65536 = 1 966 080 CU ⇒ 655 360 relays.
  CHECK(*protocol::estimatedRelays({30, 10}, target) == 655'360);
  // Mainnet: 1 966 080 × 0.14599 = 287 028.0192 → 287 028.
  CHECK(protocol::toDecimal(*protocol::claimedUpokt(30, target, SharedParams::mainnet())) ==
        "287028");
  // The single floor happens after multiplying by CUTTM: flooring the estimate first would give
  // the same here, but the half target below shows the difference.
  util::Bytes half(32, 0xff);
  half[0] = 0x7f;  // target = 2^255 − 1 ⇒ multiplier = (2^256 − 1)/(2^255 − 1) = 2 + 1/(2^255 − 1)
  CHECK(*protocol::estimatedComputeUnitsU64(5, half) == 10);
  SharedParams pricing = SharedParams::mainnet();
  pricing.computeUnitsToTokensMultiplier = 1;
  pricing.computeUnitCostGranularity = 1;
  CHECK(*protocol::claimedUpokt(5, half, pricing) == 10);
}

TEST_CASE("a short target is read big-endian, like big.Int.SetBytes") {
  const std::uint8_t one[] = {0x01};
  auto estimated = protocol::estimatedComputeUnits(1, one);
  REQUIRE(estimated.ok());
  CHECK(*estimated == (protocol::BigInt(1) << 256) - 1);
  CHECK(protocol::estimatedComputeUnitsU64(1, one).error().code == "amount_overflow");
  CHECK(protocol::estimatedRelays({1, 1}, one).error().code == "amount_overflow");
}

TEST_CASE("zero counts and bad inputs") {
  CHECK(*protocol::estimatedRelays({0, 0}, baseTarget()) == 0);
  CHECK(*protocol::estimatedRelays({3, 5}, baseTarget()) == 0);  // ⌊3/5⌋ = 0 compute units/relay
  CHECK(*protocol::claimedUpokt(0, baseTarget(), SharedParams::mainnet()) == 0);

  CHECK(protocol::claimedUpokt(1, {}, SharedParams::mainnet()).error().code == "bad_difficulty");
  CHECK(protocol::claimedUpokt(1, util::Bytes(32, 0), SharedParams::mainnet()).error().code ==
        "bad_difficulty");
  CHECK(protocol::estimatedComputeUnits(1, util::Bytes(32, 0)).error().code == "bad_difficulty");

  SharedParams zero = SharedParams::mainnet();
  zero.computeUnitCostGranularity = 0;
  CHECK(protocol::claimedUpokt(1, baseTarget(), zero).error().code == "bad_params");
  SharedParams huge = SharedParams::mainnet();
  huge.computeUnitsToTokensMultiplier = UINT64_MAX;
  CHECK(protocol::claimedUpokt(1, baseTarget(), huge).error().code == "bad_params");

  // The largest sum with the largest accepted multiplier stays exact.
  SharedParams max = SharedParams::mainnet();
  max.computeUnitsToTokensMultiplier = INT64_MAX;
  max.computeUnitCostGranularity = 1;
  CHECK(*protocol::claimedUpokt(UINT64_MAX, baseTarget(), max) ==
        protocol::BigInt(UINT64_MAX) * INT64_MAX);
}
