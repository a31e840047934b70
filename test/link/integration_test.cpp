// Process-level tests of delivery: the link driver (an edge reduced to spool + link) against the
// session-manager double, with the double killed and restarted, the edge killed with SIGKILL in the
// middle of batches, CURVE with an allow-list, garbage on the link, and session queries.
// Everything listens on 127.0.0.1; every wait is bounded.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include <capnp/message.h>
#include <zmq.hpp>

#include <doctest.h>

#include "common/net/curve_keys.h"
#include "common/net/frame.h"
#include "common/util/hex.h"
#include "edge_link.capnp.h"
#include "test/link/test_support.h"
#include "test/support/stack.h"

using namespace std::chrono_literals;
using pocket::test::makeRelay;
namespace testing = pocket::testing;

namespace {

std::set<std::string> expectedHashes(std::uint64_t count) {
  std::set<std::string> out;
  for (std::uint64_t i = 1; i <= count; ++i)
    out.insert(pocket::util::toHex(makeRelay(i).relayHash));
  return out;
}

// The fixture every test's double serves.
testing::SessionFixture fixture() {
  testing::FixtureSession session;
  session.applicationAddress = "pokt1app";
  session.serviceId = "anvil";
  session.sessionId = "sid-101";
  session.start = 101;
  session.end = 110;
  session.suppliers = {"pokt1supplier"};
  session.ringPubKeys = {"02aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"};
  session.computeUnitsPerRelay = 3;
  testing::SessionFixture out;
  out.height = 105;
  out.sharedParams = testing::ChainParams{.numBlocksPerSession = 10, .gracePeriodEndOffsetBlocks = 1};
  out.sessions = {session};
  return out;
}

// A test world: the double (on the harness's stack) and link-driver runs against it.
class World {
 public:
  // Starts the double with `args` after its fixed ones.
  explicit World(std::vector<std::string> doubleArgs = {"--plaintext"})
      : stack_(testing::StackBuilder("link-integration")
                   .fixture(fixture())
                   .sessionManagerArgs(std::move(doubleArgs))
                   .chainIntervalMs(100)
                   .start()) {}

  std::string path(const std::string& name) const { return stack_->path(name); }
  std::string endpoint() const { return stack_->sm->endpoint(); }
  testing::SmDouble& sm() { return *stack_->sm; }

  // Starts link-driver appending `count` relays to `spool` (plain text unless `extra` has --key).
  testing::ChildProcess& startDriver(std::uint64_t count, std::vector<std::string> extra = {},
                                     const std::string& spool = "spool") {
    std::vector<std::string> argv = {testing::binaryPath(testing::kLinkDriverVar),
                                     "--spool",
                                     path(spool),
                                     "--endpoint",
                                     endpoint(),
                                     "--count",
                                     std::to_string(count)};
    if (std::find(extra.begin(), extra.end(), "--key") == extra.end())
      argv.push_back("--plaintext");
    argv.insert(argv.end(), extra.begin(), extra.end());
    return stack_->spawn("driver", argv);
  }

  testing::ReceivedLog received() const { return stack_->sm->received(); }

  // Every relay 1..count reached the double exactly once, and no relay was spooled twice.
  void checkExactlyOnce(std::uint64_t count) const {
    testing::ReceivedLog got = received();
    CHECK(got.accepted.size() == count);
    std::set<std::string> unique(got.accepted.begin(), got.accepted.end());
    CHECK(unique.size() == got.accepted.size());
    CHECK(unique == expectedHashes(count));
    CHECK(got.duplicates == 0);
    CHECK(got.rejected == 0);
  }

  std::string doubleLog() const { return stack_->sm->process().output(); }
  std::string driverLog() const { return testing::readFile(path("driver.log")); }

 private:
  std::unique_ptr<testing::Stack> stack_;
};

}  // namespace

TEST_SUITE("link_integration") {
  TEST_CASE("every mined relay reaches the double exactly once and is acked") {
    World world;
    auto& driver = world.startDriver(3000);
    REQUIRE(driver.exitCode(testing::kGenerous) == 0);
    world.checkExactlyOnce(3000);
    CHECK(world.doubleLog().find("event=edge_hello") != std::string::npos);
  }

  TEST_CASE("a double that dies after a durable write but before its ack loses nothing") {
    World world({"--plaintext", "--exit-after-durable-batches", "3"});
    auto& driver = world.startDriver(1500, {"--append-interval-us", "100"});
    REQUIRE(world.sm().process().exitCode(testing::kGenerous) == 3);
    world.sm().restart(std::vector<std::string>{"--plaintext"});
    REQUIRE(driver.exitCode(testing::kGenerous) == 0);
    // The batch that was durable but unacked came again and was recognised by its seq.
    world.checkExactlyOnce(1500);
  }

  TEST_CASE("link down, then up: the double is killed and restarted mid-stream") {
    World world;
    auto& driver = world.startDriver(6000, {"--append-interval-us", "150"});
    // Each kill comes once relays are flowing (the double has received more than before).
    auto progress = [&](const char* what) {
      std::size_t before = world.received().accepted.size();
      return testing::waitFor([&] { return world.received().accepted.size() > before; }, what);
    };
    CHECK(progress("relays delivered before the first kill"));
    world.sm().kill9();
    // The driver keeps running while the link is down: nothing can be acked.
    std::this_thread::sleep_for(600ms);
    CHECK(driver.running());
    world.sm().restart();
    CHECK(progress("relays delivered after the restart"));
    world.sm().kill9();
    world.sm().restart();
    REQUIRE(driver.exitCode(testing::kGenerous * 2) == 0);
    world.checkExactlyOnce(6000);
    CHECK(world.driverLog().find("event=link_disconnected") != std::string::npos);
  }

  TEST_CASE("kill -9 of the edge in the middle of batches, then restarts: exactly once") {
    World world;
    // Each round resumes the spool where the last one was killed, once it has delivered something
    // (whatever the machine's speed), a little later each round; the count leaves every round
    // relays to append.
    const std::uint64_t count = 20000;
    int killedWhileRunning = 0;
    for (int round = 0; round < 5; ++round) {
      std::size_t before = world.received().accepted.size();
      auto& driver = world.startDriver(count, {"--append-interval-us", "100"});
      CHECK(testing::waitFor(
          [&] { return world.received().accepted.size() > before || !driver.running(); },
          "relays delivered by the driver of this round"));
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * round));
      if (driver.running()) ++killedWhileRunning;
      driver.kill9();
    }
    CHECK(killedWhileRunning == 5);
    auto& last = world.startDriver(count);
    REQUIRE(last.exitCode(testing::kGenerous * 2) == 0);
    world.checkExactlyOnce(count);
  }

  TEST_CASE("CURVE with an allow-list: a listed edge delivers, another key is refused") {
    testing::TempDir keys("link-curve-keys");
    auto server = pocket::net::generateCurveKeyPair();
    auto listed = pocket::net::generateCurveKeyPair();
    auto stranger = pocket::net::generateCurveKeyPair();
    pocket::net::writeCurveKeyPairFile(keys / "server.key", server);
    pocket::net::writeCurvePublicKeyFile(keys / "server.pub", server.publicKey);
    pocket::net::writeCurveKeyPairFile(keys / "listed.key", listed);
    pocket::net::writeCurveKeyPairFile(keys / "stranger.key", stranger);
    pocket::net::writeCurveAllowListFile(keys / "allow", {listed.publicKey});
    World world({"--server-key", keys / "server.key", "--allow-list", keys / "allow"});

    // The refusal is what the driver waits for; --wait-ms only ends its wait for acks that never
    // come.
    auto& refused = world.startDriver(5,
                                      {"--key", keys / "stranger.key", "--server-key",
                                       keys / "server.pub", "--wait-ms", "1500"},
                                      "spool-stranger");
    CHECK(refused.exitCode(testing::kGenerous) == 1);
    CHECK(world.doubleLog().find("event=link_peer_refused") != std::string::npos);
    CHECK(world.driverLog().find("event=link_auth_refused") != std::string::npos);
    CHECK(world.received().accepted.empty());

    auto& allowed = world.startDriver(
        5, {"--key", keys / "listed.key", "--server-key", keys / "server.pub"}, "spool-listed");
    REQUIRE(allowed.exitCode(testing::kGenerous) == 0);
    world.checkExactlyOnce(5);
    CHECK(world.doubleLog().find(stranger.publicKey) == std::string::npos);
  }

  TEST_CASE("garbage on the link is logged by the double and does not stop it") {
    World world;
    {
      zmq::context_t context(1);
      zmq::socket_t dealer(context, zmq::socket_type::dealer);
      dealer.set(zmq::sockopt::linger, 200);
      dealer.connect(world.endpoint());
      dealer.send(zmq::str_buffer("not capnp at all"), zmq::send_flags::none);
      dealer.send(zmq::str_buffer("12345678"), zmq::send_flags::sndmore);
      dealer.send(zmq::str_buffer("two frames"), zmq::send_flags::none);
      std::vector<std::uint8_t> lying = {0, 0, 0, 0, 0xff, 0xff, 0, 0};
      dealer.send(zmq::buffer(lying), zmq::send_flags::none);
      {
        capnp::MallocMessageBuilder builder;  // a batch before any hello
        auto batch = builder.initRoot<pocket::link::EdgeMessage>().initMinedRelays();
        batch.setFirstSeq(1);
        batch.initRelays(1);
        dealer.send(pocket::net::encodeFrame(builder), zmq::send_flags::none);
      }
      {
        capnp::MallocMessageBuilder builder;
        auto hello = builder.initRoot<pocket::link::EdgeMessage>().initHello();
        hello.setEdgeId("edge-garbage");
        hello.setSpoolId(7);
        dealer.send(pocket::net::encodeFrame(builder), zmq::send_flags::none);
      }
      {
        capnp::MallocMessageBuilder builder;  // a relay whose hash is not sha256 of its bytes
        auto batch = builder.initRoot<pocket::link::EdgeMessage>().initMinedRelays();
        batch.setFirstSeq(1);
        auto relay = batch.initRelays(1)[0];
        std::vector<std::uint8_t> hash(32, 0x11);
        relay.setRelayHash(kj::arrayPtr(hash.data(), hash.size()));
        relay.setRelayBytes(kj::arrayPtr(hash.data(), 5));
        dealer.send(pocket::net::encodeFrame(builder), zmq::send_flags::none);
      }
      // The double answers the hello with an ack, then acks the bad batch with a rejection.
      bool sawRejection = false;
      for (int i = 0; i < 20 && !sawRejection; ++i) {
        zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, 30000ms) <= 0) break;
        zmq::message_t reply;
        (void)dealer.recv(reply);
        auto frame = pocket::net::decodeFrame(
            pocket::util::ByteSpan(reply.data<std::uint8_t>(), reply.size()));
        REQUIRE(frame.ok());
        auto message = (*frame)->root<pocket::link::ManagerMessage>();
        if (message.isAck() && message.getAck().getRejected().size() == 1) {
          sawRejection = true;
          CHECK(std::string(message.getAck().getRejected()[0].getReason().cStr()) ==
                "relay_hash_mismatch");
          CHECK(message.getAck().getThroughSeq() == 1);
        }
      }
      CHECK(sawRejection);
    }
    CHECK(world.sm().process().running());
    std::string log = world.doubleLog();
    CHECK(log.find("event=link_garbage") != std::string::npos);
    CHECK(log.find("batch_before_hello") != std::string::npos);
    auto& driver = world.startDriver(50);
    REQUIRE(driver.exitCode(testing::kGenerous) == 0);
    CHECK(world.received().accepted.size() == 50);
  }

  TEST_CASE("session queries: answered, refused, and timed out") {
    World world;
    auto run = [&](std::vector<std::string> query) {
      std::vector<std::string> extra = {"--query"};
      extra.insert(extra.end(), query.begin(), query.end());
      auto& driver = world.startDriver(0, extra);
      REQUIRE(driver.exitCode(testing::kGenerous) == 0);
      return driver.outputOfThisRun();
    };
    CHECK(run({"pokt1app", "anvil", "105"}).find("session sid-101") != std::string::npos);
    CHECK(run({"pokt1nobody", "anvil", "105"}).find("error session_not_found") !=
          std::string::npos);
    world.sm().restart(std::vector<std::string>{"--plaintext", "--no-session-answers"});
    CHECK(run({"pokt1app", "anvil", "105"}).find("error session_query_timeout") !=
          std::string::npos);
  }
}
