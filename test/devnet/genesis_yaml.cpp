#include "test/devnet/genesis_yaml.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/protocol/block_header.h"
#include "common/util/hex.h"

namespace pocket::devnet {
namespace {

// Parsing aborts at the first bad value with this; parseGenesisYaml turns it into a util::Error.
struct BadValue : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw BadValue(path + ": " + why);
}

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

void allowOnly(const YAML::Node& node, const std::string& path,
               std::initializer_list<std::string_view> allowed) {
  if (!node.IsMap()) fail(path.empty() ? "(top level)" : path, "must be a mapping");
  for (const auto& entry : node) {
    std::string key = entry.first.as<std::string>();
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(join(path, key), "unknown key (expected one of: " + list + ")");
    }
  }
}

std::string scalarText(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) fail(path, "must be a single value");
  return node.Scalar();
}

std::string str(const YAML::Node& node, const std::string& path) {
  return scalarText(node, path);
}

std::uint64_t parseUnsigned(std::string text, const std::string& path, std::string_view suffix) {
  if (!suffix.empty() && text.size() > suffix.size() && text.ends_with(suffix)) {
    text.resize(text.size() - suffix.size());
  }
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    fail(path,
         fmt::format("must be a non-negative integer{}, got '{}'",
                     suffix.empty() ? "" : " (optionally ending in " + std::string(suffix) + ")",
                     text));
  }
  return value;
}

std::uint64_t uint(const YAML::Node& node, const std::string& path) {
  return parseUnsigned(scalarText(node, path), path, "");
}

// An amount of upokt: 1000 or "1000upokt".
std::uint64_t upokt(const YAML::Node& node, const std::string& path) {
  return parseUnsigned(scalarText(node, path), path, kDenom);
}

double real(const YAML::Node& node, const std::string& path) {
  std::string text = scalarText(node, path);
  try {
    std::size_t used = 0;
    double value = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(value)) throw std::invalid_argument(text);
    return value;
  } catch (const std::exception&) {
    fail(path, fmt::format("must be a number, got '{}'", text));
  }
}

crypto::Hash32 hash32(const YAML::Node& node, const std::string& path) {
  std::string text = scalarText(node, path);
  auto bytes = util::fromHex(text);
  if (!bytes || bytes->size() != 32) fail(path, "must be 64 hex digits (32 bytes)");
  crypto::Hash32 out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

std::vector<std::string> stringList(const YAML::Node& node, const std::string& path) {
  if (!node.IsSequence()) fail(path, "must be a list");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    out.push_back(str(node[i], fmt::format("{}[{}]", path, i)));
  }
  return out;
}

template <class F>
void forEach(const YAML::Node& node, const std::string& path, F each) {
  if (!node) return;
  if (!node.IsSequence()) fail(path, "must be a list");
  for (std::size_t i = 0; i < node.size(); ++i) each(node[i], fmt::format("{}[{}]", path, i));
}

void readShared(const YAML::Node& node, const std::string& path, SharedParams& p) {
  allowOnly(node, path,
            {"num_blocks_per_session", "grace_period_end_offset_blocks",
             "claim_window_open_offset_blocks", "claim_window_close_offset_blocks",
             "proof_window_open_offset_blocks", "proof_window_close_offset_blocks",
             "supplier_unbonding_period_sessions", "application_unbonding_period_sessions",
             "compute_units_to_tokens_multiplier", "gateway_unbonding_period_sessions",
             "compute_unit_cost_granularity"});
  auto set = [&](const char* key, std::uint64_t& field) {
    if (node[key]) field = uint(node[key], join(path, key));
  };
  set("num_blocks_per_session", p.numBlocksPerSession);
  set("grace_period_end_offset_blocks", p.gracePeriodEndOffsetBlocks);
  set("claim_window_open_offset_blocks", p.claimWindowOpenOffsetBlocks);
  set("claim_window_close_offset_blocks", p.claimWindowCloseOffsetBlocks);
  set("proof_window_open_offset_blocks", p.proofWindowOpenOffsetBlocks);
  set("proof_window_close_offset_blocks", p.proofWindowCloseOffsetBlocks);
  set("supplier_unbonding_period_sessions", p.supplierUnbondingPeriodSessions);
  set("application_unbonding_period_sessions", p.applicationUnbondingPeriodSessions);
  set("compute_units_to_tokens_multiplier", p.computeUnitsToTokensMultiplier);
  set("gateway_unbonding_period_sessions", p.gatewayUnbondingPeriodSessions);
  set("compute_unit_cost_granularity", p.computeUnitCostGranularity);
}

void readSession(const YAML::Node& node, const std::string& path, SessionParams& p) {
  allowOnly(node, path, {"num_suppliers_per_session"});
  if (node["num_suppliers_per_session"]) {
    p.numSuppliersPerSession =
        uint(node["num_suppliers_per_session"], join(path, "num_suppliers_per_session"));
  }
}

void readProof(const YAML::Node& node, const std::string& path, ProofParams& p) {
  allowOnly(node, path,
            {"proof_request_probability", "proof_requirement_threshold", "proof_missing_penalty",
             "proof_submission_fee"});
  if (node["proof_request_probability"]) {
    p.proofRequestProbability =
        real(node["proof_request_probability"], join(path, "proof_request_probability"));
  }
  if (node["proof_requirement_threshold"]) {
    p.proofRequirementThresholdUpokt =
        upokt(node["proof_requirement_threshold"], join(path, "proof_requirement_threshold"));
  }
  if (node["proof_missing_penalty"]) {
    p.proofMissingPenaltyUpokt =
        upokt(node["proof_missing_penalty"], join(path, "proof_missing_penalty"));
  }
  if (node["proof_submission_fee"]) {
    p.proofSubmissionFeeUpokt =
        upokt(node["proof_submission_fee"], join(path, "proof_submission_fee"));
  }
}

void readDistribution(const YAML::Node& node, const std::string& path, ClaimDistribution& d) {
  allowOnly(node, path, {"dao", "proposer", "supplier", "source_owner", "application"});
  if (node["dao"]) d.dao = real(node["dao"], join(path, "dao"));
  if (node["proposer"]) d.proposer = real(node["proposer"], join(path, "proposer"));
  if (node["supplier"]) d.supplier = real(node["supplier"], join(path, "supplier"));
  if (node["source_owner"]) d.sourceOwner = real(node["source_owner"], join(path, "source_owner"));
  if (node["application"]) d.application = real(node["application"], join(path, "application"));
}

void readTokenomics(const YAML::Node& node, const std::string& path, TokenomicsParams& p) {
  allowOnly(
      node, path,
      {"dao_reward_address", "mint_allocation_percentages", "global_inflation_per_claim",
       "mint_equals_burn_claim_distribution", "mint_ratio", "overservicing_bonus_multiplier"});
  if (node["dao_reward_address"]) {
    p.daoRewardAddress = str(node["dao_reward_address"], join(path, "dao_reward_address"));
  }
  if (node["mint_allocation_percentages"]) {
    readDistribution(node["mint_allocation_percentages"], join(path, "mint_allocation_percentages"),
                     p.mintAllocationPercentages);
  }
  if (node["global_inflation_per_claim"]) {
    p.globalInflationPerClaim =
        real(node["global_inflation_per_claim"], join(path, "global_inflation_per_claim"));
  }
  if (node["mint_equals_burn_claim_distribution"]) {
    readDistribution(node["mint_equals_burn_claim_distribution"],
                     join(path, "mint_equals_burn_claim_distribution"),
                     p.mintEqualsBurnClaimDistribution);
  }
  if (node["mint_ratio"]) p.mintRatio = real(node["mint_ratio"], join(path, "mint_ratio"));
  if (node["overservicing_bonus_multiplier"]) {
    p.overservicingBonusMultiplier =
        uint(node["overservicing_bonus_multiplier"], join(path, "overservicing_bonus_multiplier"));
  }
}

void readServiceParams(const YAML::Node& node, const std::string& path, ServiceParams& p) {
  allowOnly(node, path, {"add_service_fee", "target_num_relays"});
  if (node["add_service_fee"]) {
    p.addServiceFeeUpokt = upokt(node["add_service_fee"], join(path, "add_service_fee"));
  }
  if (node["target_num_relays"]) {
    p.targetNumRelays = uint(node["target_num_relays"], join(path, "target_num_relays"));
  }
}

RpcType rpcType(const YAML::Node& node, const std::string& path) {
  std::string text = str(node, path);
  if (text == "GRPC") return RpcType::grpc;
  if (text == "WEBSOCKET") return RpcType::websocket;
  if (text == "JSON_RPC") return RpcType::jsonRpc;
  if (text == "REST") return RpcType::rest;
  if (text == "COMET_BFT") return RpcType::cometBft;
  fail(path, fmt::format("'{}' is not one of GRPC, WEBSOCKET, JSON_RPC, REST, COMET_BFT", text));
}

Time parseTime(const YAML::Node& node, const std::string& path) {
  auto parsed = protocol::parseRfc3339(str(node, path));
  if (!parsed) fail(path, parsed.error().message);
  return Time(std::chrono::seconds(parsed->seconds) + std::chrono::nanoseconds(parsed->nanos));
}

// "0.000001" → 1 / 1000000 (at most 18 fractional digits).
void parseGasPrice(const YAML::Node& node, const std::string& path, DevnetConfig& config) {
  std::string text = str(node, path);
  if (text.ends_with(kDenom)) text.resize(text.size() - kDenom.size());
  std::size_t dot = text.find('.');
  std::string whole = text.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
  if (fraction.size() > 18 || whole.size() > 18 || (whole.empty() && fraction.empty()) ||
      (!whole.empty() && whole.find_first_not_of("0123456789") != std::string::npos) ||
      fraction.find_first_not_of("0123456789") != std::string::npos) {
    fail(path,
         fmt::format("must be a decimal number of upokt per gas such as \"0.000001\", got '{}'",
                     text));
  }
  std::uint64_t denominator = 1;
  for (std::size_t i = 0; i < fraction.size(); ++i) denominator *= 10;
  std::uint64_t numerator = parseUnsigned(whole.empty() ? "0" : whole, path, "") * denominator +
                            (fraction.empty() ? 0 : parseUnsigned(fraction, path, ""));
  config.minGasPriceNumerator = numerator;
  config.minGasPriceDenominator = denominator;
}

DevnetConfig parseRoot(const YAML::Node& root) {
  DevnetConfig config;
  Genesis& g = config.genesis;
  allowOnly(root, "",
            {"chain_id", "genesis_time", "block_time", "min_gas_price", "params", "services",
             "accounts", "applications", "gateways", "suppliers", "param_changes"});
  if (root["chain_id"]) g.chainId = str(root["chain_id"], "chain_id");
  if (root["genesis_time"]) g.genesisTime = parseTime(root["genesis_time"], "genesis_time");
  if (root["block_time"]) {
    auto duration = parseDuration(str(root["block_time"], "block_time"));
    if (!duration) fail("block_time", duration.error().message);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
    if (millis.count() <= 0) fail("block_time", "must be at least 1ms");
    g.blockTime = millis;
  }
  if (root["min_gas_price"]) parseGasPrice(root["min_gas_price"], "min_gas_price", config);
  if (const YAML::Node params = root["params"]) {
    allowOnly(params, "params", {"shared", "session", "proof", "tokenomics", "service"});
    if (params["shared"]) readShared(params["shared"], "params.shared", g.shared);
    if (params["session"]) readSession(params["session"], "params.session", g.session);
    if (params["proof"]) readProof(params["proof"], "params.proof", g.proof);
    if (params["tokenomics"]) {
      readTokenomics(params["tokenomics"], "params.tokenomics", g.tokenomics);
    }
    if (params["service"]) readServiceParams(params["service"], "params.service", g.service);
  }
  forEach(root["services"], "services", [&](const YAML::Node& node, const std::string& path) {
    allowOnly(node, path,
              {"id", "name", "compute_units_per_relay", "owner_address",
               "relay_mining_difficulty_target"});
    Service service;
    if (!node["id"]) fail(path + ".id", "is required");
    service.id = str(node["id"], path + ".id");
    if (node["name"]) service.name = str(node["name"], path + ".name");
    if (node["compute_units_per_relay"]) {
      service.computeUnitsPerRelay =
          uint(node["compute_units_per_relay"], path + ".compute_units_per_relay");
    }
    if (node["owner_address"]) {
      service.ownerAddress = str(node["owner_address"], path + ".owner_address");
    }
    if (node["relay_mining_difficulty_target"]) {
      service.relayMiningDifficultyTarget =
          hash32(node["relay_mining_difficulty_target"], path + ".relay_mining_difficulty_target");
    }
    g.services.push_back(std::move(service));
  });
  forEach(root["accounts"], "accounts", [&](const YAML::Node& node, const std::string& path) {
    allowOnly(node, path, {"address", "balance", "public_key"});
    Account account;
    if (!node["address"]) fail(path + ".address", "is required");
    account.address = str(node["address"], path + ".address");
    if (node["balance"]) account.balanceUpokt = upokt(node["balance"], path + ".balance");
    if (node["public_key"]) {
      auto key = crypto::PublicKey::fromHex(str(node["public_key"], path + ".public_key"));
      if (!key) {
        fail(path + ".public_key",
             "must be a 33-byte compressed secp256k1 key in hex (" + key.error().message + ")");
      }
      account.publicKey = *key;
    }
    g.accounts.push_back(std::move(account));
  });
  forEach(root["applications"], "applications",
          [&](const YAML::Node& node, const std::string& path) {
            allowOnly(node, path,
                      {"address", "stake", "services", "delegatee_gateway_addresses",
                       "per_session_spend_limit"});
            Application app;
            if (!node["address"]) fail(path + ".address", "is required");
            app.address = str(node["address"], path + ".address");
            if (!node["stake"]) fail(path + ".stake", "is required");
            app.stakeUpokt = upokt(node["stake"], path + ".stake");
            if (node["services"]) app.serviceIds = stringList(node["services"], path + ".services");
            if (node["delegatee_gateway_addresses"]) {
              app.delegateeGatewayAddresses = stringList(node["delegatee_gateway_addresses"],
                                                         path + ".delegatee_gateway_addresses");
            }
            if (node["per_session_spend_limit"]) {
              app.perSessionSpendLimitUpokt =
                  upokt(node["per_session_spend_limit"], path + ".per_session_spend_limit");
            }
            g.applications.push_back(std::move(app));
          });
  forEach(root["gateways"], "gateways", [&](const YAML::Node& node, const std::string& path) {
    allowOnly(node, path, {"address", "stake"});
    Gateway gateway;
    if (!node["address"]) fail(path + ".address", "is required");
    gateway.address = str(node["address"], path + ".address");
    if (!node["stake"]) fail(path + ".stake", "is required");
    gateway.stakeUpokt = upokt(node["stake"], path + ".stake");
    g.gateways.push_back(std::move(gateway));
  });
  forEach(root["suppliers"], "suppliers", [&](const YAML::Node& node, const std::string& path) {
    allowOnly(node, path, {"owner_address", "operator_address", "stake", "services"});
    Supplier supplier;
    if (!node["operator_address"]) fail(path + ".operator_address", "is required");
    supplier.operatorAddress = str(node["operator_address"], path + ".operator_address");
    supplier.ownerAddress = node["owner_address"]
                                ? str(node["owner_address"], path + ".owner_address")
                                : supplier.operatorAddress;
    if (!node["stake"]) fail(path + ".stake", "is required");
    supplier.stakeUpokt = upokt(node["stake"], path + ".stake");
    forEach(node["services"], path + ".services",
            [&](const YAML::Node& serviceNode, const std::string& servicePath) {
              allowOnly(serviceNode, servicePath, {"service_id", "endpoints"});
              SupplierService service;
              if (!serviceNode["service_id"]) fail(servicePath + ".service_id", "is required");
              service.serviceId = str(serviceNode["service_id"], servicePath + ".service_id");
              forEach(serviceNode["endpoints"], servicePath + ".endpoints",
                      [&](const YAML::Node& endpointNode, const std::string& endpointPath) {
                        allowOnly(endpointNode, endpointPath, {"url", "rpc_type"});
                        SupplierEndpoint endpoint;
                        if (!endpointNode["url"]) fail(endpointPath + ".url", "is required");
                        endpoint.url = str(endpointNode["url"], endpointPath + ".url");
                        if (endpointNode["rpc_type"]) {
                          endpoint.rpcType =
                              rpcType(endpointNode["rpc_type"], endpointPath + ".rpc_type");
                        }
                        service.endpoints.push_back(std::move(endpoint));
                      });
              supplier.services.push_back(std::move(service));
            });
    g.suppliers.push_back(std::move(supplier));
  });

  // Each change starts from the params in force just before it.
  SharedParams shared = g.shared;
  SessionParams session = g.session;
  ProofParams proof = g.proof;
  TokenomicsParams tokenomics = g.tokenomics;
  ServiceParams service = g.service;
  forEach(
      root["param_changes"], "param_changes", [&](const YAML::Node& node, const std::string& path) {
        allowOnly(node, path,
                  {"height", "shared", "session", "proof", "tokenomics", "service", "services"});
        ParamChange change;
        if (!node["height"]) fail(path + ".height", "is required");
        std::uint64_t height = uint(node["height"], path + ".height");
        if (height > static_cast<std::uint64_t>(protocol::kMaxHeight))
          fail(path + ".height", "is too large");
        change.height = static_cast<std::int64_t>(height);
        if (node["shared"]) {
          readShared(node["shared"], path + ".shared", shared);
          change.shared = shared;
        }
        if (node["session"]) {
          readSession(node["session"], path + ".session", session);
          change.session = session;
        }
        if (node["proof"]) {
          readProof(node["proof"], path + ".proof", proof);
          change.proof = proof;
        }
        if (node["tokenomics"]) {
          readTokenomics(node["tokenomics"], path + ".tokenomics", tokenomics);
          change.tokenomics = tokenomics;
        }
        if (node["service"]) {
          readServiceParams(node["service"], path + ".service", service);
          change.service = service;
        }
        forEach(node["services"], path + ".services",
                [&](const YAML::Node& serviceNode, const std::string& servicePath) {
                  allowOnly(
                      serviceNode, servicePath,
                      {"service_id", "compute_units_per_relay", "relay_mining_difficulty_target"});
                  ServiceChange sc;
                  if (!serviceNode["service_id"]) fail(servicePath + ".service_id", "is required");
                  sc.serviceId = str(serviceNode["service_id"], servicePath + ".service_id");
                  if (serviceNode["compute_units_per_relay"]) {
                    sc.computeUnitsPerRelay = uint(serviceNode["compute_units_per_relay"],
                                                   servicePath + ".compute_units_per_relay");
                  }
                  if (serviceNode["relay_mining_difficulty_target"]) {
                    sc.relayMiningDifficultyTarget =
                        hash32(serviceNode["relay_mining_difficulty_target"],
                               servicePath + ".relay_mining_difficulty_target");
                  }
                  change.services.push_back(std::move(sc));
                });
        g.paramChanges.push_back(std::move(change));
      });
  return config;
}

}  // namespace

util::Result<std::chrono::nanoseconds> parseDuration(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    double nanos;
  };
  static constexpr Unit kUnits[] = {{"ns", 1},  {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
                                    {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  std::string_view rest = text;
  double total = 0;
  if (rest.empty()) {
    return util::makeError(std::string(kErrorBadGenesisFile), "empty duration");
  }
  while (!rest.empty()) {
    std::size_t digits = 0;
    while (digits < rest.size() &&
           (std::isdigit(static_cast<unsigned char>(rest[digits])) != 0 || rest[digits] == '.')) {
      ++digits;
    }
    if (digits == 0) {
      return util::makeError(std::string(kErrorBadGenesisFile),
                             fmt::format("'{}' is not a duration such as 1s or 50ms", text));
    }
    double number = 0;
    try {
      number = std::stod(std::string(rest.substr(0, digits)));
    } catch (const std::exception&) {
      return util::makeError(std::string(kErrorBadGenesisFile),
                             fmt::format("'{}' is not a duration such as 1s or 50ms", text));
    }
    rest.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      // Prefer the longest suffix ("ms" before "m").
      if (rest.starts_with(u.suffix) &&
          (unit == nullptr || u.suffix.size() > unit->suffix.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) {
      return util::makeError(std::string(kErrorBadGenesisFile),
                             fmt::format("'{}' has no unit (ns, us, ms, s, m, h)", text));
    }
    rest.remove_prefix(unit->suffix.size());
    total += number * unit->nanos;
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total)));
}

util::Result<DevnetConfig> parseGenesisYaml(std::string_view yamlText) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yamlText));
  } catch (const YAML::Exception& e) {
    return util::makeError(std::string(kErrorBadGenesisFile),
                           fmt::format("not valid YAML: {}", e.what()));
  }
  DevnetConfig config;
  try {
    config = parseRoot(root);
  } catch (const BadValue& e) {
    return util::makeError(std::string(kErrorBadGenesisFile), e.what());
  } catch (const YAML::Exception& e) {
    return util::makeError(std::string(kErrorBadGenesisFile), e.what());
  }
  if (auto valid = validateGenesis(config.genesis); !valid) return valid.error();
  return config;
}

util::Result<DevnetConfig> loadGenesisFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return util::makeError(std::string(kErrorBadGenesisFile),
                           fmt::format("{}: cannot open the genesis file", path.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto config = parseGenesisYaml(text.str());
  if (!config) {
    return util::makeError(config.error().code,
                           fmt::format("{}: {}", path.string(), config.error().message));
  }
  return config;
}

}  // namespace pocket::devnet
