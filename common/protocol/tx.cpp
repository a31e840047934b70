#include "common/protocol/tx.h"

#include <limits>

#include <fmt/format.h>
#include <google/protobuf/any.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include "common/crypto/ecdsa.h"
#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/protocol/proto_bytes.h"
#include "common/util/hex.h"
#include "cosmos/crypto/secp256k1/keys.pb.h"
#include "cosmos/tx/v1beta1/tx.pb.h"
#include "pocket/proof/tx.pb.h"
#include "pocket/session/types.pb.h"

namespace pocket::protocol {

namespace {

namespace txpb = cosmos::tx::v1beta1;
using util::Bytes;
using util::ByteSpan;
using util::makeError;

// google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr std::int64_t kMinTimestampSeconds = -62135596800;
constexpr std::int64_t kMaxTimestampSeconds = 253402300799;
constexpr std::int32_t kNanosPerSecond = 1000000000;
// Non-critical TxBody extension fields have numbers from here on; the chain tolerates them.
constexpr int kFirstNonCriticalField = 1024;

util::Status validateTypeUrl(const TxMessage& message, std::size_t index) {
  if (message.typeUrl.size() < 2 || message.typeUrl.front() != '/') {
    return makeError("bad_message",
                     fmt::format("message {} has type URL '{}'; expected '/<full message name>'",
                                 index, message.typeUrl));
  }
  return util::Ok{};
}

util::Status validateTimestamp(const TxTimestamp& timestamp) {
  if (timestamp.nanos < 0 || timestamp.nanos >= kNanosPerSecond) {
    return makeError(
        "bad_timestamp",
        fmt::format("timeout timestamp nanos {} is outside 0..999999999", timestamp.nanos));
  }
  if (timestamp.seconds < kMinTimestampSeconds || timestamp.seconds > kMaxTimestampSeconds) {
    return makeError(
        "bad_timestamp",
        fmt::format("timeout timestamp seconds {} is outside years 1..9999", timestamp.seconds));
  }
  return util::Ok{};
}

util::Status validateUnordered(const TxOptions& options) {
  if (!options.unordered) return util::Ok{};
  if (options.sequence != 0) {
    return makeError(
        "bad_unordered",
        fmt::format("an unordered transaction must have sequence 0, not {}", options.sequence));
  }
  if (!options.timeoutTimestamp) {
    return makeError("bad_unordered", "an unordered transaction needs a timeout timestamp");
  }
  return util::Ok{};
}

bool isPositiveDecimal(std::string_view amount) {
  if (amount.empty() || amount.front() == '0') return false;
  for (char c : amount) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

util::Status validateFee(const TxFee& fee) {
  for (std::size_t i = 0; i < fee.amount.size(); ++i) {
    const Coin& coin = fee.amount[i];
    if (coin.denom.empty()) {
      return makeError("bad_fee", fmt::format("fee coin {} has an empty denom", i));
    }
    if (!isPositiveDecimal(coin.amount)) {
      return makeError("bad_fee", fmt::format("fee coin {} ({}) has amount '{}'; expected a "
                                              "positive decimal integer without leading zeros",
                                              i, coin.denom, coin.amount));
    }
    if (i > 0 && !(fee.amount[i - 1].denom < coin.denom)) {
      return makeError("bad_fee", fmt::format("fee coins must be sorted by denom without "
                                              "duplicates: '{}' follows '{}'",
                                              coin.denom, fee.amount[i - 1].denom));
    }
  }
  for (const std::string* address : {&fee.payer, &fee.granter}) {
    if (address->empty()) continue;
    if (auto ok = crypto::validateAddress(*address); !ok) {
      return makeError("bad_fee", fmt::format("fee {} '{}' is not a pokt address: {}",
                                              address == &fee.payer ? "payer" : "granter", *address,
                                              ok.error().message));
    }
  }
  return util::Ok{};
}

util::Status validatePublicKey(ByteSpan key) {
  if (key.size() != kCompressedPublicKeySize || (key[0] != 0x02 && key[0] != 0x03)) {
    return makeError(
        "bad_public_key",
        fmt::format("signer public key has {} bytes{}; expected a 33-byte compressed "
                    "secp256k1 point starting with 02 or 03",
                    key.size(), key.empty() ? "" : fmt::format(" starting with {:02x}", key[0])));
  }
  return util::Ok{};
}

// A `pokt` bech32 account address, as the messages' ValidateBasic requires.
util::Status validateAddressField(std::string_view value, std::string_view field,
                                  std::string_view code) {
  if (value.empty()) return makeError(std::string(code), fmt::format("{} is empty", field));
  if (auto ok = crypto::validateAddress(value); !ok) {
    return makeError(std::string(code), fmt::format("{} '{}' is not a pokt address: {}", field,
                                                    value, ok.error().message));
  }
  return util::Ok{};
}

std::uint64_t readBigEndian64(ByteSpan bytes) {
  std::uint64_t value = 0;
  for (std::uint8_t b : bytes.first(8)) value = (value << 8) | b;
  return value;
}

// True when `message` or anything below it holds fields this schema does not know. At the top
// level, field numbers from `allowFrom` on are tolerated (0 = none).
bool hasUnknownFields(const google::protobuf::Message& message, int allowFrom) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = reflection->GetUnknownFields(message);
  for (int i = 0; i < unknown.field_count(); ++i) {
    if (allowFrom == 0 || unknown.field(i).number() < allowFrom) return true;
  }
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      int size = reflection->FieldSize(message, field);
      for (int i = 0; i < size; ++i) {
        if (hasUnknownFields(reflection->GetRepeatedMessage(message, field, i), 0)) return true;
      }
    } else if (hasUnknownFields(reflection->GetMessage(message, field), 0)) {
      return true;
    }
  }
  return false;
}

util::Error badTx(std::string message) {
  return makeError("bad_tx", std::move(message));
}

}  // namespace

session::SessionHeader toProtoSessionHeader(const SessionHeader& header) {
  session::SessionHeader out;
  out.set_application_address(header.applicationAddress);
  out.set_service_id(header.serviceId);
  out.set_session_id(header.sessionId);
  out.set_session_start_block_height(header.sessionStartBlockHeight);
  out.set_session_end_block_height(header.sessionEndBlockHeight);
  return out;
}

SessionHeader fromProtoSessionHeader(const session::SessionHeader& header) {
  return SessionHeader{header.application_address(), header.service_id(), header.session_id(),
                       header.session_start_block_height(), header.session_end_block_height()};
}

util::Status validateSessionHeader(const session::SessionHeader& header) {
  auto fail = [](std::string why) { return makeError("bad_session_header", std::move(why)); };
  if (auto ok = validateAddressField(header.application_address(),
                                     "session header application address", "bad_session_header");
      !ok) {
    return ok.error();
  }
  if (header.service_id().empty()) return fail("session header has no service id");
  if (header.session_id().empty()) return fail("session header has no session id");
  if (header.session_start_block_height() <= 0) {
    return fail(fmt::format("session start height {} is not positive",
                            header.session_start_block_height()));
  }
  if (header.session_end_block_height() <= header.session_start_block_height()) {
    return fail(fmt::format("session end height {} is not after its start height {}",
                            header.session_end_block_height(),
                            header.session_start_block_height()));
  }
  return util::Ok{};
}

util::Result<TxMessage> packCreateClaim(const proof::MsgCreateClaim& message) {
  if (auto ok = validateAddressField(message.supplier_operator_address(),
                                     "claim supplier operator address", "bad_claim");
      !ok) {
    return ok.error();
  }
  if (!message.has_session_header()) {
    return makeError("bad_session_header", "claim has no session header");
  }
  if (auto ok = validateSessionHeader(message.session_header()); !ok) return ok.error();
  ByteSpan root = util::asBytes(message.root_hash());
  if (root.size() != kClaimRootHashSize) {
    return makeError("bad_claim", fmt::format("claim root hash has {} bytes; expected {}",
                                              root.size(), kClaimRootHashSize));
  }
  std::uint64_t sum = readBigEndian64(root.subspan(32, 8));
  std::uint64_t count = readBigEndian64(root.subspan(40, 8));
  if (sum == 0 || count == 0) {
    return makeError("bad_claim",
                     fmt::format("claim root has sum {} and count {}; both must be positive "
                                 "(session {})",
                                 sum, count, message.session_header().session_id()));
  }
  return TxMessage{std::string(kMsgCreateClaimTypeUrl), serialize(message)};
}

util::Result<TxMessage> packSubmitProof(const proof::MsgSubmitProof& message) {
  if (auto ok = validateAddressField(message.supplier_operator_address(),
                                     "proof supplier operator address", "bad_proof");
      !ok) {
    return ok.error();
  }
  if (!message.has_session_header()) {
    return makeError("bad_session_header", "proof has no session header");
  }
  if (auto ok = validateSessionHeader(message.session_header()); !ok) return ok.error();
  if (message.proof().empty()) {
    return makeError("bad_proof", fmt::format("proof for session {} is empty",
                                              message.session_header().session_id()));
  }
  return TxMessage{std::string(kMsgSubmitProofTypeUrl), serialize(message)};
}

util::Result<std::vector<TxMessage>> claimMessages(std::string_view supplierOperatorAddress,
                                                   std::span<const SessionClaim> claims) {
  if (claims.empty()) return makeError("no_messages", "the claim batch is empty");
  std::vector<TxMessage> messages;
  messages.reserve(claims.size());
  for (std::size_t i = 0; i < claims.size(); ++i) {
    if (claims[i].sessionHeader == nullptr) {
      return makeError("bad_session_header", fmt::format("claim {} has no session header", i));
    }
    proof::MsgCreateClaim message;
    message.set_supplier_operator_address(std::string(supplierOperatorAddress));
    *message.mutable_session_header() = *claims[i].sessionHeader;
    message.set_root_hash(std::string(util::asChars(claims[i].rootHash)));
    auto packed = packCreateClaim(message);
    if (!packed) return packed.error();
    messages.push_back(std::move(packed).value());
  }
  return messages;
}

util::Result<std::vector<TxMessage>> proofMessages(std::string_view supplierOperatorAddress,
                                                   std::span<const SessionProof> proofs) {
  if (proofs.empty()) return makeError("no_messages", "the proof batch is empty");
  std::vector<TxMessage> messages;
  messages.reserve(proofs.size());
  for (std::size_t i = 0; i < proofs.size(); ++i) {
    if (proofs[i].sessionHeader == nullptr) {
      return makeError("bad_session_header", fmt::format("proof {} has no session header", i));
    }
    proof::MsgSubmitProof message;
    message.set_supplier_operator_address(std::string(supplierOperatorAddress));
    *message.mutable_session_header() = *proofs[i].sessionHeader;
    message.set_proof(std::string(util::asChars(proofs[i].proof)));
    auto packed = packSubmitProof(message);
    if (!packed) return packed.error();
    messages.push_back(std::move(packed).value());
  }
  return messages;
}

Bytes encodeAny(const TxMessage& message) {
  google::protobuf::Any any;
  any.set_type_url(message.typeUrl);
  any.set_value(std::string(util::asChars(message.value)));
  return serialize(any);
}

util::Result<Bytes> encodePublicKeyAny(ByteSpan compressedPublicKey) {
  if (auto ok = validatePublicKey(compressedPublicKey); !ok) return ok.error();
  cosmos::crypto::secp256k1::PubKey key;
  key.set_key(std::string(util::asChars(compressedPublicKey)));
  return encodeAny(TxMessage{std::string(kSecp256k1PubKeyTypeUrl), serialize(key)});
}

util::Result<Bytes> encodeTxBody(std::span<const TxMessage> messages, const TxOptions& options) {
  if (messages.empty()) return makeError("no_messages", "a transaction needs at least one message");
  if (!isValidUtf8(options.memo)) return makeError("bad_memo", "memo is not valid UTF-8");
  if (auto ok = validateUnordered(options); !ok) return ok.error();
  txpb::TxBody body;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (auto ok = validateTypeUrl(messages[i], i); !ok) return ok.error();
    google::protobuf::Any* any = body.add_messages();
    any->set_type_url(messages[i].typeUrl);
    any->set_value(std::string(util::asChars(messages[i].value)));
  }
  body.set_memo(options.memo);
  body.set_timeout_height(options.timeoutHeight);
  body.set_unordered(options.unordered);
  if (options.timeoutTimestamp) {
    if (auto ok = validateTimestamp(*options.timeoutTimestamp); !ok) return ok.error();
    body.mutable_timeout_timestamp()->set_seconds(options.timeoutTimestamp->seconds);
    body.mutable_timeout_timestamp()->set_nanos(options.timeoutTimestamp->nanos);
  }
  return serialize(body);
}

util::Result<Bytes> encodeAuthInfo(const TxOptions& options) {
  if (auto ok = validatePublicKey(options.signerPublicKey); !ok) return ok.error();
  if (auto ok = validateFee(options.fee); !ok) return ok.error();
  if (auto ok = validateUnordered(options); !ok) return ok.error();
  txpb::AuthInfo authInfo;
  txpb::SignerInfo* signer = authInfo.add_signer_infos();
  cosmos::crypto::secp256k1::PubKey key;
  key.set_key(std::string(util::asChars(options.signerPublicKey)));
  signer->mutable_public_key()->set_type_url(std::string(kSecp256k1PubKeyTypeUrl));
  signer->mutable_public_key()->set_value(key.SerializeAsString());
  signer->mutable_mode_info()->mutable_single()->set_mode(
      cosmos::tx::signing::v1beta1::SIGN_MODE_DIRECT);
  signer->set_sequence(options.sequence);
  // The SDK's builder always holds a Fee, so the field is written even when it is empty.
  txpb::Fee* fee = authInfo.mutable_fee();
  for (const Coin& coin : options.fee.amount) {
    cosmos::base::v1beta1::Coin* out = fee->add_amount();
    out->set_denom(coin.denom);
    out->set_amount(coin.amount);
  }
  fee->set_gas_limit(options.fee.gasLimit);
  fee->set_payer(options.fee.payer);
  fee->set_granter(options.fee.granter);
  return serialize(authInfo);
}

Bytes encodeSignDoc(ByteSpan bodyBytes, ByteSpan authInfoBytes, std::string_view chainId,
                    std::uint64_t accountNumber) {
  txpb::SignDoc doc;
  doc.set_body_bytes(std::string(util::asChars(bodyBytes)));
  doc.set_auth_info_bytes(std::string(util::asChars(authInfoBytes)));
  doc.set_chain_id(std::string(chainId));
  doc.set_account_number(accountNumber);
  return serialize(doc);
}

Bytes encodeTxRaw(ByteSpan bodyBytes, ByteSpan authInfoBytes, std::span<const Bytes> signatures) {
  txpb::TxRaw raw;
  raw.set_body_bytes(std::string(util::asChars(bodyBytes)));
  raw.set_auth_info_bytes(std::string(util::asChars(authInfoBytes)));
  for (const Bytes& signature : signatures)
    raw.add_signatures(std::string(util::asChars(signature)));
  return serialize(raw);
}

std::string txHash(ByteSpan txRaw) {
  crypto::Hash32 digest = crypto::sha256(txRaw);
  std::string hex = util::toHex(digest);
  for (char& c : hex) {
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  }
  return hex;
}

util::Result<UnsignedTx> buildUnsignedTx(std::span<const TxMessage> messages,
                                         const TxOptions& options) {
  if (options.chainId.empty()) return makeError("bad_chain_id", "chain id is empty");
  if (!isValidUtf8(options.chainId)) return makeError("bad_chain_id", "chain id is not UTF-8");
  auto body = encodeTxBody(messages, options);
  if (!body) return body.error();
  auto authInfo = encodeAuthInfo(options);
  if (!authInfo) return authInfo.error();
  UnsignedTx tx;
  tx.signDocBytes = encodeSignDoc(*body, *authInfo, options.chainId, options.accountNumber);
  tx.bodyBytes = std::move(body).value();
  tx.authInfoBytes = std::move(authInfo).value();
  return tx;
}

util::Result<UnsignedTx> buildClaimTx(std::string_view supplierOperatorAddress,
                                      std::span<const SessionClaim> claims,
                                      const TxOptions& options) {
  auto messages = claimMessages(supplierOperatorAddress, claims);
  if (!messages) return messages.error();
  return buildUnsignedTx(*messages, options);
}

util::Result<UnsignedTx> buildProofTx(std::string_view supplierOperatorAddress,
                                      std::span<const SessionProof> proofs,
                                      const TxOptions& options) {
  auto messages = proofMessages(supplierOperatorAddress, proofs);
  if (!messages) return messages.error();
  return buildUnsignedTx(*messages, options);
}

Bytes signDocDigest(const UnsignedTx& tx) {
  crypto::Hash32 digest = crypto::sha256(tx.signDocBytes);
  return Bytes(digest.begin(), digest.end());
}

util::Result<SignedTx> attachSignature(const UnsignedTx& tx, ByteSpan signature) {
  if (signature.size() != kCosmosSignatureSize) {
    return makeError("bad_signature", fmt::format("signature has {} bytes; expected {} (r‖s)",
                                                  signature.size(), kCosmosSignatureSize));
  }
  SignedTx signedTx;
  signedTx.bodyBytes = tx.bodyBytes;
  signedTx.authInfoBytes = tx.authInfoBytes;
  signedTx.signature.assign(signature.begin(), signature.end());
  Bytes signatures[] = {signedTx.signature};
  signedTx.txRaw = encodeTxRaw(tx.bodyBytes, tx.authInfoBytes, signatures);
  signedTx.hash = txHash(signedTx.txRaw);
  return signedTx;
}

SignedTx signTx(const UnsignedTx& tx, const crypto::PrivateKey& key) {
  crypto::Signature64 signature = crypto::signCosmos(key, tx.signDocBytes);
  // A 64-byte signature always attaches.
  return attachSignature(tx, signature).value();
}

bool verifyTxSignature(const UnsignedTx& tx, const crypto::PublicKey& key, ByteSpan signature) {
  return crypto::verifyCosmos(key, tx.signDocBytes, signature);
}

Bytes simulationTxRaw(const UnsignedTx& tx) {
  Bytes signatures[] = {Bytes{}};
  return encodeTxRaw(tx.bodyBytes, tx.authInfoBytes, signatures);
}

util::Result<DecodedTx> decodeTx(ByteSpan txRaw) {
  txpb::TxRaw raw;
  if (!parse(txRaw, raw)) return badTx("TxRaw is not a valid protobuf message");
  if (hasUnknownFields(raw, 0)) return badTx("TxRaw has unknown fields");
  txpb::TxBody body;
  if (!parse(util::asBytes(raw.body_bytes()), body)) {
    return badTx("TxRaw.body_bytes is not a valid TxBody");
  }
  if (hasUnknownFields(body, kFirstNonCriticalField)) return badTx("TxBody has unknown fields");
  txpb::AuthInfo authInfo;
  if (!parse(util::asBytes(raw.auth_info_bytes()), authInfo)) {
    return badTx("TxRaw.auth_info_bytes is not a valid AuthInfo");
  }
  if (hasUnknownFields(authInfo, 0)) return badTx("AuthInfo has unknown fields");
  if (authInfo.signer_infos_size() != 1 || raw.signatures_size() != 1) {
    return badTx(fmt::format("transaction has {} signer infos and {} signatures; expected one each",
                             authInfo.signer_infos_size(), raw.signatures_size()));
  }
  const txpb::SignerInfo& signer = authInfo.signer_infos(0);
  if (!signer.mode_info().has_single() ||
      signer.mode_info().single().mode() != cosmos::tx::signing::v1beta1::SIGN_MODE_DIRECT) {
    return badTx("the signer does not use SIGN_MODE_DIRECT");
  }

  DecodedTx tx;
  if (signer.has_public_key()) {
    if (signer.public_key().type_url() != kSecp256k1PubKeyTypeUrl) {
      return badTx(fmt::format("signer key type '{}' is not {}", signer.public_key().type_url(),
                               kSecp256k1PubKeyTypeUrl));
    }
    cosmos::crypto::secp256k1::PubKey key;
    if (!parse(util::asBytes(signer.public_key().value()), key) || hasUnknownFields(key, 0)) {
      return badTx("signer public key is not a valid secp256k1 PubKey");
    }
    if (!validatePublicKey(util::asBytes(key.key()))) {
      return badTx(
          fmt::format("signer public key has {} bytes; expected 33 compressed", key.key().size()));
    }
    tx.signerPublicKey = util::toBytes(key.key());
  }
  tx.bodyBytes = util::toBytes(raw.body_bytes());
  tx.authInfoBytes = util::toBytes(raw.auth_info_bytes());
  for (const std::string& signature : raw.signatures()) {
    tx.signatures.push_back(util::toBytes(signature));
  }
  for (const google::protobuf::Any& any : body.messages()) {
    tx.messages.push_back(TxMessage{any.type_url(), util::toBytes(any.value())});
  }
  tx.memo = body.memo();
  tx.timeoutHeight = body.timeout_height();
  tx.unordered = body.unordered();
  if (body.has_timeout_timestamp()) {
    tx.timeoutTimestamp =
        TxTimestamp{body.timeout_timestamp().seconds(), body.timeout_timestamp().nanos()};
  }
  tx.sequence = signer.sequence();
  for (const cosmos::base::v1beta1::Coin& coin : authInfo.fee().amount()) {
    tx.fee.amount.push_back(Coin{coin.denom(), coin.amount()});
  }
  tx.fee.gasLimit = authInfo.fee().gas_limit();
  tx.fee.payer = authInfo.fee().payer();
  tx.fee.granter = authInfo.fee().granter();
  return tx;
}

}  // namespace pocket::protocol
