// Kind `seeded-float64`: test/vectors/rand/seeded-float64.json. Per case: sha256(a ‖ b), the Go
// varint seed and its length, and the Float64 bits; per int63_case: the first Int63 outputs.

#include <bit>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "common/crypto/hash.h"
#include "common/protocol/go_rand.h"
#include "common/util/hex.h"
#include "tools/vector-replay/kinds.h"

namespace pocket::vectors {

namespace {}  // namespace

void replaySeededFloat64(const nlohmann::json& document, Reporter& reporter) {
  std::size_t index = 0;
  for (const auto& c : document.at("cases")) {
    const std::string where = fmt::format("case={}", caseLabel(c, "name", index++));
    reporter.replayCase(where, [&] {
      const util::Bytes a = hexField(c, "a_hex");
      const util::Bytes b = hexField(c, "b_hex");
      const crypto::Hash32 digest = crypto::sha256(a, b);
      reporter.expectEqual(where, "digest", c.at("digest_hex").get<std::string>(),
                           util::toHex(digest));
      const protocol::GoVarint varint = protocol::goVarint(digest);
      reporter.expectEqual(where, "varint_n", std::to_string(c.at("varint_n").get<int>()),
                           std::to_string(varint.consumed));
      reporter.expectEqual(where, "seed", c.at("seed").get<std::string>(),
                           std::to_string(varint.value));
      const double sample = protocol::seededFloat64(a, b);
      reporter.expectEqual(where, "float64_bits", c.at("float64_bits_hex").get<std::string>(),
                           fmt::format("{:016x}", std::bit_cast<std::uint64_t>(sample)));
      // Go prints the shortest decimal that round-trips; so does fmt's default for double.
      reporter.expectEqual(where, "float64", c.at("float64").get<std::string>(),
                           fmt::format("{}", sample));
    });
  }
  std::size_t caseIndex = 0;
  for (const auto& c : document.at("int63_cases")) {
    const std::string name = caseLabel(c, "name", caseIndex++);
    const std::string where = fmt::format("int63_case={}", name);
    reporter.replayCase(where, [&] {
      protocol::GoRandSource source(std::stoll(c.at("seed").get<std::string>()));
      int output = 0;
      for (const auto& expected : c.at("int63_first5")) {
        reporter.expectEqual(fmt::format("int63_case={} output={}", name, output), "int63",
                             expected.get<std::string>(), std::to_string(source.int63()));
        ++output;
      }
    });
  }
}

}  // namespace pocket::vectors
