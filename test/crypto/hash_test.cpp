#include "common/crypto/hash.h"

#include <doctest.h>

#include "common/util/hex.h"
#include "test/vectors_path.h"

using namespace pocket;

TEST_CASE("sha256 and sha3 match their published test values") {
  CHECK(util::toHex(crypto::sha256(util::asBytes("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(util::toHex(crypto::sha256(util::asBytes("a"), util::asBytes("bc"))) ==
        util::toHex(crypto::sha256(util::asBytes("abc"))));
  CHECK(util::toHex(crypto::sha3_256(util::asBytes("abc"))) ==
        "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
  CHECK(util::toHex(crypto::ripemd160(util::asBytes("abc"))) ==
        "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc");
}

TEST_CASE("sha3-512 matches every hash_to_scalar input of the ring vectors") {
  auto vectors = test::loadVectors("crypto/ring.json");
  int checked = 0;
  for (const auto& entry : vectors.at("hash_to_scalar")) {
    auto input = util::fromHex(entry.at("input_hex").get<std::string>());
    REQUIRE(input.ok());
    CHECK(util::toHex(crypto::sha3_512(*input)) == entry.at("sha3_512_hex").get<std::string>());
    ++checked;
  }
  CHECK(checked > 0);
}

TEST_CASE("ripemd160(sha256(pubkey)) matches every address derivation vector") {
  auto vectors = test::loadVectors("crypto/response-sign.json");
  for (const auto& entry : vectors.at("address_derivation")) {
    auto pubkey = util::fromHex(entry.at("pubkey_compressed_hex").get<std::string>());
    REQUIRE(pubkey.ok());
    CHECK(util::toHex(crypto::ripemd160(crypto::sha256(*pubkey))) ==
          entry.at("ripemd160_sha256_hex").get<std::string>());
  }
}
