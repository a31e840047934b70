#pragma once
// The devnet's genesis file: YAML with poktroll's parameter names (docs/devnet.md has an annotated
// example), read into a Genesis (state/genesis.h) and checked with validateGenesis().
//
// Strict: unknown keys, wrong types, negative or non-integer amounts, bad durations and bad hex are
// errors naming the key path (`suppliers[1].services[0].endpoints[0].rpc_type: ...`). A
// `param_changes` entry starts from the params in force just before its height and overrides only
// the keys it names.
//
// Pure functions (plus reading the file); thread-safe. Errors are util::Error values with code
// kErrorBadGenesisFile or state/genesis.h's kErrBadGenesis; nothing throws.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/util/result.h"
#include "test/devnet/state/genesis.h"

namespace pocket::devnet {

inline constexpr std::string_view kErrorBadGenesisFile = "bad_genesis_file";

// What the genesis file configures beyond the chain's Genesis: the node's minimum gas price.
struct DevnetConfig {
  Genesis genesis;
  // upokt per unit of gas as a fraction; `min_gas_price: "0.000001"` (the default) is 1/1000000.
  std::uint64_t minGasPriceNumerator = 1;
  std::uint64_t minGasPriceDenominator = 1000000;
};

util::Result<DevnetConfig> parseGenesisYaml(std::string_view yamlText);
util::Result<DevnetConfig> loadGenesisFile(const std::filesystem::path& path);

// Go-style durations: "1s", "50ms", "1.5s", "2m", "250us". Error kErrorBadGenesisFile.
util::Result<std::chrono::nanoseconds> parseDuration(std::string_view text);

}  // namespace pocket::devnet
