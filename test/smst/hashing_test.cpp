#include "common/smst/hashing.h"

#include <array>
#include <cstdint>
#include <vector>

#include <doctest.h>

#include "common/util/hex.h"

using namespace pocket;

TEST_CASE("sha256Into matches the published digests of the empty string and abc") {
  std::array<std::uint8_t, 32> out{};
  smst::detail::sha256Into(nullptr, 0, out.data());
  CHECK(util::toHex(out) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::uint8_t abc[] = {'a', 'b', 'c'};
  smst::detail::sha256Into(abc, sizeof abc, out.data());
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
    smst::detail::sha256Into(data.data(), n, fast.data());
    smst::detail::sha256Portable(data.data(), n, reference.data());
    INFO("length " << n << ", accelerated " << smst::detail::sha256Accelerated());
    CHECK(util::toHex(fast) == util::toHex(reference));
    // The same message paired with a different one of its size gives the same digest.
    std::array<std::uint8_t, 32> first{};
    std::array<std::uint8_t, 32> second{};
    std::array<std::uint8_t, 32> secondReference{};
    const std::uint8_t* other = data.data() + (data.size() - n);
    smst::detail::sha256PairInto(data.data(), other, n, first.data(), second.data());
    smst::detail::sha256Portable(other, n, secondReference.data());
    CHECK(util::toHex(first) == util::toHex(reference));
    CHECK(util::toHex(second) == util::toHex(secondReference));
  }
}
