#include "common/crypto/field.h"

namespace pocket::crypto::detail {

namespace {

void sqrN(FieldElement& r, const FieldElement& a, int times) {
  r = a;
  for (int i = 0; i < times; ++i) fieldSqr(r, r);
}

// a^(2^223 - 1) and the partial powers the inverse and square root chains reuse.
struct PowerLadder {
  FieldElement x2, x3, x22, x223;
};

PowerLadder ladder(const FieldElement& a) {
  PowerLadder out;
  FieldElement t, x6, x9, x11, x44, x88, x176, x220;
  fieldSqr(t, a);
  fieldMul(out.x2, t, a);
  fieldSqr(t, out.x2);
  fieldMul(out.x3, t, a);
  sqrN(t, out.x3, 3);
  fieldMul(x6, t, out.x3);
  sqrN(t, x6, 3);
  fieldMul(x9, t, out.x3);
  sqrN(t, x9, 2);
  fieldMul(x11, t, out.x2);
  sqrN(t, x11, 11);
  fieldMul(out.x22, t, x11);
  sqrN(t, out.x22, 22);
  fieldMul(x44, t, out.x22);
  sqrN(t, x44, 44);
  fieldMul(x88, t, x44);
  sqrN(t, x88, 88);
  fieldMul(x176, t, x88);
  sqrN(t, x176, 44);
  fieldMul(x220, t, x44);
  sqrN(t, x220, 3);
  fieldMul(out.x223, t, out.x3);
  return out;
}

}  // namespace

bool fieldFromBytes(FieldElement& r, const std::uint8_t* bytes32) {
  std::array<std::uint64_t, 4> w{};
  for (std::size_t i = 0; i < 4; ++i) {
    std::uint64_t v = 0;
    for (std::size_t j = 0; j < 8; ++j) v = (v << 8) | bytes32[(3 - i) * 8 + j];
    w[i] = v;
  }
  r = fieldFromWords(w[0], w[1], w[2], w[3]);
  return fieldToWords(r) == w;  // unchanged by normalization iff already below p
}

void fieldToBytes(std::uint8_t* out32, const FieldElement& a) {
  std::array<std::uint64_t, 4> w = fieldToWords(a);
  for (std::size_t i = 0; i < 4; ++i) {
    std::uint64_t v = w[i];
    for (std::size_t j = 8; j-- > 0;) {
      out32[(3 - i) * 8 + j] = static_cast<std::uint8_t>(v);
      v >>= 8;
    }
  }
}

void fieldInverse(FieldElement& r, const FieldElement& a) {
  // a^(p-2); p-2 = 2^256 - 2^32 - 979: 223 ones, a zero, 22 ones, then 0000101101.
  PowerLadder p = ladder(a);
  FieldElement t;
  sqrN(t, p.x223, 23);
  fieldMul(t, t, p.x22);
  sqrN(t, t, 5);
  fieldMul(t, t, a);
  sqrN(t, t, 3);
  fieldMul(t, t, p.x2);
  sqrN(t, t, 2);
  fieldMul(r, t, a);
}

bool fieldSqrt(FieldElement& r, const FieldElement& a) {
  // a^((p+1)/4); (p+1)/4 = 2^254 - 2^30 - 244: 223 ones, a zero, 22 ones, then 00001100.
  PowerLadder p = ladder(a);
  FieldElement t;
  sqrN(t, p.x223, 23);
  fieldMul(t, t, p.x22);
  sqrN(t, t, 6);
  fieldMul(t, t, p.x2);
  sqrN(t, t, 2);
  FieldElement check;
  fieldSqr(check, t);
  if (!fieldEqual(check, a)) return false;
  r = t;
  return true;
}

}  // namespace pocket::crypto::detail
