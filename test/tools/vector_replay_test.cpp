// vector-replay replays every case its schema allows: fields that do not apply to a case may be
// absent, a public key that does not parse is a failed verification, and a malformed case fails
// alone while the rest of the file is still replayed.

#include <fstream>
#include <regex>
#include <string>

#include <doctest.h>
#include <nlohmann/json.hpp>

#include "test/support/process.h"

namespace testing = pocket::testing;
using nlohmann::json;

namespace {

json load(const std::string& relative) {
  std::ifstream in(std::string(POCKET_TEST_VECTORS_DIR) + "/" + relative);
  REQUIRE(in.good());
  return json::parse(in);
}

struct Replay {
  int status = -1;
  int passed = -1;
  int failed = -1;
  std::string output;
};

// Runs `vector-replay kind` on `document` written to a file.
Replay replay(const std::string& kind, const json& document) {
  testing::TempDir dir("vector-replay-test");
  testing::writeFile(dir / "vectors.json", document.dump(2));
  auto run = testing::runToEnd(
      {testing::binaryPath("POCKET_VECTOR_REPLAY"), kind, dir / "vectors.json"}, dir / "out.log");
  Replay out;
  out.status = run.status;
  out.output = run.output;
  std::smatch m;
  if (std::regex_search(run.output, m, std::regex("(\\d+) passed, (\\d+) failed"))) {
    out.passed = std::stoi(m[1]);
    out.failed = std::stoi(m[2]);
  }
  return out;
}

const json* findCase(const json& list, const std::string& name) {
  for (const auto& c : list) {
    if (c.value("name", "") == name) return &c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("vector-replay: a signature case whose public key does not parse and that has no "
          "address is a failed verification") {
  json document = load("crypto/response-sign.json");
  auto base = replay("response-sign", document);
  INFO(base.output);
  REQUIRE(base.status == 0);

  const json* negative = findCase(document["vectors"], "neg_wrong_msg");
  REQUIRE(negative != nullptr);
  json unparsable = *negative;
  unparsable["name"] = "neg_pubkey_does_not_parse";
  unparsable["pubkey_compressed_hex"] = "05" + std::string(64, '1');  // no such prefix
  unparsable.erase("address_bech32");
  json positiveClaim = unparsable;
  positiveClaim["name"] = "pubkey_does_not_parse_but_claims_verify";
  positiveClaim["verify"] = true;
  document["vectors"].push_back(unparsable);
  document["vectors"].push_back(positiveClaim);

  auto run = replay("response-sign", document);
  INFO(run.output);
  // The first verdict (false) agrees; the second (true) is a reported mismatch, not an abort.
  CHECK(run.failed == 1);
  CHECK(run.output.find("FAIL vectors case=pubkey_does_not_parse_but_claims_verify: verify "
                        "returned false") != std::string::npos);
  CHECK(run.passed > base.passed);
  CHECK(run.status == 1);
}

TEST_CASE("vector-replay: one malformed case fails alone, the rest of the file is replayed") {
  SUBCASE("response-sign") {
    json document = load("crypto/response-sign.json");
    auto base = replay("response-sign", document);
    REQUIRE(base.status == 0);
    // A case missing its message, first in the list: the cases after it still run.
    document["vectors"].insert(document["vectors"].begin(),
                               json{{"name", "no_message"}, {"verify", true}});
    auto run = replay("response-sign", document);
    INFO(run.output);
    CHECK(run.status == 1);
    CHECK(run.failed == 1);
    CHECK(run.passed == base.passed);
    CHECK(run.output.find("FAIL vectors case=no_message: malformed case") != std::string::npos);
  }
  SUBCASE("smst") {
    json document = load("smst/basic.json");
    auto base = replay("smst", document);
    REQUIRE(base.status == 0);
    json broken = document["cases"][0];
    broken["name"] = "no_steps";
    broken.erase("steps");
    document["cases"].insert(document["cases"].begin(), broken);
    auto run = replay("smst", document);
    INFO(run.output);
    CHECK(run.status == 1);
    CHECK(run.failed == 1);
    // The broken case's initial root is checked before its steps are found missing.
    CHECK(run.passed >= base.passed);
    CHECK(run.output.find("FAIL case=no_steps: malformed case") != std::string::npos);
  }
  SUBCASE("a case without a name is named by its index") {
    json document = load("cosmos/header-hash.json");
    auto base = replay("header-hash", document);
    REQUIRE(base.status == 0);
    document["cases"].push_back(json{{"header_json", json::object()}});
    auto run = replay("header-hash", document);
    INFO(run.output);
    CHECK(run.failed == 1);
    CHECK(run.passed == base.passed);
    CHECK(run.output.find("FAIL case=#" + std::to_string(document["cases"].size() - 1) +
                          ": malformed case") != std::string::npos);
  }
}

TEST_CASE("vector-replay: a file that is not JSON fails that file, and says so") {
  testing::TempDir dir("vector-replay-test");
  testing::writeFile(dir / "bad.json", "{ not json");
  auto run = testing::runToEnd(
      {testing::binaryPath("POCKET_VECTOR_REPLAY"), "smst", dir / "bad.json"}, dir / "out.log");
  CHECK(run.status == 1);
  CHECK(run.output.find("cannot replay") != std::string::npos);
  CHECK(run.output.find("0 passed, 1 failed") != std::string::npos);
}
