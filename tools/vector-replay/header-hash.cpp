// Kind `header-hash`: test/vectors/cosmos/header-hash.json. Per case: the header JSON (CometBFT's
// form: decimal strings, hex bytes, RFC 3339 time) is decoded, then every encoded leaf, every leaf
// hash and the header hash are compared.

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "common/protocol/block_header.h"
#include "common/util/hex.h"
#include "tools/vector-replay/kinds.h"

namespace pocket::vectors {

namespace {

std::uint64_t decimalField(const nlohmann::json& object, const char* key) {
  if (!object.contains(key)) return 0;
  return std::stoull(object.at(key).get<std::string>());
}

protocol::BlockHeader decodeHeader(const nlohmann::json& j) {
  protocol::BlockHeader h;
  h.versionBlock = decimalField(j.at("version"), "block");
  h.versionApp = decimalField(j.at("version"), "app");
  h.chainId = j.at("chain_id").get<std::string>();
  h.height = std::stoll(j.at("height").get<std::string>());
  auto time = protocol::parseRfc3339(j.at("time").get<std::string>());
  if (!time) throw std::runtime_error(time.error().message);
  h.time = *time;
  const auto& lastBlockId = j.at("last_block_id");
  h.lastBlockId.hash = hexValue(lastBlockId.at("hash"));
  h.lastBlockId.partSetTotal = lastBlockId.at("parts").at("total").get<std::uint32_t>();
  h.lastBlockId.partSetHash = hexValue(lastBlockId.at("parts").at("hash"));
  h.lastCommitHash = hexValue(j.at("last_commit_hash"));
  h.dataHash = hexValue(j.at("data_hash"));
  h.validatorsHash = hexValue(j.at("validators_hash"));
  h.nextValidatorsHash = hexValue(j.at("next_validators_hash"));
  h.consensusHash = hexValue(j.at("consensus_hash"));
  h.appHash = hexValue(j.at("app_hash"));
  h.lastResultsHash = hexValue(j.at("last_results_hash"));
  h.evidenceHash = hexValue(j.at("evidence_hash"));
  h.proposerAddress = hexValue(j.at("proposer_address"));
  return h;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

void replayHeaderHash(const nlohmann::json& document, Reporter& reporter) {
  std::size_t index = 0;
  for (const auto& c : document.at("cases")) {
    const std::string where = fmt::format("case={}", caseLabel(c, "name", index++));
    reporter.replayCase(where, [&] {
      const protocol::BlockHeader header = decodeHeader(c.at("header_json"));
      const auto leaves = protocol::headerLeafInputs(header);
      const auto& expectedLeaves = c.at("leaves");
      reporter.expectEqual(where, "leaf count", std::to_string(expectedLeaves.size()),
                           std::to_string(leaves.size()));
      for (std::size_t i = 0; i < leaves.size() && i < expectedLeaves.size(); ++i) {
        const auto& leaf = expectedLeaves[i];
        const std::string leafWhere =
            fmt::format("{} leaf={} ({})", where, i + 1, leaf.at("field").get<std::string>());
        reporter.expectEqual(leafWhere, "encoded", leaf.at("encoded_hex").get<std::string>(),
                             util::toHex(leaves[i]));
        reporter.expectEqual(leafWhere, "leaf hash", leaf.at("leaf_hash_hex").get<std::string>(),
                             util::toHex(protocol::merkleLeafHash(leaves[i])));
      }
      auto hash = protocol::headerHash(header);
      if (!hash) {
        reporter.fail(where, hash.error().message);
        return;
      }
      reporter.expectEqual(where, "hash", lower(c.at("hash").get<std::string>()), util::toHex(*hash));
    });
  }
}

}  // namespace pocket::vectors
