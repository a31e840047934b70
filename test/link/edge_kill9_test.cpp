// kill -9 of the real relay-edge under relay load (docs/architecture.md §5, "Nothing mined is lost"): signed
// relays from several client threads, the edge killed with SIGKILL three times while serving and
// started again on the same spool; afterwards every relay the edge answered with a signed response
// is at the session-manager double exactly once by relay hash.
//
// Arguments: <relay-edge> <relay-test-backend> <sm-double> [doctest args]

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
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

#include <doctest.h>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/crypto/ring.h"
#include "common/protocol/http_payload.h"
#include "common/protocol/relay.h"
#include "common/util/hex.h"
#include "test/link/test_support.h"

extern char** environ;

using namespace std::chrono_literals;
namespace crypto = pocket::crypto;
namespace protocol = pocket::protocol;
namespace util = pocket::util;

namespace {

std::string gEdge, gBackend, gDouble;

class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& logPath) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
  }
  ~Process() { kill9(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

template <class F>
bool waitFor(F predicate, std::chrono::milliseconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return predicate();
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// POSTs `body`; the HTTP status (0 on a transport failure) and the response body.
std::pair<long, std::string> post(CURL* curl, const std::string& url, const util::Bytes& body) {
  std::string response;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(body.data()));
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
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
    backend =
        std::make_unique<Process>(std::vector<std::string>{gBackend, "--listen", "127.0.0.1:0",
                                                           "--port-file", dir / "backend.port"},
                                  dir / "backend.log");
    REQUIRE(waitFor([&] { return std::filesystem::exists(dir / "backend.port"); }));
    std::filesystem::create_directories(dir / "sm");
    sm = std::make_unique<Process>(
        std::vector<std::string>{gDouble, "serve", "--bind", "tcp://127.0.0.1:*", "--out",
                                 dir / "sm", "--fixture", dir / "fixture.json", "--plaintext",
                                 "--port-file", dir / "sm.port", "--chain-interval-ms", "200"},
        dir / "sm.log");
    REQUIRE(waitFor([&] { return std::filesystem::exists(dir / "sm.port"); }));
    std::string smPort = readFile(dir / "sm.port");
    smPort.erase(smPort.find_last_not_of('\n') + 1);
    std::string backendPort = readFile(dir / "backend.port");
    backendPort.erase(backendPort.find_last_not_of('\n') + 1);
    std::ofstream(dir / "edge.yaml")
        << "listeners: [\"127.0.0.1:0\"]\n"
        << "admin_listener: \"127.0.0.1:0\"\n"
        << "threads: 2\n"
        << "suppliers:\n  - key_file: " << dir / "supplier.key"
        << "\n"
        << "link:\n  endpoint: \"tcp://127.0.0.1:" << smPort
        << "\"\n  plaintext: true\n  edge_id: kill9\n"
        << "spool:\n  directory: " << dir / "spool"
        << "\n"
        << "services:\n  svc:\n    backend:\n      url: http://127.0.0.1:" << backendPort << "\n";
  }

  static void writeKey(const std::string& path, const crypto::PrivateKey& key) {
    std::ofstream(path) << util::toHex(key.bytes()) << "\n";
    ::chmod(path.c_str(), 0600);
  }

  // Starts (or restarts) the edge and returns its relay port once it listens.
  int startEdge(int generation) {
    std::string log = dir / ("edge-" + std::to_string(generation) + ".log");
    edge = std::make_unique<Process>(std::vector<std::string>{gEdge, "--config", dir / "edge.yaml"},
                                     log);
    std::smatch m;
    std::regex listening("listener=127.0.0.1:(\\d+) admin=127.0.0.1:(\\d+)");
    std::string text;
    REQUIRE(waitFor([&] {
      text = readFile(log);
      return std::regex_search(text, m, listening);
    }));
    return std::stoi(m[1]);
  }

  util::Bytes signedRelay(int n) const {
    protocol::PoktHttpRequest http;
    http.method = "POST";
    http.url = "https://gateway.example/v1";
    http.body = util::toBytes(R"({"jsonrpc":"2.0","id":)" + std::to_string(n) +
                              R"(,"method":"eth_blockNumber"})");
    protocol::RelayRequest request;
    request.meta.sessionHeader =
        protocol::SessionHeader{app.publicKey().address(), "svc", sessionId, 11, 20};
    request.meta.supplierOperatorAddress = supplier.publicKey().address();
    request.payload = protocol::marshal(http);
    auto signature = crypto::signRing(gateway, ring, protocol::requestSignableHash(request));
    REQUIRE(signature.ok());
    request.meta.signature = crypto::encodeRingSignature(*signature);
    return protocol::marshal(request);
  }

  pocket::test::TempDir dir;
  crypto::PrivateKey supplier = crypto::PrivateKey::fromSecret(util::asBytes("kill9-supplier"));
  crypto::PrivateKey app = crypto::PrivateKey::fromSecret(util::asBytes("kill9-app"));
  crypto::PrivateKey gateway = crypto::PrivateKey::fromSecret(util::asBytes("kill9-gateway"));
  std::vector<crypto::PublicKey> ring;
  std::string sessionId = std::string(64, 'c');
  std::unique_ptr<Process> backend, sm, edge;
};

}  // namespace

TEST_CASE("kill -9 of relay-edge under load: every served relay reaches the manager exactly once") {
  Stack stack;
  const int total = 8000;
  std::vector<util::Bytes> requests;
  for (int n = 0; n < total; ++n) requests.push_back(stack.signedRelay(n));

  std::atomic<int> port{stack.startEdge(0)};
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::set<std::string> served;  // relay hashes of relays answered with a signed response
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      CURL* curl = curl_easy_init();
      while (!stop.load()) {
        int n = next.fetch_add(1);
        if (n >= total) break;
        auto [status, body] =
            post(curl, "http://127.0.0.1:" + std::to_string(port.load()) + "/", requests[n]);
        auto response = protocol::parseRelayResponse(util::asBytes(body));
        if (status != 200 || !response.ok() || response->relayMinerError) {
          ++failures;
          // The edge is being restarted: do not burn through the prepared relays meanwhile.
          if (status == 0) std::this_thread::sleep_for(5ms);
          continue;
        }
        auto request = protocol::parseRelayRequest(requests[n]);
        if (!request.ok()) std::abort();
        auto hash = protocol::relayHash(protocol::relayBytes(*request, *response));
        std::lock_guard<std::mutex> lock(mutex);
        served.insert(util::toHex(hash));
      }
      curl_easy_cleanup(curl);
    });
  }
  // Phases are counted in served relays, not in time, so that a fast edge does not use up the
  // prepared relays before the last restart: each edge serves at least 1,000 before it is killed.
  auto servedCount = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return served.size();
  };
  auto serveAtLeast = [&](std::size_t more) {
    std::size_t target = servedCount() + more;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (servedCount() < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
  };
  std::vector<std::size_t> servedAtKill;
  for (int generation = 1; generation <= 3; ++generation) {
    serveAtLeast(1000);
    servedAtKill.push_back(servedCount());
    stack.edge->kill9();
    port = stack.startEdge(generation);
  }
  serveAtLeast(1000);
  stop = true;
  for (auto& c : clients) c.join();

  // Each kill came while relays were being served.
  REQUIRE(servedAtKill.size() == 3);
  CHECK(servedAtKill[0] > 0);
  CHECK(servedAtKill[1] > servedAtKill[0]);
  CHECK(servedAtKill[2] > servedAtKill[1]);
  CHECK(servedAtKill[2] < served.size());  // and after the last restart

  std::multiset<std::string> received;
  std::size_t duplicates = 0;
  auto readReceived = [&] {
    received.clear();
    duplicates = 0;
    std::istringstream lines(readFile(stack.dir / "sm/received.log"));
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string kind, edge, spool, seq, hash;
      fields >> kind >> edge >> spool >> seq >> hash;
      if (kind == "R") received.insert(hash);
      if (kind == "H") ++duplicates;
    }
    for (const auto& h : served) {
      if (received.count(h) == 0) return false;
    }
    return true;
  };
  CHECK(waitFor(readReceived, 60s));
  std::size_t missing = 0;
  for (const auto& h : served) missing += received.count(h) == 0 ? 1 : 0;
  CHECK(missing == 0);
  std::size_t twice = 0;
  for (const auto& h : served) twice += received.count(h) > 1 ? 1 : 0;
  CHECK(twice == 0);
  std::set<std::string> unique(received.begin(), received.end());
  CHECK(unique.size() == received.size());
  CHECK(duplicates == 0);  // no relay was spooled twice
  MESSAGE("served " << served.size() << ", received " << received.size() << ", failed requests "
                    << failures.load());
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: edge_kill9_test <relay-edge> <relay-test-backend> <sm-double>\n");
    return 2;
  }
  gEdge = argv[1];
  gBackend = argv[2];
  gDouble = argv[3];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  doctest::Context context;
  context.applyCommandLine(argc - 3, argv + 3);
  int rc = context.run();
  curl_global_cleanup();
  return rc;
}
