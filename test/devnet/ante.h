#pragma once
// Transaction admission as the Cosmos SDK v0.53 ante handler does it, in its order
// (docs/transactions.md): decode, ValidateBasic of the tx, timeout height / timeout timestamp
// (and the unordered rules), memo size, constant gas, minimum fee (CheckTx only), fee payer and
// funds, public key, sequence, SIGN_MODE_DIRECT signature over the received bytes with the chain id
// and account number. The module-level message checks (ValidateBasic of each message, then its
// handler) are the state machine's; this only finds the signer.
//
// Pure: checkAnte reads an AccountView and returns what to apply; the caller (the node) applies
// it to its check state or to the block state. Thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/protocol/block_header.h"
#include "common/protocol/tx.h"
#include "common/util/bytes.h"
#include "common/util/result.h"
#include "test/devnet/state/chain_state.h"

namespace pocket::devnet {

// ABCI codes of codespace "sdk" (cosmos-sdk types/errors/errors.go).
inline constexpr std::uint32_t kCodeTxDecode = 2;
inline constexpr std::uint32_t kCodeUnauthorized = 4;
inline constexpr std::uint32_t kCodeInsufficientFunds = 5;
inline constexpr std::uint32_t kCodeUnknownRequest = 6;
inline constexpr std::uint32_t kCodeInvalidAddress = 7;
inline constexpr std::uint32_t kCodeInvalidPubKey = 8;
inline constexpr std::uint32_t kCodeUnknownAddress = 9;
inline constexpr std::uint32_t kCodeOutOfGas = 11;
inline constexpr std::uint32_t kCodeMemoTooLarge = 12;
inline constexpr std::uint32_t kCodeInsufficientFee = 13;
inline constexpr std::uint32_t kCodeNoSignatures = 15;
inline constexpr std::uint32_t kCodeInvalidRequest = 18;
inline constexpr std::uint32_t kCodeKeyNotFound = 22;
inline constexpr std::uint32_t kCodeInvalidHeight = 26;
inline constexpr std::uint32_t kCodeTxTimeoutHeight = 30;
inline constexpr std::uint32_t kCodeWrongSequence = 32;
inline constexpr std::uint32_t kCodeTxTimeout = 42;

// Constant gas (a simplification docs/devnet.md lists): per transaction, per message, and the
// unordered surcharge.
inline constexpr std::uint64_t kGasPerTx = 50000;
inline constexpr std::uint64_t kGasPerMessage = 50000;
inline constexpr std::uint64_t kUnorderedTxGas = 2240;
inline constexpr std::uint64_t kMaxMemoCharacters = 256;
// x/auth's unordered-transaction time to live (v0.53 default): 10 minutes.
inline constexpr std::int64_t kUnorderedTxMaxTtlSeconds = 600;
inline constexpr std::string_view kFeeDenom = "upokt";
inline constexpr std::string_view kMsgSendTypeUrl = "/cosmos.bank.v1beta1.MsgSend";

// An ABCI-level failure: what CheckTx / the tx result carries.
struct AbciFailure {
  std::uint32_t code = 0;
  std::string codespace;
  std::string log;
};

// What the ante handler needs to know about the signer's account.
struct AnteAccount {
  bool exists = false;
  std::uint64_t accountNumber = 0;
  std::uint64_t sequence = 0;        // check-state value in CheckTx (committed + mempool txs)
  util::Bytes publicKey;             // empty until the account's first tx
  std::uint64_t spendableUpokt = 0;  // after the fees of its mempool txs in CheckTx
  // Unordered-tx nonces already used by this signer (timeout timestamps, unix nanoseconds).
  bool unorderedNonceUsed = false;
};

struct AnteContext {
  std::string chainId;
  std::int64_t blockHeight = 0;   // the height the tx would be executed at
  protocol::Timestamp blockTime;  // its block time
  bool checkTx = false;           // CheckTx checks the minimum gas price; DeliverTx does not
  bool verifySignature = true;    // false in simulation (the signature is empty there)
  bool infiniteGas = false;       // simulation: the gas meter has no limit (gas_limit unchecked)
  // Minimum gas price in upokt per unit of gas, as a fraction (numerator / denominator).
  std::uint64_t minGasPriceNumerator = 0;
  std::uint64_t minGasPriceDenominator = 1;
};

// The ante handler's verdict on a decoded tx whose single signer is `signer`.
struct AnteOutcome {
  std::string signer;          // bech32 address of the fee payer and signer
  std::uint64_t feeUpokt = 0;  // to deduct
  std::uint64_t gasWanted = 0;
  std::uint64_t gasUsed = 0;
  bool unordered = false;
  std::int64_t unorderedNonceNanos = 0;  // timeout timestamp, when unordered
  util::Bytes publicKey;                 // to record on the account when it had none
};

// The single signer a tx's messages name (each message type's signer field). Error with sdk/4
// "wrong number of signers" when messages name different signers, or the message failure when a
// message cannot be decoded far enough to find its signer (sdk/2).
util::Result<std::string> messageSigner(const protocol::TxMessage& message);

// The tx's gas: constant per tx and per message, plus the unordered surcharge.
std::uint64_t txGas(const protocol::DecodedTx& tx);

// Runs the ante chain. `account` describes the signer (messageSigner of the tx's messages).
// Either the outcome to apply or the failure with the SDK's code, codespace and log.
std::variant<AnteOutcome, AbciFailure> checkAnte(const protocol::DecodedTx& tx,
                                                 std::string_view signer,
                                                 const AnteAccount& account,
                                                 const AnteContext& context);

// The fee a tx offers in upokt (0 when none); nullopt when it offers another denom or an amount
// that does not fit 64 bits.
std::optional<std::uint64_t> feeUpokt(const protocol::TxFee& fee);

}  // namespace pocket::devnet
