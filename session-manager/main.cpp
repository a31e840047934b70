// session-manager: owns every session tree of a supplier fleet (docs/architecture.md). Edges deliver their
// mined relays over the link; the session manager makes them durable, keeps one sparse Merkle sum
// trie per (supplier, session), and feeds the edges the chain facts they need.
//
//   session-manager run --config FILE [--crash-at POINT:N]
//   session-manager check-config FILE
//   session-manager status [--admin HOST:PORT | --config FILE] [--json]
//   session-manager keygen KEY_PAIR_FILE PUBLIC_KEY_FILE
//
// main() builds every component and hands each its dependencies; reading run() shows the program.
// SIGTERM / SIGINT: stop taking batches, finish the queued ones, commit the trees, exit 0.
// --crash-at before_write|after_write|before_ack:N kills the process with SIGKILL at that point
// of the N-th group commit; --crash-at before_claim_broadcast|after_claim_broadcast|
// before_proof_broadcast|after_proof_broadcast at that step of the first claim or proof tx
// (lifecycle.h). Fault injection for the crash tests; never for production.

#include <cstdio>
#include <future>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <curl/curl.h>

#include "common/chain/block_feed.h"
#include "common/chain/chain_queries.h"
#include "common/chain/node_client.h"
#include "common/chain/node_health.h"
#include "common/crypto/keys.h"
#include "common/net/curve_keys.h"
#include "common/util/allocator.h"
#include "common/util/log.h"
#include "common/util/process_signals.h"
#include "common/util/metrics.h"
#include "edge/event_loops.h"
#include "edge/http_server.h"
#include "session-manager/chain_feed.h"
#include "session-manager/config.h"
#include "session-manager/fixture_chain.h"
#include "session-manager/ingest.h"
#include "session-manager/lifecycle.h"
#include "session-manager/lifecycle_chain.h"
#include "session-manager/link_server.h"
#include "session-manager/node_chain.h"
#include "session-manager/session_cache.h"
#include "session-manager/session_store.h"
#include "session-manager/status.h"
#include "session-manager/tx_node.h"
#include "session-manager/tx_submitter.h"

namespace {

using namespace pocket;

constexpr const char* kUsage =
    "usage: session-manager run --config FILE [--crash-at POINT:N]\n"
    "       session-manager check-config FILE\n"
    "       session-manager status [--admin HOST:PORT | --config FILE] [--json]\n"
    "       session-manager keygen KEY_PAIR_FILE PUBLIC_KEY_FILE\n"
    "       session-manager --help\n"
    "Configuration keys: docs/configuration.md; running one for a fleet: docs/operator-guide.md.\n";

// With a node, the chain feed reads the head itself every this many poll intervals, in case the
// block feed stalls (new blocks normally reach it through the block feed at once).
constexpr int kSafetyPollFactor = 5;

// Wrong arguments: the usage on stderr, exit status 2.
int usage() {
  return util::usageError(kUsage);
}

// The configured supplier operator keys. Throws naming the key path.
std::vector<crypto::PrivateKey> supplierKeys(const sm::Config& config) {
  std::vector<crypto::PrivateKey> out;
  for (std::size_t i = 0; i < config.suppliers.size(); ++i) {
    auto key = crypto::loadPrivateKeyFile(config.suppliers[i].keyFile);
    if (!key) {
      throw sm::ConfigError("suppliers[" + std::to_string(i) + "].key_file: " +
                            key.error().message);
    }
    out.push_back(*key);
  }
  return out;
}

// The operator addresses of the configured supplier keys. Throws naming the key path.
std::set<std::string> supplierAddresses(const sm::Config& config) {
  std::set<std::string> out;
  for (const auto& key : supplierKeys(config)) out.insert(key.publicKey().address());
  return out;
}


sm::TxSubmitterOptions txSubmitterOptions(const sm::Config& config) {
  sm::TxSubmitterOptions o;
  o.chainId = config.chain.chainId;
  o.directory = config.store.directory + "/txs";
  auto price = sm::GasPrice::parse(config.transactions.gasPrice);
  if (!price) throw sm::ConfigError("transactions.gas_price: " + price.error().message);
  o.fallbackGasPrice = *price;
  o.gasAdjustment = config.transactions.gasAdjustment;
  o.constantGasLimit = config.transactions.gasLimit;
  o.broadcastWorkers = config.transactions.broadcastWorkers;
  o.rebroadcastIntervalBlocks = config.transactions.rebroadcastIntervalBlocks;
  o.fallbackGasPerMessage = config.transactions.fallbackGasPerMessage;
  return o;
}

// The full node's client stack (absent in fixture mode).
struct NodeStack {
  NodeStack(const sm::Config& config, util::MetricsRegistry& metrics, util::LogSink& log)
      : health(healthConfig(config), metrics, log),
        node(nodeConfig(config), metrics, log, &health),
        queries(node, metrics, log),
        source(node, queries, health),
        txChain(node, queries),
        txs(txSubmitterOptions(config), supplierKeys(config), txChain, log, metrics) {}
  static chain::NodeHealthConfig healthConfig(const sm::Config& config) {
    chain::NodeHealthConfig c;
    c.expectedChainId = config.chain.chainId;
    return c;
  }
  static chain::NodeClientConfig nodeConfig(const sm::Config& config) {
    chain::NodeClientConfig c;
    c.rpcUrl = config.chain.rpcUrl;
    c.callTimeout = config.chain.timeout;
    return c;
  }
  chain::NodeHealth health;
  chain::NodeClient node;
  chain::ChainQueries queries;
  sm::NodeChain source;
  sm::NodeTxChain txChain;
  // Signs, sends and confirms claim and proof transactions (docs/transactions.md).
  sm::ChainTxSubmitter txs;
};

// The claim/proof lifecycle over the full node and its transaction submitter (absent with the
// fixture chain or `lifecycle.enabled: false`).
struct LifecycleStack {
  LifecycleStack(const sm::Config& config, NodeStack& nodeStack, sm::SessionStore& store, sm::Ingest& ingest,
                 util::LogSink& log, util::MetricsRegistry& metrics,
                 sm::LifecycleCrashPoint crashAt)
      : chain(nodeStack.source, nodeStack.node, nodeStack.queries),
        lifecycle(lifecycleOptions(config, crashAt), store, chain, nodeStack.txs,
                  onIngestThread(ingest), log, metrics) {}
  static sm::LifecycleOptions lifecycleOptions(const sm::Config& config,
                                               sm::LifecycleCrashPoint crashAt) {
    sm::LifecycleOptions o;
    o.crashAt = crashAt;
    o.profitabilityGate = config.lifecycle.profitabilityGate;
    o.retentionBlocks = config.lifecycle.retentionBlocks;
    return o;
  }
  // Tree flushes and removals run on the ingest thread, in order with the batches.
  static sm::Lifecycle::IngestRunner onIngestThread(sm::Ingest& ingest) {
    return [&ingest](std::function<void()> task) {
      std::promise<void> done;
      auto finished = done.get_future();
      ingest.post([&] {
        task();
        done.set_value();
      });
      finished.wait();
    };
  }
  sm::NodeLifecycleChain chain;
  sm::Lifecycle lifecycle;
};

// Checks everything run would load, without binding anything.
int checkConfig(const std::string& path) {
  auto config = sm::loadConfig(path);
  auto suppliers = supplierAddresses(config);
  if (!config.link.plaintext) {
    try {
      net::loadCurveKeyPairFile(config.link.serverKeyFile);
    } catch (const std::exception& e) {
      throw sm::ConfigError(std::string("link.server_key_file: ") + e.what());
    }
    try {
      auto keys = net::loadCurveAllowListFile(config.link.allowListFile);
      std::cout << "allow-list: " << keys.size() << " edge keys\n";
    } catch (const std::exception& e) {
      throw sm::ConfigError(std::string("link.allow_list_file: ") + e.what());
    }
  }
  if (!config.chain.fixture.empty()) {
    try {
      sm::FixtureChain chain(config.chain.fixture, config.chain.blockInterval);
    } catch (const std::exception& e) {
      throw sm::ConfigError(std::string("chain.fixture: ") + e.what());
    }
  }
  for (const auto& s : suppliers) std::cout << "supplier " << s << "\n";
  std::cout << "configuration ok\n";
  return 0;
}

int run(const sm::Config& config, sm::CrashPoint crashAt, std::uint64_t crashGroup,
        sm::LifecycleCrashPoint lifecycleCrash) {
  auto suppliers = supplierAddresses(config);
  util::LogSink log(stderr, config.logLevel, config.logFormat);

  // Signals go to the waiting thread only: block them before any thread starts.
  util::blockTerminationSignals();
  // After a burst (a large tree commit, a backlog of relays) the freed pages go back to the
  // system within a second instead of staying resident until the next burst.
  constexpr std::chrono::milliseconds kReleaseFreedAfter{1000};
  auto allocator = util::releaseFreedMemoryAfter(kReleaseFreedAfter);
  if (allocator.applied) {
    util::LogLine(log, util::LogLevel::info, "allocator_tuned")
        .kv("release_freed_after_ms", kReleaseFreedAfter.count());
  } else {
    util::LogLine(log, util::LogLevel::info, "allocator_default")
        .kv("reason", allocator.why + "; freed memory is returned on the allocator's own schedule");
  }

  util::MetricsRegistry metrics;
  std::unique_ptr<NodeStack> nodeStack;
  std::unique_ptr<sm::FixtureChain> fixture;
  sm::ChainSource* chain = nullptr;
  if (config.chain.fixture.empty()) {
    nodeStack = std::make_unique<NodeStack>(config, metrics, log);
    chain = &nodeStack->source;
  } else {
    fixture = std::make_unique<sm::FixtureChain>(config.chain.fixture, config.chain.blockInterval);
    chain = fixture.get();
  }
  sm::SessionStoreOptions storeOptions;
  storeOptions.backgroundNice = config.threads.backgroundNice;
  storeOptions.backgroundIdle = config.threads.backgroundIdle;
  sm::SessionStore store(config.store.directory, log, metrics, storeOptions);
  sm::SessionCache cache(*chain, log, metrics);

  // The link, the ingest and the chain feed call each other; each reaches the others through
  // these pointers, set before any thread starts.
  std::unique_ptr<sm::LinkServer> link;
  std::unique_ptr<sm::Ingest> ingest;
  std::unique_ptr<sm::ChainFeed> feed;
  std::unique_ptr<LifecycleStack> lifecycle;

  sm::IngestOptions ingestOptions;
  ingestOptions.suppliers = suppliers;
  ingestOptions.treeCommitInterval = config.store.treeCommitInterval;
  ingestOptions.threadNice = config.threads.ackPathNice;
  ingestOptions.crashAt = crashAt;
  ingestOptions.crashAtGroup = crashGroup;
  ingest = std::make_unique<sm::Ingest>(
      ingestOptions, store, cache, [&feed] { return feed->height(); },
      [&link](sm::IngestOutcome outcome) { link->sendAck(outcome); }, log, metrics);

  sm::ChainFeedCallbacks callbacks;
  callbacks.newHead = [&link, &lifecycle](const sm::ChainHead& head) {
    link->broadcastChainState(head);
    if (lifecycle) lifecycle->lifecycle.onHead(head.height, head.blockTimeUnixMs);
  };
  callbacks.sessionChanged = [&link](const sm::SessionFacts& f) { link->broadcastSessionInfo(f); };
  callbacks.answer = [&link](const sm::SessionQueryRequest& q, const sm::SessionFacts& f) {
    link->sendSessionInfo(q.peer, f, q.queryId);
  };
  callbacks.refuse = [&link](const sm::SessionQueryRequest& q, const std::string& reason,
                             bool transient) { link->sendSessionQueryFailed(q, reason, transient); };
  // With the lifecycle on, it removes trees after their settlement and retention instead.
  callbacks.height = [&ingest, &lifecycle](std::int64_t height) {
    if (!lifecycle) ingest->expireBefore(height);
  };
  std::string lifecycleOff;
  if (!nodeStack) {
    lifecycleOff = "the fixture chain takes no transactions";
  } else if (!config.lifecycle.enabled) {
    lifecycleOff = "lifecycle.enabled is false";
  } else {
    lifecycle = std::make_unique<LifecycleStack>(config, *nodeStack, store, *ingest, log, metrics,
                                                 lifecycleCrash);
  }
  // With a node, new blocks are announced by the block feed (below) and the chain feed's own
  // reads of the head are only a safety net; the static chain has no feed to announce them.
  auto headPoll = nodeStack ? config.chain.pollInterval * kSafetyPollFactor : config.chain.pollInterval;
  feed = std::make_unique<sm::ChainFeed>(headPoll, *chain, cache, callbacks, log, metrics);
  std::unique_ptr<chain::BlockFeed> blocks;
  if (nodeStack) {
    chain::BlockFeedConfig blockConfig;
    blockConfig.websocketUrl = config.chain.websocketUrl;
    blockConfig.pollInterval = config.chain.pollInterval;
    blockConfig.connectTimeout = config.chain.timeout;
    blocks = std::make_unique<chain::BlockFeed>(
        blockConfig, nodeStack->node,
        [&feed](const chain::NewBlock& block) { feed->newBlockAnnounced(block.height); }, metrics,
        log);
    if (blockConfig.websocketUrl.empty()) {
      util::LogLine(log, util::LogLevel::info, "chain_subscription_off")
          .kv("reason", "no WebSocket URL (chain.websocket_url is none, or it cannot be derived "
                        "from chain.rpc_url): new blocks are found by polling status")
          .kv("poll_interval_ms", config.chain.pollInterval.count());
    }
  }

  sm::LinkServerOptions linkOptions;
  linkOptions.bind = config.link.bind;
  linkOptions.plaintext = config.link.plaintext;
  linkOptions.serverKeyFile = config.link.serverKeyFile;
  linkOptions.allowListFile = config.link.allowListFile;
  linkOptions.heartbeatIntervalMs = config.link.heartbeatIntervalMs;
  linkOptions.threadNice = config.threads.ackPathNice;
  sm::LinkHandlers handlers;
  handlers.highWater = [&store](const sm::EdgeKey& edge) { return store.highWater(edge); };
  handlers.head = [&feed] { return feed->head(); };
  handlers.ingest = [&ingest](sm::IngestBatch batch) { ingest->submit(std::move(batch)); };
  handlers.sessionQuery = [&feed](sm::SessionQueryRequest q) { feed->submitQuery(std::move(q)); };
  link = std::make_unique<sm::LinkServer>(linkOptions, handlers, log, metrics);

  sm::StatusSources status;
  status.head = [&feed] { return feed->head(); };
  status.headAgeMs = [&feed] { return feed->headReadAgeMs(); };
  status.trees = [&store] { return store.summaries(); };
  status.edges = [&link] { return link->edges(); };
  status.chainMode = config.chain.fixture.empty() ? "node" : "fixture";
  if (lifecycle) {
    status.lifecycle = [&lifecycle] { return lifecycle->lifecycle.sessions(); };
  } else {
    status.lifecycleOff = lifecycleOff;
  }
  if (nodeStack) {
    status.nodeHealth = [&nodeStack] {
      auto report = nodeStack->health.evaluate();
      return std::make_pair(report.healthy, report.summary());
    };
  }
  edge::EventLoops adminLoop(1);
  edge::ServerLimits adminLimits;
  adminLimits.maxBodyBytes = 4096;
  edge::HttpServer admin(adminLoop, edge::Endpoint{config.admin.host, config.admin.port},
                         adminLimits, sm::makeAdminHandler(metrics, status), metrics, "admin",
                         log);

  feed->start();
  if (blocks) blocks->start();
  ingest->start();
  if (lifecycle) lifecycle->lifecycle.start();
  link->start();
  admin.start();
  adminLoop.start();
  util::LogLine(log, util::LogLevel::info, "sm_started")
      .kv("link", link->endpoint())
      .kv("admin", config.admin.host + ":" + std::to_string(admin.port()))
      .kv("suppliers", suppliers.size())
      .kv("chain", status.chainMode)
      .kv("height", feed->height());
  if (!lifecycle) {
    util::LogLine(log, util::LogLevel::warn, "lifecycle_off")
        .kv("reason", lifecycleOff + "; no claims or proofs are submitted");
  }

  int signal = util::waitForTerminationSignal();
  util::LogLine(log, util::LogLevel::info, "sm_stopping").kv("signal", signal);
  link->stop();    // no new batches
  if (blocks) blocks->stop();  // before the chain feed it announces blocks to
  feed->stop();
  if (lifecycle) lifecycle->lifecycle.stop();  // before the ingest: it may wait on an ingest task
  ingest->stop();  // finishes the queued ones (their acks are not sent) and commits the trees
  lifecycle.reset();
  if (nodeStack) nodeStack->node.stop();
  adminLoop.stop();
  adminLoop.join();
  util::LogLine(log, util::LogLevel::info, "sm_stopped");
  return 0;
}

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

int status(const std::vector<std::string>& args) {
  std::string admin;
  bool asJson = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      asJson = true;
    } else if (args[i] == "--admin" && i + 1 < args.size()) {
      admin = args[++i];
    } else if (args[i] == "--config" && i + 1 < args.size()) {
      auto config = sm::loadConfig(args[++i]);
      admin = config.admin.host + ":" + std::to_string(config.admin.port);
    } else {
      return usage();
    }
  }
  if (admin.empty()) admin = "127.0.0.1:9465";
  std::string url = "http://" + admin + "/status";
  std::string body;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK || code != 200) {
    std::cerr << "session-manager status: " << url << ": "
              << (rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP " + std::to_string(code))
              << "\n";
    return 1;
  }
  sm::printStatus(nlohmann::json::parse(body), asJson, std::cout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  try {
    const std::string& command = args[0];
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kUsage;
      return 0;
    }
    if (command == "keygen" && args.size() == 3) {
      auto keys = net::generateCurveKeyPair();
      net::writeCurveKeyPairFile(args[1], keys);
      net::writeCurvePublicKeyFile(args[2], keys.publicKey);
      std::cout << "public-key = " << keys.publicKey << "\n";
      return 0;
    }
    if (command == "check-config" && args.size() == 2) return checkConfig(args[1]);
    if (command == "status") return status({args.begin() + 1, args.end()});
    if (command != "run") return usage();
    std::string configPath;
    sm::CrashPoint crashAt = sm::CrashPoint::none;
    std::uint64_t crashGroup = 0;
    sm::LifecycleCrashPoint lifecycleCrash = sm::LifecycleCrashPoint::none;
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--config" && i + 1 < args.size()) {
        configPath = args[++i];
      } else if (args[i] == "--crash-at" && i + 1 < args.size()) {
        std::string spec = args[++i];
        auto colon = spec.find(':');
        std::string point = spec.substr(0, colon);
        if (point == "before_write") crashAt = sm::CrashPoint::beforeWrite;
        else if (point == "after_write") crashAt = sm::CrashPoint::afterWrite;
        else if (point == "before_ack") crashAt = sm::CrashPoint::beforeAck;
        else if (point == "before_claim_broadcast")
          lifecycleCrash = sm::LifecycleCrashPoint::beforeClaimBroadcast;
        else if (point == "after_claim_broadcast")
          lifecycleCrash = sm::LifecycleCrashPoint::afterClaimBroadcast;
        else if (point == "before_proof_broadcast")
          lifecycleCrash = sm::LifecycleCrashPoint::beforeProofBroadcast;
        else if (point == "after_proof_broadcast")
          lifecycleCrash = sm::LifecycleCrashPoint::afterProofBroadcast;
        else return usage();
        crashGroup = colon == std::string::npos ? 1 : std::stoull(spec.substr(colon + 1));
      } else {
        return usage();
      }
    }
    if (configPath.empty()) return usage();
    return run(sm::loadConfig(configPath), crashAt, crashGroup, lifecycleCrash);
  } catch (const sm::ConfigError& e) {
    std::cerr << "session-manager: configuration error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "session-manager: " << e.what() << "\n";
    return 1;
  }
}
