// relay-gateway against a real relay-edge (with relay-test-backend and sm-double behind it): the
// send command verifies the supplier's signature and prints the backend's answer, refuses a wrong
// supplier key and reports the edge's refusal of a relay signed outside the ring; the load command
// drives signed relays with no failure. The processes run on the test harness (test/support/).

#include <algorithm>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>

#include <doctest.h>

#include "common/crypto/keys.h"
#include "common/crypto/ring.h"
#include "test/support/stack.h"

namespace crypto = pocket::crypto;
namespace util = pocket::util;
namespace testing = pocket::testing;
using testing::Run;

namespace {

// relay-gateway, an edge serving service "svc" (eager validation) for one supplier, its backend and
// the session manager double, in a fresh directory (the harness's stack).
struct Stack {
  crypto::PrivateKey supplier = crypto::PrivateKey::fromSecret(util::asBytes("gw-e2e-supplier"));
  crypto::PrivateKey app = crypto::PrivateKey::fromSecret(util::asBytes("gw-e2e-app"));
  crypto::PrivateKey gateway = crypto::PrivateKey::fromSecret(util::asBytes("gw-e2e-gateway"));
  crypto::PrivateKey stranger = crypto::PrivateKey::fromSecret(util::asBytes("gw-e2e-stranger"));
  std::unique_ptr<testing::Stack> running;
  std::string dir;
  std::string url;

  Stack() {
    testing::SessionFixture fixture;
    fixture.height = 15;
    fixture.sessions = {testing::ringSession(app.publicKey(), {gateway.publicKey()}, "svc",
                                             std::string(64, 'a'), 11, 20,
                                             {supplier.publicKey().address()})};
    testing::EdgeConfigFile edge;
    edge.supplierKeyFiles = {"supplier"};
    edge.edgeId = "gw-e2e";
    edge.services = {{.id = "svc", .validation = "eager"}};
    running = testing::StackBuilder("gateway-e2e")
                  .key("supplier", supplier)
                  .key("app", app)
                  .key("gateway", gateway)
                  .key("stranger", stranger)
                  .fixture(fixture)
                  .edge(edge)
                  .start();
    dir = running->dir.path();
    url = running->edge().relayUrl("/");
    // Ready once the edge has chain state: a relay gets past the 503 of an empty cache.
    REQUIRE(testing::waitFor(
        [&] { return send({}).output.find("HTTP status: 503") == std::string::npos; },
        "a relay past the edge's 503 (chain state received)"));
  }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  Run gatewayRun(std::vector<std::string> args) { return running->gateway(std::move(args)); }

  // The relay options for this stack's session (with --supplier-key unless `extra` names the
  // supplier's public key), then `extra`.
  std::vector<std::string> relayArgs(const std::string& command,
                                     const std::vector<std::string>& extra) const {
    std::vector<std::string> args = {command,           url,
                                     "--app-key",       dir + "/app.key",
                                     "--gateway-key",   dir + "/gateway.key",
                                     "--service",       "svc",
                                     "--session-id",    std::string(64, 'a'),
                                     "--session-start", "11",
                                     "--session-end",   "20"};
    if (std::find(extra.begin(), extra.end(), "--supplier-pubkey") == extra.end()) {
      args.insert(args.end(), {"--supplier-key", dir + "/supplier.key"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  Run send(const std::vector<std::string>& extra) { return gatewayRun(relayArgs("send", extra)); }
};

std::map<std::string, std::string> nameValues(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

}  // namespace

TEST_CASE("send: a signed relay comes back verified with the backend's answer") {
  Stack stack;
  auto run = stack.send({"--body", R"({"jsonrpc":"2.0","id":77,"method":"eth_chainId"})"});
  INFO(run.output);
  CHECK(run.status == 0);
  CHECK(run.output.find("HTTP status: 200") != std::string::npos);
  CHECK(run.output.find("signature verified: supplier " + stack.supplier.publicKey().address()) !=
        std::string::npos);
  CHECK(run.output.find("backend status: 200") != std::string::npos);
  // relay-test-backend echoes the JSON-RPC id.
  CHECK(run.output.find(R"("id":77)") != std::string::npos);

  SUBCASE("with the wrong supplier public key the signature check fails") {
    auto wrong = stack.send({"--supplier", stack.supplier.publicKey().address(),
                             "--supplier-pubkey", stack.stranger.publicKey().hex()});
    INFO(wrong.output);
    CHECK(wrong.status == 1);
    CHECK(wrong.output.find("HTTP status: 200") != std::string::npos);
    CHECK(wrong.output.find("signature check failed: bad_signature") != std::string::npos);
  }
}

TEST_CASE("send: a relay signed outside the application's ring is refused by the edge") {
  Stack stack;
  auto run =
      stack.gatewayRun({"send", stack.url, "--app-key", stack.dir + "/app.key", "--gateway-key",
                        stack.dir + "/stranger.key", "--service", "svc", "--session-id",
                        std::string(64, 'a'), "--session-start", "11", "--session-end", "20",
                        "--supplier-key", stack.dir + "/supplier.key"});
  INFO(run.output);
  CHECK(run.status == 1);
  CHECK(run.output.find("HTTP status: 403") != std::string::npos);
  CHECK(run.output.find("relay outcome: bad_ring_signature") != std::string::npos);
}

TEST_CASE("send: configuration errors exit 2 and say what is wrong") {
  Stack stack;
  ::chmod((stack.dir + "/app.key").c_str(), 0644);
  auto open = stack.send({});
  CHECK(open.status == 2);
  CHECK(open.output.find("--app-key") != std::string::npos);
  CHECK(open.output.find("chmod 600") != std::string::npos);
  ::chmod((stack.dir + "/app.key").c_str(), 0600);
  auto noSupplier = stack.gatewayRun(
      {"send", stack.url, "--app-key", stack.dir + "/app.key", "--service", "svc"});
  CHECK(noSupplier.status == 2);
  CHECK(noSupplier.output.find("--supplier-pubkey") != std::string::npos);
}

TEST_CASE("load: signed relays for 2 s, closed and open loop, without a failed check") {
  Stack stack;
  for (const std::vector<std::string>& mode :
       {std::vector<std::string>{}, std::vector<std::string>{"--rate", "200"}}) {
    auto extra = mode;
    extra.insert(extra.end(), {"--pool", "200", "--connections", "8", "--threads", "1", "--seconds",
                               "2", "--verify-every", "10"});
    auto run = stack.gatewayRun(stack.relayArgs("load", extra));
    INFO(run.output);
    CHECK(run.status == 0);
    auto values = nameValues(run.output);
    CHECK(values["pool"] == "200");
    CHECK(values["sig_failures"] == "0");
    CHECK(values["non2xx"] == "0");
    CHECK(values["errors"] == "0");
    CHECK(std::stoull(values["sig_checked"]) >= 8);
    CHECK(std::stoull(values["requests"]) > 20);
    if (!mode.empty()) CHECK(values["offered_rps"] == "200");
  }
}
