// relay-gateway against a real relay-edge (with relay-test-backend and sm-double behind it): the
// send command verifies the supplier's signature and prints the backend's answer, refuses a wrong
// supplier key and reports the edge's refusal of a relay signed outside the ring; the load command
// drives signed relays with no failure.
//
// Arguments: <relay-gateway> <relay-edge> <relay-test-backend> <sm-double> [doctest args]

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DOCTEST_CONFIG_IMPLEMENT
#include <nlohmann/json.hpp>

#include <doctest.h>

#include "common/crypto/keys.h"
#include "common/crypto/ring.h"
#include "common/util/hex.h"
#include "test/process_support.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace crypto = pocket::crypto;
namespace util = pocket::util;

namespace {

std::string gGatewayBinary, gEdgeBinary, gBackendBinary, gSmBinary;

using Process = pocket::test::ChildProcess;
using pocket::test::readFile;
using pocket::test::waitFor;

void writeKey(const std::string& path, const crypto::PrivateKey& key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  std::string text = util::toHex(key.bytes()) + "\n";
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

// What a relay-gateway run printed (stdout and stderr together) and its exit status.
struct Run {
  int status = -1;
  std::string output;
};

// relay-gateway, an edge serving service "svc" (eager validation) for one supplier, its backend and
// the session manager double, in a fresh directory.
struct Stack {
  crypto::PrivateKey supplier = crypto::PrivateKey::fromSecret(util::asBytes("gw-e2e-supplier"));
  crypto::PrivateKey app = crypto::PrivateKey::fromSecret(util::asBytes("gw-e2e-app"));
  crypto::PrivateKey gateway = crypto::PrivateKey::fromSecret(util::asBytes("gw-e2e-gateway"));
  crypto::PrivateKey stranger = crypto::PrivateKey::fromSecret(util::asBytes("gw-e2e-stranger"));
  std::string dir;
  std::string url;
  std::unique_ptr<Process> backend, sm, edge;
  int runs = 0;

  Stack() {
    char tmpl[] = "/tmp/gateway-e2e-XXXXXX";
    dir = mkdtemp(tmpl);
    writeKey(dir + "/supplier.key", supplier);
    writeKey(dir + "/app.key", app);
    writeKey(dir + "/gateway.key", gateway);
    writeKey(dir + "/stranger.key", stranger);
    std::vector<crypto::PublicKey> gateways = {gateway.publicKey()};
    nlohmann::json ringHex = nlohmann::json::array();
    for (const auto& k : crypto::expectedRingKeys(app.publicKey(), gateways)) {
      ringHex.push_back(k.hex());
    }
    nlohmann::json fixture = {{"chain", {{"height", 15}, {"advance", false}}},
                              {"sessions", nlohmann::json::array()}};
    fixture["sessions"].push_back({{"applicationAddress", app.publicKey().address()},
                                   {"serviceId", "svc"},
                                   {"sessionId", std::string(64, 'a')},
                                   {"start", 11},
                                   {"end", 20},
                                   {"suppliers", {supplier.publicKey().address()}},
                                   {"ringPubKeys", ringHex},
                                   {"computeUnitsPerRelay", 1},
                                   {"difficultyTarget", std::string(64, 'f')}});
    std::ofstream(dir + "/fixture.json") << fixture.dump();

    backend = std::make_unique<Process>(
        std::vector<std::string>{gBackendBinary, "--listen", "127.0.0.1:0", "--port-file",
                                 dir + "/backend.port"},
        dir + "/backend.log");
    REQUIRE(waitFor([&] { return !readFile(dir + "/backend.port").empty(); }));
    std::string backendPort = readFile(dir + "/backend.port");
    backendPort.erase(backendPort.find_last_not_of('\n') + 1);
    fs::create_directories(dir + "/sm");
    sm = std::make_unique<Process>(
        std::vector<std::string>{gSmBinary, "serve", "--bind", "tcp://127.0.0.1:*", "--out",
                                 dir + "/sm", "--fixture", dir + "/fixture.json", "--plaintext",
                                 "--port-file", dir + "/sm.port", "--chain-interval-ms", "200"},
        dir + "/sm.log");
    REQUIRE(waitFor([&] { return !readFile(dir + "/sm.port").empty(); }));
    std::string smPort = readFile(dir + "/sm.port");
    smPort.erase(smPort.find_last_not_of('\n') + 1);
    std::ofstream(dir + "/edge.yaml")
        << "listeners: [\"127.0.0.1:0\"]\nadmin_listener: \"127.0.0.1:0\"\nthreads: 2\n"
        << "log_level: info\nsuppliers:\n  - key_file: " << dir << "/supplier.key\n"
        << "link:\n  endpoint: \"tcp://127.0.0.1:" << smPort
        << "\"\n  plaintext: true\n  edge_id: gw-e2e\n"
        << "spool:\n  directory: " << dir << "/spool\n"
        << "services:\n  svc:\n    validation: eager\n    backend:\n      url: http://127.0.0.1:"
        << backendPort << "\n";
    edge = std::make_unique<Process>(
        std::vector<std::string>{gEdgeBinary, "--config", dir + "/edge.yaml"}, dir + "/edge.log");
    std::smatch m;
    const std::regex ports("listener=127.0.0.1:(\\d+) admin=127.0.0.1:(\\d+)");
    REQUIRE(waitFor([&] {
      std::string log = readFile(dir + "/edge.log");
      return std::regex_search(log, m, ports);
    }));
    std::string log = readFile(dir + "/edge.log");
    std::regex_search(log, m, ports);
    url = "http://127.0.0.1:" + m[1].str() + "/";
    // Ready once the edge has chain state: a relay gets past the 503 of an empty cache.
    REQUIRE(waitFor([&] { return send({}).output.find("HTTP status: 503") == std::string::npos; },
                    20s));
  }
  ~Stack() {
    edge.reset();
    sm.reset();
    backend.reset();
    fs::remove_all(dir);
  }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  Run gatewayRun(std::vector<std::string> args) {
    std::string log = dir + "/gateway-" + std::to_string(runs++) + ".log";
    args.insert(args.begin(), gGatewayBinary);
    pid_t pid = pocket::test::spawnProcess(std::move(args), log);
    int status = 0;
    waitpid(pid, &status, 0);
    Run run;
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.output = readFile(log);
    return run;
  }

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

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: gateway_e2e_test <relay-gateway> <relay-edge> <relay-test-backend> "
                 "<sm-double> [doctest args]\n");
    return 2;
  }
  gGatewayBinary = argv[1];
  gEdgeBinary = argv[2];
  gBackendBinary = argv[3];
  gSmBinary = argv[4];
  ::signal(SIGPIPE, SIG_IGN);
  doctest::Context context;
  context.applyCommandLine(argc - 4, argv + 4);
  return context.run();
}
