#include "test/gateway/relay_builder.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/crypto/ring.h"
#include "common/protocol/proto_wire.h"

namespace pocket::gateway {

util::Result<RelaySigner> RelaySigner::create(const crypto::PrivateKey& signer,
                                              const crypto::PublicKey& application,
                                              const std::vector<crypto::PublicKey>& gateways) {
  auto ring = crypto::expectedRingKeys(application, gateways);
  auto self = signer.publicKey();
  if (std::find(ring.begin(), ring.end(), self) == ring.end()) {
    return util::makeError(crypto::kErrRingSignerNotInRing,
                           "the signing key " + self.hex() + " (" + self.address() +
                               ") is neither the application " + application.address() +
                               " nor one of its " + std::to_string(gateways.size()) +
                               " delegated gateways");
  }
  return RelaySigner(signer, std::move(ring));
}

util::Result<protocol::RelayRequest> RelaySigner::sign(const RelayTemplate& relay) const {
  protocol::RelayRequest request;
  request.meta.sessionHeader = relay.session;
  request.meta.supplierOperatorAddress = relay.supplierOperatorAddress;
  request.payload = protocol::marshal(relay.http);
  auto signature = crypto::signRing(signer_, ring_, protocol::requestSignableHash(request));
  if (!signature) return signature.error();
  request.meta.signature = crypto::encodeRingSignature(*signature);
  return request;
}

std::string defaultJsonRpcBody(std::uint64_t id) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"eth_blockNumber","params":[]})";
}

util::Result<std::string> withJsonRpcId(std::string_view body, std::uint64_t id) {
  auto json = nlohmann::ordered_json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return util::makeError(kErrNotJsonObject,
                           "the request body is not a JSON object, so relays cannot be made "
                           "distinct by their JSON-RPC id");
  }
  json["id"] = id;
  return json.dump();
}

util::Result<std::vector<util::Bytes>> signRelayPool(const RelaySigner& signer,
                                                     const RelayTemplate& relay, std::size_t count,
                                                     std::uint64_t firstId, unsigned threads) {
  std::string body(relay.http.body.begin(), relay.http.body.end());
  // Fail early, before any thread starts, when the body cannot carry an id.
  if (auto probe = withJsonRpcId(body, firstId); !probe) return probe.error();

  std::vector<util::Bytes> pool(count);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  util::Error firstError;
  std::atomic_flag errorTaken = ATOMIC_FLAG_INIT;
  auto work = [&] {
    RelayTemplate mine = relay;
    while (!failed) {
      std::size_t i = next++;
      if (i >= count) return;
      mine.http.body = util::toBytes(*withJsonRpcId(body, firstId + i));
      auto signedRelay = signer.sign(mine);
      if (!signedRelay) {
        if (!errorTaken.test_and_set()) firstError = signedRelay.error();
        failed = true;
        return;
      }
      pool[i] = protocol::marshal(*signedRelay);
    }
  };
  std::vector<std::thread> workers;
  unsigned n = std::max(1U, std::min<unsigned>(threads, static_cast<unsigned>(count)));
  for (unsigned t = 1; t < n; ++t) workers.emplace_back(work);
  work();
  for (auto& w : workers) w.join();
  if (failed) return firstError;
  return pool;
}

std::string relayHttpRequest(std::string_view hostPort, std::string_view target, int rpcType,
                             const protocol::HttpHeaders& payloadHeaders,
                             util::ByteSpan relayBytes) {
  std::string out;
  out.reserve(256 + relayBytes.size());
  out += "POST ";
  out += target.empty() ? std::string_view("/") : target;
  out += " HTTP/1.1\r\nHost: ";
  out += hostPort;
  out += "\r\nContent-Type: application/json\r\n";
  if (rpcType != 0) out += "Rpc-Type: " + std::to_string(rpcType) + "\r\n";
  for (const auto& [name, values] : payloadHeaders) {
    // Go's Header.Set semantics for the one header PATH sets itself.
    if (name == "Content-Type" || name == "Content-Length" || name == "Host") continue;
    for (const auto& value : values) out += name + ": " + value + "\r\n";
  }
  out += "User-Agent: Go-http-client/1.1\r\nContent-Length: " + std::to_string(relayBytes.size()) +
         "\r\n\r\n";
  out.append(reinterpret_cast<const char*>(relayBytes.data()), relayBytes.size());
  return out;
}

util::Result<CheckedResponse> checkRelayResponse(util::ByteSpan body,
                                                 const protocol::SessionHeader& expectedSession,
                                                 const crypto::PublicKey& supplierKey) {
  auto parsed = protocol::parseRelayResponse(body);
  if (!parsed) {
    return util::makeError(std::string(protocol::wire::kMalformedProto),
                           "the 200 answer is not a RelayResponse: " + parsed.error().message);
  }
  CheckedResponse out{std::move(*parsed), {}};
  const auto& response = out.response;
  if (response.relayMinerError) {
    const auto& e = *response.relayMinerError;
    return util::makeError(kErrRelayMinerError, "the answer is an error reply: " + e.codespace +
                                                    " code " + std::to_string(e.code) + ": " +
                                                    e.description + " " + e.message);
  }
  if (response.meta.sessionHeader != expectedSession) {
    return util::makeError(kErrSessionMismatch,
                           "the answer's session header differs from the request's");
  }
  if (response.meta.supplierOperatorSignature.empty()) {
    return util::makeError(kErrMissingSignature, "the answer carries no supplier signature");
  }
  if (!response.payloadHash.empty()) {
    auto expected = protocol::payloadHash(response.payload);
    if (!std::equal(expected.begin(), expected.end(), response.payloadHash.begin(),
                    response.payloadHash.end())) {
      return util::makeError(kErrPayloadHashMismatch,
                             "payload_hash is not sha256 of the payload the answer carries");
    }
  }
  if (!protocol::verifyResponseSignature(response, supplierKey)) {
    return util::makeError(kErrBadSignature,
                           "the supplier signature does not verify under the public key " +
                               supplierKey.hex() + " (" + supplierKey.address() + ")");
  }
  auto http = protocol::parsePoktHttpResponse(response.payload);
  if (!http) {
    return util::makeError(kErrMalformedPayload,
                           "the signed payload is not a POKTHTTPResponse: " + http.error().message);
  }
  out.http = std::move(*http);
  return out;
}

}  // namespace pocket::gateway
