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

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw ConfigError(path + ": " + what);
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Rejects keys that the schema does not know: a typo must not silently fall back to a default.
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

std::string scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) fail(path, "must be a scalar value");
  return node.Scalar();
}

std::string str(const YAML::Node& node, const std::string& path) {
  std::string s = scalar(node, path);
  if (s.empty()) fail(path, "must not be empty");
  return s;
}

std::uint64_t uint(const YAML::Node& node, const std::string& path, std::uint64_t max) {
  std::string s = scalar(node, path);
  if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), ::isdigit)) {
    fail(path, "must be a non-negative integer, got '" + s + "'");
  }
  std::uint64_t v = std::stoull(s);
  if (v > max) fail(path, fmt::format("must be at most {}, got {}", max, v));
  return v;
}

bool boolean(const YAML::Node& node, const std::string& path) {
  std::string s = scalar(node, path);
  if (s == "true") return true;
  if (s == "false") return false;
  fail(path, "must be true or false, got '" + s + "'");
}

std::chrono::milliseconds millis(const YAML::Node& node, const std::string& path, bool allowZero) {
  std::uint64_t v = uint(node, path, 24ull * 3600 * 1000);
  if (v == 0 && !allowZero) fail(path, "must be greater than 0");
  return std::chrono::milliseconds(v);
}

std::uint64_t bytes(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) fail(path, "must be a size such as 20MiB or 4096");
  return parseByteSize(node.Scalar(), path);
}

int rpcTypeFromName(const std::string& name) {
  if (name == "grpc") return static_cast<int>(RpcType::grpc);
  if (name == "websocket") return static_cast<int>(RpcType::websocket);
  if (name == "json_rpc") return static_cast<int>(RpcType::json_rpc);
  if (name == "rest") return static_cast<int>(RpcType::rest);
  if (name == "comet_bft") return static_cast<int>(RpcType::comet_bft);
  return 0;
}

BackendConfig parseBackend(const YAML::Node& node, const std::string& path) {
  allowOnly(node, path,
            {"url", "headers", "basic_auth", "forward_pocket_headers", "connect_timeout_ms",
             "first_byte_timeout_ms", "timeout_ms", "max_response_bytes", "http_client"});
  BackendConfig backend;
  if (!node["url"]) fail(join(path, "url"), "is required");
  backend.url = str(node["url"], join(path, "url"));
  if (backend.url.rfind("http://", 0) != 0 && backend.url.rfind("https://", 0) != 0) {
    fail(join(path, "url"), "must start with http:// or https://, got '" + backend.url + "'");
  }
  if (backend.url.size() <= backend.url.find("://") + 3) fail(join(path, "url"), "has no host");
  if (auto h = node["headers"]) {
    std::string hp = join(path, "headers");
    if (!h.IsMap()) fail(hp, "must be a mapping of header name to value");
    for (const auto& entry : h) {
      std::string name = entry.first.as<std::string>();
      if (name.empty() || name.find_first_of(" :\r\n") != std::string::npos) {
        fail(join(hp, name), "is not a valid header name");
      }
      std::string value = scalar(entry.second, join(hp, name));
      if (value.find_first_of("\r\n") != std::string::npos) fail(join(hp, name), "has a newline");
      backend.headers[name] = value;
    }
  }
  if (auto a = node["basic_auth"]) {
    std::string ap = join(path, "basic_auth");
    allowOnly(a, ap, {"username", "password"});
    if (!a["username"]) fail(join(ap, "username"), "is required");
    backend.basicAuth = std::make_pair(str(a["username"], join(ap, "username")),
                                       a["password"] ? scalar(a["password"], join(ap, "password"))
                                                     : std::string());
  }
  if (auto f = node["forward_pocket_headers"]) {
    backend.forwardPocketHeaders = boolean(f, join(path, "forward_pocket_headers"));
  }
  if (auto t = node["connect_timeout_ms"]) {
    backend.timeouts.connect = millis(t, join(path, "connect_timeout_ms"), false);
  }
  if (auto t = node["first_byte_timeout_ms"]) {
    backend.timeouts.firstByte = millis(t, join(path, "first_byte_timeout_ms"), false);
  }
  if (auto t = node["timeout_ms"]) backend.timeouts.total = millis(t, join(path, "timeout_ms"), false);
  if (backend.timeouts.firstByte > backend.timeouts.total) backend.timeouts.firstByte = backend.timeouts.total;
  if (auto m = node["max_response_bytes"]) {
    backend.maxResponseBytes = bytes(m, join(path, "max_response_bytes"));
    if (backend.maxResponseBytes == 0) fail(join(path, "max_response_bytes"), "must be greater than 0");
  }
  if (auto c = node["http_client"]) {
    std::string cp = join(path, "http_client");
    std::string client = str(c, cp);
    if (client == "curl") {
      backend.useCurl = true;
    } else if (client != "native") {
      fail(cp, "must be 'native' or 'curl', got '" + client + "'");
    }
  }
  return backend;
}

ServiceConfig parseService(const std::string& id, const YAML::Node& node, const std::string& path) {
  allowOnly(node, path, {"validation", "backend", "rpc_types", "max_request_bytes"});
  ServiceConfig service;
  service.id = id;
  if (auto valid = protocol::validateServiceId(id); !valid) fail(path, valid.error().message);
  if (auto v = node["validation"]) {
    std::string mode = scalar(v, join(path, "validation"));
    if (mode == "eager") {
      service.validation = ValidationMode::eager;
    } else if (mode == "optimistic") {
      service.validation = ValidationMode::optimistic;
    } else if (mode == "none") {
      service.validation = ValidationMode::none;
    } else {
      fail(join(path, "validation"), "must be eager, optimistic or none, got '" + mode + "'");
    }
  }
  if (auto b = node["backend"]) service.defaultBackend = parseBackend(b, join(path, "backend"));
  if (auto r = node["rpc_types"]) {
    std::string rp = join(path, "rpc_types");
    if (!r.IsMap()) fail(rp, "must be a mapping of rpc type to backend");
    for (const auto& entry : r) {
      std::string name = entry.first.as<std::string>();
      int type = rpcTypeFromName(name);
      if (type == 0) fail(join(rp, name), "unknown rpc type (json_rpc, rest, comet_bft, grpc, websocket)");
      if (type == static_cast<int>(RpcType::websocket)) {
        fail(join(rp, name), "websocket relays are not served by this edge");
      }
      service.backendsByRpcType[type] = parseBackend(entry.second, join(rp, name));
    }
  }
  if (!service.defaultBackend && service.backendsByRpcType.empty()) {
    fail(path, "needs a backend or at least one rpc_types entry");
  }
  if (auto m = node["max_request_bytes"]) {
    service.maxRequestBytes = bytes(m, join(path, "max_request_bytes"));
  }
  return service;
}

LinkConfig parseLink(const YAML::Node& node, const std::string& path) {
  allowOnly(node, path,
            {"endpoint", "edge_id", "plaintext", "client_key_file", "server_public_key_file",
             "lookup_timeout_ms"});
  LinkConfig link;
  if (auto e = node["endpoint"]) link.endpoint = str(e, join(path, "endpoint"));
  if (auto e = node["edge_id"]) link.edgeId = str(e, join(path, "edge_id"));
  if (auto c = node["plaintext"]) link.plaintext = boolean(c, join(path, "plaintext"));
  if (auto k = node["client_key_file"]) link.clientKeyFile = str(k, join(path, "client_key_file"));
  if (auto k = node["server_public_key_file"]) {
    link.serverPublicKeyFile = str(k, join(path, "server_public_key_file"));
  }
  if (auto t = node["lookup_timeout_ms"]) {
    link.lookupTimeout = millis(t, join(path, "lookup_timeout_ms"), false);
  }
  if (!link.plaintext) {
    if (link.clientKeyFile.empty()) {
      fail(join(path, "client_key_file"), "is required unless plaintext is true");
    }
    if (link.serverPublicKeyFile.empty()) {
      fail(join(path, "server_public_key_file"), "is required unless plaintext is true");
    }
    // Parsed here with the loaders the link uses at start, so a configuration that loads (and
    // passes --check) does not fail later on its CURVE keys.
    try {
      net::loadCurveKeyPairFile(link.clientKeyFile);
    } catch (const std::runtime_error& e) {
      fail(join(path, "client_key_file"), e.what());
    }
    try {
      net::loadCurvePublicKeyFile(link.serverPublicKeyFile);
    } catch (const std::runtime_error& e) {
      fail(join(path, "server_public_key_file"), e.what());
    }
  } else if (!net::isLoopbackEndpoint(link.endpoint)) {
    fail(join(path, "plaintext"),
         "may be true only for a loopback endpoint (tcp://127.x.x.x, tcp://[::1], tcp://localhost, "
         "ipc://, inproc://), not '" + link.endpoint + "'");
  }
  if (link.edgeId.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
      fail(join(path, "edge_id"), "is required (the host name is not available)");
    }
    link.edgeId = host;
  }
  return link;
}

RelayMeterConfig parseRelayMeter(const YAML::Node& node, const std::string& path) {
  allowOnly(node, path,
            {"enabled", "over_servicing", "overservicing_bonus", "allowance_upokt",
             "fleet_share_percent"});
  RelayMeterConfig meter;
  if (auto v = node["enabled"]) meter.enabled = boolean(v, join(path, "enabled"));
  if (auto v = node["over_servicing"])
    meter.overServicing = boolean(v, join(path, "over_servicing"));
  if (auto v = node["overservicing_bonus"]) {
    meter.overservicingBonus = boolean(v, join(path, "overservicing_bonus"));
  }
  if (auto v = node["allowance_upokt"]) {
    meter.allowanceUpokt = uint(v, join(path, "allowance_upokt"), 1000000000000000000ull);
  }
  if (auto v = node["fleet_share_percent"]) {
    meter.fleetSharePercent = uint(v, join(path, "fleet_share_percent"), 100);
    if (meter.fleetSharePercent == 0) fail(join(path, "fleet_share_percent"), "must be at least 1");
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

std::uint64_t parseByteSize(const std::string& text, const std::string& keyPath) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 15) fail(keyPath, "must be a size such as 20MiB or 4096, got '" + text + "'");
  std::uint64_t n = std::stoull(text.substr(0, i));
  std::string unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  static const std::map<std::string, std::uint64_t> units = {
      {"", 1},          {"B", 1},           {"KiB", 1ull << 10}, {"MiB", 1ull << 20},
      {"GiB", 1ull << 30}, {"KB", 1000},    {"MB", 1000000},     {"GB", 1000000000}};
  auto it = units.find(unit);
  if (it == units.end()) {
    fail(keyPath, "unknown size unit '" + unit + "' (B, KiB, MiB, GiB, KB, MB, GB)");
  }
  return n * it->second;
}

Endpoint parseEndpoint(const std::string& text, const std::string& keyPath) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      fail(keyPath, "must be host:port or [ipv6]:port, got '" + text + "'");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      fail(keyPath, "must be host:port, got '" + text + "'");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
      std::stoul(port) > 65535) {
    fail(keyPath, "has an invalid port in '" + text + "'");
  }
  return Endpoint{host, static_cast<std::uint16_t>(std::stoul(port))};
}

void checkPrivateFile(const std::string& path, const std::string& keyPath) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(keyPath, "cannot read '" + path + "'");
  if (!S_ISREG(st.st_mode)) fail(keyPath, "'" + path + "' is not a regular file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    fail(keyPath, fmt::format("'{}' is accessible by group or others (mode {:o}); run chmod 600 on it",
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
  allowOnly(root, "",
            {"listeners", "admin_listener", "threads", "limits", "link", "suppliers", "services",
             "spool", "log_level", "relay_meter"});
  EdgeConfig config;

  if (!root["listeners"]) fail("listeners", "is required (a list of host:port)");
  {
    auto l = root["listeners"];
    if (!l.IsSequence() || l.size() == 0) fail("listeners", "must be a non-empty list of host:port");
    for (std::size_t i = 0; i < l.size(); ++i) {
      std::string path = fmt::format("listeners[{}]", i);
      config.listeners.push_back(parseEndpoint(str(l[i], path), path));
    }
  }
  if (auto a = root["admin_listener"]) {
    config.admin = parseEndpoint(str(a, "admin_listener"), "admin_listener");
  }
  if (auto t = root["threads"]) config.threads = static_cast<unsigned>(uint(t, "threads", 256));
  if (config.threads == 0) config.threads = std::max(1u, std::thread::hardware_concurrency());
  if (auto l = root["log_level"]) {
    if (!util::parseLogLevel(scalar(l, "log_level"), config.logLevel)) {
      fail("log_level", "must be debug, info, warn or error");
    }
  }
  if (auto l = root["limits"]) {
    allowOnly(l, "limits",
              {"max_header_bytes", "max_body_bytes", "idle_timeout_ms", "read_timeout_ms",
               "shutdown_grace_ms"});
    if (auto v = l["max_header_bytes"]) {
      config.limits.maxHeaderBytes = bytes(v, "limits.max_header_bytes");
      if (config.limits.maxHeaderBytes < 1024) fail("limits.max_header_bytes", "must be at least 1KiB");
    }
    if (auto v = l["max_body_bytes"]) config.limits.maxBodyBytes = bytes(v, "limits.max_body_bytes");
    if (auto v = l["idle_timeout_ms"]) config.limits.idleTimeout = millis(v, "limits.idle_timeout_ms", false);
    if (auto v = l["read_timeout_ms"]) config.limits.readTimeout = millis(v, "limits.read_timeout_ms", false);
    if (auto v = l["shutdown_grace_ms"]) {
      config.limits.shutdownGrace = millis(v, "limits.shutdown_grace_ms", true);
    }
  }

  if (!root["services"]) fail("services", "is required");
  {
    auto s = root["services"];
    if (!s.IsMap() || s.size() == 0) fail("services", "must be a non-empty mapping of service id");
    for (const auto& entry : s) {
      std::string id = entry.first.as<std::string>();
      config.services[id] = parseService(id, entry.second, join("services", id));
    }
  }
  for (auto& [id, service] : config.services) {
    if (service.maxRequestBytes > config.limits.maxBodyBytes) {
      fail(join(join("services", id), "max_request_bytes"),
           "must not exceed limits.max_body_bytes");
    }
  }

  bool needsChain = false;
  for (const auto& [id, service] : config.services) {
    if (service.validation != ValidationMode::none) needsChain = true;
  }
  if (auto s = root["suppliers"]) {
    if (!s.IsSequence()) fail("suppliers", "must be a list");
    for (std::size_t i = 0; i < s.size(); ++i) {
      std::string path = fmt::format("suppliers[{}]", i);
      allowOnly(s[i], path, {"key_file"});
      if (!s[i]["key_file"]) fail(join(path, "key_file"), "is required");
      SupplierConfig supplier{str(s[i]["key_file"], join(path, "key_file"))};
      checkPrivateFile(supplier.keyFile, join(path, "key_file"));
      config.suppliers.push_back(supplier);
    }
  }
  if (config.suppliers.empty()) fail("suppliers", "needs at least one supplier key_file");

  if (auto l = root["link"]) {
    config.link = parseLink(l, "link");
  } else if (needsChain) {
    fail("link", "is required: relay validation needs chain facts from the session manager");
  } else {
    config.link.plaintext = true;
  }

  if (auto s = root["spool"]) {
    allowOnly(s, "spool", {"directory", "max_bytes", "fsync"});
    if (auto d = s["directory"]) config.spool.directory = str(d, "spool.directory");
    if (auto m = s["max_bytes"]) {
      config.spool.maxBytes = bytes(m, "spool.max_bytes");
      if (config.spool.maxBytes < (1u << 20)) fail("spool.max_bytes", "must be at least 1MiB");
    }
    if (auto f = s["fsync"]) {
      std::string mode = scalar(f, "spool.fsync");
      if (mode == "batch") {
        config.spool.fsyncPerBatch = true;
      } else if (mode == "none") {
        config.spool.fsyncPerBatch = false;
      } else {
        fail("spool.fsync", "must be batch or none, got '" + mode + "'");
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
