#pragma once
// Typed chain queries over NodeClient::abciQuery, with the gRPC paths and protobuf bodies of
// docs/protocol.md §9: everything the session manager needs to know about a session at a height.
//
// Heights: every query takes `height`, the state height the query runs at (0 = the latest
// committed state). Queries that ask "at height h" themselves (GetSession's block_height,
// …AtHeight) take that height as an argument of its own.
//
// Errors (util::Error::code): the NodeClient codes (transport, timeout, rpc_error, ...) pass
// through unchanged; ABCI failures of the query become
//   kErrNotFound       sdk/22: no such account, application, service, claim
//   kErrInvalidHeight  sdk/26: the height is in the node's future
//   kErrQueryFailed    any other ABCI code; message "path=P codespace=S code=C log=L"
//   kErrBadValue       the response value does not decode as the expected message, or lacks a
//                      part the caller needs (e.g. an account without a public key for the ring)
// Every failure is counted (pocket_chain_query_errors_total{path,reason}) and logged once
// (event=chain_query_failed); latency is observed per path (pocket_chain_query_seconds{path}).
//
// Ownership: holds references to the NodeClient, the registry and the sink; they outlive it.
// Threading: thread-safe (no mutable state beyond the metric series resolved at construction).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/chain/node_client.h"
#include "common/protocol/abci_query.h"
#include "common/protocol/relay.h"
#include "common/protocol/session.h"
#include "common/protocol/tx.h"
#include "common/util/bytes.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "common/util/result.h"

namespace pocket::chain {

inline constexpr std::string_view kErrNotFound = "not_found";
inline constexpr std::string_view kErrInvalidHeight = "invalid_height";
inline constexpr std::string_view kErrQueryFailed = "query_failed";
inline constexpr std::string_view kErrBadValue = "bad_value";

inline constexpr std::string_view kTokenomicsParamsQueryPath = "/pocket.tokenomics.Query/Params";

// pocket.application.Application, the parts a session manager reads.
struct ApplicationInfo {
  std::string address;
  protocol::Coin stake;
  std::vector<std::string> serviceIds;  // service_configs[].service_id
  std::vector<std::string> delegateeGatewayAddresses;
  std::optional<protocol::Coin> perSessionSpendLimit;  // present on chains that have it
  std::uint64_t unstakeSessionEndHeight = 0;           // 0 = not unstaking
};

// One supplier of a session.
struct SessionSupplier {
  std::string operatorAddress;
  std::string ownerAddress;
  protocol::Coin stake;
};

// pocket.session.Session (GetSession).
struct SessionInfo {
  protocol::SessionHeader header;
  std::int64_t sessionNumber = 0;
  std::int64_t numBlocksPerSession = 0;
  ApplicationInfo application;
  std::vector<SessionSupplier> suppliers;

  bool hasSupplier(std::string_view operatorAddress) const;
};

// pocket.shared.Service.
struct ServiceInfo {
  std::string id;
  std::string name;
  std::uint64_t computeUnitsPerRelay = 0;
  std::string ownerAddress;
};

// pocket.service.RelayMiningDifficulty.
struct RelayMiningDifficulty {
  std::string serviceId;
  std::int64_t blockHeight = 0;
  std::uint64_t numRelaysEma = 0;
  util::Bytes targetHash;  // 32 bytes; a relay hash ≤ target is minable
};

// pocket.session.Params.
struct SessionParams {
  std::uint64_t numSuppliersPerSession = 0;
};

// pocket.proof.Params (amounts are decimal strings, denom upokt).
struct ProofParams {
  double proofRequestProbability = 0;
  protocol::Coin proofRequirementThreshold;
  protocol::Coin proofMissingPenalty;
  protocol::Coin proofSubmissionFee;
};

// pocket.tokenomics.Params.
struct TokenomicsParams {
  double mintAllocationDao = 0;
  double mintAllocationProposer = 0;
  double mintAllocationSupplier = 0;
  double mintAllocationSourceOwner = 0;
  double mintAllocationApplication = 0;
  std::string daoRewardAddress;
  double globalInflationPerClaim = 0;
  double mintRatio = 0;  // 9; 0 when the chain does not send it
  // 10: how far above its guaranteed per-session floor a supplier may be paid from the budget other
  // suppliers left unused (relay meter: cap = multiplier × floor). 0 (unset) means 1.
  std::uint64_t overservicingBonusMultiplier = 0;
};

// The public keys of a session's ring (relay-crypto: the application and the gateways it
// delegates to), each a 33-byte compressed secp256k1 key.
struct RingKeys {
  std::string applicationAddress;
  util::Bytes applicationPublicKey;
  std::vector<std::string> gatewayAddresses;  // same order as gatewayPublicKeys
  std::vector<util::Bytes> gatewayPublicKeys;
};

class ChainQueries {
 public:
  ChainQueries(NodeClient& node, util::MetricsRegistry& metrics, util::LogSink& log);
  ChainQueries(const ChainQueries&) = delete;
  ChainQueries& operator=(const ChainQueries&) = delete;

  // GetSession{application, service, blockHeight}: the session containing blockHeight.
  util::Result<SessionInfo> session(std::string_view applicationAddress, std::string_view serviceId,
                                    std::int64_t blockHeight, std::int64_t height = 0);
  util::Result<ApplicationInfo> application(std::string_view address, std::int64_t height = 0);
  // Account number and sequence; publicKey empty until the account's first transaction.
  util::Result<protocol::AccountInfo> account(std::string_view address, std::int64_t height = 0);
  // The application's and its delegated gateways' public keys at `height`. kErrBadValue when one
  // of those accounts has no public key yet (it never signed: no ring can include it).
  util::Result<RingKeys> ringKeys(std::string_view applicationAddress, std::int64_t height = 0);
  util::Result<ServiceInfo> service(std::string_view serviceId, std::int64_t height = 0);
  util::Result<std::uint64_t> computeUnitsPerRelayAtHeight(std::string_view serviceId,
                                                           std::int64_t blockHeight,
                                                           std::int64_t height = 0);
  util::Result<RelayMiningDifficulty> relayMiningDifficultyAtHeight(std::string_view serviceId,
                                                                    std::int64_t blockHeight,
                                                                    std::int64_t height = 0);
  // The shared params in force at the query height (Params) ...
  util::Result<protocol::SharedParams> sharedParams(std::int64_t height = 0);
  // ... or at a past height of the chain (ParamsAtHeight, answered from the params history).
  util::Result<protocol::SharedParams> sharedParamsAtHeight(std::int64_t atHeight,
                                                            std::int64_t height = 0);
  util::Result<SessionParams> sessionParams(std::int64_t height = 0);
  util::Result<ProofParams> proofParams(std::int64_t height = 0);
  util::Result<TokenomicsParams> tokenomicsParams(std::int64_t height = 0);
  util::Result<protocol::Coin> balance(std::string_view address, std::string_view denom = "upokt",
                                       std::int64_t height = 0);

 private:
  // Runs the query, maps ABCI codes to errors, records latency and failures.
  util::Result<protocol::AbciQueryResponse> run(const protocol::AbciQuery& query,
                                                std::int64_t height);
  util::Error failed(std::string_view path, util::Error error);

  NodeClient& node_;
  util::LogSink& log_;
  util::Family<util::Histogram>& latency_;
  util::Family<util::Counter>& errors_;
};

// Pure decoders of response values (exposed for tests and the fuzz target); errors kErrBadValue.
util::Result<SessionInfo> decodeSessionValue(util::ByteSpan value);
util::Result<ApplicationInfo> decodeApplicationValue(util::ByteSpan value);
util::Result<TokenomicsParams> decodeTokenomicsParamsValue(util::ByteSpan value);

}  // namespace pocket::chain
