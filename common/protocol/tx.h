#pragma once
// Cosmos SDK v0.53 transactions signed in SIGN_MODE_DIRECT by one secp256k1 key, carrying
// poktroll's supplier messages (MsgCreateClaim, MsgSubmitProof). Byte layout: docs/protocol.md §9;
// every function here reproduces the bytes Go's cosmos-sdk produces (fields in number order, proto3
// zero values omitted, set sub-messages always written), pinned by
// test/vectors/cosmos/tx-sign.json.
//
// The session manager's path for one supplier and one window:
//
//   auto tx = buildClaimTx(operatorAddress, claims, options);   // or buildProofTx
//   SignedTx signedTx = signTx(*tx, operatorKey);               // sha256(sign doc), ECDSA r‖s
//   broadcast signedTx.txRaw (base64 in broadcast_tx_sync); track signedTx.hash.
//
// Gas: build once with any fee, send simulateQuery(simulationTxRaw(*tx)) (abci_query.h), then build
// again with fee.gasLimit and fee.amount from the simulated gas and sign that.
// On account sequence mismatch only auth_info changes: rebuild with the new `sequence` and sign
// again; the body bytes stay identical.
// Batches: keep txRaw under kMaxBroadcastTxBytes, or split the batch into several transactions.
//
// All functions are pure (no I/O, no shared state) and thread-safe. Bad input (an empty chain id, a
// malformed public key, a claim the chain's ValidateBasic would reject, malformed encoded bytes) is
// a util::Error with a stable code, never an exception or a crash.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/keys.h"
#include "common/protocol/relay.h"
#include "common/util/bytes.h"
#include "common/util/result.h"
#include "pocket/proof/tx.pb.h"
#include "pocket/session/types.pb.h"

namespace pocket::protocol {

inline constexpr std::string_view kMsgCreateClaimTypeUrl = "/pocket.proof.MsgCreateClaim";
inline constexpr std::string_view kMsgSubmitProofTypeUrl = "/pocket.proof.MsgSubmitProof";
inline constexpr std::string_view kSecp256k1PubKeyTypeUrl = "/cosmos.crypto.secp256k1.PubKey";

// Length of a claim's root hash: sha256 of the SMST root node, then sum and count (big-endian u64).
inline constexpr std::size_t kClaimRootHashSize = 48;
inline constexpr std::size_t kCompressedPublicKeySize = 33;
inline constexpr std::size_t kCosmosSignatureSize = 64;
// CometBFT's defaults: the mempool takes txs up to 1 MiB (max_tx_bytes), and a broadcast_tx_sync
// POST body is capped at 1,000,000 bytes, which base64 (4/3) and the JSON envelope bring down to
// about 749,000 bytes of TxRaw (the largest transaction a default CometBFT node takes in).
inline constexpr std::size_t kMaxMempoolTxBytes = 1048576;
inline constexpr std::size_t kMaxBroadcastTxBytes = 749000;

// A message packed as google.protobuf.Any, the unit a TxBody carries. Value type.
struct TxMessage {
  std::string typeUrl;  // "/" + full protobuf message name
  util::Bytes value;    // the encoded message
};

struct Coin {
  std::string denom;
  std::string amount;  // decimal integer, as Go's sdk.Int prints it
};

struct TxFee {
  // Sorted by denom, each amount a positive decimal integer without leading zeros (the SDK's
  // Coins.IsValid). Empty is valid: a fee-less transaction (Fee then holds only gas_limit).
  std::vector<Coin> amount;
  std::uint64_t gasLimit = 0;
  std::string payer;    // empty = the signer pays; else a pokt address
  std::string granter;  // empty = no fee grant; else a pokt address
};

// google.protobuf.Timestamp: seconds since the Unix epoch and 0..999,999,999 nanoseconds.
struct TxTimestamp {
  std::int64_t seconds = 0;
  std::int32_t nanos = 0;
};

// Everything about a transaction except its messages and its signature. Value type.
struct TxOptions {
  std::string chainId;              // "pocket" on the devnet; must not be empty
  std::uint64_t accountNumber = 0;  // from the Account query; 0 for genesis accounts
  std::uint64_t sequence = 0;       // committed sequence + txs of this key waiting in the mempool
  util::Bytes signerPublicKey;      // 33-byte compressed point; always sent (first-tx rule)
  std::string memo;                 // valid UTF-8
  std::uint64_t timeoutHeight = 0;  // last height the tx may land in; 0 = none
  // Unordered transactions (v0.53): sequence must be 0 and timeoutTimestamp set.
  bool unordered = false;
  std::optional<TxTimestamp> timeoutTimestamp;
  TxFee fee;
};

// The bytes a SIGN_MODE_DIRECT signer works from. The signature covers sha256(signDocBytes), and
// bodyBytes/authInfoBytes are sent verbatim in TxRaw. Value type.
struct UnsignedTx {
  util::Bytes bodyBytes;
  util::Bytes authInfoBytes;
  util::Bytes signDocBytes;
};

// A transaction ready for broadcast_tx_sync. Value type.
struct SignedTx {
  util::Bytes bodyBytes;
  util::Bytes authInfoBytes;
  util::Bytes signature;  // 64 bytes r‖s, low-S
  util::Bytes txRaw;      // what is broadcast (base64 in JSON-RPC) and hashed
  std::string hash;       // uppercase hex sha256(txRaw), as CometBFT prints it
};

// One session's claim: the flushed tree's 48-byte root for that session header.
struct SessionClaim {
  const session::SessionHeader* sessionHeader = nullptr;  // not owned; must outlive the call
  util::ByteSpan rootHash;                                // 48 bytes; not owned
};

// One session's proof: the gob-encoded SparseCompactMerkleClosestProof.
struct SessionProof {
  const session::SessionHeader* sessionHeader = nullptr;  // not owned; must outlive the call
  util::ByteSpan proof;                                   // not owned
};

// --- Messages -------------------------------------------------------------------------------

// The protobuf form of a session header (the one messages, queries and the relay's hand encoder
// share) and back. Field for field, no validation: validateSessionHeader checks the result.
session::SessionHeader toProtoSessionHeader(const SessionHeader& header);
SessionHeader fromProtoSessionHeader(const session::SessionHeader& header);

// Checks a session header as poktroll's SessionHeader.ValidateBasic does, except the service-id
// syntax: application address a `pokt` bech32 address, session id and service id non-empty,
// start > 0, end > start. Error code "bad_session_header".
util::Status validateSessionHeader(const session::SessionHeader& header);

// Checks the message as MsgCreateClaim.ValidateBasic does and packs it. Errors: "bad_claim"
// (operator address not a pokt address, root hash not 48 bytes, zero sum or count),
// "bad_session_header".
util::Result<TxMessage> packCreateClaim(const proof::MsgCreateClaim& message);

// Checks the message as MsgSubmitProof.ValidateBasic does and packs it. Errors: "bad_proof"
// (operator address not a pokt address, empty proof), "bad_session_header".
util::Result<TxMessage> packSubmitProof(const proof::MsgSubmitProof& message);

// Packs a batch of claims signed by one supplier operator, in the given order.
// Errors: those of packCreateClaim, "no_messages" for an empty batch.
util::Result<std::vector<TxMessage>> claimMessages(std::string_view supplierOperatorAddress,
                                                   std::span<const SessionClaim> claims);

// Packs a batch of proofs signed by one supplier operator, in the given order.
util::Result<std::vector<TxMessage>> proofMessages(std::string_view supplierOperatorAddress,
                                                   std::span<const SessionProof> proofs);

// --- Encodings -------------------------------------------------------------------------------

// google.protobuf.Any{type_url, value}.
util::Bytes encodeAny(const TxMessage& message);

// Any{"/cosmos.crypto.secp256k1.PubKey", PubKey{key}}, as SignerInfo.public_key carries it.
// Error "bad_public_key" unless 33 bytes starting with 0x02 or 0x03.
util::Result<util::Bytes> encodePublicKeyAny(util::ByteSpan compressedPublicKey);

// TxBody{messages, memo, timeout_height, unordered, timeout_timestamp}.
// Errors: "no_messages", "bad_message" (type URL not "/<name>"), "bad_memo" (invalid UTF-8),
// "bad_timestamp", "bad_unordered".
util::Result<util::Bytes> encodeTxBody(std::span<const TxMessage> messages,
                                       const TxOptions& options);

// AuthInfo{[SignerInfo{public key, single DIRECT, sequence}], Fee}. Errors: "bad_public_key",
// "bad_fee", "bad_unordered".
util::Result<util::Bytes> encodeAuthInfo(const TxOptions& options);

// SignDoc{body_bytes, auth_info_bytes, chain_id, account_number}.
util::Bytes encodeSignDoc(util::ByteSpan bodyBytes, util::ByteSpan authInfoBytes,
                          std::string_view chainId, std::uint64_t accountNumber);

// TxRaw{body_bytes, auth_info_bytes, signatures}; each signature is written even when empty.
util::Bytes encodeTxRaw(util::ByteSpan bodyBytes, util::ByteSpan authInfoBytes,
                        std::span<const util::Bytes> signatures);

// Uppercase hex sha256 of the encoded TxRaw: the hash `tx`, `tx_search` and events use.
std::string txHash(util::ByteSpan txRaw);

// --- Building and signing ----------------------------------------------------------------------

// Body, auth info and sign doc for `messages` (all signed by the key of options.signerPublicKey).
// Errors: those of encodeTxBody and encodeAuthInfo, "bad_chain_id".
util::Result<UnsignedTx> buildUnsignedTx(std::span<const TxMessage> messages,
                                         const TxOptions& options);

// One transaction claiming every session of `claims` for one supplier operator.
util::Result<UnsignedTx> buildClaimTx(std::string_view supplierOperatorAddress,
                                      std::span<const SessionClaim> claims,
                                      const TxOptions& options);

// One transaction proving every session of `proofs` for one supplier operator.
util::Result<UnsignedTx> buildProofTx(std::string_view supplierOperatorAddress,
                                      std::span<const SessionProof> proofs,
                                      const TxOptions& options);

// The 32 bytes the signer signs: sha256(signDocBytes).
util::Bytes signDocDigest(const UnsignedTx& tx);

// Attaches a signature made elsewhere (e.g. a remote signer) and computes TxRaw and its hash.
// Error "bad_signature" unless 64 bytes.
util::Result<SignedTx> attachSignature(const UnsignedTx& tx, util::ByteSpan signature);

// Signs with the supplier operator's key: ECDSA over sha256(signDocBytes), RFC 6979 nonce, 64 bytes
// r‖s, low-S. The key must be the one whose public key the auth info carries (not re-checked).
SignedTx signTx(const UnsignedTx& tx, const crypto::PrivateKey& key);

// True when `signature` (64 bytes r‖s) is a valid low-S ECDSA signature of sha256(signDocBytes) by
// `key`: the check the chain's ante handler makes. False for any malformed signature.
bool verifyTxSignature(const UnsignedTx& tx, const crypto::PublicKey& key,
                       util::ByteSpan signature);

// TxRaw with one empty signature, for gas simulation (signatures are not checked there, the
// sequence is).
util::Bytes simulationTxRaw(const UnsignedTx& tx);

// --- Decoding (what a node does with received bytes) -------------------------------------------

// A TxRaw taken apart. Value type.
struct DecodedTx {
  util::Bytes bodyBytes;
  util::Bytes authInfoBytes;
  std::vector<util::Bytes> signatures;
  std::vector<TxMessage> messages;
  std::string memo;
  std::uint64_t timeoutHeight = 0;
  bool unordered = false;
  std::optional<TxTimestamp> timeoutTimestamp;
  util::Bytes signerPublicKey;  // empty when the SignerInfo carries none
  std::uint64_t sequence = 0;
  TxFee fee;
};

// Decodes a TxRaw with one secp256k1 SIGN_MODE_DIRECT signer, rejecting unknown fields (except
// non-critical body extensions, numbers >= 1024) as the chain's decoder does. Errors: "bad_tx"
// (malformed protobuf, unknown fields, not exactly one signer, another key type or sign mode).
util::Result<DecodedTx> decodeTx(util::ByteSpan txRaw);

}  // namespace pocket::protocol
