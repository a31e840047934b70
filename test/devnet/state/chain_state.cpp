#include "test/devnet/state/chain_state.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <google/protobuf/any.pb.h>
#include <nlohmann/json.hpp>

#include "common/crypto/ring.h"
#include "common/protocol/abci_query.h"
#include "common/protocol/claim_amount.h"
#include "common/protocol/proto_bytes.h"
#include "common/protocol/proto_wire.h"
#include "common/protocol/session.h"
#include "common/protocol/session_id.h"
#include "common/smst/gob.h"
#include "common/smst/proof.h"
#include "common/util/hex.h"
#include "cosmos/auth/v1beta1/auth.pb.h"
#include "cosmos/auth/v1beta1/query.pb.h"
#include "cosmos/bank/v1beta1/query.pb.h"
#include "cosmos/crypto/secp256k1/keys.pb.h"
#include "pocket/application/query.pb.h"
#include "pocket/proof/query.pb.h"
#include "pocket/proof/tx.pb.h"
#include "pocket/proof/types.pb.h"
#include "pocket/service/query.pb.h"
#include "pocket/session/query.pb.h"
#include "pocket/shared/query.pb.h"
#include "pocket/supplier/query.pb.h"

namespace pocket::devnet {

namespace {

using protocol::BigInt;

// --- Error texts ----------------------------------------------------------------------------

// cosmossdk.io/errors Wrap: "<context>: <description>"; the bare description without context.
std::string wrapText(const RegisteredError& error, std::string_view context) {
  if (context.empty()) return std::string(error.description);
  return fmt::format("{}: {}", context, error.description);
}

// A keeper error on its way out: the gRPC status code the handler chose and the error text.
struct GrpcError {
  std::string code;  // "InvalidArgument", "FailedPrecondition", "NotFound", "Internal"
  std::string text;
};

GrpcError grpc(std::string_view code, const RegisteredError& error, std::string_view context) {
  return GrpcError{std::string(code), wrapText(error, context)};
}

std::string grpcStatusText(const GrpcError& error) {
  return fmt::format("rpc error: code = {} desc = {}", error.code, error.text);
}

// A module error as a message outcome (stage A keeps the module's codespace and code).
struct ModuleFailure {
  RegisteredError error;
  std::string text;  // full wrapped text
};

ModuleFailure fail(const RegisteredError& error, std::string_view context) {
  return ModuleFailure{error, wrapText(error, context)};
}

// Go's AccAddressFromBech32 error texts for the common cases.
std::optional<std::string> addressError(std::string_view address) {
  if (address.empty()) return std::string("empty address string is not allowed");
  auto valid = crypto::validateAddress(address);
  if (!valid) return valid.error().message;
  return std::nullopt;
}

// x/shared IsValidServiceId.
std::optional<std::string> serviceIdError(std::string_view serviceId) {
  if (serviceId.empty()) return wrapText(kErrSharedInvalidServiceId, "empty service ID");
  if (serviceId.size() > 42) {
    return wrapText(kErrSharedInvalidServiceId,
                    fmt::format("service ID '{}' exceeds maximum length: 42", serviceId));
  }
  if (!protocol::validateServiceId(serviceId)) {
    return wrapText(kErrSharedInvalidServiceId,
                    fmt::format("service ID '{}' contains invalid characters", serviceId));
  }
  return std::nullopt;
}

// x/session SessionHeader.ValidateBasic.
std::optional<std::string> sessionHeaderError(const session::SessionHeader& header) {
  if (auto bad = addressError(header.application_address())) {
    return wrapText(kErrSessionInvalidAppAddress,
                    fmt::format("\"{}\"; ({})", header.application_address(), *bad));
  }
  if (header.session_id().empty()) return wrapText(kErrSessionInvalidSessionId, "\"\"");
  if (auto bad = serviceIdError(header.service_id())) return bad;
  if (header.session_start_block_height() <= 0) {
    return wrapText(kErrSessionInvalidBlockHeight,
                    "sessions can only start at height 1 or greater");
  }
  if (header.session_end_block_height() <= header.session_start_block_height()) {
    return wrapText(kErrSessionInvalidBlockHeight,
                    "session end block height cannot be less than or equal to session start "
                    "block height");
  }
  return std::nullopt;
}

std::optional<std::string> sessionHeaderError(const protocol::SessionHeader& h) {
  return sessionHeaderError(protocol::toProtoSessionHeader(h));
}

std::string coin(std::uint64_t amount) { return fmt::format("{}upokt", amount); }

void setCoin(cosmos::base::v1beta1::Coin* c, std::uint64_t amount) {
  c->set_denom(std::string(kDenom));
  c->set_amount(std::to_string(amount));
}

// Typed events: attribute values are the fields' JSON encodings.
std::string jsonString(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }
std::string jsonU64(std::uint64_t v) { return fmt::format("\"{}\"", v); }
std::string jsonI64(std::int64_t v) { return fmt::format("\"{}\"", v); }
std::string jsonI32(std::int32_t v) { return fmt::format("{}", v); }

// Builds a typed event with its attributes sorted by key (the caller appends msg_index or mode).
Event typedEvent(std::string type, std::vector<EventAttribute> fields) {
  std::sort(fields.begin(), fields.end(),
            [](const EventAttribute& a, const EventAttribute& b) { return a.key < b.key; });
  return Event{std::move(type), std::move(fields)};
}

std::string coinText(const protocol::BigInt& amount) {
  return protocol::toDecimal(amount) + std::string(kDenom);
}

// "/pocket.proof.MsgCreateClaim" -> "proof".
std::string moduleOfTypeUrl(std::string_view typeUrl) {
  std::string_view name = typeUrl;
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  auto first = name.find('.');
  if (first == std::string_view::npos) return std::string(name);
  auto second = name.find('.', first + 1);
  return std::string(name.substr(first + 1, second == std::string_view::npos
                                                ? std::string_view::npos
                                                : second - first - 1));
}

// Go big.Rat String of (2^256 − 1) / hash, reduced: "a/b".
std::string difficultyMultiplier(util::ByteSpan hash) {
  BigInt value = 0;
  for (std::uint8_t b : hash) value = (value << 8) | b;
  BigInt max = (BigInt(1) << 256) - 1;
  if (value == 0) return "0/1";
  BigInt g = boost::multiprecision::gcd(max, value);
  return fmt::format("{}/{}", protocol::toDecimal(max / g), protocol::toDecimal(value / g));
}

std::uint64_t toU64Saturating(const BigInt& v) {
  if (v > BigInt(std::numeric_limits<std::uint64_t>::max())) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return static_cast<std::uint64_t>(v);
}

struct ClaimKey {
  std::string sessionId;
  std::string supplier;
  friend auto operator<=>(const ClaimKey&, const ClaimKey&) = default;
};

// --- Mutable state (copied into a snapshot at every commit) ----------------------------------

struct AccountState {
  std::uint64_t number = 0;
  std::uint64_t sequence = 0;
  std::optional<crypto::PublicKey> publicKey;
  std::uint64_t balance = 0;
};

struct AppState {
  Application config;
  std::uint64_t stake = 0;
};

struct SupplierState {
  Supplier config;
  std::uint64_t stake = 0;
};

struct StoredClaim {
  std::string supplier;
  protocol::SessionHeader header;
  util::Bytes rootHash;
  ProofStatus status = ProofStatus::pendingValidation;
};

struct StoredProof {
  std::string supplier;
  protocol::SessionHeader header;
  util::Bytes closestMerkleProof;
};

struct State {
  std::map<std::string, AccountState, std::less<>> accounts;
  std::uint64_t nextAccountNumber = 0;
  std::map<std::string, AppState, std::less<>> applications;
  std::map<std::string, std::uint64_t, std::less<>> gateways;  // address -> stake
  // Keyed by operator address: also the store iteration order of the supplier service configs
  // (service id / activation height / operator address, all genesis suppliers activating together).
  std::map<std::string, SupplierState, std::less<>> suppliers;
  std::map<ClaimKey, StoredClaim> claims;
  std::map<ClaimKey, StoredProof> proofs;
};

struct Snapshot {
  std::int64_t height = 0;
  std::shared_ptr<const State> state;
};

// One epoch of params: in force from `height` on.
struct ParamsEpoch {
  std::int64_t height = 0;
  SharedParams shared;
  std::uint64_t anchor = 0;
  std::uint64_t numberAtAnchor = 0;
  SessionParams session;
  ProofParams proof;
  TokenomicsParams tokenomics;
  ServiceParams service;
};

struct ServiceEpoch {
  std::int64_t height = 0;
  std::uint64_t computeUnitsPerRelay = 0;
  crypto::Hash32 target{};
};

}  // namespace

// --- Small public helpers ---------------------------------------------------------------------

const std::string* Event::find(std::string_view key) const {
  for (const EventAttribute& attribute : attributes) {
    if (attribute.key == key) return &attribute.value;
  }
  return nullptr;
}

std::string ChainState::moduleAddress(std::string_view moduleName) {
  const crypto::Hash32 digest = crypto::sha256(util::asBytes(moduleName));
  return crypto::encodeAddress(util::ByteSpan(digest.data(), 20));
}

std::string_view proofStatusName(ProofStatus status) {
  switch (status) {
    case ProofStatus::pendingValidation: return "PENDING_VALIDATION";
    case ProofStatus::validated: return "VALIDATED";
    case ProofStatus::invalid: return "INVALID";
  }
  return "UNKNOWN";
}

std::string_view settlementOutcomeName(SettlementOutcome outcome) {
  switch (outcome) {
    case SettlementOutcome::pending: return "pending";
    case SettlementOutcome::settled: return "settled";
    case SettlementOutcome::expiredProofMissing: return "expired_proof_missing";
    case SettlementOutcome::expiredProofInvalid: return "expired_proof_invalid";
  }
  return "unknown";
}

// --- Impl -----------------------------------------------------------------------------------

struct ChainState::Impl {
  Impl(Genesis g, util::LogSink& sink, std::size_t retained)
      : genesis(std::move(g)), log(sink), retainedHeights(std::max<std::size_t>(retained, 1)) {}

  Genesis genesis;
  util::LogSink& log;
  std::size_t retainedHeights;

  std::vector<ParamsEpoch> epochs;  // ascending heights, epochs[0].height == 0
  std::map<std::string, std::vector<ServiceEpoch>, std::less<>> serviceHistory;
  std::map<std::string, Service, std::less<>> services;

  State state;                   // current (delivering) state
  std::deque<Snapshot> snapshots;  // committed states, oldest first
  std::int64_t committedHeight = 0;
  std::int64_t currentHeight = 0;  // block in progress, 0 between blocks
  Time currentTime{};
  util::Bytes currentHash;
  std::map<std::int64_t, util::Bytes> blockHashes;  // stored at EndBlock, as x/session does
  std::map<std::int64_t, Time> blockTimes;

  // Claims this devnet has seen (for inspection), and their creation order.
  std::map<ClaimKey, ClaimRecord> history;
  std::map<ClaimKey, std::uint64_t> historyOrder;
  std::uint64_t nextHistoryOrder = 0;

  // Undo log of the transaction in progress.
  bool inTx = false;
  std::vector<std::function<void()>> undo;

  crypto::RingVerifier ringVerifier;
  ChainStats stats;

  // --- params ---
  const ParamsEpoch& epochAt(std::int64_t height) const {
    const ParamsEpoch* found = &epochs.front();
    for (const ParamsEpoch& e : epochs) {
      if (e.height <= height) found = &e;
    }
    return *found;
  }
  protocol::SharedParams protocolParams(std::int64_t height) const {
    const ParamsEpoch& e = epochAt(height);
    return protocolSharedParams(e.shared, e.anchor, e.numberAtAnchor);
  }
  const ServiceEpoch* serviceAt(std::string_view serviceId, std::int64_t height) const {
    auto it = serviceHistory.find(serviceId);
    if (it == serviceHistory.end()) return nullptr;
    const ServiceEpoch* found = &it->second.front();
    for (const ServiceEpoch& e : it->second) {
      if (e.height <= height) found = &e;
    }
    return found;
  }

  // --- undo-logged mutations ---
  template <class Map, class Key, class Value>
  void put(Map& map, const Key& key, Value value) {
    auto it = map.find(key);
    if (inTx) {
      if (it != map.end()) {
        undo.push_back([&map, key, old = it->second]() { map[key] = old; });
      } else {
        undo.push_back([&map, key]() { map.erase(key); });
      }
    }
    if (it != map.end()) {
      it->second = std::move(value);
    } else {
      map.emplace(key, std::move(value));
    }
  }
  template <class Map, class Key>
  void erase(Map& map, const Key& key) {
    auto it = map.find(key);
    if (it == map.end()) return;
    if (inTx) undo.push_back([&map, key, old = it->second]() { map[key] = old; });
    map.erase(it);
  }
  AccountState& ensureAccount(std::string_view address) {
    auto it = state.accounts.find(address);
    if (it != state.accounts.end()) return it->second;
    AccountState account;
    account.number = state.nextAccountNumber;
    if (inTx) {
      undo.push_back([this, key = std::string(address)]() {
        state.accounts.erase(key);
        --state.nextAccountNumber;
      });
    }
    ++state.nextAccountNumber;
    return state.accounts.emplace(std::string(address), account).first->second;
  }
  void addBalance(std::string_view address, std::uint64_t amount) {
    AccountState account = ensureAccount(address);
    account.balance += amount;
    put(state.accounts, std::string(address), account);
  }
  void subBalance(std::string_view address, std::uint64_t amount) {
    auto it = state.accounts.find(address);
    AccountState account = it->second;
    account.balance -= amount;
    put(state.accounts, std::string(address), account);
  }
  void recordHistory(const ClaimKey& key, ClaimRecord record) {
    if (!historyOrder.contains(key)) {
      put(historyOrder, key, nextHistoryOrder);
      std::uint64_t* counter = &nextHistoryOrder;
      ++*counter;
      if (inTx) undo.push_back([counter]() { --*counter; });
    }
    put(history, key, std::move(record));
  }

  // --- state at a height ---
  std::shared_ptr<const State> snapshotAt(std::int64_t height) const {
    for (const Snapshot& s : snapshots) {
      if (s.height == height) return s.state;
    }
    return nullptr;
  }

  util::Bytes storedBlockHash(std::int64_t height) const {
    auto it = blockHashes.find(height);
    if (it == blockHashes.end()) return {};
    return it->second;
  }

  // --- session hydration (x/session) ---
  // On `s` with last committed (context) height `contextHeight`; blockHeight > 0.
  util::Result<session::Session> hydrate(const State& s, std::int64_t contextHeight,
                                         std::string_view appAddress, std::string_view serviceId,
                                         std::int64_t blockHeight) const;

  // GetSession's request checks and height default, then hydrate. Error code = gRPC code.
  util::Result<session::Session> getSession(const State& s, std::int64_t contextHeight,
                                            std::string_view appAddress,
                                            std::string_view serviceId,
                                            std::int64_t blockHeight) const {
    if (auto bad = addressError(appAddress)) {
      return util::makeError("InvalidArgument", wrapText(kErrSessionInvalidAppAddress, *bad));
    }
    if (auto bad = serviceIdError(serviceId)) return util::makeError("InvalidArgument", *bad);
    if (blockHeight < 0) {
      return util::makeError(
          "InvalidArgument",
          wrapText(kErrSessionInvalidBlockHeight,
                   fmt::format("invalid block height for session being retrieved {};",
                               blockHeight)));
    }
    std::int64_t h = blockHeight > 0 ? blockHeight : contextHeight;
    return hydrate(s, contextHeight, appAddress, serviceId, h);
  }

  // --- messages ---
  std::optional<ModuleFailure> validateClaimBasic(const proof::MsgCreateClaim& msg) const;
  std::optional<ModuleFailure> validateProofBasic(const proof::MsgSubmitProof& msg) const;
  // Stage B; on success appends the typed events (without msg_index) to `events`.
  std::optional<GrpcError> createClaim(const proof::MsgCreateClaim& msg,
                                       std::vector<Event>& events);
  std::optional<GrpcError> submitProof(const proof::MsgSubmitProof& msg,
                                       std::vector<Event>& events);
  // x/proof queryAndValidateSessionHeader on the delivering state.
  util::Result<session::Session> queryAndValidateSessionHeader(
      const protocol::SessionHeader& header, std::string_view supplier) const;

  // Claim amounts: claimed uPOKT at session start.
  struct ClaimFigures {
    std::uint64_t numRelays = 0;
    std::uint64_t numClaimedComputeUnits = 0;
    std::uint64_t numEstimatedComputeUnits = 0;
    std::uint64_t numEstimatedRelays = 0;
    BigInt claimedUpokt = 0;
  };
  util::Result<ClaimFigures> claimFigures(const StoredClaim& claim) const;
  // x/proof ProofRequirementForClaim with the current proof params.
  util::Result<protocol::ProofRequirement> proofRequirementFor(const StoredClaim& claim,
                                                               std::int64_t paramsHeight) const;
  // End-of-block proof check (EnsureValidProofSignaturesAndClosestPath); the failure text.
  std::optional<std::string> validateProofSignaturesAndPath(const StoredClaim& claim,
                                                            const StoredProof& proof);

  std::vector<Event> validateSubmittedProofs();
  std::vector<Event> settlePendingClaims();

  void rejectLog(std::string_view what, std::string_view signer, std::size_t index,
                 std::string_view codespace, std::uint32_t code, std::string_view reason) {
    stats.messagesRejected[fmt::format("{}/{}", codespace, code)]++;
    util::LogLine(log, util::LogLevel::info, "devnet_message_rejected")
        .kv("height", currentHeight)
        .kv("type", what)
        .kv("signer", signer)
        .kv("msg_index", index)
        .kv("codespace", codespace)
        .kv("code", code)
        .kv("reason", reason);
  }
};

// --- hydration --------------------------------------------------------------------------------

util::Result<session::Session> ChainState::Impl::hydrate(const State& s,
                                                          std::int64_t contextHeight,
                                                          std::string_view appAddress,
                                                          std::string_view serviceId,
                                                          std::int64_t h) const {
  auto internal = [](std::string text) { return util::makeError("Internal", std::move(text)); };
  if (h > contextHeight) {
    return internal(wrapText(
        kErrSessionHydration,
        fmt::format("block height {} is ahead of the last committed block height {}", h,
                    contextHeight)));
  }
  const ParamsEpoch& epoch = epochAt(h);
  const protocol::SharedParams params = protocolSharedParams(epoch.shared, epoch.anchor,
                                                             epoch.numberAtAnchor);
  auto bounds = protocol::sessionBounds(params, h);
  if (!bounds) return internal(wrapText(kErrSessionHydration, bounds.error().message));

  if (auto bad = serviceIdError(serviceId)) return internal(wrapText(kErrSessionHydration, *bad));
  const util::Bytes hashAtStart = storedBlockHash(bounds->start);
  auto id = protocol::sessionId(hashAtStart, serviceId, appAddress, bounds->start);
  if (!id) return internal(wrapText(kErrSessionHydration, id.error().message));

  auto app = s.applications.find(appAddress);
  if (app == s.applications.end()) {
    return internal(wrapText(kErrSessionAppNotFound,
                             fmt::format("could not find app with address \"{}\" at height {}",
                                         appAddress, bounds->start)));
  }
  const auto& appServices = app->second.config.serviceIds;
  if (std::find(appServices.begin(), appServices.end(), serviceId) == appServices.end()) {
    return internal(wrapText(kErrSessionAppNotStakedForService,
                             fmt::format("application \"{}\" not staked for service ID \"{}\"",
                                         appAddress, serviceId)));
  }

  std::vector<const SupplierState*> candidates;
  std::vector<const SupplierService*> candidateServices;
  std::vector<std::string> operators;
  for (const auto& [address, supplier] : s.suppliers) {
    for (const SupplierService& service : supplier.config.services) {
      if (service.serviceId == serviceId) {
        candidates.push_back(&supplier);
        candidateServices.push_back(&service);
        operators.push_back(address);
      }
    }
  }
  const std::uint64_t seats = epoch.session.numSuppliersPerSession;
  auto selected = protocol::selectSessionSuppliers(id->preimage, operators, seats);
  if (!selected) {
    return internal(wrapText(kErrSessionSuppliersNotFound,
                             fmt::format("could not find suppliers for service {} at height {}",
                                         serviceId, bounds->start)));
  }

  session::Session result;
  session::SessionHeader* header = result.mutable_header();
  header->set_application_address(std::string(appAddress));
  header->set_service_id(std::string(serviceId));
  header->set_session_id(id->id);
  header->set_session_start_block_height(bounds->start);
  header->set_session_end_block_height(bounds->end);
  result.set_session_id(id->id);
  result.set_session_number(bounds->number);
  result.set_num_blocks_per_session(static_cast<std::int64_t>(epoch.shared.numBlocksPerSession));

  application::Application* a = result.mutable_application();
  a->set_address(std::string(appAddress));
  setCoin(a->mutable_stake(), app->second.stake);
  for (const std::string& sid : appServices) a->add_service_configs()->set_service_id(sid);
  for (const std::string& gw : app->second.config.delegateeGatewayAddresses) {
    a->add_delegatee_gateway_addresses(gw);
  }
  if (app->second.config.perSessionSpendLimitUpokt > 0) {
    setCoin(a->mutable_per_session_spend_limit(), app->second.config.perSessionSpendLimitUpokt);
  }

  for (std::size_t index : *selected) {
    const SupplierState& supplier = *candidates[index];
    const SupplierService& service = *candidateServices[index];
    shared::Supplier* out = result.add_suppliers();
    out->set_owner_address(supplier.config.ownerAddress);
    out->set_operator_address(supplier.config.operatorAddress);
    setCoin(out->mutable_stake(), supplier.stake);
    shared::SupplierServiceConfig* config = out->add_services();
    config->set_service_id(service.serviceId);
    for (const SupplierEndpoint& endpoint : service.endpoints) {
      shared::SupplierEndpoint* e = config->add_endpoints();
      e->set_url(endpoint.url);
      e->set_rpc_type(static_cast<shared::RPCType>(endpoint.rpcType));
    }
    shared::ServiceRevenueShare* share = config->add_rev_share();
    share->set_address(supplier.config.ownerAddress);
    share->set_rev_share_percentage(100);
  }
  return result;
}

// --- stage A ----------------------------------------------------------------------------------

std::optional<ModuleFailure> ChainState::Impl::validateClaimBasic(
    const proof::MsgCreateClaim& msg) const {
  if (addressError(msg.supplier_operator_address())) {
    return fail(kErrProofInvalidAddress, msg.supplier_operator_address());
  }
  if (!msg.has_session_header()) {
    return fail(kErrProofInvalidSessionHeader, "session header is nil");
  }
  if (auto bad = sessionHeaderError(msg.session_header())) {
    return fail(kErrProofInvalidSessionHeader, fmt::format("invalid session header: {}", *bad));
  }
  const std::string& root = msg.root_hash();
  if (root.size() != protocol::kClaimRootHashSize) {
    return fail(kErrProofInvalidClaimRootHash,
                fmt::format("expecting root hash to be {} bytes, got {} bytes",
                            protocol::kClaimRootHashSize, root.size()));
  }
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(root.data());
  if (smst::readBE64(bytes + 40) == 0) {
    return fail(kErrProofInvalidClaimRootHash,
                fmt::format("has zero count in Merkle root (hex) {}",
                            util::toHex(util::asBytes(root))));
  }
  if (smst::readBE64(bytes + 32) == 0) {
    return fail(kErrProofInvalidClaimRootHash,
                fmt::format("has zero sum in Merkle root (hex) {}",
                            util::toHex(util::asBytes(root))));
  }
  return std::nullopt;
}

std::optional<ModuleFailure> ChainState::Impl::validateProofBasic(
    const proof::MsgSubmitProof& msg) const {
  if (auto bad = addressError(msg.supplier_operator_address())) {
    return fail(kSdkErrInvalidAddress,
                fmt::format("supplier operator address \"{}\", error: {}",
                            msg.supplier_operator_address(), *bad));
  }
  if (!msg.has_session_header()) {
    return fail(kErrProofInvalidSessionHeader, "session header is nil");
  }
  if (auto bad = sessionHeaderError(msg.session_header())) {
    return fail(kErrProofInvalidSessionHeader, *bad);
  }
  if (msg.proof().empty()) return fail(kErrProofInvalidProof, "proof cannot be empty");
  return std::nullopt;
}

// --- stage B: shared checks -------------------------------------------------------------------

util::Result<session::Session> ChainState::Impl::queryAndValidateSessionHeader(
    const protocol::SessionHeader& header, std::string_view supplier) const {
  auto session = getSession(state, currentHeight, header.applicationAddress, header.serviceId,
                            header.sessionStartBlockHeight);
  if (!session) return util::makeError("session", session.error().message);
  if (header.sessionId != session->session_id()) {
    return util::makeError(
        "session",
        wrapText(kErrProofInvalidSessionId,
                 fmt::format("session ID does not match onchain session ID; expected \"{}\", got "
                             "\"{}\"",
                             session->session_id(), header.sessionId)));
  }
  bool found = false;
  for (const shared::Supplier& s : session->suppliers()) {
    if (s.operator_address() == supplier) found = true;
  }
  if (!found) {
    return util::makeError(
        "session", wrapText(kErrProofNotFound,
                            fmt::format("supplier operator address \"{}\" not found in session ID "
                                        "\"{}\"",
                                        supplier, header.sessionId)));
  }
  return session;
}

util::Result<ChainState::Impl::ClaimFigures> ChainState::Impl::claimFigures(
    const StoredClaim& claim) const {
  ClaimFigures f;
  const auto* root = claim.rootHash.data();
  f.numClaimedComputeUnits = smst::readBE64(root + 32);
  f.numRelays = smst::readBE64(root + 40);
  const std::int64_t start = claim.header.sessionStartBlockHeight;
  const ServiceEpoch* service = serviceAt(claim.header.serviceId, start);
  if (service == nullptr) {
    return util::makeError("no_difficulty",
                           fmt::format("relay mining difficulty not found for service {} at "
                                       "session start height {}",
                                       claim.header.serviceId, start));
  }
  auto estimated = protocol::estimatedComputeUnitsU64(f.numClaimedComputeUnits, service->target);
  if (!estimated) return estimated.error();
  f.numEstimatedComputeUnits = *estimated;
  auto relays = protocol::estimatedRelays({f.numClaimedComputeUnits, f.numRelays}, service->target);
  if (!relays) return relays.error();
  f.numEstimatedRelays = *relays;
  auto upokt = protocol::claimedUpokt(f.numClaimedComputeUnits, service->target,
                                      protocolParams(start));
  if (!upokt) return upokt.error();
  f.claimedUpokt = *upokt;
  return f;
}

util::Result<protocol::ProofRequirement> ChainState::Impl::proofRequirementFor(
    const StoredClaim& claim, std::int64_t paramsHeight) const {
  auto figures = claimFigures(claim);
  if (!figures) return figures.error();
  const ProofParams& pp = epochAt(paramsHeight).proof;
  protocol::ProofParams params;
  params.proofRequestProbability = pp.proofRequestProbability;
  params.proofRequirementThresholdUpokt = pp.proofRequirementThresholdUpokt;
  // The chain hashes the stored claim, proof_validation_status included.
  proof::Claim stored;
  stored.set_supplier_operator_address(claim.supplier);
  *stored.mutable_session_header() = protocol::toProtoSessionHeader(claim.header);
  stored.set_root_hash(std::string(claim.rootHash.begin(), claim.rootHash.end()));
  stored.set_proof_validation_status(static_cast<proof::ClaimProofStatus>(claim.status));
  const util::Bytes claimBytes = protocol::serialize(stored);
  auto windows = protocol::sessionWindows(protocolParams(claim.header.sessionEndBlockHeight),
                                          claim.header.sessionEndBlockHeight);
  if (!windows) return windows.error();
  util::Bytes seed = storedBlockHash(windows->proofSeedHeight());
  if (seed.empty()) {
    return util::makeError("no_seed_block",
                           fmt::format("the proof seed block {} is not committed yet",
                                       windows->proofSeedHeight()));
  }
  return protocol::proofRequirement(figures->claimedUpokt, params, claimBytes, seed);
}

// --- MsgCreateClaim ----------------------------------------------------------------------------

std::optional<GrpcError> ChainState::Impl::createClaim(const proof::MsgCreateClaim& msg,
                                                       std::vector<Event>& events) {
  if (auto bad = validateClaimBasic(msg)) return GrpcError{"InvalidArgument", bad->text};
  const protocol::SessionHeader header = protocol::fromProtoSessionHeader(msg.session_header());
  const std::string& supplier = msg.supplier_operator_address();

  auto session = queryAndValidateSessionHeader(header, supplier);
  if (!session) return GrpcError{"InvalidArgument", session.error().message};

  // The window from the params at the message's session end.
  const std::int64_t end = header.sessionEndBlockHeight;
  auto windows = protocol::sessionWindows(protocolParams(end), end);
  if (!windows) {
    return grpc("FailedPrecondition", kErrProofClaimOutsideOfWindow, windows.error().message);
  }
  if (currentHeight < windows->claimWindowOpen) {
    return grpc("FailedPrecondition", kErrProofClaimOutsideOfWindow,
                fmt::format("current block height ({}) is less than the session's earliest claim "
                            "commit height ({})",
                            currentHeight, windows->claimWindowOpen));
  }
  if (currentHeight > windows->claimWindowClose) {
    return grpc("FailedPrecondition", kErrProofClaimOutsideOfWindow,
                fmt::format("current block height ({}) is greater than session claim window "
                            "close height ({})",
                            currentHeight, windows->claimWindowClose));
  }

  StoredClaim claim;
  claim.supplier = supplier;
  claim.header = header;
  claim.rootHash.assign(msg.root_hash().begin(), msg.root_hash().end());
  const std::uint64_t sum = smst::readBE64(claim.rootHash.data() + 32);
  const std::uint64_t count = smst::readBE64(claim.rootHash.data() + 40);

  const std::int64_t start = header.sessionStartBlockHeight;
  const ServiceEpoch* service = serviceAt(header.serviceId, start);
  if (service == nullptr) {
    return grpc("NotFound", kErrProofServiceNotFound,
                fmt::format("service with ID \"{}\" not found", header.serviceId));
  }
  const std::uint64_t expected = count * service->computeUnitsPerRelay;
  if (sum != expected) {
    return grpc("InvalidArgument", kErrProofComputeUnitsMismatch,
                fmt::format("claim compute units: {} is not equal to number of relays {} * "
                            "compute units per relay {} for service {}",
                            sum, count, service->computeUnitsPerRelay, header.serviceId));
  }

  const ClaimKey key{header.sessionId, supplier};
  const bool existed = state.claims.contains(key);
  put(state.claims, key, claim);

  auto figures = claimFigures(claim);
  if (!figures) {
    return grpc("Internal", kErrProofInvalidClaimRootHash,
                fmt::format("failed to calculate claimed uPOKT: {}", figures.error().message));
  }

  ClaimRecord record;
  if (auto it = history.find(key); it != history.end()) record = it->second;
  record.supplierOperatorAddress = supplier;
  record.sessionHeader = header;
  record.rootHash = claim.rootHash;
  record.numRelays = count;
  record.numClaimedComputeUnits = sum;
  record.claimedUpokt = protocol::toDecimal(figures->claimedUpokt);
  if (!existed || record.createdAtHeight == 0) record.createdAtHeight = currentHeight;
  record.updatedAtHeight = currentHeight;
  record.proofWindowCloseHeight = windows->proofWindowClose;
  record.proofStatus = ProofStatus::pendingValidation;
  record.settlement = SettlementOutcome::pending;
  recordHistory(key, std::move(record));

  std::vector<EventAttribute> fields = {
      {"num_relays", jsonU64(count)},
      {"num_claimed_compute_units", jsonU64(sum)},
      // poktroll reports count × compute units per relay here (not the difficulty-scaled value).
      {"num_estimated_compute_units", jsonU64(expected)},
      {"num_estimated_relays", jsonU64(figures->numEstimatedRelays)},
      {"claimed_upokt", jsonString(coinText(figures->claimedUpokt))},
      {"service_id", jsonString(header.serviceId)},
      {"application_address", jsonString(header.applicationAddress)},
      {"session_end_block_height", jsonI64(end)},
      {"claim_proof_status_int", jsonI32(0)},
      {"supplier_operator_address", jsonString(supplier)},
  };
  events.push_back(typedEvent(existed ? "pocket.proof.EventClaimUpdated"
                                      : "pocket.proof.EventClaimCreated",
                              std::move(fields)));
  util::LogLine(log, util::LogLevel::info, existed ? "devnet_claim_updated" : "devnet_claim_created")
      .kv("height", currentHeight)
      .kv("session_id", header.sessionId)
      .kv("supplier", supplier)
      .kv("relays", count)
      .kv("compute_units", sum)
      .kv("claimed_upokt", protocol::toDecimal(figures->claimedUpokt));
  return std::nullopt;
}

// --- MsgSubmitProof ----------------------------------------------------------------------------

namespace {

// x/proof compareSessionHeaders.
std::optional<std::string> compareSessionHeaders(const protocol::SessionHeader& expected,
                                                 const protocol::SessionHeader& got) {
  auto bad = [](std::string context) { return wrapText(kErrProofInvalidRelay, context); };
  if (got.applicationAddress != expected.applicationAddress) {
    return bad(fmt::format("session headers application addresses mismatch; expect: \"{}\", got: "
                           "\"{}\"",
                           expected.applicationAddress, got.applicationAddress));
  }
  if (got.serviceId != expected.serviceId) {
    return bad(fmt::format("session headers service IDs mismatch; expected: \"{}\", got: \"{}\"",
                           expected.serviceId, got.serviceId));
  }
  if (got.sessionStartBlockHeight != expected.sessionStartBlockHeight) {
    return bad(fmt::format("session headers session start heights mismatch; expected: {}, got: {}",
                           expected.sessionStartBlockHeight, got.sessionStartBlockHeight));
  }
  if (got.sessionEndBlockHeight != expected.sessionEndBlockHeight) {
    return bad(fmt::format("session headers session end heights mismatch; expected: {}, got: {}",
                           expected.sessionEndBlockHeight, got.sessionEndBlockHeight));
  }
  if (got.sessionId != expected.sessionId) {
    return bad(fmt::format("session headers session IDs mismatch; expected: \"{}\", got: \"{}\"",
                           expected.sessionId, got.sessionId));
  }
  return std::nullopt;
}

// The relay a closest proof carries, with the decoded proof (x/proof EnsureWellFormedProof
// steps 6–7). `decompactWording` reproduces the two spellings poktroll uses.
struct ProvenRelay {
  smst::SparseMerkleClosestProof closest;
  util::Bytes relayBytes;
  protocol::Relay relay;
};

std::variant<ProvenRelay, std::string> decodeProvenRelay(const util::Bytes& gob,
                                                         std::string_view decompactWording) {
  auto compact = smst::decodeSparseCompactMerkleClosestProof(gob);
  if (!compact) {
    return wrapText(kErrProofInvalidProof,
                    fmt::format("failed to unmarshal sparse compact merkle closest proof: {}",
                                compact.error().message));
  }
  auto closest = smst::decompactClosestProof(*compact);
  if (!closest) {
    return wrapText(kErrProofInvalidProof, fmt::format("failed to decompact sparse {} closest "
                                                       "proof: {}",
                                                       decompactWording, closest.error().message));
  }
  ProvenRelay proven;
  proven.closest = std::move(*closest);
  util::ByteSpan value = proven.closest.valueHash();
  proven.relayBytes.assign(value.begin(), value.end());
  auto relay = protocol::parseRelay(proven.relayBytes);
  if (!relay) {
    return wrapText(kErrProofInvalidRelay,
                    fmt::format("failed to unmarshal relay: {}", relay.error().message));
  }
  proven.relay = std::move(*relay);
  return proven;
}

}  // namespace

std::optional<GrpcError> ChainState::Impl::submitProof(const proof::MsgSubmitProof& msg,
                                                       std::vector<Event>& events) {
  if (auto bad = validateProofBasic(msg)) return GrpcError{"InvalidArgument", bad->text};
  const protocol::SessionHeader header = protocol::fromProtoSessionHeader(msg.session_header());
  const std::string& supplier = msg.supplier_operator_address();
  auto precondition = [](std::string text) {
    return GrpcError{"FailedPrecondition", std::move(text)};
  };

  // EnsureWellFormedProof.
  auto session = queryAndValidateSessionHeader(header, supplier);
  if (!session) return precondition(session.error().message);
  const protocol::SessionHeader onchain = protocol::fromProtoSessionHeader(session->header());

  const std::int64_t end = onchain.sessionEndBlockHeight;
  auto windows = protocol::sessionWindows(protocolParams(end), end);
  if (!windows) return precondition(wrapText(kErrProofProofOutsideOfWindow,
                                             windows.error().message));
  if (currentHeight < windows->proofWindowOpen) {
    return precondition(wrapText(
        kErrProofProofOutsideOfWindow,
        fmt::format("current block height ({}) is less than session's earliest proof commit "
                    "height ({})",
                    currentHeight, windows->proofWindowOpen)));
  }
  if (currentHeight > windows->proofWindowClose) {
    return precondition(wrapText(
        kErrProofProofOutsideOfWindow,
        fmt::format("current block height ({}) is greater than session proof window close "
                    "height ({})",
                    currentHeight, windows->proofWindowClose)));
  }

  const util::Bytes proofBytes(msg.proof().begin(), msg.proof().end());
  auto decoded = decodeProvenRelay(proofBytes, "erkle");
  if (auto* text = std::get_if<std::string>(&decoded)) return precondition(*text);
  const ProvenRelay& proven = std::get<ProvenRelay>(decoded);
  const protocol::Relay& relay = proven.relay;

  // RelayRequest.ValidateBasic.
  const protocol::RelayRequest request = relay.req.value_or(protocol::RelayRequest{});
  if (!request.meta.sessionHeader) {
    return precondition(wrapText(kErrServiceInvalidRelayRequest, "missing session header"));
  }
  if (auto bad = sessionHeaderError(*request.meta.sessionHeader)) {
    return precondition(
        wrapText(kErrServiceInvalidRelayRequest, fmt::format("invalid session header: {}", *bad)));
  }
  if (request.meta.signature.empty()) {
    return precondition(wrapText(kErrServiceInvalidRelayRequest, "missing application signature"));
  }
  if (request.meta.supplierOperatorAddress.empty()) {
    return precondition(wrapText(kErrServiceInvalidRelayRequest,
                                 "relay metadata missing supplier operator address"));
  }
  if (request.meta.supplierOperatorAddress != supplier) {
    return precondition(wrapText(kErrProofSupplierMismatch, "supplier type mismatch"));
  }
  // RelayResponse.ValidateBasic.
  const protocol::RelayResponse response = relay.res.value_or(protocol::RelayResponse{});
  if (!response.meta.sessionHeader) {
    return precondition(wrapText(kErrServiceInvalidRelayResponse, "missing meta"));
  }
  if (auto bad = sessionHeaderError(*response.meta.sessionHeader)) {
    return precondition(wrapText(kErrServiceInvalidRelayResponse,
                                 fmt::format("invalid session header: {}", *bad)));
  }
  if (response.meta.supplierOperatorSignature.empty()) {
    return precondition(
        wrapText(kErrServiceInvalidRelayResponse, "missing supplier operator signature"));
  }
  if (auto bad = compareSessionHeaders(onchain, *request.meta.sessionHeader)) {
    return precondition(*bad);
  }
  if (auto bad = compareSessionHeaders(onchain, *response.meta.sessionHeader)) {
    return precondition(*bad);
  }

  // Relay difficulty at session start.
  const std::int64_t start = onchain.sessionStartBlockHeight;
  const ServiceEpoch* service = serviceAt(onchain.serviceId, start);
  if (service == nullptr) {
    return precondition(wrapText(
        kErrProofServiceNotFound,
        fmt::format("relay mining difficulty not found for service {} at session start height {}",
                    onchain.serviceId, start)));
  }
  const crypto::Hash32 relayHash = protocol::relayHash(proven.relayBytes);
  if (!protocol::meetsDifficulty(relayHash, service->target)) {
    const std::string cause = wrapText(
        kErrProofInvalidRelay,
        fmt::format("the difficulty relay being proven is ({}), and is smaller than the target "
                    "difficulty ({})",
                    difficultyMultiplier(relayHash), difficultyMultiplier(service->target)));
    return precondition(wrapText(kErrProofInvalidRelayDifficulty,
                                 fmt::format("failed to validate relay difficulty for service {} "
                                             "due to: {}",
                                             onchain.serviceId, cause)));
  }

  // validateSessionClaim.
  auto claimIt = state.claims.find(ClaimKey{onchain.sessionId, supplier});
  if (claimIt == state.claims.end()) {
    return precondition(wrapText(kErrProofClaimNotFound,
                                 fmt::format("no claim found for session ID \"{}\" and supplier "
                                             "\"{}\"",
                                             onchain.sessionId, supplier)));
  }
  const protocol::SessionHeader& claimed = claimIt->second.header;
  if (claimed.sessionStartBlockHeight != onchain.sessionStartBlockHeight) {
    return precondition(wrapText(
        kErrProofInvalidSessionStartHeight,
        fmt::format("claim session start height {} does not match proof session start height {}",
                    claimed.sessionStartBlockHeight, onchain.sessionStartBlockHeight)));
  }
  if (claimed.sessionEndBlockHeight != onchain.sessionEndBlockHeight) {
    return precondition(wrapText(
        kErrProofInvalidSessionEndHeight,
        fmt::format("claim session end height {} does not match proof session end height {}",
                    claimed.sessionEndBlockHeight, onchain.sessionEndBlockHeight)));
  }
  if (claimed.applicationAddress != onchain.applicationAddress) {
    return precondition(wrapText(
        kErrProofInvalidAddress,
        fmt::format("claim application address \"{}\" does not match proof application address "
                    "\"{}\"",
                    claimed.applicationAddress, onchain.applicationAddress)));
  }
  if (claimed.serviceId != onchain.serviceId) {
    return precondition(wrapText(
        kErrProofInvalidService,
        fmt::format("claim service ID \"{}\" does not match proof service ID \"{}\"",
                    claimed.serviceId, onchain.serviceId)));
  }

  // SubmitProof: the claim of the message's session id.
  auto claimOfMsg = state.claims.find(ClaimKey{header.sessionId, supplier});
  if (claimOfMsg == state.claims.end()) {
    return precondition(std::string(kErrProofClaimNotFound.description));
  }
  const StoredClaim claim = claimOfMsg->second;

  // deductProofSubmissionFee (current proof params; strictly more than the fee).
  const std::uint64_t fee = epochAt(currentHeight).proof.proofSubmissionFeeUpokt;
  const std::uint64_t balance = [&] {
    auto it = state.accounts.find(supplier);
    return it == state.accounts.end() ? 0 : it->second.balance;
  }();
  if (balance == 0) {
    return precondition(wrapText(kErrProofNotEnoughFunds, "account has no spendable coins"));
  }
  if (balance <= fee) {
    return precondition(wrapText(kErrProofNotEnoughFunds,
                                 fmt::format("account has {}, but the proof submission fee is {}",
                                             balance, coin(fee))));
  }
  if (fee > 0) {
    subBalance(supplier, fee);
    addBalance(moduleAddress("proof"), fee);
  }

  auto requirement = proofRequirementFor(claim, currentHeight);
  if (!requirement) return GrpcError{"Internal", requirement.error().message};
  if (!requirement->required()) {
    return precondition(std::string(kErrProofNotRequired.description));
  }

  auto figures = claimFigures(claim);
  if (!figures) {
    return grpc("Internal", kErrProofInvalidClaimRootHash,
                fmt::format("failed to calculate claimed uPOKT: {}", figures.error().message));
  }
  const ClaimKey key{header.sessionId, supplier};
  const bool existed = state.proofs.contains(key);
  put(state.proofs, key, StoredProof{supplier, header, proofBytes});
  if (auto it = history.find(key); it != history.end()) {
    ClaimRecord record = it->second;
    record.proofSubmitted = true;
    recordHistory(key, std::move(record));
  }

  std::vector<EventAttribute> fields = {
      {"num_relays", jsonU64(figures->numRelays)},
      {"num_claimed_compute_units", jsonU64(figures->numClaimedComputeUnits)},
      {"num_estimated_compute_units", jsonU64(figures->numEstimatedComputeUnits)},
      {"num_estimated_relays", jsonU64(figures->numEstimatedRelays)},
      {"claimed_upokt", jsonString(coinText(figures->claimedUpokt))},
      {"service_id", jsonString(claim.header.serviceId)},
      {"application_address", jsonString(claim.header.applicationAddress)},
      {"session_end_block_height", jsonI64(claim.header.sessionEndBlockHeight)},
      {"claim_proof_status_int", jsonI32(0)},
      {"supplier_operator_address", jsonString(supplier)},
  };
  events.push_back(typedEvent(existed ? "pocket.proof.EventProofUpdated"
                                      : "pocket.proof.EventProofSubmitted",
                              std::move(fields)));
  util::LogLine(log, util::LogLevel::info, "devnet_proof_submitted")
      .kv("height", currentHeight)
      .kv("session_id", header.sessionId)
      .kv("supplier", supplier)
      .kv("requirement", protocol::reasonName(requirement->reason));
  return std::nullopt;
}

// --- end of block: proof validation -----------------------------------------------------------

std::optional<std::string> ChainState::Impl::validateProofSignaturesAndPath(
    const StoredClaim& claim, const StoredProof& proof) {
  const std::string& supplier = proof.supplier;
  auto account = state.accounts.find(supplier);
  if (account == state.accounts.end()) {
    return wrapText(kErrProofAccNotFound,
                    fmt::format("account not found for address {}", supplier));
  }
  if (!account->second.publicKey) return std::string(kErrProofPubKeyNotFound.description);
  const crypto::PublicKey supplierKey = *account->second.publicKey;

  auto decoded = decodeProvenRelay(proof.closestMerkleProof, "merkle");
  if (auto* text = std::get_if<std::string>(&decoded)) return *text;
  const ProvenRelay& proven = std::get<ProvenRelay>(decoded);
  const protocol::RelayRequest request = proven.relay.req.value_or(protocol::RelayRequest{});
  const protocol::RelayResponse response = proven.relay.res.value_or(protocol::RelayResponse{});

  // The ring client's VerifyRelayRequestSignature.
  if (!request.meta.sessionHeader) {
    return wrapText(kErrRingsInvalidRelayRequest,
                    "invalid session header: session header is nil");
  }
  if (auto bad = sessionHeaderError(*request.meta.sessionHeader)) {
    return wrapText(kErrRingsInvalidRelayRequest, fmt::format("invalid session header: {}", *bad));
  }
  if (request.meta.signature.empty()) {
    return wrapText(kErrRingsInvalidRelayRequest, "missing signature from relay request");
  }
  auto signature = ringVerifier.decode(request.meta.signature);
  if (!signature) {
    return wrapText(kErrRingsInvalidRelayRequestSignature,
                    fmt::format("error deserializing ring signature: {}",
                                signature.error().message));
  }
  const std::string& appAddress = request.meta.sessionHeader->applicationAddress;
  std::vector<crypto::PublicKey> expected;
  std::string ringError;
  auto app = state.applications.find(appAddress);
  if (app == state.applications.end()) {
    ringError = fmt::format("application not found: {}", appAddress);
  } else {
    auto keyOf = [&](const std::string& address) -> std::optional<crypto::PublicKey> {
      auto it = state.accounts.find(address);
      if (it == state.accounts.end()) return std::nullopt;
      return it->second.publicKey;
    };
    auto appKey = keyOf(appAddress);
    std::vector<crypto::PublicKey> gatewayKeys;
    bool missing = !appKey;
    for (const std::string& gateway : app->second.config.delegateeGatewayAddresses) {
      auto key = keyOf(gateway);
      if (!key) {
        missing = true;
      } else {
        gatewayKeys.push_back(*key);
      }
    }
    if (missing) {
      ringError = std::string(kErrProofPubKeyNotFound.description);
    } else {
      expected = crypto::expectedRingKeys(*appKey, gatewayKeys);
    }
  }
  if (!ringError.empty()) {
    return wrapText(kErrRingsInvalidRelayRequest,
                    fmt::format("error getting ring for application address {}: {}", appAddress,
                                ringError));
  }
  if (!crypto::checkRingMembership(*signature, expected)) {
    return wrapText(kErrRingsInvalidRelayRequestSignature,
                    fmt::format("ring signature in the relay request does not match the "
                                "expected one for the app {}",
                                appAddress));
  }
  if (!ringVerifier.verify(*signature, protocol::requestSignableHash(request))) {
    return wrapText(kErrRingsInvalidRelayRequestSignature,
                    "invalid relay request signature or bytes");
  }

  // The supplier's response signature.
  if (!protocol::verifyResponseSignature(response, supplierKey)) {
    return wrapText(kErrServiceInvalidRelayResponse, "invalid signature");
  }

  // The path seeded by the block hash at proof window open − 1.
  const std::int64_t end = proof.header.sessionEndBlockHeight;
  auto windows = protocol::sessionWindows(protocolParams(end), end);
  if (!windows) return wrapText(kErrProofInvalidProof, windows.error().message);
  const util::Bytes seed = storedBlockHash(windows->proofSeedHeight());
  const crypto::Hash32 expectedPath = protocol::proofPath(seed, proof.header.sessionId);
  if (!std::equal(proven.closest.path.begin(), proven.closest.path.end(), expectedPath.begin(),
                  expectedPath.end())) {
    return wrapText(kErrProofInvalidProof,
                    fmt::format("the path of the proof provided ({}) does not match one expected "
                                "by the onchain protocol ({})",
                                util::toHex(proven.closest.path), util::toHex(expectedPath)));
  }

  // The closest proof against the claimed root.
  auto verified = smst::verifyClosestProof(proven.closest, claim.rootHash, smst::ValueHasher::none);
  if (!verified) {
    if (verified.error().code == "root_mismatch") {
      return wrapText(kErrProofInvalidProof, "invalid closest merkle proof");
    }
    return verified.error().message;
  }
  return std::nullopt;
}

std::vector<Event> ChainState::Impl::validateSubmittedProofs() {
  std::vector<Event> events;
  for (const auto& [key, proof] : state.proofs) {
    auto claimIt = state.claims.find(key);
    if (claimIt == state.claims.end()) continue;
    StoredClaim& claim = claimIt->second;
    std::optional<std::string> failure = validateProofSignaturesAndPath(claim, proof);
    claim.status = failure ? ProofStatus::invalid : ProofStatus::validated;
    if (failure) {
      ++stats.proofsInvalid;
    } else {
      ++stats.proofsValid;
    }
    if (auto it = history.find(key); it != history.end()) {
      it->second.proofStatus = claim.status;
      it->second.proofFailureReason = failure.value_or("");
    }
    util::LogLine(log, failure ? util::LogLevel::warn : util::LogLevel::info,
                  "devnet_proof_checked")
        .kv("height", currentHeight)
        .kv("session_id", key.sessionId)
        .kv("supplier", key.supplier)
        .kv("status", proofStatusName(claim.status))
        .kv("reason", failure.value_or("valid"));
    Event event = typedEvent(
        "pocket.proof.EventProofValidityChecked",
        {
            {"block_height", jsonU64(static_cast<std::uint64_t>(currentHeight))},
            {"failure_reason", jsonString(failure.value_or(""))},
            {"service_id", jsonString(claim.header.serviceId)},
            {"application_address", jsonString(claim.header.applicationAddress)},
            {"session_end_block_height", jsonI64(claim.header.sessionEndBlockHeight)},
            {"claim_proof_status_int", jsonI32(static_cast<std::int32_t>(claim.status))},
            {"supplier_operator_address", jsonString(key.supplier)},
        });
    event.attributes.push_back({"mode", "EndBlock"});
    events.push_back(std::move(event));
  }
  state.proofs.clear();
  return events;
}

// --- end of block: settlement ----------------------------------------------------------------

std::vector<Event> ChainState::Impl::settlePendingClaims() {
  std::vector<Event> events;
  std::vector<Event> slashEvents;
  const TokenomicsParams& tokenomics = epochAt(currentHeight).tokenomics;
  const ProofParams& proofParams = epochAt(currentHeight).proof;
  std::vector<ClaimKey> done;
  auto endBlockEvent = [](std::string type, std::vector<EventAttribute> fields) {
    Event event = typedEvent(std::move(type), std::move(fields));
    event.attributes.push_back({"mode", "EndBlock"});
    return event;
  };

  for (const auto& [key, claim] : state.claims) {
    const std::int64_t end = claim.header.sessionEndBlockHeight;
    auto offsets = protocol::sessionEndToProofWindowCloseBlocks(protocolParams(end));
    if (!offsets || currentHeight <= end + *offsets) continue;
    done.push_back(key);

    ClaimRecord record;
    if (auto it = history.find(key); it != history.end()) record = it->second;
    record.settledAtHeight = currentHeight;

    auto figures = claimFigures(claim);
    auto requirement = proofRequirementFor(claim, currentHeight);
    if (!figures || !requirement) {
      const std::string why = !figures ? figures.error().message : requirement.error().message;
      record.settlement = SettlementOutcome::expiredProofMissing;
      record.settlementReason = "discarded: " + why;
      events.push_back(endBlockEvent(
          "pocket.tokenomics.EventClaimDiscarded",
          {{"error", jsonString(why)},
           {"service_id", jsonString(claim.header.serviceId)},
           {"application_address", jsonString(claim.header.applicationAddress)},
           {"session_end_block_height", jsonI64(end)},
           {"claim_proof_status_int", jsonI32(static_cast<std::int32_t>(claim.status))},
           {"supplier_operator_address", jsonString(claim.supplier)}}));
      history[key] = std::move(record);
      continue;
    }
    record.proofRequirement = *requirement;
    const std::string claimed = coinText(figures->claimedUpokt);

    if (requirement->required() && claim.status != ProofStatus::validated) {
      const bool missing = claim.status == ProofStatus::pendingValidation;
      record.settlement = missing ? SettlementOutcome::expiredProofMissing
                                  : SettlementOutcome::expiredProofInvalid;
      record.settlementReason =
          fmt::format("{} proof required ({}) and {}",
                      missing ? "expired:" : "expired:", protocol::reasonName(requirement->reason),
                      missing ? "no valid proof was submitted (PROOF_MISSING)"
                              : "the submitted proof was invalid (PROOF_INVALID): " +
                                    record.proofFailureReason);
      events.push_back(endBlockEvent(
          "pocket.tokenomics.EventClaimExpired",
          {{"expiration_reason", jsonString(missing ? "PROOF_MISSING" : "PROOF_INVALID")},
           {"num_relays", jsonU64(figures->numRelays)},
           {"num_claimed_compute_units", jsonU64(figures->numClaimedComputeUnits)},
           {"num_estimated_compute_units", jsonU64(figures->numEstimatedComputeUnits)},
           {"num_estimated_relays", jsonU64(figures->numEstimatedRelays)},
           {"claimed_upokt", jsonString(claimed)},
           {"service_id", jsonString(claim.header.serviceId)},
           {"application_address", jsonString(claim.header.applicationAddress)},
           {"session_end_block_height", jsonI64(end)},
           {"claim_proof_status_int", jsonI32(static_cast<std::int32_t>(claim.status))},
           {"supplier_operator_address", jsonString(claim.supplier)}}));
      // Slash the supplier's stake by the proof-missing penalty (at most the whole stake).
      auto supplier = state.suppliers.find(claim.supplier);
      std::uint64_t penalty = 0;
      std::uint64_t stakeAfter = 0;
      if (supplier != state.suppliers.end()) {
        penalty = std::min(proofParams.proofMissingPenaltyUpokt, supplier->second.stake);
        supplier->second.stake -= penalty;
        stakeAfter = supplier->second.stake;
      }
      record.slashedUpokt = penalty;
      slashEvents.push_back(endBlockEvent(
          "pocket.tokenomics.EventSupplierSlashed",
          {{"proof_missing_penalty", jsonString(coin(penalty))},
           {"service_id", jsonString(claim.header.serviceId)},
           {"application_address", jsonString(claim.header.applicationAddress)},
           {"session_end_block_height", jsonI64(end)},
           {"claim_proof_status_int", jsonI32(static_cast<std::int32_t>(claim.status))},
           {"supplier_operator_address", jsonString(claim.supplier)},
           {"supplier_stake_after_slash", jsonString(coin(stakeAfter))}}));
      ++stats.claimsExpired;
      util::LogLine(log, util::LogLevel::warn, "devnet_claim_expired")
          .kv("height", currentHeight)
          .kv("session_id", key.sessionId)
          .kv("supplier", key.supplier)
          .kv("reason", missing ? "PROOF_MISSING" : "PROOF_INVALID")
          .kv("slashed_upokt", penalty);
      history[key] = std::move(record);
      continue;
    }

    // Settle (simplified token logic, docs/devnet.md): burn from the application's stake at
    // most its stake and per-session spend limit, mint mint_ratio of it, distribute.
    const std::uint64_t claimedU64 = toU64Saturating(figures->claimedUpokt);
    auto app = state.applications.find(claim.header.applicationAddress);
    std::uint64_t cap = 0;
    if (app != state.applications.end()) {
      cap = app->second.stake;
      if (app->second.config.perSessionSpendLimitUpokt > 0) {
        cap = std::min(cap, app->second.config.perSessionSpendLimitUpokt);
      }
    }
    const std::uint64_t settled = std::min(claimedU64, cap);
    if (app != state.applications.end()) app->second.stake -= settled;
    // Fractions as exact decimals (parts per 10^12, as the chain's decimal params are written),
    // floored once: 210 × 0.7 is 147, not the 146.99… of binary floating point.
    auto fractionOf = [](std::uint64_t amount, double fraction) {
      const BigInt ppt = static_cast<std::uint64_t>(std::llround(fraction * 1e12));
      return static_cast<std::uint64_t>(BigInt(amount) * ppt / BigInt(1'000'000'000'000u));
    };
    const std::uint64_t minted = fractionOf(settled, tokenomics.mintRatio);
    const ClaimDistribution& share = tokenomics.mintEqualsBurnClaimDistribution;
    auto part = [&](double fraction) { return fractionOf(minted, fraction); };
    const std::string ownerAddress = [&] {
      auto supplier = state.suppliers.find(claim.supplier);
      return supplier == state.suppliers.end() ? claim.supplier
                                               : supplier->second.config.ownerAddress;
    }();
    const std::string sourceOwner = [&]() -> std::string {
      auto service = services.find(claim.header.serviceId);
      if (service == services.end() || service->second.ownerAddress.empty()) {
        return tokenomics.daoRewardAddress;
      }
      return service->second.ownerAddress;
    }();
    std::map<std::string, std::uint64_t> rewards;
    const std::uint64_t supplierPart = part(share.supplier);
    const std::uint64_t sourcePart = part(share.sourceOwner);
    const std::uint64_t appPart = part(share.application);
    const std::uint64_t others = supplierPart + sourcePart + appPart;
    const std::uint64_t daoPart = minted > others ? minted - others : 0;  // dao + proposer
    rewards[ownerAddress] += supplierPart;
    rewards[sourceOwner] += sourcePart;
    rewards[claim.header.applicationAddress] += appPart;
    rewards[tokenomics.daoRewardAddress] += daoPart;
    nlohmann::json distribution = nlohmann::json::object();
    for (const auto& [address, amount] : rewards) {
      if (amount == 0) continue;
      addBalance(address, amount);
      distribution[address] = coin(amount);
    }
    record.settlement = SettlementOutcome::settled;
    record.settledUpokt = settled;
    record.settlementReason =
        requirement->required()
            ? fmt::format("settled: proof required ({}) and validated",
                          protocol::reasonName(requirement->reason))
            : std::string("settled: proof not required");
    events.push_back(endBlockEvent(
        "pocket.tokenomics.EventClaimSettled",
        {{"proof_requirement_int", jsonI32(static_cast<std::int32_t>(requirement->reason))},
         {"num_relays", jsonU64(figures->numRelays)},
         {"num_claimed_compute_units", jsonU64(figures->numClaimedComputeUnits)},
         {"num_estimated_compute_units", jsonU64(figures->numEstimatedComputeUnits)},
         {"num_estimated_relays", jsonU64(figures->numEstimatedRelays)},
         {"claimed_upokt", jsonString(claimed)},
         {"service_id", jsonString(claim.header.serviceId)},
         {"application_address", jsonString(claim.header.applicationAddress)},
         {"session_end_block_height", jsonI64(end)},
         {"claim_proof_status_int", jsonI32(static_cast<std::int32_t>(claim.status))},
         {"supplier_operator_address", jsonString(claim.supplier)},
         {"reward_distribution", distribution.dump()},
         {"reward_distribution_detailed", "[]"},
         {"settled_upokt", jsonString(coin(settled))},
         {"mint_ratio", jsonString(fmt::format("{}", tokenomics.mintRatio))},
         {"session_id", jsonString(claim.header.sessionId)},
         {"supplier_owner_address", jsonString(ownerAddress)},
         {"minted_upokt", jsonString(coin(minted))},
         {"overservicing_loss_upokt", jsonString(coin(claimedU64 - settled))},
         {"deflation_loss_upokt", jsonString(coin(settled - minted))}}));
    ++stats.claimsSettled;
    util::LogLine(log, util::LogLevel::info, "devnet_claim_settled")
        .kv("height", currentHeight)
        .kv("session_id", key.sessionId)
        .kv("supplier", key.supplier)
        .kv("requirement", protocol::reasonName(requirement->reason))
        .kv("settled_upokt", settled);
    history[key] = std::move(record);
  }
  for (const ClaimKey& key : done) state.claims.erase(key);
  for (Event& event : slashEvents) events.push_back(std::move(event));
  return events;
}

// --- ChainState -------------------------------------------------------------------------------

ChainState::ChainState(Genesis genesis, util::LogSink& log, std::size_t retainedHeights) {
  if (auto valid = validateGenesis(genesis); !valid) {
    throw std::invalid_argument(valid.error().message);
  }
  impl_ = std::make_unique<Impl>(std::move(genesis), log, retainedHeights);
  Impl& d = *impl_;
  const Genesis& g = d.genesis;

  // Params epochs; a change of num_blocks_per_session re-anchors the grid at its height.
  ParamsEpoch epoch{0, g.shared, 0, 0, g.session, g.proof, g.tokenomics, g.service};
  d.epochs.push_back(epoch);
  for (const Service& service : g.services) {
    d.services.emplace(service.id, service);
    d.serviceHistory[service.id].push_back(
        ServiceEpoch{0, service.computeUnitsPerRelay, service.relayMiningDifficultyTarget});
  }
  for (const ParamChange& change : g.paramChanges) {
    ParamsEpoch next = d.epochs.back();
    next.height = change.height;
    if (change.shared) {
      if (change.shared->numBlocksPerSession != next.shared.numBlocksPerSession) {
        auto bounds = protocol::sessionBounds(d.protocolParams(change.height - 1), change.height);
        next.anchor = static_cast<std::uint64_t>(change.height);
        next.numberAtAnchor = bounds ? static_cast<std::uint64_t>(bounds->number) : 1;
      }
      next.shared = *change.shared;
    }
    if (change.session) next.session = *change.session;
    if (change.proof) next.proof = *change.proof;
    if (change.tokenomics) next.tokenomics = *change.tokenomics;
    if (change.service) next.service = *change.service;
    d.epochs.push_back(next);
    for (const ServiceChange& sc : change.services) {
      ServiceEpoch e = d.serviceHistory[sc.serviceId].back();
      e.height = change.height;
      if (sc.computeUnitsPerRelay) e.computeUnitsPerRelay = *sc.computeUnitsPerRelay;
      if (sc.relayMiningDifficultyTarget) e.target = *sc.relayMiningDifficultyTarget;
      d.serviceHistory[sc.serviceId].push_back(e);
    }
  }

  for (const Account& account : g.accounts) {
    AccountState& state = d.ensureAccount(account.address);
    state.balance = account.balanceUpokt;
    state.publicKey = account.publicKey;
  }
  for (const Application& app : g.applications) {
    d.ensureAccount(app.address);
    d.state.applications[app.address] = AppState{app, app.stakeUpokt};
  }
  for (const Gateway& gateway : g.gateways) {
    d.ensureAccount(gateway.address);
    d.state.gateways[gateway.address] = gateway.stakeUpokt;
  }
  for (const Supplier& supplier : g.suppliers) {
    d.ensureAccount(supplier.operatorAddress);
    d.ensureAccount(supplier.ownerAddress);
    d.state.suppliers[supplier.operatorAddress] = SupplierState{supplier, supplier.stakeUpokt};
  }
  for (const Service& service : g.services) {
    if (!service.ownerAddress.empty()) d.ensureAccount(service.ownerAddress);
  }
  d.ensureAccount(g.tokenomics.daoRewardAddress);
  d.snapshots.push_back(Snapshot{0, std::make_shared<const State>(d.state)});
  d.blockTimes[0] = g.genesisTime;
}

ChainState::~ChainState() = default;

const Genesis& ChainState::genesis() const { return impl_->genesis; }
std::int64_t ChainState::height() const { return impl_->committedHeight; }
std::int64_t ChainState::blockInProgress() const { return impl_->currentHeight; }

util::Bytes ChainState::blockHash(std::int64_t height) const {
  if (height > 0 && height == impl_->currentHeight) return impl_->currentHash;
  return impl_->storedBlockHash(height);
}

Time ChainState::blockTime(std::int64_t height) const {
  if (height > 0 && height == impl_->currentHeight) return impl_->currentTime;
  auto it = impl_->blockTimes.find(height);
  return it == impl_->blockTimes.end() ? Time{} : it->second;
}

util::Status ChainState::beginBlock(std::int64_t height, Time time, util::ByteSpan blockHash) {
  Impl& d = *impl_;
  if (d.currentHeight != 0) {
    return util::makeError(std::string(kErrBlockOutOfOrder),
                           fmt::format("block {} is still in progress; end it before starting {}",
                                       d.currentHeight, height));
  }
  if (height != d.committedHeight + 1) {
    return util::makeError(std::string(kErrBlockOutOfOrder),
                           fmt::format("block {} cannot follow block {}", height,
                                       d.committedHeight));
  }
  if (blockHash.size() != 32) {
    return util::makeError(std::string(kErrBlockOutOfOrder),
                           fmt::format("block hash of block {} has {} bytes, expected 32", height,
                                       blockHash.size()));
  }
  d.currentHeight = height;
  d.currentTime = time;
  d.currentHash.assign(blockHash.begin(), blockHash.end());
  return util::Ok{};
}

util::Result<std::vector<Event>> ChainState::endBlock() {
  Impl& d = *impl_;
  if (d.currentHeight == 0) {
    return util::makeError(std::string(kErrNoBlock), "endBlock without a block in progress");
  }
  // EndBlocker order: session (stores the block hash), proof, tokenomics.
  d.blockHashes[d.currentHeight] = d.currentHash;
  d.blockTimes[d.currentHeight] = d.currentTime;
  std::vector<Event> events = d.validateSubmittedProofs();
  std::vector<Event> settlement = d.settlePendingClaims();
  events.insert(events.end(), std::make_move_iterator(settlement.begin()),
                std::make_move_iterator(settlement.end()));
  d.committedHeight = d.currentHeight;
  d.currentHeight = 0;
  d.snapshots.push_back(Snapshot{d.committedHeight, std::make_shared<const State>(d.state)});
  while (d.snapshots.size() > d.retainedHeights) d.snapshots.pop_front();
  return events;
}

TxOutcome ChainState::validateBasic(std::span<const protocol::TxMessage> messages) const {
  const Impl& d = *impl_;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const protocol::TxMessage& m = messages[i];
    std::optional<ModuleFailure> failure;
    if (m.typeUrl == protocol::kMsgCreateClaimTypeUrl) {
      proof::MsgCreateClaim msg;
      if (!protocol::parse(m.value, msg)) {
        failure = fail(kSdkErrTxDecode, fmt::format("unable to decode {}", m.typeUrl));
      } else {
        failure = d.validateClaimBasic(msg);
      }
    } else if (m.typeUrl == protocol::kMsgSubmitProofTypeUrl) {
      proof::MsgSubmitProof msg;
      if (!protocol::parse(m.value, msg)) {
        failure = fail(kSdkErrTxDecode, fmt::format("unable to decode {}", m.typeUrl));
      } else {
        failure = d.validateProofBasic(msg);
      }
    }
    if (failure) {
      impl_->rejectLog(m.typeUrl, "", i, failure->error.codespace, failure->error.code,
                       failure->text);
      return TxOutcome{failure->error.code, std::string(failure->error.codespace), failure->text,
                       {}, {}};
    }
  }
  return TxOutcome{};
}

TxOutcome ChainState::deliverTx(std::span<const protocol::TxMessage> messages,
                                std::string_view signer, const ForeignMessageHandler& foreign) {
  Impl& d = *impl_;
  if (d.currentHeight == 0) {
    return TxOutcome{kErrInternal.code, std::string(kErrInternal.codespace),
                     "no block in progress", {}, {}};
  }
  d.inTx = true;
  d.undo.clear();
  std::vector<Event> events;
  util::Bytes data;
  protocol::wire::Writer writer(data);

  for (std::size_t i = 0; i < messages.size(); ++i) {
    const protocol::TxMessage& m = messages[i];
    MessageOutcome out;
    auto keeperResult = [&](std::optional<GrpcError> error, std::string responseType) {
      if (error) {
        out.code = kErrInternal.code;
        out.codespace = std::string(kErrInternal.codespace);
        out.log = grpcStatusText(*error);
      } else {
        out.response = protocol::TxMessage{std::move(responseType), {}};
      }
    };
    if (m.typeUrl == protocol::kMsgCreateClaimTypeUrl) {
      proof::MsgCreateClaim msg;
      if (!protocol::parse(m.value, msg)) {
        out = MessageOutcome{kSdkErrTxDecode.code, std::string(kSdkErrTxDecode.codespace),
                             wrapText(kSdkErrTxDecode, fmt::format("unable to decode {}",
                                                                   m.typeUrl)),
                             {}, {}};
      } else {
        keeperResult(d.createClaim(msg, out.events), "/pocket.proof.MsgCreateClaimResponse");
      }
    } else if (m.typeUrl == protocol::kMsgSubmitProofTypeUrl) {
      proof::MsgSubmitProof msg;
      if (!protocol::parse(m.value, msg)) {
        out = MessageOutcome{kSdkErrTxDecode.code, std::string(kSdkErrTxDecode.codespace),
                             wrapText(kSdkErrTxDecode, fmt::format("unable to decode {}",
                                                                   m.typeUrl)),
                             {}, {}};
      } else {
        keeperResult(d.submitProof(msg, out.events), "/pocket.proof.MsgSubmitProofResponse");
      }
    } else if (foreign) {
      out = foreign(m, signer);
    } else {
      out = MessageOutcome{kSdkErrUnknownRequest.code,
                           std::string(kSdkErrUnknownRequest.codespace),
                           wrapText(kSdkErrUnknownRequest,
                                    fmt::format("can't route message {}", m.typeUrl)),
                           {}, {}};
    }

    if (out.code != 0) {
      for (auto it = d.undo.rbegin(); it != d.undo.rend(); ++it) (*it)();
      d.undo.clear();
      d.inTx = false;
      d.rejectLog(m.typeUrl, signer, i, out.codespace, out.code, out.log);
      return TxOutcome{out.code, out.codespace,
                       fmt::format("failed to execute message; message index: {}: {}", i, out.log),
                       {}, {}};
    }
    const std::string index = std::to_string(i);
    events.push_back(Event{"message",
                           {{"action", m.typeUrl},
                            {"sender", std::string(signer)},
                            {"module", moduleOfTypeUrl(m.typeUrl)},
                            {"msg_index", index}}});
    for (Event& event : out.events) {
      event.attributes.push_back({"msg_index", index});
      events.push_back(std::move(event));
    }
    // TxMsgData.msg_responses (field 2): Any{type_url, value}.
    const util::Bytes any = protocol::encodeAny(out.response);
    writer.messageHeader(2, any.size());
    writer.raw(any);
  }
  d.undo.clear();
  d.inTx = false;
  d.stats.messagesAccepted += messages.size();
  return TxOutcome{0, "", "", std::move(data), std::move(events)};
}

// --- accounts ---------------------------------------------------------------------------------

std::optional<AccountView> ChainState::account(std::string_view address) const {
  auto it = impl_->state.accounts.find(address);
  if (it == impl_->state.accounts.end()) return std::nullopt;
  return AccountView{std::string(address), it->second.number, it->second.sequence,
                     it->second.publicKey, it->second.balance};
}

std::uint64_t ChainState::balance(std::string_view address) const {
  auto it = impl_->state.accounts.find(address);
  return it == impl_->state.accounts.end() ? 0 : it->second.balance;
}

util::Status ChainState::setPublicKey(std::string_view address, const crypto::PublicKey& key) {
  auto it = impl_->state.accounts.find(address);
  if (it == impl_->state.accounts.end()) {
    return util::makeError(std::string(kErrUnknownAccount),
                           fmt::format("account {} does not exist", address));
  }
  AccountState account = it->second;
  account.publicKey = key;
  impl_->put(impl_->state.accounts, std::string(address), account);
  return util::Ok{};
}

util::Status ChainState::incrementSequence(std::string_view address) {
  auto it = impl_->state.accounts.find(address);
  if (it == impl_->state.accounts.end()) {
    return util::makeError(std::string(kErrUnknownAccount),
                           fmt::format("account {} does not exist", address));
  }
  AccountState account = it->second;
  ++account.sequence;
  impl_->put(impl_->state.accounts, std::string(address), account);
  return util::Ok{};
}

util::Status ChainState::debit(std::string_view address, std::uint64_t amountUpokt) {
  auto it = impl_->state.accounts.find(address);
  if (it == impl_->state.accounts.end()) {
    return util::makeError(std::string(kErrUnknownAccount),
                           fmt::format("account {} does not exist", address));
  }
  if (it->second.balance < amountUpokt) {
    return util::makeError(std::string(kErrInsufficientFunds),
                           fmt::format("{} is smaller than {}", coin(it->second.balance),
                                       coin(amountUpokt)));
  }
  impl_->subBalance(address, amountUpokt);
  return util::Ok{};
}

void ChainState::credit(std::string_view address, std::uint64_t amountUpokt) {
  impl_->addBalance(address, amountUpokt);
}

// --- params and inspection --------------------------------------------------------------------

SharedParams ChainState::sharedParamsAt(std::int64_t height) const {
  return impl_->epochAt(height).shared;
}
protocol::SharedParams ChainState::protocolParamsAt(std::int64_t height) const {
  return impl_->protocolParams(height);
}
SessionParams ChainState::sessionParamsAt(std::int64_t height) const {
  return impl_->epochAt(height).session;
}
ProofParams ChainState::proofParamsAt(std::int64_t height) const {
  return impl_->epochAt(height).proof;
}
TokenomicsParams ChainState::tokenomicsParamsAt(std::int64_t height) const {
  return impl_->epochAt(height).tokenomics;
}
std::optional<std::uint64_t> ChainState::computeUnitsPerRelayAt(std::string_view serviceId,
                                                                std::int64_t height) const {
  const ServiceEpoch* e = impl_->serviceAt(serviceId, height);
  if (e == nullptr) return std::nullopt;
  return e->computeUnitsPerRelay;
}
std::optional<crypto::Hash32> ChainState::relayMiningTargetAt(std::string_view serviceId,
                                                              std::int64_t height) const {
  const ServiceEpoch* e = impl_->serviceAt(serviceId, height);
  if (e == nullptr) return std::nullopt;
  return e->target;
}

std::uint64_t ChainState::applicationStake(std::string_view address) const {
  auto it = impl_->state.applications.find(address);
  return it == impl_->state.applications.end() ? 0 : it->second.stake;
}
std::uint64_t ChainState::supplierStake(std::string_view operatorAddress) const {
  auto it = impl_->state.suppliers.find(operatorAddress);
  return it == impl_->state.suppliers.end() ? 0 : it->second.stake;
}
std::uint64_t ChainState::gatewayStake(std::string_view address) const {
  auto it = impl_->state.gateways.find(address);
  return it == impl_->state.gateways.end() ? 0 : it->second;
}

std::vector<ClaimRecord> ChainState::claims() const {
  std::vector<std::pair<std::uint64_t, const ClaimRecord*>> ordered;
  for (const auto& [key, record] : impl_->history) {
    ordered.emplace_back(impl_->historyOrder.at(key), &record);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ClaimRecord> out;
  out.reserve(ordered.size());
  for (const auto& entry : ordered) {
    ClaimRecord record = *entry.second;
    // A pending claim's requirement is known once its proof seed block is committed.
    if (record.settlement == SettlementOutcome::pending) {
      auto stored = impl_->state.claims.find(
          ClaimKey{record.sessionHeader.sessionId, record.supplierOperatorAddress});
      if (stored != impl_->state.claims.end()) {
        auto requirement = impl_->proofRequirementFor(stored->second, impl_->committedHeight);
        if (requirement) record.proofRequirement = *requirement;
      }
    }
    out.push_back(std::move(record));
  }
  return out;
}

const ChainStats& ChainState::stats() const { return impl_->stats; }

nlohmann::json ChainState::stateJson() const {
  nlohmann::json doc;
  doc["height"] = impl_->committedHeight;
  nlohmann::json claimList = nlohmann::json::array();
  for (const ClaimRecord& r : claims()) {
    nlohmann::json c;
    c["session_id"] = r.sessionHeader.sessionId;
    c["supplier_operator_address"] = r.supplierOperatorAddress;
    c["application_address"] = r.sessionHeader.applicationAddress;
    c["service_id"] = r.sessionHeader.serviceId;
    c["session_start_block_height"] = r.sessionHeader.sessionStartBlockHeight;
    c["session_end_block_height"] = r.sessionHeader.sessionEndBlockHeight;
    c["root_hash"] = util::toHex(r.rootHash);
    c["num_relays"] = r.numRelays;
    c["num_claimed_compute_units"] = r.numClaimedComputeUnits;
    c["claimed_upokt"] = r.claimedUpokt;
    c["created_at_height"] = r.createdAtHeight;
    c["updated_at_height"] = r.updatedAtHeight;
    c["proof_window_close_height"] = r.proofWindowCloseHeight;
    if (r.proofRequirement) {
      c["proof_requirement"] = protocol::reasonName(r.proofRequirement->reason);
      // The sample is not drawn when the threshold already decided.
      if (r.proofRequirement->sample >= 0) {
        c["proof_requirement_sample"] = r.proofRequirement->sample;
      } else {
        c["proof_requirement_sample"] = nullptr;
      }
    } else {
      c["proof_requirement"] = nullptr;
      c["proof_requirement_sample"] = nullptr;
    }
    c["proof_submitted"] = r.proofSubmitted;
    c["proof_status"] = proofStatusName(r.proofStatus);
    c["proof_failure_reason"] = r.proofFailureReason;
    c["settlement"] = settlementOutcomeName(r.settlement);
    c["settlement_reason"] = r.settlementReason;
    c["settled_at_height"] = r.settledAtHeight;
    c["settled_upokt"] = r.settledUpokt;
    c["slashed_upokt"] = r.slashedUpokt;
    claimList.push_back(std::move(c));
  }
  doc["claims"] = std::move(claimList);
  nlohmann::json accounts = nlohmann::json::array();
  for (const auto& [address, account] : impl_->state.accounts) {
    accounts.push_back({{"address", address},
                        {"account_number", account.number},
                        {"sequence", account.sequence},
                        {"balance_upokt", account.balance}});
  }
  doc["accounts"] = std::move(accounts);
  nlohmann::json apps = nlohmann::json::array();
  for (const auto& [address, app] : impl_->state.applications) {
    apps.push_back({{"address", address}, {"stake_upokt", app.stake}});
  }
  doc["applications"] = std::move(apps);
  nlohmann::json suppliers = nlohmann::json::array();
  for (const auto& [address, supplier] : impl_->state.suppliers) {
    suppliers.push_back({{"operator_address", address},
                         {"owner_address", supplier.config.ownerAddress},
                         {"stake_upokt", supplier.stake}});
  }
  doc["suppliers"] = std::move(suppliers);
  nlohmann::json gateways = nlohmann::json::array();
  for (const auto& [address, stake] : impl_->state.gateways) {
    gateways.push_back({{"address", address}, {"stake_upokt", stake}});
  }
  doc["gateways"] = std::move(gateways);
  return doc;
}

// --- queries ----------------------------------------------------------------------------------

namespace {

// A query handler's result: the response bytes, or a gRPC error (code name, text).
using QueryAnswer = util::Result<util::Bytes>;

QueryAnswer grpcFailure(std::string_view code, std::string text) {
  return util::makeError(std::string(code), std::move(text));
}

util::Bytes bytesOf(const google::protobuf::MessageLite& message) {
  return protocol::serialize(message);
}

// pocket.tokenomics QueryParamsResponse{1 Params{1 mint_allocation_percentages{1 dao, 2 proposer,
// 3 supplier, 4 source_owner, 5 application}, 6 dao_reward_address, 7 global_inflation_per_claim,
// 8 mint_equals_burn_claim_distribution{1..5 as 1}, 9 mint_ratio, 10
// overservicing_bonus_multiplier}}, written field by field (the project has no generated
// tokenomics messages). proto3: zero values are not written.
util::Bytes tokenomicsParamsResponse(const TokenomicsParams& p) {
  namespace wire = protocol::wire;
  auto doubleField = [](util::Bytes& out, std::uint32_t field, double v) {
    if (v == 0) return;
    wire::Writer(out).tag(field, wire::WireType::fixed64);
    std::uint64_t bits = 0;
    static_assert(sizeof bits == sizeof v);
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
  };
  auto distribution = [&](const ClaimDistribution& d) {
    util::Bytes out;
    doubleField(out, 1, d.dao);
    doubleField(out, 2, d.proposer);
    doubleField(out, 3, d.supplier);
    doubleField(out, 4, d.sourceOwner);
    doubleField(out, 5, d.application);
    return out;
  };
  util::Bytes params;
  {
    util::Bytes mint = distribution(p.mintAllocationPercentages);
    wire::Writer w(params);
    w.messageHeader(1, mint.size());
    w.raw(mint);
    w.stringField(6, p.daoRewardAddress);
  }
  doubleField(params, 7, p.globalInflationPerClaim);
  {
    util::Bytes meb = distribution(p.mintEqualsBurnClaimDistribution);
    wire::Writer w(params);
    w.messageHeader(8, meb.size());
    w.raw(meb);
  }
  doubleField(params, 9, p.mintRatio);
  wire::Writer(params).varintField(10, p.overservicingBonusMultiplier);
  util::Bytes out;
  wire::Writer w(out);
  w.messageHeader(1, params.size());
  w.raw(params);
  return out;
}

void fillSharedParams(shared::Params* out, const SharedParams& p, std::uint64_t anchor,
                      std::uint64_t number) {
  out->set_num_blocks_per_session(p.numBlocksPerSession);
  out->set_grace_period_end_offset_blocks(p.gracePeriodEndOffsetBlocks);
  out->set_claim_window_open_offset_blocks(p.claimWindowOpenOffsetBlocks);
  out->set_claim_window_close_offset_blocks(p.claimWindowCloseOffsetBlocks);
  out->set_proof_window_open_offset_blocks(p.proofWindowOpenOffsetBlocks);
  out->set_proof_window_close_offset_blocks(p.proofWindowCloseOffsetBlocks);
  out->set_supplier_unbonding_period_sessions(p.supplierUnbondingPeriodSessions);
  out->set_application_unbonding_period_sessions(p.applicationUnbondingPeriodSessions);
  out->set_compute_units_to_tokens_multiplier(p.computeUnitsToTokensMultiplier);
  out->set_gateway_unbonding_period_sessions(p.gatewayUnbondingPeriodSessions);
  out->set_compute_unit_cost_granularity(p.computeUnitCostGranularity);
  out->set_session_grid_anchor_height(anchor);
  out->set_session_number_at_anchor(number);
}

}  // namespace

QueryOutcome ChainState::query(std::string_view path, util::ByteSpan data,
                               std::int64_t height) const {
  const Impl& d = *impl_;
  const std::int64_t latest = d.committedHeight;
  auto failure = [&](const RegisteredError& error, std::string context, std::int64_t at) {
    ++impl_->stats.queriesFailed;
    return QueryOutcome{error.code, std::string(error.codespace), wrapText(error, context), {},
                        at};
  };
  const std::int64_t h = height == 0 ? latest : height;
  if (path == "/cosmos.tx.v1beta1.Service/BroadcastTx") {
    return failure(kSdkErrInvalidRequest, "can't route a broadcast tx message", h);
  }

  using Handler = std::function<QueryAnswer(const State&, std::int64_t, util::ByteSpan)>;
  Handler handler;
  if (path == protocol::kAccountQueryPath) {
    handler = [](const State& s, std::int64_t, util::ByteSpan in) -> QueryAnswer {
      cosmos::auth::v1beta1::QueryAccountRequest req;
      if (!protocol::parse(in, req)) return grpcFailure("InvalidArgument", "invalid request");
      if (req.address().empty()) return grpcFailure("InvalidArgument", "Address cannot be empty");
      if (auto bad = addressError(req.address())) return grpcFailure("InvalidArgument", *bad);
      auto it = s.accounts.find(req.address());
      if (it == s.accounts.end()) {
        return grpcFailure("NotFound", fmt::format("account {} not found", req.address()));
      }
      cosmos::auth::v1beta1::BaseAccount account;
      account.set_address(req.address());
      if (it->second.publicKey) {
        cosmos::crypto::secp256k1::PubKey key;
        const auto& compressed = it->second.publicKey->compressed();
        key.set_key(std::string(compressed.begin(), compressed.end()));
        account.mutable_pub_key()->set_type_url(std::string(protocol::kSecp256k1PubKeyTypeUrl));
        account.mutable_pub_key()->set_value(key.SerializeAsString());
      }
      account.set_account_number(it->second.number);
      account.set_sequence(it->second.sequence);
      cosmos::auth::v1beta1::QueryAccountResponse res;
      res.mutable_account()->set_type_url(std::string(protocol::kBaseAccountTypeUrl));
      res.mutable_account()->set_value(account.SerializeAsString());
      return bytesOf(res);
    };
  } else if (path == protocol::kBalanceQueryPath) {
    handler = [](const State& s, std::int64_t, util::ByteSpan in) -> QueryAnswer {
      cosmos::bank::v1beta1::QueryBalanceRequest req;
      if (!protocol::parse(in, req)) return grpcFailure("InvalidArgument", "invalid request");
      if (auto bad = addressError(req.address())) {
        return grpcFailure("InvalidArgument", "invalid address: " + *bad);
      }
      if (req.denom().empty()) return grpcFailure("InvalidArgument", "invalid denom");
      std::uint64_t amount = 0;
      if (auto it = s.accounts.find(req.address()); it != s.accounts.end() &&
                                                     req.denom() == kDenom) {
        amount = it->second.balance;
      }
      cosmos::bank::v1beta1::QueryBalanceResponse res;
      res.mutable_balance()->set_denom(req.denom());
      res.mutable_balance()->set_amount(std::to_string(amount));
      return bytesOf(res);
    };
  } else if (path == kAllBalancesQueryPath) {
    // QueryAllBalancesRequest{1 address, 2 pagination, 3 resolve_denom}; the response lists the
    // non-zero balances (only upokt here) and an empty PageResponse, as x/bank does.
    handler = [](const State& s, std::int64_t, util::ByteSpan in) -> QueryAnswer {
      std::string address;
      auto read = protocol::wire::readFields(
          in, "QueryAllBalancesRequest",
          [&](protocol::wire::Reader&, const protocol::wire::Field& field)
              -> std::optional<util::Error> {
            if (field.number == 1 && field.type == protocol::wire::WireType::lengthDelimited) {
              address = std::string(util::asChars(field.bytes));
            }
            return std::nullopt;
          });
      if (!read) return grpcFailure("InvalidArgument", "invalid request");
      if (auto bad = addressError(address)) {
        return grpcFailure("InvalidArgument", "invalid address: " + *bad);
      }
      util::Bytes coin;
      if (auto it = s.accounts.find(address); it != s.accounts.end() && it->second.balance > 0) {
        protocol::wire::Writer writer(coin);
        writer.stringField(1, kDenom);
        writer.stringField(2, std::to_string(it->second.balance));
      }
      util::Bytes out;
      protocol::wire::Writer writer(out);
      if (!coin.empty()) {
        writer.messageHeader(1, coin.size());
        writer.raw(coin);
      }
      writer.messageHeader(2, 0);
      return out;
    };
  } else if (path == protocol::kGetSessionQueryPath) {
    handler = [&d](const State& s, std::int64_t at, util::ByteSpan in) -> QueryAnswer {
      session::QueryGetSessionRequest req;
      if (!protocol::parse(in, req)) return grpcFailure("InvalidArgument", "invalid request");
      auto session = d.getSession(s, at, req.application_address(), req.service_id(),
                                  req.block_height());
      if (!session) return session.error();
      session::QueryGetSessionResponse res;
      *res.mutable_session() = std::move(*session);
      return bytesOf(res);
    };
  } else if (path == protocol::kSessionParamsQueryPath) {
    handler = [&d](const State&, std::int64_t at, util::ByteSpan) -> QueryAnswer {
      session::QueryParamsResponse res;
      res.mutable_params()->set_num_suppliers_per_session(
          d.epochAt(at).session.numSuppliersPerSession);
      return bytesOf(res);
    };
  } else if (path == protocol::kSharedParamsQueryPath ||
             path == protocol::kSharedParamsAtHeightQueryPath) {
    const bool atHeight = path == protocol::kSharedParamsAtHeightQueryPath;
    handler = [&d, atHeight](const State&, std::int64_t at, util::ByteSpan in) -> QueryAnswer {
      std::int64_t paramsHeight = at;
      if (atHeight) {
        shared::QueryParamsAtHeightRequest req;
        if (!protocol::parse(in, req)) return grpcFailure("InvalidArgument", "invalid request");
        paramsHeight = req.height();
      }
      const ParamsEpoch& e = d.epochAt(paramsHeight);
      shared::QueryParamsResponse res;
      fillSharedParams(res.mutable_params(), e.shared, e.anchor, e.numberAtAnchor);
      return bytesOf(res);
    };
  } else if (path == "/pocket.tokenomics.Query/Params") {
    handler = [&d](const State&, std::int64_t at, util::ByteSpan) -> QueryAnswer {
      return tokenomicsParamsResponse(d.epochAt(at).tokenomics);
    };
  } else if (path == protocol::kProofParamsQueryPath) {
    handler = [&d](const State&, std::int64_t at, util::ByteSpan) -> QueryAnswer {
      const ProofParams& p = d.epochAt(at).proof;
      proof::QueryParamsResponse res;
      res.mutable_params()->set_proof_request_probability(p.proofRequestProbability);
      setCoin(res.mutable_params()->mutable_proof_requirement_threshold(),
              p.proofRequirementThresholdUpokt);
      setCoin(res.mutable_params()->mutable_proof_missing_penalty(), p.proofMissingPenaltyUpokt);
      setCoin(res.mutable_params()->mutable_proof_submission_fee(), p.proofSubmissionFeeUpokt);
      return bytesOf(res);
    };
  } else if (path == protocol::kClaimQueryPath) {
    handler = [](const State& s, std::int64_t, util::ByteSpan in) -> QueryAnswer {
      proof::QueryGetClaimRequest req;
      if (!protocol::parse(in, req)) return grpcFailure("InvalidArgument", "invalid request");
      if (auto bad = addressError(req.supplier_operator_address())) {
        return grpcFailure("InvalidArgument",
                           wrapText(kErrProofInvalidAddress,
                                    fmt::format("invalid supplier operator address for claim "
                                                "being retrieved {}; ({})",
                                                req.supplier_operator_address(), *bad)));
      }
      if (req.session_id().empty()) {
        return grpcFailure("InvalidArgument",
                           wrapText(kErrProofInvalidSessionId,
                                    "invalid empty session ID for claim being retrieved"));
      }
      auto it = s.claims.find(ClaimKey{req.session_id(), req.supplier_operator_address()});
      if (it == s.claims.end()) {
        return grpcFailure("NotFound",
                           wrapText(kErrProofClaimNotFound,
                                    fmt::format("session ID \"{}\" and supplier \"{}\"",
                                                req.session_id(),
                                                req.supplier_operator_address())));
      }
      proof::QueryGetClaimResponse res;
      proof::Claim* claim = res.mutable_claim();
      claim->set_supplier_operator_address(it->second.supplier);
      *claim->mutable_session_header() = protocol::toProtoSessionHeader(it->second.header);
      claim->set_root_hash(std::string(it->second.rootHash.begin(), it->second.rootHash.end()));
      claim->set_proof_validation_status(
          static_cast<proof::ClaimProofStatus>(it->second.status));
      return bytesOf(res);
    };
  } else if (path == protocol::kApplicationQueryPath) {
    handler = [](const State& s, std::int64_t, util::ByteSpan in) -> QueryAnswer {
      application::QueryGetApplicationRequest req;
      if (!protocol::parse(in, req)) return grpcFailure("InvalidArgument", "invalid request");
      auto it = s.applications.find(req.address());
      if (it == s.applications.end()) {
        return grpcFailure("NotFound",
                           fmt::format("app address: {}: application not found", req.address()));
      }
      application::QueryGetApplicationResponse res;
      application::Application* a = res.mutable_application();
      a->set_address(req.address());
      setCoin(a->mutable_stake(), it->second.stake);
      for (const std::string& sid : it->second.config.serviceIds) {
        a->add_service_configs()->set_service_id(sid);
      }
      for (const std::string& gw : it->second.config.delegateeGatewayAddresses) {
        a->add_delegatee_gateway_addresses(gw);
      }
      if (it->second.config.perSessionSpendLimitUpokt > 0) {
        setCoin(a->mutable_per_session_spend_limit(), it->second.config.perSessionSpendLimitUpokt);
      }
      return bytesOf(res);
    };
  } else if (path == protocol::kSupplierQueryPath) {
    handler = [](const State& s, std::int64_t, util::ByteSpan in) -> QueryAnswer {
      supplier::QueryGetSupplierRequest req;
      if (!protocol::parse(in, req)) return grpcFailure("InvalidArgument", "invalid request");
      auto it = s.suppliers.find(req.operator_address());
      if (it == s.suppliers.end()) {
        return grpcFailure("NotFound", fmt::format("supplier with operator address {}: supplier "
                                                   "not found",
                                                   req.operator_address()));
      }
      supplier::QueryGetSupplierResponse res;
      shared::Supplier* out = res.mutable_supplier();
      out->set_owner_address(it->second.config.ownerAddress);
      out->set_operator_address(it->second.config.operatorAddress);
      setCoin(out->mutable_stake(), it->second.stake);
      for (const SupplierService& service : it->second.config.services) {
        shared::SupplierServiceConfig* config = out->add_services();
        config->set_service_id(service.serviceId);
        for (const SupplierEndpoint& endpoint : service.endpoints) {
          shared::SupplierEndpoint* e = config->add_endpoints();
          e->set_url(endpoint.url);
          e->set_rpc_type(static_cast<shared::RPCType>(endpoint.rpcType));
        }
        shared::ServiceRevenueShare* share = config->add_rev_share();
        share->set_address(it->second.config.ownerAddress);
        share->set_rev_share_percentage(100);
      }
      return bytesOf(res);
    };
  } else if (path == protocol::kServiceQueryPath) {
    handler = [&d](const State&, std::int64_t at, util::ByteSpan in) -> QueryAnswer {
      service::QueryGetServiceRequest req;
      if (!protocol::parse(in, req)) return grpcFailure("InvalidArgument", "invalid request");
      auto it = d.services.find(req.id());
      if (it == d.services.end()) {
        return grpcFailure("NotFound", wrapText({"service", 1117, "service not found"},
                                                fmt::format("serviceID: {}", req.id())));
      }
      service::QueryGetServiceResponse res;
      res.mutable_service()->set_id(it->second.id);
      res.mutable_service()->set_name(it->second.name);
      res.mutable_service()->set_compute_units_per_relay(
          d.serviceAt(it->second.id, at)->computeUnitsPerRelay);
      res.mutable_service()->set_owner_address(it->second.ownerAddress);
      return bytesOf(res);
    };
  } else if (path == protocol::kRelayMiningDifficultyAtHeightQueryPath ||
             path == protocol::kComputeUnitsPerRelayAtHeightQueryPath) {
    const bool difficulty = path == protocol::kRelayMiningDifficultyAtHeightQueryPath;
    handler = [&d, difficulty](const State&, std::int64_t, util::ByteSpan in) -> QueryAnswer {
      service::QueryGetRelayMiningDifficultyAtHeightRequest req;  // same fields as the CUPR one
      if (!protocol::parse(in, req)) return grpcFailure("InvalidArgument", "invalid request");
      if (req.serviceid().empty()) return grpcFailure("InvalidArgument", "service ID is required");
      if (req.blockheight() < 0) {
        return grpcFailure("InvalidArgument", "block height must be non-negative");
      }
      const ServiceEpoch* e = d.serviceAt(req.serviceid(), req.blockheight());
      if (e == nullptr) {
        return grpcFailure("NotFound", wrapText({"service", 1117, "service not found"},
                                                fmt::format("serviceID: {}", req.serviceid())));
      }
      if (!difficulty) {
        service::QueryComputeUnitsPerRelayAtHeightResponse res;
        res.set_computeunitsperrelay(e->computeUnitsPerRelay);
        return bytesOf(res);
      }
      service::QueryGetRelayMiningDifficultyAtHeightResponse res;
      service::RelayMiningDifficulty* out = res.mutable_relayminingdifficulty();
      out->set_service_id(req.serviceid());
      out->set_block_height(e->height);
      out->set_target_hash(std::string(e->target.begin(), e->target.end()));
      return bytesOf(res);
    };
  } else {
    return failure(kSdkErrUnknownRequest, "unknown query path", h);
  }

  // BaseApp's query context: the height rules run before the handler.
  if (height < 0) {
    return failure(kSdkErrInvalidRequest,
                   "cannot query with height < 0; please provide a valid height", 0);
  }
  if (h > latest) {
    return failure(kSdkErrInvalidHeight,
                   "cannot query with height in the future; please provide a valid height", 0);
  }
  std::shared_ptr<const State> snapshot = d.snapshotAt(h);
  if (!snapshot) {
    return failure(kSdkErrInvalidRequest,
                   fmt::format("failed to load state at height {}; version does not exist "
                               "(latest height: {})",
                               h, latest),
                   0);
  }
  QueryAnswer answer = handler(*snapshot, h, data);
  if (answer) return QueryOutcome{0, "", "", std::move(*answer), h};
  // gRPCErrorToSDKError.
  const std::string& code = answer.error().code;
  const std::string status = fmt::format("rpc error: code = {} desc = {}", code,
                                         answer.error().message);
  if (code == "NotFound") return failure(kSdkErrKeyNotFound, status, h);
  if (code == "InvalidArgument" || code == "FailedPrecondition") {
    return failure(kSdkErrInvalidRequest, status, h);
  }
  return failure(kSdkErrUnknownRequest, status, h);
}

util::Result<session::Session> ChainState::getSession(std::string_view applicationAddress,
                                                      std::string_view serviceId,
                                                      std::int64_t blockHeight,
                                                      std::int64_t queryHeight) const {
  const std::int64_t h = queryHeight == 0 ? impl_->committedHeight : queryHeight;
  std::shared_ptr<const State> snapshot = impl_->snapshotAt(h);
  if (!snapshot) {
    return util::makeError("Internal", fmt::format("no committed state at height {}", h));
  }
  return impl_->getSession(*snapshot, h, applicationAddress, serviceId, blockHeight);
}

}  // namespace pocket::devnet
