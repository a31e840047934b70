// Process-level tests of delivery: the link driver (an edge reduced to spool + link) against
// both session managers, the double (test/sm-double) and the real session-manager on a static
// chain of the same fixture: exactly-once delivery, the manager dying between its durable write
// and its ack, the manager killed and restarted mid-stream, the edge killed with SIGKILL in the
// middle of batches, CURVE with an allow-list, garbage on the link, and session queries.
// The driver mines real relays of the fixture's session for the fixture's supplier, so the real
// manager's ingest checks (decoding, session, supplier, difficulty, compute units) accept them.
// Everything listens on 127.0.0.1; every wait is bounded.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include <capnp/message.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <doctest.h>

#include "common/crypto/keys.h"
#include "common/net/curve_keys.h"
#include "common/net/frame.h"
#include "common/smst/store.h"
#include "common/smst/trie.h"
#include "common/util/hex.h"
#include "edge_link.capnp.h"
#include "test/link/test_support.h"
#include "test/support/stack.h"

using namespace std::chrono_literals;
using pocket::test::makeSessionRelay;
namespace testing = pocket::testing;

namespace {

// The fixture's one session, and the supplier whose relays the driver mines.
const std::string kSessionId = "sid-101";
constexpr std::uint64_t kComputeUnits = 3;

const pocket::crypto::PrivateKey& supplierKey() {
  static const auto key =
      pocket::crypto::PrivateKey::fromSecret(pocket::util::asBytes("link-integration-supplier"));
  return key;
}

std::string supplierAddress() {
  return supplierKey().publicKey().address();
}

pocket::protocol::SessionHeader sessionHeader() {
  return {"pokt1app", "anvil", kSessionId, 101, 110};
}

pocket::edge::MinedRelay minedRelay(std::uint64_t i) {
  return makeSessionRelay(i, sessionHeader(), supplierAddress(), kComputeUnits);
}

std::set<std::string> expectedHashes(std::uint64_t count) {
  std::set<std::string> out;
  for (std::uint64_t i = 1; i <= count; ++i) {
    out.insert(pocket::util::toHex(minedRelay(i).relayHash));
  }
  return out;
}

// The root of a tree holding relays 1..count once each, built in this process.
std::string expectedRoot(std::uint64_t count) {
  pocket::smst::MemoryStore memory;
  pocket::smst::SparseMerkleSumTrie trie(memory);
  for (std::uint64_t i = 1; i <= count; ++i) {
    auto r = minedRelay(i);
    trie.update(pocket::util::ByteSpan(r.relayHash.data(), r.relayHash.size()), r.relayBytes,
                r.computeUnits);
  }
  return pocket::util::toHex(trie.root());
}

// The fixture both managers serve: the session at height 105, well before its claim window.
testing::SessionFixture fixture() {
  testing::FixtureSession session;
  session.applicationAddress = "pokt1app";
  session.serviceId = "anvil";
  session.sessionId = kSessionId;
  session.start = 101;
  session.end = 110;
  session.suppliers = {supplierAddress()};
  session.ringPubKeys = {"02aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"};
  session.computeUnitsPerRelay = kComputeUnits;
  testing::SessionFixture out;
  out.height = 105;
  out.sharedParams =
      testing::ChainParams{.numBlocksPerSession = 10, .gracePeriodEndOffsetBlocks = 1};
  out.sessions = {session};
  return out;
}

// A test world: one session manager of `kind` (on the harness's stack) and link-driver runs
// against it. `configure` adds stack options (CURVE, a fault) for either kind.
class World {
 public:
  explicit World(testing::ManagerKind kind,
                 const std::function<void(testing::StackBuilder&)>& configure = {})
      : kind_(kind) {
    testing::StackBuilder builder("link-integration");
    builder.fixture(fixture())
        .manager(kind)
        .key("supplier", supplierKey())
        .managerSupplierKey("supplier")
        .chainIntervalMs(100);
    if (configure) configure(builder);
    stack_ = builder.start();
  }

  bool real() const { return kind_ == testing::ManagerKind::real; }
  std::string path(const std::string& name) const { return stack_->path(name); }
  std::string endpoint() const { return stack_->managerEndpoint(); }
  testing::Stack& stack() { return *stack_; }
  testing::ChildProcess& manager() { return stack_->managerProcess(); }

  // Starts link-driver appending `count` relays of the session to `spool` (plain text unless
  // `extra` has --key).
  testing::ChildProcess& startDriver(std::uint64_t count, std::vector<std::string> extra = {},
                                     const std::string& spool = "spool") {
    auto header = sessionHeader();
    std::vector<std::string> argv = {testing::binaryPath(testing::kLinkDriverVar),
                                     "--spool",
                                     path(spool),
                                     "--endpoint",
                                     endpoint(),
                                     "--count",
                                     std::to_string(count),
                                     "--session",
                                     header.applicationAddress,
                                     header.serviceId,
                                     header.sessionId,
                                     std::to_string(header.sessionStartBlockHeight),
                                     std::to_string(header.sessionEndBlockHeight),
                                     "--supplier",
                                     supplierAddress(),
                                     "--compute-units",
                                     std::to_string(kComputeUnits)};
    if (std::find(extra.begin(), extra.end(), "--key") == extra.end())
      argv.push_back("--plaintext");
    argv.insert(argv.end(), extra.begin(), extra.end());
    return stack_->spawn("driver", argv);
  }

  // Relays of the session the manager holds (distinct relay hashes); 0 while it is down.
  std::uint64_t delivered() const {
    auto sessions = stack_->managerSessions();
    auto it = sessions.find(kSessionId);
    return it == sessions.end() ? 0 : it->second.relays;
  }

  // Every relay 1..count reached the manager exactly once, and no relay was spooled twice.
  // `otherRejections`: relays of other senders the test made the manager reject.
  void checkExactlyOnce(std::uint64_t count, std::size_t otherRejections = 0) const {
    CHECK(testing::waitFor([&] { return delivered() >= count; }, "every relay at the manager"));
    auto tally = stack_->managerSessions()[kSessionId];
    CHECK(tally.relays == count);
    CHECK(tally.computeUnits == kComputeUnits * count);
    if (!real()) {
      // The double logs every relay it accepted (R), every duplicate by hash (H) and rejection.
      testing::ReceivedLog got = stack_->sm->received();
      CHECK(got.accepted.size() == count);
      std::set<std::string> unique(got.accepted.begin(), got.accepted.end());
      CHECK(unique.size() == got.accepted.size());
      CHECK(unique == expectedHashes(count));
      CHECK(got.duplicates == 0);
      CHECK(got.rejected == otherRejections);
      return;
    }
    // The real manager's tree: exactly relays 1..count, each once (its committed root equals a
    // tree built here from them), and none arrived twice under another sequence number.
    std::string expected = expectedRoot(count);
    std::string root;
    INFO("manager root " << root << ", expected " << expected);
    CHECK(testing::waitFor(
        [&] {
          auto status = stack_->manager->admin("/status");
          auto doc = nlohmann::json::parse(status.body, nullptr, false);
          if (doc.is_discarded() || !doc.contains("sessions") || doc["sessions"].size() != 1) {
            return false;
          }
          root = doc["sessions"][0].value("committedRoot", std::string());
          return root == expected;
        },
        "the manager's committed root to equal the root of relays 1..count"));
    CHECK(stack_->manager->metric("sm_relays_duplicate_total{kind=\"relay_hash\"}") <= 0);
  }

  std::string managerLog() { return manager().output(); }
  std::string driverLog() const { return testing::readFile(path("driver.log")); }

 private:
  testing::ManagerKind kind_;
  std::unique_ptr<testing::Stack> stack_;
};

}  // namespace

// Each case runs against both managers, one after the other (kBothManagers). Differences are
// only in what each can be asked to do (how it is made to die mid-write) and where it keeps what
// it received (the double's received.log, the real manager's trees): the stack hides both.
TEST_SUITE("link_integration") {
  TEST_CASE("every mined relay reaches the manager exactly once and is acked") {
    for (auto kind : testing::kBothManagers) {
      INFO("session manager: ", std::string(testing::managerName(kind)));
      World world(kind);
      auto& driver = world.startDriver(3000);
      REQUIRE(driver.exitCode(testing::kGenerous) == 0);
      world.checkExactlyOnce(3000);
      CHECK(world.managerLog().find("event=edge_hello") != std::string::npos);
    }
  }

  TEST_CASE("a manager that dies after a durable write but before its ack loses nothing") {
    for (auto kind : testing::kBothManagers) {
      INFO("session manager: ", std::string(testing::managerName(kind)));
      World world(kind, [](testing::StackBuilder& b) { b.managerDiesAfterDurableWrite(3); });
      auto& driver = world.startDriver(1500, {"--append-interval-us", "100"});
      auto died = world.manager().exitCode(testing::kGenerous);
      REQUIRE(died.has_value());
      if (world.real()) {
        CHECK(*died == -9);  // SIGKILL, by --crash-at after_write:3
        CHECK(world.managerLog().find("event=crash_injected") != std::string::npos);
      } else {
        CHECK(*died == 3);  // --exit-after-durable-batches
      }
      world.stack().restartManager();
      REQUIRE(driver.exitCode(testing::kGenerous) == 0);
      // The batches that were durable but unacked came again and were recognised by their seq.
      world.checkExactlyOnce(1500);
    }
  }

  TEST_CASE("link down, then up: the manager is killed and restarted mid-stream") {
    for (auto kind : testing::kBothManagers) {
      INFO("session manager: ", std::string(testing::managerName(kind)));
      World world(kind);
      auto& driver = world.startDriver(6000, {"--append-interval-us", "150"});
      // Each kill comes once relays are flowing (the manager holds more than before).
      auto progress = [&](const char* what) {
        std::uint64_t before = world.delivered();
        return testing::waitFor([&] { return world.delivered() > before; }, what);
      };
      CHECK(progress("relays delivered before the first kill"));
      world.manager().kill9();
      // The driver keeps running while the link is down: nothing can be acked.
      std::this_thread::sleep_for(600ms);
      CHECK(driver.running());
      world.stack().restartManager();
      CHECK(progress("relays delivered after the restart"));
      world.manager().kill9();
      world.stack().restartManager();
      REQUIRE(driver.exitCode(testing::kGenerous * 2) == 0);
      world.checkExactlyOnce(6000);
      CHECK(world.driverLog().find("event=link_disconnected") != std::string::npos);
    }
  }

  TEST_CASE("kill -9 of the edge in the middle of batches, then restarts: exactly once") {
    for (auto kind : testing::kBothManagers) {
      INFO("session manager: ", std::string(testing::managerName(kind)));
      World world(kind);
      // Each round resumes the spool where the last one was killed, once it has delivered
      // something (whatever the machine's speed), a little later each round; the count leaves
      // every round relays to append.
      const std::uint64_t count = 20000;
      int killedWhileRunning = 0;
      for (int round = 0; round < 5; ++round) {
        std::uint64_t before = world.delivered();
        auto& driver = world.startDriver(count, {"--append-interval-us", "100"});
        CHECK(testing::waitFor([&] { return world.delivered() > before || !driver.running(); },
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
  }

  TEST_CASE("CURVE with an allow-list: a listed edge delivers, another key is refused") {
    for (auto kind : testing::kBothManagers) {
      INFO("session manager: ", std::string(testing::managerName(kind)));
      testing::TempDir keys("link-curve-keys");
      auto server = pocket::net::generateCurveKeyPair();
      auto listed = pocket::net::generateCurveKeyPair();
      auto stranger = pocket::net::generateCurveKeyPair();
      pocket::net::writeCurveKeyPairFile(keys / "server.key", server);
      pocket::net::writeCurvePublicKeyFile(keys / "server.pub", server.publicKey);
      pocket::net::writeCurveKeyPairFile(keys / "listed.key", listed);
      pocket::net::writeCurveKeyPairFile(keys / "stranger.key", stranger);
      pocket::net::writeCurveAllowListFile(keys / "allow", {listed.publicKey});
      World world(kind, [&](testing::StackBuilder& b) {
        b.linkCurve(keys / "server.key", keys / "allow");
      });

      // The refusal is what the driver waits for; --wait-ms only ends its wait for acks that
      // never come.
      auto& refused = world.startDriver(5,
                                        {"--key", keys / "stranger.key", "--server-key",
                                         keys / "server.pub", "--wait-ms", "1500"},
                                        "spool-stranger");
      CHECK(refused.exitCode(testing::kGenerous) == 1);
      CHECK(world.managerLog().find("event=link_peer_refused") != std::string::npos);
      CHECK(world.driverLog().find("event=link_auth_refused") != std::string::npos);
      CHECK(world.delivered() == 0);

      auto& allowed = world.startDriver(
          5, {"--key", keys / "listed.key", "--server-key", keys / "server.pub"}, "spool-listed");
      REQUIRE(allowed.exitCode(testing::kGenerous) == 0);
      world.checkExactlyOnce(5);
      CHECK(world.managerLog().find(stranger.publicKey) == std::string::npos);
    }
  }

  TEST_CASE("garbage on the link is logged by the manager and does not stop it") {
    for (auto kind : testing::kBothManagers) {
      INFO("session manager: ", std::string(testing::managerName(kind)));
      World world(kind);
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
        // The manager answers the hello with an ack, then acks the bad batch with a rejection.
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
      CHECK(world.manager().running());
      // Both managers log each dropped message as link_garbage with its reason.
      std::string log = world.managerLog();
      CHECK(log.find("event=link_garbage") != std::string::npos);
      CHECK(log.find("batch_before_hello") != std::string::npos);
      auto& driver = world.startDriver(50);
      REQUIRE(driver.exitCode(testing::kGenerous) == 0);
      world.checkExactlyOnce(50, 1);  // and the bad relay above stays rejected
    }
  }

  TEST_CASE("session queries: answered and refused by either manager") {
    for (auto kind : testing::kBothManagers) {
      INFO("session manager: ", std::string(testing::managerName(kind)));
      World world(kind);
      auto run = [&](std::vector<std::string> query) {
        std::vector<std::string> extra = {"--query"};
        extra.insert(extra.end(), query.begin(), query.end());
        auto& driver = world.startDriver(0, extra);
        REQUIRE(driver.exitCode(testing::kGenerous) == 0);
        return driver.outputOfThisRun();
      };
      std::string answer = run({"pokt1app", "anvil", "105"});
      CHECK(answer.find("session sid-101 start=101 end=110") != std::string::npos);
      CHECK(answer.find("compute_units_per_relay=3") != std::string::npos);
      CHECK(run({"pokt1nobody", "anvil", "105"}).find("error session_not_found") !=
            std::string::npos);
    }
  }

  // Double only: the real manager always answers a query, or refuses it once its chain call's
  // deadline passes (test/session-manager/sm_node_hang_test.cpp); a manager that stays silent,
  // which the edge must time out on its own, is something only the double can be told to be.
  TEST_CASE("session queries: a manager that never answers is timed out by the edge") {
    World world(testing::ManagerKind::smDouble,
                [](testing::StackBuilder& b) { b.sessionManagerArgs({"--no-session-answers"}); });
    auto& driver = world.startDriver(0, {"--query", "pokt1app", "anvil", "105"});
    REQUIRE(driver.exitCode(testing::kGenerous) == 0);
    CHECK(driver.outputOfThisRun().find("error session_query_timeout") != std::string::npos);
  }
}
