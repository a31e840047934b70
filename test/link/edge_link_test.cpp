// The link client against a scripted session manager in the same process (plain text on
// loopback): hello and its answer, batches and acks, rejections, chain state, session queries,
// garbage from the manager, and the rewind after an ack that never comes.

#include "edge/link/edge_link.h"

#include <chrono>
#include <thread>

#include <capnp/message.h>
#include <zmq.hpp>

#include <doctest.h>

#include "common/net/frame.h"
#include "edge_link.capnp.h"
#include "test/link/test_support.h"
#include "test/support/process.h"

using namespace std::chrono_literals;
using pocket::edge::ChainFacts;
using pocket::edge::ChainFactsOptions;
using pocket::edge::EdgeLink;
using pocket::edge::LinkOptions;
using pocket::edge::Spool;
using pocket::edge::SpoolOptions;
using pocket::test::CapturedLog;
using pocket::test::makeRelay;
using pocket::testing::TempDir;

namespace {

// A ROUTER the test drives by hand.
class ScriptedManager {
 public:
  ScriptedManager() : context_(1), router_(context_, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }

  // Waits for the next edge message and returns its decoded frame.
  // The bound only ends a failing test: a loaded machine must never reach it.
  std::unique_ptr<pocket::net::DecodedFrame> receive(std::chrono::milliseconds timeout = 60s) {
    zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) <= 0) return nullptr;
    zmq::message_t id, body;
    (void)router_.recv(id);
    (void)router_.recv(body);
    peer_.rebuild(id.data(), id.size());
    auto frame =
        pocket::net::decodeFrame(pocket::util::ByteSpan(body.data<std::uint8_t>(), body.size()));
    REQUIRE(frame.ok());
    return std::move(frame).value();
  }
  // Receives until a message of the wanted kind arrives (others are skipped).
  std::unique_ptr<pocket::net::DecodedFrame> receiveKind(pocket::link::EdgeMessage::Which kind) {
    for (int i = 0; i < 100; ++i) {
      auto frame = receive();
      if (!frame) return nullptr;
      if (frame->root<pocket::link::EdgeMessage>().which() == kind) return frame;
    }
    return nullptr;
  }
  void send(capnp::MessageBuilder& message) {
    zmq::message_t id(peer_.data(), peer_.size());
    router_.send(id, zmq::send_flags::sndmore);
    router_.send(pocket::net::encodeFrame(message), zmq::send_flags::none);
  }
  void sendRaw(std::string_view bytes) {
    zmq::message_t id(peer_.data(), peer_.size());
    router_.send(id, zmq::send_flags::sndmore);
    router_.send(zmq::buffer(bytes), zmq::send_flags::none);
  }
  void ack(std::uint64_t through, std::uint64_t rejectedSeq = 0) {
    capnp::MallocMessageBuilder builder;
    auto ack = builder.initRoot<pocket::link::ManagerMessage>().initAck();
    ack.setThroughSeq(through);
    if (rejectedSeq != 0) {
      auto rejected = ack.initRejected(1);
      rejected[0].setSeq(rejectedSeq);
      rejected[0].setReason("session closed");
    }
    send(builder);
  }

 private:
  zmq::context_t context_;
  zmq::socket_t router_;
  zmq::message_t peer_;
  std::string endpoint_;
};

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 60s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

LinkOptions plainOptions(const std::string& endpoint) {
  LinkOptions o;
  o.endpoint = endpoint;
  o.edgeId = "edge-test";
  o.plaintext = true;
  o.batchMaxRelays = 10;
  // Far beyond any test step, so that a slow test thread never sees a resend it did not ask for;
  // the resend test sets its own.
  o.ackTimeout = 60s;
  return o;
}

}  // namespace

TEST_SUITE("edge_link") {
  TEST_CASE("hello, batches and acks: the spool empties only as acks arrive") {
    TempDir dir;
    CapturedLog log;
    Spool spool(SpoolOptions{dir / "spool"}, log.sink());
    for (std::uint64_t i = 1; i <= 25; ++i) REQUIRE(spool.append(makeRelay(i)).ok());
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    ScriptedManager manager;
    EdgeLink link(plainOptions(manager.endpoint()), spool, facts, log.sink());

    auto hello = manager.receiveKind(pocket::link::EdgeMessage::HELLO);
    REQUIRE(hello);
    auto h = hello->root<pocket::link::EdgeMessage>().getHello();
    CHECK(std::string(h.getEdgeId().cStr()) == "edge-test");
    CHECK(h.getResumeSeq() == 1);
    CHECK(h.getSpoolId() == spool.spoolId());
    CHECK_FALSE(link.connected());
    manager.ack(0);  // the answer to hello: nothing of this spool is durable yet
    REQUIRE(eventually([&] { return link.connected(); }));

    std::uint64_t expected = 1;
    while (expected <= 25) {
      auto batch = manager.receiveKind(pocket::link::EdgeMessage::MINED_RELAYS);
      REQUIRE(batch);
      auto relays = batch->root<pocket::link::EdgeMessage>().getMinedRelays();
      CHECK(relays.getFirstSeq() == expected);
      REQUIRE(relays.getRelays().size() > 0);
      auto first = relays.getRelays()[0];
      auto want = makeRelay(expected);
      CHECK(first.getRelayBytes().size() == want.relayBytes.size());
      CHECK(first.getComputeUnits() == want.computeUnits);
      expected += relays.getRelays().size();
    }
    CHECK(expected == 26);
    CHECK(spool.unackedCount() == 25);  // nothing acked yet
    manager.ack(25, 7);
    REQUIRE(eventually([&] { return spool.ackedThrough() == 25; }));
    CHECK(link.relaysRejectedTotal() == 1);
    REQUIRE(eventually([&] { return link.relaysAckedTotal() == 25; }));
    REQUIRE(eventually([&] { return log.contains("event=relay_rejected seq=7"); }));

    // A relay appended later goes out on its own.
    REQUIRE(spool.append(makeRelay(26)).ok());
    link.wake();
    auto late = manager.receiveKind(pocket::link::EdgeMessage::MINED_RELAYS);
    REQUIRE(late);
    CHECK(late->root<pocket::link::EdgeMessage>().getMinedRelays().getFirstSeq() == 26);
  }

  TEST_CASE("an ack that never comes rewinds and resends from the first unacked record") {
    TempDir dir;
    CapturedLog log;
    Spool spool(SpoolOptions{dir / "spool"}, log.sink());
    for (std::uint64_t i = 1; i <= 5; ++i) REQUIRE(spool.append(makeRelay(i)).ok());
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    ScriptedManager manager;
    auto options = plainOptions(manager.endpoint());
    options.ackTimeout = 200ms;
    EdgeLink link(options, spool, facts, log.sink());
    REQUIRE(manager.receiveKind(pocket::link::EdgeMessage::HELLO));
    manager.ack(2);  // the manager already holds 1 and 2 (e.g. from before a restart)
    auto first = manager.receiveKind(pocket::link::EdgeMessage::MINED_RELAYS);
    REQUIRE(first);
    CHECK(first->root<pocket::link::EdgeMessage>().getMinedRelays().getFirstSeq() == 3);
    auto again = manager.receiveKind(pocket::link::EdgeMessage::MINED_RELAYS);
    REQUIRE(again);
    CHECK(again->root<pocket::link::EdgeMessage>().getMinedRelays().getFirstSeq() == 3);
    CHECK(link.retransmitsTotal() >= 1);
    CHECK(spool.ackedThrough() == 2);
  }

  TEST_CASE("chain state and session answers reach the cache; garbage is counted") {
    TempDir dir;
    CapturedLog log;
    Spool spool(SpoolOptions{dir / "spool"}, log.sink());
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    ScriptedManager manager;
    EdgeLink link(plainOptions(manager.endpoint()), spool, facts, log.sink());
    REQUIRE(manager.receiveKind(pocket::link::EdgeMessage::HELLO));
    manager.ack(0);

    {
      capnp::MallocMessageBuilder builder;
      auto state = builder.initRoot<pocket::link::ManagerMessage>().initChainState();
      state.setHeight(105);
      std::vector<std::uint8_t> hash(32, 0xcd);
      state.setBlockHash(kj::arrayPtr(hash.data(), hash.size()));
      state.getSharedParams().setNumBlocksPerSession(10);
      state.getSharedParams().setGracePeriodEndOffsetBlocks(1);
      manager.send(builder);
    }
    REQUIRE(eventually([&] { return facts.currentHeight() == 105; }));
    CHECK(facts.head()->sharedParams.numBlocksPerSession == 10);
    CHECK(link.lastChainStateUnixMs() > 0);

    std::atomic<int> answered{0};
    std::string sessionId;
    std::mutex mutex;
    facts.lookupSession("pokt1app", "anvil", 105, [&](auto result) {
      std::lock_guard<std::mutex> lock(mutex);
      if (result.ok()) sessionId = (*result)->header.sessionId;
      ++answered;
    });
    auto query = manager.receiveKind(pocket::link::EdgeMessage::SESSION_QUERY);
    REQUIRE(query);
    auto q = query->root<pocket::link::EdgeMessage>().getSessionQuery();
    CHECK(std::string(q.getApplicationAddress().cStr()) == "pokt1app");
    CHECK(q.getBlockHeight() == 105);

    manager.sendRaw("this is not a capnp message!!!!!");  // 32 bytes of garbage
    {
      capnp::MallocMessageBuilder builder;
      auto info = builder.initRoot<pocket::link::ManagerMessage>().initSessionInfo();
      info.setQueryId(q.getQueryId());
      auto header = info.initHeader();
      header.setApplicationAddress("pokt1app");
      header.setServiceId("anvil");
      header.setSessionId("sid-101");
      header.setSessionStartBlockHeight(101);
      header.setSessionEndBlockHeight(110);
      auto suppliers = info.initSupplierOperatorAddresses(1);
      suppliers.set(0, "pokt1supplier");
      std::vector<std::uint8_t> key(33, 0x02), target(32, 0xff);
      info.initRingPubKeys(1).set(0, kj::arrayPtr(key.data(), key.size()));
      info.setDifficultyTarget(kj::arrayPtr(target.data(), target.size()));
      info.setComputeUnitsPerRelay(3);
      auto window = info.initWindowParams();
      window.setNumBlocksPerSession(10);
      window.setGracePeriodEndOffsetBlocks(4);
      info.initStartParams().setComputeUnitsToTokensMultiplier(42);
      auto budget = info.initBudget();
      budget.setApplicationStakeUpokt(5000000);
      budget.setPerSessionSpendLimitUpokt(7);
      budget.setOverservicingBonusMultiplier(2);
      manager.send(builder);
    }
    REQUIRE(eventually([&] { return answered.load() == 1; }));
    {
      std::lock_guard<std::mutex> lock(mutex);
      CHECK(sessionId == "sid-101");
    }
    auto cached = facts.findSession("pokt1app", "anvil", 110);
    REQUIRE(cached);
    CHECK(cached->computeUnitsPerRelay == 3);
    REQUIRE(cached->windowParams);
    CHECK(cached->windowParams->gracePeriodEndOffsetBlocks == 4);
    REQUIRE(cached->startParams);
    CHECK(cached->startParams->computeUnitsToTokensMultiplier == 42);
    REQUIRE(cached->budget);
    CHECK(cached->budget->applicationStakeUpokt == 5000000);
    CHECK(cached->budget->perSessionSpendLimitUpokt == 7);
    CHECK(cached->budget->overservicingBonusMultiplier == 2);
    REQUIRE(eventually([&] { return link.garbageReceivedTotal() == 1; }));
    CHECK(log.contains("event=link_garbage_received"));
    CHECK(link.connected());
  }

  TEST_CASE("configuration mistakes fail at construction") {
    TempDir dir;
    CapturedLog log;
    Spool spool(SpoolOptions{dir / "spool"}, log.sink());
    ChainFacts facts(ChainFactsOptions{}, log.sink());
    auto options = plainOptions("tcp://10.1.2.3:7700");
    CHECK_THROWS_AS(EdgeLink(options, spool, facts, log.sink()), std::invalid_argument);
    options.plaintext = false;
    options.clientKeyFile = dir / "missing.key";
    options.serverPublicKeyFile = dir / "missing.pub";
    CHECK_THROWS_AS(EdgeLink(options, spool, facts, log.sink()), std::runtime_error);
  }
}
