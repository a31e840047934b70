// Process-level tests of delivery: the link driver (an edge reduced to spool + link) against the
// session-manager double, with the double killed and restarted, the edge killed with SIGKILL in the
// middle of batches, CURVE with an allow-list, garbage on the link, and session queries.
// Everything listens on 127.0.0.1; every wait is bounded.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <capnp/message.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.hpp>

#include <doctest.h>

#include "common/net/curve_keys.h"
#include "common/net/frame.h"
#include "common/util/hex.h"
#include "edge_link.capnp.h"
#include "test/link/test_support.h"

extern char** environ;

using namespace std::chrono_literals;
using pocket::test::makeRelay;
using pocket::test::TempDir;

namespace {

// A child process with stdout and stderr appended to a file. Killed with SIGKILL if still running
// when destroyed.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& outputPath) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, outputPath.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
  }
  ~Process() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void kill9() {
    ::kill(pid_, SIGKILL);
    (void)wait(10s);
  }
  // The raw wait status once the process ended; nullopt if it is still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!status_) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        status_ = status;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(5ms);
    }
    return status_;
  }
  // Exit code, or -signal when killed, or nullopt when still running after `timeout`.
  std::optional<int> exitCode(std::chrono::milliseconds timeout) {
    auto status = wait(timeout);
    if (!status) return std::nullopt;
    if (WIFEXITED(*status)) return WEXITSTATUS(*status);
    return -WTERMSIG(*status);
  }
  bool running() { return !wait(0ms).has_value(); }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Received {
  std::multiset<std::string> accepted;  // relay hashes of R lines
  std::size_t duplicates = 0;           // H lines
  std::size_t rejected = 0;             // X lines
};

std::set<std::string> expectedHashes(std::uint64_t count) {
  std::set<std::string> out;
  for (std::uint64_t i = 1; i <= count; ++i)
    out.insert(pocket::util::toHex(makeRelay(i).relayHash));
  return out;
}

// A test world: a directory, the double's port, and helpers to run the double and the driver.
class World {
 public:
  World() {
    std::filesystem::create_directories(dir_ / "double");
    std::ofstream(dir_ / "fixture.json") << R"({
      "chain": {"height": 105, "advance": false,
                "sharedParams": {"numBlocksPerSession": 10, "gracePeriodEndOffsetBlocks": 1}},
      "sessions": [{"applicationAddress": "pokt1app", "serviceId": "anvil", "sessionId": "sid-101",
                    "start": 101, "end": 110, "suppliers": ["pokt1supplier"],
                    "ringPubKeys": ["02aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"],
                    "computeUnitsPerRelay": 3}]
    })";
  }
  std::string path(const std::string& name) const { return dir_ / name; }
  std::string endpoint() const { return "tcp://127.0.0.1:" + port_; }

  // Starts the double (on the port of the previous start, if any) and waits until it listens.
  std::unique_ptr<Process> startDouble(std::vector<std::string> extra = {"--plaintext"}) {
    std::filesystem::remove(dir_ / "port");
    std::vector<std::string> argv = {SM_DOUBLE_PATH,
                                     "serve",
                                     "--bind",
                                     "tcp://127.0.0.1:" + (port_.empty() ? "*" : port_),
                                     "--out",
                                     dir_ / "double",
                                     "--port-file",
                                     dir_ / "port",
                                     "--fixture",
                                     dir_ / "fixture.json",
                                     "--chain-interval-ms",
                                     "100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto process = std::make_unique<Process>(argv, dir_ / "double.log");
    for (int i = 0; i < 1000 && !std::filesystem::exists(dir_ / "port"); ++i) {
      REQUIRE(process->running());
      std::this_thread::sleep_for(5ms);
    }
    std::string port = readFile(dir_ / "port");
    REQUIRE(!port.empty());
    port_ = port.substr(0, port.find('\n'));
    return process;
  }

  std::unique_ptr<Process> startDriver(std::uint64_t count, std::vector<std::string> extra = {},
                                       const std::string& spool = "spool") {
    std::vector<std::string> argv = {LINK_DRIVER_PATH,     "--spool",  dir_ / spool,
                                     "--endpoint",         endpoint(), "--count",
                                     std::to_string(count)};
    if (std::find(extra.begin(), extra.end(), "--key") == extra.end())
      argv.push_back("--plaintext");
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(argv, dir_ / "driver.log");
  }

  Received received() const {
    Received out;
    std::istringstream lines(readFile(dir_ / "double/received.log"));
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string kind, edge, spool, seq, hash;
      fields >> kind >> edge >> spool >> seq >> hash;
      if (kind == "R") out.accepted.insert(hash);
      if (kind == "H") ++out.duplicates;
      if (kind == "X") ++out.rejected;
    }
    return out;
  }

  // Every relay 1..count reached the double exactly once, and no relay was spooled twice.
  void checkExactlyOnce(std::uint64_t count) const {
    Received got = received();
    CHECK(got.accepted.size() == count);
    std::set<std::string> unique(got.accepted.begin(), got.accepted.end());
    CHECK(unique.size() == got.accepted.size());
    CHECK(unique == expectedHashes(count));
    CHECK(got.duplicates == 0);
    CHECK(got.rejected == 0);
  }

  std::string doubleLog() const { return readFile(dir_ / "double.log"); }
  std::string driverLog() const { return readFile(dir_ / "driver.log"); }

 private:
  TempDir dir_;
  std::string port_;
};

}  // namespace

TEST_SUITE("link_integration") {
  TEST_CASE("every mined relay reaches the double exactly once and is acked") {
    World world;
    auto sm = world.startDouble();
    auto driver = world.startDriver(3000);
    REQUIRE(driver->exitCode(60s) == 0);
    world.checkExactlyOnce(3000);
    CHECK(world.doubleLog().find("event=edge_hello") != std::string::npos);
  }

  TEST_CASE("a double that dies after a durable write but before its ack loses nothing") {
    World world;
    auto sm = world.startDouble({"--plaintext", "--exit-after-durable-batches", "3"});
    auto driver = world.startDriver(1500, {"--append-interval-us", "100"});
    REQUIRE(sm->exitCode(30s) == 3);
    sm = world.startDouble();
    REQUIRE(driver->exitCode(60s) == 0);
    // The batch that was durable but unacked came again and was recognised by its seq.
    world.checkExactlyOnce(1500);
  }

  TEST_CASE("link down, then up: the double is killed and restarted mid-stream") {
    World world;
    auto sm = world.startDouble();
    auto driver = world.startDriver(6000, {"--append-interval-us", "150"});
    std::this_thread::sleep_for(300ms);
    sm->kill9();
    std::this_thread::sleep_for(600ms);
    CHECK(driver->running());
    sm = world.startDouble();
    std::this_thread::sleep_for(300ms);
    sm->kill9();
    sm = world.startDouble();
    REQUIRE(driver->exitCode(90s) == 0);
    world.checkExactlyOnce(6000);
    CHECK(world.driverLog().find("event=link_disconnected") != std::string::npos);
  }

  TEST_CASE("kill -9 of the edge in the middle of batches, then restarts: exactly once") {
    World world;
    auto sm = world.startDouble();
    // Each round resumes the spool where the last one was killed; the count leaves every round
    // relays to append even when the sleeps of the rounds run short.
    const std::uint64_t count = 20000;
    int killedWhileRunning = 0;
    for (int round = 0; round < 5; ++round) {
      auto driver = world.startDriver(count, {"--append-interval-us", "100"});
      std::this_thread::sleep_for(std::chrono::milliseconds(150 + 90 * round));
      if (driver->running()) ++killedWhileRunning;
      driver->kill9();
    }
    CHECK(killedWhileRunning == 5);
    auto last = world.startDriver(count);
    REQUIRE(last->exitCode(90s) == 0);
    world.checkExactlyOnce(count);
  }

  TEST_CASE("CURVE with an allow-list: a listed edge delivers, another key is refused") {
    World world;
    auto server = pocket::net::generateCurveKeyPair();
    auto listed = pocket::net::generateCurveKeyPair();
    auto stranger = pocket::net::generateCurveKeyPair();
    pocket::net::writeCurveKeyPairFile(world.path("server.key"), server);
    pocket::net::writeCurvePublicKeyFile(world.path("server.pub"), server.publicKey);
    pocket::net::writeCurveKeyPairFile(world.path("listed.key"), listed);
    pocket::net::writeCurveKeyPairFile(world.path("stranger.key"), stranger);
    pocket::net::writeCurveAllowListFile(world.path("allow"), {listed.publicKey});
    auto sm = world.startDouble(
        {"--server-key", world.path("server.key"), "--allow-list", world.path("allow")});

    auto refused = world.startDriver(5,
                                     {"--key", world.path("stranger.key"), "--server-key",
                                      world.path("server.pub"), "--wait-ms", "1500"},
                                     "spool-stranger");
    CHECK(refused->exitCode(30s) == 1);
    CHECK(world.doubleLog().find("event=link_peer_refused") != std::string::npos);
    CHECK(world.driverLog().find("event=link_auth_refused") != std::string::npos);
    CHECK(world.received().accepted.empty());

    auto allowed = world.startDriver(
        5, {"--key", world.path("listed.key"), "--server-key", world.path("server.pub")},
        "spool-listed");
    REQUIRE(allowed->exitCode(30s) == 0);
    world.checkExactlyOnce(5);
    CHECK(world.doubleLog().find(stranger.publicKey) == std::string::npos);
  }

  TEST_CASE("garbage on the link is logged by the double and does not stop it") {
    World world;
    auto sm = world.startDouble();
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
        if (zmq::poll(&item, 1, 2000ms) <= 0) break;
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
    CHECK(sm->running());
    std::string log = world.doubleLog();
    CHECK(log.find("event=link_garbage") != std::string::npos);
    CHECK(log.find("batch_before_hello") != std::string::npos);
    auto driver = world.startDriver(50);
    REQUIRE(driver->exitCode(30s) == 0);
    CHECK(world.received().accepted.size() == 50);
  }

  TEST_CASE("session queries: answered, refused, and timed out") {
    World world;
    auto sm = world.startDouble();
    auto run = [&](std::vector<std::string> query) {
      std::vector<std::string> extra = {"--query"};
      extra.insert(extra.end(), query.begin(), query.end());
      std::filesystem::remove(world.path("driver.log"));
      auto driver = world.startDriver(0, extra);
      REQUIRE(driver->exitCode(30s) == 0);
      return world.driverLog();
    };
    CHECK(run({"pokt1app", "anvil", "105"}).find("session sid-101") != std::string::npos);
    CHECK(run({"pokt1nobody", "anvil", "105"}).find("error session_not_found") !=
          std::string::npos);
    sm->kill9();
    sm = world.startDouble({"--plaintext", "--no-session-answers"});
    CHECK(run({"pokt1app", "anvil", "105"}).find("error session_query_timeout") !=
          std::string::npos);
  }
}
