// abci_query as a chain client uses it: request bytes, the JSON-RPC envelope, ABCI error codes, and
// the response decoders, including malformed input.

#include "common/protocol/abci_query.h"

#include <string>

#include <doctest.h>

#include "common/util/base64.h"
#include "common/util/hex.h"
#include "cosmos/auth/v1beta1/auth.pb.h"
#include "cosmos/auth/v1beta1/query.pb.h"
#include "pocket/service/query.pb.h"
#include "pocket/shared/query.pb.h"
#include "test/vectors_path.h"

namespace {

using pocket::util::Bytes;

const nlohmann::json& entry(const std::string& name) {
  static const nlohmann::json document = pocket::test::loadVectors("cosmos/abci-query.json");
  for (const nlohmann::json& e : document.at("entries")) {
    if (e.at("name") == name) return e;
  }
  throw std::runtime_error("no abci-query entry " + name);
}

Bytes entryBytes(const std::string& name) {
  return pocket::util::fromHex(entry(name).at("bytes_hex").get<std::string>()).value();
}

std::string errorCode(const auto& result) {
  return result.ok() ? "ok" : result.error().code;
}

// The GetSession reply of a node at height 100.
nlohmann::json sessionReply() {
  return nlohmann::json::parse(R"({"response":{
    "code":0,"log":"","info":"","index":"0","key":null,
    "value":")" + entry("get_session_response").at("base64").get<std::string>() +
                               R"(","proofOps":null,"height":"100","codespace":""}})");
}

}  // namespace

TEST_CASE("a GetSession round trip: request bytes, JSON reply, decoded session") {
  auto query =
      pocket::protocol::getSessionQuery("pokt1e8yx3wwyy09l2xqlfgmjze75lncem7u3756aj8", "anvil", 95);
  CHECK(query.path == "/pocket.session.Query/GetSession");
  CHECK(pocket::util::toHex(query.data) == entry("get_session_request").at("bytes_hex"));

  auto response = pocket::protocol::parseAbciQueryResponse(sessionReply());
  REQUIRE(response.ok());
  CHECK(response->height == 100);
  CHECK(pocket::protocol::abciQueryStatus(query.path, *response).ok());
  auto session = pocket::protocol::decodeGetSessionResponse(response->value);
  REQUIRE(session.ok());
  CHECK(session->header().session_start_block_height() == 91);
  CHECK(session->header().session_end_block_height() == 100);
  CHECK(session->session_number() == 10);
  REQUIRE(session->suppliers_size() == 1);
  CHECK(session->suppliers(0).operator_address() == "pokt13x4cdvjayy0a6lmn7dd5e9ha03u0kdhmf5dyvc");
}

TEST_CASE("ABCI errors arrive inside a successful result and map to typed errors") {
  auto failed = pocket::protocol::parseAbciQueryResponse(nlohmann::json::parse(R"({"response":{
    "code":6,"log":"rpc error: code = Internal desc = block height 120 is ahead of the last committed block height 100: error during session hydration: unknown request",
    "info":"","index":"0","key":null,"value":null,"proofOps":null,"height":"100","codespace":"sdk"}})"));
  REQUIRE(failed.ok());
  CHECK(failed->code == 6);
  CHECK(failed->value.empty());
  auto status = pocket::protocol::abciQueryStatus(pocket::protocol::kGetSessionQueryPath, *failed);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == "query_failed");
  CHECK(status.error().message.find("is ahead of the last committed block") != std::string::npos);

  pocket::protocol::AbciQueryResponse notFound;
  notFound.code = pocket::protocol::kAbciCodeKeyNotFound;
  notFound.codespace = "sdk";
  CHECK(errorCode(pocket::protocol::abciQueryStatus("/cosmos.auth.v1beta1.Query/Account",
                                                    notFound)) == "not_found");
  pocket::protocol::AbciQueryResponse future;
  future.code = pocket::protocol::kAbciCodeInvalidHeight;
  future.codespace = "sdk";
  CHECK(errorCode(pocket::protocol::abciQueryStatus("/x", future)) == "invalid_height");
}

TEST_CASE("malformed JSON-RPC results are bad_response") {
  for (const char* text : {
           R"([])",
           R"({})",
           R"({"response":5})",
           R"({"response":{"code":"x"}})",
           R"({"response":{"code":-1}})",
           R"({"response":{"code":4294967296}})",
           R"({"response":{"height":"1e3"}})",
           R"({"response":{"value":"abc"}})",
           R"({"response":{"value":7}})",
           R"({"response":{"log":[]}})",
       }) {
    CAPTURE(text);
    CHECK(errorCode(pocket::protocol::parseAbciQueryResponse(nlohmann::json::parse(text))) ==
          "bad_response");
  }
}

TEST_CASE("an account response gives the signing account number and sequence") {
  auto query = pocket::protocol::accountQuery("pokt13x4cdvjayy0a6lmn7dd5e9ha03u0kdhmf5dyvc");
  CHECK(pocket::util::toHex(query.data) == entry("account_request").at("bytes_hex"));
  auto account = pocket::protocol::decodeAccountResponse(entryBytes("account_response"));
  REQUIRE(account.ok());
  CHECK(account->accountNumber == 7);
  CHECK(account->sequence == 3);
  CHECK(pocket::util::toHex(account->publicKey) ==
        "02c0a23b9a8a969e983147c2ed3d43911a5ca4cc21b343e4b07545eb8aa23d013b");

  // Before its first transaction an account has no public key.
  cosmos::auth::v1beta1::BaseAccount fresh;
  fresh.set_address("pokt1e8yx3wwyy09l2xqlfgmjze75lncem7u3756aj8");
  fresh.set_account_number(12);
  cosmos::auth::v1beta1::QueryAccountResponse response;
  response.mutable_account()->set_type_url("/cosmos.auth.v1beta1.BaseAccount");
  response.mutable_account()->set_value(fresh.SerializeAsString());
  std::string bytes = response.SerializeAsString();
  auto decoded = pocket::protocol::decodeAccountResponse(pocket::util::asBytes(bytes));
  REQUIRE(decoded.ok());
  CHECK(decoded->accountNumber == 12);
  CHECK(decoded->sequence == 0);
  CHECK(decoded->publicKey.empty());

  // Another account type (e.g. a module account) is not a signer we can use.
  response.mutable_account()->set_type_url("/cosmos.auth.v1beta1.ModuleAccount");
  bytes = response.SerializeAsString();
  CHECK(errorCode(pocket::protocol::decodeAccountResponse(pocket::util::asBytes(bytes))) ==
        "bad_response");
}

TEST_CASE("truncated or foreign response bytes are bad_response, never a crash") {
  for (const std::string name : {"get_session_response", "account_response", "simulate_response"}) {
    Bytes bytes = entryBytes(name);
    for (std::size_t length = 1; length < bytes.size(); ++length) {
      pocket::util::ByteSpan prefix = pocket::util::ByteSpan(bytes).first(length);
      CAPTURE(name);
      CAPTURE(length);
      // A prefix may happen to end on a field boundary; it must then still be a well-formed value.
      auto session = pocket::protocol::decodeGetSessionResponse(prefix);
      auto account = pocket::protocol::decodeAccountResponse(prefix);
      auto gas = pocket::protocol::decodeSimulateResponse(prefix);
      CHECK((session.ok() || session.error().code == "bad_response"));
      CHECK((account.ok() || account.error().code == "bad_response"));
      CHECK((gas.ok() || gas.error().code == "bad_response"));
    }
  }
  Bytes garbage = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
  CHECK(errorCode(pocket::protocol::decodeGetSessionResponse(garbage)) == "bad_response");
  CHECK(errorCode(pocket::protocol::decodeClaimResponse(garbage)) == "bad_response");
  CHECK(errorCode(pocket::protocol::decodeSharedParamsResponse(garbage)) == "bad_response");
  CHECK(errorCode(pocket::protocol::decodeComputeUnitsPerRelayResponse(garbage)) == "bad_response");
  // An empty value (the node found nothing) has no session.
  CHECK(errorCode(pocket::protocol::decodeGetSessionResponse({})) == "bad_response");
}

TEST_CASE("gas comes from either simulation path") {
  auto gas = pocket::protocol::decodeSimulateResponse(entryBytes("simulate_response"));
  REQUIRE(gas.ok());
  CHECK(gas->gasUsed == 87654);
  CHECK(gas->gasWanted == UINT64_MAX);

  std::string json =
      R"({"gas_info":{"gas_wanted":"18446744073709551615","gas_used":"87654"},"result":{"data":"","log":"","events":[]}})";
  auto appGas = pocket::protocol::decodeAppSimulateResponse(pocket::util::asBytes(json));
  REQUIRE(appGas.ok());
  CHECK(appGas->gasUsed == 87654);
  CHECK(appGas->gasWanted == UINT64_MAX);
  for (std::string bad : {"", "{", "[]", R"({"gas_info":1})", R"({"gas_info":{"gas_used":"-1"}})",
                          R"({"gas_info":{"gas_used":"18446744073709551616"}})"}) {
    CAPTURE(bad);
    CHECK(errorCode(pocket::protocol::decodeAppSimulateResponse(pocket::util::asBytes(bad))) ==
          "bad_response");
  }
  Bytes raw = {0x0a, 0x00};
  auto query = pocket::protocol::appSimulateQuery(raw);
  CHECK(query.path == "/app/simulate");
  CHECK(query.data == raw);
}

TEST_CASE("parameter and service queries carry poktroll's field numbers") {
  auto atHeight = pocket::protocol::sharedParamsAtHeightQuery(100);
  CHECK(atHeight.path == "/pocket.shared.Query/ParamsAtHeight");
  CHECK(pocket::util::toHex(atHeight.data) == "0864");  // {1: 100}
  CHECK(pocket::protocol::sharedParamsQuery().data.empty());

  auto difficulty = pocket::protocol::relayMiningDifficultyAtHeightQuery("anvil", 91);
  CHECK(difficulty.path == "/pocket.service.Query/RelayMiningDifficultyAtHeight");
  CHECK(pocket::util::toHex(difficulty.data) == "0a05616e76696c105b");  // {1: "anvil", 2: 91}
  auto units = pocket::protocol::computeUnitsPerRelayAtHeightQuery("anvil", 91);
  CHECK(units.path == "/pocket.service.Query/ComputeUnitsPerRelayAtHeight");
  CHECK(units.data == difficulty.data);
  auto balance = pocket::protocol::balanceQuery("pokt1x");
  CHECK(balance.path == "/cosmos.bank.v1beta1.Query/Balance");
  CHECK(pocket::util::toHex(balance.data) == "0a06706f6b743178120575706f6b74");  // {1, 2: "upokt"}

  pocket::shared::QueryParamsAtHeightResponse sharedResponse;
  sharedResponse.mutable_params()->set_num_blocks_per_session(10);
  sharedResponse.mutable_params()->set_claim_window_close_offset_blocks(4);
  std::string bytes = sharedResponse.SerializeAsString();
  auto params = pocket::protocol::decodeSharedParamsResponse(pocket::util::asBytes(bytes));
  REQUIRE(params.ok());
  CHECK(params->num_blocks_per_session() == 10);
  CHECK(params->claim_window_close_offset_blocks() == 4);

  pocket::service::QueryComputeUnitsPerRelayAtHeightResponse unitsResponse;
  unitsResponse.set_computeunitsperrelay(7);
  bytes = unitsResponse.SerializeAsString();
  auto decodedUnits =
      pocket::protocol::decodeComputeUnitsPerRelayResponse(pocket::util::asBytes(bytes));
  REQUIRE(decodedUnits.ok());
  CHECK(*decodedUnits == 7);
}
