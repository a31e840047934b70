// ChainQueries against a fake node answering abci_query per gRPC path with protobuf values: the
// golden GetSession and Account responses of abci-query.json, and messages built here.

#include "common/chain/chain_queries.h"

#include <cstdio>
#include <cstring>
#include <map>

#include <doctest/doctest.h>

#include "common/protocol/proto_wire.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "cosmos/auth/v1beta1/auth.pb.h"
#include "cosmos/auth/v1beta1/query.pb.h"
#include "cosmos/bank/v1beta1/query.pb.h"
#include "pocket/application/query.pb.h"
#include "pocket/proof/query.pb.h"
#include "pocket/service/query.pb.h"
#include "pocket/session/query.pb.h"
#include "pocket/shared/query.pb.h"
#include "test/chain/fake_node.h"
#include "test/vectors_path.h"

namespace pocket::chain {
namespace {

using test::FakeNode;
using test::FakeReply;
using test::RecordedRequest;

constexpr const char* kApp = "pokt1e8yx3wwyy09l2xqlfgmjze75lncem7u3756aj8";
constexpr const char* kSupplier = "pokt13x4cdvjayy0a6lmn7dd5e9ha03u0kdhmf5dyvc";

std::string vectorBase64(const std::string& name) {
  auto vectors = test::loadVectors("cosmos/abci-query.json");
  for (const auto& entry : vectors["entries"]) {
    if (entry["name"] == name) return entry["base64"];
  }
  throw std::runtime_error("no vector " + name);
}

std::string queryResult(std::uint32_t code, const std::string& codespace, const std::string& log,
                        const std::string& valueBase64, std::int64_t height) {
  nlohmann::json response = {
      {"code", code},
      {"log", log},
      {"info", ""},
      {"index", "0"},
      {"key", nullptr},
      {"value", valueBase64.empty() ? nlohmann::json() : nlohmann::json(valueBase64)},
      {"proofOps", nullptr},
      {"height", std::to_string(height)},
      {"codespace", codespace}};
  return nlohmann::json{{"response", response}}.dump();
}

std::string base64Of(const google::protobuf::MessageLite& message) {
  std::string bytes = message.SerializeAsString();
  return util::toBase64(util::asBytes(bytes));
}

// The account response for `address` with this compressed key (none when empty).
std::string accountValue(const std::string& address, const util::Bytes& key, std::uint64_t number,
                         std::uint64_t sequence) {
  cosmos::auth::v1beta1::BaseAccount account;
  account.set_address(address);
  if (!key.empty()) {
    auto any = protocol::encodePublicKeyAny(key);
    REQUIRE(any.ok());
    account.mutable_pub_key()->ParseFromString(std::string(any->begin(), any->end()));
  }
  account.set_account_number(number);
  account.set_sequence(sequence);
  cosmos::auth::v1beta1::QueryAccountResponse response;
  response.mutable_account()->set_type_url(std::string(protocol::kBaseAccountTypeUrl));
  response.mutable_account()->set_value(account.SerializeAsString());
  return base64Of(response);
}

util::Bytes compressedKey(std::uint8_t fill) {
  util::Bytes key(33, fill);
  key[0] = 0x02;
  return key;
}

// One canned abci_query answer per path (plus per request data, for accounts).
struct Chain {
  std::map<std::string, std::string> byPath;          // path -> result JSON
  std::map<std::string, std::string> accountsByData;  // request data hex -> result JSON
};

struct Harness {
  explicit Harness(Chain chainData)
      : chain(std::move(chainData)),
        node([this](const RecordedRequest& request) {
          const auto& params = request.parsed["params"];
          std::string path = params["path"];
          std::string data = params["data"];
          auto account = chain.accountsByData.find(data);
          if (path == protocol::kAccountQueryPath && account != chain.accountsByData.end()) {
            return FakeReply::json(test::rpcResult(request.parsed["id"], account->second));
          }
          auto it = chain.byPath.find(path);
          if (it == chain.byPath.end()) {
            return FakeReply::json(test::rpcResult(
                request.parsed["id"],
                queryResult(6, "sdk", "unknown query path: unknown request", "", 100)));
          }
          return FakeReply::json(test::rpcResult(request.parsed["id"], it->second));
        }),
        log(std::fopen("/dev/null", "w")),
        sink(log),
        client(config(node.rpcUrl()), metrics, sink),
        queries(client, metrics, sink) {}
  ~Harness() { std::fclose(log); }

  static NodeClientConfig config(const std::string& url) {
    NodeClientConfig c;
    c.rpcUrl = url;
    c.readRetries = 0;
    return c;
  }

  Chain chain;
  FakeNode node;
  std::FILE* log;
  util::LogSink sink;
  util::MetricsRegistry metrics;
  NodeClient client;
  ChainQueries queries;
};

std::string dataHex(const protocol::AbciQuery& query) {
  return util::toHex(query.data);
}

TEST_CASE("session: the golden GetSession response, every field") {
  Chain chain;
  chain.byPath[std::string(protocol::kGetSessionQueryPath)] =
      queryResult(0, "", "", vectorBase64("get_session_response"), 100);
  Harness h(chain);
  auto session = h.queries.session(kApp, "anvil", 95);
  REQUIRE_MESSAGE(session.ok(), session.error().message);
  CHECK(session->header.applicationAddress == kApp);
  CHECK(session->header.serviceId == "anvil");
  CHECK(session->header.sessionId ==
        "7d6060227fa9465bdb0b2ea856bc8edb154e500dee47411e95a1d1f69e55742f");
  CHECK(session->header.sessionStartBlockHeight == 91);
  CHECK(session->header.sessionEndBlockHeight == 100);
  CHECK(session->sessionNumber == 10);
  CHECK(session->numBlocksPerSession == 10);
  CHECK(session->application.address == kApp);
  CHECK(session->application.stake.denom == "upokt");
  CHECK(session->application.stake.amount == "100000000");
  CHECK(session->application.serviceIds == std::vector<std::string>{"anvil"});
  CHECK(session->application.delegateeGatewayAddresses.empty());
  CHECK_FALSE(session->application.perSessionSpendLimit.has_value());
  REQUIRE(session->suppliers.size() == 1);
  CHECK(session->suppliers[0].operatorAddress == kSupplier);
  CHECK(session->suppliers[0].ownerAddress == kSupplier);
  CHECK(session->suppliers[0].stake.amount == "1000000000");
  CHECK(session->hasSupplier(kSupplier));
  CHECK_FALSE(session->hasSupplier(kApp));
  // The request carried the golden GetSession bytes.
  auto vectors = test::loadVectors("cosmos/abci-query.json");
  CHECK(h.node.requests()[0].parsed["params"]["data"] == vectors["entries"][0]["bytes_hex"]);
}

TEST_CASE("account: the golden Account response") {
  Chain chain;
  chain.byPath[std::string(protocol::kAccountQueryPath)] =
      queryResult(0, "", "", vectorBase64("account_response"), 100);
  Harness h(chain);
  auto account = h.queries.account(kSupplier, 100);
  REQUIRE_MESSAGE(account.ok(), account.error().message);
  CHECK(account->address == kSupplier);
  CHECK(util::toHex(account->publicKey) ==
        "02c0a23b9a8a969e983147c2ed3d43911a5ca4cc21b343e4b07545eb8aa23d013b");
  CHECK(account->accountNumber == 7);
  CHECK(account->sequence == 3);
  CHECK(h.node.requests()[0].parsed["params"]["height"] == "100");
}

TEST_CASE("ABCI failures become named errors with codespace, code and log; each is counted") {
  struct Case {
    std::uint32_t code;
    std::string log;
    std::string_view expected;
  };
  const Case cases[] = {
      {22, "rpc error: code = NotFound desc = account pokt1x not found: key not found",
       kErrNotFound},
      {26, "cannot query with height in the future; please provide a valid height: invalid height",
       kErrInvalidHeight},
      {6, "rpc error: code = Internal desc = block height 120 is ahead: unknown request",
       kErrQueryFailed},
  };
  for (const auto& c : cases) {
    CAPTURE(c.code);
    Chain chain;
    chain.byPath[std::string(protocol::kAccountQueryPath)] =
        queryResult(c.code, "sdk", c.log, "", 0);
    Harness h(chain);
    auto account = h.queries.account("pokt1x");
    REQUIRE_FALSE(account.ok());
    CHECK(account.error().code == c.expected);
    CHECK(account.error().message.find("codespace=sdk") != std::string::npos);
    CHECK(account.error().message.find("code=" + std::to_string(c.code)) != std::string::npos);
    CHECK(account.error().message.find("log=") != std::string::npos);
    CHECK(h.metrics.render().find("pocket_chain_query_errors_total{path=\"/"
                                  "cosmos.auth.v1beta1.Query/Account\",reason=\"" +
                                  std::string(c.expected) + "\"} 1") != std::string::npos);
  }
}

TEST_CASE("a value that is not the expected message is bad_value") {
  Chain chain;
  chain.byPath[std::string(protocol::kGetSessionQueryPath)] =
      queryResult(0, "", "", util::toBase64(util::Bytes{0xff, 0xff, 0xff}), 100);
  Harness h(chain);
  auto session = h.queries.session(kApp, "anvil", 95);
  REQUIRE_FALSE(session.ok());
  CHECK(session.error().code == kErrBadValue);
}

application::QueryGetApplicationResponse applicationWithGateways() {
  application::QueryGetApplicationResponse response;
  auto* app = response.mutable_application();
  app->set_address(kApp);
  app->mutable_stake()->set_denom("upokt");
  app->mutable_stake()->set_amount("5000");
  app->add_service_configs()->set_service_id("anvil");
  app->add_service_configs()->set_service_id("ollama");
  app->add_delegatee_gateway_addresses("pokt1gatewayone");
  app->add_delegatee_gateway_addresses("pokt1gatewaytwo");
  app->mutable_per_session_spend_limit()->set_denom("upokt");
  app->mutable_per_session_spend_limit()->set_amount("77");
  app->set_unstake_session_end_height(400);
  return response;
}

TEST_CASE("application and ring keys: the application's and its gateways' public keys") {
  Chain chain;
  chain.byPath[std::string(protocol::kApplicationQueryPath)] =
      queryResult(0, "", "", base64Of(applicationWithGateways()), 100);
  chain.accountsByData[dataHex(protocol::accountQuery(kApp))] =
      queryResult(0, "", "", accountValue(kApp, compressedKey(0x11), 1, 0), 100);
  chain.accountsByData[dataHex(protocol::accountQuery("pokt1gatewayone"))] =
      queryResult(0, "", "", accountValue("pokt1gatewayone", compressedKey(0x22), 2, 5), 100);
  chain.accountsByData[dataHex(protocol::accountQuery("pokt1gatewaytwo"))] =
      queryResult(0, "", "", accountValue("pokt1gatewaytwo", compressedKey(0x33), 3, 9), 100);
  Harness h(chain);

  auto app = h.queries.application(kApp);
  REQUIRE_MESSAGE(app.ok(), app.error().message);
  CHECK(app->stake.amount == "5000");
  CHECK(app->serviceIds == std::vector<std::string>{"anvil", "ollama"});
  CHECK(app->delegateeGatewayAddresses ==
        std::vector<std::string>{"pokt1gatewayone", "pokt1gatewaytwo"});
  REQUIRE(app->perSessionSpendLimit.has_value());
  CHECK(app->perSessionSpendLimit->amount == "77");
  CHECK(app->unstakeSessionEndHeight == 400);

  auto ring = h.queries.ringKeys(kApp, 100);
  REQUIRE_MESSAGE(ring.ok(), ring.error().message);
  CHECK(ring->applicationAddress == kApp);
  CHECK(ring->applicationPublicKey == compressedKey(0x11));
  CHECK(ring->gatewayAddresses == std::vector<std::string>{"pokt1gatewayone", "pokt1gatewaytwo"});
  REQUIRE(ring->gatewayPublicKeys.size() == 2);
  CHECK(ring->gatewayPublicKeys[0] == compressedKey(0x22));
  CHECK(ring->gatewayPublicKeys[1] == compressedKey(0x33));
}

TEST_CASE("ring keys: a gateway that never signed has no key, and the ring is refused") {
  Chain chain;
  chain.byPath[std::string(protocol::kApplicationQueryPath)] =
      queryResult(0, "", "", base64Of(applicationWithGateways()), 100);
  chain.accountsByData[dataHex(protocol::accountQuery(kApp))] =
      queryResult(0, "", "", accountValue(kApp, compressedKey(0x11), 1, 0), 100);
  chain.accountsByData[dataHex(protocol::accountQuery("pokt1gatewayone"))] =
      queryResult(0, "", "", accountValue("pokt1gatewayone", {}, 2, 0), 100);
  Harness h(chain);
  auto ring = h.queries.ringKeys(kApp);
  REQUIRE_FALSE(ring.ok());
  CHECK(ring.error().code == kErrBadValue);
  CHECK(ring.error().message.find("pokt1gatewayone") != std::string::npos);
}

TEST_CASE("service, compute units, difficulty, params and balance") {
  Chain chain;
  service::QueryGetServiceResponse serviceResponse;
  serviceResponse.mutable_service()->set_id("anvil");
  serviceResponse.mutable_service()->set_name("Anvil");
  serviceResponse.mutable_service()->set_compute_units_per_relay(7);
  serviceResponse.mutable_service()->set_owner_address("pokt1owner");
  chain.byPath[std::string(protocol::kServiceQueryPath)] =
      queryResult(0, "", "", base64Of(serviceResponse), 100);

  service::QueryComputeUnitsPerRelayAtHeightResponse cupr;
  cupr.set_computeunitsperrelay(9);
  chain.byPath[std::string(protocol::kComputeUnitsPerRelayAtHeightQueryPath)] =
      queryResult(0, "", "", base64Of(cupr), 100);

  service::QueryGetRelayMiningDifficultyAtHeightResponse difficulty;
  difficulty.mutable_relayminingdifficulty()->set_service_id("anvil");
  difficulty.mutable_relayminingdifficulty()->set_block_height(91);
  difficulty.mutable_relayminingdifficulty()->set_num_relays_ema(1234);
  difficulty.mutable_relayminingdifficulty()->set_target_hash(std::string(32, '\x0f'));
  chain.byPath[std::string(protocol::kRelayMiningDifficultyAtHeightQueryPath)] =
      queryResult(0, "", "", base64Of(difficulty), 100);

  shared::QueryParamsResponse sharedResponse;
  auto* p = sharedResponse.mutable_params();
  p->set_num_blocks_per_session(10);
  p->set_grace_period_end_offset_blocks(1);
  p->set_claim_window_open_offset_blocks(1);
  p->set_claim_window_close_offset_blocks(4);
  p->set_proof_window_open_offset_blocks(0);
  p->set_proof_window_close_offset_blocks(4);
  p->set_compute_units_to_tokens_multiplier(42000000);
  p->set_compute_unit_cost_granularity(1000000);
  p->set_session_grid_anchor_height(51);
  p->set_session_number_at_anchor(6);
  chain.byPath[std::string(protocol::kSharedParamsQueryPath)] =
      queryResult(0, "", "", base64Of(sharedResponse), 100);
  chain.byPath[std::string(protocol::kSharedParamsAtHeightQueryPath)] =
      queryResult(0, "", "", base64Of(sharedResponse), 100);

  session::QueryParamsResponse sessionParams;
  sessionParams.mutable_params()->set_num_suppliers_per_session(15);
  chain.byPath[std::string(protocol::kSessionParamsQueryPath)] =
      queryResult(0, "", "", base64Of(sessionParams), 100);

  proof::QueryParamsResponse proofParams;
  proofParams.mutable_params()->set_proof_request_probability(0.25);
  proofParams.mutable_params()->mutable_proof_requirement_threshold()->set_denom("upokt");
  proofParams.mutable_params()->mutable_proof_requirement_threshold()->set_amount("20000000");
  proofParams.mutable_params()->mutable_proof_missing_penalty()->set_amount("320");
  proofParams.mutable_params()->mutable_proof_submission_fee()->set_amount("1000000");
  chain.byPath[std::string(protocol::kProofParamsQueryPath)] =
      queryResult(0, "", "", base64Of(proofParams), 100);

  cosmos::bank::v1beta1::QueryBalanceResponse balance;
  balance.mutable_balance()->set_denom("upokt");
  balance.mutable_balance()->set_amount("999");
  chain.byPath[std::string(protocol::kBalanceQueryPath)] =
      queryResult(0, "", "", base64Of(balance), 100);

  // Tokenomics params by hand: {1: {1: params}} with doubles as fixed64.
  auto fixed64 = [](util::Bytes& out, std::uint32_t field, double v) {
    protocol::wire::Writer w(out);
    w.tag(field, protocol::wire::WireType::fixed64);
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
  };
  util::Bytes mint;
  fixed64(mint, 1, 0.1);
  fixed64(mint, 2, 0.05);
  fixed64(mint, 3, 0.7);
  fixed64(mint, 4, 0.15);
  fixed64(mint, 5, 0.0);
  util::Bytes params;
  {
    protocol::wire::Writer w(params);
    w.messageHeader(1, mint.size());
    w.raw(mint);
    w.stringField(6, "pokt1dao");
  }
  fixed64(params, 7, 0.5);
  fixed64(params, 9, 0.975);
  {
    protocol::wire::Writer w(params);
    w.varintField(10, 3);  // overservicing_bonus_multiplier
  }
  util::Bytes tokenomics;
  {
    protocol::wire::Writer w(tokenomics);
    w.messageHeader(1, params.size());
    w.raw(params);
  }
  chain.byPath[std::string(kTokenomicsParamsQueryPath)] =
      queryResult(0, "", "", util::toBase64(tokenomics), 100);

  Harness h(chain);
  auto svc = h.queries.service("anvil");
  REQUIRE_MESSAGE(svc.ok(), svc.error().message);
  CHECK(svc->id == "anvil");
  CHECK(svc->name == "Anvil");
  CHECK(svc->computeUnitsPerRelay == 7);
  CHECK(svc->ownerAddress == "pokt1owner");

  auto units = h.queries.computeUnitsPerRelayAtHeight("anvil", 91);
  REQUIRE(units.ok());
  CHECK(*units == 9);

  auto target = h.queries.relayMiningDifficultyAtHeight("anvil", 91);
  REQUIRE(target.ok());
  CHECK(target->serviceId == "anvil");
  CHECK(target->blockHeight == 91);
  CHECK(target->numRelaysEma == 1234);
  CHECK(target->targetHash == util::Bytes(32, 0x0f));

  for (auto shared : {h.queries.sharedParams(), h.queries.sharedParamsAtHeight(91)}) {
    REQUIRE(shared.ok());
    CHECK(shared->numBlocksPerSession == 10);
    CHECK(shared->gracePeriodEndOffsetBlocks == 1);
    CHECK(shared->claimWindowOpenOffsetBlocks == 1);
    CHECK(shared->claimWindowCloseOffsetBlocks == 4);
    CHECK(shared->proofWindowOpenOffsetBlocks == 0);
    CHECK(shared->proofWindowCloseOffsetBlocks == 4);
    CHECK(shared->computeUnitsToTokensMultiplier == 42000000);
    CHECK(shared->computeUnitCostGranularity == 1000000);
    CHECK(shared->sessionGridAnchorHeight == 51);
    CHECK(shared->sessionNumberAtAnchor == 6);
  }

  auto sp = h.queries.sessionParams();
  REQUIRE(sp.ok());
  CHECK(sp->numSuppliersPerSession == 15);

  auto pp = h.queries.proofParams();
  REQUIRE(pp.ok());
  CHECK(pp->proofRequestProbability == 0.25);
  CHECK(pp->proofRequirementThreshold.amount == "20000000");
  CHECK(pp->proofMissingPenalty.amount == "320");
  CHECK(pp->proofSubmissionFee.amount == "1000000");

  auto tp = h.queries.tokenomicsParams();
  REQUIRE_MESSAGE(tp.ok(), tp.error().message);
  CHECK(tp->mintAllocationDao == 0.1);
  CHECK(tp->mintAllocationProposer == 0.05);
  CHECK(tp->mintAllocationSupplier == 0.7);
  CHECK(tp->mintAllocationSourceOwner == 0.15);
  CHECK(tp->mintAllocationApplication == 0.0);
  CHECK(tp->daoRewardAddress == "pokt1dao");
  CHECK(tp->globalInflationPerClaim == 0.5);
  CHECK(tp->mintRatio == 0.975);
  CHECK(tp->overservicingBonusMultiplier == 3);

  auto coin = h.queries.balance(kSupplier);
  REQUIRE(coin.ok());
  CHECK(coin->denom == "upokt");
  CHECK(coin->amount == "999");

  // Latency is recorded per path.
  CHECK(h.metrics.render().find(
            "pocket_chain_query_seconds_count{path=\"/pocket.service.Query/Service\"} 1") !=
        std::string::npos);
}

TEST_CASE("tokenomics params: a wrong wire type is bad_value, not a crash") {
  util::Bytes bytes{0x0a, 0x02, 0x38, 0x01};  // params{7: varint 1} where 7 is a double
  auto decoded = decodeTokenomicsParamsValue(bytes);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == kErrBadValue);
  CHECK(decodeTokenomicsParamsValue(util::Bytes{}).error().code == kErrBadValue);
  // overservicing_bonus_multiplier (10) is a uint64: a length-delimited field 10 is refused.
  util::Bytes asBytes{0x0a, 0x03, 0x52, 0x01, 0x05};
  auto refused = decodeTokenomicsParamsValue(asBytes);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == kErrBadValue);
  // An older chain without the field: 0, which the relay meter reads as 1.
  auto older = decodeTokenomicsParamsValue(util::Bytes{0x0a, 0x00});
  REQUIRE(older.ok());
  CHECK(older->overservicingBonusMultiplier == 0);
}

}  // namespace
}  // namespace pocket::chain
