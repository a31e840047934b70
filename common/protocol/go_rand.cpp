#include "common/protocol/go_rand.h"

#include "common/crypto/hash.h"

namespace pocket::protocol {

namespace {

// Go's rngCooked[i], generated at build time from data/go-math-rand-rngcooked.txt, as the two's
// complement bit patterns of the int64 values.
constexpr std::uint64_t kRngCooked[] = {
#include "go_rng_cooked.inc"
};
static_assert(sizeof(kRngCooked) / sizeof(kRngCooked[0]) == 607, "rngCooked has 607 entries");

constexpr std::int32_t kInt32Max = 0x7fffffff;  // 2^31 − 1, the LCG modulus

// Park–Miller "minimal standard" step x·48271 mod (2^31 − 1) with Schrage's method, as Go's
// seedrand. For 0 < x < 2^31 − 1 the result stays in that range.
std::int32_t seedRand(std::int32_t x) {
  constexpr std::int32_t kMultiplier = 48271;
  constexpr std::int32_t kQuotient = 44488;  // kInt32Max / kMultiplier
  constexpr std::int32_t kRemainder = 3399;  // kInt32Max % kMultiplier
  const std::int32_t hi = x / kQuotient;
  const std::int32_t lo = x % kQuotient;
  std::int32_t next = kMultiplier * lo - kRemainder * hi;
  if (next < 0) next += kInt32Max;
  return next;
}

}  // namespace

void GoRandSource::reseed(std::int64_t seed) {
  tap_ = 0;
  feed_ = kLength - kTap;
  seed %= kInt32Max;  // C++ and Go both truncate toward zero
  if (seed < 0) seed += kInt32Max;
  if (seed == 0) seed = 89482311;

  auto x = static_cast<std::int32_t>(seed);
  for (int i = -20; i < kLength; ++i) {
    x = seedRand(x);
    if (i >= 0) {
      // Go shifts int64(x) left; shifting the unsigned value gives the same wrapped bits.
      std::uint64_t u = static_cast<std::uint64_t>(x) << 40;
      x = seedRand(x);
      u ^= static_cast<std::uint64_t>(x) << 20;
      x = seedRand(x);
      u ^= static_cast<std::uint64_t>(x);
      u ^= kRngCooked[i];
      vec_[static_cast<std::size_t>(i)] = u;
    }
  }
}

std::uint64_t GoRandSource::nextUint64() {
  if (--tap_ < 0) tap_ += kLength;
  if (--feed_ < 0) feed_ += kLength;
  const std::uint64_t x =
      vec_[static_cast<std::size_t>(feed_)] + vec_[static_cast<std::size_t>(tap_)];
  vec_[static_cast<std::size_t>(feed_)] = x;
  return x;
}

double GoRandSource::float64() {
  for (;;) {
    // int64 → double rounds to nearest like Go's float64(int64); 2^63 is exact.
    const double f = static_cast<double>(int63()) / 9223372036854775808.0;
    if (f != 1.0) return f;
  }
}

GoVarint goVarint(util::ByteSpan bytes) {
  constexpr int kMaxLen = 10;
  std::uint64_t ux = 0;
  unsigned shift = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const std::uint8_t b = bytes[i];
    if (i == kMaxLen) return {0, -(kMaxLen + 1)};
    if (b < 0x80) {
      if (i == kMaxLen - 1 && b > 1) return {0, -kMaxLen};
      ux |= static_cast<std::uint64_t>(b) << shift;
      auto value = static_cast<std::int64_t>(ux >> 1);
      if ((ux & 1) != 0) value = ~value;
      return {value, static_cast<int>(i) + 1};
    }
    ux |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    shift += 7;
  }
  return {0, 0};
}

std::int64_t seedFromParts(util::ByteSpan a, util::ByteSpan b) {
  const crypto::Hash32 digest = crypto::sha256(a, b);
  return goVarint(digest).value;
}

double seededFloat64(util::ByteSpan a, util::ByteSpan b) {
  return GoRandSource(seedFromParts(a, b)).float64();
}

}  // namespace pocket::protocol
