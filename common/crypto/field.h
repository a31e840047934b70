#pragma once
// Internal: arithmetic in the base field of secp256k1, p = 2^256 - 2^32 - 977, on public values
// (variable time; used only by signature verification).
//
// A FieldElement holds four little-endian 64-bit limbs whose value is below 2^256 and congruent to
// the element mod p; it is not necessarily below p until normalize(). Every operation accepts and
// returns that form.

#include <array>
#include <cstdint>

namespace pocket::crypto::detail {

__extension__ typedef unsigned __int128 u128;  // NOLINT(modernize-use-using): pedantic-clean

struct FieldElement {
  std::array<std::uint64_t, 4> n{};
};

// 2^256 mod p.
inline constexpr std::uint64_t kFieldFold = 0x1000003d1ULL;

// Add/subtract with carry over 64-bit limbs (adc/sbb chains on x86-64).
inline std::uint64_t addCarry(std::uint64_t& out, std::uint64_t a, std::uint64_t b,
                              std::uint64_t carry) {
  u128 t = static_cast<u128>(a) + b + carry;
  out = static_cast<std::uint64_t>(t);
  return static_cast<std::uint64_t>(t >> 64);
}
inline std::uint64_t subBorrow(std::uint64_t& out, std::uint64_t a, std::uint64_t b,
                               std::uint64_t borrow) {
  u128 t = static_cast<u128>(a) - b - borrow;
  out = static_cast<std::uint64_t>(t);
  return static_cast<std::uint64_t>(t >> 64) & 1;
}

// r = a + b.
inline void fieldAdd(FieldElement& r, const FieldElement& a, const FieldElement& b) {
  std::uint64_t carry = addCarry(r.n[0], a.n[0], b.n[0], 0);
  carry = addCarry(r.n[1], a.n[1], b.n[1], carry);
  carry = addCarry(r.n[2], a.n[2], b.n[2], carry);
  carry = addCarry(r.n[3], a.n[3], b.n[3], carry);
  // A sum ≥ 2^256 wraps; add 2^256 mod p back (branch-free). It can wrap again only when the
  // wrapped sum is within 2^33 of 2^256, which the loop handles.
  while (true) {
    std::uint64_t fold = kFieldFold & (0 - carry);
    carry = addCarry(r.n[0], r.n[0], fold, 0);
    carry = addCarry(r.n[1], r.n[1], 0, carry);
    carry = addCarry(r.n[2], r.n[2], 0, carry);
    carry = addCarry(r.n[3], r.n[3], 0, carry);
    if (carry == 0) [[likely]]
      return;
  }
}

// r = a - b.
inline void fieldSub(FieldElement& r, const FieldElement& a, const FieldElement& b) {
  std::uint64_t borrow = subBorrow(r.n[0], a.n[0], b.n[0], 0);
  borrow = subBorrow(r.n[1], a.n[1], b.n[1], borrow);
  borrow = subBorrow(r.n[2], a.n[2], b.n[2], borrow);
  borrow = subBorrow(r.n[3], a.n[3], b.n[3], borrow);
  // A negative difference wrapped by +2^256; subtract 2^256 mod p to land on +p (branch-free).
  // It can wrap again only when the difference was within 2^33 of the wrap.
  while (true) {
    std::uint64_t fold = kFieldFold & (0 - borrow);
    borrow = subBorrow(r.n[0], r.n[0], fold, 0);
    borrow = subBorrow(r.n[1], r.n[1], 0, borrow);
    borrow = subBorrow(r.n[2], r.n[2], 0, borrow);
    borrow = subBorrow(r.n[3], r.n[3], 0, borrow);
    if (borrow == 0) [[likely]]
      return;
  }
}

// Folds an 8-limb product into a FieldElement.
inline void fieldReduce(FieldElement& r, const std::uint64_t* w) {
  u128 t = 0;
  std::uint64_t carry = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    t = static_cast<u128>(w[4 + i]) * kFieldFold + w[i] + carry;
    r.n[i] = static_cast<std::uint64_t>(t);
    carry = static_cast<std::uint64_t>(t >> 64);
  }
  t = static_cast<u128>(carry) * kFieldFold + r.n[0];
  r.n[0] = static_cast<std::uint64_t>(t);
  carry = static_cast<std::uint64_t>(t >> 64);
  for (std::size_t i = 1; i < 4; ++i) {
    t = static_cast<u128>(r.n[i]) + carry;
    r.n[i] = static_cast<std::uint64_t>(t);
    carry = static_cast<std::uint64_t>(t >> 64);
  }
  if (carry != 0) {  // the low limbs are tiny now, so this cannot carry again
    t = static_cast<u128>(r.n[0]) + kFieldFold;
    r.n[0] = static_cast<std::uint64_t>(t);
    carry = static_cast<std::uint64_t>(t >> 64);
    for (std::size_t i = 1; i < 4 && carry != 0; ++i) {
      r.n[i] += 1;
      carry = r.n[i] == 0 ? 1 : 0;
    }
  }
}

// Product scanning with a three-limb accumulator (c0, c1, c2).
#define POCKET_FIELD_MULADD(x, y)                                     \
  do {                                                                \
    u128 product_ = static_cast<u128>(x) * (y);                       \
    std::uint64_t low_ = static_cast<std::uint64_t>(product_);        \
    std::uint64_t high_ = static_cast<std::uint64_t>(product_ >> 64); \
    c0 += low_;                                                       \
    high_ += (c0 < low_) ? 1 : 0;                                     \
    c1 += high_;                                                      \
    c2 += (c1 < high_) ? 1 : 0;                                       \
  } while (0)
#define POCKET_FIELD_EXTRACT(out) \
  do {                            \
    (out) = c0;                   \
    c0 = c1;                      \
    c1 = c2;                      \
    c2 = 0;                       \
  } while (0)

inline void fieldMul(FieldElement& r, const FieldElement& a, const FieldElement& b) {
  const std::uint64_t a0 = a.n[0], a1 = a.n[1], a2 = a.n[2], a3 = a.n[3];
  const std::uint64_t b0 = b.n[0], b1 = b.n[1], b2 = b.n[2], b3 = b.n[3];
  std::uint64_t w[8];
  std::uint64_t c0 = 0, c1 = 0, c2 = 0;
  POCKET_FIELD_MULADD(a0, b0);
  POCKET_FIELD_EXTRACT(w[0]);
  POCKET_FIELD_MULADD(a0, b1);
  POCKET_FIELD_MULADD(a1, b0);
  POCKET_FIELD_EXTRACT(w[1]);
  POCKET_FIELD_MULADD(a0, b2);
  POCKET_FIELD_MULADD(a1, b1);
  POCKET_FIELD_MULADD(a2, b0);
  POCKET_FIELD_EXTRACT(w[2]);
  POCKET_FIELD_MULADD(a0, b3);
  POCKET_FIELD_MULADD(a1, b2);
  POCKET_FIELD_MULADD(a2, b1);
  POCKET_FIELD_MULADD(a3, b0);
  POCKET_FIELD_EXTRACT(w[3]);
  POCKET_FIELD_MULADD(a1, b3);
  POCKET_FIELD_MULADD(a2, b2);
  POCKET_FIELD_MULADD(a3, b1);
  POCKET_FIELD_EXTRACT(w[4]);
  POCKET_FIELD_MULADD(a2, b3);
  POCKET_FIELD_MULADD(a3, b2);
  POCKET_FIELD_EXTRACT(w[5]);
  POCKET_FIELD_MULADD(a3, b3);
  POCKET_FIELD_EXTRACT(w[6]);
  w[7] = c0;
  fieldReduce(r, w);
}

inline void fieldSqr(FieldElement& r, const FieldElement& a) {
  const std::uint64_t a0 = a.n[0], a1 = a.n[1], a2 = a.n[2], a3 = a.n[3];
  std::uint64_t w[8];
  std::uint64_t c0 = 0, c1 = 0, c2 = 0;
  POCKET_FIELD_MULADD(a0, a0);
  POCKET_FIELD_EXTRACT(w[0]);
  POCKET_FIELD_MULADD(a0, a1);
  POCKET_FIELD_MULADD(a0, a1);
  POCKET_FIELD_EXTRACT(w[1]);
  POCKET_FIELD_MULADD(a0, a2);
  POCKET_FIELD_MULADD(a0, a2);
  POCKET_FIELD_MULADD(a1, a1);
  POCKET_FIELD_EXTRACT(w[2]);
  POCKET_FIELD_MULADD(a0, a3);
  POCKET_FIELD_MULADD(a0, a3);
  POCKET_FIELD_MULADD(a1, a2);
  POCKET_FIELD_MULADD(a1, a2);
  POCKET_FIELD_EXTRACT(w[3]);
  POCKET_FIELD_MULADD(a1, a3);
  POCKET_FIELD_MULADD(a1, a3);
  POCKET_FIELD_MULADD(a2, a2);
  POCKET_FIELD_EXTRACT(w[4]);
  POCKET_FIELD_MULADD(a2, a3);
  POCKET_FIELD_MULADD(a2, a3);
  POCKET_FIELD_EXTRACT(w[5]);
  POCKET_FIELD_MULADD(a3, a3);
  POCKET_FIELD_EXTRACT(w[6]);
  w[7] = c0;
  fieldReduce(r, w);
}

#undef POCKET_FIELD_MULADD
#undef POCKET_FIELD_EXTRACT

// r = a * small (small < 2^32).
inline void fieldMulSmall(FieldElement& r, const FieldElement& a, std::uint64_t small) {
  std::uint64_t w[8] = {};
  std::uint64_t carry = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    u128 t = static_cast<u128>(a.n[i]) * small + carry;
    w[i] = static_cast<std::uint64_t>(t);
    carry = static_cast<std::uint64_t>(t >> 64);
  }
  w[4] = carry;
  fieldReduce(r, w);
}

// Brings the value below p.
inline void fieldNormalize(FieldElement& a) {
  // a ≥ p iff a + (2^256 - p) overflows 2^256; then the wrapped sum is a - p.
  FieldElement t;
  u128 s = static_cast<u128>(a.n[0]) + kFieldFold;
  t.n[0] = static_cast<std::uint64_t>(s);
  std::uint64_t carry = static_cast<std::uint64_t>(s >> 64);
  for (std::size_t i = 1; i < 4; ++i) {
    s = static_cast<u128>(a.n[i]) + carry;
    t.n[i] = static_cast<std::uint64_t>(s);
    carry = static_cast<std::uint64_t>(s >> 64);
  }
  if (carry != 0) a = t;
}

inline bool fieldIsZero(const FieldElement& a) {
  FieldElement t = a;
  fieldNormalize(t);
  return (t.n[0] | t.n[1] | t.n[2] | t.n[3]) == 0;
}

inline bool fieldEqual(const FieldElement& a, const FieldElement& b) {
  FieldElement d;
  fieldSub(d, a, b);
  return fieldIsZero(d);
}

// Big-endian 32 bytes; returns false (and leaves r unspecified) when the value is ≥ p.
bool fieldFromBytes(FieldElement& r, const std::uint8_t* bytes32);
// Big-endian 32 bytes of the normalized value.
void fieldToBytes(std::uint8_t* out32, const FieldElement& a);
// r = a^-1 (a must be non-zero; zero maps to zero).
void fieldInverse(FieldElement& r, const FieldElement& a);
// r = sqrt(a) if a is a square (returns true); otherwise returns false.
bool fieldSqrt(FieldElement& r, const FieldElement& a);

}  // namespace pocket::crypto::detail
