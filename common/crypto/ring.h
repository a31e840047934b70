#pragma once
// Linkable ring signatures of pokt-network/ring-go (bLSAG over secp256k1), which gateways and
// applications use to sign RelayRequests, and poktroll's ring membership rule.
//
// Wire format (ring-go serde): u32be n ‖ c0 (32) ‖ key image (33) ‖ n × (s_i (32) ‖ P_i (33)).
// Verification: c = c0; for each i: L = c·P_i + s_i·G, R = c·I + s_i·Hp(P_i),
// c = hashToScalar(m ‖ L ‖ R); valid iff c == c0. hashToScalar keeps the quirk of the pure-Go
// (decred) backend that poktroll release binaries and the chain run, see hashToScalar below.
//
// Decoding is strict where Go is lenient, and never crashes on any input:
//   - the length must be exactly 69 + 65·n (kErrRingBadLength otherwise); ring-go ignores trailing
//     bytes, this decoder refuses them (kErrRingTrailingBytes): no honest signer emits them;
//   - 2 ≤ n ≤ kMaxRingSize (kErrRingTooSmall, kErrRingTooLarge);
//   - scalars are reduced mod n like Go; a zero scalar is refused (kErrRingZeroScalar);
//   - points must be valid compressed points (kErrRingBadPoint).
// Verification failures that are not decoding problems return kErrRingBadSignature.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::crypto {

// Error codes (util::Error::code) of decoding, verifying and signing ring signatures.
inline constexpr char kErrRingBadLength[] = "bad_length";
inline constexpr char kErrRingTrailingBytes[] = "trailing_bytes";
inline constexpr char kErrRingTooSmall[] = "ring_too_small";
inline constexpr char kErrRingTooLarge[] = "ring_too_large";
inline constexpr char kErrRingZeroScalar[] = "zero_scalar";
inline constexpr char kErrRingBadPoint[] = "bad_point";
inline constexpr char kErrRingBadSignature[] = "bad_signature";
inline constexpr char kErrRingSignerNotInRing[] = "signer_not_in_ring";

inline constexpr std::size_t kMaxRingSize = 64;

using Scalar32 = std::array<std::uint8_t, 32>;  // big-endian, below n

struct RingMember {
  Scalar32 s{};
  PublicKey publicKey;
};

// A decoded ring signature (a value; cheap to copy for small rings).
struct RingSignature {
  Scalar32 c0{};
  CompressedPoint keyImage{};  // validated on decode
  std::vector<RingMember> members;

  // The ring's public keys in signature order (duplicates kept).
  std::vector<PublicKey> ring() const;
};

util::Result<RingSignature> decodeRingSignature(util::ByteSpan bytes);
util::Bytes encodeRingSignature(const RingSignature& signature);

// ring-go's HashToScalar with the decred quirk: v = SHA3-512(input) mod n; the minimal big-endian
// bytes of v are left-aligned in 32 bytes, so when v < 2^248 the scalar is v·256^k (k = leading
// zero bytes) instead of v. Returns the 32-byte big-endian scalar.
Scalar32 hashToScalar(util::ByteSpan input);

// ring-go's hashToCurveSecp256k1: h = SHA3-256(compressed P); while h is not the x coordinate of a
// curve point, h = SHA3-256(h); the point with even y. Returns its compressed form.
CompressedPoint hashToCurve(const PublicKey& key);

// The placeholder key poktroll puts in the expected ring of an application without gateways:
// GenPrivKeyFromSecret("placeholder_ring_key_for_apps_without_gateways").
const PublicKey& placeholderRingPublicKey();

// poktroll's expected ring set at the session end height: {app} ∪ gateways, plus the placeholder
// key when there are no gateways. Order does not matter to checkRingMembership.
std::vector<PublicKey> expectedRingKeys(const PublicKey& application,
                                        std::span<const PublicKey> gateways);

// poktroll's ringPointsContain: every key of the signature's ring must be in `expected`.
// Order, duplicates and subsets are accepted. Error "ring_member_not_allowed" names the outsider.
util::Status checkRingMembership(const RingSignature& signature,
                                 std::span<const PublicKey> expected);
// The same rule against compressed encodings (what the chain reports), without parsing them: a
// key is in the ring iff its 33 bytes equal one of `expected`.
util::Status checkRingMembership(const RingSignature& signature,
                                 std::span<const CompressedPoint> expected);

// Verifies ring signatures, caching per point the precomputed tables of the ring members, their
// hash-to-curve points and key images (which repeat across all relays of an application's
// sessions). A resource: not copyable, not thread-safe; use one per thread (the tables of the
// generator are shared read-only between threads).
//
// Cost: a point seen for the first time costs a table build (≈ 1 ms for a ring member with its
// hash-to-curve point, less for a key image); afterwards a ring of 2 verifies in about half the
// time of the straightforward libsecp256k1 route (docs/BENCHMARKS.md). The cache keeps at most
// `cacheCapacity` points, each 32 KiB (64 KiB for a ring member: its own table and its
// hash-to-curve point's); the least recently used are dropped first (approximately).
class RingVerifier {
 public:
  explicit RingVerifier(std::size_t cacheCapacity = 1024);
  ~RingVerifier();
  RingVerifier(const RingVerifier&) = delete;
  RingVerifier& operator=(const RingVerifier&) = delete;

  // Checks the signature over the 32-byte message (the RelayRequest signable hash).
  // Check membership first (checkRingMembership): then every ring point is a known key. A key
  // image not yet seen in a valid signature is checked with a small throw-away table (≈ 0.1 ms)
  // and cached only once its signature verifies.
  // Errors: "zero_scalar", "bad_point" (a point at infinity on the way), "bad_signature".
  util::Status verify(const RingSignature& signature, const Hash32& message);
  // decodeRingSignature + verify.
  util::Status verify(util::ByteSpan serialized, const Hash32& message);
  // decodeRingSignature (same checks, same errors) with the points checked against this
  // verifier's cache: a point seen before costs a lookup instead of a decompression.
  util::Result<RingSignature> decode(util::ByteSpan serialized);

  std::size_t cachedPoints() const;

 private:
  struct Cache;
  friend util::Result<RingSignature> decodeRingSignature(util::ByteSpan bytes);
  // Decodes; points are found in `cache` or decompressed, or without a cache parsed by libsecp256k1.
  static util::Result<RingSignature> decodeWith(util::ByteSpan bytes, Cache* cache);
  std::unique_ptr<Cache> cache_;
};

// Signs `message` with `key` over `ring`, which must contain key's public key (the first match
// is the signer's slot) and have 2..kMaxRingSize members. Fresh randomness each call (OpenSSL
// RAND_bytes). Errors: kErrRingTooSmall, kErrRingTooLarge, kErrRingSignerNotInRing.
util::Result<RingSignature> signRing(const PrivateKey& key, std::span<const PublicKey> ring,
                                     const Hash32& message);

}  // namespace pocket::crypto
