#include "common/crypto/ecdsa.h"

#include <stdexcept>

#include "common/crypto/hash.h"
#include "common/crypto/secp256k1_context.h"
#include "common/crypto/uint256.h"

namespace pocket::crypto {

Signature64 signCosmos(const PrivateKey& key, util::ByteSpan msg) {
  const secp256k1_context* context = detail::secpContext();
  Hash32 digest = sha256(msg);
  secp256k1_ecdsa_signature signature;
  // A null nonce function selects RFC 6979; libsecp256k1 returns low-S signatures.
  if (secp256k1_ecdsa_sign(context, &signature, digest.data(), key.bytes().data(), nullptr,
                           nullptr) != 1) {
    throw std::logic_error("secp256k1_ecdsa_sign failed on a validated key");
  }
  Signature64 out{};
  secp256k1_ecdsa_signature_serialize_compact(context, out.data(), &signature);
  return out;
}

bool verifyCosmos(const PublicKey& key, util::ByteSpan msg, util::ByteSpan signature) {
  if (signature.size() != 64) return false;
  // cosmos-sdk reduces r and s mod n when parsing (ModNScalar.SetByteSlice) and then refuses
  // s > n/2; libsecp256k1 would refuse r, s ≥ n outright, so reduce first.
  detail::U256 r = detail::reduceModOrder(detail::U256::fromBigEndian(signature.data()));
  detail::U256 s = detail::reduceModOrder(detail::U256::fromBigEndian(signature.data() + 32));
  if (r.isZero() || s.isZero() || detail::compare(s, detail::kHalfOrder) > 0) return false;
  std::array<std::uint8_t, 64> compact{};
  r.toBigEndian(compact.data());
  s.toBigEndian(compact.data() + 32);

  const secp256k1_context* context = detail::secpContext();
  secp256k1_ecdsa_signature parsed;
  secp256k1_pubkey point;
  if (secp256k1_ecdsa_signature_parse_compact(context, &parsed, compact.data()) != 1) return false;
  if (secp256k1_ec_pubkey_parse(context, &point, key.compressed().data(), 33) != 1) return false;
  Hash32 digest = sha256(msg);
  return secp256k1_ecdsa_verify(context, &parsed, digest.data(), &point) == 1;
}

}  // namespace pocket::crypto
