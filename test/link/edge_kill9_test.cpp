// kill -9 of the real relay-edge under relay load (docs/architecture.md §5, "Nothing mined is lost"): signed
// relays from several client threads, the edge killed with SIGKILL three times while serving and
// started again on the same spool; afterwards every relay the edge answered with a signed response
// is at the session manager exactly once by relay hash. Run against sm-double (which reports every
// relay hash it received) and against the real session-manager (whose session tree must hold them).
//
// The processes run on the test harness (test/support/).

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <curl/curl.h>

#include <doctest.h>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/crypto/ring.h"
#include "common/protocol/http_payload.h"
#include "common/protocol/relay.h"
#include "common/util/hex.h"
#include "test/gateway/relay_builder.h"
#include "test/support/stack.h"

using namespace std::chrono_literals;
namespace crypto = pocket::crypto;
namespace protocol = pocket::protocol;
namespace util = pocket::util;
namespace testing = pocket::testing;

namespace {

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

// libcurl's global state, for the lifetime of a test (before any client thread starts).
struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

struct Stack {
  explicit Stack(testing::ManagerKind manager) {
    ring = crypto::expectedRingKeys(app.publicKey(),
                                    std::vector<crypto::PublicKey>{gateway.publicKey()});
    testing::SessionFixture fixture;
    fixture.height = 15;
    fixture.sessions = {testing::ringSession(app.publicKey(), {gateway.publicKey()}, "svc",
                                             sessionId, 11, 20, {supplier.publicKey().address()})};
    fixture.sessions[0].computeUnitsPerRelay = 7;
    testing::EdgeConfigFile edge;
    edge.supplierKeyFiles = {"supplier"};
    edge.edgeId = "kill9";
    edge.services = {{.id = "svc"}};
    running = testing::StackBuilder("edge-kill9")
                  .key("supplier", supplier)
                  .fixture(fixture)
                  .manager(manager)
                  .edge(edge)
                  .start();
  }

  // Kills the edge with SIGKILL and starts it again on the same spool; returns its new relay port.
  int restartEdge() {
    running->edge().kill9();
    running->edge().restart();
    return running->edge().relayPort();
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

  crypto::PrivateKey supplier = crypto::PrivateKey::fromSecret(util::asBytes("kill9-supplier"));
  crypto::PrivateKey app = crypto::PrivateKey::fromSecret(util::asBytes("kill9-app"));
  crypto::PrivateKey gateway = crypto::PrivateKey::fromSecret(util::asBytes("kill9-gateway"));
  std::vector<crypto::PublicKey> ring;
  std::string sessionId = std::string(64, 'c');
  std::unique_ptr<testing::Stack> running;
};

}  // namespace

TEST_CASE("kill -9 of relay-edge under load: every served relay reaches the manager exactly once") {
  CurlGlobal curlGlobal;
  for (auto manager : testing::kBothManagers) {
  INFO("session manager: ", std::string(testing::managerName(manager)));
  Stack stack(manager);
  const int total = 8000;
  std::vector<util::Bytes> requests;
  for (int n = 0; n < total; ++n) requests.push_back(stack.signedRelay(n));

  std::atomic<int> port{stack.running->edge().relayPort()};
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
          if (status == 0) std::this_thread::sleep_for(50ms);
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
    auto deadline = std::chrono::steady_clock::now() + testing::kGenerous;
    while (servedCount() < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
  };
  std::vector<std::size_t> servedAtKill;
  for (int generation = 1; generation <= 3; ++generation) {
    serveAtLeast(1000);
    servedAtKill.push_back(servedCount());
    port = stack.restartEdge();
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

  if (manager == testing::ManagerKind::real) {
    // The real manager keeps one leaf per relay hash: the session's tree holds every served relay
    // (and only relays the edge mined: each of 7 compute units), and none arrived twice by hash.
    auto atManager = [&] { return stack.running->managerSessions()[stack.sessionId]; };
    CHECK(testing::waitFor([&] { return atManager().relays >= served.size(); }, 120s,
                           "every served relay at the session manager"));
    auto tally = atManager();
    CHECK(tally.relays >= served.size());
    CHECK(tally.relays <= static_cast<std::uint64_t>(total));
    CHECK(tally.computeUnits == 7 * tally.relays);
    CHECK(stack.running->manager->metric("sm_relays_duplicate_total{kind=\"relay_hash\"}") <= 0);
    MESSAGE("served " << served.size() << ", in the tree " << tally.relays << ", failed requests "
                      << failures.load());
    continue;
  }
  std::multiset<std::string> received;
  std::size_t duplicates = 0;
  auto readReceived = [&] {
    received.clear();
    duplicates = 0;
    auto log = stack.running->sm->received();
    received = log.accepted;
    duplicates = log.duplicates;
    for (const auto& h : served) {
      if (received.count(h) == 0) return false;
    }
    return true;
  };
  CHECK(testing::waitFor(readReceived, 120s, "every served relay at the session manager"));
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
}

