// sm-claims-bench RPC_URL DEVNET_DIR SUPPLIERS WORKERS GAS_LIMIT
//
// Drives the session manager's transaction submitter as the lifecycle does at a claim window:
// waits for the claim-window-open block of the current session, then submits one claim tx per
// supplier (every supplier of the devnet is in the session) and reports each new height to the
// submitter until every claim is decided. Prints name=value lines:
//   sm_claims_<N>_suppliers_blocks   blocks from window open until the last claim's block
//   sm_claims_<N>_included           claims in a block with code 0
//   sm_claims_<N>_not_included       claims decided otherwise (failed, rejected, expired)
//   sm_claims_<N>_broadcast_ms       from the window-open block being seen to every claim
//                                    signed, simulated and broadcast
// The devnet comes from `pocket-devnet init DEVNET_DIR --suppliers N` (bench/sm_claims/run).

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <fmt/format.h>

#include "common/chain/chain_queries.h"
#include "common/chain/node_client.h"
#include "common/crypto/keys.h"
#include "common/protocol/session.h"
#include "common/protocol/tx.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "pocket/session/types.pb.h"
#include "session-manager/tx_node.h"
#include "session-manager/tx_submitter.h"

namespace {

using namespace pocket;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::cerr << "sm-claims-bench: " << what << "\n";
  std::exit(1);
}

crypto::PrivateKey loadKey(const std::string& path) {
  auto key = crypto::loadPrivateKeyFile(path);
  if (!key) die(key.error().message);
  return *key;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr const char* kUsage =
      "usage: sm-claims-bench RPC_URL DEVNET_DIR SUPPLIERS WORKERS GAS_LIMIT\n"
      "Claims of every supplier of a pocket-devnet through the transaction submitter at a claim\n"
      "window open (bench/sm_claims/run starts the devnet); GAS_LIMIT 0 = simulate.\n";
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  if (argc != 6) {
    std::cerr << kUsage;
    return 2;
  }
  std::string rpcUrl = argv[1];
  std::string dir = argv[2];
  std::size_t suppliers = std::stoul(argv[3]);
  std::size_t workers = std::stoul(argv[4]);
  std::uint64_t gasLimit = std::stoull(argv[5]);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  util::LogSink log(stderr, util::LogLevel::error);
  util::MetricsRegistry metrics;
  chain::NodeClientConfig nodeConfig;
  nodeConfig.rpcUrl = rpcUrl;
  chain::NodeClient node(nodeConfig, metrics, log);
  chain::ChainQueries queries(node, metrics, log);
  sm::NodeTxChain txChain(node, queries);

  std::vector<crypto::PrivateKey> keys;
  for (std::size_t i = 1; i <= suppliers; ++i) {
    keys.push_back(loadKey(fmt::format("{}/keys/supplier-{}-operator.key", dir, i)));
  }
  std::string application = loadKey(dir + "/keys/application-1.key").publicKey().address();

  sm::TxSubmitterOptions options;
  options.chainId = "pocket";
  options.directory = dir + "/txs";
  options.fallbackGasPrice = *sm::GasPrice::parse("0.000001");
  options.broadcastWorkers = workers;
  options.constantGasLimit = gasLimit;
  sm::ChainTxSubmitter submitter(options, keys, txChain, log, metrics);

  auto status = [&] {
    auto s = node.status();
    if (!s) die("status: " + s.error().message);
    return *s;
  };
  // The session of application-1 in progress, and its claim window.
  std::int64_t h0 = status().latestBlockHeight;
  while (h0 < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    h0 = status().latestBlockHeight;
  }
  auto session = queries.session(application, "anvil", h0);
  if (!session) die("GetSession: " + session.error().message);
  if (session->suppliers.size() != suppliers) {
    die(fmt::format("the session holds {} suppliers, not {}", session->suppliers.size(),
                    suppliers));
  }
  auto params = queries.sharedParams();
  if (!params) die("shared params: " + params.error().message);
  auto windows = protocol::sessionWindows(*params, session->header.sessionEndBlockHeight);
  if (!windows) die("windows: " + windows.error().message);

  // The claims, built before the window opens (the lifecycle flushes its trees then too).
  const session::SessionHeader header = protocol::toProtoSessionHeader(session->header);
  std::vector<sm::TxRequest> requests;
  for (std::size_t i = 0; i < suppliers; ++i) {
    util::Bytes root(48, 0);
    for (std::size_t b = 0; b < 32; ++b) root[b] = static_cast<std::uint8_t>(i * 31 + b);
    root[39] = 1;  // sum = 1 compute unit
    root[47] = 1;  // count = 1 relay
    protocol::SessionClaim claim{&header, root};
    std::string address = keys[i].publicKey().address();
    auto messages = protocol::claimMessages(address, std::span(&claim, 1));
    if (!messages) die("claim: " + messages.error().message);
    requests.push_back(
        sm::TxRequest{fmt::format("claim/{}/{}/0", address, windows->claimWindowOpen), address,
                      std::move(*messages), windows->claimWindowClose});
  }

  // Window open: the block claimWindowOpen is committed.
  // Every height before the window is reported, as the lifecycle does (the submitter reads the
  // signers' accounts then, not when the window opens).
  chain::NodeStatus head;
  std::int64_t seen = 0;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    head = status();
    if (head.latestBlockHeight > seen && head.latestBlockHeight < windows->claimWindowOpen) {
      seen = head.latestBlockHeight;
      submitter.onBlock(seen, head.latestBlockTime.seconds * 1000);
    }
  } while (head.latestBlockHeight < windows->claimWindowOpen);
  auto opened = Clock::now();
  std::int64_t openHeight = head.latestBlockHeight;
  submitter.onBlock(openHeight, head.latestBlockTime.seconds * 1000);
  for (const auto& r : requests) {
    auto s = submitter.submit(r);
    if (!s) die("submit: " + s.error().message);
  }
  submitter.waitIdle();
  double broadcastMs = std::chrono::duration<double, std::milli>(Clock::now() - opened).count();

  std::map<std::string, sm::TxOutcome> decided;
  std::int64_t told = openHeight;
  while (decided.size() < suppliers) {
    head = status();
    if (head.latestBlockHeight > windows->claimWindowClose + 3) break;
    if (head.latestBlockHeight == told) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    told = head.latestBlockHeight;
    for (auto& o : submitter.onBlock(told, head.latestBlockTime.seconds * 1000)) {
      decided.emplace(o.id, o);
    }
  }
  std::size_t included = 0;
  std::int64_t lastHeight = 0;
  std::map<std::string, std::size_t> others;
  for (const auto& [id, o] : decided) {
    if (o.kind == sm::TxOutcomeKind::kIncluded) {
      ++included;
      lastHeight = std::max(lastHeight, o.height);
    } else {
      ++others[std::string(sm::txOutcomeKindName(o.kind)) + ": " + o.reason];
    }
  }
  for (const auto& [what, n] : others) std::cerr << n << " × " << what << "\n";
  std::printf("sm_claims_%zu_suppliers_blocks=%lld\n", suppliers,
              static_cast<long long>(included == suppliers ? lastHeight - openHeight : -1));
  std::printf("sm_claims_%zu_included=%zu\n", suppliers, included);
  std::printf("sm_claims_%zu_not_included=%zu\n", suppliers, suppliers - included);
  std::printf("sm_claims_%zu_broadcast_ms=%.0f\n", suppliers, broadcastMs);
  std::printf("sm_claims_window_open_height=%lld\n", static_cast<long long>(openHeight));
  std::printf("sm_claims_gas=%s\n", gasLimit == 0 ? "simulate" : std::to_string(gasLimit).c_str());
  std::printf("sm_claims_workers=%zu\n", workers);
  node.stop();
  return included == suppliers ? 0 : 1;
}
