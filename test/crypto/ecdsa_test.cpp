#include "common/crypto/ecdsa.h"

#include <array>
#include <string>
#include <vector>

#include <secp256k1.h>

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

TEST_CASE("the RFC 6979 nonce gives libsecp256k1's bytes for every counter, extra data and tag") {
  // Digests above the group order exercise bits2octets' reduction; counters above zero the retry
  // path, which a valid key almost never reaches in signing.
  std::vector<std::array<std::uint8_t, 32>> digests;
  std::array<std::uint8_t, 32> d{};
  digests.push_back(d);
  d.fill(0xff);
  digests.push_back(d);
  for (int i = 0; i < 200; ++i) {
    auto h = crypto::sha256(util::toBytes("digest " + std::to_string(i)));
    std::copy(h.begin(), h.end(), d.begin());
    if (i % 4 == 0) std::fill(d.begin(), d.begin() + 8, 0xff);  // above n after the first word
    digests.push_back(d);
  }
  std::array<std::uint8_t, 32> extra{};
  extra.fill(0x5a);
  const unsigned char algo[16] = {'E', 'C', 'D', 'S', 'A', '/', 't', 'e', 's', 't'};
  int compared = 0;
  for (std::size_t i = 0; i < digests.size(); ++i) {
    auto key = crypto::PrivateKey::fromSecret(util::toBytes("nonce key " + std::to_string(i)));
    for (unsigned counter = 0; counter < 3; ++counter) {
      for (int variant = 0; variant < 3; ++variant) {
        void* data = variant >= 1 ? extra.data() : nullptr;
        const unsigned char* tag = variant == 2 ? algo : nullptr;
        std::array<std::uint8_t, 32> ours{};
        std::array<std::uint8_t, 32> theirs{};
        REQUIRE(crypto::detail::rfc6979Nonce(ours.data(), digests[i].data(), key.bytes().data(),
                                             tag, data, counter) == 1);
        REQUIRE(secp256k1_nonce_function_rfc6979(theirs.data(), digests[i].data(),
                                                 key.bytes().data(), tag, data, counter) == 1);
        CAPTURE(i);
        CAPTURE(counter);
        CAPTURE(variant);
        CHECK(util::toHex(ours) == util::toHex(theirs));
        ++compared;
      }
    }
  }
  CHECK(compared == 202 * 9);
}

TEST_CASE("signCosmos gives libsecp256k1's default RFC 6979 signature") {
  auto* ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN);
  for (int i = 0; i < 300; ++i) {
    auto key = crypto::PrivateKey::fromSecret(util::toBytes("sign key " + std::to_string(i)));
    util::Bytes msg = util::toBytes("relay response " + std::to_string(i * 7919));
    auto digest = crypto::sha256(msg);
    secp256k1_ecdsa_signature sig;
    REQUIRE(secp256k1_ecdsa_sign(ctx, &sig, digest.data(), key.bytes().data(), nullptr, nullptr) == 1);
    std::array<std::uint8_t, 64> expected{};
    secp256k1_ecdsa_signature_serialize_compact(ctx, expected.data(), &sig);
    CAPTURE(i);
    CHECK(util::toHex(crypto::signCosmos(key, msg)) == util::toHex(expected));
  }
  secp256k1_context_destroy(ctx);
}
