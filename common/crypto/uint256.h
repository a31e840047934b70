#pragma once
// Internal: 256-bit unsigned integers as four little-endian 64-bit limbs, and the scalar-field
// (mod n) operations the key, ECDSA and ring code need on public values. Not constant time.

#include <array>
#include <cstdint>

#include "common/util/bytes.h"

namespace pocket::crypto::detail {

struct U256 {
  std::array<std::uint64_t, 4> limb{};  // limb[0] is the least significant

  static U256 fromBigEndian(const std::uint8_t* bytes32);
  void toBigEndian(std::uint8_t* out32) const;
  bool isZero() const { return (limb[0] | limb[1] | limb[2] | limb[3]) == 0; }
  friend bool operator==(const U256&, const U256&) = default;
};

// -1, 0, 1 as a <, ==, > b.
int compare(const U256& a, const U256& b);
// a - b mod 2^256; returns the borrow.
std::uint64_t subtract(U256& a, const U256& b);
// a + b mod 2^256; returns the carry.
std::uint64_t add(U256& a, const U256& b);

// The group order n of secp256k1 and n/2 (rounded down).
extern const U256 kOrder;
extern const U256 kHalfOrder;

// x mod n for any 256-bit x (one conditional subtraction).
U256 reduceModOrder(const U256& x);
// A 512-bit big-endian value mod n.
U256 reduceWideModOrder(const std::uint8_t* bytes64);

}  // namespace pocket::crypto::detail
