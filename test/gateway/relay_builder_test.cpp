// The relays relay-gateway builds: ring-signed over the ring the chain expects, distinct across a
// pool, wrapped in PATH's outer request; and PATH's checks of the answer.

#include "test/gateway/relay_builder.h"

#include <set>
#include <string>

#include <doctest.h>

#include "common/crypto/ring.h"
#include "common/protocol/proto_wire.h"
#include "common/util/hex.h"

namespace {

namespace crypto = pocket::crypto;
namespace protocol = pocket::protocol;
namespace util = pocket::util;
using pocket::gateway::RelaySigner;
using pocket::gateway::RelayTemplate;

struct Keys {
  crypto::PrivateKey app = crypto::PrivateKey::fromSecret(util::asBytes("gw-test-app"));
  crypto::PrivateKey gateway = crypto::PrivateKey::fromSecret(util::asBytes("gw-test-gateway"));
  crypto::PrivateKey other = crypto::PrivateKey::fromSecret(util::asBytes("gw-test-other"));
  crypto::PrivateKey supplier = crypto::PrivateKey::fromSecret(util::asBytes("gw-test-supplier"));
};

RelayTemplate relayTemplate(const Keys& keys) {
  RelayTemplate t;
  t.session = {keys.app.publicKey().address(), "svc", std::string(64, 'a'), 11, 20};
  t.supplierOperatorAddress = keys.supplier.publicKey().address();
  t.http.method = "POST";
  t.http.url = "http://127.0.0.1:1/";
  t.http.header["Content-Type"] = {"application/json"};
  t.http.body = util::toBytes(pocket::gateway::defaultJsonRpcBody(1));
  return t;
}

// True iff the serialized request's ring signature verifies over its signable hash and its ring is
// within `expected`.
bool verifies(const protocol::RelayRequest& request,
              const std::vector<crypto::PublicKey>& expected) {
  auto signature = crypto::decodeRingSignature(request.meta.signature);
  if (!signature) return false;
  if (!crypto::checkRingMembership(*signature, expected)) return false;
  crypto::RingVerifier verifier;
  return verifier.verify(*signature, protocol::requestSignableHash(request)).ok();
}

}  // namespace

TEST_CASE("a gateway signs over the ring the chain expects; outsiders are refused") {
  Keys keys;
  std::vector<crypto::PublicKey> gateways = {keys.gateway.publicKey()};
  auto signer = RelaySigner::create(keys.gateway, keys.app.publicKey(), gateways);
  REQUIRE(signer);
  auto expected = crypto::expectedRingKeys(keys.app.publicKey(), gateways);
  CHECK(signer->ring() == expected);
  auto request = signer->sign(relayTemplate(keys));
  REQUIRE(request);
  CHECK(request->meta.sessionHeader == relayTemplate(keys).session);
  CHECK(request->meta.supplierOperatorAddress == keys.supplier.publicKey().address());
  auto payload = protocol::parsePoktHttpRequest(request->payload);
  REQUIRE(payload);
  CHECK(*payload == relayTemplate(keys).http);
  CHECK(verifies(*request, expected));
  // The application signs for itself over {app, placeholder} when it has no gateway.
  auto appSigner = RelaySigner::create(keys.app, keys.app.publicKey(), {});
  REQUIRE(appSigner);
  CHECK(appSigner->ring().size() == 2);
  CHECK(verifies(*appSigner->sign(relayTemplate(keys)), appSigner->ring()));

  auto outsider = RelaySigner::create(keys.other, keys.app.publicKey(), gateways);
  REQUIRE_FALSE(outsider);
  CHECK(outsider.error().code == pocket::crypto::kErrRingSignerNotInRing);
}

TEST_CASE("a pool holds distinct relays: distinct ids, hashes and signatures, all valid") {
  Keys keys;
  std::vector<crypto::PublicKey> gateways = {keys.gateway.publicKey()};
  auto signer = RelaySigner::create(keys.gateway, keys.app.publicKey(), gateways);
  REQUIRE(signer);
  auto pool = pocket::gateway::signRelayPool(*signer, relayTemplate(keys), 40, 7, 3);
  REQUIRE(pool);
  REQUIRE(pool->size() == 40);
  std::set<std::string> bodies, hashes, signatures;
  for (std::size_t i = 0; i < pool->size(); ++i) {
    auto request = protocol::parseRelayRequest((*pool)[i]);
    REQUIRE(request);
    auto http = protocol::parsePoktHttpRequest(request->payload);
    REQUIRE(http);
    std::string body(http->body.begin(), http->body.end());
    CHECK(body == pocket::gateway::defaultJsonRpcBody(7 + i));
    bodies.insert(body);
    hashes.insert(util::toHex(protocol::requestSignableHash(*request)));
    signatures.insert(util::toHex(request->meta.signature));
    CHECK(verifies(*request, signer->ring()));
  }
  CHECK(bodies.size() == 40);
  CHECK(hashes.size() == 40);
  CHECK(signatures.size() == 40);

  auto rest = relayTemplate(keys);
  rest.http.body = util::toBytes("not json");
  auto refused = pocket::gateway::signRelayPool(*signer, rest, 4, 1, 2);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == pocket::gateway::kErrNotJsonObject);
}

TEST_CASE("the JSON-RPC id is replaced in place") {
  auto replaced = pocket::gateway::withJsonRpcId(R"({"jsonrpc":"2.0","method":"m","id":"x"})", 42);
  REQUIRE(replaced);
  CHECK(*replaced == R"({"jsonrpc":"2.0","method":"m","id":42})");
  CHECK_FALSE(pocket::gateway::withJsonRpcId("[1,2]", 1));
}

TEST_CASE("the outer request is PATH's: POST, JSON content type, Rpc-Type, payload headers") {
  protocol::HttpHeaders headers = {{"Content-Type", {"application/json"}}, {"X-Api", {"a", "b"}}};
  std::string relay("\x0a\x00", 2);
  auto message =
      pocket::gateway::relayHttpRequest("127.0.0.1:8545", "/v1", 3, headers, util::asBytes(relay));
  CHECK(message.starts_with("POST /v1 HTTP/1.1\r\nHost: 127.0.0.1:8545\r\n"));
  CHECK(message.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
  CHECK(message.find("\r\nRpc-Type: 3\r\n") != std::string::npos);
  CHECK(message.find("\r\nX-Api: a\r\nX-Api: b\r\n") != std::string::npos);
  CHECK(message.find("Content-Type", message.find("Content-Type") + 1) == std::string::npos);
  CHECK(message.ends_with("Content-Length: 2\r\n\r\n" + relay));
  auto noType = pocket::gateway::relayHttpRequest("h:1", "", 0, {}, util::asBytes(relay));
  CHECK(noType.starts_with("POST / HTTP/1.1\r\n"));
  CHECK(noType.find("Rpc-Type") == std::string::npos);
}

TEST_CASE("PATH's checks of an answer: signature, payload_hash, session, error replies") {
  Keys keys;
  auto session = relayTemplate(keys).session;
  protocol::PoktHttpResponse backend;
  backend.statusCode = 200;
  backend.header["Content-Type"] = {"application/json"};
  backend.body = util::toBytes(R"({"jsonrpc":"2.0","id":1,"result":"0x1"})");
  protocol::RelayResponse response;
  response.meta.sessionHeader = session;
  response.payload = protocol::marshal(backend);
  protocol::signResponse(response, keys.supplier);

  auto good = pocket::gateway::checkRelayResponse(protocol::marshal(response), session,
                                                  keys.supplier.publicKey());
  REQUIRE(good);
  CHECK(good->http == backend);

  auto code = [&](const protocol::RelayResponse& r, const crypto::PublicKey& key) {
    auto checked = pocket::gateway::checkRelayResponse(protocol::marshal(r), session, key);
    return checked ? std::string("ok") : checked.error().code;
  };
  CHECK(code(response, keys.other.publicKey()) == pocket::gateway::kErrBadSignature);
  auto tampered = response;
  tampered.payload.push_back(0);
  CHECK(code(tampered, keys.supplier.publicKey()) == pocket::gateway::kErrPayloadHashMismatch);
  auto otherSession = response;
  otherSession.meta.sessionHeader->sessionId = std::string(64, 'b');
  CHECK(code(otherSession, keys.supplier.publicKey()) == pocket::gateway::kErrSessionMismatch);
  auto noSignature = response;
  noSignature.meta.supplierOperatorSignature.clear();
  CHECK(code(noSignature, keys.supplier.publicKey()) == pocket::gateway::kErrMissingSignature);
  auto errorReply = response;
  errorReply.relayMinerError = protocol::RelayMinerError{"relayer_proxy", 3, "d", "m"};
  CHECK(code(errorReply, keys.supplier.publicKey()) == pocket::gateway::kErrRelayMinerError);
  auto junk = pocket::gateway::checkRelayResponse(util::asBytes("\xff\xff"), session,
                                                  keys.supplier.publicKey());
  REQUIRE_FALSE(junk);
  CHECK(junk.error().code == pocket::protocol::wire::kMalformedProto);
}
