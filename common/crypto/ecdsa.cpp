#include "common/crypto/ecdsa.h"

#include <cstring>
#include <stdexcept>

#include "common/crypto/hash.h"
#include "common/crypto/secp256k1_context.h"
#include "common/crypto/sha256.h"
#include "common/crypto/uint256.h"

namespace pocket::crypto {

namespace detail {

namespace {

// HMAC-SHA256 with a 32-byte key over parts concatenated (RFC 2104), on the raw sha256.
void hmac32(const std::uint8_t* key32, std::initializer_list<util::ByteSpan> parts,
            std::uint8_t* out32) {
  std::uint8_t inner[64 + 32 + 1 + 112];
  std::size_t n = 64;
  for (std::size_t i = 0; i < 64; ++i) inner[i] = static_cast<std::uint8_t>((i < 32 ? key32[i] : 0) ^ 0x36);
  for (util::ByteSpan part : parts) {
    std::memcpy(inner + n, part.data(), part.size());
    n += part.size();
  }
  std::uint8_t outer[64 + 32];
  for (std::size_t i = 0; i < 64; ++i) outer[i] = static_cast<std::uint8_t>((i < 32 ? key32[i] : 0) ^ 0x5c);
  sha256Into(inner, n, outer + 64);
  sha256Into(outer, sizeof outer, out32);
  std::memset(inner, 0, sizeof inner);
  std::memset(outer, 0, sizeof outer);
}

}  // namespace

int rfc6979Nonce(unsigned char* nonce32, const unsigned char* msg32, const unsigned char* key32,
                 const unsigned char* algo16, void* data, unsigned int counter) {
  // RFC 6979 §3.2 with SHA-256: the seed is x ‖ bits2octets(h1) (the digest reduced mod n),
  // optionally followed by 32 bytes of extra data (§3.6) and a 16-byte algorithm tag.
  std::uint8_t seed[112];
  std::size_t seedSize = 0;
  std::memcpy(seed, key32, 32);
  reduceModOrder(U256::fromBigEndian(msg32)).toBigEndian(seed + 32);
  seedSize = 64;
  if (data != nullptr) {
    std::memcpy(seed + seedSize, data, 32);
    seedSize += 32;
  }
  if (algo16 != nullptr) {
    std::memcpy(seed + seedSize, algo16, 16);
    seedSize += 16;
  }
  const util::ByteSpan seedSpan(seed, seedSize);
  std::uint8_t k[32];
  std::uint8_t v[32];
  std::memset(k, 0x00, 32);
  std::memset(v, 0x01, 32);
  const std::uint8_t zero = 0x00;
  const std::uint8_t one = 0x01;
  hmac32(k, {util::ByteSpan(v, 32), util::ByteSpan(&zero, 1), seedSpan}, k);
  hmac32(k, {util::ByteSpan(v, 32)}, v);
  hmac32(k, {util::ByteSpan(v, 32), util::ByteSpan(&one, 1), seedSpan}, k);
  hmac32(k, {util::ByteSpan(v, 32)}, v);
  // Candidate `counter` (0-based): every retry first re-keys with V ‖ 0x00 (§3.2 step h.3).
  for (unsigned int i = 0; i <= counter; ++i) {
    if (i > 0) {
      hmac32(k, {util::ByteSpan(v, 32), util::ByteSpan(&zero, 1)}, k);
      hmac32(k, {util::ByteSpan(v, 32)}, v);
    }
    hmac32(k, {util::ByteSpan(v, 32)}, v);
  }
  std::memcpy(nonce32, v, 32);
  std::memset(seed, 0, sizeof seed);
  std::memset(k, 0, sizeof k);
  std::memset(v, 0, sizeof v);
  return 1;
}

}  // namespace detail

Signature64 signCosmos(const PrivateKey& key, util::ByteSpan msg) {
  const secp256k1_context* context = detail::secpContext();
  Hash32 digest = sha256(msg);
  secp256k1_ecdsa_signature signature;
  // RFC 6979 nonces (detail::rfc6979Nonce gives the bytes of libsecp256k1's built-in one, on the
  // CPU's SHA instructions); libsecp256k1 returns low-S signatures.
  if (secp256k1_ecdsa_sign(context, &signature, digest.data(), key.bytes().data(),
                           &detail::rfc6979Nonce, nullptr) != 1) {
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
