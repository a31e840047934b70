// edge-bench-fixture DIR: writes what `scripts/bench edge` needs into DIR:
//   supplier.key     the supplier operator key (mode 0600)
//   fixture.json     sm-double's chain and session (current session [11, 20] at height 15, a ring of
//                    2: the application and its gateway, the easiest difficulty target)
//   relay.bin        a RelayRequest for service "bench", ring-signed by the gateway, carrying a
//                    JSON-RPC POST (what PATH sends)
//   relay-none.bin   the same for service "bench-none" (validation none)
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/crypto/keys.h"
#include "common/crypto/ring.h"
#include "common/protocol/http_payload.h"
#include "common/protocol/relay.h"
#include "common/util/hex.h"

using namespace pocket;

namespace {

void write(const std::string& path, const util::Bytes& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: edge-bench-fixture DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  auto supplier = crypto::PrivateKey::fromSecret(util::asBytes("bench-supplier"));
  auto app = crypto::PrivateKey::fromSecret(util::asBytes("bench-app"));
  auto gateway = crypto::PrivateKey::fromSecret(util::asBytes("bench-gateway"));
  std::vector<crypto::PublicKey> gateways = {gateway.publicKey()};
  auto ring = crypto::expectedRingKeys(app.publicKey(), gateways);

  std::ofstream(dir + "/supplier.key") << util::toHex(supplier.bytes()) << "\n";
  ::chmod((dir + "/supplier.key").c_str(), 0600);

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
    protocol::PoktHttpRequest http;
    http.method = "POST";
    http.url = "https://gateway.example/";
    http.header["Content-Type"] = {"application/json"};
    http.body = util::toBytes(R"({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]})");
    protocol::RelayRequest request;
    request.meta.sessionHeader =
        protocol::SessionHeader{app.publicKey().address(), service, sessionId, 11, 20};
    request.meta.supplierOperatorAddress = supplier.publicKey().address();
    request.payload = protocol::marshal(http);
    auto signature = crypto::signRing(gateway, ring, protocol::requestSignableHash(request));
    if (!signature) {
      std::fprintf(stderr, "edge-bench-fixture: %s\n", signature.error().message.c_str());
      return 1;
    }
    request.meta.signature = crypto::encodeRingSignature(*signature);
    write(dir + (service == "bench" ? "/relay.bin" : "/relay-none.bin"), protocol::marshal(request));
  }
  return 0;
}
