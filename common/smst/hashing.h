#pragma once
// The hashing primitives of the trie over raw buffers (internal to common/smst).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/crypto/sha256.h"
#include "common/smst/types.h"

namespace pocket::smst::detail {

using crypto::sha256Accelerated;
using crypto::sha256Into;
using crypto::sha256PairInto;
using crypto::sha256Portable;

inline constexpr std::size_t kInnerPreimageSize = 1 + 2 * kDigestSize + kSuffixSize;

// The preimage 01 ‖ L ‖ R ‖ BE64(sum) ‖ BE64(count) of an inner node over two 48-byte child
// digests, into pre (kInnerPreimageSize bytes).
inline void innerPreimage(const std::uint8_t* left, const std::uint8_t* right, std::uint8_t* pre) {
  pre[0] = 0x01;
  std::memcpy(pre + 1, left, kDigestSize);
  std::memcpy(pre + 1 + kDigestSize, right, kDigestSize);
  std::uint64_t sum = readBE64(left + kHashSize) + readBE64(right + kHashSize);
  std::uint64_t count = readBE64(left + kHashSize + 8) + readBE64(right + kHashSize + 8);
  writeBE64(pre + 1 + 2 * kDigestSize, sum);
  writeBE64(pre + 1 + 2 * kDigestSize + 8, count);
}

// inner(L, R) for two 48-byte child digests, written to out (48 bytes).
inline void innerDigestInto(const std::uint8_t* left, const std::uint8_t* right,
                            std::uint8_t* out) {
  std::uint8_t pre[kInnerPreimageSize];
  innerPreimage(left, right, pre);
  sha256Into(pre, sizeof pre, out);
  std::memcpy(out + kHashSize, pre + 1 + 2 * kDigestSize, kSuffixSize);
}

// The digest of the chain of single-child inner nodes at depths [start, end) above `child`, the
// chain node at depth i having its child on side pathBit(path, i). start >= end returns child.
inline void chainDigestInto(const std::uint8_t* path, int start, int end, const Digest& child,
                            Digest& out) {
  Digest cur = child;
  for (int i = end - 1; i >= start; --i) {
    Digest next;
    if (pathBit(path, i) == 0) {
      innerDigestInto(cur.data(), kPlaceholder.data(), next.data());
    } else {
      innerDigestInto(kPlaceholder.data(), cur.data(), next.data());
    }
    cur = next;
  }
  out = cur;
}

}  // namespace pocket::smst::detail
