// CRC-32C of the spool records: the published check values (RFC 3720 appendix B.4 and the
// catalogue's "123456789"), every tail length of the 8-byte hardware steps, and chaining.

#include "edge/link/crc32c.h"

#include <string>
#include <vector>

#include <doctest.h>

using pocket::edge::crc32c;
using pocket::edge::crc32cExtend;
using pocket::edge::maskCrc;
using pocket::edge::unmaskCrc;

namespace {

pocket::util::ByteSpan span(const std::vector<std::uint8_t>& v) {
  return {v.data(), v.size()};
}

// Bit-at-a-time reference, independent of the table and of the crc32 instruction.
std::uint32_t bitwise(const std::vector<std::uint8_t>& data) {
  std::uint32_t c = 0xffffffffu;
  for (std::uint8_t b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1u) != 0 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

}  // namespace

TEST_CASE("crc32c matches the published check values") {
  std::string digits = "123456789";
  CHECK(crc32c(std::vector<std::uint8_t>(digits.begin(), digits.end())) == 0xe3069283u);
  CHECK(crc32c(span(std::vector<std::uint8_t>(32, 0x00))) == 0x8a9136aau);
  CHECK(crc32c(span(std::vector<std::uint8_t>(32, 0xff))) == 0x62a8ab43u);
  std::vector<std::uint8_t> ascending(32), descending(32);
  for (int i = 0; i < 32; ++i) {
    ascending[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
    descending[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(31 - i);
  }
  CHECK(crc32c(span(ascending)) == 0x46dd794eu);
  CHECK(crc32c(span(descending)) == 0x113fdb5cu);
  CHECK(crc32c(span(std::vector<std::uint8_t>{})) == 0u);
}

TEST_CASE("crc32c agrees with a bitwise reference at every length and when chained") {
  std::vector<std::uint8_t> data(200);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 131 + 7);
  for (std::size_t n = 0; n <= data.size(); ++n) {
    std::vector<std::uint8_t> prefix(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    CAPTURE(n);
    CHECK(crc32c(span(prefix)) == bitwise(prefix));
    std::size_t cut = n / 3;
    std::uint32_t chained = crc32cExtend(0, {prefix.data(), cut});
    chained = crc32cExtend(chained, {prefix.data() + cut, n - cut});
    CHECK(chained == bitwise(prefix));
  }
}

TEST_CASE("masking round-trips and moves the value") {
  for (std::uint32_t v : {0u, 1u, 0xe3069283u, 0xffffffffu}) {
    CHECK(unmaskCrc(maskCrc(v)) == v);
    CHECK(maskCrc(v) != v);
  }
}
