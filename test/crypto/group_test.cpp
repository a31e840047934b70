// The verification arithmetic (common/crypto/field.h, group.h) against libsecp256k1.

#include "common/crypto/group.h"

#include <random>

#include <boost/multiprecision/cpp_int.hpp>

#include <secp256k1.h>

#include <doctest.h>

#include "common/crypto/keys.h"
#include "common/util/hex.h"

using namespace pocket;
using namespace pocket::crypto::detail;

namespace {

const secp256k1_context* context() {
  static secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  return ctx;
}

std::array<std::uint8_t, 32> randomScalar(std::mt19937_64& rng) {
  std::array<std::uint8_t, 32> out{};
  do {
    for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  } while (secp256k1_ec_seckey_verify(context(), out.data()) != 1);
  return out;
}

std::string libsecpMulAdd(const std::array<std::uint8_t, 33>& point,
                          const std::array<std::uint8_t, 32>& a,
                          const std::array<std::uint8_t, 32>& b) {
  // a·point + b·G
  secp256k1_pubkey p, bg, sum;
  REQUIRE(secp256k1_ec_pubkey_parse(context(), &p, point.data(), 33) == 1);
  REQUIRE(secp256k1_ec_pubkey_tweak_mul(context(), &p, a.data()) == 1);
  REQUIRE(secp256k1_ec_pubkey_create(context(), &bg, b.data()) == 1);
  const secp256k1_pubkey* parts[] = {&p, &bg};
  REQUIRE(secp256k1_ec_pubkey_combine(context(), &sum, parts, 2) == 1);
  std::array<std::uint8_t, 33> out{};
  std::size_t length = 33;
  secp256k1_ec_pubkey_serialize(context(), out.data(), &length, &sum, SECP256K1_EC_COMPRESSED);
  return util::toHex(out);
}

std::string ours(const JacobianPoint& point) {
  std::array<AffinePoint, 1> affine;
  std::array<JacobianPoint, 1> in = {point};
  REQUIRE(toAffineBatch(in, affine));
  std::array<std::uint8_t, 33> out{};
  compress(out.data(), affine[0]);
  return util::toHex(out);
}

}  // namespace

TEST_CASE("field inverse and square root agree with their definitions") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    FieldElement a = fieldFromWords(rng(), rng(), rng(), rng());
    if (fieldIsZero(a)) continue;
    FieldElement inv, product;
    fieldInverse(inv, a);
    fieldMul(product, inv, a);
    CHECK(fieldEqual(product, fieldFromSmall(1)));
    FieldElement sq, root;
    fieldSqr(sq, a);
    REQUIRE(fieldSqrt(root, sq));
    FieldElement back;
    fieldSqr(back, root);
    CHECK(fieldEqual(back, sq));
    FieldElement viaMul;
    fieldMul(viaMul, a, a);
    CHECK(fieldEqual(viaMul, sq));
  }
  // Values at the top of the representation: p-1, 2^256-1.
  FieldElement pMinus1 = fieldFromWords(0xfffffffefffffc2eULL, ~0ULL, ~0ULL, ~0ULL);
  FieldElement all = fieldFromWords(~0ULL, ~0ULL, ~0ULL, ~0ULL);
  FieldElement sum;
  fieldAdd(sum, pMinus1, all);  // (p-1) + (2^256-1) ≡ -1 + 2^32+976 = 2^32+975
  fieldNormalize(sum);
  CHECK(fieldToWords(sum) == std::array<std::uint64_t, 4>{0x1000003cfULL, 0, 0, 0});
  FieldElement diff;
  fieldSub(diff, fieldFromSmall(1), all);  // 1 - (2^32+976) mod p
  FieldElement back;
  fieldAdd(back, diff, all);
  CHECK(fieldEqual(back, fieldFromSmall(1)));
}

namespace {

using boost::multiprecision::cpp_int;

const cpp_int kP = (cpp_int(1) << 256) - 0x1000003d1;

cpp_int valueOf(const FieldElement& a) {
  cpp_int v = 0;
  for (std::size_t i = 5; i-- > 0;) v = (v << 52) + a.n[i];
  return v;
}

// Within the documented input range of every operation.
bool weaklyNormalized(const FieldElement& a) {
  for (std::size_t i = 0; i < 4; ++i) {
    if (a.n[i] >= (std::uint64_t{1} << 53)) return false;
  }
  return a.n[4] < (std::uint64_t{1} << 49);
}

// Random inputs across the whole weakly normalized range, with its corners and values near p.
FieldElement randomWeak(std::mt19937_64& rng) {
  constexpr std::uint64_t kMax = (std::uint64_t{1} << 53) - 1;
  constexpr std::uint64_t kMax4 = (std::uint64_t{1} << 49) - 1;
  switch (rng() % 8) {
    case 0:
      return FieldElement{{kMax, kMax, kMax, kMax, kMax4}};
    case 1:
      return fieldFromWords(0xfffffffefffffc2fULL - rng() % 3, ~0ULL, ~0ULL, ~0ULL);  // p-2..p
    case 2:
      return fieldFromSmall(rng() % 3);
    case 3: {
      FieldElement a;
      for (std::size_t i = 0; i < 5; ++i) a.n[i] = (rng() % 2 == 0) ? 0 : (i < 4 ? kMax : kMax4);
      return a;
    }
    default: {
      FieldElement a;
      for (std::size_t i = 0; i < 4; ++i) a.n[i] = rng() & kMax;
      a.n[4] = rng() & kMax4;
      return a;
    }
  }
}

}  // namespace

TEST_CASE("field operations agree with arbitrary-precision arithmetic mod p") {
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 20000; ++i) {
    FieldElement a = randomWeak(rng), b = randomWeak(rng);
    cpp_int va = valueOf(a), vb = valueOf(b);
    FieldElement r;
    fieldMul(r, a, b);
    CHECK(weaklyNormalized(r));
    CHECK(valueOf(r) % kP == (va * vb) % kP);
    fieldSqr(r, a);
    CHECK(weaklyNormalized(r));
    CHECK(valueOf(r) % kP == (va * va) % kP);
    fieldAdd(r, a, b);
    CHECK(weaklyNormalized(r));
    CHECK(valueOf(r) % kP == (va + vb) % kP);
    fieldSub(r, a, b);
    CHECK(weaklyNormalized(r));
    CHECK(valueOf(r) % kP == ((va - vb) % kP + kP) % kP);
    fieldMulSmall(r, a, 8);
    CHECK(weaklyNormalized(r));
    CHECK(valueOf(r) % kP == (va * 8) % kP);
    FieldElement n = a;
    fieldNormalize(n);
    CHECK(valueOf(n) == va % kP);
    CHECK(fieldIsZero(a) == (va % kP == 0));
    CHECK(fieldEqual(a, b) == (va % kP == vb % kP));
    CHECK(fieldIsOdd(a) == ((va % kP) % 2 == 1));
    std::array<std::uint64_t, 4> words = fieldToWords(a);
    CHECK(valueOf(fieldFromWords(words[0], words[1], words[2], words[3])) == va % kP);
  }
}

TEST_CASE("decompression accepts exactly what libsecp256k1 accepts") {
  std::mt19937_64 rng(11);
  int accepted = 0;
  for (int i = 0; i < 400; ++i) {
    std::array<std::uint8_t, 33> bytes{};
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    bytes[0] = static_cast<std::uint8_t>(i % 5 == 0 ? rng() : 2 + (rng() & 1));
    if (i % 50 == 1) std::fill(bytes.begin() + 1, bytes.end(), 0xff);  // x ≥ p
    secp256k1_pubkey parsed;
    bool theirs = secp256k1_ec_pubkey_parse(context(), &parsed, bytes.data(), 33) == 1;
    auto mine = decompress(bytes.data());
    CHECK(theirs == mine.has_value());
    if (mine) {
      std::array<std::uint8_t, 33> back{};
      compress(back.data(), *mine);
      CHECK(back == bytes);
      ++accepted;
    }
  }
  CHECK(accepted > 100);
}

TEST_CASE("multiMultiply equals a·P + b·G computed by libsecp256k1") {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 40; ++i) {
    auto priv = randomScalar(rng);
    auto key = crypto::PrivateKey::fromBytes(priv);
    REQUIRE(key.ok());
    auto compressed = key->publicKey().compressed();
    PointTable table(*decompress(compressed.data()), 3 + i % 6);
    auto a = randomScalar(rng);
    auto b = randomScalar(rng);
    if (i == 0) {  // small scalars exercise short NAFs
      a.fill(0);
      a[31] = 1;
      b.fill(0);
      b[31] = 3;
    }
    ScalarTerm terms[] = {{U256::fromBigEndian(a.data()), &table},
                          {U256::fromBigEndian(b.data()), &generatorTable()}};
    CHECK(ours(multiMultiply(terms)) == libsecpMulAdd(compressed, a, b));
  }
}

TEST_CASE("additions that meet the doubling and infinity cases are handled") {
  auto key = crypto::PrivateKey::fromSecret(util::asBytes("group-edge"));
  auto compressed = key.publicKey().compressed();
  PointTable table(*decompress(compressed.data()), 5);
  U256 x = U256::fromBigEndian(key.bytes().data());
  // x·G + (n - x)·G is the point at infinity.
  U256 minusX = kOrder;
  subtract(minusX, x);
  ScalarTerm cancel[] = {{x, &generatorTable()}, {minusX, &generatorTable()}};
  CHECK(multiMultiply(cancel).infinity);
  // x·P + x·P adds equal points at the first digit (the doubling case) and equals (2x)·P.
  U256 twoX = x;
  add(twoX, x);
  twoX = reduceModOrder(twoX);
  std::array<std::uint8_t, 32> twoXBytes{};
  twoX.toBigEndian(twoXBytes.data());
  std::array<std::uint8_t, 32> one{};
  one[31] = 1;
  ScalarTerm doubled[] = {{x, &table}, {x, &table}, {U256{{1, 0, 0, 0}}, &generatorTable()}};
  CHECK(ours(multiMultiply(doubled)) == libsecpMulAdd(compressed, twoXBytes, one));
}
