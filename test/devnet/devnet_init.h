#pragma once
// `pocket-devnet init DIR`: a ready-to-run genesis and every key it references, so a demo or a test
// needs no hand-made keys. Writes DIR/genesis.yaml (annotated), DIR/keys/<name>.key (64 hex digits,
// mode 0600, the format loadPrivateKeyFile reads) and DIR/accounts.yaml (name → address and key
// file) for: a funded faucet account, applications (staked for every service, delegating to every
// gateway), gateways, suppliers (operator and owner keys, staked for every service with one
// endpoint each). The accounts of applications and gateways carry their public keys, so the rings
// of relays verify on a chain where those accounts never signed a transaction.
//
// Errors (an existing genesis without `force`, an unwritable directory, bad counts or service ids)
// are util::Error values naming what and where; nothing is written then... except files already
// written before an I/O failure.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/util/result.h"

namespace pocket::devnet {

inline constexpr std::string_view kErrorInit = "init_failed";

struct InitOptions {
  std::filesystem::path directory;
  std::string chainId = "pocket";
  std::size_t applications = 1;
  std::size_t gateways = 1;
  std::size_t suppliers = 1;
  std::vector<std::string> serviceIds{"anvil"};
  std::string supplierUrl = "http://127.0.0.1:8545";
  std::string blockTime = "1s";
  std::uint64_t numBlocksPerSession = 10;
  // Keys derived from this text when set (reproducible devnets); random otherwise.
  std::optional<std::string> seed;
  bool force = false;  // overwrite an existing genesis.yaml and keys
};

// Writes the files; returns the genesis path.
util::Result<std::filesystem::path> initDevnet(const InitOptions& options);

}  // namespace pocket::devnet
