#include "common/crypto/ring.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/crypto/group.h"
#include "common/crypto/secp256k1_context.h"
#include "common/crypto/uint256.h"
#include "common/util/hex.h"

namespace pocket::crypto {

namespace {

constexpr std::size_t kHeaderBytes = 4 + 32 + 33;
constexpr std::size_t kMemberBytes = 32 + 33;
// Cached points get NAF width 7: 32 odd multiples per 16-bit chunk, 32 KiB per table.
constexpr int kCachedWindow = 7;
// The table of a key image not seen in a valid signature yet: 64 points instead of 512.
constexpr int kProbationWindow = 4;
constexpr int kHashToCurveTries = 128;

Scalar32 reducedScalar(const std::uint8_t* bytes32) {
  Scalar32 out{};
  detail::reduceModOrder(detail::U256::fromBigEndian(bytes32)).toBigEndian(out.data());
  return out;
}

bool isZero(const Scalar32& s) {
  return std::all_of(s.begin(), s.end(), [](std::uint8_t b) { return b == 0; });
}

std::optional<detail::AffinePoint> hashToCurvePoint(const CompressedPoint& key) {
  Hash32 h = sha3_256(key);
  for (int i = 0; i < kHashToCurveTries; ++i) {
    if (auto point = detail::liftEvenY(h.data())) return point;
    h = sha3_256(h);
  }
  return std::nullopt;  // probability 2^-128: ring-go panics here
}

struct PointHash {
  std::size_t operator()(const CompressedPoint& p) const {
    std::size_t h = 0;
    std::memcpy(&h, p.data() + 1, sizeof(h));  // x is uniformly distributed
    return h ^ p[0];
  }
};

}  // namespace

// ---- encoding ----

std::vector<PublicKey> RingSignature::ring() const {
  std::vector<PublicKey> out;
  out.reserve(members.size());
  for (const RingMember& member : members) out.push_back(member.publicKey);
  return out;
}

util::Result<RingSignature> decodeRingSignature(util::ByteSpan bytes) {
  return RingVerifier::decodeWith(bytes, nullptr);
}

util::Bytes encodeRingSignature(const RingSignature& signature) {
  util::Bytes out;
  out.reserve(kHeaderBytes + kMemberBytes * signature.members.size());
  auto size = static_cast<std::uint32_t>(signature.members.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>(size >> shift));
  }
  out.insert(out.end(), signature.c0.begin(), signature.c0.end());
  out.insert(out.end(), signature.keyImage.begin(), signature.keyImage.end());
  for (const RingMember& member : signature.members) {
    out.insert(out.end(), member.s.begin(), member.s.end());
    out.insert(out.end(), member.publicKey.compressed().begin(),
               member.publicKey.compressed().end());
  }
  return out;
}

// ---- hashes ----

Scalar32 hashToScalar(util::ByteSpan input) {
  Hash64 wide = sha3_512(input);
  Scalar32 reduced{};
  detail::reduceWideModOrder(wide.data()).toBigEndian(reduced.data());
  std::size_t leadingZeros = 0;
  while (leadingZeros < reduced.size() && reduced[leadingZeros] == 0) ++leadingZeros;
  if (leadingZeros == 0 || leadingZeros == reduced.size()) return reduced;
  // The decred quirk: minimal bytes copied to the front of a zeroed 32-byte buffer.
  Scalar32 shifted{};
  std::copy(reduced.begin() + static_cast<std::ptrdiff_t>(leadingZeros), reduced.end(),
            shifted.begin());
  // Go would panic if the shifted value reached n (probability about 2^-128); reduce instead.
  return reducedScalar(shifted.data());
}

CompressedPoint hashToCurve(const PublicKey& key) {
  auto point = hashToCurvePoint(key.compressed());
  if (!point) throw std::runtime_error("hash to curve found no point in 128 tries");
  CompressedPoint out{};
  detail::compress(out.data(), *point);
  return out;
}

// ---- membership ----

const PublicKey& placeholderRingPublicKey() {
  static const PublicKey key =
      PrivateKey::fromSecret(util::asBytes("placeholder_ring_key_for_apps_without_gateways"))
          .publicKey();
  return key;
}

std::vector<PublicKey> expectedRingKeys(const PublicKey& application,
                                        std::span<const PublicKey> gateways) {
  std::vector<PublicKey> out;
  out.reserve(gateways.size() + 1);
  out.push_back(application);
  out.insert(out.end(), gateways.begin(), gateways.end());
  if (gateways.empty()) out.push_back(placeholderRingPublicKey());
  return out;
}

util::Status checkRingMembership(const RingSignature& signature,
                                 std::span<const PublicKey> expected) {
  std::vector<CompressedPoint> encoded;
  encoded.reserve(expected.size());
  for (const PublicKey& key : expected) encoded.push_back(key.compressed());
  return checkRingMembership(signature, std::span<const CompressedPoint>(encoded));
}

util::Status checkRingMembership(const RingSignature& signature,
                                 std::span<const CompressedPoint> expected) {
  for (std::size_t i = 0; i < signature.members.size(); ++i) {
    const CompressedPoint& key = signature.members[i].publicKey.compressed();
    if (std::find(expected.begin(), expected.end(), key) == expected.end()) {
      return util::makeError(
          "ring_member_not_allowed",
          fmt::format("ring member {} ({}) is neither the application nor a gateway delegated "
                      "at the session end height",
                      i, signature.members[i].publicKey.address()));
    }
  }
  return util::Ok{};
}

// ---- verification ----

struct RingVerifier::Cache {
  struct Entry {
    std::shared_ptr<const detail::PointTable> point;
    std::shared_ptr<const detail::PointTable> hashToCurve;
  };
  using Map = std::unordered_map<CompressedPoint, Entry, PointHash>;

  explicit Cache(std::size_t capacity) : generation(std::max<std::size_t>(capacity / 2, 1)) {}

  // Two generations approximate LRU: a hit in the old one moves the entry to the current one;
  // when the current one is full it becomes the old one and the old one is dropped.
  Entry& lookup(const CompressedPoint& key) {
    if (auto it = current.find(key); it != current.end()) return it->second;
    Entry entry;
    if (auto it = previous.find(key); it != previous.end()) entry = std::move(it->second);
    if (current.size() >= generation) {
      previous = std::move(current);
      current.clear();
    }
    return current.emplace(key, std::move(entry)).first->second;
  }

  // True when `key` already has a point table (then it is a valid point); no reordering.
  bool hasPoint(const CompressedPoint& key) const {
    auto it = current.find(key);
    if (it != current.end()) return it->second.point != nullptr;
    it = previous.find(key);
    return it != previous.end() && it->second.point != nullptr;
  }

  std::shared_ptr<const detail::PointTable> point(const CompressedPoint& key) {
    Entry& entry = lookup(key);
    if (!entry.point) {
      auto affine = detail::decompress(key.data());
      if (!affine) return nullptr;
      entry.point = std::make_shared<const detail::PointTable>(*affine, kCachedWindow);
    }
    return entry.point;
  }

  std::shared_ptr<const detail::PointTable> hashPoint(const CompressedPoint& key) {
    Entry& entry = lookup(key);
    if (!entry.hashToCurve) {
      auto affine = hashToCurvePoint(key);
      if (!affine) return nullptr;
      entry.hashToCurve = std::make_shared<const detail::PointTable>(*affine, kCachedWindow);
    }
    return entry.hashToCurve;
  }

  std::size_t generation;
  Map current;
  Map previous;
};

util::Result<RingSignature> RingVerifier::decodeWith(util::ByteSpan bytes, Cache* cache) {
  if (bytes.size() < kHeaderBytes) {
    return util::makeError(kErrRingBadLength,
                           fmt::format("ring signature has {} bytes, the header alone needs {}",
                                       bytes.size(), kHeaderBytes));
  }
  std::uint32_t size = (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
                       (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
  if (size < 2) {
    return util::makeError(kErrRingTooSmall, fmt::format("ring signature declares {} members, want at least 2", size));
  }
  if (size > kMaxRingSize) {
    return util::makeError(kErrRingTooLarge,
        fmt::format("ring signature declares {} members, at most {} accepted", size, kMaxRingSize));
  }
  std::size_t want = kHeaderBytes + kMemberBytes * size;
  if (bytes.size() < want) {
    return util::makeError(kErrRingBadLength, fmt::format("ring signature of {} members needs {} bytes, has {}", size, want,
                                  bytes.size()));
  }
  if (bytes.size() > want) {
    return util::makeError(kErrRingTrailingBytes,
                           fmt::format("ring signature of {} members needs {} bytes, has {} "
                                       "({} trailing)",
                                       size, want, bytes.size(), bytes.size() - want));
  }
  RingSignature out;
  out.c0 = reducedScalar(bytes.data() + 4);
  if (isZero(out.c0)) return util::makeError(kErrRingZeroScalar, "ring signature c0 is zero mod n");
  auto point = [cache](util::ByteSpan encoded) -> util::Result<PublicKey> {
    if (cache == nullptr) return PublicKey::fromCompressed(encoded);
    CompressedPoint key{};
    std::copy(encoded.begin(), encoded.end(), key.begin());
    // Known points cost a lookup; others are only decompressed here (no table is built for a
    // point that may yet fail the membership check).
    if (!cache->hasPoint(key) && !detail::decompress(key.data())) {
      return util::makeError(kErrRingBadPoint, "not a compressed curve point");
    }
    return PublicKey(key);
  };
  auto image = point(bytes.subspan(36, 33));
  if (!image) {
    return util::makeError(kErrRingBadPoint, "ring signature key image: " + image.error().message);
  }
  out.keyImage = image->compressed();
  out.members.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    std::size_t offset = kHeaderBytes + kMemberBytes * i;
    Scalar32 s = reducedScalar(bytes.data() + offset);
    if (isZero(s)) {
      return util::makeError(kErrRingZeroScalar, fmt::format("ring signature s_{} is zero mod n", i));
    }
    auto key = point(bytes.subspan(offset + 32, 33));
    if (!key) {
      return util::makeError(kErrRingBadPoint,
                             fmt::format("ring signature member {}: {}", i, key.error().message));
    }
    out.members.push_back(RingMember{s, *key});
  }
  return out;
}

RingVerifier::RingVerifier(std::size_t cacheCapacity)
    : cache_(std::make_unique<Cache>(cacheCapacity)) {
}

RingVerifier::~RingVerifier() = default;

std::size_t RingVerifier::cachedPoints() const {
  return cache_->current.size() + cache_->previous.size();
}

util::Result<RingSignature> RingVerifier::decode(util::ByteSpan serialized) {
  return decodeWith(serialized, cache_.get());
}

util::Status RingVerifier::verify(util::ByteSpan serialized, const Hash32& message) {
  auto signature = decodeWith(serialized, cache_.get());
  if (!signature) return signature.error();
  return verify(*signature, message);
}

util::Status RingVerifier::verify(const RingSignature& signature, const Hash32& message) {
  if (signature.members.size() < 2 || signature.members.size() > kMaxRingSize) {
    return util::makeError(kErrRingBadLength, fmt::format("ring of {} members, want 2..{}",
                                                     signature.members.size(), kMaxRingSize));
  }
  const detail::U256 c0 = detail::reduceModOrder(detail::U256::fromBigEndian(signature.c0.data()));
  if (c0.isZero()) return util::makeError(kErrRingZeroScalar, "ring signature c0 is zero mod n");
  // A key image is fixed per signer, so an honest one is seen again and again; one never seen
  // before gets a small throw-away table and enters the cache only once its signature verified,
  // so that forged signatures with fresh key images cannot fill the cache with full tables.
  std::shared_ptr<const detail::PointTable> image;
  bool imageCached = cache_->hasPoint(signature.keyImage);
  if (imageCached) {
    image = cache_->point(signature.keyImage);
  } else if (auto affine = detail::decompress(signature.keyImage.data())) {
    image = std::make_shared<const detail::PointTable>(*affine, kProbationWindow);
  }
  if (!image) return util::makeError(kErrRingBadPoint, "ring signature key image is not a curve point");

  // m ‖ L ‖ R, with m fixed and L, R rewritten per member.
  std::array<std::uint8_t, 32 + 33 + 33> challengeInput{};
  std::copy(message.begin(), message.end(), challengeInput.begin());

  detail::U256 c = c0;
  for (std::size_t i = 0; i < signature.members.size(); ++i) {
    const RingMember& member = signature.members[i];
    const detail::U256 s = detail::reduceModOrder(detail::U256::fromBigEndian(member.s.data()));
    if (s.isZero()) return util::makeError(kErrRingZeroScalar, fmt::format("s_{} is zero mod n", i));
    auto point = cache_->point(member.publicKey.compressed());
    auto hashed = cache_->hashPoint(member.publicKey.compressed());
    if (!point || !hashed) {
      return util::makeError(kErrRingBadPoint, fmt::format("ring member {} is not a curve point", i));
    }
    const detail::ScalarTerm left[] = {{c, point.get()}, {s, &detail::generatorTable()}};
    const detail::ScalarTerm right[] = {{c, image.get()}, {s, hashed.get()}};
    std::array<detail::JacobianPoint, 2> lr = {detail::multiMultiply(left),
                                               detail::multiMultiply(right)};
    std::array<detail::AffinePoint, 2> affine;
    if (!detail::toAffineBatch(lr, affine)) {
      return util::makeError(kErrRingBadPoint,
                             fmt::format("L or R of ring member {} is the point at infinity", i));
    }
    detail::compress(challengeInput.data() + 32, affine[0]);
    detail::compress(challengeInput.data() + 65, affine[1]);
    Scalar32 next = hashToScalar(challengeInput);
    c = detail::U256::fromBigEndian(next.data());
    if (c.isZero()) return util::makeError(kErrRingBadSignature, "a challenge is zero");
  }
  if (c != c0) {
    return util::makeError(kErrRingBadSignature, "ring signature does not verify for this message");
  }
  if (!imageCached) cache_->point(signature.keyImage);
  return util::Ok{};
}

// ---- signing (libsecp256k1 public API; not on the relay hot path) ----

namespace {

const secp256k1_context* ctx() {
  return detail::secpContext();
}

secp256k1_pubkey parsePoint(const std::uint8_t* bytes33) {
  secp256k1_pubkey out;
  if (secp256k1_ec_pubkey_parse(ctx(), &out, bytes33, 33) != 1) {
    throw std::logic_error("ring signing: invalid point");
  }
  return out;
}

CompressedPoint serializePoint(const secp256k1_pubkey& point) {
  CompressedPoint out{};
  std::size_t length = out.size();
  secp256k1_ec_pubkey_serialize(ctx(), out.data(), &length, &point, SECP256K1_EC_COMPRESSED);
  return out;
}

Scalar32 randomScalar() {
  Scalar32 out{};
  do {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
  } while (secp256k1_ec_seckey_verify(ctx(), out.data()) != 1);
  return out;
}

// a·A + b·G; false when a tweak is invalid or the sum is infinity (negligible for honest input).
bool mulAddG(CompressedPoint& out, secp256k1_pubkey a, const Scalar32& aScalar,
             const Scalar32& bScalar) {
  secp256k1_pubkey bG;
  if (secp256k1_ec_pubkey_tweak_mul(ctx(), &a, aScalar.data()) != 1) return false;
  if (secp256k1_ec_pubkey_create(ctx(), &bG, bScalar.data()) != 1) return false;
  const secp256k1_pubkey* parts[] = {&a, &bG};
  secp256k1_pubkey sum;
  if (secp256k1_ec_pubkey_combine(ctx(), &sum, parts, 2) != 1) return false;
  out = serializePoint(sum);
  return true;
}

bool mulAdd(CompressedPoint& out, secp256k1_pubkey a, const Scalar32& aScalar, secp256k1_pubkey b,
            const Scalar32& bScalar) {
  if (secp256k1_ec_pubkey_tweak_mul(ctx(), &a, aScalar.data()) != 1) return false;
  if (secp256k1_ec_pubkey_tweak_mul(ctx(), &b, bScalar.data()) != 1) return false;
  const secp256k1_pubkey* parts[] = {&a, &b};
  secp256k1_pubkey sum;
  if (secp256k1_ec_pubkey_combine(ctx(), &sum, parts, 2) != 1) return false;
  out = serializePoint(sum);
  return true;
}

Scalar32 challenge(const Hash32& message, const CompressedPoint& l, const CompressedPoint& r) {
  std::array<std::uint8_t, 98> input{};
  std::copy(message.begin(), message.end(), input.begin());
  std::copy(l.begin(), l.end(), input.begin() + 32);
  std::copy(r.begin(), r.end(), input.begin() + 65);
  return hashToScalar(input);
}

std::optional<RingSignature> trySign(const PrivateKey& key, std::span<const PublicKey> ring,
                                     std::size_t signer, const Hash32& message) {
  const std::size_t n = ring.size();
  if (n < 2) return std::nullopt;
  std::vector<secp256k1_pubkey> points(n);
  std::vector<secp256k1_pubkey> hashed(n);
  for (std::size_t i = 0; i < n; ++i) {
    points[i] = parsePoint(ring[i].compressed().data());
    hashed[i] = parsePoint(hashToCurve(ring[i]).data());
  }
  secp256k1_pubkey image = hashed[signer];
  if (secp256k1_ec_pubkey_tweak_mul(ctx(), &image, key.bytes().data()) != 1) return std::nullopt;

  RingSignature out;
  out.keyImage = serializePoint(image);
  out.members.resize(n, RingMember{Scalar32{}, ring[0]});
  std::vector<Scalar32> c(n);

  Scalar32 u = randomScalar();
  CompressedPoint l{};
  CompressedPoint r{};
  secp256k1_pubkey uG;
  secp256k1_pubkey uH = hashed[signer];
  if (secp256k1_ec_pubkey_create(ctx(), &uG, u.data()) != 1 ||
      secp256k1_ec_pubkey_tweak_mul(ctx(), &uH, u.data()) != 1) {
    return std::nullopt;
  }
  c[(signer + 1) % n] = challenge(message, serializePoint(uG), serializePoint(uH));
  for (std::size_t k = 1; k < n; ++k) {
    std::size_t i = (signer + k) % n;
    Scalar32 s = randomScalar();
    out.members[i] = RingMember{s, ring[i]};
    if (!mulAddG(l, points[i], c[i], s) || !mulAdd(r, image, c[i], hashed[i], s)) {
      return std::nullopt;
    }
    c[(i + 1) % n] = challenge(message, l, r);
  }
  // s_signer = u - c_signer·x mod n
  Scalar32 s = key.bytes();
  bool ok = secp256k1_ec_seckey_tweak_mul(ctx(), s.data(), c[signer].data()) == 1 &&
            secp256k1_ec_seckey_negate(ctx(), s.data()) == 1 &&
            secp256k1_ec_seckey_tweak_add(ctx(), s.data(), u.data()) == 1;
  OPENSSL_cleanse(u.data(), u.size());
  if (!ok) return std::nullopt;
  out.members[signer] = RingMember{s, ring[signer]};
  out.c0 = c[0];
  return out;
}

}  // namespace

util::Result<RingSignature> signRing(const PrivateKey& key, std::span<const PublicKey> ring,
                                     const Hash32& message) {
  if (ring.size() < 2) {
    return util::makeError(kErrRingTooSmall,
                           fmt::format("ring of {} members, want at least 2", ring.size()));
  }
  if (ring.size() > kMaxRingSize) {
    return util::makeError(kErrRingTooLarge, fmt::format("ring of {} members, at most {}", ring.size(), kMaxRingSize));
  }
  const PublicKey own = key.publicKey();
  auto slot = std::find(ring.begin(), ring.end(), own);
  if (slot == ring.end()) {
    return util::makeError(kErrRingSignerNotInRing,
                           fmt::format("signer {} is not in the ring", own.address()));
  }
  auto signer = static_cast<std::size_t>(slot - ring.begin());
  // A zero scalar or a point at infinity has negligible probability; draw again if it happens.
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (auto signature = trySign(key, ring, signer, message)) return std::move(*signature);
  }
  throw std::runtime_error("ring signing failed repeatedly");
}

}  // namespace pocket::crypto
