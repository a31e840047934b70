// Kind `response-sign`: crypto/response-sign.json — address derivation, cosmos ECDSA signatures
// (exact bytes and verification verdicts) and the relay response examples.

#include <fmt/format.h>

#include "common/crypto/ecdsa.h"
#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/protocol/relay.h"
#include "common/util/hex.h"
#include "tools/vector-replay/kinds.h"

namespace pocket::vectors {

namespace {

void replayAddresses(const nlohmann::json& entries, Reporter& reporter) {
  std::size_t index = 0;
  for (const auto& entry : entries) {
    std::string where = fmt::format("address_derivation pubkey={}",
                                    caseLabel(entry, "pubkey_compressed_hex", index++));
    reporter.replayCase(where, [&] {
      auto key = crypto::PrivateKey::fromHex(stringField(entry, "privkey_hex"));
      if (!key) {
        reporter.fail(where, key.error().message);
        return;
      }
      crypto::PublicKey pub = key->publicKey();
      reporter.expectEqual(where, "pubkey", stringField(entry, "pubkey_compressed_hex"), pub.hex());
      reporter.expectEqual(where, "ripemd160(sha256(pubkey))",
                           stringField(entry, "ripemd160_sha256_hex"),
                           util::toHex(pub.addressBytes()));
      reporter.expectEqual(where, "address", stringField(entry, "address_bech32"), pub.address());
      auto decoded = crypto::decodeAddress(stringField(entry, "address_bech32"));
      reporter.expectEqual(where, "decoded address", stringField(entry, "ripemd160_sha256_hex"),
                           decoded ? util::toHex(*decoded) : decoded.error().message);
    });
  }
}

// A signature case: the message, the public key, the signature and Go's verdict are required;
// the digest, the address and the private key (positive cases only) are checked when given. A
// public key that does not parse is a failed verification, compared with the verdict.
void replaySignatures(const nlohmann::json& entries, Reporter& reporter) {
  std::size_t index = 0;
  for (const auto& entry : entries) {
    std::string where = fmt::format("vectors case={}", caseLabel(entry, "name", index++));
    reporter.replayCase(where, [&] {
      util::Bytes msg = hexField(entry, "msg_hex");
      util::Bytes signature = hexField(entry, "signature_hex");
      bool expected = entry.at("verify").get<bool>();
      if (entry.contains("ecdsa_digest_hex")) {
        reporter.expectEqual(where, "ecdsa digest", stringField(entry, "ecdsa_digest_hex"),
                             util::toHex(crypto::sha256(msg)));
      }
      auto pub = crypto::PublicKey::fromHex(stringField(entry, "pubkey_compressed_hex"));
      if (pub && entry.contains("address_bech32")) {
        reporter.expectEqual(where, "address", stringField(entry, "address_bech32"),
                             pub->address());
      }
      if (entry.contains("privkey_hex")) {
        auto key = crypto::PrivateKey::fromHex(stringField(entry, "privkey_hex"));
        if (!key) {
          reporter.fail(where, "privkey_hex: " + key.error().message);
        } else {
          reporter.expectEqual(where, "signature", stringField(entry, "signature_hex"),
                               util::toHex(crypto::signCosmos(*key, msg)));
        }
      }
      bool verified = pub && crypto::verifyCosmos(*pub, msg, signature);
      reporter.check(verified == expected, where,
                     fmt::format("verify returned {}{}, want {}", verified,
                                 pub ? "" : " (public key: " + pub.error().message + ")",
                                 expected));
    });
  }
}

void replayResponseExamples(const nlohmann::json& entries, Reporter& reporter) {
  int index = 0;
  for (const auto& entry : entries) {
    std::string where = fmt::format("relay_response_examples index={}", index++);
    reporter.replayCase(where, [&] {
      auto key = crypto::PrivateKey::fromHex(stringField(entry, "supplier_privkey_hex"));
      if (!key) {
        reporter.fail(where, key.error().message);
        return;
      }
      reporter.expectEqual(where, "supplier pubkey", stringField(entry, "supplier_pubkey_hex"),
                           key->publicKey().hex());
      reporter.expectEqual(where, "supplier address", stringField(entry, "supplier_operator_address"),
                           key->publicKey().address());
      util::Bytes payload = hexField(entry, "payload_hex");
      if (!stringField(entry, "payload_hash_hex").empty()) {
        reporter.expectEqual(where, "payload hash", stringField(entry, "payload_hash_hex"),
                             util::toHex(crypto::sha256(payload)));
      }
      util::Bytes signable = hexField(entry, "signable_bytes_hex");
      crypto::Hash32 msg = crypto::sha256(signable);
      reporter.expectEqual(where, "sha256(signable bytes)",
                           stringField(entry, "signable_bytes_sha256_hex"), util::toHex(msg));
      reporter.expectEqual(where, "ecdsa digest", stringField(entry, "ecdsa_digest_hex"),
                           util::toHex(crypto::sha256(msg)));
      crypto::Signature64 signature = crypto::signCosmos(*key, msg);
      reporter.expectEqual(where, "supplier operator signature",
                           stringField(entry, "supplier_operator_signature_hex"),
                           util::toHex(signature));
      reporter.check(
          crypto::verifyCosmos(key->publicKey(), msg, signature) == entry.at("verify").get<bool>(),
          where, "verification verdict differs");

      // The protocol layer: the response built as the RelayMiner builds it (header copied from the
      // request, payload_hash set when the chain has it) gives the signable bytes, and with the
      // signature the signed proto; the parsed signed proto verifies.
      const auto& header = entry.at("session_header");
      protocol::RelayResponse response;
      response.meta.sessionHeader = protocol::SessionHeader{
          stringField(header, "application_address"), stringField(header, "service_id"),
          stringField(header, "session_id"),
          header.at("session_start_block_height").get<std::int64_t>(),
          header.at("session_end_block_height").get<std::int64_t>()};
      response.payload = payload;
      if (!stringField(entry, "payload_hash_hex").empty()) {
        crypto::Hash32 hash = protocol::payloadHash(payload);
        response.payloadHash.assign(hash.begin(), hash.end());
      }
      reporter.expectEqual(where, "responseSignableBytes", stringField(entry, "signable_bytes_hex"),
                           util::toHex(protocol::responseSignableBytes(response)));
      crypto::Hash32 signableHash = protocol::responseSignableHash(response);
      reporter.expectEqual(where, "responseSignableHash",
                           stringField(entry, "signable_bytes_sha256_hex"),
                           util::toHex(signableHash));
      crypto::Signature64 responseSignature = crypto::signCosmos(*key, signableHash);
      response.meta.supplierOperatorSignature.assign(responseSignature.begin(),
                                                     responseSignature.end());
      reporter.expectEqual(where, "signed response",
                           stringField(entry, "signed_relay_response_proto_hex"),
                           util::toHex(protocol::marshal(response)));
      auto parsed = protocol::parseRelayResponse(hexField(entry, "signed_relay_response_proto_hex"));
      if (!parsed) {
        reporter.fail(where, "parse signed response: " + parsed.error().message);
        return;
      }
      reporter.check(crypto::verifyCosmos(key->publicKey(), protocol::responseSignableHash(*parsed),
                                          parsed->meta.supplierOperatorSignature),
                     where, "signature of the parsed response does not verify");
    });
  }
}

}  // namespace

void replayResponseSign(const nlohmann::json& document, Reporter& reporter) {
  replayAddresses(document.at("address_derivation"), reporter);
  replaySignatures(document.at("vectors"), reporter);
  replayResponseExamples(document.at("relay_response_examples"), reporter);
}

}  // namespace pocket::vectors
