#pragma once
// ChainState: the devnet's application state machine with poktroll's rules (spec: docs/devnet.md,
// section "Chain rules"). It holds accounts, balances and stakes, the params history, the block
// hashes, claims and proofs, hydrates sessions as poktroll does, answers the gRPC queries that
// abci_query routes, executes MsgCreateClaim / MsgSubmitProof with poktroll's checks, order, codes
// and wording, validates proofs and settles claims at the end of each block, and emits poktroll's
// events as data.
//
// Division of work with the node (test/devnet/, which owns RPC, blocks and transactions):
//   the node: decodes TxRaw, verifies the signature, chain id, account number, sequence
//     (including its check-state increments for txs in the mempool), unordered-tx rules, gas and
//     fee; debits the fee (debit()), increments the sequence (incrementSequence()) and records the
//     signer's public key (setPublicKey()); builds headers and block hashes; writes events and
//     results into blocks, tx results and WebSocket events; executes MsgSend through a
//     ForeignMessageHandler calling debit()/credit().
//   ChainState: everything a poktroll module does with a message once the ante handler passed
//     (validateBasic() before the ante handler, deliverTx() after it), session hydration, queries,
//     end-of-block proof validation and settlement.
//
// A block, as the node drives it:
//   beginBlock(height, time, blockHash)   // the block's CometBFT header hash (block_id.hash)
//   for each tx: validateBasic(messages) → node ante (fee, sequence) → deliverTx(messages, signer)
//   endBlock()                            // proofs validated, claims settled, state committed
// Queries read committed state: query(path, data, 0) answers at the last committed height, and
// older heights are answered from retained snapshots.
//
// Ownership and threading: a resource (not copyable). Not thread-safe: the node calls it from one
// thread or under one lock. It borrows the LogSink, which must outlive it.
// Errors: business outcomes (a rejected message, a failed query) are ABCI outcomes carrying
// poktroll's codespace, code and log; misuse by the node (blocks out of order) is a util::Status
// with one of the kErr* codes below. Nothing here throws for bad input; the constructor throws
// std::invalid_argument for a Genesis that validateGenesis() rejects (a configuration error).
// Crash guarantees: none needed, the state lives in memory and a devnet restarts from genesis.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/protocol/proof_requirement.h"
#include "common/protocol/relay.h"
#include "common/protocol/tx.h"
#include "common/util/bytes.h"
#include "common/util/log.h"
#include "common/util/result.h"
#include "pocket/session/types.pb.h"
#include "test/devnet/state/genesis.h"

namespace pocket::devnet {

// --- Codes ----------------------------------------------------------------------------------

// util::Status codes of the node-facing calls.
inline constexpr std::string_view kErrBlockOutOfOrder = "block_out_of_order";
inline constexpr std::string_view kErrNoBlock = "no_block";  // deliverTx/endBlock outside a block
inline constexpr std::string_view kErrInsufficientFunds = "insufficient_funds";
inline constexpr std::string_view kErrUnknownAccount = "unknown_account";

inline constexpr std::string_view kCodespaceSdk = "sdk";
inline constexpr std::string_view kCodespaceUndefined = "undefined";

// An error registered by a Cosmos SDK or poktroll module: its ABCI codespace and code, and the
// description that ends its text (`<context>: <description>`).
struct RegisteredError {
  std::string_view codespace;
  std::uint32_t code;
  std::string_view description;
};

// Cosmos SDK (types/errors/errors.go).
inline constexpr RegisteredError kSdkErrTxDecode{"sdk", 2, "tx parse error"};
inline constexpr RegisteredError kSdkErrInsufficientFunds{"sdk", 5, "insufficient funds"};
inline constexpr RegisteredError kSdkErrUnknownRequest{"sdk", 6, "unknown request"};
inline constexpr RegisteredError kSdkErrInvalidAddress{"sdk", 7, "invalid address"};
inline constexpr RegisteredError kSdkErrInvalidRequest{"sdk", 18, "invalid request"};
inline constexpr RegisteredError kSdkErrKeyNotFound{"sdk", 22, "key not found"};
inline constexpr RegisteredError kSdkErrInvalidHeight{"sdk", 26, "invalid height"};
// Keeper errors wrapped in a gRPC status lose their code: code 1, codespace "undefined".
inline constexpr RegisteredError kErrInternal{"undefined", 1, "internal"};

// poktroll x/proof (x/proof/types/errors.go).
inline constexpr RegisteredError kErrProofInvalidAddress{"proof", 1101, "invalid address"};
inline constexpr RegisteredError kErrProofNotFound{"proof", 1102, "supplier not found"};
inline constexpr RegisteredError kErrProofInvalidService{"proof", 1103,
                                                         "invalid service in supplier"};
inline constexpr RegisteredError kErrProofInvalidClaimRootHash{"proof", 1104, "invalid root hash"};
inline constexpr RegisteredError kErrProofClaimNotFound{"proof", 1106, "claim not found"};
inline constexpr RegisteredError kErrProofInvalidProof{"proof", 1108, "invalid proof"};
inline constexpr RegisteredError kErrProofInvalidRelay{"proof", 1109, "invalid relay"};
inline constexpr RegisteredError kErrProofInvalidRelayRequest{"proof", 1110,
                                                              "invalid relay request"};
inline constexpr RegisteredError kErrProofInvalidRelayResponse{"proof", 1111,
                                                               "invalid relay response"};
inline constexpr RegisteredError kErrProofPubKeyNotFound{"proof", 1114, "public key not found"};
inline constexpr RegisteredError kErrProofInvalidSessionHeader{"proof", 1115,
                                                               "invalid session header"};
inline constexpr RegisteredError kErrProofInvalidSessionId{"proof", 1116, "invalid session ID"};
inline constexpr RegisteredError kErrProofInvalidSessionEndHeight{"proof", 1117,
                                                                  "invalid session end height"};
inline constexpr RegisteredError kErrProofInvalidSessionStartHeight{"proof", 1118,
                                                                    "invalid session start height"};
inline constexpr RegisteredError kErrProofClaimOutsideOfWindow{
    "proof", 1121, "claim attempted outside of the session's claim window"};
inline constexpr RegisteredError kErrProofProofOutsideOfWindow{
    "proof", 1122, "proof attempted outside of the session's proof window"};
inline constexpr RegisteredError kErrProofSupplierMismatch{
    "proof", 1123, "supplier operator address does not match the claim or proof"};
inline constexpr RegisteredError kErrProofServiceNotFound{"proof", 1125, "service not found"};
inline constexpr RegisteredError kErrProofComputeUnitsMismatch{
    "proof", 1126,
    "mismatch: claim compute units != number of relays * service compute units per relay"};
inline constexpr RegisteredError kErrProofNotEnoughFunds{"proof", 1127,
                                                         "not enough funds to submit proof"};
inline constexpr RegisteredError kErrProofNotRequired{"proof", 1129, "proof not required"};
inline constexpr RegisteredError kErrProofInvalidRelayDifficulty{"proof", 1130,
                                                                 "invalid relay difficulty"};

inline constexpr RegisteredError kErrProofAccNotFound{"proof", 1124, "account not found"};

// poktroll x/service (x/service/types/errors.go).
inline constexpr RegisteredError kErrServiceInvalidRelayResponse{"service", 1110,
                                                                 "invalid relay response"};
inline constexpr RegisteredError kErrServiceInvalidRelayRequest{"service", 1111,
                                                                "invalid relay request"};

// poktroll pkg/crypto/rings (the ring client the proof module verifies requests with).
inline constexpr RegisteredError kErrRingsInvalidRelayRequest{"rings", 2, "invalid relay request"};
inline constexpr RegisteredError kErrRingsInvalidRelayRequestSignature{
    "rings", 3, "invalid relay request signature"};

// poktroll x/session (x/session/types/errors.go).
inline constexpr RegisteredError kErrSessionHydration{"session", 1101,
                                                      "error during session hydration"};
inline constexpr RegisteredError kErrSessionAppNotFound{
    "session", 1102, "application for session not found not found "};
inline constexpr RegisteredError kErrSessionAppNotStakedForService{
    "session", 1103, "application in session not staked for requested service"};
inline constexpr RegisteredError kErrSessionSuppliersNotFound{"session", 1104,
                                                              "no suppliers not found for session"};
inline constexpr RegisteredError kErrSessionInvalidAppAddress{
    "session", 1105, "invalid application address for session"};
inline constexpr RegisteredError kErrSessionInvalidBlockHeight{"session", 1107,
                                                               "invalid block height for session"};
inline constexpr RegisteredError kErrSessionInvalidSessionId{"session", 1108, "invalid sessionId"};

// poktroll x/shared (x/shared/types/errors.go).
inline constexpr RegisteredError kErrSharedInvalidServiceId{"shared", 1108, "invalid service ID"};

// --- Events and outcomes ----------------------------------------------------------------------

struct EventAttribute {
  std::string key;
  std::string value;
  friend bool operator==(const EventAttribute&, const EventAttribute&) = default;
};

// An ABCI event. Typed poktroll events have type = full proto name and one attribute per set
// field (JSON-encoded value: strings and 64-bit integers quoted), keys sorted, then `msg_index`
// (in a tx) or `mode` = "EndBlock" (at the end of a block).
struct Event {
  std::string type;
  std::vector<EventAttribute> attributes;

  // The value of the first attribute named `key`, or nullptr.
  const std::string* find(std::string_view key) const;
};

// The outcome of one message, as a ForeignMessageHandler returns it: code 0 with its events and
// response, or the failing module's codespace/code and its error text (without the
// "failed to execute message; message index: i: " prefix, which deliverTx adds).
struct MessageOutcome {
  std::uint32_t code = 0;
  std::string codespace;
  std::string log;
  std::vector<Event> events;
  protocol::TxMessage response;  // e.g. {"/cosmos.bank.v1beta1.MsgSendResponse", {}}
};

// Executes a message type ChainState does not know (MsgSend), with the signer that the node's
// ante handler checked. It may call debit()/credit(); deliverTx reverts those if the tx fails.
using ForeignMessageHandler =
    std::function<MessageOutcome(const protocol::TxMessage& message, std::string_view signer)>;

// The outcome of validateBasic() or deliverTx(): what ExecTxResult / ResponseCheckTx carry,
// minus the ante handler's fee and signature events, which the node puts in front of `events`.
struct TxOutcome {
  std::uint32_t code = 0;
  std::string codespace;
  std::string log;
  util::Bytes data;  // TxMsgData{2: msg_responses} on success
  std::vector<Event> events;

  bool ok() const { return code == 0; }
};

// The outcome of a query (the fields of abci.ResponseQuery the devnet sets).
// x/bank's AllBalances (QueryAllBalancesRequest{1 address} → {1 balances, 2 pagination}).
inline constexpr std::string_view kAllBalancesQueryPath = "/cosmos.bank.v1beta1.Query/AllBalances";

struct QueryOutcome {
  std::uint32_t code = 0;
  std::string codespace;  // "sdk" when code != 0
  std::string log;
  util::Bytes value;        // the protobuf response
  std::int64_t height = 0;  // the state height the query ran at; 0 for height errors
};

// --- Views ------------------------------------------------------------------------------------

struct AccountView {
  std::string address;
  std::uint64_t accountNumber = 0;
  std::uint64_t sequence = 0;
  std::optional<crypto::PublicKey> publicKey;
  std::uint64_t balanceUpokt = 0;
};

// pocket.proof.ClaimProofStatus.
enum class ProofStatus : int { pendingValidation = 0, validated = 1, invalid = 2 };

enum class SettlementOutcome { pending, settled, expiredProofMissing, expiredProofInvalid };

// A claim as the devnet tracks it, including what happened to it after its proof window (kept
// for /devnet/state after poktroll would have deleted it).
struct ClaimRecord {
  std::string supplierOperatorAddress;
  protocol::SessionHeader sessionHeader;
  util::Bytes rootHash;  // 48 bytes
  std::uint64_t numRelays = 0;
  std::uint64_t numClaimedComputeUnits = 0;
  std::string claimedUpokt;  // decimal
  std::int64_t createdAtHeight = 0;
  std::int64_t updatedAtHeight = 0;
  std::int64_t proofWindowCloseHeight = 0;  // the settlement height
  ProofStatus proofStatus = ProofStatus::pendingValidation;
  bool proofSubmitted = false;
  std::string proofFailureReason;  // EventProofValidityChecked.failure_reason when invalid
  // Known once the proof seed block (proof window open − 1) exists; fixed at settlement.
  std::optional<protocol::ProofRequirement> proofRequirement;
  SettlementOutcome settlement = SettlementOutcome::pending;
  std::string settlementReason;  // in words
  std::int64_t settledAtHeight = 0;
  std::uint64_t settledUpokt = 0;
  std::uint64_t slashedUpokt = 0;
};

// Counters of every outcome (rejections by registered error name, e.g. "proof/1121").
struct ChainStats {
  std::uint64_t messagesAccepted = 0;
  std::map<std::string, std::uint64_t> messagesRejected;  // key: "<codespace>/<code>"
  std::uint64_t proofsValid = 0;
  std::uint64_t proofsInvalid = 0;
  std::uint64_t claimsSettled = 0;
  std::uint64_t claimsExpired = 0;
  std::uint64_t queriesFailed = 0;
};

// --- The state machine ------------------------------------------------------------------------

class ChainState {
 public:
  // Query snapshots kept by default: heights older than the last this-many blocks answer
  // "failed to load state at height" (code 18), like a pruning node.
  static constexpr std::size_t kDefaultRetainedHeights = 500;

  // Builds the genesis state (height 0): accounts in the order of genesis.accounts, then one
  // account (balance 0) for every other actor address in the order applications, gateways,
  // suppliers (operator, owner), service owners, DAO address; account numbers in that order.
  // Throws std::invalid_argument with validateGenesis()'s message for a bad genesis.
  ChainState(Genesis genesis, util::LogSink& log,
             std::size_t retainedHeights = kDefaultRetainedHeights);
  ~ChainState();
  ChainState(const ChainState&) = delete;
  ChainState& operator=(const ChainState&) = delete;

  const Genesis& genesis() const;
  // The last committed height (0 before the first endBlock()).
  std::int64_t height() const;
  // The height of the block being executed, or 0 between blocks.
  std::int64_t blockInProgress() const;
  // Block hash of a committed or in-progress height; empty for h <= 0 or unknown heights.
  util::Bytes blockHash(std::int64_t height) const;
  Time blockTime(std::int64_t height) const;

  // --- Blocks ---
  // Starts block `height` (= height() + 1) with its time and CometBFT header hash (32 bytes).
  // Errors: kErrBlockOutOfOrder (wrong height, a block already in progress, bad hash length).
  util::Status beginBlock(std::int64_t height, Time time, util::ByteSpan blockHash);
  // Ends the block in progress: validates the proofs submitted in it (EventProofValidityChecked),
  // settles or expires the claims whose proof window closes at this height
  // (EventClaimSettled / EventClaimExpired / EventSupplierSlashed), commits, and returns the
  // EndBlock events (each ending with mode=EndBlock). Error kErrNoBlock outside a block.
  util::Result<std::vector<Event>> endBlock();

  // --- Transactions ---
  // poktroll's ValidateBasic of each message (stage A), in order; the first failure is the tx's
  // outcome with its module codespace and code. Runs in CheckTx and in DeliverTx before the ante
  // handler. Messages of other types pass (the node validates those it handles).
  TxOutcome validateBasic(std::span<const protocol::TxMessage> messages) const;
  // Executes the messages of one tx signed by `signer` in the block in progress, all or nothing:
  // on the first failure every change made by earlier messages of the tx is reverted and the
  // outcome is code 1 / "undefined" for poktroll keeper errors (or the foreign handler's code),
  // log "failed to execute message; message index: <i>: <error>". On success: code 0, the
  // `message` event and the typed events of each message, data = TxMsgData. A message of a type
  // that is neither poktroll's nor handled by `foreign` fails with sdk/6.
  TxOutcome deliverTx(std::span<const protocol::TxMessage> messages, std::string_view signer,
                      const ForeignMessageHandler& foreign = {});

  // --- Accounts (current state; for the node's ante handler and foreign messages) ---
  std::optional<AccountView> account(std::string_view address) const;
  std::uint64_t balance(std::string_view address) const;
  // Error kErrUnknownAccount unless the account exists.
  util::Status setPublicKey(std::string_view address, const crypto::PublicKey& key);
  util::Status incrementSequence(std::string_view address);
  // Error kErrInsufficientFunds ("<balance>upokt is smaller than <amount>upokt") or
  // kErrUnknownAccount; changes nothing then.
  util::Status debit(std::string_view address, std::uint64_t amountUpokt);
  // Creates the account (next account number) when it does not exist.
  void credit(std::string_view address, std::uint64_t amountUpokt);
  // Cosmos module account address: bech32("pokt", sha256(name)[:20]) ("fee_collector", "proof").
  static std::string moduleAddress(std::string_view moduleName);

  // --- Queries ---
  // Answers an abci_query gRPC path at `height` (0 = last committed) with BaseApp's height rules
  // and error mapping (docs/protocol.md §9): the paths of common/protocol/abci_query.h except the
  // two simulation paths, which need the node's ante handler, plus kAllBalancesQueryPath (what
  // Cosmos wallets ask for a balance list). Unknown path: code 6
  // "unknown query path: unknown request".
  QueryOutcome query(std::string_view path, util::ByteSpan data, std::int64_t height) const;

  // poktroll's session hydration for (application, service, blockHeight) on the committed state
  // of `queryHeight` (0 = last committed); blockHeight 0 = queryHeight. Errors carry the gRPC
  // code poktroll's GetSession returns: util::Error{code = "InvalidArgument" or "Internal",
  // message = the module error text}.
  util::Result<session::Session> getSession(std::string_view applicationAddress,
                                            std::string_view serviceId, std::int64_t blockHeight,
                                            std::int64_t queryHeight = 0) const;

  // Params in force at a height (the params history; heights ≤ 0 read genesis params).
  SharedParams sharedParamsAt(std::int64_t height) const;
  // The shared params at a height as the session arithmetic wants them (with the grid anchor).
  protocol::SharedParams protocolParamsAt(std::int64_t height) const;
  SessionParams sessionParamsAt(std::int64_t height) const;
  ProofParams proofParamsAt(std::int64_t height) const;
  TokenomicsParams tokenomicsParamsAt(std::int64_t height) const;
  // Compute units per relay / relay-mining target of a service at a height; nullopt if unknown.
  std::optional<std::uint64_t> computeUnitsPerRelayAt(std::string_view serviceId,
                                                      std::int64_t height) const;
  std::optional<crypto::Hash32> relayMiningTargetAt(std::string_view serviceId,
                                                    std::int64_t height) const;

  // --- Inspection ---
  // Current stakes (0 if not staked).
  std::uint64_t applicationStake(std::string_view address) const;
  std::uint64_t supplierStake(std::string_view operatorAddress) const;
  std::uint64_t gatewayStake(std::string_view address) const;
  // Every claim seen, pending and finished, in creation order.
  std::vector<ClaimRecord> claims() const;
  const ChainStats& stats() const;
  // The /devnet/state document: {"height", "claims": [...], "accounts": [...],
  // "applications": [...], "suppliers": [...], "gateways": [...]} (docs/devnet.md).
  nlohmann::json stateJson() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "PENDING_VALIDATION", "VALIDATED", "INVALID".
std::string_view proofStatusName(ProofStatus status);
// "pending", "settled", "expired_proof_missing", "expired_proof_invalid".
std::string_view settlementOutcomeName(SettlementOutcome outcome);

}  // namespace pocket::devnet
