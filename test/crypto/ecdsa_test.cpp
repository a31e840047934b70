#include "common/crypto/ecdsa.h"

#include <doctest.h>

#include "common/crypto/hash.h"
#include "common/util/hex.h"
#include "test/vectors_path.h"

using namespace pocket;

namespace {
std::string str(const nlohmann::json& j, const char* key) {
  return j.at(key).get<std::string>();
}
util::Bytes hex(const std::string& text) {
  return *util::fromHex(text);
}
}  // namespace

TEST_CASE("signCosmos reproduces every deterministic vector and verifyCosmos follows cosmos") {
  auto vectors = test::loadVectors("crypto/response-sign.json");
  int signedCount = 0;
  int verified = 0;
  for (const auto& entry : vectors.at("vectors")) {
    CAPTURE(str(entry, "name"));
    auto pub = crypto::PublicKey::fromHex(str(entry, "pubkey_compressed_hex"));
    REQUIRE(pub.ok());
    util::Bytes msg = hex(str(entry, "msg_hex"));
    CHECK(util::toHex(crypto::sha256(msg)) == str(entry, "ecdsa_digest_hex"));
    if (entry.contains("privkey_hex")) {
      auto key = crypto::PrivateKey::fromHex(str(entry, "privkey_hex"));
      REQUIRE(key.ok());
      CHECK(util::toHex(crypto::signCosmos(*key, msg)) == str(entry, "signature_hex"));
      ++signedCount;
    }
    CHECK(crypto::verifyCosmos(*pub, msg, hex(str(entry, "signature_hex"))) ==
          entry.at("verify").get<bool>());
    ++verified;
  }
  CHECK(signedCount == 9);
  CHECK(verified == 16);
}

TEST_CASE("verifyCosmos reduces r mod n like cosmos and refuses zero and high s") {
  auto key = crypto::PrivateKey::fromSecret(util::asBytes("ecdsa-test"));
  util::Bytes msg = util::toBytes("message");
  crypto::Signature64 sig = crypto::signCosmos(key, msg);
  CHECK(crypto::verifyCosmos(key.publicKey(), msg, sig));
  CHECK_FALSE(crypto::verifyCosmos(key.publicKey(), util::toBytes("other"), sig));
  crypto::Signature64 zeroS = sig;
  std::fill(zeroS.begin() + 32, zeroS.end(), 0);
  CHECK_FALSE(crypto::verifyCosmos(key.publicKey(), msg, zeroS));
  util::Bytes trailing(sig.begin(), sig.end());
  trailing.push_back(0);
  CHECK_FALSE(crypto::verifyCosmos(key.publicKey(), msg, trailing));
}
