#include "edge/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/net/curve_keys.h"
#include "common/net/link_socket.h"
#include "common/protocol/session_id.h"

namespace pocket::edge {

namespace {

using util::configAllowOnly;
using util::configBool;
using util::configByteSize;
using util::configFail;
using util::configKey;
using util::configMillis;
using util::configScalar;
using util::configString;
using util::configUint;

int rpcTypeFromName(const std::string& name) {
  if (name == "grpc") return static_cast<int>(RpcType::grpc);
  if (name == "websocket") return static_cast<int>(RpcType::websocket);
  if (name == "json_rpc") return static_cast<int>(RpcType::json_rpc);
  if (name == "rest") return static_cast<int>(RpcType::rest);
  if (name == "comet_bft") return static_cast<int>(RpcType::comet_bft);
  return 0;
}

BackendConfig parseBackend(const YAML::Node& node, const std::string& path) {
  configAllowOnly(node, path,
            {"url", "headers", "basic_auth", "forward_pocket_headers", "connect_timeout_ms",
             "first_byte_timeout_ms", "timeout_ms", "max_response_bytes", "http_client"});
  BackendConfig backend;
  if (!node["url"]) configFail(configKey(path, "url"), "is required");
  backend.url = configString(node["url"], configKey(path, "url"));
  if (backend.url.rfind("http://", 0) != 0 && backend.url.rfind("https://", 0) != 0) {
    configFail(configKey(path, "url"), "must start with http:// or https://, got '" + backend.url + "'");
  }
  if (backend.url.size() <= backend.url.find("://") + 3) configFail(configKey(path, "url"), "has no host");
  if (auto h = node["headers"]) {
    std::string hp = configKey(path, "headers");
    if (!h.IsMap()) configFail(hp, "must be a mapping of header name to value");
    for (const auto& entry : h) {
      std::string name = entry.first.as<std::string>();
      if (name.empty() || name.find_first_of(" :\r\n") != std::string::npos) {
        configFail(configKey(hp, name), "is not a valid header name");
      }
      std::string value = configScalar(entry.second, configKey(hp, name));
      if (value.find_first_of("\r\n") != std::string::npos) configFail(configKey(hp, name), "has a newline");
      backend.headers[name] = value;
    }
  }
  if (auto a = node["basic_auth"]) {
    std::string ap = configKey(path, "basic_auth");
    configAllowOnly(a, ap, {"username", "password"});
    if (!a["username"]) configFail(configKey(ap, "username"), "is required");
    backend.basicAuth = std::make_pair(configString(a["username"], configKey(ap, "username")),
                                       a["password"] ? configScalar(a["password"], configKey(ap, "password"))
                                                     : std::string());
  }
  if (auto f = node["forward_pocket_headers"]) {
    backend.forwardPocketHeaders = configBool(f, configKey(path, "forward_pocket_headers"));
  }
  if (auto t = node["connect_timeout_ms"]) {
    backend.timeouts.connect = configMillis(t, configKey(path, "connect_timeout_ms"), false);
  }
  if (auto t = node["first_byte_timeout_ms"]) {
    backend.timeouts.firstByte = configMillis(t, configKey(path, "first_byte_timeout_ms"), false);
  }
  if (auto t = node["timeout_ms"]) backend.timeouts.total = configMillis(t, configKey(path, "timeout_ms"), false);
  if (backend.timeouts.firstByte > backend.timeouts.total) backend.timeouts.firstByte = backend.timeouts.total;
  if (auto m = node["max_response_bytes"]) {
    backend.maxResponseBytes = configByteSize(m, configKey(path, "max_response_bytes"));
    if (backend.maxResponseBytes == 0) configFail(configKey(path, "max_response_bytes"), "must be greater than 0");
  }
  if (auto c = node["http_client"]) {
    std::string cp = configKey(path, "http_client");
    std::string client = configString(c, cp);
    if (client == "curl") {
      backend.useCurl = true;
    } else if (client != "native") {
      configFail(cp, "must be 'native' or 'curl', got '" + client + "'");
    }
  }
  return backend;
}

ServiceConfig parseService(const std::string& id, const YAML::Node& node, const std::string& path) {
  configAllowOnly(node, path, {"validation", "backend", "rpc_types", "max_request_bytes"});
  ServiceConfig service;
  service.id = id;
  if (auto valid = protocol::validateServiceId(id); !valid) configFail(path, valid.error().message);
  if (auto v = node["validation"]) {
    std::string mode = configScalar(v, configKey(path, "validation"));
    if (mode == "eager") {
      service.validation = ValidationMode::eager;
    } else if (mode == "optimistic") {
      service.validation = ValidationMode::optimistic;
    } else if (mode == "none") {
      service.validation = ValidationMode::none;
    } else {
      configFail(configKey(path, "validation"), "must be eager, optimistic or none, got '" + mode + "'");
    }
  }
  if (auto b = node["backend"]) service.defaultBackend = parseBackend(b, configKey(path, "backend"));
  if (auto r = node["rpc_types"]) {
    std::string rp = configKey(path, "rpc_types");
    if (!r.IsMap()) configFail(rp, "must be a mapping of rpc type to backend");
    for (const auto& entry : r) {
      std::string name = entry.first.as<std::string>();
      int type = rpcTypeFromName(name);
      if (type == 0) configFail(configKey(rp, name), "unknown rpc type (json_rpc, rest, comet_bft, grpc, websocket)");
      if (type == static_cast<int>(RpcType::websocket)) {
        configFail(configKey(rp, name), "websocket relays are not served by this edge");
      }
      service.backendsByRpcType[type] = parseBackend(entry.second, configKey(rp, name));
    }
  }
  if (!service.defaultBackend && service.backendsByRpcType.empty()) {
    configFail(path, "needs a backend or at least one rpc_types entry");
  }
  if (auto m = node["max_request_bytes"]) {
    service.maxRequestBytes = configByteSize(m, configKey(path, "max_request_bytes"));
  }
  return service;
}

LinkConfig parseLink(const YAML::Node& node, const std::string& path) {
  configAllowOnly(node, path,
            {"endpoint", "edge_id", "plaintext", "client_key_file", "server_public_key_file",
             "lookup_timeout_ms"});
  LinkConfig link;
  if (auto e = node["endpoint"]) link.endpoint = configString(e, configKey(path, "endpoint"));
  if (auto e = node["edge_id"]) link.edgeId = configString(e, configKey(path, "edge_id"));
  if (auto c = node["plaintext"]) link.plaintext = configBool(c, configKey(path, "plaintext"));
  if (auto k = node["client_key_file"]) link.clientKeyFile = configString(k, configKey(path, "client_key_file"));
  if (auto k = node["server_public_key_file"]) {
    link.serverPublicKeyFile = configString(k, configKey(path, "server_public_key_file"));
  }
  if (auto t = node["lookup_timeout_ms"]) {
    link.lookupTimeout = configMillis(t, configKey(path, "lookup_timeout_ms"), false);
  }
  if (!link.plaintext) {
    if (link.clientKeyFile.empty()) {
      configFail(configKey(path, "client_key_file"), "is required unless plaintext is true");
    }
    if (link.serverPublicKeyFile.empty()) {
      configFail(configKey(path, "server_public_key_file"), "is required unless plaintext is true");
    }
    // Parsed here with the loaders the link uses at start, so a configuration that loads (and
    // passes --check) does not fail later on its CURVE keys.
    try {
      net::loadCurveKeyPairFile(link.clientKeyFile);
    } catch (const std::runtime_error& e) {
      configFail(configKey(path, "client_key_file"), e.what());
    }
    try {
      net::loadCurvePublicKeyFile(link.serverPublicKeyFile);
    } catch (const std::runtime_error& e) {
      configFail(configKey(path, "server_public_key_file"), e.what());
    }
  } else if (!net::isLoopbackEndpoint(link.endpoint)) {
    configFail(configKey(path, "plaintext"),
         "may be true only for a loopback endpoint (tcp://127.x.x.x, tcp://[::1], tcp://localhost, "
         "ipc://, inproc://), not '" + link.endpoint + "'");
  }
  if (link.edgeId.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
      configFail(configKey(path, "edge_id"), "is required (the host name is not available)");
    }
    link.edgeId = host;
  }
  return link;
}

RelayMeterConfig parseRelayMeter(const YAML::Node& node, const std::string& path) {
  configAllowOnly(node, path,
            {"enabled", "over_servicing", "overservicing_bonus", "allowance_upokt",
             "fleet_share_percent"});
  RelayMeterConfig meter;
  if (auto v = node["enabled"]) meter.enabled = configBool(v, configKey(path, "enabled"));
  if (auto v = node["over_servicing"])
    meter.overServicing = configBool(v, configKey(path, "over_servicing"));
  if (auto v = node["overservicing_bonus"]) {
    meter.overservicingBonus = configBool(v, configKey(path, "overservicing_bonus"));
  }
  if (auto v = node["allowance_upokt"]) {
    meter.allowanceUpokt = configUint(v, configKey(path, "allowance_upokt"), 1000000000000000000ull);
  }
  if (auto v = node["fleet_share_percent"]) {
    meter.fleetSharePercent = configUint(v, configKey(path, "fleet_share_percent"), 100);
    if (meter.fleetSharePercent == 0) configFail(configKey(path, "fleet_share_percent"), "must be at least 1");
  }
  return meter;
}

}  // namespace

const BackendConfig* ServiceConfig::backendFor(int rpcType) const {
  auto it = backendsByRpcType.find(rpcType);
  if (it != backendsByRpcType.end()) return &it->second;
  if (defaultBackend) return &*defaultBackend;
  return nullptr;
}

Endpoint parseEndpoint(const std::string& text, const std::string& keyPath) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      configFail(keyPath, "must be host:port or [ipv6]:port, got '" + text + "'");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      configFail(keyPath, "must be host:port, got '" + text + "'");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
      std::stoul(port) > 65535) {
    configFail(keyPath, "has an invalid port in '" + text + "'");
  }
  return Endpoint{host, static_cast<std::uint16_t>(std::stoul(port))};
}

void checkPrivateFile(const std::string& path, const std::string& keyPath) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) configFail(keyPath, "cannot read '" + path + "'");
  if (!S_ISREG(st.st_mode)) configFail(keyPath, "'" + path + "' is not a regular file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    configFail(keyPath, fmt::format("'{}' is accessible by group or others (mode {:o}); run chmod 600 on it",
                              path, st.st_mode & 0777));
  }
}

EdgeConfig parseEdgeConfig(const std::string& yamlText, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: not valid YAML: {}", origin, e.what()));
  }
  if (!root.IsMap()) throw ConfigError(origin + ": the top level must be a mapping");
  configAllowOnly(root, "",
            {"listeners", "admin_listener", "threads", "limits", "link", "suppliers", "services",
             "spool", "log_level", "relay_meter"});
  EdgeConfig config;

  if (!root["listeners"]) configFail("listeners", "is required (a list of host:port)");
  {
    auto l = root["listeners"];
    if (!l.IsSequence() || l.size() == 0) configFail("listeners", "must be a non-empty list of host:port");
    for (std::size_t i = 0; i < l.size(); ++i) {
      std::string path = fmt::format("listeners[{}]", i);
      config.listeners.push_back(parseEndpoint(configString(l[i], path), path));
    }
  }
  if (auto a = root["admin_listener"]) {
    config.admin = parseEndpoint(configString(a, "admin_listener"), "admin_listener");
  }
  if (auto t = root["threads"]) config.threads = static_cast<unsigned>(configUint(t, "threads", 256));
  if (config.threads == 0) config.threads = std::max(1u, std::thread::hardware_concurrency());
  if (auto l = root["log_level"]) {
    if (!util::parseLogLevel(configScalar(l, "log_level"), config.logLevel)) {
      configFail("log_level", "must be debug, info, warn or error");
    }
  }
  if (auto l = root["limits"]) {
    configAllowOnly(l, "limits",
              {"max_header_bytes", "max_body_bytes", "idle_timeout_ms", "read_timeout_ms",
               "shutdown_grace_ms"});
    if (auto v = l["max_header_bytes"]) {
      config.limits.maxHeaderBytes = configByteSize(v, "limits.max_header_bytes");
      if (config.limits.maxHeaderBytes < 1024) configFail("limits.max_header_bytes", "must be at least 1KiB");
    }
    if (auto v = l["max_body_bytes"]) config.limits.maxBodyBytes = configByteSize(v, "limits.max_body_bytes");
    if (auto v = l["idle_timeout_ms"]) config.limits.idleTimeout = configMillis(v, "limits.idle_timeout_ms", false);
    if (auto v = l["read_timeout_ms"]) config.limits.readTimeout = configMillis(v, "limits.read_timeout_ms", false);
    if (auto v = l["shutdown_grace_ms"]) {
      config.limits.shutdownGrace = configMillis(v, "limits.shutdown_grace_ms", true);
    }
  }

  if (!root["services"]) configFail("services", "is required");
  {
    auto s = root["services"];
    if (!s.IsMap() || s.size() == 0) configFail("services", "must be a non-empty mapping of service id");
    for (const auto& entry : s) {
      std::string id = entry.first.as<std::string>();
      config.services[id] = parseService(id, entry.second, configKey("services", id));
    }
  }
  for (auto& [id, service] : config.services) {
    if (service.maxRequestBytes > config.limits.maxBodyBytes) {
      configFail(configKey(configKey("services", id), "max_request_bytes"),
           "must not exceed limits.max_body_bytes");
    }
  }

  bool needsChain = false;
  for (const auto& [id, service] : config.services) {
    if (service.validation != ValidationMode::none) needsChain = true;
  }
  if (auto s = root["suppliers"]) {
    if (!s.IsSequence()) configFail("suppliers", "must be a list");
    for (std::size_t i = 0; i < s.size(); ++i) {
      std::string path = fmt::format("suppliers[{}]", i);
      configAllowOnly(s[i], path, {"key_file"});
      if (!s[i]["key_file"]) configFail(configKey(path, "key_file"), "is required");
      SupplierConfig supplier{configString(s[i]["key_file"], configKey(path, "key_file"))};
      checkPrivateFile(supplier.keyFile, configKey(path, "key_file"));
      config.suppliers.push_back(supplier);
    }
  }
  if (config.suppliers.empty()) configFail("suppliers", "needs at least one supplier key_file");

  if (auto l = root["link"]) {
    config.link = parseLink(l, "link");
  } else if (needsChain) {
    configFail("link", "is required: relay validation needs chain facts from the session manager");
  } else {
    config.link.plaintext = true;
  }

  if (auto s = root["spool"]) {
    configAllowOnly(s, "spool", {"directory", "max_bytes", "fsync"});
    if (auto d = s["directory"]) config.spool.directory = configString(d, "spool.directory");
    if (auto m = s["max_bytes"]) {
      config.spool.maxBytes = configByteSize(m, "spool.max_bytes");
      if (config.spool.maxBytes < (1u << 20)) configFail("spool.max_bytes", "must be at least 1MiB");
    }
    if (auto f = s["fsync"]) {
      std::string mode = configScalar(f, "spool.fsync");
      if (mode == "batch") {
        config.spool.fsyncPerBatch = true;
      } else if (mode == "none") {
        config.spool.fsyncPerBatch = false;
      } else {
        configFail("spool.fsync", "must be batch or none, got '" + mode + "'");
      }
    }
  }
  if (auto m = root["relay_meter"]) config.relayMeter = parseRelayMeter(m, "relay_meter");
  return config;
}

EdgeConfig loadEdgeConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open the configuration file");
  std::stringstream text;
  text << in.rdbuf();
  return parseEdgeConfig(text.str(), path);
}

}  // namespace pocket::edge
