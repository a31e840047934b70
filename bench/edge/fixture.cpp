// edge-bench-fixture DIR: writes what `scripts/bench edge` needs into DIR:
//   supplier.key     the supplier operator key (mode 0600)
//   app.key          the application's key, gateway.key the gateway's (mode 0600): relay-gateway
//                    signs its pool of relays with them
//   fixture.json     sm-double's chain and session (current session [11, 20] at height 15, a
//                    ring of 2: the application and its gateway, the easiest difficulty target)
//   relay.bin        a RelayRequest for service "bench", ring-signed by the gateway, carrying a
//                    JSON-RPC POST (what PATH sends)
//   relay-none.bin   the same for service "bench-none" (validation none)
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "common/crypto/keys.h"
#include "common/protocol/http_payload.h"
#include "common/protocol/relay.h"
#include "common/util/hex.h"
#include "test/gateway/relay_builder.h"

using namespace pocket;

namespace {

void write(const std::string& path, const util::Bytes& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// A key file as the edge and relay-gateway want it: 64 hex digits, mode 0600 from the start.
bool writeKey(const std::string& path, const crypto::PrivateKey& key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  std::string text = util::toHex(key.bytes()) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  return ::close(fd) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("usage: edge-bench-fixture DIR\nWrites the keys, the sm-double session fixture and "
                "signed relays that bench/edge/run uses into DIR.\n");
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: edge-bench-fixture DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  auto supplier = crypto::PrivateKey::fromSecret(util::asBytes("bench-supplier"));
  auto app = crypto::PrivateKey::fromSecret(util::asBytes("bench-app"));
  auto gateway = crypto::PrivateKey::fromSecret(util::asBytes("bench-gateway"));
  std::vector<crypto::PublicKey> gateways = {gateway.publicKey()};
  auto signer = pocket::gateway::RelaySigner::create(gateway, app.publicKey(), gateways);
  if (!signer) {
    std::fprintf(stderr, "edge-bench-fixture: %s\n", signer.error().message.c_str());
    return 1;
  }
  const auto& ring = signer->ring();

  for (const auto& [name, key] : {std::pair{"supplier.key", &supplier}, std::pair{"app.key", &app},
                                  std::pair{"gateway.key", &gateway}}) {
    if (!writeKey(dir + "/" + name, *key)) {
      std::fprintf(stderr, "edge-bench-fixture: cannot write %s/%s\n", dir.c_str(), name);
      return 1;
    }
  }

  nlohmann::json ringHex = nlohmann::json::array();
  for (const auto& k : ring) ringHex.push_back(k.hex());
  nlohmann::json fixture = {{"chain", {{"height", 15}, {"advance", false}}},
                            {"sessions", nlohmann::json::array()}};
  const std::string sessionId(64, 'c');
  for (const std::string service : {"bench", "bench-none"}) {
    fixture["sessions"].push_back({{"applicationAddress", app.publicKey().address()},
                                   {"serviceId", service},
                                   {"sessionId", sessionId},
                                   {"start", 11},
                                   {"end", 20},
                                   {"suppliers", {supplier.publicKey().address()}},
                                   {"ringPubKeys", ringHex},
                                   {"computeUnitsPerRelay", 1},
                                   {"difficultyTarget", std::string(64, 'f')}});
  }
  std::ofstream(dir + "/fixture.json") << fixture.dump(2);

  for (const std::string service : {"bench", "bench-none"}) {
    pocket::gateway::RelayTemplate relay;
    relay.session = protocol::SessionHeader{app.publicKey().address(), service, sessionId, 11, 20};
    relay.supplierOperatorAddress = supplier.publicKey().address();
    relay.http.method = "POST";
    relay.http.url = "https://gateway.example/";
    relay.http.header["Content-Type"] = {"application/json"};
    relay.http.body = util::toBytes(pocket::gateway::defaultJsonRpcBody(1));
    auto request = signer->sign(relay);
    if (!request) {
      std::fprintf(stderr, "edge-bench-fixture: %s\n", request.error().message.c_str());
      return 1;
    }
    write(dir + (service == "bench" ? "/relay.bin" : "/relay-none.bin"),
          protocol::marshal(*request));
  }
  return 0;
}
