#include "session-manager/config.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/net/link_socket.h"
#include "session-manager/tx_submitter.h"

namespace pocket::sm {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw ConfigError(path + ": " + what);
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

void allowOnly(const YAML::Node& node, const std::string& path, std::set<std::string> allowed) {
  if (!node.IsMap()) fail(path.empty() ? "(root)" : path, "must be a mapping");
  for (const auto& entry : node) {
    std::string key = entry.first.as<std::string>();
    if (!allowed.count(key)) {
      std::string known;
      for (const auto& k : allowed) known += (known.empty() ? "" : ", ") + k;
      fail(join(path, key), "unknown key (known keys here: " + known + ")");
    }
  }
}

std::string str(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) fail(path, "must be a scalar value");
  if (node.Scalar().empty()) fail(path, "must not be empty");
  return node.Scalar();
}

std::uint64_t uint(const YAML::Node& node, const std::string& path, std::uint64_t max) {
  if (!node.IsScalar()) fail(path, "must be a scalar value");
  const std::string& s = node.Scalar();
  if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), ::isdigit)) {
    fail(path, "must be a non-negative integer, got '" + s + "'");
  }
  std::uint64_t v = std::stoull(s);
  if (v > max) fail(path, fmt::format("must be at most {}, got {}", max, v));
  return v;
}

bool boolean(const YAML::Node& node, const std::string& path) {
  std::string s = str(node, path);
  if (s == "true") return true;
  if (s == "false") return false;
  fail(path, "must be true or false, got '" + s + "'");
}

std::chrono::milliseconds millis(const YAML::Node& node, const std::string& path) {
  std::uint64_t v = uint(node, path, 24ull * 3600 * 1000);
  if (v == 0) fail(path, "must be greater than 0");
  return std::chrono::milliseconds(v);
}

void parseLink(const YAML::Node& node, LinkConfig& link) {
  allowOnly(node, "link",
            {"bind", "plaintext", "server_key_file", "allow_list_file", "heartbeat_interval_ms"});
  if (auto v = node["bind"]) link.bind = str(v, "link.bind");
  if (link.bind.rfind("tcp://", 0) != 0 && link.bind.rfind("ipc://", 0) != 0) {
    fail("link.bind", "must be a tcp:// or ipc:// ZeroMQ endpoint, got '" + link.bind + "'");
  }
  if (auto v = node["plaintext"]) link.plaintext = boolean(v, "link.plaintext");
  if (auto v = node["server_key_file"]) link.serverKeyFile = str(v, "link.server_key_file");
  if (auto v = node["allow_list_file"]) link.allowListFile = str(v, "link.allow_list_file");
  if (auto v = node["heartbeat_interval_ms"]) {
    link.heartbeatIntervalMs =
        static_cast<int>(millis(v, "link.heartbeat_interval_ms").count());
  }
  if (link.plaintext) {
    if (!net::isLoopbackEndpoint(link.bind)) {
      fail("link.plaintext", "plain text is allowed only on a loopback bind address, and link.bind is '" +
                                 link.bind + "'");
    }
  } else {
    if (link.serverKeyFile.empty()) fail("link.server_key_file", "is required (CURVE encryption)");
    if (link.allowListFile.empty()) fail("link.allow_list_file", "is required (CURVE allow-list)");
  }
}

void parseChain(const YAML::Node& node, ChainConfig& chain) {
  allowOnly(node, "chain",
            {"rpc_url", "websocket_url", "chain_id", "timeout_ms", "poll_interval_ms", "fixture",
             "block_interval_ms"});
  if (auto v = node["rpc_url"]) chain.rpcUrl = str(v, "chain.rpc_url");
  if (auto v = node["websocket_url"]) chain.websocketUrl = str(v, "chain.websocket_url");
  if (auto v = node["chain_id"]) chain.chainId = str(v, "chain.chain_id");
  if (auto v = node["timeout_ms"]) chain.timeout = millis(v, "chain.timeout_ms");
  if (auto v = node["poll_interval_ms"]) chain.pollInterval = millis(v, "chain.poll_interval_ms");
  if (auto v = node["fixture"]) chain.fixture = str(v, "chain.fixture");
  if (auto v = node["block_interval_ms"]) chain.blockInterval = millis(v, "chain.block_interval_ms");
  if (chain.rpcUrl.empty() == chain.fixture.empty()) {
    fail("chain", "needs exactly one of rpc_url (a full node) and fixture (a static chain)");
  }
  if (!chain.rpcUrl.empty()) {
    std::string& url = chain.rpcUrl;
    if (url.rfind("tcp://", 0) == 0) url = "http://" + url.substr(6);
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      fail("chain.rpc_url", "must start with http://, https:// or tcp://, got '" + url + "'");
    }
    if (url.size() <= url.find("://") + 3) fail("chain.rpc_url", "has no host");
    if (chain.chainId.empty()) fail("chain.chain_id", "is required with chain.rpc_url");
    if (chain.websocketUrl.empty()) {
      std::string rest = url.substr(url.find("://") + 3);
      while (!rest.empty() && rest.back() == '/') rest.pop_back();
      chain.websocketUrl = (url.rfind("https://", 0) == 0 ? "wss://" : "ws://") + rest + "/websocket";
    } else if (chain.websocketUrl.rfind("ws://", 0) != 0 &&
               chain.websocketUrl.rfind("wss://", 0) != 0) {
      fail("chain.websocket_url", "must start with ws:// or wss://");
    }
  }
}

void parseTransactions(const YAML::Node& node, TransactionsConfig& tx) {
  allowOnly(node, "transactions",
            {"gas_price", "gas_adjustment", "gas_limit", "broadcast_workers",
             "rebroadcast_interval_blocks", "fallback_gas_per_message"});
  if (auto v = node["gas_price"]) {
    tx.gasPrice = str(v, "transactions.gas_price");
    auto price = GasPrice::parse(tx.gasPrice);
    if (!price) fail("transactions.gas_price", price.error().message);
  }
  if (auto v = node["gas_adjustment"]) {
    std::string text = str(v, "transactions.gas_adjustment");
    double value = 0;
    std::size_t used = 0;
    try {
      value = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || !(value >= 1.0) || value > 10.0) {
      fail("transactions.gas_adjustment",
           "must be a number from 1 to 10 (the simulated gas is multiplied by it), got '" + text +
               "'");
    }
    tx.gasAdjustment = value;
  }
  if (auto v = node["gas_limit"]) tx.gasLimit = uint(v, "transactions.gas_limit", 100'000'000);
  if (auto v = node["broadcast_workers"]) {
    tx.broadcastWorkers = uint(v, "transactions.broadcast_workers", 256);
    if (tx.broadcastWorkers == 0) fail("transactions.broadcast_workers", "must be at least 1");
  }
  if (auto v = node["rebroadcast_interval_blocks"]) {
    tx.rebroadcastIntervalBlocks =
        static_cast<std::int64_t>(uint(v, "transactions.rebroadcast_interval_blocks", 1000));
    if (tx.rebroadcastIntervalBlocks == 0) {
      fail("transactions.rebroadcast_interval_blocks", "must be at least 1");
    }
  }
  if (auto v = node["fallback_gas_per_message"]) {
    tx.fallbackGasPerMessage = uint(v, "transactions.fallback_gas_per_message", 100'000'000);
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
  allowOnly(root, "",
            {"link", "suppliers", "chain", "store", "admin", "log", "transactions", "lifecycle"});
  if (!root["link"]) fail("link", "is required");
  parseLink(root["link"], config.link);
  auto suppliers = root["suppliers"];
  if (!suppliers || !suppliers.IsSequence() || suppliers.size() == 0) {
    fail("suppliers", "is required: a list of {key_file: PATH}, at least one");
  }
  for (std::size_t i = 0; i < suppliers.size(); ++i) {
    std::string path = fmt::format("suppliers[{}]", i);
    allowOnly(suppliers[i], path, {"key_file"});
    if (!suppliers[i]["key_file"]) fail(path + ".key_file", "is required");
    config.suppliers.push_back({str(suppliers[i]["key_file"], path + ".key_file")});
  }
  if (!root["chain"]) fail("chain", "is required");
  parseChain(root["chain"], config.chain);
  if (auto s = root["store"]) {
    allowOnly(s, "store", {"directory", "tree_commit_interval_ms"});
    if (auto v = s["directory"]) config.store.directory = str(v, "store.directory");
    if (auto v = s["tree_commit_interval_ms"]) {
      config.store.treeCommitInterval = millis(v, "store.tree_commit_interval_ms");
    }
  }
  if (auto a = root["admin"]) {
    allowOnly(a, "admin", {"listen"});
    if (auto v = a["listen"]) {
      std::string text = str(v, "admin.listen");
      auto colon = text.rfind(':');
      if (colon == std::string::npos || colon == 0) {
        fail("admin.listen", "must be host:port, got '" + text + "'");
      }
      std::string host = text.substr(0, colon);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
      YAML::Node port(text.substr(colon + 1));
      config.admin.host = host;
      config.admin.port = static_cast<std::uint16_t>(uint(port, "admin.listen", 65535));
    }
  }
  if (auto t = root["transactions"]) parseTransactions(t, config.transactions);
  if (auto l = root["lifecycle"]) {
    allowOnly(l, "lifecycle", {"enabled", "profitability_gate", "retention_blocks"});
    if (auto v = l["enabled"]) config.lifecycle.enabled = boolean(v, "lifecycle.enabled");
    if (auto v = l["profitability_gate"]) {
      config.lifecycle.profitabilityGate = boolean(v, "lifecycle.profitability_gate");
    }
    if (auto v = l["retention_blocks"]) {
      config.lifecycle.retentionBlocks =
          static_cast<std::int64_t>(uint(v, "lifecycle.retention_blocks", 1'000'000));
    }
  }
  if (auto l = root["log"]) {
    allowOnly(l, "log", {"format", "level"});
    if (auto v = l["format"]) {
      std::string f = str(v, "log.format");
      if (f == "logfmt") {
        config.logFormat = util::LogFormat::logfmt;
      } else if (f == "json") {
        config.logFormat = util::LogFormat::json;
      } else {
        fail("log.format", "must be logfmt or json, got '" + f + "'");
      }
    }
    if (auto v = l["level"]) {
      std::string level = str(v, "log.level");
      if (!util::parseLogLevel(level, config.logLevel)) {
        fail("log.level", "must be debug, info, warn or error, got '" + level + "'");
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
