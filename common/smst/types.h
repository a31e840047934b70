#pragma once
// Fixed-size values of the sparse Merkle sum trie (pokt-network/smt v0.14.1 with sha256):
// 32-byte paths, 48-byte digests (sha256 ‖ BE64 sum ‖ BE64 count) and the bit order of paths.

#include <array>
#include <cstdint>
#include <cstring>

#include "common/util/bytes.h"

namespace pocket::smst {

inline constexpr std::size_t kPathSize = 32;
inline constexpr std::size_t kHashSize = 32;
inline constexpr std::size_t kDigestSize = 48;  // sha256(preimage) ‖ BE64(sum) ‖ BE64(count)
inline constexpr std::size_t kSuffixSize = 16;  // BE64(weight or sum) ‖ BE64(count)
inline constexpr int kMaxDepth = 256;

using Path = std::array<std::uint8_t, kPathSize>;
using Digest = std::array<std::uint8_t, kDigestSize>;

// The digest of an empty subtree: 48 zero bytes (not a hash of anything).
inline constexpr Digest kPlaceholder{};

// How a leaf's value is stored before the weight/count suffix is appended.
//   none:   the raw value (poktroll's configuration, smt.WithValueHasher(nil))
//   sha256: sha256(value) (the smt library default)
enum class ValueHasher : std::uint8_t { none, sha256 };

// Bit `i` of a path, most significant bit first: 0 = left, 1 = right.
inline int pathBit(const std::uint8_t* path, int i) {
  return (path[i >> 3] >> (7 - (i & 7))) & 1;
}

inline void flipPathBit(std::uint8_t* path, int i) {
  path[i >> 3] ^= static_cast<std::uint8_t>(1u << (7 - (i & 7)));
}

inline std::uint64_t readBE64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

inline void writeBE64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}

// Sum and count carried in the last 16 bytes of a digest, a preimage or a stored value.
inline std::uint64_t sumOf(const Digest& d) {
  return readBE64(d.data() + kHashSize);
}
inline std::uint64_t countOf(const Digest& d) {
  return readBE64(d.data() + kHashSize + 8);
}

// Hash functor for unordered containers keyed by digests (digests are uniformly distributed).
struct DigestHash {
  std::size_t operator()(const Digest& d) const {
    std::size_t h;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
  }
};

}  // namespace pocket::smst
