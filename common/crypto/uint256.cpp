#include "common/crypto/uint256.h"

namespace pocket::crypto::detail {

namespace {
__extension__ typedef unsigned __int128 u128;  // NOLINT(modernize-use-using): pedantic-clean

// 2^256 mod n = 0x14551231950b75fc4402da1732fc9bebf (129 bits).
constexpr std::array<std::uint64_t, 3> kOrderComplement = {0x402da1732fc9bebfULL,
                                                           0x4551231950b75fc4ULL, 0x1ULL};
}  // namespace

const U256 kOrder{
    {0xbfd25e8cd0364141ULL, 0xbaaedce6af48a03bULL, 0xfffffffffffffffeULL, 0xffffffffffffffffULL}};
const U256 kHalfOrder{
    {0xdfe92f46681b20a0ULL, 0x5d576e7357a4501dULL, 0xffffffffffffffffULL, 0x7fffffffffffffffULL}};

U256 U256::fromBigEndian(const std::uint8_t* bytes32) {
  U256 out;
  for (int i = 0; i < 4; ++i) {
    std::uint64_t v = 0;
    for (int j = 0; j < 8; ++j) v = (v << 8) | bytes32[(3 - i) * 8 + j];
    out.limb[static_cast<std::size_t>(i)] = v;
  }
  return out;
}

void U256::toBigEndian(std::uint8_t* out32) const {
  for (int i = 0; i < 4; ++i) {
    std::uint64_t v = limb[static_cast<std::size_t>(i)];
    for (int j = 7; j >= 0; --j) {
      out32[(3 - i) * 8 + j] = static_cast<std::uint8_t>(v);
      v >>= 8;
    }
  }
}

int compare(const U256& a, const U256& b) {
  for (int i = 3; i >= 0; --i) {
    auto k = static_cast<std::size_t>(i);
    if (a.limb[k] != b.limb[k]) return a.limb[k] < b.limb[k] ? -1 : 1;
  }
  return 0;
}

std::uint64_t subtract(U256& a, const U256& b) {
  std::uint64_t borrow = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    u128 d = static_cast<u128>(a.limb[i]) - b.limb[i] - borrow;
    a.limb[i] = static_cast<std::uint64_t>(d);
    borrow = static_cast<std::uint64_t>(d >> 64) & 1;
  }
  return borrow;
}

std::uint64_t add(U256& a, const U256& b) {
  std::uint64_t carry = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    u128 s = static_cast<u128>(a.limb[i]) + b.limb[i] + carry;
    a.limb[i] = static_cast<std::uint64_t>(s);
    carry = static_cast<std::uint64_t>(s >> 64);
  }
  return carry;
}

U256 reduceModOrder(const U256& x) {
  U256 out = x;
  if (compare(out, kOrder) >= 0) subtract(out, kOrder);
  return out;
}

U256 reduceWideModOrder(const std::uint8_t* bytes64) {
  // Fold the high half down with 2^256 ≡ kOrderComplement until the value fits in 256 bits,
  // then subtract n once if needed.
  std::array<std::uint64_t, 8> value{};
  U256 high = U256::fromBigEndian(bytes64);
  U256 low = U256::fromBigEndian(bytes64 + 32);
  for (std::size_t i = 0; i < 4; ++i) {
    value[i] = low.limb[i];
    value[i + 4] = high.limb[i];
  }
  for (;;) {
    bool highZero = true;
    for (std::size_t i = 4; i < 8; ++i) highZero = highZero && value[i] == 0;
    if (highZero) break;
    std::array<std::uint64_t, 8> next{};
    for (std::size_t i = 0; i < 4; ++i) next[i] = value[i];
    // next += value[4..7] * kOrderComplement
    for (std::size_t i = 0; i < 4; ++i) {
      std::uint64_t carry = 0;
      for (std::size_t j = 0; j < 3; ++j) {
        u128 t = static_cast<u128>(value[4 + i]) * kOrderComplement[j] + next[i + j] + carry;
        next[i + j] = static_cast<std::uint64_t>(t);
        carry = static_cast<std::uint64_t>(t >> 64);
      }
      for (std::size_t k = i + 3; carry != 0 && k < 8; ++k) {
        u128 t = static_cast<u128>(next[k]) + carry;
        next[k] = static_cast<std::uint64_t>(t);
        carry = static_cast<std::uint64_t>(t >> 64);
      }
    }
    value = next;
  }
  U256 out{{value[0], value[1], value[2], value[3]}};
  return reduceModOrder(out);
}

}  // namespace pocket::crypto::detail
