#pragma once
// The proof types of pokt-network/smt v0.14.1 (proofs.go), their compact forms and verification.
// These are value types; every function here is pure and thread-safe.
//
// Byte fields use an empty vector for Go's nil: gob does not distinguish nil from empty, and no
// proof produced by the trie has an empty-but-present field.
//
// Verification returns util::Status: ok() means the proof is valid for the root; otherwise the
// error says why (code "invalid_proof" for malformed proofs, "root_mismatch" when the proof is
// well formed but proves a different root).

#include <cstdint>
#include <vector>

#include "common/smst/types.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::smst {

struct SparseMerkleProof {
  std::vector<util::Bytes> sideNodes;  // bottom-up digests, 48 bytes each; 00×48 = empty
  util::Bytes nonMembershipLeafData;   // 00 ‖ path ‖ V of another leaf, or empty
  util::Bytes siblingData;             // preimage of the deepest sibling, or empty
  bool operator==(const SparseMerkleProof&) const = default;
};

struct SparseCompactMerkleProof {
  std::vector<util::Bytes> sideNodes;  // the non-placeholder side nodes, in order
  util::Bytes nonMembershipLeafData;
  util::Bytes bitMask;  // bit i (MSB first) set iff side node i is the placeholder
  std::int64_t numSideNodes = 0;
  util::Bytes siblingData;
  bool operator==(const SparseCompactMerkleProof&) const = default;
};

struct SparseMerkleClosestProof {
  util::Bytes path;                       // the requested path (32 bytes), unflipped
  std::vector<std::int64_t> flippedBits;  // bit indices flipped while descending
  std::int64_t depth = 0;                 // depth of the closest leaf
  util::Bytes closestPath;                // the closest leaf's path (48 zero bytes: empty trie)
  util::Bytes closestValueHash;           // the closest leaf's V = value ‖ weight ‖ count
  SparseMerkleProof closestProof;
  bool operator==(const SparseMerkleClosestProof&) const = default;

  // The closest leaf's value without its weight/count suffix (the relay bytes on poktroll);
  // empty when closestValueHash is shorter than 16 bytes.
  util::ByteSpan valueHash() const;
};

struct SparseCompactMerkleClosestProof {
  util::Bytes path;
  std::vector<util::Bytes> flippedBits;  // minimal big-endian, 0 -> {0x00}
  util::Bytes depth;                     // minimal big-endian, 0 -> {0x00}
  util::Bytes closestPath;
  util::Bytes closestValueHash;
  SparseCompactMerkleProof closestProof;
  bool operator==(const SparseCompactMerkleClosestProof&) const = default;
};

// The leaf digest sha256(00 ‖ path ‖ V) ‖ V[-16:]; V must be at least 16 bytes.
Digest leafDigest(util::ByteSpan path, util::ByteSpan storedValue);
// The inner digest of two child digests (sums and counts add with uint64 wrap-around).
Digest innerDigest(const Digest& left, const Digest& right);
// The digest of a node preimage: sha256(pre) ‖ pre[-16:], or for an extension preimage the digest
// of its expanded chain. Fails on a malformed extension preimage or one shorter than 16 bytes.
util::Result<Digest> preimageDigest(util::ByteSpan preimage);

// V = vh(value) ‖ BE64(weight) ‖ BE64(count).
util::Bytes storedValue(ValueHasher hasher, util::ByteSpan value, std::uint64_t weight,
                        std::uint64_t count);

// VerifySumProof(proof, root, key, value, sum, count): membership of (key, value, sum, count) or,
// when value is empty and sum is 0 (Go's convention), non-membership of key.
util::Status verifySumProof(const SparseMerkleProof& proof, util::ByteSpan root, util::ByteSpan key,
                            util::ByteSpan value, std::uint64_t sum, std::uint64_t count,
                            ValueHasher hasher);
util::Status verifyCompactSumProof(const SparseCompactMerkleProof& proof, util::ByteSpan root,
                                   util::ByteSpan key, util::ByteSpan value, std::uint64_t sum,
                                   std::uint64_t count, ValueHasher hasher);
util::Status verifyClosestProof(const SparseMerkleClosestProof& proof, util::ByteSpan root,
                                ValueHasher hasher);
util::Status verifyCompactClosestProof(const SparseCompactMerkleClosestProof& proof,
                                       util::ByteSpan root, ValueHasher hasher);

// Compaction runs the proof's basic validation first, like Go's CompactProof.
util::Result<SparseCompactMerkleProof> compactProof(const SparseMerkleProof& proof);
util::Result<SparseMerkleProof> decompactProof(const SparseCompactMerkleProof& proof);
util::Result<SparseCompactMerkleClosestProof> compactClosestProof(
    const SparseMerkleClosestProof& proof);
util::Result<SparseMerkleClosestProof> decompactClosestProof(
    const SparseCompactMerkleClosestProof& proof);

}  // namespace pocket::smst
