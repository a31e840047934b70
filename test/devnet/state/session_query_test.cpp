// Session hydration and queries of the devnet state against the shared vectors
// (test/vectors/cosmos/session-id.json, abci-query.json), BaseApp's query height rules, and
// params changing between a session's start and end.

#include <set>

#include <doctest.h>

#include "common/util/hex.h"
#include "pocket/service/query.pb.h"
#include "pocket/shared/query.pb.h"
#include "pocket/session/query.pb.h"
#include "test/devnet/state/chain_fixture.h"
#include "test/vectors_path.h"

using namespace pocket;
using namespace pocket::devnet;
using namespace pocket::devnet::test;

namespace {

util::Bytes hexBytes(const std::string& hex) {
  auto bytes = util::fromHex(hex);
  REQUIRE(bytes.ok());
  return *bytes;
}

// A chain whose blocks at the vectors' session starts carry the vectors' block hashes, with every
// vector application staked for its services and one supplier for all of them.
void checkSessionIdVectors(const nlohmann::json& vectors, std::uint64_t blocksPerSession) {
  Actors actors;
  Genesis g;
  g.shared.numBlocksPerSession = blocksPerSession;
  std::map<std::string, std::set<std::string>> appServices;
  std::set<std::string> services;
  std::int64_t top = 1;
  for (const auto& v : vectors) {
    appServices[v.at("application_address")].insert(v.at("service_id"));
    services.insert(v.at("service_id"));
    top = std::max(top, v.at("query_height").get<std::int64_t>());
  }
  Supplier supplier{actors.ownerAddress(), actors.supplierAddress(), 1'000'000, {}};
  for (const std::string& id : services) {
    g.services.push_back(Service{id, id, 1, "", easiestRelayMiningTarget()});
    supplier.services.push_back(SupplierService{id, {{"http://127.0.0.1:8545"}}});
  }
  g.suppliers.push_back(supplier);
  for (const auto& [address, ids] : appServices) {
    g.applications.push_back(
        Application{address, 1'000'000, std::vector<std::string>(ids.begin(), ids.end()), {}, 0});
  }
  Chain chain(g);
  for (const auto& v : vectors) {
    chain.setBlockHash(v.at("session_start"), hexBytes(v.at("block_hash_at_start_hex")));
  }
  chain.advanceTo(top);
  for (const auto& v : vectors) {
    auto session = chain.state().getSession(v.at("application_address").get<std::string>(),
                                            v.at("service_id").get<std::string>(),
                                            v.at("query_height").get<std::int64_t>());
    REQUIRE_MESSAGE(session.ok(), (session.ok() ? "" : session.error().message));
    CHECK(session->session_id() == v.at("session_id").get<std::string>());
    CHECK(session->header().session_id() == v.at("session_id").get<std::string>());
    CHECK(session->header().session_start_block_height() == v.at("session_start"));
    CHECK(session->header().session_end_block_height() == v.at("session_end"));
    CHECK(session->session_number() == v.at("session_number"));
    CHECK(session->num_blocks_per_session() == v.at("num_blocks_per_session"));
    REQUIRE(session->suppliers_size() == 1);
    CHECK(session->suppliers(0).operator_address() == actors.supplierAddress());
  }
}

// The devnet context of the vectors: app1 and supplier 1 of test/vectors/cosmos/session-id.json, block 91's real
// header hash, the chain at height 100.
struct VectorChain {
  std::unique_ptr<Chain> chain;
  static constexpr const char* kApp = "pokt1e8yx3wwyy09l2xqlfgmjze75lncem7u3756aj8";
  static constexpr const char* kSupplier = "pokt13x4cdvjayy0a6lmn7dd5e9ha03u0kdhmf5dyvc";

  VectorChain() {
    Genesis g;
    g.services.push_back(Service{"anvil", "anvil", 1, "", easiestRelayMiningTarget()});
    // Seven accounts before the supplier's, so that it gets account number 7 (abci-query.json).
    for (int i = 0; i < 7; ++i) {
      g.accounts.push_back(
          Account{keyFor(fmt::format("filler-{}", i)).publicKey().address(), 1, std::nullopt});
    }
    g.accounts.push_back(Account{kSupplier, 1'000'000, std::nullopt});
    g.applications.push_back(Application{kApp, 100'000'000, {"anvil"}, {}, 0});
    g.suppliers.push_back(
        Supplier{kSupplier, kSupplier, 1'000'000'000, {{"anvil", {{"http://127.0.0.1:8545"}}}}});
    chain = std::make_unique<Chain>(g);
    chain->setBlockHash(
        91, hexBytes("6051b98db3a667dde4a609df4d1ae4870ab6d325126185ade7cbd40cd0088d14"));
    chain->advanceTo(100);
  }
};

const nlohmann::json& abciEntry(const nlohmann::json& vectors, std::string_view name) {
  for (const auto& e : vectors.at("entries")) {
    if (e.at("name") == name) return e;
  }
  FAIL("no entry " << name);
  return vectors;
}

}  // namespace

TEST_CASE("poktroll's session ids (session-id.json) come out of the devnet's hydration") {
  const auto vectors = pocket::test::loadVectors("cosmos/session-id.json");
  checkSessionIdVectors(vectors.at("poktroll_test_vectors"), 4);
  checkSessionIdVectors(vectors.at("devnet_vectors"), 10);
}

TEST_CASE("GetSession and Account answer abci-query.json's bytes") {
  VectorChain v;
  ChainState& state = v.chain->state();
  const auto vectors = pocket::test::loadVectors("cosmos/abci-query.json");

  const auto& request = abciEntry(vectors, "get_session_request");
  QueryOutcome out = state.query(request.at("path").get<std::string>(),
                                 hexBytes(request.at("bytes_hex")), 0);
  REQUIRE_MESSAGE(out.code == 0, out.log);
  CHECK(out.height == 100);
  CHECK(util::toHex(out.value) ==
        abciEntry(vectors, "get_session_response").at("bytes_hex").get<std::string>());

  // Account number 7, sequence 3, the key the node recorded from the account's first tx.
  v.chain->begin();
  auto key = crypto::PublicKey::fromHex(
      "02c0a23b9a8a969e983147c2ed3d43911a5ca4cc21b343e4b07545eb8aa23d013b");
  REQUIRE(key.ok());
  REQUIRE(state.setPublicKey(VectorChain::kSupplier, *key).ok());
  for (int i = 0; i < 3; ++i) REQUIRE(state.incrementSequence(VectorChain::kSupplier).ok());
  v.chain->end();
  const auto& accountRequest = abciEntry(vectors, "account_request");
  out = state.query(accountRequest.at("path").get<std::string>(),
                    hexBytes(accountRequest.at("bytes_hex")), 0);
  REQUIRE_MESSAGE(out.code == 0, out.log);
  CHECK(util::toHex(out.value) ==
        abciEntry(vectors, "account_response").at("bytes_hex").get<std::string>());
  // At height 100 the account had no key and sequence 0 yet.
  out = state.query(accountRequest.at("path").get<std::string>(),
                    hexBytes(accountRequest.at("bytes_hex")), 100);
  REQUIRE(out.code == 0);
  CHECK(util::toHex(out.value) !=
        abciEntry(vectors, "account_response").at("bytes_hex").get<std::string>());
}

TEST_CASE("queries follow BaseApp's height rules and gRPC error mapping") {
  VectorChain v;
  ChainState& state = v.chain->state();
  const util::Bytes ahead = protocol::serialize([] {
    session::QueryGetSessionRequest r;
    r.set_application_address(VectorChain::kApp);
    r.set_service_id("anvil");
    r.set_block_height(120);
    return r;
  }());
  QueryOutcome out = state.query("/pocket.session.Query/GetSession", ahead, 0);
  CHECK(out.code == 6);
  CHECK(out.codespace == "sdk");
  CHECK(out.height == 100);
  CHECK(out.log == "rpc error: code = Internal desc = block height 120 is ahead of the last "
                   "committed block height 100: error during session hydration: unknown request");

  out = state.query("/pocket.session.Query/GetSession", ahead, 101);
  CHECK(out.code == 26);
  CHECK(out.height == 0);
  CHECK(out.log == "cannot query with height in the future; please provide a valid height: "
                   "invalid height");

  out = state.query("/pocket.session.Query/GetSession", ahead, -1);
  CHECK(out.code == 18);

  out = state.query("/pocket.nothing.Query/Nothing", {}, 0);
  CHECK(out.code == 6);
  CHECK(out.log == "unknown query path: unknown request");

  session::QueryGetSessionRequest unstaked;
  unstaked.set_application_address(VectorChain::kSupplier);
  unstaked.set_service_id("anvil");
  out = state.query("/pocket.session.Query/GetSession", protocol::serialize(unstaked), 0);
  CHECK(out.code == 6);
  CHECK(out.log == fmt::format("rpc error: code = Internal desc = could not find app with address "
                               "\"{}\" at height 91: application for session not found not "
                               "found : unknown request",
                               VectorChain::kSupplier));

  session::QueryGetSessionRequest badService;
  badService.set_application_address(VectorChain::kApp);
  badService.set_service_id("an vil");
  out = state.query("/pocket.session.Query/GetSession", protocol::serialize(badService), 0);
  CHECK(out.code == 18);
  CHECK(out.log == "rpc error: code = InvalidArgument desc = service ID 'an vil' contains invalid "
                   "characters: invalid service ID: invalid request");

  // A node keeping few heights answers older ones like a pruned node.
  Actors actors;
  util::LogSink sink(stderr, util::LogLevel::error);
  ChainState small(testGenesis(actors), sink, 3);
  for (std::int64_t h = 1; h <= 10; ++h) {
    REQUIRE(small.beginBlock(h, Time{}, testBlockHash(h)).ok());
    REQUIRE(small.endBlock().ok());
  }
  out = small.query("/pocket.shared.Query/Params", {}, 5);
  CHECK(out.code == 18);
  CHECK(out.log == "failed to load state at height 5; version does not exist (latest height: "
                   "10): invalid request");
  CHECK(small.query("/pocket.shared.Query/Params", {}, 8).code == 0);

  // Blocks must come in order.
  CHECK(small.beginBlock(12, Time{}, testBlockHash(12)).error().code == kErrBlockOutOfOrder);
  CHECK(small.endBlock().error().code == kErrNoBlock);
}

TEST_CASE("params changing inside a session: windows by the params at its end, price and "
          "compute units per relay by those at its start") {
  Actors actors;
  Genesis g = testGenesis(actors);
  ParamChange change;
  change.height = 5;
  SharedParams shared = g.shared;
  shared.claimWindowCloseOffsetBlocks = 8;             // claim window 12..20 for session 1..10
  shared.computeUnitsToTokensMultiplier = 84'000'000;  // double the price
  change.shared = shared;
  change.services.push_back(ServiceChange{"anvil", 3, std::nullopt});
  g.paramChanges.push_back(change);
  Chain chain(g);
  chain.advanceTo(1);
  const protocol::SessionHeader header =
      sessionHeaderOf(chain.state(), actors.appAddress(), "anvil", 1);
  const std::string supplier = actors.supplierAddress();

  // Compute units per relay at session start (1), not at its end (3).
  TxOutcome out = chain.deliverAt(18, {claimMessage(supplier, header, rootWith(15, 5))}, supplier);
  CHECK(out.code == 1);
  CHECK(out.log == keeperLog("InvalidArgument",
                             "claim compute units: 15 is not equal to number of relays 5 * "
                             "compute units per relay 1 for service anvil: mismatch: claim "
                             "compute units != number of relays * service compute units per "
                             "relay"));
  // Height 19 is past the genesis window (12..16) but inside the one of the params at the
  // session's end (12..20).
  out = chain.deliverAt(19, {claimMessage(supplier, header, rootWith(5, 5))}, supplier);
  REQUIRE_MESSAGE(out.ok(), out.log);
  const Event* created = findEvent(out.events, "pocket.proof.EventClaimCreated");
  REQUIRE(created != nullptr);
  CHECK(*created->find("claimed_upokt") == "\"210upokt\"");  // 5 × 42, the price at start

  // The history is queryable.
  shared::QueryParamsAtHeightRequest at;
  at.set_height(4);
  shared::QueryParamsResponse params;
  REQUIRE(protocol::parse(
      chain.state().query("/pocket.shared.Query/ParamsAtHeight", protocol::serialize(at), 0).value,
      params));
  CHECK(params.params().claim_window_close_offset_blocks() == 4);
  at.set_height(5);
  REQUIRE(protocol::parse(
      chain.state().query("/pocket.shared.Query/ParamsAtHeight", protocol::serialize(at), 0).value,
      params));
  CHECK(params.params().claim_window_close_offset_blocks() == 8);
  service::QueryComputeUnitsPerRelayAtHeightRequest cupr;
  cupr.set_serviceid("anvil");
  cupr.set_blockheight(6);
  service::QueryComputeUnitsPerRelayAtHeightResponse cuprResponse;
  REQUIRE(protocol::parse(chain.state()
                              .query("/pocket.service.Query/ComputeUnitsPerRelayAtHeight",
                                     protocol::serialize(cupr), 0)
                              .value,
                          cuprResponse));
  CHECK(cuprResponse.computeunitsperrelay() == 3);
}

TEST_CASE("a change of session length re-anchors the grid at a session boundary") {
  Actors actors;
  Genesis g = testGenesis(actors);
  ParamChange change;
  change.height = 11;
  SharedParams shared = g.shared;
  shared.numBlocksPerSession = 5;
  change.shared = shared;
  g.paramChanges.push_back(change);
  Chain chain(g);
  chain.advanceTo(17);
  auto session = chain.state().getSession(actors.appAddress(), "anvil", 17);
  REQUIRE(session.ok());
  CHECK(session->header().session_start_block_height() == 16);
  CHECK(session->header().session_end_block_height() == 20);
  CHECK(session->session_number() == 3);  // 1..10 was 1, 11..15 is 2
  CHECK(session->num_blocks_per_session() == 5);

  // A change that does not fall on a boundary is refused at load.
  change.height = 12;
  g.paramChanges = {change};
  auto valid = validateGenesis(g);
  REQUIRE_FALSE(valid.ok());
  CHECK(valid.error().code == kErrBadGenesis);
  CHECK(valid.error().message.starts_with("param_changes[0].height: "));
}
