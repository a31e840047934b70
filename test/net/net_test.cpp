// ZeroMQ link helpers: key files and their permissions, the plain-text guard, framing of garbage,
// and the ZAP allow-list on a real CURVE connection.

#include <chrono>
#include <fstream>

#include <capnp/message.h>
#include <sys/stat.h>

#include <doctest.h>

#include "common/net/curve_keys.h"
#include "common/net/frame.h"
#include "common/net/link_socket.h"
#include "common/net/zap.h"
#include "edge_link.capnp.h"
#include "test/link/test_support.h"
#include "test/support/process.h"

using namespace std::chrono_literals;
namespace net = pocket::net;
using pocket::test::CapturedLog;
using pocket::testing::TempDir;

TEST_SUITE("net") {
  TEST_CASE("a key pair file round-trips and is written owner-only") {
    TempDir dir;
    auto keys = net::generateCurveKeyPair();
    CHECK(net::isValidZ85Key(keys.publicKey));
    CHECK(net::isValidZ85Key(keys.secretKey));
    net::writeCurveKeyPairFile(dir / "edge.key", keys);
    struct stat st {};
    REQUIRE(::stat((dir / "edge.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto loaded = net::loadCurveKeyPairFile(dir / "edge.key");
    CHECK(loaded.publicKey == keys.publicKey);
    CHECK(loaded.secretKey == keys.secretKey);

    net::writeCurvePublicKeyFile(dir / "manager.pub", keys.publicKey);
    CHECK(net::loadCurvePublicKeyFile(dir / "manager.pub") == keys.publicKey);
    auto other = net::generateCurveKeyPair();
    net::writeCurveAllowListFile(dir / "allow", {keys.publicKey, other.publicKey});
    auto allowed = net::loadCurveAllowListFile(dir / "allow");
    REQUIRE(allowed.size() == 2);
    CHECK(allowed[1] == other.publicKey);
  }

  TEST_CASE("key files readable by group or others are refused") {
    TempDir dir;
    net::writeCurveKeyPairFile(dir / "edge.key", net::generateCurveKeyPair());
    ::chmod((dir / "edge.key").c_str(), 0640);
    CHECK_THROWS_WITH_AS(net::loadCurveKeyPairFile(dir / "edge.key"),
                         doctest::Contains("owner-only"), std::runtime_error);
    ::chmod((dir / "edge.key").c_str(), 0604);
    CHECK_THROWS_AS(net::loadCurveKeyPairFile(dir / "edge.key"), std::runtime_error);
    CHECK_THROWS_AS(net::loadCurveKeyPairFile(dir / "missing.key"), std::runtime_error);
  }

  TEST_CASE("malformed key files are refused with the reason") {
    TempDir dir;
    {
      std::ofstream out(dir / "bad.key");
      out << "public-key = tooshort\nsecret-key = alsoshort\n";
    }
    ::chmod((dir / "bad.key").c_str(), 0600);
    CHECK_THROWS_WITH_AS(net::loadCurveKeyPairFile(dir / "bad.key"),
                         doctest::Contains("public-key"), std::runtime_error);
    auto one = net::generateCurveKeyPair();
    auto two = net::generateCurveKeyPair();
    net::writeCurveKeyPairFile(dir / "mixed.key", net::CurveKeyPair{one.publicKey, two.secretKey});
    CHECK_THROWS_WITH_AS(net::loadCurveKeyPairFile(dir / "mixed.key"),
                         doctest::Contains("does not belong to secret-key"), std::runtime_error);
    {
      std::ofstream out(dir / "allow");
      out << "# comment\n\nnot-a-key\n";
    }
    ::chmod((dir / "allow").c_str(), 0600);
    CHECK_THROWS_WITH_AS(net::loadCurveAllowListFile(dir / "allow"), doctest::Contains("entry 1"),
                         std::runtime_error);
    CHECK_FALSE(net::isValidZ85Key("0123456789012345678901234567890123456789~"));
  }

  TEST_CASE("plain text is only allowed on loopback endpoints") {
    CHECK(net::isLoopbackEndpoint("tcp://127.0.0.1:7700"));
    CHECK(net::isLoopbackEndpoint("tcp://127.3.2.1:7700"));
    CHECK(net::isLoopbackEndpoint("tcp://localhost:7700"));
    CHECK(net::isLoopbackEndpoint("tcp://[::1]:7700"));
    CHECK(net::isLoopbackEndpoint("ipc:///tmp/link.sock"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://10.0.0.5:7700"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://127.example.com:7700"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://*:7700"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://127.evil.com:7700"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://127.0.0.1.nip.io:7700"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://127.0.0.256:7700"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://127.0.0.1"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://127.0.0.1:7700x"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://localhost.evil.com:7700"));
    CHECK_FALSE(net::isLoopbackEndpoint("tcp://10.0.0.5;127.0.0.1:7700"));
    CHECK_FALSE(net::isLoopbackEndpoint("pgm://127.0.0.1:7700"));
    CHECK_THROWS_AS(net::requireLoopbackForPlaintext("tcp://0.0.0.0:7700"), std::invalid_argument);
  }

  TEST_CASE("garbage frames are errors, never crashes") {
    std::vector<std::uint8_t> odd(13, 0x41);
    CHECK(net::decodeFrame(odd).error().code == "frame_size");
    CHECK(net::decodeFrame({}).error().code == "frame_size");
    // A segment table that claims more words than the frame has.
    std::vector<std::uint8_t> lying = {0, 0, 0, 0, 0xff, 0xff, 0, 0};
    CHECK(net::decodeFrame(lying).error().code == "frame_malformed");
    // A valid table whose root pointer points far outside: fails on access, under guardDecode.
    std::vector<std::uint8_t> badPointer = {
        0,    0,    0,    0,    1, 0, 0, 0,  // one segment of one word
        0xfc, 0xff, 0xff, 0x7f, 1, 0, 1, 0};
    auto frame = net::decodeFrame(badPointer);
    REQUIRE(frame.ok());
    auto status = net::guardDecode([&]() -> pocket::util::Status {
      auto message = (*frame)->root<pocket::link::EdgeMessage>();
      (void)message.which();
      return pocket::util::Ok{};
    });
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == "frame_malformed");
    // Random bytes of a plausible size, many times.
    std::uint64_t state = 88172645463325252ull;
    for (int round = 0; round < 500; ++round) {
      std::vector<std::uint8_t> junk(8 * (1 + round % 40));
      for (auto& b : junk) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        b = static_cast<std::uint8_t>(state);
      }
      auto decoded = net::decodeFrame(junk);
      if (!decoded.ok()) continue;
      (void)net::guardDecode([&]() -> pocket::util::Status {
        auto message = (*decoded)->root<pocket::link::EdgeMessage>();
        if (message.isMinedRelays()) {
          for (auto relay : message.getMinedRelays().getRelays()) (void)relay.getRelayBytes();
        }
        return pocket::util::Ok{};
      });
    }
  }

  TEST_CASE("a message survives encodeFrame and decodeFrame") {
    capnp::MallocMessageBuilder builder;
    auto hello = builder.initRoot<pocket::link::EdgeMessage>().initHello();
    hello.setEdgeId("edge-7");
    hello.setResumeSeq(99);
    zmq::message_t frame = net::encodeFrame(builder);
    auto decoded =
        net::decodeFrame(pocket::util::ByteSpan(frame.data<std::uint8_t>(), frame.size()));
    REQUIRE(decoded.ok());
    auto read = (*decoded)->root<pocket::link::EdgeMessage>();
    REQUIRE(read.isHello());
    CHECK(read.getHello().getResumeSeq() == 99);
    CHECK(std::string(read.getHello().getEdgeId().cStr()) == "edge-7");
  }

  TEST_CASE("CURVE with a ZAP allow-list: a listed key talks, another is refused") {
    CapturedLog log;
    zmq::context_t context(1);
    auto server = net::generateCurveKeyPair();
    auto listed = net::generateCurveKeyPair();
    auto stranger = net::generateCurveKeyPair();
    net::ZapAuthenticator zap(context, {listed.publicKey}, log.sink());

    zmq::socket_t router(context, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, 0);
    net::configureCurveServer(router, server);
    router.bind("tcp://127.0.0.1:*");
    std::string endpoint = router.get(zmq::sockopt::last_endpoint);

    auto dealerFor = [&](const net::CurveKeyPair& keys) {
      zmq::socket_t dealer(context, zmq::socket_type::dealer);
      dealer.set(zmq::sockopt::linger, 0);
      net::configureCurveClient(dealer, keys, server.publicKey);
      dealer.connect(endpoint);
      return dealer;
    };
    auto receiveWithin = [&](std::chrono::milliseconds timeout, std::vector<zmq::message_t>& out) {
      zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, timeout) <= 0) return false;
      out.clear();
      do {
        zmq::message_t part;
        (void)router.recv(part);
        out.push_back(std::move(part));
      } while (out.back().more());
      return true;
    };

    zmq::socket_t refused = dealerFor(stranger);
    (void)refused.send(zmq::str_buffer("from a stranger"), zmq::send_flags::dontwait);
    zmq::socket_t allowed = dealerFor(listed);
    (void)allowed.send(zmq::str_buffer("from a listed edge"), zmq::send_flags::none);

    std::vector<zmq::message_t> parts;
    REQUIRE(receiveWithin(pocket::testing::kGenerous, parts));
    REQUIRE(parts.size() == 2);
    CHECK(parts[1].to_string() == "from a listed edge");
    CHECK(net::peerUserId(parts[1]) == listed.publicKey);
    CHECK_FALSE(receiveWithin(300ms, parts));
    CHECK(pocket::testing::waitFor([&] { return zap.refused() >= 1; }, "the stranger refused"));
    CHECK(zap.accepted() >= 1);
    CHECK(log.contains("event=link_peer_refused"));
    CHECK_FALSE(log.contains(stranger.publicKey));  // keys are logged by fingerprint only
  }
}
