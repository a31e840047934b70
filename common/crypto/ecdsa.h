#pragma once
// ECDSA as cosmos-sdk's secp256k1 keys use it (PrivKey.Sign / PubKey.VerifySignature):
// the ECDSA digest is sha256(msg), the nonce is RFC 6979, and the signature is 64 bytes r ‖ s
// with s ≤ n/2 (low-S). Byte-identical to the CGO-free Go build (decred dcrec/secp256k1).
//
// Both callers pass `msg` as they hold it: the relay code passes the 32-byte response signable
// hash (so the digest is sha256(sha256(signable bytes))), the transaction code passes SignDoc
// bytes. Thread-safe; no shared mutable state.

#include <array>
#include <cstdint>

#include "common/crypto/keys.h"
#include "common/util/bytes.h"

namespace pocket::crypto {

using Signature64 = std::array<std::uint8_t, 64>;

// Deterministic: the same key and message always give the same bytes.
Signature64 signCosmos(const PrivateKey& key, util::ByteSpan msg);

// True iff `signature` is 64 bytes r ‖ s, s ≤ n/2 after reducing r and s mod n (as cosmos parses
// them), neither is zero, and it verifies for sha256(msg) under `key`. Any other shape (65-byte
// recoverable, DER, high-S) is false.
bool verifyCosmos(const PublicKey& key, util::ByteSpan msg, util::ByteSpan signature);

namespace detail {
// The RFC 6979 (HMAC-SHA256) nonce as a libsecp256k1 nonce function: candidate `counter` for
// private key `key32` and digest `msg32`, with optional 32-byte extra data and 16-byte algorithm
// tag. Same bytes as libsecp256k1's secp256k1_nonce_function_rfc6979.
int rfc6979Nonce(unsigned char* nonce32, const unsigned char* msg32, const unsigned char* key32,
                 const unsigned char* algo16, void* data, unsigned int counter);
}  // namespace detail

}  // namespace pocket::crypto
