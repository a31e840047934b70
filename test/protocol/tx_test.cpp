// Transactions as the session manager builds them: batches of claims or proofs for one supplier,
// signing, hashing, and what a node decodes; and every kind of bad input giving a typed error.

#include "common/protocol/tx.h"

#include <string>
#include <vector>

#include <doctest.h>

#include "common/crypto/keys.h"
#include "common/util/hex.h"
#include "test/vectors_path.h"

namespace {

using pocket::crypto::PrivateKey;
using pocket::protocol::SessionClaim;
using pocket::protocol::SessionProof;
using pocket::protocol::TxOptions;
using pocket::session::SessionHeader;
using pocket::util::Bytes;

Bytes hexBytes(const std::string& hex) {
  return pocket::util::fromHex(hex).value();
}

const nlohmann::json& txVectors() {
  static const nlohmann::json document = pocket::test::loadVectors("cosmos/tx-sign.json");
  return document;
}

const nlohmann::json& vectorCase(const std::string& name) {
  for (const nlohmann::json& testCase : txVectors().at("cases")) {
    if (testCase.at("name") == name) return testCase;
  }
  throw std::runtime_error("no tx-sign case " + name);
}

PrivateKey supplierKey() {
  return PrivateKey::fromHex(txVectors().at("keys").at(0).at("privkey_hex").get<std::string>())
      .value();
}

std::string supplierAddress() {
  return txVectors().at("keys").at(0).at("address").get<std::string>();
}

SessionHeader headerOf(const nlohmann::json& json) {
  SessionHeader header;
  header.set_application_address(json.at("application_address").get<std::string>());
  header.set_service_id(json.at("service_id").get<std::string>());
  header.set_session_id(json.at("session_id").get<std::string>());
  header.set_session_start_block_height(json.at("session_start_block_height").get<std::int64_t>());
  header.set_session_end_block_height(json.at("session_end_block_height").get<std::int64_t>());
  return header;
}

// The options of the `create_claim` vector case.
TxOptions claimOptions() {
  TxOptions options;
  options.chainId = "pocket";
  options.accountNumber = 7;
  options.sequence = 3;
  options.signerPublicKey =
      hexBytes(txVectors().at("keys").at(0).at("pubkey_compressed_hex").get<std::string>());
  options.timeoutHeight = 106;
  options.timeoutTimestamp = pocket::protocol::TxTimestamp{1767226242, 123456789};
  options.fee.amount = {{"upokt", "300"}};
  options.fee.gasLimit = 300000;
  return options;
}

// The claim of the `create_claim` vector case.
struct ClaimFixture {
  SessionHeader header =
      headerOf(vectorCase("create_claim").at("messages").at(0).at("fields").at("session_header"));
  Bytes root = hexBytes(vectorCase("create_claim")
                            .at("messages")
                            .at(0)
                            .at("fields")
                            .at("root_hash_hex")
                            .get<std::string>());
  std::vector<SessionClaim> claims() const { return {SessionClaim{&header, root}}; }
};

std::string errorCode(const auto& result) {
  return result.ok() ? "ok" : result.error().code;
}

}  // namespace

TEST_CASE("a session header converts to protobuf and back field for field") {
  const SessionHeader proto = ClaimFixture{}.header;
  const pocket::protocol::SessionHeader header = pocket::protocol::fromProtoSessionHeader(proto);
  CHECK(header.applicationAddress == proto.application_address());
  CHECK(header.serviceId == proto.service_id());
  CHECK(header.sessionId == proto.session_id());
  CHECK(header.sessionStartBlockHeight == 91);
  CHECK(header.sessionEndBlockHeight == 100);
  // The relay's hand encoder and protobuf's serializer give the same bytes for it.
  const std::string bytes = pocket::protocol::toProtoSessionHeader(header).SerializeAsString();
  CHECK(bytes == proto.SerializeAsString());
  const Bytes handEncoded = pocket::protocol::marshal(header);
  CHECK(std::string(handEncoded.begin(), handEncoded.end()) == bytes);
  CHECK(pocket::protocol::fromProtoSessionHeader(pocket::protocol::toProtoSessionHeader(header)) ==
        header);
}

TEST_CASE("a batch of one claim signs to the vector's transaction and hash") {
  ClaimFixture fixture;
  auto tx = pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), claimOptions());
  REQUIRE(tx.ok());
  auto signedTx = pocket::protocol::signTx(*tx, supplierKey());
  const nlohmann::json& expected = vectorCase("create_claim");
  CHECK(pocket::util::toHex(signedTx.txRaw) == expected.at("tx_raw_bytes").get<std::string>());
  CHECK(signedTx.hash == expected.at("tx_hash").get<std::string>());
  CHECK(signedTx.hash == pocket::protocol::txHash(signedTx.txRaw));
  CHECK(pocket::protocol::verifyTxSignature(*tx, supplierKey().publicKey(), signedTx.signature));
}

TEST_CASE("a batch of claims for two applications is one transaction with one signature") {
  const nlohmann::json& expected = vectorCase("two_claims");
  std::vector<SessionHeader> headers;
  std::vector<Bytes> roots;
  for (const nlohmann::json& message : expected.at("messages")) {
    headers.push_back(headerOf(message.at("fields").at("session_header")));
    roots.push_back(hexBytes(message.at("fields").at("root_hash_hex").get<std::string>()));
  }
  std::vector<SessionClaim> claims = {{&headers[0], roots[0]}, {&headers[1], roots[1]}};
  TxOptions options = claimOptions();
  options.sequence = 5;
  options.timeoutTimestamp = pocket::protocol::TxTimestamp{1767226243, 0};
  options.fee = {{{"upokt", "500"}}, 500000, "", ""};
  auto tx = pocket::protocol::buildClaimTx(supplierAddress(), claims, options);
  REQUIRE(tx.ok());
  auto signedTx = pocket::protocol::signTx(*tx, supplierKey());
  CHECK(signedTx.hash == expected.at("tx_hash").get<std::string>());

  auto decoded = pocket::protocol::decodeTx(signedTx.txRaw);
  REQUIRE(decoded.ok());
  REQUIRE(decoded->messages.size() == 2);
  CHECK(decoded->signatures.size() == 1);
  pocket::proof::MsgCreateClaim second;
  REQUIRE(second.ParseFromString(std::string(pocket::util::asChars(decoded->messages[1].value))));
  CHECK(second.session_header().application_address() == headers[1].application_address());
}

TEST_CASE("a proof batch signs to the vector's transaction") {
  const nlohmann::json& expected = vectorCase("submit_proof");
  const nlohmann::json& fields = expected.at("messages").at(0).at("fields");
  SessionHeader header = headerOf(fields.at("session_header"));
  Bytes proof = hexBytes(fields.at("proof_hex").get<std::string>());
  std::vector<SessionProof> proofs = {{&header, proof}};
  TxOptions options = claimOptions();
  options.sequence = 4;
  options.timeoutHeight = 110;
  options.timeoutTimestamp = pocket::protocol::TxTimestamp{1767226246, 987654321};
  options.fee = {{{"upokt", "400"}}, 400000, "", ""};
  auto tx = pocket::protocol::buildProofTx(supplierAddress(), proofs, options);
  REQUIRE(tx.ok());
  CHECK(pocket::protocol::signTx(*tx, supplierKey()).hash ==
        expected.at("tx_hash").get<std::string>());
}

TEST_CASE("after a sequence mismatch only the auth info and signature change") {
  ClaimFixture fixture;
  TxOptions options = claimOptions();
  auto first = pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), options);
  options.sequence = 9;
  auto second = pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), options);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->bodyBytes == second->bodyBytes);
  CHECK(first->authInfoBytes != second->authInfoBytes);
  auto decoded = pocket::protocol::decodeTx(pocket::protocol::signTx(*second, supplierKey()).txRaw);
  REQUIRE(decoded.ok());
  CHECK(decoded->sequence == 9);
}

TEST_CASE("an unordered transaction carries the flag and no sequence") {
  ClaimFixture fixture;
  TxOptions options = claimOptions();
  options.unordered = true;
  options.sequence = 0;
  auto tx = pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), options);
  REQUIRE(tx.ok());
  auto decoded = pocket::protocol::decodeTx(pocket::protocol::signTx(*tx, supplierKey()).txRaw);
  REQUIRE(decoded.ok());
  CHECK(decoded->unordered);
  CHECK(decoded->sequence == 0);
  // TxBody field 4 (bool) = tag 0x20, value 1, right after timeout_height 106 (18 6a).
  CHECK(pocket::util::toHex(tx->bodyBytes).find("186a2001") != std::string::npos);

  options.sequence = 1;
  CHECK(errorCode(pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), options)) ==
        "bad_unordered");
  options.sequence = 0;
  options.timeoutTimestamp.reset();
  CHECK(errorCode(pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), options)) ==
        "bad_unordered");
}

TEST_CASE("the simulation variant carries one empty signature") {
  ClaimFixture fixture;
  auto tx = pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), claimOptions());
  REQUIRE(tx.ok());
  Bytes raw = pocket::protocol::simulationTxRaw(*tx);
  REQUIRE(raw.size() >= 2);
  CHECK(raw[raw.size() - 2] == 0x1a);
  CHECK(raw.back() == 0x00);
  auto decoded = pocket::protocol::decodeTx(raw);
  REQUIRE(decoded.ok());
  REQUIRE(decoded->signatures.size() == 1);
  CHECK(decoded->signatures[0].empty());
}

TEST_CASE("a signature only verifies for its own sign doc and key") {
  ClaimFixture fixture;
  auto tx = pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), claimOptions());
  REQUIRE(tx.ok());
  auto signedTx = pocket::protocol::signTx(*tx, supplierKey());
  Bytes flipped = signedTx.signature;
  flipped[10] ^= 0x01;
  CHECK_FALSE(pocket::protocol::verifyTxSignature(*tx, supplierKey().publicKey(), flipped));
  auto otherKey =
      PrivateKey::fromHex(txVectors().at("keys").at(1).at("privkey_hex").get<std::string>());
  REQUIRE(otherKey.ok());
  CHECK_FALSE(pocket::protocol::verifyTxSignature(*tx, otherKey->publicKey(), signedTx.signature));
  CHECK_FALSE(pocket::protocol::verifyTxSignature(*tx, supplierKey().publicKey(), Bytes(63)));
}

TEST_CASE("claims the chain would reject in CheckTx are refused before signing") {
  ClaimFixture fixture;
  TxOptions options = claimOptions();
  auto build = [&](const std::string& supplier, const SessionHeader& header, const Bytes& root) {
    std::vector<SessionClaim> claims = {{&header, root}};
    return errorCode(pocket::protocol::buildClaimTx(supplier, claims, options));
  };
  CHECK(build(supplierAddress(), fixture.header, fixture.root) == "ok");
  CHECK(build("", fixture.header, fixture.root) == "bad_claim");
  CHECK(build("cosmos1zzzz", fixture.header, fixture.root) == "bad_claim");
  CHECK(build(supplierAddress(), fixture.header,
              Bytes(fixture.root.begin(), fixture.root.end() - 1)) == "bad_claim");
  Bytes zeroCount = fixture.root;
  std::fill(zeroCount.end() - 8, zeroCount.end(), 0);
  CHECK(build(supplierAddress(), fixture.header, zeroCount) == "bad_claim");

  SessionHeader header = fixture.header;
  header.set_session_start_block_height(0);
  CHECK(build(supplierAddress(), header, fixture.root) == "bad_session_header");
  header = fixture.header;
  header.set_session_end_block_height(header.session_start_block_height());
  CHECK(build(supplierAddress(), header, fixture.root) == "bad_session_header");
  header = fixture.header;
  header.clear_session_id();
  CHECK(build(supplierAddress(), header, fixture.root) == "bad_session_header");
  header = fixture.header;
  header.set_application_address("pokt1notanaddress");
  CHECK(build(supplierAddress(), header, fixture.root) == "bad_session_header");

  std::vector<SessionClaim> none;
  CHECK(errorCode(pocket::protocol::buildClaimTx(supplierAddress(), none, options)) ==
        "no_messages");
  std::vector<SessionClaim> missingHeader = {{nullptr, fixture.root}};
  CHECK(errorCode(pocket::protocol::buildClaimTx(supplierAddress(), missingHeader, options)) ==
        "bad_session_header");

  std::vector<SessionProof> emptyProof = {{&fixture.header, {}}};
  CHECK(errorCode(pocket::protocol::buildProofTx(supplierAddress(), emptyProof, options)) ==
        "bad_proof");
}

TEST_CASE("malformed transaction options give typed errors") {
  ClaimFixture fixture;
  auto build = [&](const TxOptions& options) {
    return errorCode(pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), options));
  };
  TxOptions options = claimOptions();
  options.chainId.clear();
  CHECK(build(options) == "bad_chain_id");

  options = claimOptions();
  options.signerPublicKey.pop_back();
  CHECK(build(options) == "bad_public_key");
  options.signerPublicKey = Bytes(33, 0x04);
  CHECK(build(options) == "bad_public_key");

  options = claimOptions();
  options.memo = std::string("\xc3\x28", 2);
  CHECK(build(options) == "bad_memo");

  options = claimOptions();
  options.timeoutTimestamp->nanos = 1000000000;
  CHECK(build(options) == "bad_timestamp");
  options.timeoutTimestamp->nanos = -1;
  CHECK(build(options) == "bad_timestamp");

  for (const auto& coins :
       std::vector<std::vector<pocket::protocol::Coin>>{{{"upokt", "0"}},
                                                        {{"upokt", "012"}},
                                                        {{"upokt", "1e3"}},
                                                        {{"", "5"}},
                                                        {{"upokt", "5"}, {"stake", "5"}},
                                                        {{"upokt", "5"}, {"upokt", "6"}}}) {
    options = claimOptions();
    options.fee.amount = coins;
    CHECK(build(options) == "bad_fee");
  }

  options = claimOptions();
  options.fee.payer = "notanaddress";
  CHECK(build(options) == "bad_fee");
  options.fee.payer = supplierAddress();
  CHECK(build(options) == "ok");

  std::vector<pocket::protocol::TxMessage> badUrl = {{"pocket.proof.MsgCreateClaim", {1, 2}}};
  CHECK(errorCode(pocket::protocol::buildUnsignedTx(badUrl, claimOptions())) == "bad_message");

  auto tx = pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), claimOptions());
  REQUIRE(tx.ok());
  CHECK(errorCode(pocket::protocol::attachSignature(*tx, Bytes(63))) == "bad_signature");
  CHECK(errorCode(pocket::protocol::attachSignature(*tx, Bytes(64))) == "ok");
}

TEST_CASE("zero values are omitted as Go omits them") {
  const nlohmann::json& expected = vectorCase("zero_value_omission");
  ClaimFixture fixture;
  TxOptions options = claimOptions();
  options.accountNumber = 0;
  options.sequence = 0;
  options.memo = "devnet";
  options.timeoutTimestamp.reset();
  options.fee = {{}, 200000, "", ""};
  auto tx = pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), options);
  REQUIRE(tx.ok());
  CHECK(pocket::util::toHex(tx->authInfoBytes) ==
        expected.at("auth_info_bytes").get<std::string>());
  CHECK(pocket::util::toHex(tx->signDocBytes) == expected.at("sign_doc_bytes").get<std::string>());
}

TEST_CASE("malformed TxRaw bytes decode to a typed error, never a crash") {
  ClaimFixture fixture;
  auto tx = pocket::protocol::buildClaimTx(supplierAddress(), fixture.claims(), claimOptions());
  REQUIRE(tx.ok());
  Bytes raw = pocket::protocol::signTx(*tx, supplierKey()).txRaw;
  REQUIRE(pocket::protocol::decodeTx(raw).ok());

  // Every proper prefix is truncated somewhere (or lacks the signature).
  for (std::size_t length = 0; length < raw.size(); ++length) {
    auto decoded = pocket::protocol::decodeTx(pocket::util::ByteSpan(raw).first(length));
    CHECK(errorCode(decoded) == "bad_tx");
  }
  // An unknown field appended to TxRaw (field 4, varint 1) is rejected, as the chain does.
  Bytes unknown = raw;
  unknown.push_back(0x20);
  unknown.push_back(0x01);
  CHECK(errorCode(pocket::protocol::decodeTx(unknown)) == "bad_tx");
  // A second signature: one signer only.
  Bytes twoSignatures = raw;
  twoSignatures.push_back(0x1a);
  twoSignatures.push_back(0x00);
  CHECK(errorCode(pocket::protocol::decodeTx(twoSignatures)) == "bad_tx");
  // Garbage.
  CHECK(errorCode(pocket::protocol::decodeTx(Bytes{0xff, 0xff, 0xff})) == "bad_tx");
  CHECK(errorCode(pocket::protocol::decodeTx(Bytes{0x0a, 0x05, 0x01})) == "bad_tx");
}
