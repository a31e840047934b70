#pragma once
// Internal: arithmetic in the base field of secp256k1, p = 2^256 - 2^32 - 977, on public values
// (variable time; used only by signature verification).
//
// A FieldElement holds five little-endian limbs of 52 bits (radix 2^52): value = Σ n[i]·2^(52i).
// Every operation accepts and returns the weakly normalized form:
//   n[0] < 2^53, n[1..3] < 2^53, n[4] < 2^49   (so the value is below 2^257),
// congruent to the element mod p but not necessarily below p until fieldNormalize(). The spare
// bits let additions and subtractions skip carry chains, and let the 25 limb products of a
// multiplication accumulate in 128-bit sums without overflow checks.

#include <array>
#include <cstdint>

namespace pocket::crypto::detail {

__extension__ typedef unsigned __int128 u128;  // NOLINT(modernize-use-using): pedantic-clean

struct FieldElement {
  std::array<std::uint64_t, 5> n{};
};

inline constexpr std::uint64_t kLimbMask = (std::uint64_t{1} << 52) - 1;
inline constexpr std::uint64_t kTopMask = (std::uint64_t{1} << 48) - 1;
// 2^256 mod p, and 2^260 mod p (the weight of the first limb above the top limb).
inline constexpr std::uint64_t kFieldFold = 0x1000003d1ULL;
inline constexpr std::uint64_t kFieldFold260 = kFieldFold << 4;

// From four little-endian 64-bit words (any 256-bit value).
constexpr FieldElement fieldFromWords(std::uint64_t w0, std::uint64_t w1, std::uint64_t w2,
                                      std::uint64_t w3) {
  FieldElement r;
  r.n[0] = w0 & kLimbMask;
  r.n[1] = ((w0 >> 52) | (w1 << 12)) & kLimbMask;
  r.n[2] = ((w1 >> 40) | (w2 << 24)) & kLimbMask;
  r.n[3] = ((w2 >> 28) | (w3 << 36)) & kLimbMask;
  r.n[4] = w3 >> 16;
  return r;
}

constexpr FieldElement fieldFromSmall(std::uint64_t v) {
  return fieldFromWords(v, 0, 0, 0);
}

// Carries limbs of up to 2^62 into the weakly normalized form; the bits at and above 2^256 fold
// back as multiples of 2^256 mod p.
inline void fieldCarry(FieldElement& r) {
  std::uint64_t c = r.n[0] >> 52;
  r.n[0] &= kLimbMask;
  r.n[1] += c;
  c = r.n[1] >> 52;
  r.n[1] &= kLimbMask;
  r.n[2] += c;
  c = r.n[2] >> 52;
  r.n[2] &= kLimbMask;
  r.n[3] += c;
  c = r.n[3] >> 52;
  r.n[3] &= kLimbMask;
  r.n[4] += c;
  c = r.n[4] >> 48;  // below 2^15
  r.n[4] &= kTopMask;
  r.n[0] += c * kFieldFold;  // below 2^52 + 2^48
}

// r = a + b.
inline void fieldAdd(FieldElement& r, const FieldElement& a, const FieldElement& b) {
  for (std::size_t i = 0; i < 5; ++i) r.n[i] = a.n[i] + b.n[i];
  fieldCarry(r);
}

// r = a - b, computed as a + 64·p - b: every limb of 64·p exceeds the matching limb of a weakly
// normalized b, so no limb goes negative.
inline void fieldSub(FieldElement& r, const FieldElement& a, const FieldElement& b) {
  constexpr std::uint64_t k0 = 0xffffefffffc2fULL * 64;  // the limbs of p, times 64
  constexpr std::uint64_t k = kLimbMask * 64;
  constexpr std::uint64_t k4 = kTopMask * 64;
  r.n[0] = a.n[0] + k0 - b.n[0];
  r.n[1] = a.n[1] + k - b.n[1];
  r.n[2] = a.n[2] + k - b.n[2];
  r.n[3] = a.n[3] + k - b.n[3];
  r.n[4] = a.n[4] + k4 - b.n[4];
  fieldCarry(r);
}

inline void fieldNegate(FieldElement& r, const FieldElement& a) {
  fieldSub(r, FieldElement{}, a);
}

// r = a * small (small ≤ 512).
inline void fieldMulSmall(FieldElement& r, const FieldElement& a, std::uint64_t small) {
  for (std::size_t i = 0; i < 5; ++i) r.n[i] = a.n[i] * small;
  fieldCarry(r);
}

// Folds the nine column sums of a product (column k has weight 2^(52k), each below 2^110) into
// a weakly normalized element.
inline void fieldReduceColumns(FieldElement& r, const u128* t) {
  // Columns 5..8 into 52-bit limbs h0..h4 of weight 2^260 · 2^(52i).
  u128 c = t[5];
  const std::uint64_t h0 = static_cast<std::uint64_t>(c) & kLimbMask;
  c >>= 52;
  c += t[6];
  const std::uint64_t h1 = static_cast<std::uint64_t>(c) & kLimbMask;
  c >>= 52;
  c += t[7];
  const std::uint64_t h2 = static_cast<std::uint64_t>(c) & kLimbMask;
  c >>= 52;
  c += t[8];
  const std::uint64_t h3 = static_cast<std::uint64_t>(c) & kLimbMask;
  c >>= 52;
  const auto h4 = static_cast<std::uint64_t>(c);  // below 2^59
  // Low columns plus h·(2^260 mod p), carried into 52-bit limbs.
  c = t[0] + static_cast<u128>(h0) * kFieldFold260;
  std::uint64_t r0 = static_cast<std::uint64_t>(c) & kLimbMask;
  c >>= 52;
  c += t[1] + static_cast<u128>(h1) * kFieldFold260;
  std::uint64_t r1 = static_cast<std::uint64_t>(c) & kLimbMask;
  c >>= 52;
  c += t[2] + static_cast<u128>(h2) * kFieldFold260;
  const std::uint64_t r2 = static_cast<std::uint64_t>(c) & kLimbMask;
  c >>= 52;
  c += t[3] + static_cast<u128>(h3) * kFieldFold260;
  const std::uint64_t r3 = static_cast<std::uint64_t>(c) & kLimbMask;
  c >>= 52;
  c += t[4] + static_cast<u128>(h4) * kFieldFold260;
  std::uint64_t r4 = static_cast<std::uint64_t>(c) & kLimbMask;
  c >>= 52;  // below 2^59: weight 2^260 again
  u128 d = c * kFieldFold260 + r0;
  r0 = static_cast<std::uint64_t>(d) & kLimbMask;
  r1 += static_cast<std::uint64_t>(d >> 52);  // below 2^52 + 2^44
  // The top limb keeps 48 bits; its excess has weight 2^256.
  r0 += (r4 >> 48) * kFieldFold;  // below 2^52 + 2^37
  r4 &= kTopMask;
  r.n = {r0, r1, r2, r3, r4};
}

inline void fieldMul(FieldElement& r, const FieldElement& a, const FieldElement& b) {
  const std::uint64_t a0 = a.n[0], a1 = a.n[1], a2 = a.n[2], a3 = a.n[3], a4 = a.n[4];
  const std::uint64_t b0 = b.n[0], b1 = b.n[1], b2 = b.n[2], b3 = b.n[3], b4 = b.n[4];
  auto m = [](std::uint64_t x, std::uint64_t y) { return static_cast<u128>(x) * y; };
  u128 t[9];
  t[0] = m(a0, b0);
  t[1] = m(a0, b1) + m(a1, b0);
  t[2] = m(a0, b2) + m(a1, b1) + m(a2, b0);
  t[3] = m(a0, b3) + m(a1, b2) + m(a2, b1) + m(a3, b0);
  t[4] = m(a0, b4) + m(a1, b3) + m(a2, b2) + m(a3, b1) + m(a4, b0);
  t[5] = m(a1, b4) + m(a2, b3) + m(a3, b2) + m(a4, b1);
  t[6] = m(a2, b4) + m(a3, b3) + m(a4, b2);
  t[7] = m(a3, b4) + m(a4, b3);
  t[8] = m(a4, b4);
  fieldReduceColumns(r, t);
}

inline void fieldSqr(FieldElement& r, const FieldElement& a) {
  const std::uint64_t a0 = a.n[0], a1 = a.n[1], a2 = a.n[2], a3 = a.n[3], a4 = a.n[4];
  const std::uint64_t d0 = a0 * 2, d1 = a1 * 2, d2 = a2 * 2, d3 = a3 * 2;
  auto m = [](std::uint64_t x, std::uint64_t y) { return static_cast<u128>(x) * y; };
  u128 t[9];
  t[0] = m(a0, a0);
  t[1] = m(d0, a1);
  t[2] = m(d0, a2) + m(a1, a1);
  t[3] = m(d0, a3) + m(d1, a2);
  t[4] = m(d0, a4) + m(d1, a3) + m(a2, a2);
  t[5] = m(d1, a4) + m(d2, a3);
  t[6] = m(d2, a4) + m(a3, a3);
  t[7] = m(d3, a4);
  t[8] = m(a4, a4);
  fieldReduceColumns(r, t);
}

// Brings the value below p (the unique representative, limbs below 2^52 and 2^48).
inline void fieldNormalize(FieldElement& a) {
  fieldCarry(a);
  fieldCarry(a);  // now n[0] < 2^52 too: the value is below 2^256
  // a ≥ p iff a + (2^256 - p) reaches 2^256; then that sum minus 2^256 is a - p.
  FieldElement t = a;
  t.n[0] += kFieldFold;
  std::uint64_t c = t.n[0] >> 52;
  t.n[0] &= kLimbMask;
  for (std::size_t i = 1; i < 4; ++i) {
    t.n[i] += c;
    c = t.n[i] >> 52;
    t.n[i] &= kLimbMask;
  }
  t.n[4] += c;
  if ((t.n[4] >> 48) != 0) {
    t.n[4] &= kTopMask;
    a = t;
  }
}

// The normalized value as four little-endian 64-bit words.
inline std::array<std::uint64_t, 4> fieldToWords(const FieldElement& a) {
  FieldElement t = a;
  fieldNormalize(t);
  return {t.n[0] | (t.n[1] << 52), (t.n[1] >> 12) | (t.n[2] << 40),
          (t.n[2] >> 24) | (t.n[3] << 28), (t.n[3] >> 36) | (t.n[4] << 16)};
}

inline bool fieldIsZero(const FieldElement& a) {
  FieldElement t = a;
  fieldNormalize(t);
  return (t.n[0] | t.n[1] | t.n[2] | t.n[3] | t.n[4]) == 0;
}

inline bool fieldEqual(const FieldElement& a, const FieldElement& b) {
  FieldElement d;
  fieldSub(d, a, b);
  return fieldIsZero(d);
}

inline bool fieldIsOdd(const FieldElement& a) {
  FieldElement t = a;
  fieldNormalize(t);
  return (t.n[0] & 1) != 0;
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
