// NodeHealth: each reason appears and clears on its own, the report says why in words, and the
// gauges follow.

#include "common/chain/node_health.h"

#include <cstdio>

#include <doctest/doctest.h>

namespace pocket::chain {
namespace {

using namespace std::chrono_literals;

struct Setup {
  std::FILE* log = std::fopen("/dev/null", "w");
  util::LogSink sink{log};
  util::MetricsRegistry metrics;
  NodeHealth health{config(), metrics, sink};
  ~Setup() { std::fclose(log); }

  static NodeHealthConfig config() {
    NodeHealthConfig c;
    c.expectedChainId = "pocket";
    c.blockTime = 10s;
    c.staleAfterBlocks = 3;
    c.rpcErrorStreakLimit = 2;
    return c;
  }
};

NodeStatus statusAt(std::int64_t height, std::int64_t blockSeconds, std::string network = "pocket",
                    bool catchingUp = false) {
  NodeStatus status;
  status.network = std::move(network);
  status.latestBlockHeight = height;
  status.latestBlockTime.seconds = blockSeconds;
  status.catchingUp = catchingUp;
  return status;
}

std::chrono::system_clock::time_point at(std::int64_t seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

std::vector<std::string> reasons(const NodeHealthReport& report) {
  std::vector<std::string> out;
  for (const auto& p : report.problems) out.push_back(p.reason);
  return out;
}

TEST_CASE("unreachable until the first status answer; healthy after it") {
  Setup s;
  auto report = s.health.evaluate(at(1000));
  CHECK_FALSE(report.healthy);
  CHECK(reasons(report) == std::vector<std::string>{"unreachable"});
  s.health.observeStatus(statusAt(100, 995));
  report = s.health.evaluate(at(1000));
  CHECK(report.healthy);
  CHECK(report.summary() == "healthy");
  CHECK(report.latestHeight == 100);
  CHECK(report.chainId == "pocket");
  CHECK(s.metrics.render().find("pocket_chain_node_healthy 1") != std::string::npos);
  CHECK(s.metrics.render().find("pocket_chain_height 100") != std::string::npos);
}

TEST_CASE("wrong chain id and catching up are reported with the facts") {
  Setup s;
  s.health.observeStatus(statusAt(100, 1000, "pocket-beta", true));
  auto report = s.health.evaluate(at(1000));
  CHECK_FALSE(report.healthy);
  CHECK(reasons(report) == std::vector<std::string>{"wrong_chain_id", "catching_up"});
  CHECK(report.problems[0].detail.find("pocket-beta") != std::string::npos);
  CHECK(report.problems[0].detail.find("expected pocket") != std::string::npos);
  CHECK(report.summary() == "unhealthy: wrong_chain_id, catching_up");
  CHECK(s.metrics.render().find("pocket_chain_node_problem{reason=\"wrong_chain_id\"} 1") !=
        std::string::npos);
  s.health.observeStatus(statusAt(101, 1000));
  report = s.health.evaluate(at(1000));
  CHECK(report.healthy);
  CHECK(s.metrics.render().find("pocket_chain_node_problem{reason=\"wrong_chain_id\"} 0") !=
        std::string::npos);
}

TEST_CASE("a latest block older than N block times is stale; a new block clears it") {
  Setup s;
  s.health.observeStatus(statusAt(100, 1000));
  CHECK(s.health.evaluate(at(1030)).healthy);  // exactly 3 block times: not yet
  auto report = s.health.evaluate(at(1031));
  CHECK(reasons(report) == std::vector<std::string>{"stale_block"});
  CHECK(report.problems[0].detail.find("31 s old") != std::string::npos);
  NewBlock block;
  block.height = 101;
  block.time.seconds = 1029;
  s.health.observeBlock(block);
  report = s.health.evaluate(at(1031));
  CHECK(report.healthy);
  CHECK(report.latestHeight == 101);
}

TEST_CASE("an RPC error streak makes the node unhealthy; one success resets it") {
  Setup s;
  s.health.observeStatus(statusAt(100, 1000));
  util::Error error{std::string(kErrTimeout), "status: no complete reply"};
  s.health.onCallResult("abci_query", &error, 1ms);
  CHECK(s.health.evaluate(at(1000)).healthy);
  s.health.onCallResult("abci_query", &error, 1ms);
  auto report = s.health.evaluate(at(1000));
  CHECK(reasons(report) == std::vector<std::string>{"rpc_errors"});
  CHECK(report.rpcErrorStreak == 2);
  CHECK(report.lastError == "abci_query: timeout: status: no complete reply");
  s.health.onCallResult("abci_query", nullptr, 1ms);
  CHECK(s.health.evaluate(at(1000)).healthy);
}

TEST_CASE("answers about the request (tx not found, height unavailable) are not node failures") {
  Setup s;
  s.health.observeStatus(statusAt(100, 1000));
  util::Error notFound{std::string(kErrTxNotFound), "tx (AB) not found"};
  util::Error future{std::string(kErrHeightUnavailable), "height 120 must be less than ..."};
  for (int i = 0; i < 5; ++i) {
    s.health.onCallResult("tx", &notFound, 1ms);
    s.health.onCallResult("block", &future, 1ms);
  }
  auto report = s.health.evaluate(at(1000));
  CHECK(report.healthy);
  CHECK(report.rpcErrorStreak == 0);
}

TEST_CASE("a failing status call is unreachable even after earlier answers") {
  Setup s;
  s.health.observeStatus(statusAt(100, 1000));
  s.health.observeStatusFailure(util::Error{std::string(kErrTransport), "connection refused"});
  auto report = s.health.evaluate(at(1000));
  CHECK(reasons(report) == std::vector<std::string>{"unreachable"});
  CHECK(report.problems[0].detail.find("connection refused") != std::string::npos);
}

TEST_CASE("configuration errors name the key") {
  NodeHealthConfig config;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("chain_id"), std::invalid_argument);
  config.expectedChainId = "pocket";
  config.staleAfterBlocks = 0;
  CHECK_THROWS_WITH_AS(config.validate(), doctest::Contains("stale_after_blocks"),
                       std::invalid_argument);
}

}  // namespace
}  // namespace pocket::chain
