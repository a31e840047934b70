// relay-edge: serves relays for the suppliers whose operator keys it holds (docs/architecture.md §2).
//
//   relay-edge --config edge.yaml            run
//   relay-edge --config edge.yaml --check    validate the configuration and the key files, then exit
//
// main() builds every component and hands each its dependencies; reading it shows the program.
// SIGTERM / SIGINT: stop accepting, finish the relays in flight (limits.shutdown_grace_ms at most),
// let the link deliver what the spool holds within the same grace, then exit 0.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "common/crypto/keys.h"
#include "common/util/log.h"
#include "common/util/process_signals.h"
#include "common/util/metrics.h"
#include "edge/admin.h"
#include "edge/config.h"
#include "edge/event_loops.h"
#include "edge/http_server.h"
#include "edge/link/chain_facts.h"
#include "edge/link/edge_link.h"
#include "edge/link/spool.h"
#include "edge/relay_service.h"

namespace {

using namespace pocket;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: relay-edge --config FILE [--check]\n"
    "  --config FILE   the edge's configuration (edge.yaml; docs/configuration.md)\n"
    "  --check         validate the configuration and the key files, then exit (0: valid)\n"
    "  --help          this text\n"
    "Serves relays for the suppliers whose keys it holds; SIGTERM or SIGINT stops it after the\n"
    "relays in flight. docs/operator-guide.md shows how to run one.\n";

int usage() {
  return util::usageError(kUsage);
}

void registerLinkMetrics(util::MetricsRegistry& m, edge::EdgeLink& link, edge::Spool& spool,
                         edge::ChainFacts& facts) {
  m.gaugeFunction("edge_link_connected", "1 while the link to the session manager is up.",
                  [&link] { return link.connected() ? 1.0 : 0.0; });
  m.gaugeFunction("edge_link_last_chain_state_timestamp_seconds",
                  "Unix time at which the last chain state arrived (0 before the first).",
                  [&link] { return static_cast<double>(link.lastChainStateUnixMs()) / 1000.0; });
  m.counterFunction("edge_link_connects_total", "Connections to the session manager.",
                    [&link] { return link.connectsTotal(); });
  m.counterFunction("edge_link_disconnects_total", "Lost connections to the session manager.",
                    [&link] { return link.disconnectsTotal(); });
  m.counterFunction("edge_link_auth_failures_total",
                    "CURVE handshakes with the session manager that failed.",
                    [&link] { return link.authFailuresTotal(); });
  m.counterFunction("edge_link_chain_states_received_total",
                    "Chain states (height, block, shared params) received from the session manager.",
                    [&link] { return link.chainStatesTotal(); });
  m.counterFunction("edge_link_batches_sent_total", "Batches of mined relays sent.",
                    [&link] { return link.batchesSentTotal(); });
  m.counterFunction("edge_link_relays_sent_total", "Mined relays sent (retransmits included).",
                    [&link] { return link.relaysSentTotal(); });
  m.counterFunction("edge_link_relays_acked_total", "Mined relays the session manager made durable.",
                    [&link] { return link.relaysAckedTotal(); });
  m.counterFunction("edge_link_relays_rejected_total", "Mined relays the session manager rejected.",
                    [&link] { return link.relaysRejectedTotal(); });
  m.counterFunction("edge_link_retransmits_total", "Rewinds to the first unacked relay.",
                    [&link] { return link.retransmitsTotal(); });
  m.counterFunction("edge_link_garbage_received_total", "Undecodable messages from the manager.",
                    [&link] { return link.garbageReceivedTotal(); });
  m.counterFunction("edge_spool_appended_total", "Mined relays written to the spool.",
                    [&spool] { return spool.appendedTotal(); });
  m.gaugeFunction("edge_spool_unacked_relays", "Mined relays in the spool not yet acked.",
                  [&spool] { return static_cast<double>(spool.unackedCount()); });
  m.gaugeFunction("edge_spool_used_bytes", "Bytes of spool segment files.",
                  [&spool] { return static_cast<double>(spool.usedBytes()); });
  m.gaugeFunction("edge_spool_max_bytes", "The spool's size limit in bytes.",
                  [&spool] { return static_cast<double>(spool.maxBytes()); });
  m.gaugeFunction("edge_spool_near_full", "1 when the spool passed its near-full mark.",
                  [&spool] { return spool.nearFull() ? 1.0 : 0.0; });
  m.counterFunction("edge_spool_rejected_full_total", "Mined relays dropped: spool full.",
                    [&spool] { return spool.rejectedFullTotal(); });
  m.counterFunction("edge_spool_write_failures_total", "Mined relays dropped: spool write failed.",
                    [&spool] { return spool.writeFailuresTotal(); });
  m.counterFunction("edge_spool_truncated_bytes_total",
                    "Bytes of torn or corrupt spool records cut off when the spool was opened.",
                    [&spool] { return spool.truncatedBytesTotal(); });
  m.gaugeFunction("edge_chain_height", "The block height the session manager last reported.",
                  [&facts] { return static_cast<double>(facts.currentHeight()); });
  m.counterFunction("edge_session_cache_hits_total", "Session lookups answered from the cache.",
                    [&facts] { return facts.hits(); });
  m.counterFunction("edge_session_cache_misses_total", "Session lookups that asked the manager.",
                    [&facts] { return facts.misses(); });
  m.counterFunction("edge_session_queries_sent_total", "Session queries sent to the manager.",
                    [&facts] { return facts.queriesSent(); });
  m.counterFunction("edge_session_query_timeouts_total", "Session queries that got no answer.",
                    [&facts] { return facts.queryTimeouts(); });
  m.counterFunction("edge_session_query_failures_total",
                    "Session queries the session manager could not answer.",
                    [&facts] { return facts.queryFailures(); });
  m.gaugeFunction("edge_sessions_cached", "Sessions in the cache.",
                  [&facts] { return static_cast<double>(facts.sessionCount()); });
}

int run(const edge::EdgeConfig& config, bool checkOnly) {
  util::LogSink log(stderr, config.logLevel);
  std::vector<crypto::PrivateKey> keys;
  for (std::size_t i = 0; i < config.suppliers.size(); ++i) {
    auto key = crypto::loadPrivateKeyFile(config.suppliers[i].keyFile);
    if (!key) {
      std::cerr << "relay-edge: suppliers[" << i << "].key_file: " << key.error().message << "\n";
      return 1;
    }
    keys.push_back(std::move(*key));
  }
  if (checkOnly) {
    for (const auto& key : keys) std::cout << "supplier " << key.publicKey().address() << "\n";
    std::cout << "configuration ok\n";
    return 0;
  }

  // Signals go to the waiting thread only: block them before any thread starts.
  util::blockTerminationSignals();

  util::MetricsRegistry metrics;
  edge::ChainFactsOptions factsOptions;
  factsOptions.queryTimeout = config.link.lookupTimeout;
  edge::ChainFacts facts(factsOptions, log);
  edge::SpoolOptions spoolOptions;
  spoolOptions.directory = config.spool.directory;
  spoolOptions.maxBytes = config.spool.maxBytes;
  spoolOptions.fsync = config.spool.fsyncPerBatch ? edge::FsyncPolicy::everyBatch : edge::FsyncPolicy::never;
  edge::Spool spool(spoolOptions, log);
  edge::LinkOptions linkOptions;
  linkOptions.endpoint = config.link.endpoint;
  linkOptions.edgeId = config.link.edgeId;
  linkOptions.clientKeyFile = config.link.clientKeyFile;
  linkOptions.serverPublicKeyFile = config.link.serverPublicKeyFile;
  linkOptions.plaintext = config.link.plaintext;
  edge::EdgeLink link(linkOptions, spool, facts, log);
  registerLinkMetrics(metrics, link, spool, facts);

  edge::EventLoops loops(config.threads);
  edge::RelayService relays(config, std::move(keys),
                            edge::RelayServiceDeps{loops, facts, spool, [&link] { link.wake(); },
                                                   metrics, log});
  std::vector<std::unique_ptr<edge::HttpServer>> servers;
  for (const auto& endpoint : config.listeners) {
    servers.push_back(std::make_unique<edge::HttpServer>(
        loops, endpoint, config.limits,
        [&relays](const edge::RequestContext& c, edge::HttpRequest&& r, edge::Responder rs) {
          relays.handle(c, std::move(r), std::move(rs));
        },
        metrics, "relay", log));
  }
  metrics.gaugeFunction("edge_open_connections", "Open client connections.", [&servers] {
    double n = 0;
    for (const auto& s : servers) n += static_cast<double>(s->openConnections());
    return n;
  });
  metrics.gaugeFunction("edge_relays_in_flight", "Relays read and not yet answered.", [&servers] {
    double n = 0;
    for (const auto& s : servers) n += static_cast<double>(s->inFlight());
    return n;
  });

  edge::EventLoops adminLoop(1);
  edge::HttpServer admin(adminLoop, config.admin, config.limits,
                         edge::makeAdminHandler(metrics,
                                                [&link, &facts]() -> std::string {
                                                  if (facts.currentHeight() <= 0) {
                                                    return "no chain state from the session manager yet";
                                                  }
                                                  if (!link.connected()) return "link to the session manager is down";
                                                  return {};
                                                }),
                         metrics, "admin", log);

  for (auto& s : servers) s->start();
  admin.start();
  loops.start();
  adminLoop.start();
  {
    util::LogLine line(log, util::LogLevel::info, "edge_started");
    for (std::size_t i = 0; i < servers.size(); ++i) {
      line.kv("listener", config.listeners[i].host + ":" + std::to_string(servers[i]->port()));
    }
    line.kv("admin", config.admin.host + ":" + std::to_string(admin.port()))
        .kv("threads", config.threads)
        .kv("suppliers", relays.supplierAddresses().size());
  }

  int signal = util::waitForTerminationSignal();
  util::LogLine(log, util::LogLevel::info, "edge_stopping").kv("signal", signal);
  auto deadline = Clock::now() + config.limits.shutdownGrace;
  for (auto& s : servers) s->shutdown();
  auto inFlight = [&servers] {
    std::uint64_t n = 0;
    for (const auto& s : servers) n += s->inFlight();
    return n;
  };
  while (inFlight() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::uint64_t abandoned = inFlight();
  loops.stop();
  loops.join();
  // Give the link the rest of the grace period to deliver the spool; whatever is left stays on
  // disk and goes out after the next start.
  link.wake();
  while (spool.unackedCount() > 0 && link.connected() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  adminLoop.stop();
  adminLoop.join();
  util::LogLine(log, util::LogLevel::info, "edge_stopped")
      .kv("relays_abandoned", abandoned)
      .kv("spool_unacked", spool.unackedCount());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string configPath;
  bool checkOnly = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--config" && i + 1 < argc) {
      configPath = argv[++i];
    } else if (arg == "--check") {
      checkOnly = true;
    } else {
      return usage();
    }
  }
  if (configPath.empty()) return usage();
  try {
    auto config = edge::loadEdgeConfig(configPath);
    return run(config, checkOnly);
  } catch (const edge::ConfigError& e) {
    std::cerr << "relay-edge: configuration error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "relay-edge: " << e.what() << "\n";
    return 1;
  }
}
