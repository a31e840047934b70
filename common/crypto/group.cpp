#include "common/crypto/group.h"

#include <stdexcept>

namespace pocket::crypto::detail {

namespace {

const FieldElement kCurveB = fieldFromSmall(7);

bool yIsOdd(const FieldElement& y) {
  return fieldIsOdd(y);
}

std::optional<AffinePoint> lift(const std::uint8_t* x32, bool odd) {
  AffinePoint point;
  if (!fieldFromBytes(point.x, x32)) return std::nullopt;
  FieldElement rhs;
  fieldSqr(rhs, point.x);
  fieldMul(rhs, rhs, point.x);
  fieldAdd(rhs, rhs, kCurveB);
  if (!fieldSqrt(point.y, rhs)) return std::nullopt;
  fieldNormalize(point.y);
  if (yIsOdd(point.y) != odd) fieldNegate(point.y, point.y);
  return point;
}

// Width-w NAF of a 64-bit chunk: digits[i] ∈ {0, ±1, ±3, …, ±(2^(w-1)-1)}, at most 65 of them.
int nafDigits(std::int16_t* digits, std::uint64_t chunk, int window) {
  u128 value = chunk;
  const int full = 1 << window;
  const int half = 1 << (window - 1);
  int length = 0;
  while (value != 0) {
    int digit = 0;
    if ((value & 1) != 0) {
      digit = static_cast<int>(value & static_cast<u128>(full - 1));
      if (digit >= half) digit -= full;
      if (digit > 0) {
        value -= static_cast<u128>(digit);
      } else {
        value += static_cast<u128>(-digit);
      }
    }
    digits[length++] = static_cast<std::int16_t>(digit);
    value >>= 1;
  }
  return length;
}

// Bits [c·kChunkBits, (c+1)·kChunkBits) of the scalar.
std::uint64_t chunkOf(const U256& scalar, int c) {
  if constexpr (kChunkBits == 64) {
    return scalar.limb[static_cast<std::size_t>(c)];
  } else {
    int bit = c * kChunkBits;
    std::uint64_t word = scalar.limb[static_cast<std::size_t>(bit / 64)] >> (bit % 64);
    return word & ((std::uint64_t{1} << kChunkBits) - 1);
  }
}

}  // namespace

std::optional<AffinePoint> decompress(const std::uint8_t* bytes33) {
  if (bytes33[0] != 0x02 && bytes33[0] != 0x03) return std::nullopt;
  return lift(bytes33 + 1, bytes33[0] == 0x03);
}

std::optional<AffinePoint> liftEvenY(const std::uint8_t* x32) {
  return lift(x32, false);
}

void compress(std::uint8_t* out33, const AffinePoint& point) {
  out33[0] = yIsOdd(point.y) ? 0x03 : 0x02;
  fieldToBytes(out33 + 1, point.x);
}

void pointDouble(JacobianPoint& r, const JacobianPoint& a) {
  if (a.infinity) {
    r.infinity = true;
    return;
  }
  // dbl-2009-l (a = 0). secp256k1 has no point of order 2, so y ≠ 0 here.
  FieldElement xx, yy, yyyy, d, e, f, t;
  fieldSqr(xx, a.x);
  fieldSqr(yy, a.y);
  fieldSqr(yyyy, yy);
  fieldAdd(t, a.x, yy);
  fieldSqr(t, t);
  fieldSub(t, t, xx);
  fieldSub(t, t, yyyy);
  fieldAdd(d, t, t);
  fieldAdd(e, xx, xx);
  fieldAdd(e, e, xx);
  fieldSqr(f, e);
  FieldElement z3;
  fieldMul(z3, a.y, a.z);
  fieldAdd(r.z, z3, z3);
  fieldSub(r.x, f, d);
  fieldSub(r.x, r.x, d);
  fieldSub(t, d, r.x);
  fieldMul(t, e, t);
  fieldMulSmall(yyyy, yyyy, 8);
  fieldSub(r.y, t, yyyy);
  r.infinity = false;
}

void pointAddAffine(JacobianPoint& r, const JacobianPoint& a, const AffinePoint& b) {
  if (a.infinity) {
    r.x = b.x;
    r.y = b.y;
    r.z = fieldFromSmall(1);
    r.infinity = false;
    return;
  }
  // madd-2007-bl.
  FieldElement z1z1, u2, s2, h, hh, i, j, rr, v, t;
  fieldSqr(z1z1, a.z);
  fieldMul(u2, b.x, z1z1);
  fieldMul(s2, b.y, a.z);
  fieldMul(s2, s2, z1z1);
  fieldSub(h, u2, a.x);
  fieldSub(rr, s2, a.y);
  if (fieldIsZero(h)) {
    if (fieldIsZero(rr)) {
      pointDouble(r, a);
    } else {
      r.infinity = true;
    }
    return;
  }
  fieldAdd(rr, rr, rr);
  fieldSqr(hh, h);
  fieldAdd(i, hh, hh);
  fieldAdd(i, i, i);
  fieldMul(j, h, i);
  fieldMul(v, a.x, i);
  FieldElement x3, y3, z3;
  fieldSqr(x3, rr);
  fieldSub(x3, x3, j);
  fieldSub(x3, x3, v);
  fieldSub(x3, x3, v);
  fieldSub(t, v, x3);
  fieldMul(y3, rr, t);
  fieldMul(t, a.y, j);
  fieldAdd(t, t, t);
  fieldSub(y3, y3, t);
  fieldAdd(z3, a.z, h);
  fieldSqr(z3, z3);
  fieldSub(z3, z3, z1z1);
  fieldSub(z3, z3, hh);
  r.x = x3;
  r.y = y3;
  r.z = z3;
  r.infinity = false;
}

void pointAdd(JacobianPoint& r, const JacobianPoint& a, const JacobianPoint& b) {
  if (a.infinity) {
    r = b;
    return;
  }
  if (b.infinity) {
    r = a;
    return;
  }
  // add-2007-bl.
  FieldElement z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;
  fieldSqr(z1z1, a.z);
  fieldSqr(z2z2, b.z);
  fieldMul(u1, a.x, z2z2);
  fieldMul(u2, b.x, z1z1);
  fieldMul(s1, a.y, b.z);
  fieldMul(s1, s1, z2z2);
  fieldMul(s2, b.y, a.z);
  fieldMul(s2, s2, z1z1);
  fieldSub(h, u2, u1);
  fieldSub(rr, s2, s1);
  if (fieldIsZero(h)) {
    if (fieldIsZero(rr)) {
      pointDouble(r, a);
    } else {
      r.infinity = true;
    }
    return;
  }
  fieldAdd(rr, rr, rr);
  fieldAdd(i, h, h);
  fieldSqr(i, i);
  fieldMul(j, h, i);
  fieldMul(v, u1, i);
  FieldElement x3, y3, z3;
  fieldSqr(x3, rr);
  fieldSub(x3, x3, j);
  fieldSub(x3, x3, v);
  fieldSub(x3, x3, v);
  fieldSub(t, v, x3);
  fieldMul(y3, rr, t);
  fieldMul(t, s1, j);
  fieldAdd(t, t, t);
  fieldSub(y3, y3, t);
  fieldAdd(z3, a.z, b.z);
  fieldSqr(z3, z3);
  fieldSub(z3, z3, z1z1);
  fieldSub(z3, z3, z2z2);
  fieldMul(z3, z3, h);
  r.x = x3;
  r.y = y3;
  r.z = z3;
  r.infinity = false;
}

bool toAffineBatch(std::span<const JacobianPoint> in, std::span<AffinePoint> out) {
  if (in.empty()) return true;
  for (const JacobianPoint& p : in) {
    if (p.infinity || fieldIsZero(p.z)) return false;
  }
  // Montgomery's trick: prefix products, one inversion, then walk back.
  std::vector<FieldElement> prefix(in.size());
  prefix[0] = in[0].z;
  for (std::size_t i = 1; i < in.size(); ++i) fieldMul(prefix[i], prefix[i - 1], in[i].z);
  FieldElement inverse;
  fieldInverse(inverse, prefix.back());
  for (std::size_t i = in.size(); i-- > 0;) {
    FieldElement zInv;
    if (i == 0) {
      zInv = inverse;
    } else {
      fieldMul(zInv, inverse, prefix[i - 1]);
      fieldMul(inverse, inverse, in[i].z);
    }
    FieldElement zInv2, zInv3;
    fieldSqr(zInv2, zInv);
    fieldMul(zInv3, zInv2, zInv);
    fieldMul(out[i].x, in[i].x, zInv2);
    fieldMul(out[i].y, in[i].y, zInv3);
    fieldNormalize(out[i].x);
    fieldNormalize(out[i].y);
  }
  return true;
}

PointTable::PointTable(const AffinePoint& base, int window)
    : window_(window), perChunk_(1 << (window - 2)) {
  if (window < 3 || window > 12) throw std::invalid_argument("PointTable window out of range");
  std::vector<JacobianPoint> jacobian(static_cast<std::size_t>(kChunks * perChunk_));
  JacobianPoint chunkBase{base.x, base.y, fieldFromSmall(1), false};
  for (int chunk = 0; chunk < kChunks; ++chunk) {
    if (chunk > 0) {
      for (int i = 0; i < kChunkBits; ++i) pointDouble(chunkBase, chunkBase);
    }
    JacobianPoint twice;
    pointDouble(twice, chunkBase);
    std::size_t first = static_cast<std::size_t>(chunk) * static_cast<std::size_t>(perChunk_);
    jacobian[first] = chunkBase;
    for (int k = 1; k < perChunk_; ++k) {
      pointAdd(jacobian[first + static_cast<std::size_t>(k)],
               jacobian[first + static_cast<std::size_t>(k - 1)], twice);
    }
  }
  entries_.resize(jacobian.size());
  // Multiples of a point of prime order n below n are never the point at infinity.
  if (!toAffineBatch(jacobian, entries_)) throw std::logic_error("PointTable hit infinity");
}

const PointTable& generatorTable() {
  static const PointTable table = [] {
    static const std::uint8_t kGenerator[33] = {
        0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0,
        0x62, 0x95, 0xce, 0x87, 0x0b, 0x07, 0x02, 0x9b, 0xfc, 0xdb, 0x2d,
        0xce, 0x28, 0xd9, 0x59, 0xf2, 0x81, 0x5b, 0x16, 0xf8, 0x17, 0x98};
    return PointTable(*decompress(kGenerator), 10);
  }();
  return table;
}

JacobianPoint multiMultiply(std::span<const ScalarTerm> terms) {
  constexpr std::size_t kMaxTerms = 4;
  if (terms.size() > kMaxTerms) throw std::invalid_argument("multiMultiply: too many terms");
  // digits[term][chunk][position]
  std::int16_t digits[kMaxTerms][kChunks][kChunkBits + 1];
  int lengths[kMaxTerms][kChunks];
  int top = 0;
  for (std::size_t t = 0; t < terms.size(); ++t) {
    for (int c = 0; c < kChunks; ++c) {
      lengths[t][c] =
          nafDigits(digits[t][c], chunkOf(terms[t].scalar, c), terms[t].table->window());
      if (lengths[t][c] > top) top = lengths[t][c];
    }
  }
  JacobianPoint acc;
  for (int position = top - 1; position >= 0; --position) {
    pointDouble(acc, acc);
    for (std::size_t t = 0; t < terms.size(); ++t) {
      for (int c = 0; c < kChunks; ++c) {
        if (position >= lengths[t][c]) continue;
        int digit = digits[t][c][position];
        if (digit == 0) continue;
        if (digit > 0) {
          pointAddAffine(acc, acc, terms[t].table->odd(c, (digit - 1) / 2));
        } else {
          AffinePoint negated = terms[t].table->odd(c, (-digit - 1) / 2);
          fieldNegate(negated.y, negated.y);
          pointAddAffine(acc, acc, negated);
        }
      }
    }
  }
  return acc;
}

}  // namespace pocket::crypto::detail
