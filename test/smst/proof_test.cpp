#include "common/smst/proof.h"

#include <doctest.h>

#include "common/crypto/hash.h"
#include "common/smst/store.h"
#include "common/smst/trie.h"
#include "common/util/hex.h"

using namespace pocket;

namespace {

// A closest proof over a small poktroll-style trie, and its root.
struct Fixture {
  smst::MemoryStore store;
  smst::SparseMerkleSumTrie trie{store};
  smst::Digest root;
  smst::SparseMerkleClosestProof proof;
  Fixture() {
    for (int i = 0; i < 64; ++i) {
      std::string key = "relay-" + std::to_string(i);
      trie.update(util::asBytes(key), util::asBytes("relay bytes " + key), 42);
    }
    root = trie.root();
    proof = *trie.proveClosest(crypto::sha256(util::asBytes("block")));
  }
};

std::string code(const util::Status& s) {
  return s.ok() ? "ok" : s.error().code;
}

}  // namespace

TEST_CASE("verifyClosestProof rejects tampered proofs with a reason") {
  Fixture f;
  REQUIRE(smst::verifyClosestProof(f.proof, f.root, smst::ValueHasher::none).ok());

  auto p = f.proof;
  p.path.pop_back();
  CHECK(code(smst::verifyClosestProof(p, f.root, smst::ValueHasher::none)) == "invalid_proof");

  p = f.proof;
  p.depth = 257;
  CHECK(code(smst::verifyClosestProof(p, f.root, smst::ValueHasher::none)) == "invalid_proof");

  p = f.proof;
  p.flippedBits.push_back(p.depth + 1);
  CHECK(code(smst::verifyClosestProof(p, f.root, smst::ValueHasher::none)) == "invalid_proof");

  p = f.proof;
  p.closestValueHash.resize(5);
  CHECK(code(smst::verifyClosestProof(p, f.root, smst::ValueHasher::none)) == "invalid_proof");

  p = f.proof;
  p.closestPath.resize(3);
  CHECK(code(smst::verifyClosestProof(p, f.root, smst::ValueHasher::none)) == "invalid_proof");

  p = f.proof;
  REQUIRE_FALSE(p.closestProof.siblingData.empty());
  p.closestProof.siblingData.back() ^= 1;
  CHECK(code(smst::verifyClosestProof(p, f.root, smst::ValueHasher::none)) == "invalid_proof");

  p = f.proof;
  p.closestProof.siblingData = {0x02, 0x00, 0x05};  // truncated extension encoding
  CHECK(code(smst::verifyClosestProof(p, f.root, smst::ValueHasher::none)) == "invalid_proof");

  p = f.proof;
  p.closestValueHash[0] ^= 1;
  CHECK(code(smst::verifyClosestProof(p, f.root, smst::ValueHasher::none)) == "root_mismatch");
}

TEST_CASE("a proof without SiblingData still verifies (the check is optional in Go)") {
  Fixture f;
  auto p = f.proof;
  p.closestProof.siblingData.clear();
  CHECK(smst::verifyClosestProof(p, f.root, smst::ValueHasher::none).ok());
}

TEST_CASE("decompaction rejects inconsistent bit masks and lengths") {
  Fixture f;
  auto compact = smst::compactClosestProof(f.proof);
  REQUIRE(compact.ok());
  REQUIRE(smst::decompactClosestProof(*compact).ok());

  auto c = *compact;
  c.closestProof.bitMask.push_back(0);
  CHECK_FALSE(smst::decompactClosestProof(c).ok());

  c = *compact;
  c.closestProof.numSideNodes = 300;
  CHECK_FALSE(smst::decompactClosestProof(c).ok());

  c = *compact;
  c.closestProof.numSideNodes = -1;
  CHECK_FALSE(smst::decompactClosestProof(c).ok());

  c = *compact;
  c.closestProof.sideNodes.pop_back();
  CHECK_FALSE(smst::decompactClosestProof(c).ok());

  c = *compact;
  c.depth = {0, 0, 1};
  CHECK_FALSE(smst::decompactClosestProof(c).ok());

  // Padding bits of the mask set: the popcount matches fewer side nodes than the mask consumes.
  smst::SparseCompactMerkleProof odd;
  odd.numSideNodes = 3;
  odd.bitMask = {0x01};  // only a padding bit set
  odd.sideNodes.assign(2, util::Bytes(48, 1));
  auto r = smst::decompactProof(odd);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "invalid_proof");
}

TEST_CASE("compactProof marks placeholder side nodes in the bit mask") {
  smst::SparseMerkleProof p;
  p.sideNodes.emplace_back(48, 7);
  p.sideNodes.emplace_back(48, 0);
  p.sideNodes.emplace_back(48, 9);
  auto c = smst::compactProof(p);
  REQUIRE(c.ok());
  CHECK(c->numSideNodes == 3);
  CHECK(util::toHex(c->bitMask) == "40");
  CHECK(c->sideNodes.size() == 2);
  auto back = smst::decompactProof(*c);
  REQUIRE(back.ok());
  CHECK(*back == p);
}
