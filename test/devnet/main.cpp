// pocket-devnet: a one-binary local Pocket chain (docs/devnet.md).
//
//   pocket-devnet init DIR [--chain-id ID] [--applications N] [--gateways N] [--suppliers N]
//                          [--services a,b] [--supplier-url URL] [--block-time D]
//                          [--session-blocks N] [--seed TEXT] [--force]
//   pocket-devnet run --genesis FILE [--rpc HOST:PORT] [--block-time D] [--port-file FILE]
//                     [--timeout-broadcast-tx-commit D] [--log-level L]
//   pocket-devnet inspect --rpc URL [--json]
//
// main() builds every component of `run` and wires them: the log and the metrics, the chain state
// machine (from the genesis file), the node, the RPC methods and the RPC server, the block timer
// and the signal handler, all on one io_context thread.

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "common/util/log.h"
#include "common/util/metrics.h"
#include "test/devnet/devnet_init.h"
#include "test/devnet/genesis_yaml.h"
#include "test/devnet/inspect.h"
#include "test/devnet/node.h"
#include "test/devnet/rpc_methods.h"
#include "test/devnet/rpc_server.h"
#include "test/devnet/state/chain_state.h"

namespace {

using namespace pocket;
using namespace pocket::devnet;

constexpr const char* kUsage =
    "usage: pocket-devnet COMMAND [FLAGS]\n"
    "  pocket-devnet init DIR [--chain-id ID] [--applications N] [--gateways N] [--suppliers N]\n"
    "                         [--services a,b] [--supplier-url URL] [--block-time D]\n"
    "                         [--session-blocks N] [--seed TEXT] [--force]\n"
    "  pocket-devnet run --genesis FILE [--rpc HOST:PORT] [--block-time D] [--port-file FILE]\n"
    "                    [--timeout-broadcast-tx-commit D] [--log-level debug|info|warn|error]\n"
    "  pocket-devnet inspect --rpc URL [--json]\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --flag value pairs and bare --switches after the command (and its positional argument).
struct Flags {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::vector<std::string> switches;

  std::optional<std::string> get(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
  bool has(const std::string& name) const {
    return std::find(switches.begin(), switches.end(), name) != switches.end();
  }
};

Flags parseFlags(int argc, char** argv, int from, const std::vector<std::string>& valueFlags,
                 const std::vector<std::string>& switchFlags) {
  Flags flags;
  for (int i = from; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.starts_with("--")) {
      flags.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool inlineValue = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inlineValue = true;
    }
    if (std::find(switchFlags.begin(), switchFlags.end(), name) != switchFlags.end()) {
      flags.switches.push_back(name);
    } else if (std::find(valueFlags.begin(), valueFlags.end(), name) != valueFlags.end()) {
      if (!inlineValue) {
        if (i + 1 >= argc) throw UsageError(fmt::format("--{} needs a value", name));
        value = argv[++i];
      }
      flags.values[name] = value;
    } else {
      throw UsageError(fmt::format("unknown flag --{}", name));
    }
  }
  return flags;
}

std::size_t count(const Flags& flags, const std::string& name, std::size_t fallback) {
  auto text = flags.get(name);
  if (!text) return fallback;
  std::size_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || ptr != text->data() + text->size() || value > 10000) {
    throw UsageError(fmt::format("--{}: '{}' is not a count (0..10000)", name, *text));
  }
  return value;
}

int runInit(int argc, char** argv) {
  Flags flags = parseFlags(argc, argv, 2,
                           {"chain-id", "applications", "gateways", "suppliers", "services",
                            "supplier-url", "block-time", "session-blocks", "seed"},
                           {"force"});
  if (flags.positional.size() != 1) throw UsageError("init needs exactly one directory");
  InitOptions options;
  options.directory = flags.positional[0];
  if (auto v = flags.get("chain-id")) options.chainId = *v;
  options.applications = count(flags, "applications", options.applications);
  options.gateways = count(flags, "gateways", options.gateways);
  options.suppliers = count(flags, "suppliers", options.suppliers);
  options.numBlocksPerSession = count(flags, "session-blocks", options.numBlocksPerSession);
  if (auto v = flags.get("services")) {
    options.serviceIds.clear();
    std::string list = *v;
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t comma = list.find(',', start);
      std::string id =
          list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!id.empty()) options.serviceIds.push_back(id);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (auto v = flags.get("supplier-url")) options.supplierUrl = *v;
  if (auto v = flags.get("block-time")) options.blockTime = *v;
  if (auto v = flags.get("seed")) options.seed = *v;
  options.force = flags.has("force");
  auto written = initDevnet(options);
  if (!written) {
    std::fprintf(stderr, "pocket-devnet init: %s\n", written.error().message.c_str());
    return 1;
  }
  std::printf("wrote %s, %s and %s\nstart it with: pocket-devnet run --genesis %s\n",
              written->c_str(), (options.directory / "keys").c_str(),
              (options.directory / "accounts.yaml").c_str(), written->c_str());
  return 0;
}

int runInspect(int argc, char** argv) {
  Flags flags = parseFlags(argc, argv, 2, {"rpc"}, {"json"});
  if (!flags.positional.empty()) throw UsageError("inspect takes no positional argument");
  std::string url = flags.get("rpc").value_or("http://127.0.0.1:26657");
  auto state = fetchDevnetState(url);
  if (!state) {
    std::fprintf(stderr, "pocket-devnet inspect: %s\n", state.error().message.c_str());
    return 1;
  }
  std::string out = flags.has("json") ? *state + "\n" : renderStateTables(*state);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

// Writes `text` to `path` through a temporary file, so a reader never sees half a port number.
void writeAtomically(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    if (!out)
      throw std::runtime_error(fmt::format("--port-file: cannot write {}", temporary.string()));
  }
  std::filesystem::rename(temporary, path);
}

int runNode(int argc, char** argv) {
  Flags flags = parseFlags(
      argc, argv, 2,
      {"genesis", "rpc", "block-time", "port-file", "timeout-broadcast-tx-commit", "log-level"},
      {});
  if (!flags.positional.empty()) throw UsageError("run takes no positional argument");
  auto genesisPath = flags.get("genesis");
  if (!genesisPath) throw UsageError("run needs --genesis FILE");
  util::LogLevel level = util::LogLevel::info;
  if (auto text = flags.get("log-level"); text && !util::parseLogLevel(*text, level)) {
    throw UsageError(fmt::format("--log-level: '{}' is not debug, info, warn or error", *text));
  }
  std::string rpc = flags.get("rpc").value_or("127.0.0.1:26657");
  std::size_t colon = rpc.rfind(':');
  if (colon == std::string::npos)
    throw UsageError(fmt::format("--rpc: '{}' is not HOST:PORT", rpc));
  std::string host = rpc.substr(0, colon);
  if (host.starts_with("tcp://")) host = host.substr(6);
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(rpc.substr(colon + 1), &used);
    if (used != rpc.size() - colon - 1 || port > 65535) throw std::invalid_argument(rpc);
  } catch (const std::exception&) {
    throw UsageError(fmt::format("--rpc: '{}' has no valid port", rpc));
  }

  auto config = loadGenesisFile(*genesisPath);
  if (!config) {
    std::fprintf(stderr, "pocket-devnet run: %s\n", config.error().message.c_str());
    return 1;
  }
  if (auto text = flags.get("block-time")) {
    auto duration = parseDuration(*text);
    if (!duration) throw UsageError("--block-time: " + duration.error().message);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
    if (millis.count() <= 0) throw UsageError("--block-time: must be at least 1ms");
    config->genesis.blockTime = millis;
  }
  if (config->genesis.genesisTime.time_since_epoch().count() == 0) {
    config->genesis.genesisTime = toTime(nowTimestamp());
  }
  const std::chrono::milliseconds blockTime = config->genesis.blockTime;
  std::chrono::milliseconds commitTimeout = kDefaultBroadcastCommitTimeout;
  if (auto text = flags.get("timeout-broadcast-tx-commit")) {
    auto duration = parseDuration(*text);
    if (!duration) throw UsageError("--timeout-broadcast-tx-commit: " + duration.error().message);
    commitTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
    if (commitTimeout.count() <= 0) {
      throw UsageError("--timeout-broadcast-tx-commit: must be at least 1ms");
    }
  }

  util::LogSink log(stderr, level);
  util::MetricsRegistry metrics;
  ChainState state(config->genesis, log);
  NodeOptions nodeOptions;
  nodeOptions.minGasPriceNumerator = config->minGasPriceNumerator;
  nodeOptions.minGasPriceDenominator = config->minGasPriceDenominator;
  Node node(state, nodeOptions, log, metrics);
  RpcMethods methods(node, "");
  boost::asio::io_context io;
  RpcServer server(io, host, static_cast<std::uint16_t>(port), methods, log, metrics,
                   commitTimeout);
  methods.setRpcAddress(fmt::format("tcp://{}:{}", host, server.port()));

  // Block 1 exists before the first request is served.
  node.produceBlock(nowTimestamp());
  if (auto portFile = flags.get("port-file")) {
    writeAtomically(*portFile, std::to_string(server.port()) + "\n");
  }
  util::LogLine(log, util::LogLevel::info, "devnet_started")
      .kv("chain_id", node.chainId())
      .kv("rpc", fmt::format("{}:{}", host, server.port()))
      .kv("block_time_ms", blockTime.count())
      .kv("genesis", *genesisPath);

  boost::asio::steady_timer timer(io);
  auto next = std::chrono::steady_clock::now() + blockTime;
  std::function<void()> schedule = [&] {
    timer.expires_at(next);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      const Block& block = node.produceBlock(nowTimestamp());
      server.publish(methods.blockEvents(block));
      // The next block is due one block time after this one was due; after a stall, right away.
      next += blockTime;
      auto now = std::chrono::steady_clock::now();
      if (next < now) next = now;
      schedule();
    });
  };
  schedule();

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    util::LogLine(log, util::LogLevel::info, "devnet_stopping")
        .kv("signal", signal)
        .kv("height", node.height());
    timer.cancel();
    server.close();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string command = argv[1];
  try {
    if (command == "init") return runInit(argc, argv);
    if (command == "run") return runNode(argc, argv);
    if (command == "inspect") return runInspect(argc, argv);
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    throw UsageError(fmt::format("unknown command '{}'", command));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "pocket-devnet: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pocket-devnet %s: %s\n", command.c_str(), e.what());
    return 1;
  }
}
