#include "common/protocol/go_rand.h"

#include <bit>
#include <cstring>
#include <string>

#include <doctest.h>

#include "common/crypto/hash.h"
#include "common/util/hex.h"
#include "test/vectors_path.h"

using namespace pocket;

namespace {

util::Bytes hexOrFail(const std::string& hex) {
  auto bytes = util::fromHex(hex);
  REQUIRE(bytes.ok());
  return *bytes;
}

std::string bitsHex(double value) {
  const auto bits = std::bit_cast<std::uint64_t>(value);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}

}  // namespace

TEST_CASE("the first Int63 outputs match Go for every seed of seeded-float64.json") {
  const auto vectors = test::loadVectors("rand/seeded-float64.json");
  int checked = 0;
  for (const auto& c : vectors.at("int63_cases")) {
    const std::int64_t seed = std::stoll(c.at("seed").get<std::string>());
    protocol::GoRandSource source(seed);
    for (const auto& expected : c.at("int63_first5")) {
      CHECK(std::to_string(source.int63()) == expected.get<std::string>());
      ++checked;
    }
  }
  CHECK(checked == 50);
}

TEST_CASE("seededFloat64 matches Go bit for bit, with the seed and varint length of every case") {
  const auto vectors = test::loadVectors("rand/seeded-float64.json");
  int checked = 0;
  for (const auto& c : vectors.at("cases")) {
    INFO(c.at("name").get<std::string>());
    const util::Bytes a = hexOrFail(c.at("a_hex").get<std::string>());
    const util::Bytes b = hexOrFail(c.at("b_hex").get<std::string>());
    const crypto::Hash32 digest = crypto::sha256(a, b);
    CHECK(util::toHex(digest) == c.at("digest_hex").get<std::string>());
    const protocol::GoVarint varint = protocol::goVarint(digest);
    CHECK(varint.consumed == c.at("varint_n").get<int>());
    CHECK(std::to_string(varint.value) == c.at("seed").get<std::string>());
    CHECK(protocol::seedFromParts(a, b) == varint.value);
    CHECK(bitsHex(protocol::seededFloat64(a, b)) == c.at("float64_bits_hex").get<std::string>());
    ++checked;
  }
  CHECK(checked == 30);
}

TEST_CASE("the spec's three SeededFloat64 samples") {
  const util::Bytes zeros(32, 0x00);
  CHECK(protocol::seedFromParts(zeros, zeros) == -70232443);
  CHECK(protocol::seededFloat64(zeros, zeros) == 0.35860620480626965);
  CHECK(protocol::seededFloat64(util::Bytes(32, 0x11), util::Bytes(32, 0x22)) ==
        0.17769429990237498);
  CHECK(protocol::seedFromParts(util::asBytes("claim-hash"), util::asBytes("block-hash")) ==
        4971099664);
  CHECK(protocol::seededFloat64(util::asBytes("claim-hash"), util::asBytes("block-hash")) ==
        0.99278351756093264);
}

TEST_CASE("goVarint follows encoding/binary.Varint on short, truncated and overlong input") {
  CHECK(protocol::goVarint({}).consumed == 0);
  CHECK(protocol::goVarint({}).value == 0);
  const std::uint8_t truncated[] = {0x80, 0x80};
  CHECK(protocol::goVarint(truncated).consumed == 0);
  CHECK(protocol::goVarint(truncated).value == 0);
  const std::uint8_t one[] = {0x02};  // zigzag 2 → 1
  CHECK(protocol::goVarint(one).value == 1);
  const std::uint8_t minusOne[] = {0x01};  // zigzag 1 → −1
  CHECK(protocol::goVarint(minusOne).value == -1);
  // The largest 10-byte value: zigzag of 2^64 − 1 is INT64_MIN.
  const std::uint8_t maxLen[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  CHECK(protocol::goVarint(maxLen).consumed == 10);
  CHECK(protocol::goVarint(maxLen).value == INT64_MIN);
  const std::uint8_t tenthTooBig[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  CHECK(protocol::goVarint(tenthTooBig).consumed == -10);
  CHECK(protocol::goVarint(tenthTooBig).value == 0);
  const std::uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  CHECK(protocol::goVarint(eleven).consumed == -11);
}

TEST_CASE("reseeding restarts the sequence; Float64 stays in [0, 1)") {
  protocol::GoRandSource source(42);
  const std::int64_t first = source.int63();
  for (int i = 0; i < 1000; ++i) {
    const double f = source.float64();
    CHECK(f >= 0.0);
    CHECK(f < 1.0);
  }
  source.reseed(42);
  CHECK(source.int63() == first);
}
