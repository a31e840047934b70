#pragma once
// Bit-exact port of Go's math/rand (v1) seeded source and of poktroll's SeededFloat64
// (pkg/crypto/rand/float.go), which decides whether a claim must be proven (docs/protocol.md
// §8). Submitting a proof that is not required fails the whole proof tx and skipping a
// required one is slashed, so every bit must match Go.
//
// Go's rngSource is an additive lagged Fibonacci generator (607 words, tap 273) whose state is
// seeded from a Park–Miller LCG XOR-ed with Go's 607-entry rngCooked table. The table is
// common/protocol/data/go-math-rand-rngcooked.txt; the build turns it into C++
// (common/protocol/gen_rng_cooked.py → go_rng_cooked.inc).
//
// GoRandSource is a small value type (≈4.9 KB of state), not thread-safe: one per thread or per
// computation. The free functions are pure and thread-safe.

#include <array>
#include <cstdint>

#include "common/util/bytes.h"

namespace pocket::protocol {

// Go's rand.NewSource(seed) (*rngSource), as wrapped by rand.New.
class GoRandSource {
 public:
  explicit GoRandSource(std::int64_t seed) { reseed(seed); }

  // Go's Seed: seed mod (2^31 − 1) (truncating; negative ⇒ + 2^31 − 1; 0 ⇒ 89482311), then the
  // LCG runs 20 times before filling the state.
  void reseed(std::int64_t seed);

  // The next raw 64-bit output (Go's Uint64).
  std::uint64_t nextUint64();
  // Go's Int63: the output with the top bit cleared.
  std::int64_t int63() { return static_cast<std::int64_t>(nextUint64() & kInt63Mask); }
  // Go's (*Rand).Float64: Int63 / 2^63, drawing again in the (rare) case that rounds to 1.0.
  double float64();

 private:
  static constexpr int kLength = 607;
  static constexpr int kTap = 273;
  static constexpr std::uint64_t kInt63Mask = (std::uint64_t{1} << 63) - 1;

  std::array<std::uint64_t, kLength> vec_{};  // wrapping int64 arithmetic, kept unsigned
  int tap_ = 0;
  int feed_ = 0;
};

// Go's encoding/binary.Varint over `bytes`: an unsigned LEB128 value (at most 10 bytes) zigzag-
// decoded. `consumed` is Go's n: bytes read (> 0), 0 if the input ended inside the number, −k on
// overflow after k bytes. The value is 0 whenever consumed ≤ 0.
struct GoVarint {
  std::int64_t value = 0;
  int consumed = 0;
};
GoVarint goVarint(util::ByteSpan bytes);

// The seed SeededFloat64 derives from the concatenation a ‖ b: goVarint(sha256(a ‖ b)).value.
std::int64_t seedFromParts(util::ByteSpan a, util::ByteSpan b);

// poktroll's SeededFloat64(a, b): GoRandSource(seedFromParts(a, b)).float64(), in [0, 1).
// For the proof requirement a = sha256(Claim bytes) and b = the proof seed block hash.
double seededFloat64(util::ByteSpan a, util::ByteSpan b);

}  // namespace pocket::protocol
