// The real relay-edge delivering to the real session-manager over CURVE (docs/link.md, docs/architecture.md §5):
// signed relays served by the edge end up in the session manager's tree exactly once — the tree's
// root equals the root of a tree built in this process from the relays the edge answered —
// across a clean restart and across kill -9 of the session manager at each point of its ingest
// (before the journal write, after it, before the ack). An edge whose key is not on the
// allow-list is refused.
//
// Arguments: <session-manager> <relay-edge> <relay-test-backend> <link-driver> [doctest args]

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DOCTEST_CONFIG_IMPLEMENT
#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <sched.h>
#include <doctest.h>

#include "common/crypto/keys.h"
#include "common/crypto/ring.h"
#include "common/net/curve_keys.h"
#include "common/protocol/http_payload.h"
#include "common/protocol/relay.h"
#include "common/smst/store.h"
#include "common/smst/trie.h"
#include "common/util/hex.h"
#include "test/link/test_support.h"
#include "test/gateway/relay_builder.h"
#include "test/support/process.h"
#include "test/support/promtool.h"

extern char** environ;

using namespace std::chrono_literals;
namespace crypto = pocket::crypto;
namespace protocol = pocket::protocol;
namespace util = pocket::util;
namespace net = pocket::net;

namespace {

std::string gManager, gEdge, gBackend, gDriver;

using pocket::testing::ChildProcess;
using pocket::testing::readFile;
using pocket::testing::waitFor;

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// GET or POST; the HTTP status (0 on a transport failure) and the body.
std::pair<long, std::string> http(CURL* curl, const std::string& url, const util::Bytes* body) {
  std::string response;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(body->data()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  return {status, response};
}

struct Stack {
  Stack() {
    writeKey(dir / "supplier.key", supplier);
    ring = crypto::expectedRingKeys(app.publicKey(),
                                    std::vector<crypto::PublicKey>{gateway.publicKey()});
    nlohmann::json ringHex = nlohmann::json::array();
    for (const auto& k : ring) ringHex.push_back(k.hex());
    nlohmann::json fixture = {{"chain", {{"height", 15}, {"advance", false}}},
                              {"sessions",
                               {{{"applicationAddress", app.publicKey().address()},
                                 {"serviceId", "svc"},
                                 {"sessionId", sessionId},
                                 {"start", 11},
                                 {"end", 20},
                                 {"suppliers", {supplier.publicKey().address()}},
                                 {"ringPubKeys", ringHex},
                                 {"computeUnitsPerRelay", 7},
                                 {"difficultyTarget", std::string(64, 'f')}}}}};
    std::ofstream(dir / "fixture.json") << fixture.dump();
    managerKeys = net::generateCurveKeyPair();
    edgeKeys = net::generateCurveKeyPair();
    net::writeCurveKeyPairFile(dir / "sm.key", managerKeys);
    net::writeCurvePublicKeyFile(dir / "sm.pub", managerKeys.publicKey);
    net::writeCurveKeyPairFile(dir / "edge.key", edgeKeys);
    net::writeCurveAllowListFile(dir / "edges.allow", {edgeKeys.publicKey});
    writeManagerConfig("*");
    backend = std::make_unique<ChildProcess>(
        "relay-test-backend", std::vector<std::string>{gBackend, "--listen", "127.0.0.1:0", "--port-file",
                                 dir / "backend.port"},
        dir / "backend.log");
    REQUIRE(waitFor([&] { return std::filesystem::exists(dir / "backend.port"); }, "the backend's port file"));
    curl = curl_easy_init();
  }
  ~Stack() {
    edge.reset();
    manager.reset();
    backend.reset();
    curl_easy_cleanup(curl);
  }

  static void writeKey(const std::string& path, const crypto::PrivateKey& key) {
    std::ofstream(path) << util::toHex(key.bytes()) << "\n";
    ::chmod(path.c_str(), 0600);
  }

  void writeManagerConfig(const std::string& port) {
    std::ofstream(dir / "sm.yaml") << "link:\n  bind: \"tcp://127.0.0.1:" << port << "\"\n"
                                   << "  server_key_file: " << dir / "sm.key" << "\n"
                                   << "  allow_list_file: " << dir / "edges.allow" << "\n"
                                   << "suppliers:\n  - key_file: " << dir / "supplier.key" << "\n"
                                   << "chain:\n  fixture: " << dir / "fixture.json" << "\n"
                                   << "store:\n  directory: " << dir / "store" << "\n"
                                   << "  tree_commit_interval_ms: 100\n"
                                   << "admin:\n  listen: \"127.0.0.1:0\"\n";
  }

  // Starts the session manager; returns once it logged sm_started (sets linkPort, adminPort).
  void startManager(const std::vector<std::string>& extra = {}) {
    std::string log = dir / ("sm-" + std::to_string(generation++) + ".log");
    std::vector<std::string> argv{gManager, "run", "--config", dir / "sm.yaml"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    manager = std::make_unique<ChildProcess>("session-manager", argv, log);
    std::smatch m;
    std::regex started("event=sm_started link=tcp://127.0.0.1:(\\d+) admin=127.0.0.1:(\\d+)");
    std::string text;
    REQUIRE(waitFor([&] {
      text = readFile(log);
      return std::regex_search(text, m, started);
    }, "the session manager's sm_started line"));
    if (linkPort.empty()) {
      linkPort = m[1];
      writeManagerConfig(linkPort);  // restarts keep the port the edge knows
    }
    adminPort = m[2];
    managerLog = log;
  }

  void startEdge() {
    std::string backendPort = readFile(dir / "backend.port");
    backendPort.erase(backendPort.find_last_not_of('\n') + 1);
    std::ofstream(dir / "edge.yaml")
        << "listeners: [\"127.0.0.1:0\"]\n"
        << "admin_listener: \"127.0.0.1:0\"\n"
        << "threads: 2\n"
        << "suppliers:\n  - key_file: " << dir / "supplier.key" << "\n"
        << "link:\n  endpoint: \"tcp://127.0.0.1:" << linkPort << "\"\n"
        << "  edge_id: edge-1\n"
        << "  client_key_file: " << dir / "edge.key" << "\n"
        << "  server_public_key_file: " << dir / "sm.pub" << "\n"
        << "spool:\n  directory: " << dir / "spool" << "\n"
        << "services:\n  svc:\n    backend:\n      url: http://127.0.0.1:" << backendPort << "\n";
    std::string log = dir / "edge.log";
    edge = std::make_unique<ChildProcess>(
        "relay-edge", std::vector<std::string>{gEdge, "--config", dir / "edge.yaml"}, log);
    std::smatch m;
    std::regex listening("listener=127.0.0.1:(\\d+) admin=127.0.0.1:(\\d+)");
    std::string text;
    REQUIRE(waitFor([&] {
      text = readFile(log);
      return std::regex_search(text, m, listening);
    }, "the edge's listener line"));
    edgePort = m[1];
    std::string edgeAdmin = m[2];
    // Ready: the link delivered a chain state and is connected.
    REQUIRE(waitFor([&] {
      return http(curl, "http://127.0.0.1:" + edgeAdmin + "/readyz", nullptr).first == 200;
    }, "the edge to be ready"));
  }

  util::Bytes signedRelay(int n) const {
    auto signer = pocket::gateway::RelaySigner::create(gateway, app.publicKey(), {gateway.publicKey()});
    REQUIRE(signer.ok());
    pocket::gateway::RelayTemplate relay;
    relay.session = protocol::SessionHeader{app.publicKey().address(), "svc", sessionId, 11, 20};
    relay.supplierOperatorAddress = supplier.publicKey().address();
    relay.http.method = "POST";
    relay.http.url = "https://gateway.example/v1";
    relay.http.body = util::toBytes(R"({"jsonrpc":"2.0","id":)" + std::to_string(n) +
                                    R"(,"method":"eth_blockNumber"})");
    auto request = signer->sign(relay);
    REQUIRE(request.ok());
    return protocol::marshal(*request);
  }

  // Sends relay n to the edge; on a signed answer remembers the mined relay's bytes.
  bool serve(CURL* client, int n) {
    auto body = signedRelay(n);
    auto [status, text] = http(client, "http://127.0.0.1:" + edgePort + "/", &body);
    auto response = protocol::parseRelayResponse(util::asBytes(text));
    if (status != 200 || !response.ok() || response->relayMinerError) return false;
    auto request = protocol::parseRelayRequest(body);
    REQUIRE(request.ok());
    std::lock_guard lock(mutex);
    served.push_back(protocol::relayBytes(*request, *response));
    return true;
  }

  // The root of a tree built here from every relay the edge answered.
  std::string referenceRoot() {
    std::lock_guard lock(mutex);
    pocket::smst::MemoryStore memory;
    pocket::smst::SparseMerkleSumTrie trie(memory);
    for (const auto& bytes : served) trie.update(crypto::sha256(bytes), bytes, 7);
    return util::toHex(trie.root());
  }

  nlohmann::json status() {
    auto [code, body] = http(curl, "http://127.0.0.1:" + adminPort + "/status", nullptr);
    if (code != 200) return nullptr;
    return nlohmann::json::parse(body, nullptr, false);
  }

  // Waits until the manager's only tree holds exactly the served relays (same root, committed).
  bool treeMatchesServed() {
    std::string expected = referenceRoot();
    std::string last;
    bool ok = static_cast<bool>(waitFor([&] {
      auto doc = status();
      if (!doc.is_object() || doc["sessions"].size() != 1) return false;
      last = doc["sessions"][0]["committedRoot"].get<std::string>();
      return last == expected;
    }, "the manager's committed root to equal the served relays' root"));
    if (!ok) MESSAGE("manager root " << last << " expected " << expected);
    return ok;
  }

  pocket::testing::TempDir dir;
  crypto::PrivateKey supplier = crypto::PrivateKey::fromSecret(util::asBytes("sm-it-supplier"));
  crypto::PrivateKey app = crypto::PrivateKey::fromSecret(util::asBytes("sm-it-app"));
  crypto::PrivateKey gateway = crypto::PrivateKey::fromSecret(util::asBytes("sm-it-gateway"));
  std::vector<crypto::PublicKey> ring;
  std::string sessionId = std::string(64, 'd');
  net::CurveKeyPair managerKeys, edgeKeys;
  std::unique_ptr<ChildProcess> backend, manager, edge;
  std::string linkPort, adminPort, edgePort, managerLog;
  int generation = 0;
  CURL* curl = nullptr;
  std::mutex mutex;
  std::vector<util::Bytes> served;
};

}  // namespace

TEST_CASE("relay-edge → session-manager over CURVE: one tree with exactly the served relays, "
          "the same after a clean restart") {
  Stack s;
  s.startManager();
  s.startEdge();
  CURL* client = curl_easy_init();
  int n = 0;
  for (; n < 200; ++n) CHECK(s.serve(client, n));
  CHECK(s.treeMatchesServed());
  auto doc = s.status();
  REQUIRE(doc.is_object());
  CHECK(doc["sessions"][0]["relays"] == 200);
  CHECK(doc["sessions"][0]["computeUnits"] == 1400);
  REQUIRE(doc["edges"].size() == 1);
  CHECK(doc["edges"][0]["edgeId"] == "edge-1");
  CHECK(doc["edges"][0]["connected"] == true);
  CHECK(readFile(s.managerLog).find("event=link_peer_accepted") != std::string::npos);
#if !defined(__SANITIZE_ADDRESS__)
  // Built on jemalloc (the sanitizer builds bring their own allocator): freed memory is handed
  // back on the manager's schedule, not the allocator's default.
  CHECK(readFile(s.managerLog).find("event=allocator_tuned") != std::string::npos);
#endif
  // The threads carry the names the operator guide lists for `top -H`.
  {
    std::set<std::string> names;
    auto tasks = std::filesystem::path("/proc") / std::to_string(s.manager->pid()) / "task";
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      std::string name = readFile(task.path() / "comm");
      if (!name.empty() && name.back() == '\n') name.pop_back();
      names.insert(name);
    }
    for (const char* expected : {"sm-link", "sm-ingest", "sm-lookup", "sm-trees", "trees-commit",
                                 "sm-reaper", "sm-blocks", "sm-queries", "zap"}) {
      INFO("thread " << expected);
      CHECK(names.count(expected) == 1);
    }
  }
  // The ack path runs ahead of background work (threads.ack_path_nice -10 and
  // threads.background_nice 10 by default), or the refusal to raise it is in the log.
  {
    auto nices = pocket::testing::threadNices(s.manager->pid());
    std::string all;
    for (const auto& [name, nice] : nices) all += name + "=" + std::to_string(nice) + " ";
    INFO("threads: " << all);
    // Every thread whose name starts with `prefix` has `nice`; there is at least one.
    auto allAt = [&](const std::string& prefix, int nice) {
      int found = 0;
      for (const auto& [name, value] : nices) {
        if (name.rfind(prefix, 0) != 0) continue;
        ++found;
        if (value != nice) return false;
      }
      return found > 0;
    };
    bool raised = pocket::testing::mayRaiseThreadsTo(-10);
    for (std::string ackPath : {"sm-link", "sm-ingest", "ZMQbg/IO/"}) {
      INFO("thread " << ackPath);
      CHECK(allAt(ackPath, raised ? -10 : 0));
    }
    if (!raised) {
      CHECK(readFile(s.managerLog).find("event=thread_priority_not_set thread=sm-ingest") !=
            std::string::npos);
    }
    for (std::string background : {"sm-trees", "trees-commit", "sm-reaper"}) {
      INFO("thread " << background);
      CHECK(allAt(background, 10));
    }
    // threads.background_idle (on by default): the tree threads take a core only when nothing
    // else wants it.
    auto policies = pocket::testing::threadPolicies(s.manager->pid());
    // A missing thread fails here rather than reading as SCHED_OTHER (0).
    auto policyOf = [&](const std::string& name) {
      auto it = policies.find(name);
      return it == policies.end() ? -1 : it->second;
    };
    for (std::string idle : {"sm-trees", "trees-commit"}) {
      INFO("thread " << idle);
      CHECK(policyOf(idle) == SCHED_IDLE);
    }
    CHECK(policyOf("sm-ingest") == SCHED_OTHER);
    CHECK(policyOf("sm-reaper") == SCHED_OTHER);
    CHECK(allAt("sm-blocks", 0));  // the rest keep the process's priority
  }

  // `session-manager status` prints the same as tables.
  {
    auto status = pocket::testing::runToEnd({gManager, "status", "--admin", "127.0.0.1:" + s.adminPort},
                                            s.dir / "status.txt");
    CHECK(status.status == 0);
    std::string text = status.output;
    CHECK(text.find("SESSIONS (1)") != std::string::npos);
    CHECK(text.find(s.sessionId) != std::string::npos);
    CHECK(text.find("edge-1") != std::string::npos);
  }

  // /metrics after that traffic, as Prometheus' linter reads it.
  {
    auto [code, exposition] = http(s.curl, "http://127.0.0.1:" + s.adminPort + "/metrics", nullptr);
    REQUIRE(code == 200);
    auto verdict = pocket::testing::promtoolCheckMetrics(exposition, s.dir / "metrics.txt");
    INFO("promtool says:\n" << verdict.complaints);
    CHECK(verdict.clean());
  }

  CHECK(s.manager->terminate() == 0);  // a clean stop: exit status 0
  s.startManager();
  CHECK(s.treeMatchesServed());
  for (int end = n + 100; n < end; ++n) CHECK(s.serve(client, n));  // the edge reconnected
  CHECK(s.treeMatchesServed());
  curl_easy_cleanup(client);
}

TEST_CASE("kill -9 of the session manager before its write, after it, and before its ack: every "
          "served relay is in the tree exactly once") {
  Stack s;
  s.startManager();
  s.startEdge();
  std::atomic<bool> stop{false};
  std::atomic<int> next{0};
  std::thread load([&] {
    CURL* client = curl_easy_init();
    while (!stop.load()) s.serve(client, next.fetch_add(1));
    curl_easy_cleanup(client);
  });
  for (std::string point : {"before_write", "after_write", "before_ack"}) {
    CAPTURE(point);
    s.manager->terminate();
    s.startManager({"--crash-at", point + ":3"});
    // The third group commit after this start kills it at that point.
    auto crashed = s.manager->exitCode(pocket::testing::kGenerous);
    REQUIRE(crashed.has_value());
    CHECK(*crashed < 0);  // ended by a signal
    CHECK(readFile(s.managerLog).find("event=crash_injected") != std::string::npos);
    s.startManager();
    std::size_t before;
    {
      std::lock_guard lock(s.mutex);
      before = s.served.size();
    }
    // Relays keep flowing after the restart.
    REQUIRE(waitFor([&] {
      std::lock_guard lock(s.mutex);
      return s.served.size() >= before + 50;
    }, "relays to flow after the restart"));
  }
  stop = true;
  load.join();
  CHECK(s.treeMatchesServed());
  auto doc = s.status();
  REQUIRE(doc.is_object());
  std::lock_guard lock(s.mutex);
  CHECK(doc["sessions"][0]["relays"] == s.served.size());
  MESSAGE("served " << s.served.size());
}

TEST_CASE("an edge whose key is not on the allow-list is refused") {
  Stack s;
  s.startManager();
  auto stranger = net::generateCurveKeyPair();
  net::writeCurveKeyPairFile(s.dir / "stranger.key", stranger);
  ChildProcess driver("link-driver",
                      {gDriver, "--spool", s.dir / "driver-spool", "--endpoint",
                       "tcp://127.0.0.1:" + s.linkPort, "--count", "3", "--key",
                       s.dir / "stranger.key", "--server-key", s.dir / "sm.pub", "--wait-ms", "3000"},
                      s.dir / "driver.log");
  CHECK(waitFor([&] {
    return readFile(s.managerLog).find("event=link_peer_refused") != std::string::npos;
  }, "the manager to log link_peer_refused"));
  auto driverExit = driver.exitCode(pocket::testing::kGenerous);
  REQUIRE(driverExit.has_value());
  CHECK(*driverExit == 1);  // nothing was acked
  auto doc = s.status();
  REQUIRE(doc.is_object());
  CHECK(doc["edges"].empty());
  CHECK(doc["sessions"].empty());
}

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: sm_integration_test <session-manager> <relay-edge> <relay-test-backend> "
                 "<link-driver>\n");
    return 2;
  }
  gManager = argv[1];
  gEdge = argv[2];
  gBackend = argv[3];
  gDriver = argv[4];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  doctest::Context context;
  context.applyCommandLine(argc - 4, argv + 4);
  int rc = context.run();
  curl_global_cleanup();
  return rc;
}
