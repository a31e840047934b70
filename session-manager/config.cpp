#include "session-manager/config.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/chain/block_feed.h"
#include "common/net/link_socket.h"
#include "common/util/thread_priority.h"
#include "session-manager/tx_submitter.h"

namespace pocket::sm {

namespace {

using util::configAllowOnly;
using util::configBool;
using util::configFail;
using util::configKey;
using util::configMillis;
using util::configString;
using util::configScalar;
using util::configUint;

// A nice value: an integer from -20 (highest priority) to 19 (lowest).
int configNice(const YAML::Node& node, const std::string& path) {
  std::string text = configScalar(node, path);
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < util::kNiceHighest || value > util::kNiceLowest) {
    configFail(path, "must be a nice value, an integer from -20 (highest priority) to 19 "
                     "(lowest), got '" + text + "'");
  }
  return value;
}

void parseLink(const YAML::Node& node, LinkConfig& link) {
  configAllowOnly(node, "link",
            {"bind", "plaintext", "server_key_file", "allow_list_file", "heartbeat_interval_ms"});
  if (auto v = node["bind"]) link.bind = configString(v, "link.bind");
  if (link.bind.rfind("tcp://", 0) != 0 && link.bind.rfind("ipc://", 0) != 0) {
    configFail("link.bind", "must be a tcp:// or ipc:// ZeroMQ endpoint, got '" + link.bind + "'");
  }
  if (auto v = node["plaintext"]) link.plaintext = configBool(v, "link.plaintext");
  if (auto v = node["server_key_file"]) link.serverKeyFile = configString(v, "link.server_key_file");
  if (auto v = node["allow_list_file"]) link.allowListFile = configString(v, "link.allow_list_file");
  if (auto v = node["heartbeat_interval_ms"]) {
    link.heartbeatIntervalMs =
        static_cast<int>(configMillis(v, "link.heartbeat_interval_ms").count());
  }
  if (link.plaintext) {
    if (!net::isLoopbackEndpoint(link.bind)) {
      configFail("link.plaintext", "plain text is allowed only on a loopback bind address, and link.bind is '" +
                                 link.bind + "'");
    }
  } else {
    if (link.serverKeyFile.empty()) configFail("link.server_key_file", "is required (CURVE encryption)");
    if (link.allowListFile.empty()) configFail("link.allow_list_file", "is required (CURVE allow-list)");
  }
}

void parseChain(const YAML::Node& node, ChainConfig& chain) {
  configAllowOnly(node, "chain",
            {"rpc_url", "websocket_url", "chain_id", "timeout_ms", "poll_interval_ms", "fixture",
             "block_interval_ms"});
  if (auto v = node["rpc_url"]) chain.rpcUrl = configString(v, "chain.rpc_url");
  if (auto v = node["websocket_url"]) chain.websocketUrl = configString(v, "chain.websocket_url");
  if (auto v = node["chain_id"]) chain.chainId = configString(v, "chain.chain_id");
  if (auto v = node["timeout_ms"]) chain.timeout = configMillis(v, "chain.timeout_ms");
  if (auto v = node["poll_interval_ms"]) chain.pollInterval = configMillis(v, "chain.poll_interval_ms");
  if (auto v = node["fixture"]) chain.fixture = configString(v, "chain.fixture");
  if (auto v = node["block_interval_ms"]) chain.blockInterval = configMillis(v, "chain.block_interval_ms");
  if (chain.rpcUrl.empty() == chain.fixture.empty()) {
    configFail("chain", "needs exactly one of rpc_url (a full node) and fixture (a static chain)");
  }
  if (!chain.rpcUrl.empty()) {
    std::string& url = chain.rpcUrl;
    if (url.rfind("tcp://", 0) == 0) url = "http://" + url.substr(6);
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      configFail("chain.rpc_url", "must start with http://, https:// or tcp://, got '" + url + "'");
    }
    if (url.size() <= url.find("://") + 3) configFail("chain.rpc_url", "has no host");
    if (chain.chainId.empty()) configFail("chain.chain_id", "is required with chain.rpc_url");
    if (chain.websocketUrl.empty()) {
      // Derived from an http://host:port RPC URL; otherwise (https://, a path) no subscription:
      // new blocks are found by polling.
      auto derived = chain::websocketUrlFromRpcUrl(url);
      if (derived) chain.websocketUrl = *derived;
    } else if (chain.websocketUrl == "none") {
      chain.websocketUrl.clear();
    } else {
      chain::BlockFeedConfig feed;
      feed.websocketUrl = chain.websocketUrl;
      try {
        feed.validate();
      } catch (const std::invalid_argument& e) {
        std::string why = e.what();
        if (why.rfind("websocket_url: ", 0) == 0) why = why.substr(15);
        configFail("chain.websocket_url",
             why + " (a ws://host:port/path URL, or none to poll for new blocks; wss:// is not "
                   "supported)");
      }
    }
  } else if (!chain.websocketUrl.empty()) {
    configFail("chain.websocket_url", "is only used with chain.rpc_url (the static chain has no node)");
  }
}

void parseTransactions(const YAML::Node& node, TransactionsConfig& tx) {
  configAllowOnly(node, "transactions",
            {"gas_price", "gas_adjustment", "gas_limit", "broadcast_workers",
             "rebroadcast_interval_blocks", "fallback_gas_per_message"});
  if (auto v = node["gas_price"]) {
    tx.gasPrice = configString(v, "transactions.gas_price");
    auto price = GasPrice::parse(tx.gasPrice);
    if (!price) configFail("transactions.gas_price", price.error().message);
  }
  if (auto v = node["gas_adjustment"]) {
    std::string text = configString(v, "transactions.gas_adjustment");
    double value = 0;
    std::size_t used = 0;
    try {
      value = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || !(value >= 1.0) || value > 10.0) {
      configFail("transactions.gas_adjustment",
           "must be a number from 1 to 10 (the simulated gas is multiplied by it), got '" + text +
               "'");
    }
    tx.gasAdjustment = value;
  }
  if (auto v = node["gas_limit"]) tx.gasLimit = configUint(v, "transactions.gas_limit", 100'000'000);
  if (auto v = node["broadcast_workers"]) {
    tx.broadcastWorkers = configUint(v, "transactions.broadcast_workers", 256);
    if (tx.broadcastWorkers == 0) configFail("transactions.broadcast_workers", "must be at least 1");
  }
  if (auto v = node["rebroadcast_interval_blocks"]) {
    tx.rebroadcastIntervalBlocks =
        static_cast<std::int64_t>(configUint(v, "transactions.rebroadcast_interval_blocks", 1000));
    if (tx.rebroadcastIntervalBlocks == 0) {
      configFail("transactions.rebroadcast_interval_blocks", "must be at least 1");
    }
  }
  if (auto v = node["fallback_gas_per_message"]) {
    tx.fallbackGasPerMessage = configUint(v, "transactions.fallback_gas_per_message", 100'000'000);
  }
}

}  // namespace

Config parseConfig(const std::string& yamlText, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ": not valid YAML: " + e.what());
  }
  Config config;
  configAllowOnly(root, "",
                  {"link", "suppliers", "chain", "store", "admin", "log", "transactions", "lifecycle",
                   "threads"});
  if (!root["link"]) configFail("link", "is required");
  parseLink(root["link"], config.link);
  auto suppliers = root["suppliers"];
  if (!suppliers || !suppliers.IsSequence() || suppliers.size() == 0) {
    configFail("suppliers", "is required: a list of {key_file: PATH}, at least one");
  }
  for (std::size_t i = 0; i < suppliers.size(); ++i) {
    std::string path = fmt::format("suppliers[{}]", i);
    configAllowOnly(suppliers[i], path, {"key_file"});
    if (!suppliers[i]["key_file"]) configFail(path + ".key_file", "is required");
    config.suppliers.push_back({configString(suppliers[i]["key_file"], path + ".key_file")});
  }
  if (!root["chain"]) configFail("chain", "is required");
  parseChain(root["chain"], config.chain);
  if (auto s = root["store"]) {
    configAllowOnly(s, "store", {"directory", "tree_commit_interval_ms"});
    if (auto v = s["directory"]) config.store.directory = configString(v, "store.directory");
    if (auto v = s["tree_commit_interval_ms"]) {
      config.store.treeCommitInterval = configMillis(v, "store.tree_commit_interval_ms");
    }
  }
  if (auto a = root["admin"]) {
    configAllowOnly(a, "admin", {"listen"});
    if (auto v = a["listen"]) {
      std::string text = configString(v, "admin.listen");
      auto colon = text.rfind(':');
      if (colon == std::string::npos || colon == 0) {
        configFail("admin.listen", "must be host:port, got '" + text + "'");
      }
      std::string host = text.substr(0, colon);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
      YAML::Node port(text.substr(colon + 1));
      config.admin.host = host;
      config.admin.port = static_cast<std::uint16_t>(configUint(port, "admin.listen", 65535));
    }
  }
  // An optional section whose keys are all commented out (a null node) means its defaults.
  if (auto t = root["transactions"]; t && !t.IsNull()) parseTransactions(t, config.transactions);
  if (auto l = root["lifecycle"]; l && !l.IsNull()) {
    configAllowOnly(l, "lifecycle", {"enabled", "profitability_gate", "retention_blocks"});
    if (auto v = l["enabled"]) config.lifecycle.enabled = configBool(v, "lifecycle.enabled");
    if (auto v = l["profitability_gate"]) {
      config.lifecycle.profitabilityGate = configBool(v, "lifecycle.profitability_gate");
    }
    if (auto v = l["retention_blocks"]) {
      config.lifecycle.retentionBlocks =
          static_cast<std::int64_t>(configUint(v, "lifecycle.retention_blocks", 1'000'000));
    }
  }
  if (auto t = root["threads"]; t && !t.IsNull()) {
    configAllowOnly(t, "threads", {"ack_path_nice", "background_nice", "background_idle"});
    if (auto v = t["background_idle"]) {
      config.threads.backgroundIdle = configBool(v, "threads.background_idle");
    }
    if (auto v = t["ack_path_nice"]) config.threads.ackPathNice = configNice(v, "threads.ack_path_nice");
    if (auto v = t["background_nice"]) {
      config.threads.backgroundNice = configNice(v, "threads.background_nice");
    }
    if (config.threads.backgroundNice < config.threads.ackPathNice) {
      configFail("threads.background_nice",
                 fmt::format("must not be below threads.ack_path_nice ({}): background work would "
                             "run ahead of the acks, got {}",
                             config.threads.ackPathNice, config.threads.backgroundNice));
    }
  }
  if (auto l = root["log"]) {
    configAllowOnly(l, "log", {"format", "level"});
    if (auto v = l["format"]) {
      std::string f = configString(v, "log.format");
      if (f == "logfmt") {
        config.logFormat = util::LogFormat::logfmt;
      } else if (f == "json") {
        config.logFormat = util::LogFormat::json;
      } else {
        configFail("log.format", "must be logfmt or json, got '" + f + "'");
      }
    }
    if (auto v = l["level"]) {
      std::string level = configString(v, "log.level");
      if (!util::parseLogLevel(level, config.logLevel)) {
        configFail("log.level", "must be debug, info, warn or error, got '" + level + "'");
      }
    }
  }
  return config;
}

Config loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path);
}

}  // namespace pocket::sm
