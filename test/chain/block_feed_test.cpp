// BlockFeed against a fake node: WebSocket NewBlock events, gaps backfilled with `block`, a
// dropped subscription replaced by polling and a reconnect, failed fetches retried — every height
// delivered once and in order.

#include "common/chain/block_feed.h"

#include <cstdio>
#include <map>
#include <set>

#include <fmt/format.h>

#include <doctest/doctest.h>

#include "test/chain/fake_node.h"

namespace pocket::chain {
namespace {

using test::FakeNode;
using test::FakeReply;
using test::RecordedRequest;

std::string hashOf(std::int64_t height, char salt) {
  return fmt::format("{:0>62}{}{}", height, salt, salt);
}

nlohmann::json headerJson(std::int64_t height) {
  const std::string empty = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
  return {{"version", {{"block", "11"}}},
          {"chain_id", "pocket"},
          {"height", std::to_string(height)},
          {"time", fmt::format("2026-01-01T00:{:02}:{:02}Z", height / 60 % 60, height % 60)},
          {"last_block_id",
           {{"hash", hashOf(height - 1, 'A')},
            {"parts", {{"total", 1}, {"hash", hashOf(height - 1, 'B')}}}}},
          {"last_commit_hash", empty},
          {"data_hash", empty},
          {"validators_hash", hashOf(1, 'C')},
          {"next_validators_hash", hashOf(1, 'C')},
          {"consensus_hash", hashOf(1, 'D')},
          {"app_hash", hashOf(height, 'E')},
          {"last_results_hash", empty},
          {"evidence_hash", empty},
          {"proposer_address", "F1B2C3D4E5F60718293A4B5C6D7E8F9012345678"}};
}

nlohmann::json blockIdJson(std::int64_t height) {
  return {{"hash", hashOf(height, 'A')}, {"parts", {{"total", 1}, {"hash", hashOf(height, 'B')}}}};
}

nlohmann::json blockJson(std::int64_t height) {
  return {{"header", headerJson(height)},
          {"data", {{"txs", nlohmann::json::array({"AQID"})}}},
          {"evidence", {{"evidence", nlohmann::json::array()}}},
          {"last_commit",
           {{"height", std::to_string(height - 1)},
            {"round", 0},
            {"signatures", nlohmann::json::array()}}}};
}

std::string newBlockEvent(std::int64_t height) {
  nlohmann::json event = {{"jsonrpc", "2.0"},
                          {"id", 1},
                          {"result",
                           {{"query", "tm.event='NewBlock'"},
                            {"data",
                             {{"type", "tendermint/event/NewBlock"},
                              {"value",
                               {{"block", blockJson(height)},
                                {"block_id", blockIdJson(height)},
                                {"result_finalize_block",
                                 {{"events", nlohmann::json::array()}, {"app_hash", "AQI="}}}}}}},
                            {"events", {{"tm.event", {"NewBlock"}}}}}}};
  return event.dump();
}

std::string statusResult(std::int64_t height) {
  nlohmann::json result = {
      {"node_info", {{"id", "n"}, {"network", "pocket"}, {"version", "0.38.19"}, {"moniker", "m"}}},
      {"sync_info",
       {{"latest_block_hash", hashOf(height, 'A')},
        {"latest_app_hash", hashOf(height, 'E')},
        {"latest_block_height", std::to_string(height)},
        {"latest_block_time", "2026-01-01T00:00:00Z"},
        {"earliest_block_hash", hashOf(1, 'A')},
        {"earliest_app_hash", hashOf(1, 'E')},
        {"earliest_block_height", "1"},
        {"earliest_block_time", "2026-01-01T00:00:00Z"},
        {"catching_up", false}}}};
  return result.dump();
}

// A node whose head the test moves. `status` reports `head`; `block` serves any height up to
// max(head, served), so a test can announce blocks by events only (served > head) and make
// where each block came from deterministic.
struct FakeChain {
  std::atomic<std::int64_t> head{0};
  std::atomic<std::int64_t> served{0};
  std::mutex mutex;
  std::set<std::int64_t> failOnce;  // heights whose first `block` fetch fails

  FakeReply answer(const RecordedRequest& request) {
    const auto& id = request.parsed["id"];
    std::string method = request.method();
    if (method == "status") return FakeReply::json(test::rpcResult(id, statusResult(head.load())));
    if (method == "block") {
      std::int64_t height = std::stoll(request.parsed["params"]["height"].get<std::string>());
      {
        std::lock_guard lock(mutex);
        if (failOnce.erase(height) > 0) {
          return FakeReply::json(test::rpcError(id, -32603, "Internal error", "injected failure"));
        }
      }
      if (height > std::max(head.load(), served.load())) {
        return FakeReply::json(test::rpcError(
            id, -32603, "Internal error",
            fmt::format("height {} must be less than or equal to the current blockchain height {}",
                        height, head.load())));
      }
      nlohmann::json result = {{"block_id", blockIdJson(height)}, {"block", blockJson(height)}};
      return FakeReply::json(test::rpcResult(id, result.dump()));
    }
    return FakeReply::json(test::rpcError(id, -32601, "Method not found", ""));
  }
};

struct Delivered {
  std::mutex mutex;
  std::vector<NewBlock> blocks;

  void add(const NewBlock& block) {
    std::lock_guard lock(mutex);
    blocks.push_back(block);
  }
  std::vector<NewBlock> snapshot() {
    std::lock_guard lock(mutex);
    return blocks;
  }
};

// Waits for a condition; the deadline only bounds a failure.
template <class Condition>
bool waitFor(Condition condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void checkConsecutive(const std::vector<NewBlock>& blocks, std::int64_t first, std::int64_t last) {
  REQUIRE(blocks.size() == static_cast<std::size_t>(last - first + 1));
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    CHECK(blocks[i].height == first + static_cast<std::int64_t>(i));
    CHECK(fmt::format("{:02X}", fmt::join(blocks[i].blockHash, "")) ==
          hashOf(blocks[i].height, 'A'));
    CHECK(blocks[i].chainId == "pocket");
    CHECK(blocks[i].txCount == 1);
    CHECK(blocks[i].header.height == blocks[i].height);
  }
}

struct Setup {
  FakeChain chain;
  FakeNode node{[this](const RecordedRequest& r) { return chain.answer(r); }};
  std::FILE* log = std::fopen("/dev/null", "w");
  util::LogSink sink{log};
  util::MetricsRegistry metrics;
  NodeClient client{config(), metrics, sink};
  Delivered delivered;
  ~Setup() { std::fclose(log); }

  NodeClientConfig config() {
    NodeClientConfig c;
    c.rpcUrl = node.rpcUrl();
    c.readRetries = 0;
    return c;
  }
};

TEST_CASE(
    "WebSocket events, gaps backfilled, a dropped subscription polled over and resubscribed") {
  Setup s;
  s.chain.head = 5;
  BlockFeedConfig config;
  config.websocketUrl = s.node.websocketUrl();
  config.startHeight = 3;
  config.pollInterval = std::chrono::milliseconds(20);
  config.subscribedPollInterval = std::chrono::seconds(600);  // only events while subscribed
  config.reconnectBackoffInitial = std::chrono::milliseconds(20);
  config.reconnectBackoffMax = std::chrono::milliseconds(40);
  std::atomic<int> connectionChanges{0};
  BlockFeed feed(
      config, s.client, [&](const NewBlock& b) { s.delivered.add(b); }, s.metrics, s.sink,
      [&](bool) { ++connectionChanges; });
  feed.start();
  REQUIRE(waitFor([&] { return feed.subscribed() && feed.lastDeliveredHeight() == 5; }));

  // `status` stays at 5 from here on: blocks arrive through events and the fetches they trigger.
  s.chain.served = 8;
  s.node.pushWs(newBlockEvent(6));
  s.node.pushWs(newBlockEvent(8));  // 7 was never announced: fetched
  REQUIRE(waitFor([&] { return feed.lastDeliveredHeight() == 8; }));
  s.node.pushWs(newBlockEvent(8));  // a repeat is not delivered twice
  s.node.pushWs(newBlockEvent(6));

  s.chain.head = 10;
  s.node.dropWs();
  REQUIRE(waitFor([&] {
    return feed.lastDeliveredHeight() == 10 && s.node.subscribeCount() >= 2 && feed.subscribed();
  }));
  s.chain.served = 11;
  s.node.pushWs(newBlockEvent(11));
  REQUIRE(waitFor([&] { return feed.lastDeliveredHeight() == 11; }));
  feed.stop();

  auto blocks = s.delivered.snapshot();
  checkConsecutive(blocks, 3, 11);
  CHECK(blocks[3].source == "websocket");  // 6
  CHECK(blocks[4].source == "backfill");   // 7
  CHECK(blocks[5].source == "websocket");  // 8
  CHECK(blocks[8].source == "websocket");  // 11
  CHECK(connectionChanges.load() >= 3);    // up, down, up
  CHECK(feed.latestKnownHeight() == 11);
  CHECK(s.metrics.render().find("pocket_chain_feed_blocks_total{source=\"websocket\"}") !=
        std::string::npos);
}

TEST_CASE("polling only: starts at the node's head, retries a failed fetch, skips nothing") {
  Setup s;
  s.chain.head = 2;
  s.chain.failOnce = {4};
  BlockFeedConfig config;
  config.pollInterval = std::chrono::milliseconds(10);
  BlockFeed feed(
      config, s.client, [&](const NewBlock& b) { s.delivered.add(b); }, s.metrics, s.sink);
  feed.start();
  REQUIRE(waitFor([&] { return feed.lastDeliveredHeight() == 2; }));
  s.chain.head = 6;
  REQUIRE(waitFor([&] { return feed.lastDeliveredHeight() == 6; }));
  feed.stop();
  auto blocks = s.delivered.snapshot();
  checkConsecutive(blocks, 2, 6);
  CHECK_FALSE(feed.subscribed());
  CHECK(s.metrics.render().find("pocket_chain_feed_errors_total{reason=\"fetch_failed\"} 1") !=
        std::string::npos);
}

TEST_CASE("an unreachable WebSocket falls back to polling") {
  Setup s;
  s.chain.head = 4;
  std::string deadUrl;
  {
    FakeNode dead([](const RecordedRequest&) { return FakeReply::close(); });
    deadUrl = dead.websocketUrl();
  }
  BlockFeedConfig config;
  config.websocketUrl = deadUrl;
  config.startHeight = 1;
  config.pollInterval = std::chrono::milliseconds(10);
  config.reconnectBackoffInitial = std::chrono::milliseconds(10);
  config.reconnectBackoffMax = std::chrono::milliseconds(20);
  BlockFeed feed(
      config, s.client, [&](const NewBlock& b) { s.delivered.add(b); }, s.metrics, s.sink);
  feed.start();
  // Polling delivers while the refused connection is retried (and counted) in the background.
  REQUIRE(waitFor([&] {
    return feed.lastDeliveredHeight() == 4 &&
           s.metrics.render().find(
               "pocket_chain_feed_errors_total{reason=\"websocket_connect\"}") != std::string::npos;
  }));
  feed.stop();
  checkConsecutive(s.delivered.snapshot(), 1, 4);
  CHECK_FALSE(feed.subscribed());
}

TEST_CASE("decodeNewBlockEvent: the ack, an event, an error object, the wrong event type") {
  auto ack = decodeNewBlockEvent(R"({"jsonrpc":"2.0","id":1,"result":{}})");
  REQUIRE(ack.ok());
  CHECK(ack->height == 0);

  auto event = decodeNewBlockEvent(newBlockEvent(91));
  REQUIRE_MESSAGE(event.ok(), event.error().message);
  CHECK(event->height == 91);
  CHECK(event->txCount == 1);
  CHECK(event->source == "websocket");
  CHECK(event->time.seconds == 1767225600 + 60 + 31);

  auto cancelled = decodeNewBlockEvent(
      R"J({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"Server error","data":"subscription was canceled (reason: client is not pulling messages fast enough)"}})J");
  REQUIRE_FALSE(cancelled.ok());
  CHECK(cancelled.error().code == kErrRpc);

  std::string header = newBlockEvent(5);
  header.replace(header.find("tendermint/event/NewBlock"), 25, "tendermint/event/NewBlockHeader");
  auto wrong = decodeNewBlockEvent(header);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == kErrMalformed);
  CHECK(wrong.error().message.find("result.data.type:") == 0);

  std::string shortHash = newBlockEvent(5);
  auto at = shortHash.find(hashOf(5, 'A'));
  shortHash.replace(at, 64, "ABCD");
  auto bad = decodeNewBlockEvent(shortHash);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == kErrMalformed);
}

TEST_CASE("websocket URL derived from the RPC URL; bad configuration names the key") {
  CHECK(*websocketUrlFromRpcUrl("http://127.0.0.1:26657") == "ws://127.0.0.1:26657/websocket");
  CHECK(*websocketUrlFromRpcUrl("http://node:26657/") == "ws://node:26657/websocket");
  CHECK(websocketUrlFromRpcUrl("https://node:443").error().code == kErrBadArgument);
  CHECK(websocketUrlFromRpcUrl("http://node").error().code == kErrBadArgument);
  BlockFeedConfig config;
  config.websocketUrl = "http://x:1/websocket";
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("websocket_url"),
                       std::invalid_argument);
  config.websocketUrl.clear();
  config.pollInterval = std::chrono::milliseconds(0);
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("poll_interval"),
                       std::invalid_argument);
}

}  // namespace
}  // namespace pocket::chain
