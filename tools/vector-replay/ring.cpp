// Kind `ring`: crypto/ring.json — ring-go ring signatures: HashToScalar (decred quirk), keys with
// their hash-to-curve points and addresses, signature vectors with their per-member verification
// trace, negative vectors, poktroll's membership rule, the placeholder key and the relay request
// example.

#include "common/crypto/ring.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/crypto/group.h"
#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/crypto/uint256.h"
#include "common/protocol/relay.h"
#include "common/util/hex.h"
#include "tools/vector-replay/kinds.h"

namespace pocket::vectors {

namespace {

crypto::Hash32 hash32Field(const nlohmann::json& j, const char* key) {
  util::Bytes bytes = hexField(j, key);
  if (bytes.size() != 32) throw std::runtime_error(fmt::format("field {} is not 32 bytes", key));
  crypto::Hash32 out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string statusText(const util::Status& status) {
  return status.ok() ? "ok" : status.error().code + ": " + status.error().message;
}

std::vector<crypto::PublicKey> keyList(const nlohmann::json& list) {
  std::vector<crypto::PublicKey> out;
  for (const auto& item : list) {
    auto key = crypto::PublicKey::fromHex(item.get<std::string>());
    if (!key) throw std::runtime_error("bad key in vector: " + key.error().message);
    out.push_back(*key);
  }
  return out;
}

// Number of SHA3-256 evaluations hash-to-curve needs for `key` (1 when the first hash works).
int hashToCurveIterations(const crypto::PublicKey& key) {
  crypto::Hash32 h = crypto::sha3_256(key.compressed());
  for (int i = 1; i <= 128; ++i) {
    crypto::CompressedPoint candidate{};
    candidate[0] = 0x02;
    std::copy(h.begin(), h.end(), candidate.begin() + 1);
    if (crypto::PublicKey::fromCompressed(candidate)) return i;
    h = crypto::sha3_256(h);
  }
  return -1;
}

void replayHashToScalar(const nlohmann::json& entries, Reporter& reporter) {
  std::size_t index = 0;
  for (const auto& entry : entries) {
    std::string where = fmt::format("hash_to_scalar input={}", caseLabel(entry, "input_hex", index++));
    reporter.replayCase(where, [&] {
      util::Bytes input = hexField(entry, "input_hex");
      crypto::Hash64 wide = crypto::sha3_512(input);
      reporter.expectEqual(where, "sha3-512", stringField(entry, "sha3_512_hex"), util::toHex(wide));
      crypto::Scalar32 plain{};
      crypto::detail::reduceWideModOrder(wide.data()).toBigEndian(plain.data());
      reporter.expectEqual(where, "sha3-512 mod n", stringField(entry, "sha3_512_mod_n_hex"),
                           util::toHex(plain));
      reporter.expectEqual(where, "decred scalar", stringField(entry, "decred_hash_to_scalar_hex"),
                           util::toHex(crypto::hashToScalar(input)));
    });
  }
}

void replayKey(const std::string& where, const nlohmann::json& entry, Reporter& reporter) {
  auto key = crypto::PrivateKey::fromHex(stringField(entry, "privkey_hex"));
  if (!key) {
    reporter.fail(where, key.error().message);
    return;
  }
  crypto::PublicKey pub = key->publicKey();
  reporter.expectEqual(where, "pubkey", stringField(entry, "pubkey_compressed_hex"), pub.hex());
  reporter.expectEqual(where, "address hex", stringField(entry, "address_hex"),
                       upper(util::toHex(pub.addressBytes())));
  reporter.expectEqual(where, "address bech32", stringField(entry, "address_bech32"),
                       pub.address());
  reporter.expectEqual(where, "hash to curve", stringField(entry, "hash_to_curve_point_hex"),
                       util::toHex(crypto::hashToCurve(pub)));
  reporter.expectEqual(where, "hash to curve iterations",
                       std::to_string(entry.at("hash_to_curve_iterations").get<int>()),
                       std::to_string(hashToCurveIterations(pub)));
}

void replayKeys(const nlohmann::json& entries, Reporter& reporter) {
  std::size_t index = 0;
  for (const auto& entry : entries) {
    std::string where = "keys label=" + caseLabel(entry, "label", index++);
    reporter.replayCase(where, [&] { replayKey(where, entry, reporter); });
  }
}

void replayPlaceholder(const nlohmann::json& entry, Reporter& reporter) {
  std::string where = "placeholder_ring_key";
  replayKey(where, entry, reporter);
  auto derived = crypto::PrivateKey::fromSecret(
      util::asBytes("placeholder_ring_key_for_apps_without_gateways"));
  reporter.expectEqual(where, "GenPrivKeyFromSecret", stringField(entry, "privkey_hex"),
                       util::toHex(derived.bytes()));
  reporter.expectEqual(where, "placeholderRingPublicKey",
                       stringField(entry, "pubkey_compressed_hex"),
                       crypto::placeholderRingPublicKey().hex());
}

// One step of the verification trace, recomputed with the verifier's own arithmetic.
void replayTraceStep(const std::string& where, const nlohmann::json& step,
                     const crypto::Hash32& message, const crypto::CompressedPoint& keyImage,
                     Reporter& reporter) {
  using namespace crypto::detail;
  util::Bytes c = hexField(step, "c_i");
  util::Bytes s = hexField(step, "s_i");
  auto member = crypto::PublicKey::fromHex(stringField(step, "P_i"));
  if (!member || c.size() != 32 || s.size() != 32) {
    reporter.fail(where, "malformed trace step");
    return;
  }
  reporter.expectEqual(where, "Hp(P_i)", stringField(step, "Hp_P_i"),
                       util::toHex(crypto::hashToCurve(*member)));
  auto point = decompress(member->compressed().data());
  auto hashed = decompress(crypto::hashToCurve(*member).data());
  auto image = decompress(keyImage.data());
  if (!point || !hashed || !image) {
    reporter.fail(where, "trace point does not decompress");
    return;
  }
  PointTable pointTable(*point, 5);
  PointTable hashedTable(*hashed, 5);
  PointTable imageTable(*image, 5);
  U256 cValue = reduceModOrder(U256::fromBigEndian(c.data()));
  U256 sValue = reduceModOrder(U256::fromBigEndian(s.data()));
  const ScalarTerm left[] = {{cValue, &pointTable}, {sValue, &generatorTable()}};
  const ScalarTerm right[] = {{cValue, &imageTable}, {sValue, &hashedTable}};
  std::array<JacobianPoint, 2> lr = {multiMultiply(left), multiMultiply(right)};
  std::array<AffinePoint, 2> affine;
  if (!toAffineBatch(lr, affine)) {
    reporter.fail(where, "L or R is the point at infinity");
    return;
  }
  crypto::CompressedPoint l{};
  crypto::CompressedPoint r{};
  compress(l.data(), affine[0]);
  compress(r.data(), affine[1]);
  reporter.expectEqual(where, "L_i", stringField(step, "L_i"), util::toHex(l));
  reporter.expectEqual(where, "R_i", stringField(step, "R_i"), util::toHex(r));
  util::Bytes input(message.begin(), message.end());
  input.insert(input.end(), l.begin(), l.end());
  input.insert(input.end(), r.begin(), r.end());
  reporter.expectEqual(where, "sha3-512(m‖L‖R)", stringField(step, "sha3_512_of_m_L_R"),
                       util::toHex(crypto::sha3_512(input)));
  reporter.expectEqual(where, "c_next (decred)", stringField(step, "c_next_decred"),
                       util::toHex(crypto::hashToScalar(input)));
}

void replaySignatures(const nlohmann::json& entries, Reporter& reporter,
                      crypto::RingVerifier& verifier) {
  std::size_t index = 0;
  for (const auto& entry : entries) {
    std::string where = "vectors case=" + caseLabel(entry, "name", index++);
    reporter.replayCase(where, [&] {
      util::Bytes bytes = hexField(entry, "signature_hex");
      crypto::Hash32 message = hash32Field(entry, "message_hex");
      auto signature = crypto::decodeRingSignature(bytes);
      if (!signature) {
        reporter.fail(where, "decode: " + signature.error().message);
        return;
      }
      const auto& decoded = entry.at("decoded");
      reporter.expectEqual(where, "c0", stringField(decoded, "c0"), util::toHex(signature->c0));
      reporter.expectEqual(where, "key image", stringField(decoded, "key_image"),
                           util::toHex(signature->keyImage));
      std::string sList, ringList;
      for (const auto& member : signature->members) {
        sList += util::toHex(member.s) + " ";
        ringList += member.publicKey.hex() + " ";
      }
      std::string wantS, wantRing;
      for (const auto& s : decoded.at("s")) wantS += s.get<std::string>() + " ";
      for (const auto& p : decoded.at("ring_pubkeys")) wantRing += p.get<std::string>() + " ";
      reporter.expectEqual(where, "s values", wantS, sList);
      reporter.expectEqual(where, "ring", wantRing, ringList);
      reporter.check(crypto::encodeRingSignature(*signature) == bytes, where,
                     "re-encoding differs from the vector bytes");
      bool expected = entry.at("verify").get<bool>();
      util::Status status = verifier.verify(*signature, message);
      reporter.check(status.ok() == expected, where,
                     fmt::format("verify: {}, want {}", statusText(status), expected));
      if (entry.contains("signer_privkey_hex")) {
        auto signer = crypto::PrivateKey::fromHex(stringField(entry, "signer_privkey_hex"));
        int signerIndex = entry.at("signer_index").get<int>();
        reporter.check(signer.ok() && signerIndex >= 0 &&
                           signature->members.at(static_cast<std::size_t>(signerIndex)).publicKey ==
                               signer->publicKey(),
                       where, "signer key is not at signer_index");
      }
      for (const auto& step : entry.at("verify_trace")) {
        replayTraceStep(fmt::format("{} step={}", where, step.at("i").get<int>()), step, message,
                        signature->keyImage, reporter);
      }
    });
  }
}

void replayNegative(const nlohmann::json& entries, Reporter& reporter,
                    crypto::RingVerifier& verifier) {
  std::size_t index = 0;
  for (const auto& entry : entries) {
    std::string name = caseLabel(entry, "name", index++);
    std::string where = "negative_vectors case=" + name;
    reporter.replayCase(where, [&] {
      util::Bytes bytes = hexField(entry, "signature_hex");
      crypto::Hash32 message = hash32Field(entry, "message_hex");
      util::Status status = verifier.verify(bytes, message);
      if (name == "trailing_bytes_ignored") {
        // Documented deviation (common/crypto/ring.h): Go ignores trailing bytes, this decoder
        // refuses them. The signature without them must verify, as Go's verdict says.
        reporter.check(!status.ok() && status.error().code == crypto::kErrRingTrailingBytes, where,
                       "trailing bytes were not refused: " + statusText(status));
        std::size_t exact = 69 + 65 * 2;
        util::Bytes stripped(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(exact));
        util::Status strippedStatus = verifier.verify(stripped, message);
        reporter.check(strippedStatus.ok() == entry.at("verify").get<bool>(), where,
                       "without the trailing bytes: " + statusText(strippedStatus));
        return;
      }
      bool expected = entry.at("verify").get<bool>();
      reporter.check(status.ok() == expected, where,
                     fmt::format("verify: {}, want {}", statusText(status), expected));
    });
  }
}

void replayMembership(const nlohmann::json& entries, Reporter& reporter) {
  std::size_t index = 0;
  for (const auto& entry : entries) {
    std::string where = "membership_cases case=" + caseLabel(entry, "name", index++);
    reporter.replayCase(where, [&] {
      crypto::RingSignature signature;
      for (const auto& key : keyList(entry.at("signature_ring_pubkeys_hex"))) {
        signature.members.push_back(crypto::RingMember{{}, key});
      }
      auto expected = keyList(entry.at("expected_ring_set_pubkeys_hex"));
      util::Status status = crypto::checkRingMembership(signature, expected);
      bool accept = entry.at("accept").get<bool>();
      reporter.check(status.ok() == accept, where,
                     fmt::format("membership: {}, want accept={}", statusText(status), accept));
    });
  }
}

void replayRelayRequest(const nlohmann::json& entry, Reporter& reporter,
                        crypto::RingVerifier& verifier) {
  std::string where = "relay_request_example";
  util::Bytes signable = hexField(entry, "signable_bytes_hex");
  crypto::Hash32 message = crypto::sha256(signable);
  reporter.expectEqual(where, "sha256(signable bytes)",
                       stringField(entry, "signable_bytes_sha256_hex"), util::toHex(message));
  util::Bytes bytes = hexField(entry, "signature_hex");
  auto signature = crypto::decodeRingSignature(bytes);
  if (!signature) {
    reporter.fail(where, "decode: " + signature.error().message);
    return;
  }
  util::Status status = verifier.verify(*signature, message);
  reporter.check(status.ok() == entry.at("verify").get<bool>(), where,
                 "verify: " + statusText(status));
  std::string ring;
  for (const auto& key : signature->ring()) ring += key.hex() + " ";
  std::string wantRing;
  for (const auto& key : entry.at("ring_pubkeys_hex")) wantRing += key.get<std::string>() + " ";
  reporter.expectEqual(where, "ring", wantRing, ring);
  auto expected = keyList(entry.at("expected_ring_set_pubkeys_hex"));
  reporter.check(crypto::checkRingMembership(*signature, expected).ok(), where,
                 "ring members are not all in the expected set");
  reporter.check(
      crypto::validateAddress(stringField(entry.at("session_header"), "application_address")).ok(),
      where, "application address does not validate");
  reporter.check(crypto::validateAddress(stringField(entry, "supplier_operator_address")).ok(),
                 where, "supplier operator address does not validate");

  // The protocol layer: the request built from the example's fields serializes to the signable
  // bytes once the signature is cleared, and to the signed proto with it; parsing the signed proto
  // gives back the signature and the same signable hash.
  const auto& header = entry.at("session_header");
  protocol::RelayRequest request;
  request.meta.sessionHeader =
      protocol::SessionHeader{stringField(header, "application_address"),
                              stringField(header, "service_id"), stringField(header, "session_id"),
                              header.at("session_start_block_height").get<std::int64_t>(),
                              header.at("session_end_block_height").get<std::int64_t>()};
  request.meta.supplierOperatorAddress = stringField(entry, "supplier_operator_address");
  request.payload = hexField(entry, "payload_hex");
  request.meta.signature = bytes;
  reporter.expectEqual(where, "requestSignableBytes", stringField(entry, "signable_bytes_hex"),
                       util::toHex(protocol::requestSignableBytes(request)));
  reporter.expectEqual(where, "requestSignableHash",
                       stringField(entry, "signable_bytes_sha256_hex"),
                       util::toHex(protocol::requestSignableHash(request)));
  reporter.expectEqual(where, "signed request",
                       stringField(entry, "signed_relay_request_proto_hex"),
                       util::toHex(protocol::marshal(request)));
  util::Bytes proto = hexField(entry, "signed_relay_request_proto_hex");
  auto parsed = protocol::parseRelayRequest(proto);
  if (!parsed) {
    reporter.fail(where, "parse signed request: " + parsed.error().message);
    return;
  }
  reporter.expectEqual(where, "parsed meta.signature", util::toHex(bytes),
                       util::toHex(parsed->meta.signature));
  util::Status parsedStatus =
      verifier.verify(parsed->meta.signature, protocol::requestSignableHash(*parsed));
  reporter.check(parsedStatus.ok(), where,
                 "signature of the parsed request: " + statusText(parsedStatus));
}

}  // namespace

void replayRing(const nlohmann::json& document, Reporter& reporter) {
  crypto::RingVerifier verifier;
  replayHashToScalar(document.at("hash_to_scalar"), reporter);
  replayKeys(document.at("keys"), reporter);
  reporter.replayCase("placeholder_ring_key",
                      [&] { replayPlaceholder(document.at("placeholder_ring_key"), reporter); });
  replaySignatures(document.at("vectors"), reporter, verifier);
  replayNegative(document.at("negative_vectors"), reporter, verifier);
  replayMembership(document.at("membership_cases"), reporter);
  reporter.replayCase("relay_request_example", [&] {
    replayRelayRequest(document.at("relay_request_example"), reporter, verifier);
  });
}

}  // namespace pocket::vectors
