// The link server against a scripted edge (a DEALER in the test): hello → ack + chainState,
// batches handed to the ingest, session queries, garbage dropped, CURVE allow-list.

#include <chrono>
#include <thread>

#include <doctest.h>

#include "common/net/curve_keys.h"
#include "common/net/frame.h"
#include "common/net/link_socket.h"
#include "session-manager/link_server.h"
#include "test/link/test_support.h"
#include "test/support/process.h"
#include "test/session-manager/sm_test_support.h"

using namespace pocket;
using namespace std::chrono_literals;

namespace {

template <class F>
bool eventually(F predicate) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

struct Recorded {
  std::mutex mutex;
  std::vector<sm::IngestBatch> batches;
  std::vector<sm::SessionQueryRequest> queries;
};

sm::LinkHandlers handlers(Recorded& rec) {
  sm::LinkHandlers h;
  h.highWater = [](const sm::EdgeKey& e) -> std::uint64_t { return e.edgeId == "edge-a" ? 41 : 0; };
  h.head = []() -> std::optional<sm::ChainHead> {
    sm::ChainHead head;
    head.height = 77;
    head.blockHash = util::Bytes(32, 1);
    head.sharedParams = protocol::SharedParams::genesisDefaults();
    return head;
  };
  h.ingest = [&rec](sm::IngestBatch b) {
    std::lock_guard lock(rec.mutex);
    rec.batches.push_back(std::move(b));
  };
  h.sessionQuery = [&rec](sm::SessionQueryRequest q) {
    std::lock_guard lock(rec.mutex);
    rec.queries.push_back(std::move(q));
  };
  return h;
}

struct Edge {
  Edge(zmq::context_t& ctx, const std::string& endpoint) : socket(ctx, zmq::socket_type::dealer) {
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(endpoint);
  }
  void send(capnp::MessageBuilder& b) { socket.send(net::encodeFrame(b), zmq::send_flags::none); }
  void sendRaw(const std::string& bytes) { socket.send(zmq::buffer(bytes), zmq::send_flags::none); }
  void hello(const std::string& id, std::uint64_t resume = 1) {
    capnp::MallocMessageBuilder b;
    auto h = b.initRoot<link::EdgeMessage>().initHello();
    h.setEdgeId(id);
    h.setVersion("test");
    h.setSpoolId(9);
    h.setResumeSeq(resume);
    send(b);
  }
  // The next manager message within a generous deadline, or nullptr.
  std::unique_ptr<net::DecodedFrame> next() {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(30000)) <= 0) return nullptr;
    zmq::message_t m;
    (void)socket.recv(m);
    auto d = net::decodeFrame(util::ByteSpan(m.data<std::uint8_t>(), m.size()));
    return d.ok() ? std::move(*d) : nullptr;
  }
  zmq::socket_t socket;
};

}  // namespace

TEST_SUITE("session-manager link") {
  TEST_CASE("hello is answered with the high-water mark and a chainState") {
    test::CapturedLog log;
    util::MetricsRegistry metrics;
    Recorded rec;
    sm::LinkServerOptions options;
    options.bind = "tcp://127.0.0.1:*";
    options.plaintext = true;
    sm::LinkServer server(options, handlers(rec), log.sink(), metrics);
    server.start();
    zmq::context_t ctx(1);
    Edge edge(ctx, server.endpoint());
    edge.hello("edge-a");
    auto ack = edge.next();
    REQUIRE(ack);
    auto m = ack->root<link::ManagerMessage>();
    REQUIRE(m.which() == link::ManagerMessage::ACK);
    CHECK(m.getAck().getThroughSeq() == 41);
    auto state = edge.next();
    REQUIRE(state);
    REQUIRE(state->root<link::ManagerMessage>().which() == link::ManagerMessage::CHAIN_STATE);
    CHECK(state->root<link::ManagerMessage>().getChainState().getHeight() == 77);
    CHECK(log.contains("event=edge_hello"));

    // A batch goes to the ingest with the edge it came from and the hello's resume floor.
    capnp::MallocMessageBuilder b;
    test::fillBatch(b.initRoot<link::EdgeMessage>().initMinedRelays(), 42,
                    {test::makeRelay(1, test::makeSession(0))});
    edge.send(b);
    REQUIRE(eventually([&] {
      std::lock_guard lock(rec.mutex);
      return rec.batches.size() == 1;
    }));
    CHECK(rec.batches[0].edge.edgeId == "edge-a");
    CHECK(rec.batches[0].edge.spoolId == 9);
    sm::IngestOutcome outcome;
    outcome.peer = rec.batches[0].peer;
    outcome.edge = rec.batches[0].edge;
    outcome.throughSeq = 42;
    outcome.rejected = {{42, "difficulty_not_met"}};
    server.sendAck(outcome);
    auto ack2 = edge.next();
    REQUIRE(ack2);
    auto a2 = ack2->root<link::ManagerMessage>().getAck();
    CHECK(a2.getThroughSeq() == 42);
    REQUIRE(a2.getRejected().size() == 1);
    CHECK(std::string(a2.getRejected()[0].getReason().cStr()) == "difficulty_not_met");
    auto edges = server.edges();
    REQUIRE(edges.size() == 1);
    CHECK(edges[0].connected);
    CHECK(edges[0].lastReceivedSeq == 42);
    CHECK(edges[0].ackedSeq == 42);

    // Session queries reach the handler; answers go back to the asking edge.
    capnp::MallocMessageBuilder q;
    auto query = q.initRoot<link::EdgeMessage>().initSessionQuery();
    query.setApplicationAddress(test::kApp);
    query.setServiceId("svc");
    query.setBlockHeight(15);
    query.setQueryId(5);
    edge.send(q);
    REQUIRE(eventually([&] {
      std::lock_guard lock(rec.mutex);
      return rec.queries.size() == 1;
    }));
    server.sendSessionInfo(rec.queries[0].peer, test::makeSession(0), 5);
    auto info = edge.next();
    REQUIRE(info);
    auto im = info->root<link::ManagerMessage>();
    REQUIRE(im.which() == link::ManagerMessage::SESSION_INFO);
    CHECK(im.getSessionInfo().getQueryId() == 5);
    CHECK(im.getSessionInfo().getComputeUnitsPerRelay() == 7);
    CHECK(im.getSessionInfo().hasBudget());
    CHECK(im.getSessionInfo().getWindowParams().getNumBlocksPerSession() == 10);
    server.sendSessionQueryFailed(rec.queries[0], "no such session");
    auto failed = edge.next();
    REQUIRE(failed);
    CHECK(failed->root<link::ManagerMessage>().which() ==
          link::ManagerMessage::SESSION_QUERY_FAILED);
    server.stop();
  }

  TEST_CASE("garbage is logged, counted and dropped; the server keeps answering") {
    test::CapturedLog log;
    util::MetricsRegistry metrics;
    Recorded rec;
    sm::LinkServerOptions options;
    options.bind = "tcp://127.0.0.1:*";
    options.plaintext = true;
    sm::LinkServer server(options, handlers(rec), log.sink(), metrics);
    server.start();
    zmq::context_t ctx(1);
    Edge edge(ctx, server.endpoint());
    edge.sendRaw("not capnp at all");  // not a whole number of words
    edge.sendRaw(std::string(64, '\xff'));  // a nonsense segment table
    capnp::MallocMessageBuilder b;
    test::fillBatch(b.initRoot<link::EdgeMessage>().initMinedRelays(), 1,
                    {test::makeRelay(1, test::makeSession(0))});
    edge.send(b);  // a batch before any hello
    edge.socket.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
    edge.socket.send(zmq::str_buffer("b"), zmq::send_flags::none);  // two frames
    REQUIRE(eventually([&] { return server.garbageTotal() == 4; }));
    CHECK(log.contains("code=batch_before_hello"));
    CHECK(log.contains("event=link_garbage"));
    {
      std::lock_guard lock(rec.mutex);
      CHECK(rec.batches.empty());
    }
    edge.hello("edge-b");
    auto ack = edge.next();
    REQUIRE(ack);
    CHECK(ack->root<link::ManagerMessage>().which() == link::ManagerMessage::ACK);
    server.stop();
  }

  TEST_CASE("CURVE: an allow-listed edge is answered, another key is refused") {
    pocket::testing::TempDir dir;
    test::CapturedLog log;
    util::MetricsRegistry metrics;
    Recorded rec;
    auto serverKeys = net::generateCurveKeyPair();
    auto listed = net::generateCurveKeyPair();
    auto stranger = net::generateCurveKeyPair();
    net::writeCurveKeyPairFile(dir / "sm.key", serverKeys);
    net::writeCurveAllowListFile(dir / "allow", {listed.publicKey});
    sm::LinkServerOptions options;
    options.bind = "tcp://127.0.0.1:*";
    options.serverKeyFile = dir / "sm.key";
    options.allowListFile = dir / "allow";
    sm::LinkServer server(options, handlers(rec), log.sink(), metrics);
    server.start();
    zmq::context_t ctx(1);

    zmq::socket_t refused(ctx, zmq::socket_type::dealer);
    refused.set(zmq::sockopt::linger, 0);
    net::configureCurveClient(refused, stranger, serverKeys.publicKey);
    refused.connect(server.endpoint());
    REQUIRE(eventually([&] { return metrics.render().find("sm_link_peers_refused_total 0") == std::string::npos; }));
    CHECK(log.contains("link_peer_refused"));

    Edge edge(ctx, server.endpoint());
    edge.socket.close();
    edge.socket = zmq::socket_t(ctx, zmq::socket_type::dealer);
    edge.socket.set(zmq::sockopt::linger, 0);
    net::configureCurveClient(edge.socket, listed, serverKeys.publicKey);
    edge.socket.connect(server.endpoint());
    edge.hello("edge-a");
    auto ack = edge.next();
    REQUIRE(ack);
    CHECK(ack->root<link::ManagerMessage>().getAck().getThroughSeq() == 41);
    auto edges = server.edges();
    REQUIRE(edges.size() == 1);
    CHECK(edges[0].keyFingerprint == net::keyFingerprint(listed.publicKey));
    server.stop();
  }

  TEST_CASE("plain text on a non-loopback address is refused at construction") {
    test::CapturedLog log;
    util::MetricsRegistry metrics;
    Recorded rec;
    sm::LinkServerOptions options;
    options.bind = "tcp://0.0.0.0:*";
    options.plaintext = true;
    CHECK_THROWS_AS(sm::LinkServer(options, handlers(rec), log.sink(), metrics),
                    std::invalid_argument);
  }
}
