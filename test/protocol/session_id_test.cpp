#include "common/protocol/session_id.h"

#include <string>
#include <vector>

#include <doctest.h>

#include "common/util/hex.h"
#include "test/vectors_path.h"

using namespace pocket;

namespace {

util::Bytes hexOrFail(const std::string& hex) {
  auto bytes = util::fromHex(hex);
  REQUIRE(bytes.ok());
  return *bytes;
}

}  // namespace

TEST_CASE("session ids and preimages of session-id.json (poktroll tests and devnet)") {
  const auto vectors = test::loadVectors("cosmos/session-id.json");
  int checked = 0;
  for (const char* group : {"poktroll_test_vectors", "devnet_vectors"}) {
    for (const auto& v : vectors.at(group)) {
      auto id = protocol::sessionId(hexOrFail(v.at("block_hash_at_start_hex").get<std::string>()),
                                    v.at("service_id").get<std::string>(),
                                    v.at("application_address").get<std::string>(),
                                    v.at("session_start").get<std::int64_t>());
      REQUIRE(id.ok());
      CHECK(util::toHex(id->preimage) == v.at("preimage_hex").get<std::string>());
      CHECK(id->id == v.at("session_id").get<std::string>());
      ++checked;
    }
  }
  CHECK(checked == 7);
}

TEST_CASE("supplier selection: weights and the selected order of the 12-candidate example") {
  const auto example = test::loadVectors("cosmos/session-id.json").at("supplier_selection_example");
  const util::Bytes preimage = hexOrFail(example.at("session_id_preimage_hex").get<std::string>());
  std::vector<std::string> candidates;
  for (const auto& c : example.at("candidates")) {
    const std::string address = c.at("operator_address").get<std::string>();
    CHECK(protocol::supplierWeight(preimage, address) == c.at("weight_int64").get<std::int64_t>());
    candidates.push_back(address);
  }
  const auto seats = example.at("num_suppliers_per_session").get<std::uint64_t>();
  auto selected = protocol::selectSessionSuppliers(preimage, candidates, seats);
  REQUIRE(selected.ok());
  std::vector<std::string> names;
  for (std::size_t index : *selected) names.push_back(candidates[index]);
  CHECK(names == example.at("selected_in_order").get<std::vector<std::string>>());
}

TEST_CASE("fewer candidates than seats: all of them, in store order; equal counts are sorted") {
  const util::Bytes preimage = util::toBytes("preimage");
  const std::vector<std::string> candidates = {"pokt1c", "pokt1a", "pokt1b"};
  auto all = protocol::selectSessionSuppliers(preimage, candidates, 4);
  REQUIRE(all.ok());
  CHECK(*all == std::vector<std::size_t>{0, 1, 2});
  auto sorted = protocol::selectSessionSuppliers(preimage, candidates, 3);
  REQUIRE(sorted.ok());
  CHECK(sorted->size() == 3);
  for (std::size_t i = 1; i < sorted->size(); ++i) {
    CHECK(protocol::supplierWeight(preimage, candidates[(*sorted)[i - 1]]) <=
          protocol::supplierWeight(preimage, candidates[(*sorted)[i]]));
  }
  auto none = protocol::selectSessionSuppliers(preimage, {}, 3);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == "no_suppliers");
}

TEST_CASE("bad service ids and heights are typed errors") {
  const util::Bytes hash(32, 0xab);
  for (const std::string& bad : {std::string(""), std::string(43, 'a'), std::string("svc.1"),
                                 std::string("svc 1"), std::string("svc\xc3\xa9")}) {
    auto id = protocol::sessionId(hash, bad, "pokt1app", 1);
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().code == "bad_service_id");
  }
  CHECK(protocol::sessionId(hash, std::string(42, 'a'), "pokt1app", 1).ok());
  CHECK(protocol::sessionId(hash, "Svc_1-x", "pokt1app", 1).ok());
  CHECK(protocol::sessionId(hash, "svc", "pokt1app", 0).error().code == "bad_height");
  CHECK(protocol::sessionId(hash, "svc", "pokt1app", -3).error().code == "bad_height");
}
