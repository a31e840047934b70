// relay-edge end to end: the real binary against relay-test-backend and sm-double (the session
// manager's test double, speaking the real link schema over ZeroMQ), driven by signed relays built
// here with the protocol and crypto layers. The tests whose outcome depends on what the session
// manager sends (session facts, budgets) or holds (mined relays) run against both sm-double and the
// real session-manager on a static chain of the same fixture (testing::kBothManagers). The processes run on the test harness
// (test/support/), which finds the binaries through environment variables set by meson.

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest.h>
#include <nlohmann/json.hpp>

#include "common/crypto/ecdsa.h"
#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/crypto/ring.h"
#include "common/protocol/http_payload.h"
#include "common/protocol/relay.h"
#include "common/util/hex.h"
#include "edge/backend_client.h"
#include "test/edge/blocking_client.h"
#include "test/support/promtool.h"
#include "test/support/stack.h"

using namespace std::chrono_literals;
namespace crypto = pocket::crypto;
namespace protocol = pocket::protocol;
namespace util = pocket::util;
namespace testing = pocket::testing;
using pocket::edge::BackendFailure;
using pocket::edge::BackendRequest;
using pocket::edge::BackendResult;
using testing::waitFor;

namespace {

std::string hex(util::ByteSpan b) {
  return util::toHex(b);
}

struct Keys {
  crypto::PrivateKey supplier = crypto::PrivateKey::fromSecret(util::asBytes("e2e-supplier"));
  crypto::PrivateKey foreignSupplier = crypto::PrivateKey::fromSecret(util::asBytes("e2e-supplier-2"));
  crypto::PrivateKey app = crypto::PrivateKey::fromSecret(util::asBytes("e2e-app"));
  crypto::PrivateKey gateway = crypto::PrivateKey::fromSecret(util::asBytes("e2e-gateway"));
  crypto::PrivateKey stranger = crypto::PrivateKey::fromSecret(util::asBytes("e2e-stranger"));
};

const std::string kSessionId = std::string(64, 'a');
const std::string kOldSessionId = std::string(64, 'b');
const std::string kMeteredSessionId = std::string(64, 'c');

// Everything one test needs: a session manager (sm-double or the real one), backend and edge (the
// harness's stack), and signed relays.
struct Stack {
  explicit Stack(bool withSessionManager = true,
                 testing::ManagerKind manager = testing::ManagerKind::smDouble) {
    std::vector<crypto::PublicKey> gateways = {keys.gateway.publicKey()};
    ring = crypto::expectedRingKeys(keys.app.publicKey(), gateways);
    auto session = [&](const std::string& service, const std::string& sessionId, std::int64_t start,
                       std::int64_t end) {
      auto s = testing::ringSession(keys.app.publicKey(), gateways, service, sessionId, start, end,
                                    {keys.supplier.publicKey().address()});
      s.computeUnitsPerRelay = 7;
      return s;
    };
    testing::SessionFixture fixture;
    fixture.height = 15;
    // The current session [11, 20] of each service, and an old one [1, 10] of "svc".
    for (const std::string service : {"svc", "opt", "down", "large"}) {
      fixture.sessions.push_back(session(service, kSessionId, 11, 20));
    }
    fixture.sessions.push_back(session("svc", kOldSessionId, 1, 10));
    // Sessions timed by window params that differ from the head's (10 blocks per session, grace 1,
    // claim open offset 1): "win" [1, 10] has a grace period of 5 and a claim window opening at
    // 21; "win2" and "win3" [8, 14] are on a 7-block grid, "win2" without grace period, "win3"
    // with a grace period of 2 and a claim window opening at 15.
    auto windowSession = [&](const std::string& service, std::int64_t start, std::int64_t end,
                             testing::ChainParams windowParams) {
      fixture.sessions.push_back(session(service, kOldSessionId, start, end));
      fixture.sessions.back().windowParams = windowParams;
    };
    windowSession("win", 1, 10,
                  {.gracePeriodEndOffsetBlocks = 5, .claimWindowOpenOffsetBlocks = 10});
    windowSession("win2", 8, 14, {.numBlocksPerSession = 7, .gracePeriodEndOffsetBlocks = 0});
    windowSession("win3", 8, 14,
                  {.numBlocksPerSession = 7,
                   .gracePeriodEndOffsetBlocks = 2,
                   .claimWindowOpenOffsetBlocks = 0});
    // "meter" [11, 20] with a budget for exactly 3 relays: genesis params (1 pending session), one
    // supplier, 7 compute units × 42 uPOKT = 294 uPOKT per relay, 1 000 uPOKT of stake; the same
    // for "meteropt".
    for (const std::string service : {"meter", "meteropt"}) {
      fixture.sessions.push_back(session(service, kMeteredSessionId, 11, 20));
      fixture.sessions.back().applicationStakeUpokt = 1000;
    }

    testing::EdgeConfigFile edge;
    edge.logLevel = "debug";
    edge.supplierKeyFiles = {"supplier", "supplier2"};  // only the first is in the sessions
    edge.edgeId = "e2e";
    edge.lookupTimeoutMs = 800;
    edge.services = {
        {.id = "svc", .maxRequestBytes = "16KiB", .backendPath = "/base", .timeoutMs = 700,
         .firstByteTimeoutMs = 500},
        {.id = "large", .timeoutMs = 120000, .firstByteTimeoutMs = 60000},
        {.id = "opt", .validation = "optimistic"},
        {.id = "down", .backendUrl = "http://127.0.0.1:1"},
        {.id = "win"},
        {.id = "win2"},
        {.id = "win3"},
        {.id = "meter"},
        {.id = "meteropt", .validation = "optimistic"},
    };
    testing::StackBuilder builder("edge-e2e");
    builder.key("supplier", keys.supplier).key("supplier2", keys.foreignSupplier);
    builder.fixture(fixture).edge(edge);
    if (!withSessionManager) builder.withoutSessionManager();
    builder.manager(manager);
    running = builder.start();
    edgePort = running->edge().relayPort();
    adminPort = running->edge().adminPort();
  }

  protocol::SessionHeader header(const std::string& service = "svc") const {
    return protocol::SessionHeader{keys.app.publicKey().address(), service, kSessionId, 11, 20};
  }

  // A relay as PATH builds it, ring-signed by the application's gateway.
  protocol::RelayRequest relay(const std::string& service = "svc",
                               std::vector<std::pair<std::string, std::string>> headers = {},
                               const crypto::PrivateKey* signer = nullptr) const {
    protocol::PoktHttpRequest http;
    http.method = "POST";
    http.url = "https://gateway.example/v1?tag=x";
    http.header["Content-Type"] = {"application/json"};
    for (auto& [k, v] : headers) http.header[k].push_back(v);
    http.body = util::toBytes(R"({"jsonrpc":"2.0","id":42,"method":"eth_blockNumber"})");
    protocol::RelayRequest request;
    request.meta.sessionHeader = header(service);
    request.meta.supplierOperatorAddress = keys.supplier.publicKey().address();
    request.payload = protocol::marshal(http);
    sign(request, signer);
    return request;
  }

  void sign(protocol::RelayRequest& request, const crypto::PrivateKey* signer = nullptr) const {
    const crypto::PrivateKey& key = signer ? *signer : keys.gateway;
    std::vector<crypto::PublicKey> signingRing = ring;
    if (signer == &keys.stranger) {
      signingRing = crypto::expectedRingKeys(keys.app.publicKey(), std::vector<crypto::PublicKey>{
                                                                       keys.stranger.publicKey()});
    }
    request.meta.signature.clear();
    auto signature = crypto::signRing(key, signingRing, protocol::requestSignableHash(request));
    REQUIRE(signature.ok());
    request.meta.signature = crypto::encodeRingSignature(*signature);
  }

  // The same relay with its embedded body changed after signing.
  static protocol::RelayRequest tampered(protocol::RelayRequest request) {
    auto http = protocol::parsePoktHttpRequest(request.payload);
    REQUIRE(http.ok());
    http->body = util::toBytes(R"({"jsonrpc":"2.0","id":43,"method":"eth_chainId"})");
    request.payload = protocol::marshal(*http);
    return request;
  }

  BackendResult post(const util::Bytes& body, std::vector<std::pair<std::string, std::string>> headers = {},
                     const std::string& path = "/") {
    BackendRequest request;
    request.method = "POST";
    request.url = "http://127.0.0.1:" + std::to_string(edgePort) + path;
    request.body = std::string(body.begin(), body.end());
    request.headers = std::move(headers);
    request.timeouts.total = testing::kGenerous;
    request.timeouts.firstByte = testing::kGenerous;
    return call(std::move(request));
  }

  BackendResult admin(const std::string& path) {
    BackendRequest request;
    request.url = "http://127.0.0.1:" + std::to_string(adminPort) + path;
    return call(std::move(request));
  }

  BackendResult call(BackendRequest request) { return client.call(std::move(request)); }

  std::string outcome(const BackendResult& r) const {
    for (const auto& [n, v] : r.headers) {
      if (n == "X-Relay-Outcome") return v;
    }
    return "";
  }

  // The metric line's value, or -1.
  double metric(const std::string& series) { return running->edge().metric(series); }

  std::string received() const { return running->sm->receivedText(); }

  Keys keys;
  std::vector<crypto::PublicKey> ring;
  std::unique_ptr<testing::Stack> running;
  int edgePort = 0;
  int adminPort = 0;
  pocket::test::BlockingClient client;
};

testing::Waited ready(Stack& stack) {
  return stack.running->edge().waitReady();
}

}  // namespace

TEST_CASE("a relay is served, signed by the supplier and mined exactly as the protocol computes it") {
  for (auto manager : testing::kBothManagers) {
  INFO("session manager: ", testing::managerName(manager));
  Stack stack(true, manager);
  REQUIRE(ready(stack));
  CHECK(stack.admin("/healthz").status == 200);
  auto request = stack.relay();
  auto r = stack.post(protocol::marshal(request), {{"Rpc-Type", "3"}}, "/any/path");
  REQUIRE(r.failure == BackendFailure::none);
  REQUIRE(r.status == 200);
  auto response = protocol::parseRelayResponse(util::asBytes(r.body));
  REQUIRE(response.ok());
  CHECK(response->meta.sessionHeader == request.meta.sessionHeader);
  CHECK(!response->relayMinerError);
  // payload_hash = sha256(payload); the signature verifies with the supplier's public key.
  auto payloadHash = crypto::sha256(response->payload);
  CHECK(response->payloadHash == util::Bytes(payloadHash.begin(), payloadHash.end()));
  auto signable = protocol::responseSignableHash(*response);
  CHECK(crypto::verifyCosmos(stack.keys.supplier.publicKey(), signable,
                             response->meta.supplierOperatorSignature));
  CHECK_FALSE(crypto::verifyCosmos(stack.keys.foreignSupplier.publicKey(), signable,
                                   response->meta.supplierOperatorSignature));
  // The payload is the backend's answer, status and body.
  auto http = protocol::parsePoktHttpResponse(response->payload);
  REQUIRE(http.ok());
  CHECK(http->statusCode == 200);
  CHECK(util::asChars(http->body) == R"({"jsonrpc":"2.0","id":42,"result":"0x1"})");
  // Mined (the target is the easiest): the session manager holds one relay of 7 compute units
  // in the session (the real one checked the relay bytes against the session's facts first).
  REQUIRE(waitFor([&] { return stack.running->managerSessions()[kSessionId].relays == 1; },
                  "the relay at the session manager"));
  CHECK(stack.running->managerSessions()[kSessionId].computeUnits == 7);
  if (manager == testing::ManagerKind::smDouble) {
    // The double reports the hash: exactly these relay bytes.
    auto relayHash = protocol::relayHash(protocol::relayBytes(request, *response));
    CHECK(stack.received().find(hex(relayHash) + " 7 " + kSessionId) != std::string::npos);
  } else {
    CHECK(stack.running->manager->metric("sm_relays_accepted_total") == 1);
  }
  CHECK(stack.metric("edge_relays_total{service=\"svc\",outcome=\"served\"}") == 1);
  CHECK(stack.metric("edge_relays_mined_total{service=\"svc\"}") == 1);
  }
}

TEST_CASE("the backend sees the relayed method, path, query and headers") {
  Stack stack;
  REQUIRE(ready(stack));
  auto request = stack.relay("svc", {{"X-Custom", "1"}});
  protocol::PoktHttpRequest http;
  http.method = "PUT";
  http.url = "https://gateway.example/echo/x/../y?b=2&a=1";
  http.header["X-Custom"] = {"v1", "v2"};
  http.body = util::toBytes("hello");
  request.payload = protocol::marshal(http);
  stack.sign(request);
  auto r = stack.post(protocol::marshal(request));
  REQUIRE(r.status == 200);
  auto response = protocol::parseRelayResponse(util::asBytes(r.body));
  REQUIRE(response.ok());
  auto payload = protocol::parsePoktHttpResponse(response->payload);
  REQUIRE(payload.ok());
  auto echo = nlohmann::json::parse(util::asChars(payload->body));
  CHECK(echo["method"] == "PUT");
  CHECK(echo["target"] == "/base/echo/y?a=1&b=2");
  CHECK(echo["headers"]["X-Custom"] == "v1,v2");
  CHECK(echo["body"] == "hello");
}

TEST_CASE("every rejection reason gets its status, its reason and a counter") {
  for (auto manager : testing::kBothManagers) {
  INFO("session manager: ", testing::managerName(manager));
  Stack stack(true, manager);
  REQUIRE(ready(stack));
  auto expect = [&](const BackendResult& r, int status, const std::string& outcome) {
    CHECK(r.failure == BackendFailure::none);
    CHECK(r.status == status);
    CHECK(stack.outcome(r) == outcome);
    CHECK(r.body.rfind(outcome + ": ", 0) == 0);
  };
  expect(stack.post(util::toBytes("\xff\xff garbage")), 400, "malformed_request");

  auto unsigned_ = stack.relay();
  unsigned_.meta.signature.clear();
  expect(stack.post(protocol::marshal(unsigned_)), 400, "invalid_request");

  expect(stack.post(protocol::marshal(stack.relay("nosuchservice"))), 404, "unknown_service");
  expect(stack.post(protocol::marshal(stack.relay()), {{"Rpc-Type", "rest!"}}), 400, "bad_rpc_type");

  auto foreign = stack.relay();
  foreign.meta.supplierOperatorAddress =
      crypto::PrivateKey::fromSecret(util::asBytes("nobody")).publicKey().address();
  stack.sign(foreign);
  expect(stack.post(protocol::marshal(foreign)), 403, "unknown_supplier");

  auto notInSession = stack.relay();
  notInSession.meta.supplierOperatorAddress = stack.keys.foreignSupplier.publicKey().address();
  stack.sign(notInSession);
  expect(stack.post(protocol::marshal(notInSession)), 403, "supplier_not_in_session");

  auto tampered = stack.tampered(stack.relay());
  auto tamperedResult = stack.post(protocol::marshal(tampered));
  CHECK(tamperedResult.status == 403);
  CHECK(stack.outcome(tamperedResult) == "bad_ring_signature");

  expect(stack.post(protocol::marshal(stack.relay("svc", {}, &stack.keys.stranger))), 403,
         "bad_ring_signature");

  auto wrongId = stack.relay();
  wrongId.meta.sessionHeader->sessionId = kOldSessionId;
  stack.sign(wrongId);
  expect(stack.post(protocol::marshal(wrongId)), 403, "session_mismatch");

  auto future = stack.relay();
  future.meta.sessionHeader->sessionStartBlockHeight = 31;
  future.meta.sessionHeader->sessionEndBlockHeight = 40;
  stack.sign(future);
  expect(stack.post(protocol::marshal(future)), 400, "session_not_current");

  auto expired = stack.relay();
  expired.meta.sessionHeader->sessionId = kOldSessionId;  // [1, 10]: grace ended at 11, height 15
  expired.meta.sessionHeader->sessionStartBlockHeight = 1;
  expired.meta.sessionHeader->sessionEndBlockHeight = 10;
  stack.sign(expired);
  expect(stack.post(protocol::marshal(expired)), 400, "session_expired");

  auto big = stack.relay();
  big.payload.resize(20000);
  stack.sign(big);
  expect(stack.post(protocol::marshal(big)), 413, "request_too_large");

  // Nothing above reached the backend's mining path.
  CHECK(stack.metric("edge_relays_mined_total{service=\"svc\"}") == 0);
  CHECK(stack.metric("edge_relays_total{service=\"svc\",outcome=\"session_expired\"}") == 1);
  CHECK(stack.metric("edge_relays_total{service=\"unknown\",outcome=\"malformed_request\"}") == 1);
  }
}

TEST_CASE("backend errors: 5xx is served but not mined, timeouts are 504, a dead backend is 502") {
  Stack stack;
  REQUIRE(ready(stack));
  auto failing = stack.post(protocol::marshal(stack.relay("svc", {{"X-Backend-Status", "503"}})));
  REQUIRE(failing.status == 200);
  auto response = protocol::parseRelayResponse(util::asBytes(failing.body));
  REQUIRE(response.ok());
  CHECK(protocol::parsePoktHttpResponse(response->payload)->statusCode == 503);
  CHECK(stack.metric("edge_relays_not_mined_total{service=\"svc\",reason=\"backend_5xx\"}") == 1);
  CHECK(stack.metric("edge_relays_mined_total{service=\"svc\"}") == 0);

  auto slow = stack.post(protocol::marshal(stack.relay("svc", {{"X-Backend-Delay-Ms", "2000"}})));
  CHECK(slow.status == 504);
  CHECK(stack.outcome(slow) == "backend_timeout");

  // Deadlines far beyond any machine's time to produce the answer: the size cap, not a timeout,
  // is what refuses it.
  auto big = stack.post(protocol::marshal(stack.relay("large", {{"X-Backend-Body-Bytes", "30000000"}})));
  CHECK(big.status == 502);
  CHECK(stack.outcome(big) == "backend_too_large");

  auto down = stack.post(protocol::marshal(stack.relay("down")));
  CHECK(down.status == 502);
  CHECK(stack.outcome(down) == "backend_unreachable");
}

TEST_CASE(
    "the grace period and the claim window follow the session's window params, not the head's") {
  Stack stack;
  REQUIRE(ready(stack));
  auto relayIn = [&](const std::string& service, std::int64_t start, std::int64_t end) {
    auto request = stack.relay(service);
    request.meta.sessionHeader->sessionId = kOldSessionId;
    request.meta.sessionHeader->sessionStartBlockHeight = start;
    request.meta.sessionHeader->sessionEndBlockHeight = end;
    stack.sign(request);
    return stack.post(protocol::marshal(request));
  };
  // Height 15. By the head's params "win" [1, 10] ended its grace period at 11; by its own at 15,
  // and its claim window opens at 21: served and mined.
  auto win = relayIn("win", 1, 10);
  CHECK(win.status == 200);
  CHECK(waitFor([&] { return stack.metric("edge_relays_mined_total{service=\"win\"}") == 1; },
                "the win relay mined"));
  // "win2" [8, 14] would still be current by the head's 10-block grid (session end 20); by its own
  // params it ended at 14 without grace period.
  auto win2 = relayIn("win2", 8, 14);
  CHECK(win2.status == 400);
  CHECK(stack.outcome(win2) == "session_expired");
  // "win3" [8, 14]: in its grace period (until 16), but its claim window opened at 15 (the head's
  // params would open it at 22): served, not mined.
  auto win3 = relayIn("win3", 8, 14);
  CHECK(win3.status == 200);
  CHECK(stack.metric(
            "edge_relays_not_mined_total{service=\"win3\",reason=\"claim_window_open\"}") == 1);
  CHECK(stack.metric("edge_relays_mined_total{service=\"win3\"}") == 0);
}

TEST_CASE("the relay meter answers 429 with PATH's wording once the session's budget is used up") {
  for (auto manager : testing::kBothManagers) {
  INFO("session manager: ", testing::managerName(manager));
  Stack stack(true, manager);
  REQUIRE(ready(stack));
  auto metered = [&] {
    auto request = stack.relay("meter");
    request.meta.sessionHeader->sessionId = kMeteredSessionId;
    stack.sign(request);
    return stack.post(protocol::marshal(request));
  };
  for (int i = 0; i < 3; ++i) CHECK(metered().status == 200);
  auto limited = metered();
  CHECK(limited.status == 429);
  CHECK(stack.outcome(limited) == "rate_limited");
  CHECK(limited.body.find("session relay limit reached: claimable portion fully consumed") !=
        std::string::npos);
  // Counted right after the answer went out.
  CHECK(waitFor(
      [&] {
        return stack.metric("edge_relays_total{service=\"meter\",outcome=\"rate_limited\"}") == 1;
      },
      "the rate-limited relay counted"));
  CHECK(stack.metric("edge_relays_total{service=\"meter\",outcome=\"served\"}") == 3);
  CHECK(stack.metric("edge_relay_meter_sessions_at_cap") == 1);
  // Sessions the manager sent no budget for are served without a cap, counted once each.
  for (int i = 0; i < 5; ++i) CHECK(stack.post(protocol::marshal(stack.relay())).status == 200);
  CHECK(waitFor([&] { return stack.metric("edge_relay_meter_unmetered_sessions_total") == 1; },
                "the unmetered session counted"));
  CHECK(stack.metric("edge_relays_total{service=\"svc\",outcome=\"rate_limited\"}") == 0);
  }
}

TEST_CASE(
    "optimistic validation: the meter decides with the verdict, and over budget is never mined") {
  Stack stack;
  REQUIRE(ready(stack));
  auto metered = [&](std::vector<std::pair<std::string, std::string>> headers) {
    auto request = stack.relay("meteropt", std::move(headers));
    request.meta.sessionHeader->sessionId = kMeteredSessionId;
    stack.sign(request);
    return stack.post(protocol::marshal(request));
  };
  for (int i = 0; i < 3; ++i) CHECK(metered({}).status == 200);
  // The backend is slow (3 s, far beyond a verdict even on a loaded machine): the verdict (over
  // budget) comes first and is the answer.
  auto limited = metered({{"X-Backend-Delay-Ms", "3000"}});
  CHECK(limited.status == 429);
  CHECK(limited.body.find("session relay limit reached: claimable portion fully consumed") !=
        std::string::npos);
  CHECK(waitFor(
      [&] {
        return stack.metric("edge_relays_total{service=\"meteropt\",outcome=\"rate_limited\"}") ==
               1;
      },
      "the rate-limited relay counted"));
  CHECK(waitFor([&] { return stack.metric("edge_relays_mined_total{service=\"meteropt\"}") == 3; },
                "three meteropt relays mined"));
}

TEST_CASE("optimistic validation serves while checking and never mines a bad relay") {
  Stack stack;
  REQUIRE(ready(stack));
  auto good = stack.post(protocol::marshal(stack.relay("opt")));
  CHECK(good.status == 200);
  // The backend answers after the verdict (a slow backend), so the failed check is what the
  // caller gets; a faster backend's answer would be served before the verdict.
  auto bad = stack.tampered(stack.relay("opt", {{"X-Backend-Delay-Ms", "3000"}}));
  auto r = stack.post(protocol::marshal(bad));
  CHECK(r.status == 403);
  CHECK(stack.outcome(r) == "bad_ring_signature");
  // The good one is mined once, the bad one never.
  CHECK(waitFor([&] { return stack.metric("edge_relays_mined_total{service=\"opt\"}") == 1; },
                "the good relay mined"));
}

TEST_CASE("without chain state the edge is not ready and answers 503") {
  Stack stack(/*withSessionManager=*/false);
  auto readyz = stack.admin("/readyz");
  CHECK(readyz.status == 503);
  auto r = stack.post(protocol::marshal(stack.relay()));
  CHECK(r.status == 503);
  CHECK(stack.outcome(r) == "chain_unavailable");
}

TEST_CASE("oversized request heads are refused by the server") {
  Stack stack;
  auto r = stack.post(util::toBytes("x"), {{"X-Big", std::string(100000, 'h')}});
  CHECK(r.status == 431);
}

TEST_CASE("/metrics passes promtool check metrics after traffic, counters typed as counters") {
  Stack stack;
  REQUIRE(ready(stack));
  auto served = stack.post(protocol::marshal(stack.relay()));
  REQUIRE(served.status == 200);
  CHECK(stack.post(util::toBytes("not a relay")).status == 400);
  CHECK(stack.post(util::toBytes("x"), {{"X-Big", std::string(100000, 'h')}}).status == 431);
  REQUIRE(waitFor([&] { return stack.metric("edge_relays_mined_total{service=\"svc\"}") == 1; },
                  "the relay counted as mined"));

  std::string text = stack.admin("/metrics").body;
  auto verdict = testing::promtoolCheckMetrics(text, stack.running->path("metrics.txt"));
  INFO("promtool says:\n" << verdict.complaints);
  CHECK(verdict.clean());

  // Every *_total family is a counter; the latency figures are histograms.
  std::istringstream lines(text);
  std::string line;
  int totals = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream fields(line.substr(7));
    std::string name, type;
    fields >> name >> type;
    CAPTURE(line);
    if (name.ends_with("_total")) {
      ++totals;
      CHECK(type == "counter");
    } else {
      CHECK(type != "counter");
    }
    if (name.ends_with("_seconds") && name.find("duration") != std::string::npos) {
      CHECK(type == "histogram");
    }
  }
  CHECK(totals > 20);
  CHECK(text.find("edge_relay_duration_seconds_bucket{service=\"svc\",le=\"+Inf\"} 1\n") !=
        std::string::npos);
  // Counters the link, the spool and the HTTP server keep are exported.
  CHECK(stack.metric("edge_link_chain_states_received_total") >= 1);
  CHECK(stack.metric("edge_link_auth_failures_total") == 0);
  CHECK(stack.metric("edge_spool_truncated_bytes_total") == 0);
  CHECK(stack.metric("edge_http_refusals_total{server=\"relay\",reason=\"header_too_large\"}") == 1);
  CHECK(stack.metric("edge_http_refusals_total{server=\"relay\",reason=\"malformed_request\"}") == 0);
  CHECK(stack.metric("edge_relays_total{service=\"unknown\",outcome=\"malformed_request\"}") == 1);
}

TEST_CASE("SIGTERM finishes the relay in flight and exits cleanly") {
  Stack stack;
  REQUIRE(ready(stack));
  std::promise<BackendResult> result;
  std::thread caller([&] {
    result.set_value(stack.post(protocol::marshal(stack.relay("svc", {{"X-Backend-Delay-Ms", "300"}}))));
  });
  // SIGTERM once the relay is in the edge (it then has 300 ms of backend delay to go).
  CHECK(waitFor([&] { return stack.metric("edge_relays_in_flight") >= 1; }, "the relay in flight"));
  auto& edge = stack.running->edge().process();
  ::kill(edge.pid(), SIGTERM);
  auto future = result.get_future();
  REQUIRE(future.wait_for(testing::kGenerous) == std::future_status::ready);
  CHECK(future.get().status == 200);
  caller.join();
  CHECK(edge.exitCode(testing::kGenerous) == 0);
  CHECK(edge.output().find("event=edge_stopped") != std::string::npos);
}
