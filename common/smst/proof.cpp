#include "common/smst/proof.h"

#include <algorithm>
#include <bit>
#include <string>

#include "common/crypto/hash.h"
#include "common/smst/hashing.h"

namespace pocket::smst {

namespace {

using util::Bytes;
using util::ByteSpan;
using util::makeError;

util::Error invalid(std::string message) {
  return makeError("invalid_proof", std::move(message));
}

// sha256(pre) ‖ pre[-16:], the digest of any non-extension preimage (len(pre) >= 16).
Digest dataDigest(ByteSpan pre) {
  Digest d;
  detail::sha256Into(pre.data(), pre.size(), d.data());
  std::memcpy(d.data() + kHashSize, pre.data() + pre.size() - kSuffixSize, kSuffixSize);
  return d;
}

// The digest of the leaf preimage 00 ‖ path ‖ v (the suffix is the last 16 bytes of the preimage,
// whatever v's length).
Digest leafDigestAny(ByteSpan path, ByteSpan v) {
  Bytes pre;
  pre.reserve(1 + path.size() + v.size());
  pre.push_back(0x00);
  pre.insert(pre.end(), path.begin(), path.end());
  pre.insert(pre.end(), v.begin(), v.end());
  return dataDigest(pre);
}

// Go's hashSumSerialization for a SiblingData of any shape: an extension preimage is expanded with
// its embedded child bytes taken as they are (they may have any length in a forged proof).
util::Result<Bytes> hashPreimageAny(ByteSpan data) {
  if (data.size() < kSuffixSize) {
    return invalid("sibling data of " + std::to_string(data.size()) + " bytes is shorter than 16");
  }
  if (data[0] != 0x02) {
    Digest d = dataDigest(data);
    return Bytes(d.begin(), d.end());
  }
  constexpr std::size_t kChildAt = 3 + kPathSize;
  if (data.size() < kChildAt + kSuffixSize) {
    return invalid("extension sibling data of " + std::to_string(data.size()) +
                   " bytes is too short");
  }
  int start = data[1];
  int end = data[2];
  const std::uint8_t* path = data.data() + 3;
  Bytes cur(data.begin() + kChildAt, data.end() - kSuffixSize);
  for (int i = end - 1; i >= start; --i) {
    if (cur.size() < kSuffixSize) {
      return invalid("extension sibling data embeds a child shorter than 16 bytes");
    }
    std::uint64_t sum = readBE64(cur.data() + cur.size() - 16);
    std::uint64_t count = readBE64(cur.data() + cur.size() - 8);
    Bytes pre;
    pre.reserve(1 + cur.size() + kDigestSize + kSuffixSize);
    pre.push_back(0x01);
    if (pathBit(path, i) == 0) {
      pre.insert(pre.end(), cur.begin(), cur.end());
      pre.insert(pre.end(), kPlaceholder.begin(), kPlaceholder.end());
    } else {
      pre.insert(pre.end(), kPlaceholder.begin(), kPlaceholder.end());
      pre.insert(pre.end(), cur.begin(), cur.end());
    }
    pre.resize(pre.size() + kSuffixSize);
    writeBE64(pre.data() + pre.size() - 16, sum);
    writeBE64(pre.data() + pre.size() - 8, count);
    Digest d = dataDigest(pre);
    cur.assign(d.begin(), d.end());
  }
  return cur;
}

util::Status validateProof(const SparseMerkleProof& proof) {
  if (proof.sideNodes.size() > static_cast<std::size_t>(kMaxDepth)) {
    return invalid("too many side nodes: " + std::to_string(proof.sideNodes.size()) + " > 256");
  }
  if (!proof.nonMembershipLeafData.empty() && proof.nonMembershipLeafData.size() < 1 + kPathSize) {
    return invalid("non-membership leaf data of " +
                   std::to_string(proof.nonMembershipLeafData.size()) + " bytes, minimum is 33");
  }
  if (proof.siblingData.empty() || proof.sideNodes.empty()) return util::Ok{};
  for (const Bytes& node : proof.sideNodes) {
    if (node.size() != kDigestSize) {
      return invalid("side node of " + std::to_string(node.size()) + " bytes, want 48");
    }
  }
  util::Result<Bytes> siblingHash = hashPreimageAny(proof.siblingData);
  if (!siblingHash) return siblingHash.error();
  if (*siblingHash != proof.sideNodes[0]) {
    return invalid("sibling data does not hash to the first side node");
  }
  return util::Ok{};
}

// Go's verifyProofWithUpdates with the sum-trie spec and no value hasher: `v` is the stored value
// V (membership) or empty (non-membership).
util::Status verifyPath(const SparseMerkleProof& proof, ByteSpan root, ByteSpan path, ByteSpan v) {
  util::Status basic = validateProof(proof);
  if (!basic) return basic;
  Digest cur;
  if (v.empty()) {
    if (proof.nonMembershipLeafData.empty()) {
      cur = kPlaceholder;
    } else {
      const Bytes& leaf = proof.nonMembershipLeafData;
      if (leaf[0] != 0x00) return invalid("non-membership leaf data is not a leaf encoding");
      ByteSpan actualPath(leaf.data() + 1, kPathSize);
      if (std::equal(actualPath.begin(), actualPath.end(), path.begin(), path.end())) {
        return invalid("non-membership proof on related leaf");
      }
      cur = dataDigest(leaf);
    }
  } else {
    cur = leafDigestAny(path, v);
  }
  std::size_t n = proof.sideNodes.size();
  for (std::size_t i = 0; i < n; ++i) {
    Digest node{};
    const Bytes& side = proof.sideNodes[i];
    std::memcpy(node.data(), side.data(), std::min(side.size(), kDigestSize));
    Digest next;
    if (pathBit(path.data(), static_cast<int>(n - 1 - i)) == 0) {
      detail::innerDigestInto(cur.data(), node.data(), next.data());
    } else {
      detail::innerDigestInto(node.data(), cur.data(), next.data());
    }
    cur = next;
  }
  if (!std::equal(cur.begin(), cur.end(), root.begin(), root.end())) {
    return makeError("root_mismatch", "the proof does not lead to the given root");
  }
  return util::Ok{};
}

Bytes hashValue(ValueHasher hasher, ByteSpan value) {
  if (hasher == ValueHasher::none) return Bytes(value.begin(), value.end());
  crypto::Hash32 h = crypto::sha256(value);
  return Bytes(h.begin(), h.end());
}

util::Status verifySum(const SparseMerkleProof& proof, ByteSpan root, ByteSpan path, ByteSpan value,
                       std::uint64_t sum, std::uint64_t count, ValueHasher hasher) {
  if (value.empty() && sum == 0) return verifyPath(proof, root, path, {});
  Bytes v = storedValue(hasher, value, sum, count);
  return verifyPath(proof, root, path, v);
}

int minBytes(std::int64_t i) {
  if (i == 0) return 1;
  int n = 0;
  for (std::uint64_t u = static_cast<std::uint64_t>(i); u > 0; u >>= 8) ++n;
  return n;
}

Bytes intToBytes(std::int64_t i) {
  int d = minBytes(i);
  Bytes out(static_cast<std::size_t>(d));
  std::uint64_t u = static_cast<std::uint64_t>(i);
  for (int k = d - 1; k >= 0; --k) {
    out[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(u);
    u >>= 8;
  }
  return out;
}

std::int64_t bytesToInt(ByteSpan b) {  // len(b) <= 8 (checked by callers)
  std::uint64_t u = 0;
  for (std::uint8_t x : b) u = (u << 8) | x;
  return static_cast<std::int64_t>(u);
}

util::Status validateClosest(const SparseMerkleClosestProof& proof) {
  if (proof.path.size() != kPathSize) {
    return invalid("closest proof path of " + std::to_string(proof.path.size()) +
                   " bytes, want 32");
  }
  if (proof.depth < 0 || proof.depth > kMaxDepth) {
    return invalid("closest proof depth " + std::to_string(proof.depth) + " outside [0, 256]");
  }
  for (std::int64_t b : proof.flippedBits) {
    if (b < 0 || b > proof.depth) {
      return invalid("flipped bit " + std::to_string(b) + " outside [0, depth]");
    }
    if (b >= kMaxDepth) return invalid("flipped bit 256 is outside the path");
  }
  Path wp;
  std::memcpy(wp.data(), proof.path.data(), kPathSize);
  for (std::int64_t b : proof.flippedBits) flipPathBit(wp.data(), static_cast<int>(b));
  if (proof.closestPath.size() * 8 < static_cast<std::size_t>(proof.depth)) {
    return invalid("closest path is shorter than the proof depth");
  }
  for (int i = 0; i < proof.depth; ++i) {
    if (pathBit(wp.data(), i) != pathBit(proof.closestPath.data(), i)) {
      return invalid("closest path differs from the flipped path at bit " + std::to_string(i));
    }
  }
  return validateProof(proof.closestProof);
}

util::Status validateCompact(const SparseCompactMerkleProof& proof) {
  if (proof.numSideNodes < 0 || proof.numSideNodes > kMaxDepth) {
    return invalid("number of side nodes " + std::to_string(proof.numSideNodes) +
                   " outside [0, 256]");
  }
  std::size_t maskLen = static_cast<std::size_t>((proof.numSideNodes + 7) / 8);
  if (proof.bitMask.size() != maskLen) {
    return invalid("bit mask of " + std::to_string(proof.bitMask.size()) + " bytes, want " +
                   std::to_string(maskLen));
  }
  int setBits = 0;
  for (std::uint8_t b : proof.bitMask) setBits += std::popcount(b);
  std::int64_t expected = proof.numSideNodes - setBits;
  if (proof.numSideNodes > 0 && static_cast<std::int64_t>(proof.sideNodes.size()) != expected) {
    return invalid("compact proof has " + std::to_string(proof.sideNodes.size()) +
                   " side nodes, the bit mask wants " + std::to_string(expected));
  }
  return util::Ok{};
}

}  // namespace

ByteSpan SparseMerkleClosestProof::valueHash() const {
  if (closestValueHash.size() < kSuffixSize) return {};
  return ByteSpan(closestValueHash.data(), closestValueHash.size() - kSuffixSize);
}

Digest leafDigest(ByteSpan path, ByteSpan storedValue) {
  return leafDigestAny(path, storedValue);
}

Digest innerDigest(const Digest& left, const Digest& right) {
  Digest out;
  detail::innerDigestInto(left.data(), right.data(), out.data());
  return out;
}

util::Result<Digest> preimageDigest(ByteSpan preimage) {
  util::Result<Bytes> h = hashPreimageAny(preimage);
  if (!h) return h.error();
  if (h->size() != kDigestSize) return invalid("extension preimage embeds a malformed child");
  Digest d;
  std::memcpy(d.data(), h->data(), kDigestSize);
  return d;
}

Bytes storedValue(ValueHasher hasher, ByteSpan value, std::uint64_t weight, std::uint64_t count) {
  Bytes v = hashValue(hasher, value);
  std::size_t at = v.size();
  v.resize(at + kSuffixSize);
  writeBE64(v.data() + at, weight);
  writeBE64(v.data() + at + 8, count);
  return v;
}

util::Status verifySumProof(const SparseMerkleProof& proof, ByteSpan root, ByteSpan key,
                            ByteSpan value, std::uint64_t sum, std::uint64_t count,
                            ValueHasher hasher) {
  crypto::Hash32 path = crypto::sha256(key);
  return verifySum(proof, root, path, value, sum, count, hasher);
}

util::Status verifyCompactSumProof(const SparseCompactMerkleProof& proof, ByteSpan root,
                                   ByteSpan key, ByteSpan value, std::uint64_t sum,
                                   std::uint64_t count, ValueHasher hasher) {
  util::Result<SparseMerkleProof> full = decompactProof(proof);
  if (!full) return full.error();
  return verifySumProof(*full, root, key, value, sum, count, hasher);
}

util::Status verifyClosestProof(const SparseMerkleClosestProof& proof, ByteSpan root,
                                ValueHasher hasher) {
  util::Status basic = validateClosest(proof);
  if (!basic) return basic;
  if (proof.closestPath.size() < kPathSize) {
    return invalid("closest path of " + std::to_string(proof.closestPath.size()) +
                   " bytes is shorter than 32");
  }
  ByteSpan path(proof.closestPath.data(), kPathSize);
  if (proof.closestValueHash.empty()) {
    return verifySum(proof.closestProof, root, path, {}, 0, 0, hasher);
  }
  const Bytes& data = proof.closestValueHash;
  if (data.size() < kSuffixSize) {
    return invalid("closest value hash of " + std::to_string(data.size()) +
                   " bytes is shorter than 16");
  }
  std::size_t at = data.size() - kSuffixSize;
  return verifySum(proof.closestProof, root, path, ByteSpan(data.data(), at),
                   readBE64(data.data() + at), readBE64(data.data() + at + 8), hasher);
}

util::Status verifyCompactClosestProof(const SparseCompactMerkleClosestProof& proof, ByteSpan root,
                                       ValueHasher hasher) {
  util::Result<SparseMerkleClosestProof> full = decompactClosestProof(proof);
  if (!full) return full.error();
  return verifyClosestProof(*full, root, hasher);
}

util::Result<SparseCompactMerkleProof> compactProof(const SparseMerkleProof& proof) {
  util::Status basic = validateProof(proof);
  if (!basic) return basic.error();
  SparseCompactMerkleProof out;
  std::size_t n = proof.sideNodes.size();
  out.bitMask.assign((n + 7) / 8, 0);
  for (std::size_t i = 0; i < n; ++i) {
    Bytes node(kDigestSize, 0);
    const Bytes& side = proof.sideNodes[i];
    std::memcpy(node.data(), side.data(), std::min(side.size(), kDigestSize));
    if (std::equal(node.begin(), node.end(), kPlaceholder.begin())) {
      out.bitMask[i / 8] |= static_cast<std::uint8_t>(1u << (7 - i % 8));
    } else {
      out.sideNodes.push_back(std::move(node));
    }
  }
  out.nonMembershipLeafData = proof.nonMembershipLeafData;
  out.numSideNodes = static_cast<std::int64_t>(n);
  out.siblingData = proof.siblingData;
  return out;
}

util::Result<SparseMerkleProof> decompactProof(const SparseCompactMerkleProof& proof) {
  util::Status basic = validateCompact(proof);
  if (!basic) return basic.error();
  SparseMerkleProof out;
  std::size_t position = 0;
  for (int i = 0; i < proof.numSideNodes; ++i) {
    if (pathBit(proof.bitMask.data(), i) == 1) {
      out.sideNodes.emplace_back(kPlaceholder.begin(), kPlaceholder.end());
    } else {
      if (position >= proof.sideNodes.size()) {
        return invalid("bit mask has set bits beyond the number of side nodes");
      }
      out.sideNodes.push_back(proof.sideNodes[position++]);
    }
  }
  out.nonMembershipLeafData = proof.nonMembershipLeafData;
  out.siblingData = proof.siblingData;
  return out;
}

util::Result<SparseCompactMerkleClosestProof> compactClosestProof(
    const SparseMerkleClosestProof& proof) {
  util::Status basic = validateClosest(proof);
  if (!basic) return basic.error();
  util::Result<SparseCompactMerkleProof> inner = compactProof(proof.closestProof);
  if (!inner) return inner.error();
  SparseCompactMerkleClosestProof out;
  out.path = proof.path;
  for (std::int64_t b : proof.flippedBits) out.flippedBits.push_back(intToBytes(b));
  out.depth = intToBytes(proof.depth);
  out.closestPath = proof.closestPath;
  out.closestValueHash = proof.closestValueHash;
  out.closestProof = std::move(*inner);
  return out;
}

util::Result<SparseMerkleClosestProof> decompactClosestProof(
    const SparseCompactMerkleClosestProof& proof) {
  if (proof.path.size() != kPathSize) {
    return invalid("closest proof path of " + std::to_string(proof.path.size()) +
                   " bytes, want 32");
  }
  if (proof.depth.size() > 2) {
    return invalid("compact depth of " + std::to_string(proof.depth.size()) + " bytes, max 2");
  }
  for (const Bytes& b : proof.flippedBits) {
    if (b.size() > 2) {
      return invalid("compact flipped bit of " + std::to_string(b.size()) + " bytes, max 2");
    }
  }
  util::Result<SparseMerkleProof> inner = decompactProof(proof.closestProof);
  if (!inner) return inner.error();
  SparseMerkleClosestProof out;
  out.path = proof.path;
  for (const Bytes& b : proof.flippedBits) out.flippedBits.push_back(bytesToInt(b));
  out.depth = bytesToInt(proof.depth);
  out.closestPath = proof.closestPath;
  out.closestValueHash = proof.closestValueHash;
  out.closestProof = std::move(*inner);
  return out;
}

}  // namespace pocket::smst
