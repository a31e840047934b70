#include "session-manager/fingerprint_set.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace pocket::sm {
namespace {

std::vector<std::uint64_t> randomFingerprints(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> out;
  out.reserve(n);
  while (out.size() < n) {
    std::uint64_t f = rng();
    if (f != 0) out.push_back(f);
  }
  return out;
}

TEST_CASE("a fingerprint set finds every fingerprint inserted, while it grows and after") {
  FingerprintSet set;
  auto in = randomFingerprints(300'000, 1);
  auto out = randomFingerprints(20'000, 2);
  std::size_t insertsWhileGrowing = 0;
  std::size_t growths = 0;
  bool wasGrowing = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    set.insert(in[i]);
    if (set.growing()) {
      ++insertsWhileGrowing;
      if (!wasGrowing) ++growths;
      // Everything inserted so far is found, whichever table holds it (sampled: the whole
      // prefix at each of a few points, so the test stays fast).
      if (i % 4096 == 0) {
        for (std::size_t j = 0; j <= i; ++j) REQUIRE(set.mayContain(in[j]));
      }
    }
    wasGrowing = set.growing();
  }
  // 64 slots doubling to hold 300,000 at 3/4: 13 growths, each spread over several inserts.
  CHECK(growths == 13);
  CHECK(insertsWhileGrowing > growths);
  CHECK(set.size() == in.size());
  for (std::uint64_t f : in) REQUIRE(set.mayContain(f));
  // Random 64-bit values not inserted: a false "maybe" would need an equal fingerprint.
  std::size_t falseHits = 0;
  for (std::uint64_t f : out) falseHits += set.mayContain(f) ? 1 : 0;
  CHECK(falseHits == 0);
}

TEST_CASE("a fingerprint inserted twice counts once, also when the first copy is in the old table") {
  FingerprintSet set;
  auto in = randomFingerprints(100, 3);
  for (std::uint64_t f : in) set.insert(f);  // 100 > 48: grown from 64 to 128 slots
  REQUIRE(set.growing());  // the first 48 still (partly) in the 64-slot table
  for (std::uint64_t f : in) set.insert(f);
  CHECK(set.size() == in.size());
  for (std::uint64_t f : in) CHECK(set.mayContain(f));
}

TEST_CASE("reserve finishes a growth and makes room without losing anything") {
  FingerprintSet set;
  auto in = randomFingerprints(1'000, 4);
  for (std::size_t i = 0; i < 100; ++i) set.insert(in[i]);
  set.reserve(1'000);
  CHECK_FALSE(set.growing());
  for (std::size_t i = 100; i < in.size(); ++i) {
    set.insert(in[i]);
    CHECK_FALSE(set.growing());  // room for 1,000 was made
  }
  CHECK(set.size() == in.size());
  for (std::uint64_t f : in) CHECK(set.mayContain(f));
  FingerprintSet moved = std::move(set);
  CHECK(moved.size() == in.size());
  for (std::uint64_t f : in) CHECK(moved.mayContain(f));
}

TEST_CASE("a cleared set holds nothing, also when cleared while growing, and takes new "
          "fingerprints in the table it kept") {
  FingerprintSet set;
  auto first = randomFingerprints(100, 5);
  auto second = randomFingerprints(40, 6);
  for (std::uint64_t f : first) set.insert(f);
  REQUIRE(set.growing());
  set.clear();
  CHECK(set.size() == 0);
  CHECK_FALSE(set.growing());
  for (std::uint64_t f : first) CHECK_FALSE(set.mayContain(f));
  for (std::uint64_t f : second) set.insert(f);
  CHECK_FALSE(set.growing());  // 40 fit the 128 slots kept
  CHECK(set.size() == second.size());
  for (std::uint64_t f : second) CHECK(set.mayContain(f));
  for (std::uint64_t f : first) CHECK_FALSE(set.mayContain(f));
}

}  // namespace
}  // namespace pocket::sm
