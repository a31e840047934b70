#include "common/smst/gob.h"

#include <doctest.h>

#include "common/smst/proof.h"
#include "common/util/hex.h"
#include "test/vectors_path.h"

using namespace pocket;

namespace {

// The compact closest-proof gob of the first prove_closest step with a non-empty trie.
util::Bytes firstCompactClosestGob() {
  auto vectors = test::loadVectors("smst/basic.json");
  for (const auto& step : vectors.at("cases")[0].at("steps")) {
    if (step.at("op") != "prove_closest") continue;
    if (step.at("expect").at("proof").at("depth").get<int>() == 0) continue;
    return *util::fromHex(step.at("expect").at("compact").at("gob").get<std::string>());
  }
  throw std::runtime_error("no closest proof in basic.json");
}

}  // namespace

TEST_CASE("a compact closest proof round-trips through gob byte for byte") {
  util::Bytes gob = firstCompactClosestGob();
  auto proof = smst::decodeSparseCompactMerkleClosestProof(gob);
  REQUIRE(proof.ok());
  CHECK(smst::encodeGob(*proof) == gob);
  CHECK(proof->path.size() == 32);
}

TEST_CASE("every truncation of a gob proof is rejected, never a crash") {
  util::Bytes gob = firstCompactClosestGob();
  for (std::size_t n = 0; n < gob.size(); ++n) {
    util::Bytes cut(gob.begin(), gob.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = smst::decodeSparseCompactMerkleClosestProof(cut);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "bad_gob");
  }
}

TEST_CASE("gob decoding binds by field name, not by type id") {
  // The same proof from a process whose type ids start at 65 (Go <= 1.20): every id shifted.
  smst::SparseMerkleProof p;
  p.sideNodes.emplace_back(48, 3);
  p.siblingData = {1, 2, 3};
  util::Bytes gob = smst::encodeGob(p);
  auto decoded = smst::decodeSparseMerkleProof(gob);
  REQUIRE(decoded.ok());
  CHECK(*decoded == p);
  // A closest-proof stream is not a SparseMerkleProof: no field names match.
  smst::SparseMerkleClosestProof closest;
  closest.path.assign(32, 1);
  auto wrong = smst::decodeSparseMerkleProof(smst::encodeGob(closest));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == "bad_gob");
}

TEST_CASE("gob decoding rejects incompatible field types and undefined type ids") {
  // Compact closest proof stream decoded as a non-compact closest proof: FlippedBits is [][]byte on
  // the wire but []int in the target, and Depth is []byte instead of int.
  util::Bytes gob = firstCompactClosestGob();
  auto wrong = smst::decodeSparseMerkleClosestProof(gob);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == "bad_gob");
  // A value message without its type definitions.
  util::Bytes bare(gob.begin() + 286, gob.end());
  CHECK_FALSE(smst::decodeSparseCompactMerkleClosestProof(bare).ok());
}
