#pragma once
// Internal: secp256k1 group arithmetic for verification (variable time, public data only).
//
// Scalar multiplication here is built for ring-signature verification, where the bases (the
// generator, ring members, their hash-to-curve points, the key image) repeat across many
// signatures while the scalars are fresh each time. Each base is expanded once into a
// PointTable: for every 16-bit chunk j of a scalar, the odd multiples 1,3,…,2^(w-1)-1 of
// 2^(16j)·B in affine form. A sum Σ k_i·B_i is then one Strauss pass over 16 bit positions with
// width-w NAF digits per chunk: 17 doublings instead of 256, and one mixed addition per digit.
// The chunk width trades table memory (16 chunks × 2^(w-2) points) for doublings.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/crypto/field.h"
#include "common/crypto/uint256.h"

namespace pocket::crypto::detail {

struct AffinePoint {
  FieldElement x;
  FieldElement y;
};

struct JacobianPoint {
  FieldElement x;
  FieldElement y;
  FieldElement z;
  bool infinity = true;
};

// Decompresses 33 bytes (02/03 ‖ x, x < p, on the curve). Same acceptance set as
// secp256k1_ec_pubkey_parse for 33-byte input.
std::optional<AffinePoint> decompress(const std::uint8_t* bytes33);
// x-only decompression with even y (the hash-to-curve rule); nullopt when x ≥ p or not on curve.
std::optional<AffinePoint> liftEvenY(const std::uint8_t* x32);
void compress(std::uint8_t* out33, const AffinePoint& point);

void pointDouble(JacobianPoint& r, const JacobianPoint& a);
void pointAddAffine(JacobianPoint& r, const JacobianPoint& a, const AffinePoint& b);
void pointAdd(JacobianPoint& r, const JacobianPoint& a, const JacobianPoint& b);

// Converts to affine several points at once (one field inversion). Returns false if any is the
// point at infinity (its output is then unspecified).
bool toAffineBatch(std::span<const JacobianPoint> in, std::span<AffinePoint> out);

inline constexpr int kChunkBits = 16;
inline constexpr int kChunks = 256 / kChunkBits;

class PointTable {
 public:
  // `window` is the NAF width w (3..12): 2^(w-2) odd multiples per chunk.
  PointTable(const AffinePoint& base, int window);

  int window() const { return window_; }
  // (2·index + 1) · 2^(kChunkBits·chunk) · base.
  const AffinePoint& odd(int chunk, int index) const {
    return entries_[static_cast<std::size_t>(chunk * perChunk_ + index)];
  }
  std::size_t bytes() const { return entries_.size() * sizeof(AffinePoint); }

 private:
  int window_;
  int perChunk_;
  std::vector<AffinePoint> entries_;
};

// The generator's table, built on first use and shared read-only by all threads.
const PointTable& generatorTable();

struct ScalarTerm {
  U256 scalar;  // below n
  const PointTable* table;
};

// Σ scalar_i · base_i (Strauss over kChunkBits-bit chunks). At most 4 terms.
JacobianPoint multiMultiply(std::span<const ScalarTerm> terms);

}  // namespace pocket::crypto::detail
