// The chain-facts cache: hits, misses that become queries, answers, refusals and timeouts.

#include "edge/link/chain_facts.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>

#include <doctest.h>

#include "test/link/test_support.h"

using namespace std::chrono_literals;
using pocket::edge::ChainFacts;
using pocket::edge::ChainFactsOptions;
using pocket::edge::ChainHead;
using pocket::edge::SessionFacts;
using pocket::edge::SessionFactsPtr;
using pocket::test::CapturedLog;

namespace {

SessionFacts session(std::string app, std::int64_t start, std::int64_t end) {
  SessionFacts facts;
  facts.header = {std::move(app), "anvil", "sid-" + std::to_string(start), start, end};
  facts.supplierOperatorAddresses = {"pokt1supplierA", "pokt1supplierB"};
  pocket::edge::CompressedPubKey key{};
  key[0] = 0x02;
  facts.ringPubKeys = {key};
  facts.computeUnitsPerRelay = 5;
  facts.difficultyTarget.fill(0xff);
  return facts;
}

// Collects one callback result and lets the test wait for it.
struct Answer {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<pocket::util::Result<SessionFactsPtr>> result;
  int calls = 0;

  pocket::edge::SessionCallback callback() {
    return [this](pocket::util::Result<SessionFactsPtr> r) {
      std::lock_guard<std::mutex> lock(mutex);
      result.emplace(std::move(r));
      ++calls;
      cv.notify_all();
    };
  }
  // The bound only ends a failing test: a loaded machine must never reach it.
  bool wait(std::chrono::milliseconds timeout = 60s) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, timeout, [&] { return result.has_value(); });
  }
};

}  // namespace

TEST_SUITE("chain_facts") {
  TEST_CASE("a cached session is found for every height inside it and no other") {
    CapturedLog log;
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    REQUIRE(facts.putSession(session("pokt1app", 101, 110)).ok());
    CHECK(facts.findSession("pokt1app", "anvil", 101) != nullptr);
    CHECK(facts.findSession("pokt1app", "anvil", 110)->header.sessionId == "sid-101");
    CHECK(facts.findSession("pokt1app", "anvil", 111) == nullptr);
    CHECK(facts.findSession("pokt1app", "other", 105) == nullptr);
    CHECK(facts.findSession("pokt1other", "anvil", 105) == nullptr);
    CHECK(facts.findSession("pokt1app", "anvil", 105)->hasSupplier("pokt1supplierB"));
    CHECK_FALSE(facts.findSession("pokt1app", "anvil", 105)->hasSupplier("pokt1stranger"));
    CHECK(facts.hits() == 4);
    CHECK(facts.misses() == 3);
  }

  TEST_CASE("the head is null before the first chain state and a snapshot after") {
    CapturedLog log;
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    CHECK(facts.head() == nullptr);
    CHECK(facts.currentHeight() == 0);
    ChainHead head;
    head.height = 42;
    head.blockHash = pocket::util::Bytes(32, 0xab);
    head.sharedParams.numBlocksPerSession = 10;
    facts.updateHead(head);
    auto seen = facts.head();
    REQUIRE(seen != nullptr);
    head.height = 43;
    facts.updateHead(head);
    CHECK(seen->height == 42);  // an earlier snapshot does not change under its reader
    CHECK(facts.currentHeight() == 43);
    CHECK(facts.head()->sharedParams.numBlocksPerSession == 10);
  }

  TEST_CASE("a miss becomes one query; the answer reaches every waiting caller") {
    CapturedLog log;
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    std::atomic<int> wakeups{0};
    facts.setQueryWakeup([&] { ++wakeups; });
    Answer first, second;
    facts.lookupSession("pokt1app", "anvil", 101, first.callback());
    facts.lookupSession("pokt1app", "anvil", 101, second.callback());
    CHECK(wakeups == 1);
    auto queries = facts.takeQueriesToSend(false);
    REQUIRE(queries.size() == 1);
    CHECK(queries[0].applicationAddress == "pokt1app");
    CHECK(queries[0].blockHeight == 101);
    CHECK(facts.takeQueriesToSend(false).empty());
    CHECK(facts.takeQueriesToSend(true).size() == 1);  // after a reconnect: everything pending

    REQUIRE(facts.putSession(session("pokt1app", 101, 110), queries[0].queryId).ok());
    REQUIRE(first.wait());
    REQUIRE(second.wait());
    REQUIRE(first.result->ok());
    CHECK((**first.result)->header.sessionId == "sid-101");
    CHECK(second.result->ok());
    // Now a hit, answered inline.
    Answer third;
    facts.lookupSession("pokt1app", "anvil", 105, third.callback());
    CHECK(third.calls == 1);
    CHECK(facts.takeQueriesToSend(true).empty());
  }

  TEST_CASE("an unanswered query fails with session_query_timeout") {
    CapturedLog log;
    ChainFactsOptions options;
    options.queryTimeout = 50ms;
    ChainFacts facts(options, log.sink());
    Answer answer;
    facts.lookupSession("pokt1app", "anvil", 101, answer.callback());
    REQUIRE(answer.wait());
    REQUIRE_FALSE(answer.result->ok());
    CHECK(answer.result->error().code == pocket::edge::kErrSessionQueryTimeout);
    CHECK(facts.queryTimeouts() == 1);
    CHECK(log.contains("event=session_query_timeout"));
    CHECK(facts.takeQueriesToSend(true).empty());
  }

  TEST_CASE("a refusal fails the query and is remembered for a while; a transient one is not") {
    CapturedLog log;
    ChainFactsOptions options;
    options.negativeTtl = 10s;
    ChainFacts facts(options, log.sink());
    Answer answer;
    facts.lookupSession("pokt1ghost", "anvil", 101, answer.callback());
    auto queries = facts.takeQueriesToSend(false);
    REQUIRE(queries.size() == 1);
    facts.failQuery(queries[0].queryId, "application not staked");
    REQUIRE(answer.wait());
    REQUIRE_FALSE(answer.result->ok());
    CHECK(answer.result->error().code == pocket::edge::kErrSessionNotFound);
    CHECK(answer.result->error().message.find("not staked") != std::string::npos);
    Answer again;
    facts.lookupSession("pokt1ghost", "anvil", 101, again.callback());
    CHECK(again.calls == 1);  // inline, from the negative cache
    CHECK(again.result->error().code == pocket::edge::kErrSessionNotFound);
    CHECK(facts.takeQueriesToSend(true).empty());

    // A transient refusal (the manager could not ask the chain) is not remembered: the next miss
    // asks again.
    Answer unavailable;
    facts.lookupSession("pokt1app", "anvil", 101, unavailable.callback());
    queries = facts.takeQueriesToSend(false);
    REQUIRE(queries.size() == 1);
    facts.failQuery(queries[0].queryId, "chain unavailable: timeout", true);
    REQUIRE(unavailable.wait());
    REQUIRE_FALSE(unavailable.result->ok());
    CHECK(unavailable.result->error().code == pocket::edge::kErrSessionChainUnavailable);
    CHECK(log.contains("transient=true"));
    Answer retry;
    facts.lookupSession("pokt1app", "anvil", 101, retry.callback());
    CHECK(retry.calls == 0);
    CHECK(facts.takeQueriesToSend(false).size() == 1);
  }

  TEST_CASE("an answer for another session fails the query instead of caching a lie") {
    CapturedLog log;
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    Answer answer;
    facts.lookupSession("pokt1app", "anvil", 205, answer.callback());
    auto queries = facts.takeQueriesToSend(false);
    REQUIRE(queries.size() == 1);
    REQUIRE(facts.putSession(session("pokt1app", 101, 110), queries[0].queryId).ok());
    REQUIRE(answer.wait());
    REQUIRE_FALSE(answer.result->ok());
    CHECK(answer.result->error().code == pocket::edge::kErrSessionAnswerInvalid);
  }

  TEST_CASE("malformed session facts are refused and change nothing") {
    CapturedLog log;
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    auto noKeys = session("pokt1app", 101, 110);
    noKeys.ringPubKeys.clear();
    CHECK(facts.putSession(noKeys).error().code == pocket::edge::kErrSessionAnswerInvalid);
    auto backwards = session("pokt1app", 110, 101);
    CHECK_FALSE(facts.putSession(backwards).ok());
    auto noGrid = session("pokt1app", 101, 110);
    noGrid.windowParams = pocket::protocol::SharedParams::genesisDefaults();
    noGrid.windowParams->numBlocksPerSession = 0;  // unusable for any window arithmetic
    CHECK(facts.putSession(noGrid).error().code == pocket::edge::kErrSessionAnswerInvalid);
    CHECK(facts.sessionCount() == 0);
    CHECK(log.contains("event=session_info_invalid"));
  }

  TEST_CASE("a session's own params win over the head's; without them the head's apply") {
    CapturedLog log;
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    auto head = pocket::protocol::SharedParams::genesisDefaults();
    auto pinned = session("pokt1app", 101, 110);
    REQUIRE(facts.putSession(pinned).ok());
    auto found = facts.findSession("pokt1app", "anvil", 105);
    REQUIRE(found);
    CHECK(found->windowParamsOr(head) == head);  // an older manager: the head's params
    CHECK(found->startParamsOr(head) == head);
    CHECK_FALSE(found->budget);
    auto atEnd = head;
    atEnd.gracePeriodEndOffsetBlocks = 7;
    auto atStart = head;
    atStart.computeUnitsToTokensMultiplier = 1;
    pinned.windowParams = atEnd;
    pinned.startParams = atStart;
    pinned.budget = pocket::edge::RelayBudget{1000, 0, 1};
    REQUIRE(facts.putSession(pinned).ok());  // a re-push replaces the cached facts
    found = facts.findSession("pokt1app", "anvil", 105);
    REQUIRE(found);
    CHECK(found->windowParamsOr(head) == atEnd);
    CHECK(found->startParamsOr(head) == atStart);
    REQUIRE(found->budget);
    CHECK(found->budget->applicationStakeUpokt == 1000);
    CHECK(facts.sessionCount() == 1);
  }

  TEST_CASE("sessions are forgotten once past their grace period and one more session") {
    CapturedLog log;
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    REQUIRE(facts.putSession(session("pokt1app", 101, 110)).ok());
    REQUIRE(facts.putSession(session("pokt1app", 111, 120)).ok());
    ChainHead head;
    head.sharedParams.numBlocksPerSession = 10;
    head.sharedParams.gracePeriodEndOffsetBlocks = 1;
    head.height = 121;  // 110 + 1 + 10: the first session is still kept
    facts.updateHead(head);
    CHECK(facts.sessionCount() == 2);
    head.height = 122;
    facts.updateHead(head);
    CHECK(facts.sessionCount() == 1);
    CHECK(facts.findSession("pokt1app", "anvil", 105) == nullptr);
    CHECK(facts.findSession("pokt1app", "anvil", 115) != nullptr);
  }
}
