#include "common/crypto/sha256.h"

#include <array>
#include <cstdint>
#include <vector>

#include <doctest.h>

#include "common/crypto/hash.h"
#include "common/util/hex.h"

using namespace pocket;

TEST_CASE("sha256Into matches the published digests of the empty string and abc") {
  std::array<std::uint8_t, 32> out{};
  crypto::sha256Into(nullptr, 0, out.data());
  CHECK(util::toHex(out) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::uint8_t abc[] = {'a', 'b', 'c'};
  crypto::sha256Into(abc, sizeof abc, out.data());
  CHECK(util::toHex(out) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("sha256Into agrees with OpenSSL for every length across the padding boundaries") {
  // Lengths 0..300 cover one to six blocks and every tail size, in particular 55/56 and 119/120
  // where the padding spills into an extra block.
  std::vector<std::uint8_t> data(300);
  std::uint32_t x = 12345;
  for (auto& byte : data) {
    x = x * 1103515245u + 12345u;
    byte = static_cast<std::uint8_t>(x >> 24);
  }
  for (std::size_t n = 0; n <= data.size(); ++n) {
    std::array<std::uint8_t, 32> fast{};
    std::array<std::uint8_t, 32> reference{};
    crypto::sha256Into(data.data(), n, fast.data());
    crypto::sha256Portable(data.data(), n, reference.data());
    INFO("length " << n << ", accelerated " << crypto::sha256Accelerated());
    CHECK(util::toHex(fast) == util::toHex(reference));
    // The same message paired with a different one of its size gives the same digest.
    std::array<std::uint8_t, 32> first{};
    std::array<std::uint8_t, 32> second{};
    std::array<std::uint8_t, 32> secondReference{};
    const std::uint8_t* other = data.data() + (data.size() - n);
    crypto::sha256PairInto(data.data(), other, n, first.data(), second.data());
    crypto::sha256Portable(other, n, secondReference.data());
    CHECK(util::toHex(first) == util::toHex(reference));
    CHECK(util::toHex(second) == util::toHex(secondReference));
  }
}

TEST_CASE("crypto::sha256 gives sha256Into's bytes") {
  std::vector<std::uint8_t> data(130);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  for (std::size_t n : {0u, 1u, 55u, 56u, 64u, 130u}) {
    std::array<std::uint8_t, 32> reference{};
    crypto::sha256Portable(data.data(), n, reference.data());
    CHECK(util::toHex(crypto::sha256(util::ByteSpan(data.data(), n))) == util::toHex(reference));
  }
}
