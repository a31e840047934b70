#include "common/protocol/proof_requirement.h"

#include <cmath>
#include <string>

#include <doctest.h>

#include "common/protocol/go_rand.h"
#include "common/util/hex.h"
#include "test/vectors_path.h"

using namespace pocket;
using protocol::ProofRequirementReason;

TEST_CASE("proof paths of smst/basic.json") {
  const auto vectors = test::loadVectors("smst/basic.json");
  int checked = 0;
  for (const auto& v : vectors.at("proof_paths").at("vectors")) {
    auto blockHash = util::fromHex(v.at("block_hash").get<std::string>());
    REQUIRE(blockHash.ok());
    CHECK(util::toHex(protocol::proofPath(*blockHash, v.at("session_id").get<std::string>())) ==
          v.at("path").get<std::string>());
    ++checked;
  }
  CHECK(checked == 3);
  // The reference value of sha256(32×0xab ‖ "0123456789abcdef").
  CHECK(util::toHex(protocol::proofPath(util::Bytes(32, 0xab), "0123456789abcdef")) ==
        "b8c1bf5d363631350b65d51270b58d8756be18768b071c6bf14c6010d4bb0708");
}

TEST_CASE("threshold first: at or above it a proof is required without sampling") {
  const util::Bytes claim = util::toBytes("\x0a\x05pokt1");
  const util::Bytes seed(32, 0x11);
  const auto params = protocol::ProofParams::mainnet();  // threshold 100 upokt
  auto at = protocol::proofRequirement(100, params, claim, seed);
  REQUIRE(at.ok());
  CHECK(at->reason == ProofRequirementReason::kThreshold);
  CHECK(at->required());
  CHECK(at->sample == -1);
  CHECK(protocol::proofRequirement(101, params, claim, seed)->reason ==
        ProofRequirementReason::kThreshold);
  auto below = protocol::proofRequirement(99, params, claim, seed);
  REQUIRE(below.ok());
  CHECK(below->reason != ProofRequirementReason::kThreshold);
  CHECK(below->sample >= 0);
  CHECK(below->sample < 1);
}

TEST_CASE("below the threshold: sample = SeededFloat64(sha256(claim), seed block hash), ≤ wins") {
  const util::Bytes claim = util::toBytes("\x0a\x05pokt1\x1a\x01\x00");
  const util::Bytes seed(32, 0x22);
  const double sample = protocol::seededFloat64(crypto::sha256(claim), seed);
  protocol::ProofParams params = protocol::ProofParams::genesisDefaults();

  params.proofRequestProbability = sample;  // equal ⇒ required
  auto equal = protocol::proofRequirement(0, params, claim, seed);
  REQUIRE(equal.ok());
  CHECK(equal->sample == sample);
  CHECK(equal->reason == ProofRequirementReason::kProbabilistic);

  params.proofRequestProbability = std::nextafter(sample, 0.0);  // just below ⇒ not required
  auto under = protocol::proofRequirement(0, params, claim, seed);
  REQUIRE(under.ok());
  CHECK(under->reason == ProofRequirementReason::kNotRequired);
  CHECK_FALSE(under->required());

  params.proofRequestProbability = 1.0;
  CHECK(protocol::proofRequirement(0, params, claim, seed)->reason ==
        ProofRequirementReason::kProbabilistic);
  params.proofRequestProbability = 0.0;
  CHECK(protocol::proofRequirement(0, params, claim, seed)->reason ==
        ProofRequirementReason::kNotRequired);
  // A different seed block gives a different sample.
  CHECK(protocol::proofRequirement(0, params, claim, util::Bytes(32, 0x23))->sample != sample);
}

TEST_CASE("bad inputs to the proof requirement are typed errors") {
  const util::Bytes claim = util::toBytes("claim");
  const util::Bytes seed(32, 0x11);
  auto params = protocol::ProofParams::mainnet();
  CHECK(protocol::proofRequirement(0, params, {}, seed).error().code == "bad_claim");
  CHECK(protocol::proofRequirement(0, params, claim, util::Bytes(31, 0)).error().code ==
        "bad_block_hash");
  CHECK(protocol::proofRequirement(0, params, claim, {}).error().code == "bad_block_hash");
  params.proofRequestProbability = std::nan("");
  CHECK(protocol::proofRequirement(0, params, claim, seed).error().code == "bad_params");
  params.proofRequestProbability = 1.5;
  CHECK(protocol::proofRequirement(0, params, claim, seed).error().code == "bad_params");
  params = protocol::ProofParams::mainnet();
  params.proofRequirementThresholdUpokt = -1;
  CHECK(protocol::proofRequirement(0, params, claim, seed).error().code == "bad_params");
  CHECK(std::string(protocol::reasonName(ProofRequirementReason::kThreshold)) == "THRESHOLD");
  CHECK(std::string(protocol::reasonName(ProofRequirementReason::kProbabilistic)) ==
        "PROBABILISTIC");
  CHECK(std::string(protocol::reasonName(ProofRequirementReason::kNotRequired)) == "NOT_REQUIRED");
}
