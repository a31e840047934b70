// The chain feed: heads published, one chain query per session for any number of edges, sessions
// re-pushed when their budget or window params change, refusals.

#include <doctest.h>

#include "session-manager/chain_feed.h"
#include "test/link/test_support.h"
#include "test/support/process.h"
#include "test/session-manager/sm_test_support.h"

using namespace pocket;

TEST_SUITE("session-manager chain feed") {
  TEST_CASE("heads, cached session answers, re-pushes and refusals") {
    test::CapturedLog log;
    util::MetricsRegistry metrics;
    test::FakeChain chain;
    chain.sessions = {test::makeSession(0)};
    sm::SessionCache cache(chain, log.sink(), metrics);
    std::vector<std::int64_t> heads, heights;
    std::vector<sm::SessionFacts> changed, answered;
    std::vector<std::string> refused;
    sm::ChainFeedCallbacks cb;
    cb.newHead = [&](const sm::ChainHead& h) { heads.push_back(h.height); };
    cb.sessionChanged = [&](const sm::SessionFacts& f) { changed.push_back(f); };
    cb.answer = [&](const sm::SessionQueryRequest&, const sm::SessionFacts& f) {
      answered.push_back(f);
    };
    std::vector<bool> refusedTransient;
    cb.refuse = [&](const sm::SessionQueryRequest&, const std::string& r, bool transient) {
      refused.push_back(r);
      refusedTransient.push_back(transient);
    };
    cb.height = [&](std::int64_t h) { heights.push_back(h); };
    sm::ChainFeed feed(std::chrono::milliseconds(1000), chain, cache, cb, log.sink(), metrics);

    feed.pollOnce();
    CHECK(heads == std::vector<std::int64_t>{15});
    CHECK(feed.head()->height == 15);
    feed.pollOnce();  // same height: nothing again
    CHECK(heads.size() == 1);

    // Three edges ask for the same session: one chain query.
    for (std::uint64_t q = 1; q <= 3; ++q) {
      feed.submitQuery({"peer" + std::to_string(q), test::kApp, "svc", 12 + static_cast<int>(q), q});
    }
    feed.submitQuery({"peer9", test::kApp, "other-service", 15, 9});
    feed.answerQueued();
    CHECK(answered.size() == 3);
    CHECK(chain.sessionCalls == 2);  // the session once, the unknown service once
    REQUIRE(refused.size() == 1);
    CHECK(refused[0] == "no such session");
    CHECK(!refusedTransient[0]);  // the chain's own "no"
    CHECK(cache.chainQueries() == 2);

    // The application's stake changes before the session ends: re-pushed on the next block.
    chain.sessions[0].budget->applicationStakeUpokt = 5;
    chain.head.height = 18;  // three blocks at once: one pass for the newest
    feed.pollOnce();
    CHECK(heads.back() == 18);
    REQUIRE(changed.size() == 1);
    CHECK(changed[0].budget->applicationStakeUpokt == 5);
    CHECK(heights.back() == 18);
    CHECK(log.contains("event=blocks_coalesced"));
    feed.pollOnce();
    CHECK(changed.size() == 1);

    // A node that stops answering: logged once, the last head kept.
    chain.available = false;
    feed.pollOnce();
    feed.pollOnce();
    CHECK(feed.head()->height == 18);
    CHECK(log.contains("event=chain_head_unavailable"));
  }
}

TEST_SUITE("session-manager chain feed") {
  TEST_CASE("an announced block is read at once, not at the next poll; the feed never waits") {
    test::CapturedLog log;
    util::MetricsRegistry metrics;
    test::FakeChain chain;
    sm::SessionCache cache(chain, log.sink(), metrics);
    std::mutex mutex;
    std::vector<std::int64_t> heads;
    sm::ChainFeedCallbacks cb;
    cb.newHead = [&](const sm::ChainHead& h) {
      std::lock_guard lock(mutex);
      heads.push_back(h.height);
    };
    // A poll interval no test run reaches: only announcements can make the loop read the head.
    sm::ChainFeed feed(std::chrono::hours(1), chain, cache, cb, log.sink(), metrics);
    feed.start();
    auto seen = [&](std::int64_t height) {
      std::lock_guard lock(mutex);
      return !heads.empty() && heads.back() == height;
    };
    REQUIRE(seen(15));  // start() read the head once
    {
      std::lock_guard lock(chain.mutex);
      chain.head.height = 16;
    }
    feed.newBlockAnnounced(16);
    CHECK(feed.announcedHeight() == 16);
    REQUIRE(testing::waitFor([&] { return seen(16); }, testing::kGenerous, "head 16"));
    // Several announcements while the node is already further: one read of the newest head.
    {
      std::lock_guard lock(chain.mutex);
      chain.head.height = 19;
    }
    for (std::int64_t h = 17; h <= 19; ++h) feed.newBlockAnnounced(h);
    REQUIRE(testing::waitFor([&] { return seen(19); }, testing::kGenerous, "head 19"));
    // An announcement of a height the loop already has changes nothing.
    feed.newBlockAnnounced(12);
    CHECK(feed.announcedHeight() == 19);
    feed.stop();
    std::lock_guard lock(mutex);
    CHECK(heads.front() == 15);
    CHECK(heads.back() == 19);
    for (std::size_t i = 1; i < heads.size(); ++i) CHECK(heads[i] > heads[i - 1]);
  }
}

#include "common/chain/chain_queries.h"
#include "common/chain/node_client.h"
#include "common/chain/node_health.h"
#include "session-manager/node_chain.h"

TEST_SUITE("session-manager chain feed") {
  TEST_CASE("over a full node that does not answer: transient errors, an unhealthy node") {
    test::CapturedLog log;
    util::MetricsRegistry metrics;
    chain::NodeHealthConfig healthConfig;
    healthConfig.expectedChainId = "pocket";
    chain::NodeHealth health(healthConfig, metrics, log.sink());
    chain::NodeClientConfig nodeConfig;
    nodeConfig.rpcUrl = "http://127.0.0.1:1";  // nothing listens on port 1
    nodeConfig.readRetries = 0;
    chain::NodeClient node(nodeConfig, metrics, log.sink(), &health);
    chain::ChainQueries queries(node, metrics, log.sink());
    sm::NodeChain source(node, queries, health);
    auto head = source.latestHead();
    REQUIRE(!head.ok());
    CHECK(head.error().code == sm::kChainUnavailable);
    auto session = source.session(test::kApp, "svc", 15);
    REQUIRE(!session.ok());
    CHECK(session.error().code == sm::kChainUnavailable);
    auto report = health.evaluate();
    CHECK(!report.healthy);
    CHECK(report.summary().find("unreachable") != std::string::npos);
  }
}
