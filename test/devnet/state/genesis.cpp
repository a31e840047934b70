#include "test/devnet/state/genesis.h"

#include <cmath>
#include <set>
#include <string>

#include <fmt/format.h>

#include "common/protocol/session_id.h"

namespace pocket::devnet {

namespace {

util::Error bad(const std::string& path, const std::string& why) {
  return util::makeError(std::string(kErrBadGenesis), path + ": " + why);
}

util::Status checkAddress(const std::string& path, std::string_view address) {
  if (auto valid = crypto::validateAddress(address); !valid) {
    return bad(path, fmt::format("\"{}\" is not a pokt address ({})", address,
                                 valid.error().message));
  }
  return util::Ok{};
}

util::Status checkServiceId(const std::string& path, std::string_view id) {
  if (auto valid = protocol::validateServiceId(id); !valid) {
    return bad(path, fmt::format("\"{}\": {}", id, valid.error().message));
  }
  return util::Ok{};
}

util::Status checkShared(const std::string& path, const SharedParams& p) {
  if (p.numBlocksPerSession == 0) {
    return bad(path + ".num_blocks_per_session", "must be greater than 0");
  }
  if (p.computeUnitCostGranularity == 0) {
    return bad(path + ".compute_unit_cost_granularity", "must be greater than 0");
  }
  if (p.computeUnitsToTokensMultiplier == 0) {
    return bad(path + ".compute_units_to_tokens_multiplier", "must be greater than 0");
  }
  if (auto timing = protocolSharedParams(p, 0, 0).validateTiming(); !timing) {
    return bad(path, timing.error().message);
  }
  return util::Ok{};
}

util::Status checkDistribution(const std::string& path, const ClaimDistribution& d) {
  for (double share : {d.dao, d.proposer, d.supplier, d.sourceOwner, d.application}) {
    if (!(share >= 0 && share <= 1)) {
      return bad(path, "every share must be between 0 and 1");
    }
  }
  double total = d.dao + d.proposer + d.supplier + d.sourceOwner + d.application;
  if (std::fabs(total - 1.0) > 1e-9) {
    return bad(path, fmt::format("shares add up to {}, expected 1", total));
  }
  return util::Ok{};
}

util::Status checkProof(const std::string& path, const ProofParams& p) {
  if (!(p.proofRequestProbability >= 0 && p.proofRequestProbability <= 1)) {
    return bad(path + ".proof_request_probability",
               fmt::format("{} is outside [0, 1]", p.proofRequestProbability));
  }
  return util::Ok{};
}

util::Status checkTokenomics(const std::string& path, const TokenomicsParams& p) {
  if (auto s = checkAddress(path + ".dao_reward_address", p.daoRewardAddress); !s) return s;
  if (auto s = checkDistribution(path + ".mint_allocation_percentages",
                                 p.mintAllocationPercentages);
      !s) {
    return s;
  }
  if (auto s = checkDistribution(path + ".mint_equals_burn_claim_distribution",
                                 p.mintEqualsBurnClaimDistribution);
      !s) {
    return s;
  }
  if (!(p.mintRatio > 0 && p.mintRatio <= 1)) {
    return bad(path + ".mint_ratio", fmt::format("{} is outside (0, 1]", p.mintRatio));
  }
  if (!(p.globalInflationPerClaim >= 0)) {
    return bad(path + ".global_inflation_per_claim", "must not be negative");
  }
  return util::Ok{};
}

}  // namespace

crypto::Hash32 easiestRelayMiningTarget() {
  crypto::Hash32 target;
  target.fill(0xff);
  return target;
}

protocol::SharedParams protocolSharedParams(const SharedParams& params, std::uint64_t anchorHeight,
                                            std::uint64_t numberAtAnchor) {
  protocol::SharedParams p;
  p.numBlocksPerSession = params.numBlocksPerSession;
  p.gracePeriodEndOffsetBlocks = params.gracePeriodEndOffsetBlocks;
  p.claimWindowOpenOffsetBlocks = params.claimWindowOpenOffsetBlocks;
  p.claimWindowCloseOffsetBlocks = params.claimWindowCloseOffsetBlocks;
  p.proofWindowOpenOffsetBlocks = params.proofWindowOpenOffsetBlocks;
  p.proofWindowCloseOffsetBlocks = params.proofWindowCloseOffsetBlocks;
  p.computeUnitsToTokensMultiplier = params.computeUnitsToTokensMultiplier;
  p.computeUnitCostGranularity = params.computeUnitCostGranularity;
  p.sessionGridAnchorHeight = anchorHeight;
  p.sessionNumberAtAnchor = numberAtAnchor;
  return p;
}

util::Status validateGenesis(const Genesis& g) {
  if (g.chainId.empty()) return bad("chain_id", "must not be empty");
  if (g.blockTime.count() <= 0) return bad("block_time", "must be positive");
  if (auto s = checkShared("params.shared", g.shared); !s) return s;
  if (g.session.numSuppliersPerSession == 0) {
    return bad("params.session.num_suppliers_per_session", "must be greater than 0");
  }
  if (auto s = checkProof("params.proof", g.proof); !s) return s;
  if (auto s = checkTokenomics("params.tokenomics", g.tokenomics); !s) return s;

  std::set<std::string, std::less<>> services;
  for (std::size_t i = 0; i < g.services.size(); ++i) {
    const Service& service = g.services[i];
    const std::string path = fmt::format("services[{}]", i);
    if (auto s = checkServiceId(path + ".id", service.id); !s) return s;
    if (!services.insert(service.id).second) {
      return bad(path + ".id", fmt::format("service \"{}\" is listed twice", service.id));
    }
    if (service.computeUnitsPerRelay == 0) {
      return bad(path + ".compute_units_per_relay", "must be greater than 0");
    }
    if (!service.ownerAddress.empty()) {
      if (auto s = checkAddress(path + ".owner_address", service.ownerAddress); !s) return s;
    }
  }

  std::set<std::string, std::less<>> accounts;
  for (std::size_t i = 0; i < g.accounts.size(); ++i) {
    const Account& account = g.accounts[i];
    const std::string path = fmt::format("accounts[{}]", i);
    if (auto s = checkAddress(path + ".address", account.address); !s) return s;
    if (!accounts.insert(account.address).second) {
      return bad(path + ".address", fmt::format("account {} is listed twice", account.address));
    }
    if (account.publicKey && account.publicKey->address() != account.address) {
      return bad(path + ".public_key",
                 fmt::format("the key's address is {}, not {}", account.publicKey->address(),
                             account.address));
    }
  }

  std::set<std::string, std::less<>> gateways;
  for (std::size_t i = 0; i < g.gateways.size(); ++i) {
    const Gateway& gateway = g.gateways[i];
    const std::string path = fmt::format("gateways[{}]", i);
    if (auto s = checkAddress(path + ".address", gateway.address); !s) return s;
    if (!gateways.insert(gateway.address).second) {
      return bad(path + ".address", fmt::format("gateway {} is listed twice", gateway.address));
    }
    if (gateway.stakeUpokt == 0) return bad(path + ".stake", "must be greater than 0");
  }

  std::set<std::string, std::less<>> applications;
  for (std::size_t i = 0; i < g.applications.size(); ++i) {
    const Application& app = g.applications[i];
    const std::string path = fmt::format("applications[{}]", i);
    if (auto s = checkAddress(path + ".address", app.address); !s) return s;
    if (!applications.insert(app.address).second) {
      return bad(path + ".address", fmt::format("application {} is listed twice", app.address));
    }
    if (app.stakeUpokt == 0) return bad(path + ".stake", "must be greater than 0");
    if (app.serviceIds.empty()) return bad(path + ".services", "must name at least one service");
    for (std::size_t j = 0; j < app.serviceIds.size(); ++j) {
      if (!services.contains(app.serviceIds[j])) {
        return bad(fmt::format("{}.services[{}]", path, j),
                   fmt::format("unknown service \"{}\"", app.serviceIds[j]));
      }
    }
    for (std::size_t j = 0; j < app.delegateeGatewayAddresses.size(); ++j) {
      if (!gateways.contains(app.delegateeGatewayAddresses[j])) {
        return bad(fmt::format("{}.delegatee_gateway_addresses[{}]", path, j),
                   fmt::format("{} is not a staked gateway", app.delegateeGatewayAddresses[j]));
      }
    }
  }

  std::set<std::string, std::less<>> operators;
  for (std::size_t i = 0; i < g.suppliers.size(); ++i) {
    const Supplier& supplier = g.suppliers[i];
    const std::string path = fmt::format("suppliers[{}]", i);
    if (auto s = checkAddress(path + ".operator_address", supplier.operatorAddress); !s) return s;
    if (auto s = checkAddress(path + ".owner_address", supplier.ownerAddress); !s) return s;
    if (!operators.insert(supplier.operatorAddress).second) {
      return bad(path + ".operator_address",
                 fmt::format("supplier {} is listed twice", supplier.operatorAddress));
    }
    if (supplier.stakeUpokt == 0) return bad(path + ".stake", "must be greater than 0");
    if (supplier.services.empty()) {
      return bad(path + ".services", "must name at least one service");
    }
    std::set<std::string, std::less<>> own;
    for (std::size_t j = 0; j < supplier.services.size(); ++j) {
      const SupplierService& service = supplier.services[j];
      const std::string servicePath = fmt::format("{}.services[{}]", path, j);
      if (!services.contains(service.serviceId)) {
        return bad(servicePath + ".service_id",
                   fmt::format("unknown service \"{}\"", service.serviceId));
      }
      if (!own.insert(service.serviceId).second) {
        return bad(servicePath + ".service_id",
                   fmt::format("service \"{}\" is listed twice", service.serviceId));
      }
      if (service.endpoints.empty()) {
        return bad(servicePath + ".endpoints", "must list at least one endpoint");
      }
      for (std::size_t k = 0; k < service.endpoints.size(); ++k) {
        if (service.endpoints[k].url.empty()) {
          return bad(fmt::format("{}.endpoints[{}].url", servicePath, k), "must not be empty");
        }
      }
    }
  }

  // Param changes: increasing heights; a grid change only at a session boundary of the grid in
  // force before it.
  SharedParams shared = g.shared;
  std::int64_t anchor = 1;
  std::int64_t previous = 1;
  for (std::size_t i = 0; i < g.paramChanges.size(); ++i) {
    const ParamChange& change = g.paramChanges[i];
    const std::string path = fmt::format("param_changes[{}]", i);
    if (change.height <= previous) {
      return bad(path + ".height",
                 fmt::format("{} must be greater than {}", change.height, previous));
    }
    previous = change.height;
    if (change.shared) {
      if (auto s = checkShared(path + ".shared", *change.shared); !s) return s;
      if (change.shared->numBlocksPerSession != shared.numBlocksPerSession) {
        const auto n = static_cast<std::int64_t>(shared.numBlocksPerSession);
        if ((change.height - anchor) % n != 0) {
          return bad(path + ".height",
                     fmt::format("num_blocks_per_session changes at {}, which is not the first "
                                 "block of a session (sessions of {} blocks from {})",
                                 change.height, n, anchor));
        }
        anchor = change.height;
      }
      shared = *change.shared;
    }
    if (change.session && change.session->numSuppliersPerSession == 0) {
      return bad(path + ".session.num_suppliers_per_session", "must be greater than 0");
    }
    if (change.proof) {
      if (auto s = checkProof(path + ".proof", *change.proof); !s) return s;
    }
    if (change.tokenomics) {
      if (auto s = checkTokenomics(path + ".tokenomics", *change.tokenomics); !s) return s;
    }
    for (std::size_t j = 0; j < change.services.size(); ++j) {
      const ServiceChange& sc = change.services[j];
      const std::string scPath = fmt::format("{}.services[{}]", path, j);
      if (!services.contains(sc.serviceId)) {
        return bad(scPath + ".service_id", fmt::format("unknown service \"{}\"", sc.serviceId));
      }
      if (sc.computeUnitsPerRelay && *sc.computeUnitsPerRelay == 0) {
        return bad(scPath + ".compute_units_per_relay", "must be greater than 0");
      }
    }
  }
  return util::Ok{};
}

}  // namespace pocket::devnet
