// Claims and proofs that land, judged by pocket-devnet (docs/architecture.md §7): the real
// session-manager with a full node, a real relay-edge serving relays signed by
// gateway::RelaySigner for two suppliers, two services and two applications, and the devnet's
// `/devnet/state` as the referee. Every claim is accepted, every required proof validated and
// every claim settled; a session without relays is not claimed; THRESHOLD and NOT_REQUIRED are
// both exercised; the profitability gate skips what does not pay and its switch claims it
// anyway; kill -9 of the session manager before and after the claim and proof broadcasts, then a
// restart: every claim and required proof lands once (the operator's sequence counts the txs).
// The devnet's test knobs break the node on purpose: its mempool dropped for a few blocks (the
// claim tx, then the proof tx, is rebroadcast and lands once), its RPC down for a few blocks in the
// claim and the proof window (everything still lands; relays of known sessions are still acked
// meanwhile). A proof batch that fails in the block for one message (the supplier can pay three
// proof submission fees, not four): that session fails with the chain's reason, the rest is
// resent and proven.
//
// Arguments: <session-manager> <relay-edge> <relay-test-backend> <pocket-devnet> [doctest args]

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include <sys/stat.h>

#define DOCTEST_CONFIG_IMPLEMENT
#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <doctest.h>

#include "common/chain/chain_queries.h"
#include "common/crypto/keys.h"
#include "common/net/curve_keys.h"
#include "common/protocol/abci_query.h"
#include "common/protocol/relay.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "test/gateway/relay_builder.h"
#include "test/support/process.h"

using namespace std::chrono_literals;
namespace crypto = pocket::crypto;
namespace protocol = pocket::protocol;
namespace util = pocket::util;
namespace net = pocket::net;
using nlohmann::json;
using pocket::testing::ChildProcess;
using pocket::testing::readFile;
using pocket::testing::readLine;
using pocket::testing::waitFor;

namespace {

std::string gManager, gEdge, gBackend, gDevnet;

constexpr auto kLong = std::chrono::seconds(120);

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// GET or POST; the HTTP status (0 on a transport failure) and the body.
std::pair<long, std::string> http(const std::string& url, const std::string* body) {
  CURL* curl = curl_easy_init();
  std::string response;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  return {status, response};
}

struct Options {
  std::uint64_t threshold = 400;      // uPOKT: 12 relays (504) need a proof, 3 (126) do not
  std::uint64_t submissionFee = 100;  // proof_submission_fee
  bool gate = true;
  std::string crashAt;  // session-manager --crash-at for its first run
  std::string paramChanges;  // genesis param_changes entries (YAML list items)
  // claim_window_close_offset_blocks / proof_window_close_offset_blocks (0: init's 4 each). Wider
  // windows leave a loaded machine time to turn a knob inside a window.
  int claimWindowBlocks = 0;
  int proofWindowBlocks = 0;
  std::uint64_t operatorBalance = 0;  // supplier-1-operator's uPOKT (0: init's)
};

// The devnet, the session manager, a backend and one edge serving two suppliers' relays.
class Stack {
 public:
  explicit Stack(const Options& options) : options_(options) {
    auto init = pocket::testing::runToEnd(
        {gDevnet, "init", dir / "devnet", "--seed", "claims-e2e", "--applications", "2",
         "--gateways", "1", "--suppliers", "2", "--services", "anvil,svc2", "--session-blocks",
         "20"},
        dir / "init.log");
    REQUIRE_MESSAGE(init.status == 0, init.output);
    for (int i = 1; i <= 2; ++i) {
      apps.push_back(key("application-" + std::to_string(i)));
      suppliers.push_back(key("supplier-" + std::to_string(i) + "-operator"));
    }
    gateway = key("gateway-1");
    editGenesis();
    devnet = std::make_unique<ChildProcess>(
        "pocket-devnet",
        std::vector<std::string>{gDevnet, "run", "--genesis", dir / "devnet/genesis.yaml", "--rpc",
                                 "127.0.0.1:0", "--port-file", dir / "devnet.port",
                                 "--block-time", "300ms"},
        dir / "devnet.log");
    REQUIRE_MESSAGE(waitFor([&] { return !readLine(dir / "devnet.port").empty(); }, kLong,
                            "the devnet's port file"),
                    devnet->describe());
    devnetPort = readLine(dir / "devnet.port");

    backend = std::make_unique<ChildProcess>(
        "relay-test-backend",
        std::vector<std::string>{gBackend, "--listen", "127.0.0.1:0", "--port-file",
                                 dir / "backend.port"},
        dir / "backend.log");
    REQUIRE(waitFor([&] { return !readLine(dir / "backend.port").empty(); }, kLong,
                    "the backend's port file"));

    auto managerKeys = net::generateCurveKeyPair();
    auto edgeKeys = net::generateCurveKeyPair();
    net::writeCurveKeyPairFile(dir / "sm.key", managerKeys);
    net::writeCurvePublicKeyFile(dir / "sm.pub", managerKeys.publicKey);
    net::writeCurveKeyPairFile(dir / "edge.key", edgeKeys);
    net::writeCurveAllowListFile(dir / "edges.allow", {edgeKeys.publicKey});
    writeManagerConfig("0");
    startManager(options.crashAt.empty() ? std::vector<std::string>{}
                                         : std::vector<std::string>{"--crash-at", options.crashAt});
    startEdge();
  }

  ~Stack() {
    edge.reset();
    manager.reset();
    backend.reset();
    devnet.reset();
  }

  crypto::PrivateKey key(const std::string& name) {
    auto k = crypto::loadPrivateKeyFile(dir / ("devnet/keys/" + name + ".key"));
    REQUIRE(k.ok());
    return *k;
  }

  // The ring's public keys are in the genesis `init` wrote (the chain knows them from genesis);
  // the test's proof params are set here.
  void editGenesis() {
    std::string text = readFile(dir / "devnet/genesis.yaml");
    auto hasKey = [&](const crypto::PrivateKey& k) {
      auto at = text.find("  - address: " + k.publicKey().address());
      REQUIRE(at != std::string::npos);
      auto next = text.find("  - address:", at + 1);
      CHECK(text.substr(at, next - at).find("    public_key: " + k.publicKey().hex() + "\n") !=
            std::string::npos);
    };
    for (const auto& a : apps) hasKey(a);
    hasKey(gateway);
    auto replace = [&](const std::string& from, const std::string& to) {
      auto at = text.find(from);
      REQUIRE_MESSAGE(at != std::string::npos, from);
      auto end = text.find('\n', at);
      text.replace(at, end - at, to);
    };
    replace("    proof_request_probability:", "    proof_request_probability: 0");
    replace("    proof_requirement_threshold:",
            "    proof_requirement_threshold: " + std::to_string(options_.threshold));
    replace("    proof_submission_fee:",
            "    proof_submission_fee: " + std::to_string(options_.submissionFee));
    if (options_.claimWindowBlocks > 0) {
      replace(
          "    claim_window_close_offset_blocks:",
          "    claim_window_close_offset_blocks: " + std::to_string(options_.claimWindowBlocks));
    }
    if (options_.proofWindowBlocks > 0) {
      replace(
          "    proof_window_close_offset_blocks:",
          "    proof_window_close_offset_blocks: " + std::to_string(options_.proofWindowBlocks));
    }
    if (options_.operatorBalance > 0) {
      auto at = text.find("# keys/supplier-1-operator.key");
      REQUIRE(at != std::string::npos);
      auto balance = text.find("balance: ", at) + 9;
      text.replace(balance, text.find('\n', balance) - balance,
                   std::to_string(options_.operatorBalance));
    }
    if (!options_.paramChanges.empty()) {
      replace("param_changes:", "param_changes:\n" + options_.paramChanges);
    }
    pocket::testing::writeFile(dir / "devnet/genesis.yaml", text);
  }

  void writeManagerConfig(const std::string& port) {
    std::string yaml = "link:\n  bind: \"tcp://127.0.0.1:" + port + "\"\n" +
                       "  server_key_file: " + dir / "sm.key" + "\n" +
                       "  allow_list_file: " + dir / "edges.allow" + "\n" + "suppliers:\n";
    for (int i = 1; i <= 2; ++i) {
      yaml += "  - key_file: " + dir / ("devnet/keys/supplier-" + std::to_string(i) +
                                        "-operator.key") + "\n";
    }
    yaml += "chain:\n  rpc_url: \"http://127.0.0.1:" + devnetPort + "\"\n  chain_id: pocket\n" +
            "  poll_interval_ms: 50\n" + "store:\n  directory: " + dir / "store" + "\n" +
            "  tree_commit_interval_ms: 100\n" + "admin:\n  listen: \"127.0.0.1:0\"\n" +
            "lifecycle:\n  profitability_gate: " + (options_.gate ? "true" : "false") + "\n";
    pocket::testing::writeFile(dir / "sm.yaml", yaml);
  }

  void startManager(const std::vector<std::string>& extra = {}) {
    std::string log = dir / ("sm-" + std::to_string(generation++) + ".log");
    std::vector<std::string> argv{gManager, "run", "--config", dir / "sm.yaml"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    manager = std::make_unique<ChildProcess>("session-manager", argv, log);
    std::smatch m;
    std::regex started("event=sm_started link=tcp://127.0.0.1:(\\d+) admin=127.0.0.1:(\\d+)");
    std::string text;
    REQUIRE_MESSAGE(waitFor(
                        [&] {
                          text = readFile(log);
                          return std::regex_search(text, m, started);
                        },
                        kLong, "the session manager's sm_started line"),
                    manager->describe());
    if (linkPort.empty()) {
      linkPort = m[1];
      writeManagerConfig(linkPort);  // restarts keep the port the edge knows
    }
    adminPort = m[2];
    managerLog = log;
  }

  void startEdge() {
    std::string yaml = "listeners: [\"127.0.0.1:0\"]\nadmin_listener: \"127.0.0.1:0\"\nthreads: 2\n"
                       "suppliers:\n";
    for (int i = 1; i <= 2; ++i) {
      yaml += "  - key_file: " + dir / ("devnet/keys/supplier-" + std::to_string(i) +
                                        "-operator.key") + "\n";
    }
    yaml += "link:\n  endpoint: \"tcp://127.0.0.1:" + linkPort + "\"\n  edge_id: edge-1\n" +
            "  client_key_file: " + dir / "edge.key" + "\n" +
            "  server_public_key_file: " + dir / "sm.pub" + "\n" + "spool:\n  directory: " +
            dir / "spool" + "\n" + "services:\n";
    for (const char* service : {"anvil", "svc2"}) {
      yaml += std::string("  ") + service + ":\n    backend:\n      url: http://127.0.0.1:" +
              readLine(dir / "backend.port") + "\n";
    }
    pocket::testing::writeFile(dir / "edge.yaml", yaml);
    std::string log = dir / "edge.log";
    edge = std::make_unique<ChildProcess>(
        "relay-edge", std::vector<std::string>{gEdge, "--config", dir / "edge.yaml"}, log);
    std::smatch m;
    std::regex listening("listener=127.0.0.1:(\\d+) admin=127.0.0.1:(\\d+)");
    std::string text;
    REQUIRE_MESSAGE(waitFor(
                        [&] {
                          text = readFile(log);
                          return std::regex_search(text, m, listening);
                        },
                        kLong, "the edge's listener line"),
                    edge->describe());
    edgePort = m[1];
    std::string edgeAdmin = m[2];
    REQUIRE(waitFor([&] { return http("http://127.0.0.1:" + edgeAdmin + "/readyz", nullptr).first == 200; },
                    kLong, "the edge to be ready"));
  }

  json rpc(const std::string& method, const json& params) {
    std::string body =
        json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}}.dump();
    auto [status, text] = http("http://127.0.0.1:" + devnetPort + "/", &body);
    REQUIRE_MESSAGE(status == 200, text);
    json reply = json::parse(text);
    REQUIRE_MESSAGE(reply.contains("result"), text);
    return reply["result"];
  }
  std::int64_t height() {
    return std::stoll(rpc("status", json::object())["sync_info"]["latest_block_height"]
                          .get<std::string>());
  }
  // POST /devnet/<knob>?...: the devnet's test knobs (mempool flushes, RPC outages).
  json control(const std::string& target) {
    std::string empty;
    auto [status, text] = http("http://127.0.0.1:" + devnetPort + target, &empty);
    REQUIRE_MESSAGE(status == 200, target, ": ", text);
    return json::parse(text);
  }
  // A sample of the session manager's /metrics (0 when the series is absent).
  double metric(const std::string& series) {
    auto [status, text] = http("http://127.0.0.1:" + adminPort + "/metrics", nullptr);
    REQUIRE(status == 200);
    auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return 0;
    return std::stod(text.substr(at + series.size() + 2));
  }
  json state() {
    auto [status, text] = http("http://127.0.0.1:" + devnetPort + "/devnet/state", nullptr);
    REQUIRE(status == 200);
    return json::parse(text);
  }
  std::uint64_t sequence(const crypto::PrivateKey& k) {
    const json doc = state();  // the range must not be a member of a temporary
    for (const auto& a : doc["accounts"]) {
      if (a["address"] == k.publicKey().address()) return a["sequence"];
    }
    return 0;
  }
  protocol::SessionHeader session(const crypto::PrivateKey& app, const std::string& service,
                                  std::int64_t at) {
    auto q = protocol::getSessionQuery(app.publicKey().address(), service, at);
    json response = rpc("abci_query", {{"path", q.path},
                                       {"data", util::toHex(q.data)},
                                       {"height", "0"},
                                       {"prove", false}})["response"];
    REQUIRE_MESSAGE(response["code"] == 0, response.dump());
    auto value = util::fromBase64(response["value"].get<std::string>());
    REQUIRE(value.ok());
    auto info = pocket::chain::decodeSessionValue(*value);
    REQUIRE(info.ok());
    return info->header;
  }

  // Waits for the start of a session with at least 14 blocks left (and ending at `wantEnd` when
  // set); returns the height it saw.
  std::int64_t freshSession(std::int64_t wantEnd) {
    std::int64_t start = 0;
    REQUIRE(waitFor(
        [&] {
          std::int64_t h = height();
          auto header = session(apps[0], "anvil", h);
          if (header.sessionEndBlockHeight - h < 14) return false;
          if (wantEnd != 0 && header.sessionEndBlockHeight != wantEnd) return false;
          start = h;
          return true;
        },
        kLong, "a fresh session"));
    return start;
  }

  // Serves `count` relays of (app, service) for supplier `s` through the edge, retrying each
  // (the edge may still be learning the session) within a generous deadline.
  void serve(const crypto::PrivateKey& app, const protocol::SessionHeader& header,
             const crypto::PrivateKey& supplier, int count) {
    auto signer = pocket::gateway::RelaySigner::create(gateway, app.publicKey(),
                                                       {gateway.publicKey()});
    REQUIRE(signer.ok());
    for (int n = 0; n < count; ++n) {
      pocket::gateway::RelayTemplate relay;
      relay.session = header;
      relay.supplierOperatorAddress = supplier.publicKey().address();
      relay.http.method = "POST";
      relay.http.url = "https://gateway.example/v1";
      relay.http.body = util::toBytes(pocket::gateway::defaultJsonRpcBody(++relayId));
      auto request = signer->sign(relay);
      REQUIRE(request.ok());
      auto bytes = protocol::marshal(*request);
      std::string body(bytes.begin(), bytes.end());
      std::string last;
      bool ok = static_cast<bool>(waitFor(
          [&] {
            auto [status, text] = http("http://127.0.0.1:" + edgePort + "/", &body);
            last = std::to_string(status) + " " + text.substr(0, 200);
            auto response = protocol::parseRelayResponse(util::asBytes(text));
            return status == 200 && response.ok() && !response->relayMinerError;
          },
          std::chrono::seconds(30), "the edge to serve relay " + std::to_string(relayId)));
      REQUIRE_MESSAGE(ok, last);
    }
  }

  // Claims of the devnet for this test's session (end height), keyed "supplier/app/service".
  std::map<std::string, json> claimsOf(std::int64_t sessionEnd) {
    std::map<std::string, json> out;
    const json doc = state();  // the range must not be a member of a temporary
    for (const auto& c : doc["claims"]) {
      if (c["session_end_block_height"] != sessionEnd) continue;
      out[c["supplier_operator_address"].get<std::string>() + "/" +
          c["application_address"].get<std::string>() + "/" + c["service_id"].get<std::string>()] =
          c;
    }
    return out;
  }
  std::string claimKey(int supplier, int app, const std::string& service) {
    return suppliers[supplier].publicKey().address() + "/" + apps[app].publicKey().address() +
           "/" + service;
  }

  std::string managerLogs() {
    std::string all;
    for (int g = 0; g < generation; ++g) all += readFile(dir / ("sm-" + std::to_string(g) + ".log"));
    return all;
  }

  pocket::testing::TempDir dir{"sm-claims-e2e"};
  Options options_;
  std::vector<crypto::PrivateKey> apps, suppliers;
  crypto::PrivateKey gateway = crypto::PrivateKey::fromSecret(util::asBytes("unused"));
  std::unique_ptr<ChildProcess> devnet, backend, manager, edge;
  std::string devnetPort, linkPort, adminPort, edgePort, managerLog;
  int generation = 0;
  std::uint64_t relayId = 0;
};

// The traffic of every test: supplier 1 serves 12 relays (proof required by the threshold) and
// supplier 2 serves 3 (not required) for each (application, service), except that supplier 2
// serves nothing for application 2 on svc2: that session has no tree and no claim.
std::int64_t serveTraffic(Stack& s, std::int64_t wantEnd = 0) {
  std::int64_t start = s.freshSession(wantEnd);
  std::int64_t end = 0;
  for (int a = 0; a < 2; ++a) {
    for (const char* service : {"anvil", "svc2"}) {
      auto header = s.session(s.apps[a], service, start);
      end = header.sessionEndBlockHeight;
      s.serve(s.apps[a], header, s.suppliers[0], 12);
      if (!(a == 1 && std::string(service) == "svc2")) s.serve(s.apps[a], header, s.suppliers[1], 3);
    }
  }
  return end;
}

// Waits until the 7 claims of the session ending at `end` are all settled (or expired).
std::map<std::string, json> waitForSettlement(Stack& s, std::int64_t end, std::size_t expected) {
  std::map<std::string, json> claims;
  bool done = static_cast<bool>(waitFor(
      [&] {
        claims = s.claimsOf(end);
        if (claims.size() < expected) return false;
        for (const auto& [k, c] : claims) {
          if (c["settlement"] == "pending") return false;
        }
        return true;
      },
      kLong, "every claim of the session to be settled"));
  if (!done) {
    MESSAGE("devnet claims: " << s.state()["claims"].dump(1));
    MESSAGE("session-manager log: " << s.managerLogs());
  }
  REQUIRE(done);
  return claims;
}

void checkAllLanded(Stack& s, std::int64_t end) {
  auto claims = waitForSettlement(s, end, 7);
  CHECK(claims.size() == 7);
  CHECK(claims.count(s.claimKey(1, 1, "svc2")) == 0);  // no relays, no claim
  for (int a = 0; a < 2; ++a) {
    for (const char* service : {"anvil", "svc2"}) {
      const json& required = claims.at(s.claimKey(0, a, service));
      CHECK(required["num_relays"] == 12);
      CHECK(required["proof_requirement"] == "THRESHOLD");
      CHECK(required["proof_status"] == "VALIDATED");
      CHECK(required["settlement"] == "settled");
      CHECK(required["created_at_height"] == required["updated_at_height"]);  // claimed once
      if (a == 1 && std::string(service) == "svc2") continue;
      const json& free = claims.at(s.claimKey(1, a, service));
      CHECK(free["num_relays"] == 3);
      CHECK(free["proof_requirement"] == "NOT_REQUIRED");
      CHECK(free["proof_submitted"] == false);
      CHECK(free["settlement"] == "settled");
      CHECK(free["created_at_height"] == free["updated_at_height"]);
    }
  }
  // One claim tx and one proof tx for supplier 1, one claim tx for supplier 2: nothing twice.
  CHECK(s.sequence(s.suppliers[0]) == 2);
  CHECK(s.sequence(s.suppliers[1]) == 1);
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The rebroadcasts were of the same bytes (nothing signed again), counted and logged, and the
// devnet says it dropped the first broadcasts.
void checkRebroadcastsSeen(Stack& s, double atLeast) {
  CHECK(s.metric("sm_tx_broadcasts_total{kind=\"rebroadcast\"}") >= atLeast);
  CHECK(s.metric("sm_tx_broadcasts_total{kind=\"resign\"}") == 0);
  CHECK(readFile(s.dir / "devnet.log").find("event=tx_dropped") != std::string::npos);
}

// Waits until the session manager has rebroadcast a `kind` tx ("claim", "proof") of every
// supplier in `suppliers` at least twice: the devnet dropped it from its mempool twice.
void waitForRebroadcasts(Stack& s, const std::string& kind, const std::vector<int>& suppliers) {
  bool seen = static_cast<bool>(waitFor(
      [&] {
        std::string log = s.managerLogs();
        for (int i : suppliers) {
          std::string line =
              "event=tx_rebroadcast id=" + kind + "/" + s.suppliers[i].publicKey().address();
          if (occurrences(log, line) < 2) return false;
        }
        return true;
      },
      kLong, "two rebroadcasts of each supplier's " + kind + " tx"));
  if (!seen) MESSAGE("session-manager log: " << s.managerLogs());
  REQUIRE(seen);
}

}  // namespace

TEST_CASE("claims accepted, required proofs validated, every claim settled; no relays, no claim") {
  Stack s(Options{});
  std::int64_t end = serveTraffic(s);
  checkAllLanded(s, end);
  // The session manager saw every session to its end, and says so.
  REQUIRE(waitFor(
      [&] {
        auto [status, text] = http("http://127.0.0.1:" + s.adminPort + "/status", nullptr);
        if (status != 200) return false;
        auto doc = json::parse(text);
        int settled = 0;
        for (const auto& session : doc["sessions"]) settled += session["state"] == "settled";
        return settled == 7;
      },
      kLong, "7 settled sessions in /status"));
  std::string log = readFile(s.managerLog);
  CHECK(log.find("event=session_state state=proof_not_required") != std::string::npos);
  CHECK(log.find("event=session_state state=proven") != std::string::npos);
  CHECK(log.find("event=session_state state=settled") != std::string::npos);
  auto status = pocket::testing::runToEnd({gManager, "status", "--admin", "127.0.0.1:" + s.adminPort},
                                          s.dir / "status.txt");
  CHECK(status.status == 0);
  CHECK(status.output.find("THRESHOLD") != std::string::npos);
  CHECK(status.output.find("settled") != std::string::npos);
}

TEST_CASE("params changed between session start and end: windows from the end, pricing from the start") {
  Options o;
  // In the middle of the third session (blocks 41..60): the claim window opens one block later and
  // a compute unit is worth twice as much (for sessions starting from then on).
  o.paramChanges =
      "  - height: 55\n    shared: {claim_window_open_offset_blocks: 2, "
      "compute_units_to_tokens_multiplier: 84000000}";
  Stack s(o);
  std::int64_t end = serveTraffic(s, 60);
  REQUIRE(end == 60);
  checkAllLanded(s, end);
  auto claims = s.claimsOf(end);
  for (const auto& [key, claim] : claims) {
    CHECK(claim["created_at_height"] >= end + 3);  // the moved window
  }
  CHECK(claims.at(s.claimKey(0, 0, "anvil"))["claimed_upokt"] == "504");  // 42 uPOKT per CU
  CHECK(s.managerLogs().find("claimed_upokt=504") != std::string::npos);
}

TEST_CASE("the profitability gate skips claims that do not pay; its switch claims them") {
  SUBCASE("gate on") {
    Options o;
    o.submissionFee = 1'000'000;  // a required proof costs more than 504 uPOKT earn
    Stack s(o);
    std::int64_t end = serveTraffic(s);
    REQUIRE(waitFor([&] { return s.height() > end + 12; }, kLong, "the proof window to close"));
    auto claims = s.claimsOf(end);
    CHECK(claims.size() == 3);  // supplier 2's only
    CHECK(claims.count(s.claimKey(0, 0, "anvil")) == 0);
    CHECK(s.managerLogs().find("state=skipped_unprofitable") != std::string::npos);
    CHECK(s.sequence(s.suppliers[0]) == 0);
  }
  SUBCASE("gate off") {
    Options o;
    o.submissionFee = 1'000'000;
    o.gate = false;
    Stack s(o);
    std::int64_t end = serveTraffic(s);
    checkAllLanded(s, end);
  }
}

TEST_CASE("kill -9 of the session manager around the claim and proof broadcasts, then a restart: "
          "every claim and required proof lands once") {
  for (const char* point : {"before_claim_broadcast", "after_claim_broadcast",
                            "before_proof_broadcast", "after_proof_broadcast"}) {
    CAPTURE(point);
    Options o;
    o.crashAt = point;
    Stack s(o);
    std::int64_t end = serveTraffic(s);
    REQUIRE_MESSAGE(s.manager->wait(kLong).has_value(), "the session manager did not crash at ",
                    point);
    CHECK(s.managerLogs().find("event=crash_injected") != std::string::npos);
    s.startManager();
    checkAllLanded(s, end);
  }
}

TEST_CASE(
    "the devnet drops a tx from its mempool: it is rebroadcast and lands once in its window") {
  Options o;
  o.claimWindowBlocks = 12;
  o.proofWindowBlocks = 12;
  SUBCASE("the claim txs") {
    Stack s(o);
    // From now on every block starts with an empty mempool: the claims sent at window open are
    // admitted (broadcast_tx_sync code 0) and never included.
    s.control("/devnet/flush-mempool?blocks=100000");
    std::int64_t end = serveTraffic(s);
    waitForRebroadcasts(s, "claim", {0, 1});
    s.control("/devnet/flush-mempool?blocks=0");
    checkAllLanded(s, end);
    for (const auto& [key, claim] : s.claimsOf(end)) {
      CHECK(claim["created_at_height"] > end + 3);  // not the first broadcast's block
    }
    checkRebroadcastsSeen(s, 4);
  }
  SUBCASE("the proof tx") {
    Stack s(o);
    std::int64_t end = serveTraffic(s);
    REQUIRE(waitFor([&] { return s.claimsOf(end).size() == 7; }, kLong, "the 7 claims"));
    s.control("/devnet/flush-mempool?blocks=100000");
    waitForRebroadcasts(s, "proof", {0});
    s.control("/devnet/flush-mempool?blocks=0");
    checkAllLanded(s, end);
    checkRebroadcastsSeen(s, 2);
  }
}

TEST_CASE("the devnet's RPC down for a few blocks inside the claim window and the proof window") {
  Options o;
  o.claimWindowBlocks = 12;
  o.proofWindowBlocks = 12;
  Stack s(o);
  std::int64_t end = serveTraffic(s);
  const std::int64_t proofOpen = end + 2 + o.claimWindowBlocks;
  // From the block before the claim window opens (or, on a slow machine, a little later): the
  // manager sees no block, no session and no tx for 5 blocks.
  REQUIRE(
      waitFor([&] { return s.height() >= end + 1; }, kLong, "the block before the claim window"));
  json outage = s.control("/devnet/rpc-outage?blocks=5");
  const std::int64_t until = outage["until_height"];
  REQUIRE(waitFor([&] { return s.state()["height"].get<std::int64_t>() >= until; }, kLong,
                  "the end of the outage in the claim window"));
  REQUIRE(waitFor([&] { return s.claimsOf(end).size() == 7; }, kLong, "the 7 claims"));
  // The same from the block before the proof window opens.
  REQUIRE(waitFor([&] { return s.height() >= proofOpen - 1; }, kLong,
                  "the block before the proof window"));
  json proofOutage = s.control("/devnet/rpc-outage?blocks=5");
  checkAllLanded(s, end);
  // The manager noticed: its head reads failed during the outages.
  CHECK(s.metric("sm_chain_head_errors_total") > 0);
  // An outage that began before a window opened hid the opening from the manager: what it sent
  // for that window landed after the outage (a slower test run may begin it later; then the
  // outage still fell inside the window, which is all the checks above need).
  if (outage["from_height"].get<std::int64_t>() < end + 2) {
    for (const auto& [key, claim] : s.claimsOf(end)) CHECK(claim["created_at_height"] > until);
  } else {
    MESSAGE("the claim-window outage began at " << outage["from_height"] << ", after the window "
                                                << "opened at " << end + 2);
  }
  // The proofs' blocks, from the manager's `proven` lines.
  std::vector<std::int64_t> proofHeights;
  const std::regex proven("event=session_state state=proven [^\n]* tx_height=(\\d+)");
  CHECK(waitFor(
      [&] {
        const std::string log = s.managerLogs();
        proofHeights.clear();
        for (std::sregex_iterator it(log.begin(), log.end(), proven), last; it != last; ++it) {
          proofHeights.push_back(std::stoll((*it)[1]));
        }
        return proofHeights.size() == 4;
      },
      kLong, "4 proven lines"));
  if (proofOutage["from_height"].get<std::int64_t>() < proofOpen) {
    for (std::int64_t h : proofHeights) CHECK(h > proofOutage["until_height"].get<std::int64_t>());
  }
}

TEST_CASE("the node unreachable: relays of a session the manager knows keep being acked") {
  Stack s(Options{});
  std::int64_t start = s.freshSession(0);
  auto header = s.session(s.apps[0], "anvil", start);
  s.serve(s.apps[0], header, s.suppliers[0], 1);  // the edge and the manager know the session
  REQUIRE(waitFor([&] { return s.metric("sm_relays_accepted_total") >= 1; }, kLong,
                  "the first relay acked"));
  const double before = s.metric("sm_relays_accepted_total");
  json outage = s.control("/devnet/rpc-outage?blocks=100000");
  s.serve(s.apps[0], header, s.suppliers[0], 5);
  // Durable and acked while the node still answers nothing: the block loop, stuck on the node,
  // does not hold up ingest.
  CHECK(waitFor([&] { return s.metric("sm_relays_accepted_total") >= before + 5; }, kLong,
                "5 more relays acked during the outage"));
  CHECK(s.state()["height"].get<std::int64_t>() < outage["until_height"].get<std::int64_t>());
  s.control("/devnet/rpc-outage?blocks=0");
}

TEST_CASE(
    "a proof batch that fails in the block for one message: that session fails, the rest "
    "is resent and proven") {
  Options o;
  o.submissionFee = 1'000'000;  // taken per proof message
  o.gate = false;               // such a fee makes every claim unprofitable
  o.claimWindowBlocks = 12;
  o.proofWindowBlocks = 12;
  // Supplier 1 can pay three submission fees, not four: its 4-proof tx fails at message index 3
  // ("not enough funds to submit proof"), which reverts the whole tx.
  o.operatorBalance = 3'500'000;
  Stack s(o);
  std::int64_t end = serveTraffic(s);
  auto claims = waitForSettlement(s, end, 7);
  int validated = 0;
  int missing = 0;
  for (int a = 0; a < 2; ++a) {
    for (const char* service : {"anvil", "svc2"}) {
      const json& claim = claims.at(s.claimKey(0, a, service));
      CHECK(claim["created_at_height"] == claim["updated_at_height"]);
      validated += claim["proof_status"] == "VALIDATED" && claim["settlement"] == "settled";
      missing += claim["settlement"] == "expired_proof_missing";
    }
  }
  CHECK(validated == 3);
  CHECK(missing == 1);
  const std::string log = s.managerLogs();
  CHECK(log.find("event=batch_resent kind=proof") != std::string::npos);
  CHECK(occurrences(log, "state=proof_failed") == 1);
  CHECK(log.find("reason_code=message_rejected") != std::string::npos);
  CHECK(log.find("not enough funds to submit proof") != std::string::npos);
  CHECK(s.metric("sm_batch_resends_total{kind=\"proof\"}") == 1);
  CHECK(s.metric("sm_proofs_total{outcome=\"failed\",reason=\"message_rejected\"}") == 1);
  // The claim tx, the failed proof tx and the resent one; supplier 2's claim tx.
  CHECK(s.sequence(s.suppliers[0]) == 3);
  CHECK(s.sequence(s.suppliers[1]) == 1);
}

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: sm_claims_e2e_test <session-manager> <relay-edge> <relay-test-backend> "
                 "<pocket-devnet>\n");
    return 2;
  }
  gManager = argv[1];
  gEdge = argv[2];
  gBackend = argv[3];
  gDevnet = argv[4];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  doctest::Context context;
  context.applyCommandLine(argc - 4, argv + 4);
  int rc = context.run();
  curl_global_cleanup();
  return rc;
}
