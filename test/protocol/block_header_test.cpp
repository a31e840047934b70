#include "common/protocol/block_header.h"

#include <string>

#include <doctest.h>

#include "common/util/hex.h"
#include "test/vectors_path.h"

using namespace pocket;

TEST_CASE("RFC 3339 times parse to seconds and nanos exactly") {
  auto t = protocol::parseRfc3339("2026-01-01T00:10:42.123456789Z");  // tx-sign.json create_claim
  REQUIRE(t.ok());
  CHECK(*t == protocol::Timestamp{1767226242, 123456789});
  CHECK(*protocol::parseRfc3339("1970-01-01T00:00:00Z") == protocol::Timestamp{0, 0});
  CHECK(*protocol::parseRfc3339("2019-10-13T16:14:44Z") == protocol::Timestamp{1570983284, 0});
  CHECK(*protocol::parseRfc3339("2024-02-29T23:59:59.5Z") ==
        protocol::Timestamp{1709251199, 500000000});
  CHECK(*protocol::parseRfc3339("2026-01-01T02:00:00+02:00") ==
        *protocol::parseRfc3339("2026-01-01T00:00:00Z"));
  CHECK(*protocol::parseRfc3339("1969-12-31T23:59:59.000000001Z") == protocol::Timestamp{-1, 1});
  for (const char* bad :
       {"", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567891Z",
        "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00:00+0200", "2026/01/01T00:00:00Z"}) {
    auto r = protocol::parseRfc3339(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "bad_time");
  }
}

TEST_CASE("RFC 6962 Merkle root: empty list, one item, an uneven split") {
  CHECK(util::toHex(protocol::merkleRoot({})) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const util::Bytes items[] = {util::toBytes("a"), util::toBytes("b"), util::toBytes("c")};
  CHECK(protocol::merkleRoot(std::span(items, 1)) == protocol::merkleLeafHash(items[0]));
  // n = 3 splits 2 | 1.
  CHECK(protocol::merkleRoot(items) ==
        protocol::merkleInnerHash(protocol::merkleInnerHash(protocol::merkleLeafHash(items[0]),
                                                            protocol::merkleLeafHash(items[1])),
                                  protocol::merkleLeafHash(items[2])));
}

TEST_CASE("the devnet block 91 header hashes to the block hash its session ids use") {
  const auto vectors = test::loadVectors("cosmos/header-hash.json");
  for (const auto& c : vectors.at("cases")) {
    if (c.at("name").get<std::string>().find("91") == std::string::npos) continue;
    const auto& j = c.at("header_json");
    protocol::BlockHeader h;
    h.versionBlock = std::stoull(j.at("version").at("block").get<std::string>());
    h.chainId = j.at("chain_id").get<std::string>();
    h.height = std::stoll(j.at("height").get<std::string>());
    h.time = *protocol::parseRfc3339(j.at("time").get<std::string>());
    auto hex = [&](const nlohmann::json& v) { return *util::fromHex(v.get<std::string>()); };
    h.lastBlockId.hash = hex(j.at("last_block_id").at("hash"));
    h.lastBlockId.partSetTotal = j.at("last_block_id").at("parts").at("total").get<std::uint32_t>();
    h.lastBlockId.partSetHash = hex(j.at("last_block_id").at("parts").at("hash"));
    h.lastCommitHash = hex(j.at("last_commit_hash"));
    h.dataHash = hex(j.at("data_hash"));
    h.validatorsHash = hex(j.at("validators_hash"));
    h.nextValidatorsHash = hex(j.at("next_validators_hash"));
    h.consensusHash = hex(j.at("consensus_hash"));
    h.appHash = hex(j.at("app_hash"));
    h.lastResultsHash = hex(j.at("last_results_hash"));
    h.evidenceHash = hex(j.at("evidence_hash"));
    h.proposerAddress = hex(j.at("proposer_address"));
    auto hash = protocol::headerHash(h);
    REQUIRE(hash.ok());
    // session-id.json devnet_vectors block_hash_at_start_hex.
    CHECK(util::toHex(*hash) == "6051b98db3a667dde4a609df4d1ae4870ab6d325126185ade7cbd40cd0088d14");
    h.validatorsHash.clear();
    CHECK(protocol::headerHash(h).error().code == "no_validators_hash");
    return;
  }
  FAIL("header-hash.json has no devnet height-91 case");
}

TEST_CASE("an empty header encodes every zero field as an empty leaf except last_block_id") {
  protocol::BlockHeader h;
  const auto leaves = protocol::headerLeafInputs(h);
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (i == 4) {
      CHECK(util::toHex(leaves[i]) == "1200");
    } else {
      CHECK(leaves[i].empty());
    }
  }
  h.height = -1;  // int64 negatives are 10-byte varints
  CHECK(util::toHex(protocol::headerLeafInputs(h)[2]) == "08ffffffffffffffffff01");
}
