#include "test/devnet/devnet_init.h"

#include <array>
#include <chrono>
#include <fstream>
#include <random>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto/keys.h"
#include "common/protocol/session_id.h"
#include "common/util/hex.h"
#include "test/devnet/genesis_yaml.h"

namespace pocket::devnet {
namespace {

struct Actor {
  std::string name;  // key file stem
  crypto::PrivateKey key;
  std::string address;
};

crypto::PrivateKey makeKey(const InitOptions& options, const std::string& name) {
  std::string secret;
  if (options.seed) {
    secret = *options.seed + "/" + name;
  } else {
    std::random_device device;
    std::array<std::uint8_t, 32> bytes{};
    for (auto& b : bytes) b = static_cast<std::uint8_t>(device());
    secret.assign(bytes.begin(), bytes.end());
  }
  return crypto::PrivateKey::fromSecret(util::asBytes(secret));
}

util::Status writePrivateFile(const std::filesystem::path& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    return util::makeError(
        std::string(kErrorInit),
        fmt::format("{}: cannot create: {}", path.string(), std::strerror(errno)));
  }
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return util::makeError(std::string(kErrorInit), path.string() + ": write failed");
  return util::Ok{};
}

util::Status writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return util::makeError(std::string(kErrorInit), path.string() + ": write failed");
  return util::Ok{};
}

std::string rfc3339Now() {
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

}  // namespace

util::Result<std::filesystem::path> initDevnet(const InitOptions& options) {
  auto bad = [](std::string what) {
    return util::makeError(std::string(kErrorInit), std::move(what));
  };
  if (options.applications == 0) return bad("--applications: must be at least 1");
  if (options.suppliers == 0) return bad("--suppliers: must be at least 1");
  if (options.serviceIds.empty()) return bad("--services: must name at least one service");
  for (const std::string& id : options.serviceIds) {
    if (auto valid = protocol::validateServiceId(id); !valid) {
      return bad(fmt::format("--services: '{}': {}", id, valid.error().message));
    }
  }
  if (options.chainId.empty()) return bad("--chain-id: must not be empty");
  if (auto duration = parseDuration(options.blockTime); !duration) {
    return bad("--block-time: " + duration.error().message);
  }
  if (options.numBlocksPerSession == 0) return bad("--session-blocks: must be at least 1");

  std::error_code ec;
  std::filesystem::path keys = options.directory / "keys";
  std::filesystem::create_directories(keys, ec);
  if (ec) return bad(fmt::format("{}: cannot create: {}", keys.string(), ec.message()));
  std::filesystem::path genesisPath = options.directory / "genesis.yaml";
  if (std::filesystem::exists(genesisPath) && !options.force) {
    return bad(fmt::format("{} already exists (use --force to overwrite it and its keys)",
                           genesisPath.string()));
  }

  auto actor = [&](std::string name) {
    crypto::PrivateKey key = makeKey(options, name);
    std::string address = key.publicKey().address();
    return Actor{std::move(name), key, std::move(address)};
  };
  Actor faucet = actor("faucet");
  std::vector<Actor> applications, gateways, operators, owners;
  for (std::size_t i = 1; i <= options.applications; ++i)
    applications.push_back(actor(fmt::format("application-{}", i)));
  for (std::size_t i = 1; i <= options.gateways; ++i)
    gateways.push_back(actor(fmt::format("gateway-{}", i)));
  for (std::size_t i = 1; i <= options.suppliers; ++i) {
    operators.push_back(actor(fmt::format("supplier-{}-operator", i)));
    owners.push_back(actor(fmt::format("supplier-{}-owner", i)));
  }

  std::string services;
  for (const std::string& id : options.serviceIds) services += (services.empty() ? "" : ", ") + id;
  std::string y;
  y += "# pocket-devnet genesis, written by `pocket-devnet init` (docs/devnet.md explains every "
       "key).\n";
  y += fmt::format("chain_id: {}\n", options.chainId);
  y += fmt::format("genesis_time: \"{}\"     # the time of block 1\n", rfc3339Now());
  y += fmt::format("block_time: {}                          # `run --block-time` overrides it\n",
                   options.blockTime);
  y += "min_gas_price: \"0.000001\"               # upokt per unit of gas; fee >= gas_limit x "
       "this\n";
  y += "params:\n";
  y += "  shared:                                # poktroll x/shared; unset keys keep poktroll's "
       "genesis defaults\n";
  y += fmt::format("    num_blocks_per_session: {}\n", options.numBlocksPerSession);
  y += "    grace_period_end_offset_blocks: 1\n";
  y += "    claim_window_open_offset_blocks: 1\n";
  y += "    claim_window_close_offset_blocks: 4\n";
  y += "    proof_window_open_offset_blocks: 0\n";
  y += "    proof_window_close_offset_blocks: 4\n";
  y += "    compute_units_to_tokens_multiplier: 42000000\n";
  y += "    compute_unit_cost_granularity: 1000000\n";
  y += "  session:\n";
  y += "    num_suppliers_per_session: 15\n";
  y += "  proof:\n";
  y += "    proof_request_probability: 0.25\n";
  y += "    proof_requirement_threshold: 20000000   # upokt\n";
  y += "    proof_missing_penalty: 320000000        # upokt slashed from the supplier stake\n";
  y += "    proof_submission_fee: 1000000           # upokt\n";
  y += "services:\n";
  for (const std::string& id : options.serviceIds) {
    y += fmt::format("  - id: {}\n    name: {}\n    compute_units_per_relay: 1\n", id, id);
    y += "    relay_mining_difficulty_target: "
         "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n";
  }
  y += "accounts:                              # liquid balances in upokt\n";
  // Applications and gateways carry their public keys: a relay's ring is built from the keys of
  // the application and its delegated gateways, which a real chain knows once those accounts
  // signed their stake transactions. Other accounts get theirs from their first transaction.
  enum class KnownKey { no, yes };
  auto account = [&](const Actor& a, std::uint64_t balance, KnownKey known) {
    y += fmt::format("  - address: {}   # keys/{}.key\n    balance: {}\n", a.address, a.name,
                     balance);
    if (known == KnownKey::yes) y += fmt::format("    public_key: {}\n", a.key.publicKey().hex());
  };
  account(faucet, 1000000000000000, KnownKey::no);
  for (const Actor& a : applications) account(a, 1000000000, KnownKey::yes);
  for (const Actor& a : gateways) account(a, 1000000000, KnownKey::yes);
  for (const Actor& a : operators) account(a, 10000000000, KnownKey::no);
  for (const Actor& a : owners) account(a, 1000000000, KnownKey::no);
  y += "applications:\n";
  for (const Actor& a : applications) {
    y += fmt::format("  - address: {}   # keys/{}.key\n    stake: 1000000000\n    services: [{}]\n",
                     a.address, a.name, services);
    y += "    delegatee_gateway_addresses: [";
    for (std::size_t i = 0; i < gateways.size(); ++i) y += (i ? ", " : "") + gateways[i].address;
    y += "]\n";
  }
  y += gateways.empty() ? "gateways: []\n" : "gateways:\n";
  for (const Actor& a : gateways) {
    y += fmt::format("  - address: {}   # keys/{}.key\n    stake: 1000000000\n", a.address, a.name);
  }
  y += "suppliers:\n";
  for (std::size_t i = 0; i < operators.size(); ++i) {
    y += fmt::format("  - operator_address: {}   # keys/{}.key: signs claims and proofs\n",
                     operators[i].address, operators[i].name);
    y += fmt::format("    owner_address: {}      # keys/{}.key: receives rewards\n",
                     owners[i].address, owners[i].name);
    y += "    stake: 1000000000\n    services:\n";
    for (const std::string& id : options.serviceIds) {
      y += fmt::format(
          "      - service_id: {}\n        endpoints:\n          - url: {}\n            rpc_type: "
          "JSON_RPC\n",
          id, options.supplierUrl);
    }
  }
  y += "param_changes: []                      # e.g. [{height: 25, proof: "
       "{proof_request_probability: 1}}]\n";

  // Check what we wrote loads, so init never leaves a genesis `run` would refuse.
  if (auto parsed = parseGenesisYaml(y); !parsed) {
    return bad("the generated genesis does not load: " + parsed.error().message);
  }

  std::string listing = "# name: address and key file (64 hex digits, mode 0600)\n";
  auto writeKey = [&](const Actor& a) -> util::Status {
    listing +=
        fmt::format("{}:\n  address: {}\n  key_file: keys/{}.key\n", a.name, a.address, a.name);
    return writePrivateFile(keys / (a.name + ".key"), util::toHex(a.key.bytes()) + "\n");
  };
  for (const auto* group : {&applications, &gateways, &operators, &owners}) {
    for (const Actor& a : *group) {
      if (auto s = writeKey(a); !s) return s.error();
    }
  }
  if (auto s = writeKey(faucet); !s) return s.error();
  if (auto s = writeFile(options.directory / "accounts.yaml", listing); !s) return s.error();
  if (auto s = writeFile(genesisPath, y); !s) return s.error();
  return genesisPath;
}

}  // namespace pocket::devnet
