#pragma once
// The devnet's genesis: everything the chain starts from, as plain value types. The node fills it
// from the genesis YAML (test/devnet/), ChainState (chain_state.h) runs from it.
//
// Parameter structs carry poktroll's parameter names (x/*/types/params.go, proto field names in
// comments) and its genesis defaults, so a default-constructed Genesis is a poktroll chain with
// genesis parameters. Amounts are uPOKT (the only denomination of the devnet).
//
// validateGenesis() checks a whole Genesis before a ChainState is built from it; every error names
// the key path of the offending value (`suppliers[1].services[0].service_id: ...`) and says why.
// Pure data and pure functions: thread-safe, no shared state.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/protocol/session.h"
#include "common/util/result.h"

namespace pocket::devnet {

inline constexpr std::string_view kDenom = "upokt";

// Error code of validateGenesis (util::Error::code); the message starts with the key path.
inline constexpr std::string_view kErrBadGenesis = "bad_genesis";

using Time = std::chrono::sys_time<std::chrono::nanoseconds>;

// pocket.shared.Params. The grid anchor and the session number at the anchor (fields 12, 13) are
// derived by the chain when num_blocks_per_session changes, never configured.
struct SharedParams {
  std::uint64_t numBlocksPerSession = 10;                 // 1 num_blocks_per_session
  std::uint64_t gracePeriodEndOffsetBlocks = 1;           // 2 grace_period_end_offset_blocks
  std::uint64_t claimWindowOpenOffsetBlocks = 1;          // 3 claim_window_open_offset_blocks
  std::uint64_t claimWindowCloseOffsetBlocks = 4;         // 4 claim_window_close_offset_blocks
  std::uint64_t proofWindowOpenOffsetBlocks = 0;          // 5 proof_window_open_offset_blocks
  std::uint64_t proofWindowCloseOffsetBlocks = 4;         // 6 proof_window_close_offset_blocks
  std::uint64_t supplierUnbondingPeriodSessions = 1;      // 7
  std::uint64_t applicationUnbondingPeriodSessions = 1;   // 8
  std::uint64_t computeUnitsToTokensMultiplier = 42'000'000;  // 9
  std::uint64_t gatewayUnbondingPeriodSessions = 1;       // 10
  std::uint64_t computeUnitCostGranularity = 1'000'000;   // 11

  friend bool operator==(const SharedParams&, const SharedParams&) = default;
};

// pocket.session.Params.
struct SessionParams {
  std::uint64_t numSuppliersPerSession = 15;  // 3 num_suppliers_per_session

  friend bool operator==(const SessionParams&, const SessionParams&) = default;
};

// pocket.proof.Params.
struct ProofParams {
  double proofRequestProbability = 0.25;                  // 2 proof_request_probability
  std::uint64_t proofRequirementThresholdUpokt = 20'000'000;  // 3 proof_requirement_threshold
  std::uint64_t proofMissingPenaltyUpokt = 320'000'000;   // 4 proof_missing_penalty
  std::uint64_t proofSubmissionFeeUpokt = 0;              // 5 proof_submission_fee

  friend bool operator==(const ProofParams&, const ProofParams&) = default;
};

// Shares of a settled amount (pocket.tokenomics MintEqualsBurnClaimDistribution /
// MintAllocationPercentages). Must add up to 1.
struct ClaimDistribution {
  double dao = 0.1;
  double proposer = 0.05;
  double supplier = 0.7;
  double sourceOwner = 0.15;
  double application = 0.0;

  friend bool operator==(const ClaimDistribution&, const ClaimDistribution&) = default;
};

// pocket.tokenomics.Params. Settlement on the devnet is simplified (docs/devnet.md): it reads
// dao_reward_address, mint_equals_burn_claim_distribution and mint_ratio; global inflation and the
// overservicing bonus are carried for completeness and not applied.
struct TokenomicsParams {
  std::string daoRewardAddress = "pokt1eeeksh2tvkh7wzmfrljnhw4wrhs55lcuvmekkw";
  ClaimDistribution mintAllocationPercentages;
  double globalInflationPerClaim = 0.1;
  ClaimDistribution mintEqualsBurnClaimDistribution;
  double mintRatio = 1.0;
  std::uint64_t overservicingBonusMultiplier = 1;

  friend bool operator==(const TokenomicsParams&, const TokenomicsParams&) = default;
};

// pocket.service.Params.
struct ServiceParams {
  std::uint64_t addServiceFeeUpokt = 1;       // 1 add_service_fee
  std::uint64_t targetNumRelays = 100'000;    // 2 target_num_relays

  friend bool operator==(const ServiceParams&, const ServiceParams&) = default;
};

// The easiest relay-mining target: every relay is mined (32 × 0xff).
crypto::Hash32 easiestRelayMiningTarget();

// A service (pocket.shared.Service) and its relay-mining difficulty.
struct Service {
  std::string id;                            // ^[a-zA-Z0-9_-]{1,42}$
  std::string name;
  std::uint64_t computeUnitsPerRelay = 1;    // > 0
  std::string ownerAddress;                  // optional; receives the source-owner share
  crypto::Hash32 relayMiningDifficultyTarget = easiestRelayMiningTarget();
};

struct Account {
  std::string address;
  std::uint64_t balanceUpokt = 0;
  // Known public key. Application and gateway keys are needed to verify the ring signatures of
  // proven relays (on a real chain they appear with the account's first transaction; the node
  // also sets them from the first transaction an account signs).
  std::optional<crypto::PublicKey> publicKey;
};

struct Application {
  std::string address;
  std::uint64_t stakeUpokt = 0;                      // > 0
  std::vector<std::string> serviceIds;               // at least one, each a known service
  std::vector<std::string> delegateeGatewayAddresses;  // each a staked gateway
  std::uint64_t perSessionSpendLimitUpokt = 0;       // 0 = no limit (field 8 absent)
};

struct Gateway {
  std::string address;
  std::uint64_t stakeUpokt = 0;  // > 0
};

// pocket.shared.RPCType numbers.
enum class RpcType : int { unknown = 0, grpc = 1, websocket = 2, jsonRpc = 3, rest = 4, cometBft = 5 };

struct SupplierEndpoint {
  std::string url;
  RpcType rpcType = RpcType::jsonRpc;
};

struct SupplierService {
  std::string serviceId;                      // a known service
  std::vector<SupplierEndpoint> endpoints;    // at least one
};

struct Supplier {
  std::string ownerAddress;
  std::string operatorAddress;   // the signer of its claims and proofs
  std::uint64_t stakeUpokt = 0;  // > 0
  std::vector<SupplierService> services;  // at least one
};

// A change of a service's compute units per relay or relay-mining target from a height on.
struct ServiceChange {
  std::string serviceId;
  std::optional<std::uint64_t> computeUnitsPerRelay;
  std::optional<crypto::Hash32> relayMiningDifficultyTarget;
};

// Parameters in force from `height` on (inclusive). Each present params set replaces the whole
// set. A change of num_blocks_per_session must fall on the first block of a session of the grid
// in force before it (poktroll applies it at a session boundary and re-anchors the grid there).
struct ParamChange {
  std::int64_t height = 0;  // > 1, strictly increasing through Genesis::paramChanges
  std::optional<SharedParams> shared;
  std::optional<SessionParams> session;
  std::optional<ProofParams> proof;
  std::optional<TokenomicsParams> tokenomics;
  std::optional<ServiceParams> service;
  std::vector<ServiceChange> services;
};

struct Genesis {
  std::string chainId = "pocket";
  Time genesisTime{};
  std::chrono::milliseconds blockTime{1000};

  SharedParams shared;
  SessionParams session;
  ProofParams proof;
  TokenomicsParams tokenomics;
  ServiceParams service;

  std::vector<Service> services;
  std::vector<Account> accounts;
  std::vector<Application> applications;
  std::vector<Gateway> gateways;
  std::vector<Supplier> suppliers;
  std::vector<ParamChange> paramChanges;
};

// Checks everything ChainState relies on: a non-empty chain id, a positive block time; params
// usable by the window arithmetic (num_blocks_per_session > 0, offsets within range, a
// granularity > 0, a probability in [0, 1], distributions that add up to 1, a mint ratio in
// (0, 1]); valid `pokt` addresses; unique service ids, accounts, applications, gateways and
// supplier operators; positive stakes; known services and gateways; public keys that match
// their account address; param changes at increasing heights > 1 and grid changes on session
// boundaries. Error kErrBadGenesis, message "<key path>: <why>".
util::Status validateGenesis(const Genesis& genesis);

// The fields of `params` the session arithmetic reads (common/protocol/session.h), with the grid
// anchor and the session number at the anchor the chain derived.
protocol::SharedParams protocolSharedParams(const SharedParams& params, std::uint64_t anchorHeight,
                                            std::uint64_t numberAtAnchor);

}  // namespace pocket::devnet
