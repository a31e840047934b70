#include "common/util/hex.h"

#include <doctest.h>

using pocket::util::Bytes;
using pocket::util::fromHex;
using pocket::util::toHex;

TEST_CASE("toHex writes lowercase digits, two per byte") {
  Bytes bytes{0x00, 0x01, 0xab, 0xff};
  CHECK(toHex(bytes) == "0001abff");
  CHECK(toHex(Bytes{}) == "");
}

TEST_CASE("fromHex accepts either case and a 0x prefix") {
  auto decoded = fromHex("0x00FFaB");
  REQUIRE(decoded.ok());
  CHECK(*decoded == Bytes{0x00, 0xff, 0xab});
  CHECK(fromHex("").value().empty());
}

TEST_CASE("fromHex rejects odd lengths and non-hex characters with the position") {
  auto odd = fromHex("abc");
  REQUIRE_FALSE(odd.ok());
  CHECK(odd.error().code == "bad_hex");
  CHECK(odd.error().message.find("odd length 3") != std::string::npos);

  auto bad = fromHex("00zz");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("position 2") != std::string::npos);
}
