// Kind `tx-sign` (test/vectors/cosmos/tx-sign.json): rebuilds every SIGN_MODE_DIRECT transaction
// from its inputs and compares each intermediate encoding, the signature, the TxRaw, its hash and
// the simulation variant; then re-encodes the Go-signed cross-check transaction from its decoded
// parts and verifies the Go signature over our sign doc.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto/keys.h"
#include "common/protocol/abci_query.h"
#include "common/protocol/tx.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "pocket/proof/tx.pb.h"
#include "pocket/session/types.pb.h"
#include "tools/vector-replay/kinds.h"

namespace pocket::vectors {

namespace {

using util::Bytes;

std::string hex(util::ByteSpan bytes) {
  return util::toHex(bytes);
}

session::SessionHeader readHeader(const nlohmann::json& json) {
  session::SessionHeader header;
  header.set_application_address(json.at("application_address").get<std::string>());
  header.set_service_id(json.at("service_id").get<std::string>());
  header.set_session_id(json.at("session_id").get<std::string>());
  header.set_session_start_block_height(json.at("session_start_block_height").get<std::int64_t>());
  header.set_session_end_block_height(json.at("session_end_block_height").get<std::int64_t>());
  return header;
}

protocol::TxOptions readOptions(const nlohmann::json& inputs) {
  protocol::TxOptions options;
  options.chainId = inputs.at("chain_id").get<std::string>();
  options.accountNumber = inputs.at("account_number").get<std::uint64_t>();
  options.sequence = inputs.at("sequence").get<std::uint64_t>();
  options.signerPublicKey = hexValue(inputs.at("signer_pubkey_hex"));
  options.memo = inputs.at("memo").get<std::string>();
  options.timeoutHeight = inputs.at("timeout_height").get<std::uint64_t>();
  options.unordered = inputs.at("unordered").get<bool>();
  const nlohmann::json& timestamp = inputs.at("timeout_timestamp");
  if (!timestamp.is_null()) {
    options.timeoutTimestamp = protocol::TxTimestamp{timestamp.at("seconds").get<std::int64_t>(),
                                                     timestamp.at("nanos").get<std::int32_t>()};
  }
  const nlohmann::json& fee = inputs.at("fee");
  for (const nlohmann::json& coin : fee.at("amount")) {
    options.fee.amount.push_back(
        protocol::Coin{coin.at("denom").get<std::string>(), coin.at("amount").get<std::string>()});
  }
  options.fee.gasLimit = fee.at("gas_limit").get<std::uint64_t>();
  options.fee.payer = fee.at("payer").get<std::string>();
  options.fee.granter = fee.at("granter").get<std::string>();
  return options;
}

Bytes privateKeyOf(const nlohmann::json& document, const std::string& address) {
  for (const nlohmann::json& key : document.at("keys")) {
    if (key.at("address").get<std::string>() == address) return hexValue(key.at("privkey_hex"));
  }
  throw std::runtime_error("no key for signer " + address);
}

// Packs one vector message with the public API and checks its value and Any encodings.
protocol::TxMessage replayMessage(const nlohmann::json& message, const std::string& where,
                                  Reporter& reporter) {
  const nlohmann::json& fields = message.at("fields");
  std::string typeUrl = message.at("type_url").get<std::string>();
  util::Result<protocol::TxMessage> packed = util::makeError("unknown_type", typeUrl);
  if (typeUrl == protocol::kMsgCreateClaimTypeUrl) {
    proof::MsgCreateClaim claim;
    claim.set_supplier_operator_address(fields.at("supplier_operator_address").get<std::string>());
    *claim.mutable_session_header() = readHeader(fields.at("session_header"));
    Bytes root = hexValue(fields.at("root_hash_hex"));
    claim.set_root_hash(std::string(util::asChars(root)));
    const nlohmann::json& parts = fields.at("root_hash_parts");
    std::uint64_t sum = 0, count = 0;
    for (int i = 0; i < 8; ++i) sum = (sum << 8) | root.at(32 + i);
    for (int i = 0; i < 8; ++i) count = (count << 8) | root.at(40 + i);
    reporter.expectEqual(where, "root_hash parts",
                         fmt::format("{}|{}|{}", parts.at("smst_root_sha256").get<std::string>(),
                                     parts.at("sum_be_u64").get<std::uint64_t>(),
                                     parts.at("count_be_u64").get<std::uint64_t>()),
                         fmt::format("{}|{}|{}", hex(util::ByteSpan(root).first(32)), sum, count));
    packed = protocol::packCreateClaim(claim);
  } else if (typeUrl == protocol::kMsgSubmitProofTypeUrl) {
    proof::MsgSubmitProof proofMessage;
    proofMessage.set_supplier_operator_address(
        fields.at("supplier_operator_address").get<std::string>());
    *proofMessage.mutable_session_header() = readHeader(fields.at("session_header"));
    Bytes proofBytes = hexValue(fields.at("proof_hex"));
    proofMessage.set_proof(std::string(util::asChars(proofBytes)));
    packed = protocol::packSubmitProof(proofMessage);
  }
  if (!packed) {
    reporter.fail(where, fmt::format("cannot pack {}: {}", typeUrl, packed.error().message));
    return {};
  }
  reporter.expectEqual(where, "type_url", typeUrl, packed->typeUrl);
  reporter.expectEqual(where, "value_hex", message.at("value_hex").get<std::string>(),
                       hex(packed->value));
  reporter.expectEqual(where, "any_hex", message.at("any_hex").get<std::string>(),
                       hex(protocol::encodeAny(*packed)));
  return std::move(packed).value();
}

// The session manager's path: one batch call for all claims (or proofs) of the supplier.
void replayBatchBuilder(const nlohmann::json& testCase, const protocol::TxOptions& options,
                        const std::string& where, Reporter& reporter) {
  const nlohmann::json& messages = testCase.at("messages");
  std::string typeUrl = messages.at(0).at("type_url").get<std::string>();
  std::string supplier =
      messages.at(0).at("fields").at("supplier_operator_address").get<std::string>();
  std::vector<session::SessionHeader> headers;
  std::vector<Bytes> payloads;
  for (const nlohmann::json& message : messages) {
    const nlohmann::json& fields = message.at("fields");
    headers.push_back(readHeader(fields.at("session_header")));
    payloads.push_back(hexValue(typeUrl == protocol::kMsgCreateClaimTypeUrl
                                    ? fields.at("root_hash_hex")
                                    : fields.at("proof_hex")));
  }
  util::Result<protocol::UnsignedTx> tx = util::makeError("unset", "");
  if (typeUrl == protocol::kMsgCreateClaimTypeUrl) {
    std::vector<protocol::SessionClaim> claims;
    for (std::size_t i = 0; i < headers.size(); ++i) claims.push_back({&headers[i], payloads[i]});
    tx = protocol::buildClaimTx(supplier, claims, options);
  } else {
    std::vector<protocol::SessionProof> proofs;
    for (std::size_t i = 0; i < headers.size(); ++i) proofs.push_back({&headers[i], payloads[i]});
    tx = protocol::buildProofTx(supplier, proofs, options);
  }
  if (!tx) {
    reporter.fail(where + " step=batch_builder", tx.error().message);
    return;
  }
  reporter.expectEqual(where + " step=batch_builder", "sign_doc_bytes",
                       testCase.at("sign_doc_bytes").get<std::string>(), hex(tx->signDocBytes));
}

void replayCase(const nlohmann::json& document, const nlohmann::json& testCase,
                Reporter& reporter) {
  std::string where = fmt::format("case={}", testCase.at("name").get<std::string>());
  const nlohmann::json& inputs = testCase.at("inputs");
  protocol::TxOptions options = readOptions(inputs);

  std::vector<protocol::TxMessage> messages;
  int index = 0;
  for (const nlohmann::json& message : testCase.at("messages")) {
    messages.push_back(
        replayMessage(message, fmt::format("{} message={}", where, index++), reporter));
  }

  auto body = protocol::encodeTxBody(messages, options);
  auto pubkeyAny = protocol::encodePublicKeyAny(options.signerPublicKey);
  auto authInfo = protocol::encodeAuthInfo(options);
  auto tx = protocol::buildUnsignedTx(messages, options);
  if (!body || !pubkeyAny || !authInfo || !tx) {
    reporter.fail(where, "cannot encode the transaction from its inputs");
    return;
  }
  reporter.expectEqual(where, "body_bytes", testCase.at("body_bytes").get<std::string>(),
                       hex(*body));
  reporter.expectEqual(where, "pubkey_any_bytes",
                       testCase.at("pubkey_any_bytes").get<std::string>(), hex(*pubkeyAny));
  reporter.expectEqual(where, "auth_info_bytes", testCase.at("auth_info_bytes").get<std::string>(),
                       hex(*authInfo));
  reporter.expectEqual(where, "unsigned body_bytes", hex(*body), hex(tx->bodyBytes));
  reporter.expectEqual(where, "unsigned auth_info_bytes", hex(*authInfo), hex(tx->authInfoBytes));
  reporter.expectEqual(where, "sign_doc_bytes", testCase.at("sign_doc_bytes").get<std::string>(),
                       hex(tx->signDocBytes));
  reporter.expectEqual(where, "sign_doc_sha256", testCase.at("sign_doc_sha256").get<std::string>(),
                       hex(protocol::signDocDigest(*tx)));

  auto privateKey = crypto::PrivateKey::fromBytes(
      privateKeyOf(document, inputs.at("signer_address").get<std::string>()));
  if (!privateKey) {
    reporter.fail(where, fmt::format("bad signer key: {}", privateKey.error().message));
    return;
  }
  reporter.expectEqual(where, "signer public key",
                       inputs.at("signer_pubkey_hex").get<std::string>(),
                       privateKey->publicKey().hex());
  const protocol::SignedTx signedTx = protocol::signTx(*tx, *privateKey);
  reporter.expectEqual(where, "signature", testCase.at("signature").get<std::string>(),
                       hex(signedTx.signature));
  reporter.expectEqual(where, "tx_raw_bytes", testCase.at("tx_raw_bytes").get<std::string>(),
                       hex(signedTx.txRaw));
  reporter.expectEqual(where, "tx_raw_base64", testCase.at("tx_raw_base64").get<std::string>(),
                       util::toBase64(signedTx.txRaw));
  reporter.expectEqual(where, "tx_hash", testCase.at("tx_hash").get<std::string>(), signedTx.hash);

  const nlohmann::json& simulate = testCase.at("simulate");
  Bytes simulationRaw = protocol::simulationTxRaw(*tx);
  protocol::AbciQuery query = protocol::simulateQuery(simulationRaw);
  reporter.expectEqual(where, "simulate.tx_raw_empty_signature_bytes",
                       simulate.at("tx_raw_empty_signature_bytes").get<std::string>(),
                       hex(simulationRaw));
  reporter.expectEqual(where, "simulate.simulate_request_bytes",
                       simulate.at("simulate_request_bytes").get<std::string>(), hex(query.data));
  reporter.expectEqual(where, "simulate.abci_query_path",
                       simulate.at("abci_query_path").get<std::string>(), query.path);

  // What a node sees: the broadcast bytes decode back to the inputs.
  auto decoded = protocol::decodeTx(signedTx.txRaw);
  if (!decoded) {
    reporter.fail(where + " step=decode", decoded.error().message);
  } else {
    bool same = decoded->messages.size() == messages.size() && decoded->memo == options.memo &&
                decoded->timeoutHeight == options.timeoutHeight &&
                decoded->sequence == options.sequence &&
                decoded->signerPublicKey == options.signerPublicKey &&
                decoded->fee.gasLimit == options.fee.gasLimit &&
                decoded->fee.amount.size() == options.fee.amount.size() &&
                decoded->timeoutTimestamp.has_value() == options.timeoutTimestamp.has_value() &&
                decoded->signatures.size() == 1 && decoded->signatures[0] == signedTx.signature;
    for (std::size_t i = 0; same && i < messages.size(); ++i) {
      same = decoded->messages[i].typeUrl == messages[i].typeUrl &&
             decoded->messages[i].value == messages[i].value;
    }
    reporter.check(same, where + " step=decode", "decoded TxRaw differs from the inputs");
  }

  replayBatchBuilder(testCase, options, where, reporter);
}

// The Go-signed gentx: decode it, re-encode each part with our encoders, and check that the Go
// signature verifies over the sign doc we produce.
void replayGoCrossCheck(const nlohmann::json& check, Reporter& reporter) {
  std::string where = fmt::format("case={}", check.at("name").get<std::string>());
  Bytes txRaw = hexValue(check.at("tx_raw_bytes"));
  auto decoded = protocol::decodeTx(txRaw);
  if (!decoded) {
    reporter.fail(where, fmt::format("cannot decode the Go tx: {}", decoded.error().message));
    return;
  }
  reporter.check(decoded->messages.size() == 1, where, "expected exactly one message");
  if (decoded->messages.empty()) return;
  reporter.expectEqual(where, "msg_value_hex", check.at("msg_value_hex").get<std::string>(),
                       hex(decoded->messages[0].value));

  protocol::TxOptions options;
  options.chainId = check.at("chain_id").get<std::string>();
  options.accountNumber = check.at("account_number").get<std::uint64_t>();
  options.sequence = check.at("sequence").get<std::uint64_t>();
  options.signerPublicKey = hexValue(check.at("signer_pubkey_hex"));
  options.memo = decoded->memo;
  options.timeoutHeight = decoded->timeoutHeight;
  options.unordered = decoded->unordered;
  options.timeoutTimestamp = decoded->timeoutTimestamp;
  options.fee = decoded->fee;
  reporter.expectEqual(where, "decoded signer key",
                       check.at("signer_pubkey_hex").get<std::string>(),
                       hex(decoded->signerPublicKey));

  auto tx = protocol::buildUnsignedTx(decoded->messages, options);
  if (!tx) {
    reporter.fail(where, fmt::format("cannot re-encode: {}", tx.error().message));
    return;
  }
  reporter.expectEqual(where, "body_bytes", check.at("body_bytes").get<std::string>(),
                       hex(tx->bodyBytes));
  reporter.expectEqual(where, "auth_info_bytes", check.at("auth_info_bytes").get<std::string>(),
                       hex(tx->authInfoBytes));
  reporter.expectEqual(where, "sign_doc_bytes", check.at("sign_doc_bytes").get<std::string>(),
                       hex(tx->signDocBytes));
  reporter.expectEqual(where, "sign_doc_sha256", check.at("sign_doc_sha256").get<std::string>(),
                       hex(protocol::signDocDigest(*tx)));
  Bytes signature = hexValue(check.at("signature"));
  auto signer = crypto::PublicKey::fromCompressed(options.signerPublicKey);
  if (!signer) {
    reporter.fail(where, fmt::format("bad signer key: {}", signer.error().message));
    return;
  }
  reporter.check(protocol::verifyTxSignature(*tx, *signer, signature), where,
                 "the Go signature does not verify over the re-encoded sign doc");
  auto signedTx = protocol::attachSignature(*tx, signature);
  if (!signedTx) {
    reporter.fail(where, signedTx.error().message);
    return;
  }
  reporter.expectEqual(where, "tx_raw_bytes", check.at("tx_raw_bytes").get<std::string>(),
                       hex(signedTx->txRaw));
  reporter.expectEqual(where, "tx_hash", check.at("tx_hash").get<std::string>(), signedTx->hash);
}

}  // namespace

void replayTxSign(const nlohmann::json& document, Reporter& reporter) {
  std::size_t index = 0;
  for (const nlohmann::json& testCase : document.at("cases")) {
    reporter.replayCase(fmt::format("case={}", caseLabel(testCase, "name", index++)),
                        [&] { replayCase(document, testCase, reporter); });
  }
  reporter.replayCase("go_cross_check",
                      [&] { replayGoCrossCheck(document.at("go_cross_check"), reporter); });
}

}  // namespace pocket::vectors
