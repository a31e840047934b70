#include "common/crypto/ring.h"

#include <doctest.h>

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

crypto::Hash32 hash32(const std::string& text) {
  crypto::Hash32 out{};
  util::Bytes bytes = hex(text);
  REQUIRE(bytes.size() == 32);
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

std::vector<crypto::PublicKey> keys(const nlohmann::json& list) {
  std::vector<crypto::PublicKey> out;
  for (const auto& item : list) out.push_back(*crypto::PublicKey::fromHex(item.get<std::string>()));
  return out;
}

}  // namespace

TEST_CASE("hashToScalar keeps the decred left-alignment quirk") {
  auto vectors = test::loadVectors("crypto/ring.json");
  int quirks = 0;
  for (const auto& entry : vectors.at("hash_to_scalar")) {
    CHECK(util::toHex(crypto::hashToScalar(hex(str(entry, "input_hex")))) ==
          str(entry, "decred_hash_to_scalar_hex"));
    quirks += entry.at("quirk_active").get<bool>() ? 1 : 0;
  }
  CHECK(quirks == 2);
}

TEST_CASE("hashToCurve and addresses of every vector key") {
  auto vectors = test::loadVectors("crypto/ring.json");
  for (const auto& entry : vectors.at("keys")) {
    auto key = crypto::PublicKey::fromHex(str(entry, "pubkey_compressed_hex"));
    REQUIRE(key.ok());
    CHECK(util::toHex(crypto::hashToCurve(*key)) == str(entry, "hash_to_curve_point_hex"));
    CHECK(key->address() == str(entry, "address_bech32"));
  }
  CHECK(crypto::placeholderRingPublicKey().hex() ==
        str(vectors.at("placeholder_ring_key"), "pubkey_compressed_hex"));
}

TEST_CASE("every ring vector decodes, re-encodes and verifies as Go decides") {
  auto vectors = test::loadVectors("crypto/ring.json");
  crypto::RingVerifier verifier;
  for (const auto& entry : vectors.at("vectors")) {
    CAPTURE(str(entry, "name"));
    util::Bytes bytes = hex(str(entry, "signature_hex"));
    auto signature = crypto::decodeRingSignature(bytes);
    REQUIRE(signature.ok());
    CHECK(crypto::encodeRingSignature(*signature) == bytes);
    CHECK(util::toHex(signature->keyImage) == str(entry.at("decoded"), "key_image"));
    bool expected = entry.at("verify").get<bool>();
    CHECK(verifier.verify(*signature, hash32(str(entry, "message_hex"))).ok() == expected);
    // Twice: the second run uses the cached tables.
    CHECK(verifier.verify(bytes, hash32(str(entry, "message_hex"))).ok() == expected);
  }
  CHECK(verifier.cachedPoints() > 0);
}

TEST_CASE("the verifier's cached decode agrees with decodeRingSignature on every vector") {
  auto vectors = test::loadVectors("crypto/ring.json");
  crypto::RingVerifier verifier;
  for (const char* list : {"vectors", "negative_vectors"}) {
    for (const auto& entry : vectors.at(list)) {
      CAPTURE(str(entry, "name"));
      util::Bytes bytes = hex(str(entry, "signature_hex"));
      for (int round = 0; round < 2; ++round) {  // before and after the points are cached
        auto plain = crypto::decodeRingSignature(bytes);
        auto cached = verifier.decode(bytes);
        REQUIRE(plain.ok() == cached.ok());
        if (!plain.ok()) {
          CHECK(plain.error().code == cached.error().code);
          continue;
        }
        CHECK(crypto::encodeRingSignature(*cached) == bytes);
        (void)verifier.verify(*cached, hash32(str(entry, "message_hex")));
      }
    }
  }
}

TEST_CASE("a key image is cached only after a signature with it verified") {
  auto signer = crypto::PrivateKey::fromSecret(util::asBytes("ring-cache-signer"));
  auto other = crypto::PrivateKey::fromSecret(util::asBytes("ring-cache-other"));
  std::vector<crypto::PublicKey> ring = {other.publicKey(), signer.publicKey()};
  crypto::Hash32 message = crypto::sha256(util::asBytes("relay"));
  auto signature = crypto::signRing(signer, ring, message);
  REQUIRE(signature.ok());
  // The same signature with another valid point as key image: decodes, but cannot verify.
  crypto::RingSignature forged = *signature;
  forged.keyImage = crypto::PrivateKey::fromSecret(util::asBytes("ring-cache-image"))
                        .publicKey()
                        .compressed();
  crypto::RingVerifier verifier;
  auto status = verifier.verify(forged, message);
  REQUIRE(!status.ok());
  CHECK(status.error().code == "bad_signature");
  CHECK(verifier.cachedPoints() == 2);  // the two ring members, not the forged key image
  CHECK(verifier.verify(*signature, message).ok());
  CHECK(verifier.cachedPoints() == 3);  // now the signer's key image too
  CHECK(verifier.verify(*signature, message).ok());
  CHECK(verifier.cachedPoints() == 3);
}

TEST_CASE("membership by compressed bytes follows the same rule as by keys") {
  auto a = crypto::PrivateKey::fromSecret(util::asBytes("member-a")).publicKey();
  auto b = crypto::PrivateKey::fromSecret(util::asBytes("member-b")).publicKey();
  auto outsider = crypto::PrivateKey::fromSecret(util::asBytes("member-c")).publicKey();
  crypto::RingSignature signature;
  signature.members = {crypto::RingMember{{}, a}, crypto::RingMember{{}, b}};
  std::vector<crypto::CompressedPoint> both = {b.compressed(), a.compressed()};
  CHECK(crypto::checkRingMembership(signature, std::span<const crypto::CompressedPoint>(both)).ok());
  std::vector<crypto::CompressedPoint> partial = {a.compressed(), outsider.compressed()};
  auto refused =
      crypto::checkRingMembership(signature, std::span<const crypto::CompressedPoint>(partial));
  REQUIRE(!refused.ok());
  CHECK(refused.error().code == "ring_member_not_allowed");
  CHECK(refused.error().message.find(b.address()) != std::string::npos);
}

TEST_CASE("negative vectors are refused with a reason; trailing bytes are refused by design") {
  auto vectors = test::loadVectors("crypto/ring.json");
  crypto::RingVerifier verifier;
  for (const auto& entry : vectors.at("negative_vectors")) {
    CAPTURE(str(entry, "name"));
    util::Bytes bytes = hex(str(entry, "signature_hex"));
    auto status = verifier.verify(bytes, hash32(str(entry, "message_hex")));
    if (str(entry, "name") == "trailing_bytes_ignored") {
      REQUIRE(!status.ok());
      CHECK(status.error().code == crypto::kErrRingTrailingBytes);
      bytes.resize(bytes.size() - 2);
      CHECK(verifier.verify(bytes, hash32(str(entry, "message_hex"))).ok());
      continue;
    }
    REQUIRE(!status.ok());
    CHECK(!status.error().code.empty());
    CHECK(!status.error().message.empty());
  }
}

TEST_CASE("membership follows poktroll's rule") {
  auto vectors = test::loadVectors("crypto/ring.json");
  for (const auto& entry : vectors.at("membership_cases")) {
    CAPTURE(str(entry, "name"));
    crypto::RingSignature signature;
    for (const auto& key : keys(entry.at("signature_ring_pubkeys_hex"))) {
      signature.members.push_back(crypto::RingMember{{}, key});
    }
    auto expected = keys(entry.at("expected_ring_set_pubkeys_hex"));
    auto status = crypto::checkRingMembership(signature, expected);
    CHECK(status.ok() == entry.at("accept").get<bool>());
    if (!status.ok()) CHECK(status.error().code == "ring_member_not_allowed");
  }
  auto app = crypto::PrivateKey::fromSecret(util::asBytes("app")).publicKey();
  auto gateway = crypto::PrivateKey::fromSecret(util::asBytes("gw")).publicKey();
  auto alone = crypto::expectedRingKeys(app, {});
  CHECK(alone == std::vector<crypto::PublicKey>{app, crypto::placeholderRingPublicKey()});
  std::vector<crypto::PublicKey> gateways = {gateway};
  CHECK(crypto::expectedRingKeys(app, gateways) == std::vector<crypto::PublicKey>{app, gateway});
}

TEST_CASE("signRing produces signatures that verify, link by key image and fail when altered") {
  auto app = crypto::PrivateKey::fromSecret(util::asBytes("sign-app"));
  auto gw1 = crypto::PrivateKey::fromSecret(util::asBytes("sign-gw1"));
  auto gw2 = crypto::PrivateKey::fromSecret(util::asBytes("sign-gw2"));
  crypto::Hash32 message = crypto::sha256(util::asBytes("relay"));
  crypto::RingVerifier verifier(8);  // small cache: exercises eviction
  std::vector<std::vector<crypto::PublicKey>> rings = {
      {app.publicKey(), app.publicKey()},
      {app.publicKey(), gw1.publicKey()},
      {gw2.publicKey(), app.publicKey(), gw1.publicKey()},
      {app.publicKey(), gw1.publicKey(), gw2.publicKey(), crypto::placeholderRingPublicKey()},
  };
  crypto::CompressedPoint firstImage{};
  for (std::size_t r = 0; r < rings.size(); ++r) {
    auto signature = crypto::signRing(app, rings[r], message);
    REQUIRE(signature.ok());
    CHECK(signature->members.size() == rings[r].size());
    CHECK(verifier.verify(*signature, message).ok());
    CHECK(verifier.verify(crypto::encodeRingSignature(*signature), message).ok());
    if (r == 0) firstImage = signature->keyImage;
    CHECK(signature->keyImage == firstImage);  // same signer, same key image
    crypto::Hash32 other = message;
    other[0] ^= 1;
    CHECK(verifier.verify(*signature, other).error().code == "bad_signature");
    auto tampered = *signature;
    tampered.members.back().s[31] ^= 1;
    CHECK(!verifier.verify(tampered, message).ok());
  }
  CHECK(crypto::signRing(gw2, rings[1], message).error().code == "signer_not_in_ring");
  std::vector<crypto::PublicKey> one = {app.publicKey()};
  CHECK(crypto::signRing(app, one, message).error().code == "ring_too_small");
}

TEST_CASE("decoding rejects every malformed shape without reading past the input") {
  auto vectors = test::loadVectors("crypto/ring.json");
  util::Bytes valid = hex(str(vectors.at("vectors")[0], "signature_hex"));
  for (std::size_t length = 0; length < valid.size(); ++length) {
    util::ByteSpan prefix(valid.data(), length);
    auto decoded = crypto::decodeRingSignature(prefix);
    REQUIRE(!decoded.ok());
    CHECK(decoded.error().code == "bad_length");
  }
  util::Bytes huge = valid;
  huge[0] = 0xff;
  CHECK(crypto::decodeRingSignature(huge).error().code == "ring_too_large");
  util::Bytes zeroSize = valid;
  zeroSize[3] = 0;
  CHECK(crypto::decodeRingSignature(zeroSize).error().code == "ring_too_small");
  util::Bytes zeroC = valid;
  std::fill(zeroC.begin() + 4, zeroC.begin() + 36, 0);
  CHECK(crypto::decodeRingSignature(zeroC).error().code == "zero_scalar");
  util::Bytes orderC = valid;  // c0 = n reduces to zero
  util::Bytes order = hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
  std::copy(order.begin(), order.end(), orderC.begin() + 4);
  CHECK(crypto::decodeRingSignature(orderC).error().code == "zero_scalar");
  util::Bytes badImage = valid;
  badImage[36] = 0x04;
  CHECK(crypto::decodeRingSignature(badImage).error().code == "bad_point");
}
