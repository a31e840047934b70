#include "edge/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest.h>

#include "test/support/process.h"
#include "common/net/curve_keys.h"
#include "common/net/link_socket.h"

using pocket::edge::ConfigError;
using pocket::edge::parseEdgeConfig;

namespace {

// A key file in a fresh temporary directory with the given mode.
struct TempKey {
  explicit TempKey(mode_t mode) : dir("edge-config-test"), path(dir / "supplier.key") {
    pocket::testing::writeFile(path, std::string(64, '1') + "\n", mode);
  }
  pocket::testing::TempDir dir;
  std::string path;
};

std::string minimal(const std::string& keyFile, const std::string& extra = "") {
  return "listeners: [\"127.0.0.1:0\"]\n"
         "suppliers:\n  - key_file: " + keyFile + "\n"
         "link:\n  endpoint: tcp://127.0.0.1:7400\n  plaintext: true\n  edge_id: e1\n"
         "services:\n  eth:\n    backend:\n      url: http://127.0.0.1:8545/rpc\n" + extra;
}

std::string errorOf(const std::string& yaml) {
  try {
    parseEdgeConfig(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a minimal configuration gets the documented defaults") {
  TempKey key(0600);
  auto config = parseEdgeConfig(minimal(key.path));
  REQUIRE(config.listeners.size() == 1);
  CHECK(config.listeners[0].host == "127.0.0.1");
  CHECK(config.admin.host == "127.0.0.1");
  CHECK(config.admin.port == 9464);
  CHECK(config.threads >= 1);
  CHECK(config.limits.maxHeaderBytes == 64 * 1024);
  CHECK(config.limits.maxBodyBytes == 20 * 1024 * 1024);
  const auto& eth = config.services.at("eth");
  CHECK(eth.validation == pocket::edge::ValidationMode::eager);
  REQUIRE(eth.backendFor(3) != nullptr);
  CHECK(eth.backendFor(3)->url == "http://127.0.0.1:8545/rpc");
  CHECK(eth.backendFor(3)->timeouts.total.count() == 10000);
  CHECK(eth.backendFor(3)->timeouts.firstByte.count() == 5000);
  CHECK_FALSE(eth.backendFor(3)->useCurl);  // http_client: native
  CHECK(config.spool.fsyncPerBatch);
  CHECK(config.link.plaintext);
}

TEST_CASE("rpc types pick their own backend and fall back to the default one") {
  TempKey key(0600);
  auto config = parseEdgeConfig(minimal(key.path,
                                        "    validation: optimistic\n"
                                        "    rpc_types:\n"
                                        "      rest:\n"
                                        "        url: http://127.0.0.1:1317\n"
                                        "        timeout_ms: 2500\n"
                                        "        basic_auth: {username: u, password: p}\n"
                                        "        headers: {X-Api-Key: k}\n"
                                        "        http_client: curl\n"));
  const auto& eth = config.services.at("eth");
  CHECK(eth.validation == pocket::edge::ValidationMode::optimistic);
  CHECK(eth.backendFor(4)->url == "http://127.0.0.1:1317");
  CHECK(eth.backendFor(4)->timeouts.total.count() == 2500);
  CHECK(eth.backendFor(4)->basicAuth->first == "u");
  CHECK(eth.backendFor(4)->headers.at("X-Api-Key") == "k");
  CHECK(eth.backendFor(4)->useCurl);
  CHECK(eth.backendFor(5)->url == "http://127.0.0.1:8545/rpc");
  CHECK_FALSE(eth.backendFor(5)->useCurl);
}

TEST_CASE("errors name the key path") {
  TempKey key(0600);
  CHECK(errorOf(minimal(key.path, "    validaton: eager\n")).rfind("services.eth.validaton: unknown key", 0) == 0);
  CHECK(errorOf(minimal(key.path, "    validation: lazy\n")).rfind("services.eth.validation: must be", 0) == 0);
  CHECK(errorOf(minimal(key.path, "    max_request_bytes: 12XB\n"))
            .rfind("services.eth.max_request_bytes: unknown size unit", 0) == 0);
  CHECK(errorOf(minimal(key.path) + "limits:\n  idle_timeout_ms: -5\n")
            .rfind("limits.idle_timeout_ms: must be a non-negative integer", 0) == 0);
  CHECK(errorOf(minimal(key.path) + "threads: many\n").rfind("threads:", 0) == 0);
  CHECK(errorOf(minimal(key.path, "    rpc_types:\n      soap:\n        url: http://x\n"))
            .rfind("services.eth.rpc_types.soap: unknown rpc type", 0) == 0);
  std::string noUrl = "listeners: [\"127.0.0.1:0\"]\nsuppliers:\n  - key_file: " + key.path +
                      "\nlink: {plaintext: true, edge_id: e}\nservices:\n  eth:\n    backend:\n      headers: {}\n";
  CHECK(errorOf(noUrl).rfind("services.eth.backend.url: is required", 0) == 0);
  CHECK(errorOf(minimal(key.path, "      http_client: wget\n"))
            .rfind("services.eth.backend.http_client: must be 'native' or 'curl', got 'wget'", 0) == 0);
  CHECK(errorOf("listeners: [\"127.0.0.1\"]\n").rfind("listeners[0]: must be host:port", 0) == 0);
  CHECK(errorOf("services: [").find("not valid YAML") != std::string::npos);
}

TEST_CASE("the link refuses plain text off loopback and needs CURVE keys otherwise") {
  TempKey key(0600);
  std::string base = "listeners: [\"127.0.0.1:0\"]\nsuppliers:\n  - key_file: " + key.path +
                     "\nservices:\n  eth:\n    backend: {url: \"http://127.0.0.1:1\"}\n";
  CHECK(errorOf(base + "link: {endpoint: \"tcp://10.0.0.5:7400\", plaintext: true, edge_id: e}\n")
            .rfind("link.plaintext: may be true only for a loopback", 0) == 0);
  CHECK(errorOf(base + "link: {endpoint: \"tcp://10.0.0.5:7400\", edge_id: e}\n")
            .rfind("link.client_key_file: is required", 0) == 0);
  CHECK(errorOf(base).rfind("link: is required", 0) == 0);
}

TEST_CASE("a plain-text link is refused off loopback by the same rule the link applies") {
  TempKey key(0600);
  std::string base = "listeners: [\"127.0.0.1:0\"]\nsuppliers:\n  - key_file: " + key.path +
                     "\nservices:\n  eth:\n    backend: {url: \"http://127.0.0.1:1\"}\n";
  auto plain = [&](const std::string& endpoint) {
    return errorOf(base + "link: {endpoint: \"" + endpoint + "\", plaintext: true, edge_id: e}\n");
  };
  for (const char* loopback : {"tcp://127.0.0.1:7400", "tcp://127.9.8.7:7400", "tcp://localhost:7400",
                               "tcp://[::1]:7400", "ipc:///tmp/link.sock"}) {
    CAPTURE(loopback);
    CHECK(plain(loopback) == "");
    CHECK(pocket::net::isLoopbackEndpoint(loopback));
  }
  for (const char* remote : {"tcp://127.evil.com:7400", "tcp://localhost.evil.com:7400",
                             "tcp://10.0.0.5:7400", "tcp://0.0.0.0:7400"}) {
    CAPTURE(remote);
    CHECK(plain(remote).rfind("link.plaintext: may be true only for a loopback endpoint", 0) == 0);
    CHECK_FALSE(pocket::net::isLoopbackEndpoint(remote));
  }
}

TEST_CASE("CURVE key files are parsed at load and every error names the key path") {
  TempKey key(0600);
  std::filesystem::path dir = key.dir.path();
  auto client = pocket::net::generateCurveKeyPair();
  auto server = pocket::net::generateCurveKeyPair();
  pocket::net::writeCurveKeyPairFile(dir / "edge.key", client);
  pocket::net::writeCurvePublicKeyFile(dir / "manager.pub", server.publicKey);
  auto withKeys = [&](const std::string& clientFile, const std::string& serverFile) {
    return "listeners: [\"127.0.0.1:0\"]\nsuppliers:\n  - key_file: " + key.path +
           "\nlink:\n  endpoint: tcp://10.0.0.5:7400\n  edge_id: e1\n  client_key_file: " +
           clientFile + "\n  server_public_key_file: " + serverFile +
           "\nservices:\n  eth:\n    backend: {url: \"http://127.0.0.1:1\"}\n";
  };
  auto write = [&](const std::string& name, const std::string& text) {
    std::string path = dir / name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0600);
    return path;
  };
  std::string goodClient = dir / "edge.key";
  std::string goodServer = dir / "manager.pub";

  auto config = parseEdgeConfig(withKeys(goodClient, goodServer));
  CHECK(config.link.clientKeyFile == goodClient);
  CHECK(config.link.serverPublicKeyFile == goodServer);

  auto clientError = [&](const std::string& file) { return errorOf(withKeys(file, goodServer)); };
  auto serverError = [&](const std::string& file) { return errorOf(withKeys(goodClient, file)); };
  std::string missing = dir / "missing";
  CHECK(clientError(missing).rfind("link.client_key_file: key file " + missing + ": cannot be read", 0) == 0);
  CHECK(serverError(missing).rfind("link.server_public_key_file: key file " + missing + ": cannot be read", 0) == 0);

  std::string open = write("open.key", "public-key = " + client.publicKey + "\nsecret-key = " +
                                           client.secretKey + "\n");
  ::chmod(open.c_str(), 0644);
  CHECK(clientError(open).rfind("link.client_key_file: key file " + open + ": is readable by group", 0) == 0);

  std::string noSecret = write("nosecret.key", "public-key = " + client.publicKey + "\n");
  CHECK(clientError(noSecret).rfind("link.client_key_file: key file " + noSecret +
                                        ": missing or malformed secret-key", 0) == 0);
  std::string mixed = write("mixed.key", "public-key = " + server.publicKey + "\nsecret-key = " +
                                            client.secretKey + "\n");
  CHECK(clientError(mixed).find("does not belong to secret-key") != std::string::npos);

  std::string empty = write("empty.pub", "# nothing here\n");
  CHECK(serverError(empty).rfind("link.server_public_key_file: key file " + empty +
                                     ": missing or malformed public-key", 0) == 0);
  std::string shortKey = write("short.pub", "public-key = " + server.publicKey.substr(0, 39) + "\n");
  CHECK(serverError(shortKey).rfind("link.server_public_key_file: key file " + shortKey +
                                        ": missing or malformed public-key", 0) == 0);
  std::string notZ85 = write("notz85.pub", "public-key = " + std::string(40, '"') + "\n");
  CHECK(serverError(notZ85).find("link.server_public_key_file:") == 0);
}

TEST_CASE("supplier key files readable by others are refused") {
  TempKey key(0644);
  std::string error = errorOf(minimal(key.path));
  CHECK(error.rfind("suppliers[0].key_file:", 0) == 0);
  CHECK(error.find("chmod 600") != std::string::npos);
  CHECK(errorOf(minimal("/nonexistent/key")).rfind("suppliers[0].key_file: cannot read", 0) == 0);
}

TEST_CASE("byte sizes and endpoints") {
  CHECK(pocket::edge::parseByteSize("4096", "k") == 4096);
  CHECK(pocket::edge::parseByteSize("20MiB", "k") == 20ull << 20);
  CHECK(pocket::edge::parseByteSize("1GB", "k") == 1000000000ull);
  CHECK_THROWS_AS(pocket::edge::parseByteSize("MiB", "k"), ConfigError);
  auto v6 = pocket::edge::parseEndpoint("[::1]:8080", "k");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 8080);
  CHECK_THROWS_AS(pocket::edge::parseEndpoint("host:99999", "k"), ConfigError);
}

TEST_CASE("relay_meter: defaults, every key, and errors that name the key") {
  TempKey key(0600);
  auto defaults = parseEdgeConfig(minimal(key.path)).relayMeter;
  CHECK(defaults.enabled);
  CHECK_FALSE(defaults.overServicing);
  CHECK_FALSE(defaults.overservicingBonus);
  CHECK(defaults.allowanceUpokt == 0);
  CHECK(defaults.fleetSharePercent == 100);

  auto meter = parseEdgeConfig(minimal(key.path,
                                       "relay_meter:\n  enabled: false\n"
                                       "  over_servicing: true\n"
                                       "  overservicing_bonus: true\n"
                                       "  allowance_upokt: 1000000\n"
                                       "  fleet_share_percent: 25\n"))
                   .relayMeter;
  CHECK_FALSE(meter.enabled);
  CHECK(meter.overServicing);
  CHECK(meter.overservicingBonus);
  CHECK(meter.allowanceUpokt == 1000000);
  CHECK(meter.fleetSharePercent == 25);

  CHECK(errorOf(minimal(key.path, "relay_meter:\n  fleet_share_percent: 0\n"))
            .rfind("relay_meter.fleet_share_percent: must be at least 1", 0) == 0);
  CHECK(errorOf(minimal(key.path, "relay_meter:\n  fleet_share_percent: 101\n"))
            .rfind("relay_meter.fleet_share_percent: must be at most 100", 0) == 0);
  CHECK(errorOf(minimal(key.path, "relay_meter:\n  enabled: yes\n"))
            .rfind("relay_meter.enabled: must be true or false", 0) == 0);
  CHECK(errorOf(minimal(key.path, "relay_meter:\n  allowance_upokt: -1\n"))
            .rfind("relay_meter.allowance_upokt: must be a non-negative integer", 0) == 0);
  CHECK(errorOf(minimal(key.path, "relay_meter:\n  service_factor: 0.01\n"))
            .rfind("relay_meter.service_factor: unknown key", 0) == 0);
}
