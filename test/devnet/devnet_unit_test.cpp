// The devnet node's pure parts: strict JSON-RPC parameter decoding, event queries, CometBFT JSON,
// the ante handler on crafted transactions, `init` and the genesis file, and the shared Cosmos
// vectors run through these code paths.

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include <doctest.h>

#include "common/chain/json_reader.h"
#include "common/crypto/keys.h"
#include "common/protocol/block_header.h"
#include "common/protocol/tx.h"
#include "common/util/hex.h"
#include "test/devnet/ante.h"
#include "test/devnet/devnet_init.h"
#include "test/devnet/event_query.h"
#include "test/devnet/genesis_yaml.h"
#include "test/devnet/node.h"
#include "test/devnet/rpc_json.h"
#include "test/devnet/rpc_params.h"
#include "test/support/process.h"
#include "test/vectors_path.h"

namespace pocket::devnet {
namespace {

util::Bytes hexBytes(const std::string& hex) {
  return *util::fromHex(hex);
}

RpcParams jsonParams(const char* text, std::vector<std::string_view> names) {
  auto params = RpcParams::fromJson(nlohmann::json::parse(text), names);
  REQUIRE(params.ok());
  return *params;
}

}  // namespace

TEST_CASE("int64 params must be decimal strings in a POST body, bare digits in a URI") {
  RpcParams post = jsonParams(R"({"height":"95"})", {"height"});
  CHECK(**post.int64Param("height") == 95);

  RpcParams bare = jsonParams(R"({"height":95})", {"height"});
  auto rejected = bare.int64Param("height");
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.error().message ==
        "error converting json params to arguments: invalid 64-bit integer encoding \"95\", "
        "expected string");

  RpcParams word = jsonParams(R"({"height":"abc"})", {"height"});
  CHECK(word.int64Param("height").error().message ==
        "error converting json params to arguments: strconv.ParseInt: parsing \"abc\": invalid "
        "syntax");

  RpcParams absent = jsonParams(R"({})", {"height"});
  CHECK_FALSE(absent.int64Param("height")->has_value());
  RpcParams null = jsonParams(R"({"height":null})", {"height"});
  CHECK_FALSE(null.int64Param("height")->has_value());

  RpcParams uri = RpcParams::fromUri({{"height", "95"}});
  CHECK(**uri.int64Param("height") == 95);
  CHECK(RpcParams::fromUri({{"height", "0x5f"}}).int64Param("height").error().message ==
        "error converting http params to arguments: got a hex string arg, but expected 'int64'");
}

TEST_CASE("positional params follow the method's argument order and count") {
  RpcParams params =
      jsonParams(R"(["/a/b", "0a0b", "7", false])", {"path", "data", "height", "prove"});
  CHECK(*params.stringParam("path") == "/a/b");
  CHECK(*params.hexBytesParam("data") == util::Bytes{0x0a, 0x0b});
  CHECK(**params.int64Param("height") == 7);
  auto wrongCount = RpcParams::fromJson(nlohmann::json::parse(R"(["5", "6"])"),
                                        std::vector<std::string_view>{"height"});
  REQUIRE_FALSE(wrongCount.ok());
  CHECK(wrongCount.error().message.find("expected 1 parameters ([height]), got 2") !=
        std::string::npos);
}

TEST_CASE(
    "bytes params: base64 in POST, 0x-hex or a quoted string in a URI; hex bytes without 0x in "
    "POST") {
  CHECK(*jsonParams(R"({"tx":"AAEC"})", {"tx"}).bytesParam("tx") == util::Bytes{0, 1, 2});
  CHECK(jsonParams(R"({"tx":"AAE"})", {"tx"})
            .bytesParam("tx")
            .error()
            .message.starts_with(
                "error converting json params to arguments: illegal base64 data at input byte"));
  CHECK(jsonParams(R"({"tx":5})", {"tx"}).bytesParam("tx").error().message ==
        "error converting json params to arguments: json: cannot unmarshal number into Go value "
        "of type []uint8");
  CHECK(*RpcParams::fromUri({{"tx", "0x000102"}}).bytesParam("tx") == util::Bytes{0, 1, 2});
  CHECK(*RpcParams::fromUri({{"tx", "\"ab\""}}).bytesParam("tx") == util::Bytes{'a', 'b'});

  CHECK(*jsonParams(R"({"data":"0A2b"})", {"data"}).hexBytesParam("data") ==
        util::Bytes{0x0a, 0x2b});
  CHECK(jsonParams(R"({"data":"0g"})", {"data"}).hexBytesParam("data").error().message ==
        "error converting json params to arguments: encoding/hex: invalid byte: U+0067 'g'");
  CHECK(jsonParams(R"({"data":"abc"})", {"data"}).hexBytesParam("data").error().message ==
        "error converting json params to arguments: encoding/hex: odd length hex string");
}

TEST_CASE("string and bool params are typed JSON; URI strings must be quoted") {
  CHECK(jsonParams(R"({"path":7})", {"path"}).stringParam("path").error().message ==
        "error converting json params to arguments: json: cannot unmarshal number into Go value "
        "of type string");
  CHECK(*RpcParams::fromUri({{"path", "\"/x\""}}).stringParam("path") == "/x");
  CHECK_FALSE(RpcParams::fromUri({{"path", "/x"}}).stringParam("path").ok());
  CHECK(*jsonParams(R"({"prove":true})", {"prove"}).boolParam("prove"));
  CHECK(jsonParams(R"({"prove":"true"})", {"prove"}).boolParam("prove").error().message ==
        "error converting json params to arguments: json: cannot unmarshal string into Go value "
        "of type bool");
}

TEST_CASE("event queries match CometBFT's composite keys with AND, strings and numbers") {
  auto query = EventQuery::parse("tm.event='Tx' AND message.sender='pokt1a' AND tx.height>=5");
  REQUIRE(query.ok());
  CHECK(query->eventType() == "Tx");
  EventMap events{
      {"tm.event", {"Tx"}}, {"message.sender", {"pokt1b", "pokt1a"}}, {"tx.height", {"7"}}};
  CHECK(query->matches(events));
  events["tx.height"] = {"4"};
  CHECK_FALSE(query->matches(events));
  events["tx.height"] = {"5"};
  events["message.sender"] = {"pokt1b"};
  CHECK_FALSE(query->matches(events));

  CHECK_FALSE(EventQuery::parse("").ok());
  CHECK_FALSE(EventQuery::parse("tm.event=").ok());
  CHECK_FALSE(EventQuery::parse("tm.event='Tx' OR tm.event='NewBlock'").ok());
  CHECK_FALSE(EventQuery::parse("tm.event='Tx").ok());
}

TEST_CASE("times print as RFC 3339 with trailing zeros trimmed") {
  CHECK(rfc3339({1767225691, 0}) == "2026-01-01T00:01:31Z");
  CHECK(rfc3339({1732570434, 785576474}) == "2024-11-25T21:33:54.785576474Z");
  CHECK(rfc3339({1767225600, 900000000}) == "2026-01-01T00:00:00.9Z");
}

TEST_CASE("header-hash.json: the devnet's header JSON and hash reproduce every case") {
  auto vectors = test::loadVectors("cosmos/header-hash.json");
  for (const auto& c : vectors["cases"]) {
    CAPTURE(c["name"].get<std::string>());
    const auto& j = c["header_json"];
    // The session manager's strict CometBFT header decoder reads the vector's JSON.
    auto decoded = chain::json::header(chain::json::At{j, "header_json"});
    REQUIRE_MESSAGE(decoded.ok(), decoded.error().message);
    const protocol::BlockHeader& header = *decoded;
    auto hash = protocol::headerHash(header);
    REQUIRE(hash.ok());
    CHECK(upperHex(*hash) == c["hash"].get<std::string>());

    // The JSON the devnet serves for this header is CometBFT's, field for field (version.app is
    // omitted when 0).
    nlohmann::json served = nlohmann::json::parse(headerJson(header).dump());
    nlohmann::json expected = j;
    if (expected["version"].contains("app") && expected["version"]["app"] == "0") {
      expected["version"].erase("app");
    }
    CHECK(served == expected);
  }
}

// --- The ante handler on crafted transactions ---------------------------------------------------

namespace {

struct Signer {
  crypto::PrivateKey key =
      crypto::PrivateKey::fromSecret(util::asBytes(std::string_view("ante-signer")));
  std::string address() const { return key.publicKey().address(); }
  util::Bytes publicKey() const {
    crypto::PublicKey publicKey = key.publicKey();
    return {publicKey.compressed().begin(), publicKey.compressed().end()};
  }
};

util::Bytes msgSend(const std::string& from, const std::string& to, const std::string& amount) {
  auto field = [](util::Bytes& out, int number, const std::string& value) {
    out.push_back(static_cast<std::uint8_t>(number << 3 | 2));
    out.push_back(static_cast<std::uint8_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
  };
  util::Bytes coin;
  field(coin, 1, "upokt");
  field(coin, 2, amount);
  util::Bytes out;
  field(out, 1, from);
  field(out, 2, to);
  field(out, 3, std::string(coin.begin(), coin.end()));
  return out;
}

struct Crafted {
  bool unordered = false;
  std::optional<protocol::TxTimestamp> timeoutTimestamp;
  std::string chainId = "pocket";
  std::uint64_t accountNumber = 3;
  std::uint64_t sequence = 0;
  std::uint64_t fee = 200;
  std::uint64_t gasLimit = 200000;
  std::uint64_t timeoutHeight = 0;
};

protocol::DecodedTx craft(const Signer& signer, const Crafted& c) {
  protocol::TxOptions options;
  options.chainId = c.chainId;
  options.accountNumber = c.accountNumber;
  options.sequence = c.sequence;
  options.signerPublicKey = signer.publicKey();
  options.timeoutHeight = c.timeoutHeight;
  options.unordered = c.unordered;
  options.timeoutTimestamp = c.timeoutTimestamp;
  options.fee.gasLimit = c.gasLimit;
  if (c.fee > 0) options.fee.amount = {{"upokt", std::to_string(c.fee)}};
  std::vector<protocol::TxMessage> messages{
      {std::string(kMsgSendTypeUrl), msgSend(signer.address(), signer.address(), "1")}};
  auto unsignedTx = protocol::buildUnsignedTx(messages, options);
  REQUIRE(unsignedTx.ok());
  protocol::SignedTx signedTx = protocol::signTx(*unsignedTx, signer.key);
  auto decoded = protocol::decodeTx(signedTx.txRaw);
  REQUIRE(decoded.ok());
  return *decoded;
}

AnteContext context(bool checkTx = true) {
  AnteContext c;
  c.chainId = "pocket";
  c.blockHeight = 10;
  c.blockTime = {1767225600, 0};
  c.checkTx = checkTx;
  c.minGasPriceNumerator = 1;
  c.minGasPriceDenominator = 1000;  // 200000 gas → 200upokt
  return c;
}

AnteAccount funded(const Signer& signer, std::uint64_t sequence = 0) {
  AnteAccount account;
  account.exists = true;
  account.accountNumber = 3;
  account.sequence = sequence;
  account.publicKey = signer.publicKey();
  account.spendableUpokt = 1000000;
  return account;
}

AbciFailure rejected(const std::variant<AnteOutcome, AbciFailure>& verdict) {
  REQUIRE(std::holds_alternative<AbciFailure>(verdict));
  return std::get<AbciFailure>(verdict);
}

constexpr const char* kBadSignatureLog =
    "signature verification failed; please verify account number (3) and chain-id (pocket): "
    "(unable to verify single signer signature): unauthorized";

}  // namespace

TEST_CASE("ante: a well-formed, signed, funded tx passes and says what to charge") {
  Signer signer;
  auto verdict = checkAnte(craft(signer, {}), signer.address(), funded(signer), context());
  REQUIRE(std::holds_alternative<AnteOutcome>(verdict));
  const AnteOutcome& outcome = std::get<AnteOutcome>(verdict);
  CHECK(outcome.signer == signer.address());
  CHECK(outcome.feeUpokt == 200);
  CHECK(outcome.gasWanted == 200000);
  CHECK(outcome.gasUsed == kGasPerTx + kGasPerMessage);
}

TEST_CASE("ante: signature, chain id and account number failures are sdk/4 with the SDK's log") {
  Signer signer;
  protocol::DecodedTx tampered = craft(signer, {});
  tampered.signatures[0][5] ^= 0x01;
  AbciFailure bad = rejected(checkAnte(tampered, signer.address(), funded(signer), context()));
  CHECK(bad.code == 4);
  CHECK(bad.codespace == "sdk");
  CHECK(bad.log == kBadSignatureLog);

  Crafted otherChain;
  otherChain.chainId = "pocket-beta";
  AbciFailure chain =
      rejected(checkAnte(craft(signer, otherChain), signer.address(), funded(signer), context()));
  CHECK(chain.code == 4);
  CHECK(chain.codespace == "sdk");
  CHECK(chain.log == kBadSignatureLog);

  Crafted otherAccount;
  otherAccount.accountNumber = 4;
  AbciFailure number =
      rejected(checkAnte(craft(signer, otherAccount), signer.address(), funded(signer), context()));
  CHECK(number.code == 4);
  CHECK(number.codespace == "sdk");
  CHECK(number.log == kBadSignatureLog);
}

TEST_CASE("ante: stale and future sequences are sdk/32 naming the expected value") {
  Signer signer;
  Crafted stale;
  stale.sequence = 1;
  AbciFailure old =
      rejected(checkAnte(craft(signer, stale), signer.address(), funded(signer, 2), context()));
  CHECK(old.code == 32);
  CHECK(old.codespace == "sdk");
  CHECK(old.log == "account sequence mismatch, expected 2, got 1: incorrect account sequence");
  Crafted future;
  future.sequence = 5;
  AbciFailure ahead =
      rejected(checkAnte(craft(signer, future), signer.address(), funded(signer, 2), context()));
  CHECK(ahead.code == 32);
  CHECK(ahead.codespace == "sdk");
  CHECK(ahead.log == "account sequence mismatch, expected 2, got 5: incorrect account sequence");
}

TEST_CASE("ante: fee below gas x min gas price is sdk/13 in CheckTx only") {
  Signer signer;
  Crafted cheap;
  cheap.fee = 199;
  AbciFailure low =
      rejected(checkAnte(craft(signer, cheap), signer.address(), funded(signer), context()));
  CHECK(low.code == 13);
  CHECK(low.codespace == "sdk");
  CHECK(low.log == "insufficient fees; got: 199upokt required: 200upokt: insufficient fee");
  // A block (DeliverTx) does not apply the node-local minimum.
  CHECK(std::holds_alternative<AnteOutcome>(
      checkAnte(craft(signer, cheap), signer.address(), funded(signer), context(false))));
}

TEST_CASE("ante: a fee above the spendable balance is sdk/5; an unknown payer sdk/9") {
  Signer signer;
  AnteAccount poor = funded(signer);
  poor.spendableUpokt = 150;
  AbciFailure funds = rejected(checkAnte(craft(signer, {}), signer.address(), poor, context()));
  CHECK(funds.code == 5);
  CHECK(funds.codespace == "sdk");
  CHECK(funds.log ==
        "spendable balance 150upokt is smaller than 200upokt: insufficient funds: insufficient "
        "funds");
  AbciFailure unknown =
      rejected(checkAnte(craft(signer, {}), signer.address(), AnteAccount{}, context()));
  CHECK(unknown.code == 9);
  CHECK(unknown.log ==
        "fee payer address: " + signer.address() + " does not exist: unknown address");
}

TEST_CASE("ante: timeout height, gas limit and a missing public key") {
  Signer signer;
  Crafted late;
  late.timeoutHeight = 9;
  AbciFailure timeout =
      rejected(checkAnte(craft(signer, late), signer.address(), funded(signer), context()));
  CHECK(timeout.code == 30);
  CHECK(timeout.log == "block height: 10, timeout height: 9: tx timeout height");

  Crafted starved;
  starved.gasLimit = 1000;
  starved.fee = 1;
  AbciFailure gas =
      rejected(checkAnte(craft(signer, starved), signer.address(), funded(signer), context()));
  CHECK(gas.code == 11);

  protocol::DecodedTx keyless = craft(signer, {});
  keyless.signerPublicKey.clear();
  AnteAccount noKey = funded(signer);
  noKey.publicKey.clear();
  AbciFailure pubkey = rejected(checkAnte(keyless, signer.address(), noKey, context()));
  CHECK(pubkey.code == 8);
  CHECK(pubkey.log == "pubkey on account is not set: invalid pubkey");

  Signer other;
  other.key = crypto::PrivateKey::fromSecret(util::asBytes(std::string_view("someone-else")));
  AbciFailure mismatch =
      rejected(checkAnte(craft(other, {}), signer.address(), funded(signer), context()));
  CHECK(mismatch.code == 8);
}

TEST_CASE(
    "ante: unordered transactions (v0.53): no sequence, a timeout timestamp within 10 minutes, "
    "once") {
  Signer signer;
  Crafted unordered;
  unordered.unordered = true;
  unordered.sequence = 0;
  unordered.timeoutTimestamp = protocol::TxTimestamp{1767225600 + 540, 5};  // block time + 9 min
  AnteAccount account = funded(signer, 5);  // the account's sequence plays no part
  auto verdict = checkAnte(craft(signer, unordered), signer.address(), account, context());
  REQUIRE(std::holds_alternative<AnteOutcome>(verdict));
  CHECK(std::get<AnteOutcome>(verdict).unordered);
  CHECK(std::get<AnteOutcome>(verdict).unorderedNonceNanos ==
        (1767225600LL + 540) * 1000000000 + 5);
  CHECK(std::get<AnteOutcome>(verdict).gasUsed == kGasPerTx + kGasPerMessage + kUnorderedTxGas);

  AnteAccount used = account;
  used.unorderedNonceUsed = true;
  AbciFailure replay =
      rejected(checkAnte(craft(signer, unordered), signer.address(), used, context()));
  CHECK(replay.code == 18);
  CHECK(replay.log.starts_with("failed to add unordered nonce: "));

  Crafted tooFar = unordered;
  tooFar.timeoutTimestamp = protocol::TxTimestamp{1767225600 + 601, 0};
  AbciFailure ttl =
      rejected(checkAnte(craft(signer, tooFar), signer.address(), account, context()));
  CHECK(ttl.code == 18);
  CHECK(ttl.log == "unordered tx ttl exceeds 10m0s: invalid request");

  Crafted passed = unordered;
  passed.timeoutTimestamp = protocol::TxTimestamp{1767225600 - 1, 0};
  AbciFailure expired =
      rejected(checkAnte(craft(signer, passed), signer.address(), account, context()));
  CHECK(expired.code == 42);
  CHECK(expired.log ==
        "block time: 2026-01-01 00:00:00 +0000 UTC, timeout timestamp: 2025-12-31 "
        "23:59:59 +0000 UTC: tx timeout");

  protocol::DecodedTx noTimestamp = craft(signer, unordered);
  noTimestamp.timeoutTimestamp.reset();
  AbciFailure missing = rejected(checkAnte(noTimestamp, signer.address(), account, context()));
  CHECK(missing.code == 18);
  CHECK(missing.log == "unordered transaction must have timeout_timestamp set: invalid request");
}

TEST_CASE("tx-sign.json: the Go-signed v0.53 tx and the claim tx verify through the ante handler") {
  auto vectors = test::loadVectors("cosmos/tx-sign.json");
  const auto& go = vectors["go_cross_check"];
  auto decoded = protocol::decodeTx(hexBytes(go["tx_raw_bytes"]));
  REQUIRE(decoded.ok());
  auto key = crypto::PublicKey::fromHex(go["signer_pubkey_hex"].get<std::string>());
  REQUIRE(key.ok());
  AnteAccount account;
  account.exists = true;
  account.accountNumber = 0;
  account.sequence = 0;
  account.spendableUpokt = 1000000000;
  AnteContext c = context(false);
  c.minGasPriceNumerator = 0;
  auto verdict = checkAnte(*decoded, key->address(), account, c);
  CHECK(std::holds_alternative<AnteOutcome>(verdict));
  // The same bytes under another chain id do not verify: the check is real.
  c.chainId = "pocket-beta";
  CHECK(rejected(checkAnte(*decoded, key->address(), account, c)).code == 4);

  for (const auto& tc : vectors["cases"]) {
    CAPTURE(tc["name"].get<std::string>());
    auto tx = protocol::decodeTx(hexBytes(tc["tx_raw_bytes"]));
    REQUIRE(tx.ok());
    auto signer = messageSigner(tx->messages.front());
    REQUIRE(signer.ok());
    CHECK(*signer == tc["inputs"]["signer_address"].get<std::string>());
    AnteAccount a;
    a.exists = true;
    a.accountNumber = tc["inputs"]["account_number"];
    a.sequence = tc["inputs"]["sequence"];
    a.spendableUpokt = 1000000000;
    AnteContext cc = context(false);
    cc.blockHeight = 100;
    cc.blockTime = {1767225600, 0};
    auto v = checkAnte(*tx, *signer, a, cc);
    CHECK(std::holds_alternative<AnteOutcome>(v));
  }
}

TEST_CASE("genesis YAML: poktroll names, defaults, param changes, key-path errors") {
  const char* yaml = R"(
chain_id: pocket
block_time: 50ms
min_gas_price: "0.001"
params:
  shared: {num_blocks_per_session: 4}
  proof: {proof_request_probability: 1, proof_submission_fee: 1000upokt}
services:
  - {id: anvil, compute_units_per_relay: 2}
accounts:
  - {address: pokt13x4cdvjayy0a6lmn7dd5e9ha03u0kdhmf5dyvc, balance: 5000}
applications:
  - {address: pokt1e8yx3wwyy09l2xqlfgmjze75lncem7u3756aj8, stake: 100000000, services: [anvil]}
suppliers:
  - operator_address: pokt13x4cdvjayy0a6lmn7dd5e9ha03u0kdhmf5dyvc
    stake: 1000000000
    services:
      - service_id: anvil
        endpoints: [{url: "http://127.0.0.1:8545", rpc_type: JSON_RPC}]
param_changes:
  - {height: 9, proof: {proof_request_probability: 0.5}}
)";
  auto config = parseGenesisYaml(yaml);
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  const Genesis& g = config->genesis;
  CHECK(g.blockTime == std::chrono::milliseconds(50));
  CHECK(g.shared.numBlocksPerSession == 4);
  CHECK(g.shared.claimWindowCloseOffsetBlocks == 4);  // poktroll default kept
  CHECK(g.proof.proofSubmissionFeeUpokt == 1000);
  CHECK(config->minGasPriceNumerator == 1);
  CHECK(config->minGasPriceDenominator == 1000);
  CHECK(g.suppliers[0].ownerAddress == g.suppliers[0].operatorAddress);
  REQUIRE(g.paramChanges.size() == 1);
  // A change starts from the params in force: only the named key differs.
  CHECK(g.paramChanges[0].proof->proofRequestProbability == 0.5);
  CHECK(g.paramChanges[0].proof->proofSubmissionFeeUpokt == 1000);
  CHECK_FALSE(g.paramChanges[0].shared.has_value());

  auto unknownKey =
      parseGenesisYaml("chain_id: pocket\nparams: {shared: {num_block_per_session: 4}}\n");
  REQUIRE_FALSE(unknownKey.ok());
  CHECK(unknownKey.error().message.starts_with("params.shared.num_block_per_session: unknown key"));

  auto badType = parseGenesisYaml(std::string(yaml).replace(
      std::string(yaml).find("rpc_type: JSON_RPC"), 18, "rpc_type: JSONRPC"));
  REQUIRE_FALSE(badType.ok());
  CHECK(badType.error().message.starts_with(
      "suppliers[0].services[0].endpoints[0].rpc_type: 'JSONRPC' is not one of"));

  auto negative = parseGenesisYaml(
      "accounts:\n  - {address: pokt13x4cdvjayy0a6lmn7dd5e9ha03u0kdhmf5dyvc, balance: -5}\n");
  REQUIRE_FALSE(negative.ok());
  CHECK(
      negative.error().message.starts_with("accounts[0].balance: must be a non-negative integer"));

  auto badDuration = parseGenesisYaml("block_time: fast\n");
  REQUIRE_FALSE(badDuration.ok());
  CHECK(badDuration.error().message.starts_with("block_time: "));

  // validateGenesis() runs too: an unknown service is named by its key path.
  auto unknownService = parseGenesisYaml(std::string(yaml).replace(
      std::string(yaml).find("services: [anvil]"), 17, "services: [other]"));
  REQUIRE_FALSE(unknownService.ok());
  CHECK(unknownService.error().message.starts_with("applications[0].services[0]"));
}

TEST_CASE(
    "init: a genesis that loads, with the keys of applications and gateways on their accounts") {
  pocket::testing::TempDir dir("devnet-init");
  InitOptions options;
  options.directory = dir.path();
  options.applications = 2;
  options.gateways = 2;
  options.seed = "init-test";
  auto written = initDevnet(options);
  REQUIRE_MESSAGE(written.ok(), written.error().message);
  auto config = loadGenesisFile(*written);
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  const Genesis& genesis = config->genesis;

  auto keyOf = [&](const std::string& name) {
    auto key = crypto::loadPrivateKeyFile(dir / ("keys/" + name + ".key"));
    REQUIRE_MESSAGE(key.ok(), name);
    return key->publicKey();
  };
  auto accountOf = [&](const std::string& address) -> const Account& {
    auto it = std::find_if(genesis.accounts.begin(), genesis.accounts.end(),
                           [&](const Account& a) { return a.address == address; });
    REQUIRE(it != genesis.accounts.end());
    return *it;
  };
  for (const char* name : {"application-1", "application-2", "gateway-1", "gateway-2"}) {
    CAPTURE(name);
    const crypto::PublicKey key = keyOf(name);
    const Account& account = accountOf(key.address());
    REQUIRE(account.publicKey.has_value());
    CHECK(account.publicKey->hex() == key.hex());
  }
  // Every application delegates to both gateways, so both rings are complete.
  REQUIRE(genesis.applications.size() == 2);
  const std::vector<std::string> gateways{keyOf("gateway-1").address(),
                                          keyOf("gateway-2").address()};
  CHECK(genesis.applications[0].delegateeGatewayAddresses == gateways);
  CHECK(genesis.applications[1].delegateeGatewayAddresses == gateways);
  for (const char* name : {"faucet", "supplier-1-operator", "supplier-1-owner"}) {
    CAPTURE(name);
    CHECK_FALSE(accountOf(keyOf(name).address()).publicKey.has_value());
  }

  // A second init refuses to overwrite the first and changes no file.
  const std::string genesisText = pocket::testing::readFile(written->string());
  const std::string keyText = pocket::testing::readFile(dir / "keys/application-1.key");
  options.seed = "another-seed";
  auto again = initDevnet(options);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == kErrorInit);
  CHECK(again.error().message ==
        written->string() + " already exists (use --force to overwrite it and its keys)");
  CHECK(pocket::testing::readFile(written->string()) == genesisText);
  CHECK(pocket::testing::readFile(dir / "keys/application-1.key") == keyText);

  // A bad service id is named and nothing is written.
  pocket::testing::TempDir empty("devnet-init-bad");
  InitOptions bad;
  bad.directory = empty.path();
  bad.serviceIds = {"anvil", "no spaces"};
  auto refused = initDevnet(bad);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.starts_with("--services: 'no spaces': "));
  CHECK_FALSE(std::filesystem::exists(empty / "genesis.yaml"));
  CHECK_FALSE(std::filesystem::exists(empty / "keys"));
}

TEST_CASE("durations read as Go writes them") {
  CHECK(*parseDuration("1s") == std::chrono::seconds(1));
  CHECK(*parseDuration("50ms") == std::chrono::milliseconds(50));
  CHECK(*parseDuration("1.5s") == std::chrono::milliseconds(1500));
  CHECK(*parseDuration("1m30s") == std::chrono::seconds(90));
  CHECK_FALSE(parseDuration("5").ok());
  CHECK_FALSE(parseDuration("").ok());
}

TEST_CASE("the node's Config query prints the minimum gas price as the SDK prints DecCoins") {
  NodeOptions options;
  CHECK(minimumGasPriceText(options) == "0.000001000000000000upokt");
  options.minGasPriceNumerator = 25;
  options.minGasPriceDenominator = 10;
  CHECK(minimumGasPriceText(options) == "2.500000000000000000upokt");
  options.minGasPriceNumerator = 1;
  options.minGasPriceDenominator = 3;  // 18 decimals, truncated like sdk.Dec
  CHECK(minimumGasPriceText(options) == "0.333333333333333333upokt");
  options.minGasPriceNumerator = 0;
  CHECK(minimumGasPriceText(options) == "");
}

}  // namespace pocket::devnet
