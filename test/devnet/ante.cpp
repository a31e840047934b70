#include "test/devnet/ante.h"

#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "common/crypto/keys.h"
#include "common/protocol/proto_wire.h"

namespace pocket::devnet {
namespace {

AbciFailure sdkFailure(std::uint32_t code, std::string log) {
  return AbciFailure{code, std::string(kCodespaceSdk), std::move(log)};
}

// Go's time.Time.String() for a UTC time: "2006-01-02 15:04:05.999999999 +0000 UTC".
std::string goTimeString(const protocol::Timestamp& time) {
  std::time_t seconds = static_cast<std::time_t>(time.seconds);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  std::string out = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", utc.tm_year + 1900,
                                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  if (time.nanos != 0) {
    std::string fraction = fmt::format("{:09}", time.nanos);
    while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
    out += "." + fraction;
  }
  return out + " +0000 UTC";
}

std::int64_t toNanos(const protocol::Timestamp& t) {
  return t.seconds * 1000000000 + t.nanos;
}

std::string coinsText(std::uint64_t amount) {
  return amount == 0 ? std::string() : fmt::format("{}{}", amount, kFeeDenom);
}

}  // namespace

util::Result<std::string> messageSigner(const protocol::TxMessage& message) {
  // MsgCreateClaim, MsgSubmitProof (supplier_operator_address) and MsgSend (from_address) all
  // carry their signer in field 1.
  if (message.typeUrl != protocol::kMsgCreateClaimTypeUrl &&
      message.typeUrl != protocol::kMsgSubmitProofTypeUrl && message.typeUrl != kMsgSendTypeUrl) {
    return util::makeError(
        "unknown_message",
        fmt::format("unable to resolve type URL {}: tx parse error", message.typeUrl));
  }
  std::string signer;
  auto read = protocol::wire::readFields(
      message.value, message.typeUrl,
      [&](protocol::wire::Reader& reader,
          const protocol::wire::Field& field) -> std::optional<util::Error> {
        if (field.number == 1) {
          if (field.type != protocol::wire::WireType::lengthDelimited) {
            return reader.wrongWireType(field);
          }
          signer = std::string(util::asChars(field.bytes));
        }
        return std::nullopt;
      });
  if (!read) {
    return util::makeError("bad_message", read.error().message + ": tx parse error");
  }
  return signer;
}

std::uint64_t txGas(const protocol::DecodedTx& tx) {
  return kGasPerTx + kGasPerMessage * tx.messages.size() + (tx.unordered ? kUnorderedTxGas : 0);
}

std::optional<std::uint64_t> feeUpokt(const protocol::TxFee& fee) {
  std::uint64_t total = 0;
  for (const protocol::Coin& coin : fee.amount) {
    if (coin.denom != kFeeDenom) return std::nullopt;
    std::uint64_t amount = 0;
    auto [ptr, ec] =
        std::from_chars(coin.amount.data(), coin.amount.data() + coin.amount.size(), amount);
    if (ec != std::errc() || ptr != coin.amount.data() + coin.amount.size()) return std::nullopt;
    total += amount;
  }
  return total;
}

std::variant<AnteOutcome, AbciFailure> checkAnte(const protocol::DecodedTx& tx,
                                                 std::string_view signer,
                                                 const AnteAccount& account,
                                                 const AnteContext& context) {
  AnteOutcome outcome;
  outcome.signer = std::string(signer);
  outcome.gasWanted = tx.fee.gasLimit;
  outcome.unordered = tx.unordered;

  // ValidateBasic of the tx.
  if (tx.signatures.empty()) return sdkFailure(kCodeNoSignatures, "no signatures supplied");
  if (tx.signatures.size() != 1) {
    return sdkFailure(kCodeUnauthorized,
                      fmt::format("wrong number of signers; expected 1, got {}: unauthorized",
                                  tx.signatures.size()));
  }
  std::optional<std::uint64_t> fee = feeUpokt(tx.fee);
  if (!fee) {
    return sdkFailure(kCodeInsufficientFee,
                      "invalid fee provided: only upokt fees are accepted: insufficient fee");
  }
  outcome.feeUpokt = *fee;

  // TxTimeoutHeightDecorator.
  if (tx.timeoutHeight > 0 && static_cast<std::uint64_t>(context.blockHeight) > tx.timeoutHeight) {
    return sdkFailure(kCodeTxTimeoutHeight,
                      fmt::format("block height: {}, timeout height: {}: tx timeout height",
                                  context.blockHeight, tx.timeoutHeight));
  }
  if (tx.timeoutTimestamp &&
      (tx.timeoutTimestamp->seconds != 0 || tx.timeoutTimestamp->nanos != 0)) {
    protocol::Timestamp timeout{tx.timeoutTimestamp->seconds, tx.timeoutTimestamp->nanos};
    if (toNanos(timeout) < toNanos(context.blockTime)) {
      return sdkFailure(kCodeTxTimeout,
                        fmt::format("block time: {}, timeout timestamp: {}: tx timeout",
                                    goTimeString(context.blockTime), goTimeString(timeout)));
    }
  }

  // ValidateMemoDecorator.
  if (tx.memo.size() > kMaxMemoCharacters) {
    return sdkFailure(kCodeMemoTooLarge,
                      fmt::format("maximum number of characters is {} but received {} characters: "
                                  "memo too large",
                                  kMaxMemoCharacters, tx.memo.size()));
  }

  // Constant gas, metered against the tx's limit.
  std::uint64_t gas = txGas(tx);
  outcome.gasUsed = gas;
  if (!context.infiniteGas && tx.fee.gasLimit < gas) {
    return sdkFailure(kCodeOutOfGas,
                      fmt::format("out of gas in location: txSize; gasWanted: {}, gasUsed: {}: "
                                  "out of gas",
                                  tx.fee.gasLimit, gas));
  }

  // DeductFeeDecorator: minimum gas price (CheckTx only), then the fee payer pays.
  if (context.checkTx && context.minGasPriceNumerator != 0) {
    // ceil(gas_limit × price)
    __extension__ using Wide = unsigned __int128;  // gas × numerator can exceed 64 bits
    Wide product = static_cast<Wide>(tx.fee.gasLimit) * context.minGasPriceNumerator;
    Wide required128 =
        (product + context.minGasPriceDenominator - 1) / context.minGasPriceDenominator;
    auto required = static_cast<std::uint64_t>(required128);
    if (*fee < required) {
      return sdkFailure(kCodeInsufficientFee,
                        fmt::format("insufficient fees; got: {} required: {}: insufficient fee",
                                    coinsText(*fee), coinsText(required)));
    }
  }
  if (!account.exists) {
    return sdkFailure(kCodeUnknownAddress,
                      fmt::format("fee payer address: {} does not exist: unknown address", signer));
  }
  if (*fee > 0 && account.spendableUpokt < *fee) {
    return sdkFailure(
        kCodeInsufficientFunds,
        fmt::format("spendable balance {}{} is smaller than {}{}: insufficient funds: "
                    "insufficient funds",
                    account.spendableUpokt, kFeeDenom, *fee, kFeeDenom));
  }

  // SetPubKeyDecorator.
  util::Bytes publicKey = account.publicKey;
  if (!tx.signerPublicKey.empty()) {
    auto key = crypto::PublicKey::fromCompressed(tx.signerPublicKey);
    if (!key || key->address() != signer) {
      return sdkFailure(kCodeInvalidPubKey,
                        fmt::format("pubKey does not match signer address {} with signer index: 0: "
                                    "invalid pubkey",
                                    signer));
    }
    if (publicKey.empty()) outcome.publicKey = tx.signerPublicKey;
    publicKey = tx.signerPublicKey;
  }
  if (publicKey.empty())
    return sdkFailure(kCodeInvalidPubKey, "pubkey on account is not set: invalid pubkey");

  // SigVerificationDecorator: unordered nonce or sequence, then the signature.
  if (tx.unordered) {
    if (!tx.timeoutTimestamp ||
        (tx.timeoutTimestamp->seconds == 0 && tx.timeoutTimestamp->nanos == 0)) {
      return sdkFailure(kCodeInvalidRequest,
                        "unordered transaction must have timeout_timestamp set: invalid request");
    }
    protocol::Timestamp timeout{tx.timeoutTimestamp->seconds, tx.timeoutTimestamp->nanos};
    if (toNanos(timeout) < toNanos(context.blockTime)) {
      return sdkFailure(kCodeInvalidRequest,
                        "unordered transaction has a timeout_timestamp that has already passed: "
                        "invalid request");
    }
    if (toNanos(timeout) > toNanos(context.blockTime) + kUnorderedTxMaxTtlSeconds * 1000000000) {
      return sdkFailure(kCodeInvalidRequest, "unordered tx ttl exceeds 10m0s: invalid request");
    }
    if (account.unorderedNonceUsed) {
      return sdkFailure(kCodeInvalidRequest,
                        "failed to add unordered nonce: unordered transaction with the same "
                        "timeout timestamp already exists: invalid request");
    }
    outcome.unorderedNonceNanos = toNanos(timeout);
  } else if (tx.sequence != account.sequence) {
    return sdkFailure(kCodeWrongSequence,
                      fmt::format("account sequence mismatch, expected {}, got {}: incorrect "
                                  "account sequence",
                                  account.sequence, tx.sequence));
  }
  auto key = crypto::PublicKey::fromCompressed(publicKey);
  protocol::UnsignedTx unsigned_;
  unsigned_.bodyBytes = tx.bodyBytes;
  unsigned_.authInfoBytes = tx.authInfoBytes;
  unsigned_.signDocBytes = protocol::encodeSignDoc(tx.bodyBytes, tx.authInfoBytes, context.chainId,
                                                   account.accountNumber);
  if (context.verifySignature &&
      (!key || !protocol::verifyTxSignature(unsigned_, *key, tx.signatures[0]))) {
    return sdkFailure(kCodeUnauthorized,
                      fmt::format("signature verification failed; please verify account number "
                                  "({}) and chain-id ({}): (unable to verify single signer "
                                  "signature): unauthorized",
                                  account.accountNumber, context.chainId));
  }
  return outcome;
}

}  // namespace pocket::devnet
