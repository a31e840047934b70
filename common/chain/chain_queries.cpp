#include "common/chain/chain_queries.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "common/protocol/proto_wire.h"

namespace pocket::chain {

namespace {

util::Error badValue(std::string message) {
  return util::makeError(std::string(kErrBadValue), std::move(message));
}

// protocol decoders fail with their own codes; a chain client reports them as kErrBadValue.
util::Error asBadValue(std::string_view path, const util::Error& error) {
  return badValue(fmt::format("{}: {}", path, error.message));
}

protocol::Coin coinOf(const cosmos::base::v1beta1::Coin& coin) {
  return protocol::Coin{coin.denom(), coin.amount()};
}

ApplicationInfo applicationOf(const application::Application& app) {
  ApplicationInfo out;
  out.address = app.address();
  if (app.has_stake()) out.stake = coinOf(app.stake());
  for (const auto& config : app.service_configs()) out.serviceIds.push_back(config.service_id());
  out.delegateeGatewayAddresses.assign(app.delegatee_gateway_addresses().begin(),
                                       app.delegatee_gateway_addresses().end());
  if (app.has_per_session_spend_limit()) {
    out.perSessionSpendLimit = coinOf(app.per_session_spend_limit());
  }
  out.unstakeSessionEndHeight = app.unstake_session_end_height();
  return out;
}

protocol::SharedParams sharedParamsOf(const shared::Params& p) {
  protocol::SharedParams out;
  out.numBlocksPerSession = p.num_blocks_per_session();
  out.gracePeriodEndOffsetBlocks = p.grace_period_end_offset_blocks();
  out.claimWindowOpenOffsetBlocks = p.claim_window_open_offset_blocks();
  out.claimWindowCloseOffsetBlocks = p.claim_window_close_offset_blocks();
  out.proofWindowOpenOffsetBlocks = p.proof_window_open_offset_blocks();
  out.proofWindowCloseOffsetBlocks = p.proof_window_close_offset_blocks();
  out.computeUnitsToTokensMultiplier = p.compute_units_to_tokens_multiplier();
  out.computeUnitCostGranularity = p.compute_unit_cost_granularity();
  out.sessionGridAnchorHeight = p.session_grid_anchor_height();
  out.sessionNumberAtAnchor = p.session_number_at_anchor();
  return out;
}

// A proto3 double (wire type fixed64) of a hand-decoded message.
std::optional<util::Error> readDouble(const protocol::wire::Reader& reader,
                                      const protocol::wire::Field& field, double& out) {
  if (field.type != protocol::wire::WireType::fixed64) return reader.wrongWireType(field);
  std::uint64_t bits = field.value;
  static_assert(sizeof(double) == sizeof(bits));
  std::memcpy(&out, &bits, sizeof out);
  return std::nullopt;
}

}  // namespace

bool SessionInfo::hasSupplier(std::string_view operatorAddress) const {
  return std::any_of(suppliers.begin(), suppliers.end(), [&](const SessionSupplier& supplier) {
    return supplier.operatorAddress == operatorAddress;
  });
}

util::Result<SessionInfo> decodeSessionValue(util::ByteSpan value) {
  auto session = protocol::decodeGetSessionResponse(value);
  if (!session) return asBadValue(protocol::kGetSessionQueryPath, session.error());
  if (!session->has_header()) {
    return badValue(fmt::format("{}: the session has no header", protocol::kGetSessionQueryPath));
  }
  SessionInfo out;
  out.header = protocol::fromProtoSessionHeader(session->header());
  out.sessionNumber = session->session_number();
  out.numBlocksPerSession = session->num_blocks_per_session();
  if (session->has_application()) out.application = applicationOf(session->application());
  for (const auto& supplier : session->suppliers()) {
    SessionSupplier s;
    s.operatorAddress = supplier.operator_address();
    s.ownerAddress = supplier.owner_address();
    if (supplier.has_stake()) s.stake = coinOf(supplier.stake());
    out.suppliers.push_back(std::move(s));
  }
  return out;
}

util::Result<ApplicationInfo> decodeApplicationValue(util::ByteSpan value) {
  auto app = protocol::decodeApplicationResponse(value);
  if (!app) return asBadValue(protocol::kApplicationQueryPath, app.error());
  return applicationOf(*app);
}

util::Result<TokenomicsParams> decodeTokenomicsParamsValue(util::ByteSpan value) {
  namespace wire = protocol::wire;
  // QueryParamsResponse{1 params Params{1 mint_allocation_percentages{1 dao, 2 proposer,
  // 3 supplier, 4 source_owner, 5 application}, 6 dao_reward_address, 7
  // global_inflation_per_claim, 9 mint_ratio, 10 overservicing_bonus_multiplier (uint64)}}
  TokenomicsParams out;
  bool haveParams = false;
  auto status = wire::readFields(
      value, "tokenomics.QueryParamsResponse",
      [&](wire::Reader& reader, const wire::Field& field) -> std::optional<util::Error> {
        if (field.number != 1) return std::nullopt;
        if (field.type != wire::WireType::lengthDelimited) return reader.wrongWireType(field);
        haveParams = true;
        auto params = wire::readFields(
            field.bytes, "tokenomics.Params",
            [&](wire::Reader& paramsReader,
                const wire::Field& paramsField) -> std::optional<util::Error> {
              switch (paramsField.number) {
                case 1: {
                  if (paramsField.type != wire::WireType::lengthDelimited) {
                    return paramsReader.wrongWireType(paramsField);
                  }
                  auto mint = wire::readFields(
                      paramsField.bytes, "tokenomics.MintAllocationPercentages",
                      [&](wire::Reader& mintReader,
                          const wire::Field& mintField) -> std::optional<util::Error> {
                        double* target[] = {nullptr,
                                            &out.mintAllocationDao,
                                            &out.mintAllocationProposer,
                                            &out.mintAllocationSupplier,
                                            &out.mintAllocationSourceOwner,
                                            &out.mintAllocationApplication};
                        if (mintField.number < 1 || mintField.number > 5) return std::nullopt;
                        return readDouble(mintReader, mintField, *target[mintField.number]);
                      });
                  if (!mint) return mint.error();
                  return std::nullopt;
                }
                case 6:
                  if (paramsField.type != wire::WireType::lengthDelimited) {
                    return paramsReader.wrongWireType(paramsField);
                  }
                  out.daoRewardAddress.assign(paramsField.bytes.begin(), paramsField.bytes.end());
                  return std::nullopt;
                case 7:
                  return readDouble(paramsReader, paramsField, out.globalInflationPerClaim);
                case 9:
                  return readDouble(paramsReader, paramsField, out.mintRatio);
                case 10:
                  if (paramsField.type != wire::WireType::varint) {
                    return paramsReader.wrongWireType(paramsField);
                  }
                  out.overservicingBonusMultiplier = paramsField.value;
                  return std::nullopt;
                default:
                  return std::nullopt;
              }
            });
        if (!params) return params.error();
        return std::nullopt;
      });
  if (!status) return asBadValue(kTokenomicsParamsQueryPath, status.error());
  if (!haveParams) {
    return badValue(fmt::format("{}: the response has no params", kTokenomicsParamsQueryPath));
  }
  return out;
}

ChainQueries::ChainQueries(NodeClient& node, util::MetricsRegistry& metrics, util::LogSink& log)
    : node_(node),
      log_(log),
      latency_(metrics.histogram("pocket_chain_query_seconds",
                                 "Latency of chain queries (abci_query), by gRPC path, retries "
                                 "included",
                                 {"path"}, util::latencyBucketsSeconds())),
      errors_(metrics.counter("pocket_chain_query_errors_total",
                              "Failed chain queries, by gRPC path and reason",
                              {"path", "reason"})) {
}

util::Error ChainQueries::failed(std::string_view path, util::Error error) {
  errors_.with({std::string(path), error.code}).inc();
  util::LogLine(log_, util::LogLevel::warn, "chain_query_failed")
      .kv("path", path)
      .kv("code", error.code)
      .kv("reason", error.message);
  return error;
}

util::Result<protocol::AbciQueryResponse> ChainQueries::run(const protocol::AbciQuery& query,
                                                            std::int64_t height) {
  const auto started = std::chrono::steady_clock::now();
  auto response = node_.abciQuery(query, height);
  latency_.with({query.path})
      .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!response) return failed(query.path, response.error());
  if (response->code == 0) return response;
  std::string_view code = kErrQueryFailed;
  if (response->codespace == "sdk" && response->code == protocol::kAbciCodeKeyNotFound) {
    code = kErrNotFound;
  } else if (response->codespace == "sdk" && response->code == protocol::kAbciCodeInvalidHeight) {
    code = kErrInvalidHeight;
  }
  return failed(
      query.path,
      util::makeError(std::string(code),
                      fmt::format("path={} height={} codespace={} code={} log={}", query.path,
                                  height, util::quoteLogValue(response->codespace), response->code,
                                  util::quoteLogValue(response->log))));
}

namespace {

// Runs `decode` over a successful response's value; counts a decoding failure as kErrBadValue.
template <class T, class Decode>
util::Result<T> decodeWith(util::Result<protocol::AbciQueryResponse> response,
                           std::string_view path, Decode decode) {
  if (!response) return response.error();
  auto decoded = decode(util::ByteSpan(response->value));
  if (!decoded) {
    if (decoded.error().code == kErrBadValue) return decoded.error();
    return asBadValue(path, decoded.error());
  }
  return T(std::move(*decoded));
}

}  // namespace

// Runs one query and decodes its value (the decoder is the variadic tail: lambdas have commas).
#define POCKET_QUERY(T, query, height, ...)                             \
  do {                                                                  \
    auto q = (query);                                                   \
    auto result = decodeWith<T>(run(q, (height)), q.path, __VA_ARGS__); \
    if (!result && result.error().code == kErrBadValue) {               \
      return failed(q.path, result.error());                            \
    }                                                                   \
    return result;                                                      \
  } while (false)

util::Result<SessionInfo> ChainQueries::session(std::string_view applicationAddress,
                                                std::string_view serviceId,
                                                std::int64_t blockHeight, std::int64_t height) {
  POCKET_QUERY(SessionInfo, protocol::getSessionQuery(applicationAddress, serviceId, blockHeight),
               height, decodeSessionValue);
}

util::Result<ApplicationInfo> ChainQueries::application(std::string_view address,
                                                        std::int64_t height) {
  POCKET_QUERY(ApplicationInfo, protocol::applicationQuery(address), height,
               decodeApplicationValue);
}

util::Result<protocol::AccountInfo> ChainQueries::account(std::string_view address,
                                                          std::int64_t height) {
  POCKET_QUERY(protocol::AccountInfo, protocol::accountQuery(address), height,
               protocol::decodeAccountResponse);
}

util::Result<RingKeys> ChainQueries::ringKeys(std::string_view applicationAddress,
                                              std::int64_t height) {
  auto app = application(applicationAddress, height);
  if (!app) return app.error();
  RingKeys keys;
  keys.applicationAddress = app->address;
  auto publicKeyOf = [&](std::string_view address,
                         std::string_view role) -> util::Result<util::Bytes> {
    auto acc = account(address, height);
    if (!acc) return acc.error();
    if (acc->publicKey.empty()) {
      return failed(protocol::kAccountQueryPath,
                    badValue(fmt::format("{} account {} has no public key yet (it never signed a "
                                         "transaction), so it cannot be in a ring",
                                         role, address)));
    }
    return std::move(acc->publicKey);
  };
  auto appKey = publicKeyOf(app->address, "application");
  if (!appKey) return appKey.error();
  keys.applicationPublicKey = std::move(*appKey);
  for (const auto& gateway : app->delegateeGatewayAddresses) {
    auto key = publicKeyOf(gateway, "gateway");
    if (!key) return key.error();
    keys.gatewayAddresses.push_back(gateway);
    keys.gatewayPublicKeys.push_back(std::move(*key));
  }
  return keys;
}

util::Result<ServiceInfo> ChainQueries::service(std::string_view serviceId, std::int64_t height) {
  POCKET_QUERY(
      ServiceInfo, protocol::serviceQuery(serviceId), height,
      [](util::ByteSpan value) -> util::Result<ServiceInfo> {
        auto s = protocol::decodeServiceResponse(value);
        if (!s) return s.error();
        return ServiceInfo{s->id(), s->name(), s->compute_units_per_relay(), s->owner_address()};
      });
}

util::Result<std::uint64_t> ChainQueries::computeUnitsPerRelayAtHeight(std::string_view serviceId,
                                                                       std::int64_t blockHeight,
                                                                       std::int64_t height) {
  POCKET_QUERY(std::uint64_t, protocol::computeUnitsPerRelayAtHeightQuery(serviceId, blockHeight),
               height, protocol::decodeComputeUnitsPerRelayResponse);
}

util::Result<RelayMiningDifficulty> ChainQueries::relayMiningDifficultyAtHeight(
    std::string_view serviceId, std::int64_t blockHeight, std::int64_t height) {
  POCKET_QUERY(
      RelayMiningDifficulty, protocol::relayMiningDifficultyAtHeightQuery(serviceId, blockHeight),
      height, [](util::ByteSpan value) -> util::Result<RelayMiningDifficulty> {
        auto d = protocol::decodeRelayMiningDifficultyResponse(value);
        if (!d) return d.error();
        return RelayMiningDifficulty{d->service_id(), d->block_height(), d->num_relays_ema(),
                                     util::Bytes(d->target_hash().begin(), d->target_hash().end())};
      });
}

util::Result<protocol::SharedParams> ChainQueries::sharedParams(std::int64_t height) {
  POCKET_QUERY(protocol::SharedParams, protocol::sharedParamsQuery(), height,
               [](util::ByteSpan value) -> util::Result<protocol::SharedParams> {
                 auto p = protocol::decodeSharedParamsResponse(value);
                 if (!p) return p.error();
                 return sharedParamsOf(*p);
               });
}

util::Result<protocol::SharedParams> ChainQueries::sharedParamsAtHeight(std::int64_t atHeight,
                                                                        std::int64_t height) {
  POCKET_QUERY(protocol::SharedParams, protocol::sharedParamsAtHeightQuery(atHeight), height,
               [](util::ByteSpan value) -> util::Result<protocol::SharedParams> {
                 auto p = protocol::decodeSharedParamsResponse(value);
                 if (!p) return p.error();
                 return sharedParamsOf(*p);
               });
}

util::Result<SessionParams> ChainQueries::sessionParams(std::int64_t height) {
  POCKET_QUERY(SessionParams, protocol::sessionParamsQuery(), height,
               [](util::ByteSpan value) -> util::Result<SessionParams> {
                 auto p = protocol::decodeSessionParamsResponse(value);
                 if (!p) return p.error();
                 return SessionParams{p->num_suppliers_per_session()};
               });
}

util::Result<ProofParams> ChainQueries::proofParams(std::int64_t height) {
  POCKET_QUERY(ProofParams, protocol::proofParamsQuery(), height,
               [](util::ByteSpan value) -> util::Result<ProofParams> {
                 auto p = protocol::decodeProofParamsResponse(value);
                 if (!p) return p.error();
                 ProofParams out;
                 out.proofRequestProbability = p->proof_request_probability();
                 out.proofRequirementThreshold = coinOf(p->proof_requirement_threshold());
                 out.proofMissingPenalty = coinOf(p->proof_missing_penalty());
                 out.proofSubmissionFee = coinOf(p->proof_submission_fee());
                 return out;
               });
}

util::Result<TokenomicsParams> ChainQueries::tokenomicsParams(std::int64_t height) {
  POCKET_QUERY(TokenomicsParams,
               (protocol::AbciQuery{std::string(kTokenomicsParamsQueryPath), util::Bytes{}}),
               height, decodeTokenomicsParamsValue);
}

util::Result<protocol::Coin> ChainQueries::balance(std::string_view address, std::string_view denom,
                                                   std::int64_t height) {
  POCKET_QUERY(protocol::Coin, protocol::balanceQuery(address, denom), height,
               protocol::decodeBalanceResponse);
}

}  // namespace pocket::chain
