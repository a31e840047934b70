#pragma once
// What a PATH-style gateway puts on the wire, and what it checks in the answer
// (docs/protocol.md §3–§4):
//   - the RelayRequest: session header, supplier operator address, payload = a POKTHTTPRequest,
//     meta.signature = a ring signature over requestSignableHash by the application or one of its
//     delegated gateways, over the ring the chain expects (crypto::expectedRingKeys);
//   - the outer HTTP POST carrying it (Content-Type: application/json, Rpc-Type, the payload's
//     headers copied onto the outer request);
//   - the checks PATH makes on a 200 answer: it parses as a RelayResponse, the session header is
//     the request's, payload_hash (when set) is sha256(payload), and the supplier signature
//     verifies under the supplier's public key.
//
// RelaySigner is a value type holding the signer's key and the ring; sign() draws fresh randomness
// per call and is safe to call from several threads at once. The free functions are pure.
// Failures are util::Error values; nothing here throws for bad input.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/keys.h"
#include "common/protocol/http_payload.h"
#include "common/protocol/relay.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::gateway {

// Everything of a relay except its signature.
struct RelayTemplate {
  protocol::SessionHeader session;
  std::string supplierOperatorAddress;
  protocol::PoktHttpRequest http;  // the end user's request, embedded as the payload
};

// Signs relays as one member of an application's ring.
class RelaySigner {
 public:
  // The ring is what the chain expects for `application` and its delegated `gateways`
  // (expectedRingKeys: the placeholder key joins when there is no gateway). Error
  // crypto::kErrRingSignerNotInRing when the signer's public key is neither the application's nor one of the
  // gateways'.
  static util::Result<RelaySigner> create(const crypto::PrivateKey& signer,
                                          const crypto::PublicKey& application,
                                          const std::vector<crypto::PublicKey>& gateways);

  // A signed RelayRequest for the template. Errors come from crypto::signRing.
  util::Result<protocol::RelayRequest> sign(const RelayTemplate& relay) const;

  const std::vector<crypto::PublicKey>& ring() const { return ring_; }
  const crypto::PrivateKey& signer() const { return signer_; }

 private:
  RelaySigner(crypto::PrivateKey signer, std::vector<crypto::PublicKey> ring)
      : signer_(std::move(signer)), ring_(std::move(ring)) {}
  crypto::PrivateKey signer_;
  std::vector<crypto::PublicKey> ring_;
};

// The JSON-RPC body used when none is given: eth_blockNumber with the given id.
std::string defaultJsonRpcBody(std::uint64_t id);

// The body with its top-level JSON-RPC "id" replaced by `id` (key order kept). Error
// kErrNotJsonObject when the body is not a JSON object: only JSON-RPC bodies can be made distinct
// this way.
util::Result<std::string> withJsonRpcId(std::string_view body, std::uint64_t id);

// `count` signed relays of the template whose JSON-RPC ids are firstId, firstId + 1, ... (so every
// relay has its own signable hash and signature), each serialized. Signing is spread over
// `threads` threads. Errors: those of withJsonRpcId and of signing.
util::Result<std::vector<util::Bytes>> signRelayPool(const RelaySigner& signer,
                                                     const RelayTemplate& relay, std::size_t count,
                                                     std::uint64_t firstId, unsigned threads);

// The outer HTTP/1.1 request PATH sends for a serialized RelayRequest: POST `target` (path and
// query of the supplier's URL) to `hostPort`, Content-Type: application/json, Rpc-Type: rpcType
// (omitted when 0), the payload headers, Content-Length, keep-alive.
std::string relayHttpRequest(std::string_view hostPort, std::string_view target, int rpcType,
                             const protocol::HttpHeaders& payloadHeaders,
                             util::ByteSpan relayBytes);

// What a 200 answer held, once checked.
struct CheckedResponse {
  protocol::RelayResponse response;
  protocol::PoktHttpResponse http;  // the embedded backend answer
};

// Error codes (util::Error::code) of withJsonRpcId and checkRelayResponse.
inline constexpr char kErrNotJsonObject[] = "not_json_object";
inline constexpr char kErrRelayMinerError[] = "relay_miner_error";
inline constexpr char kErrSessionMismatch[] = "session_mismatch";
inline constexpr char kErrMissingSignature[] = "missing_signature";
inline constexpr char kErrPayloadHashMismatch[] = "payload_hash_mismatch";
inline constexpr char kErrBadSignature[] = "bad_signature";
inline constexpr char kErrMalformedPayload[] = "malformed_payload";

// PATH's checks of a 200 answer body, in order. Errors: protocol::wire::kMalformedProto (not a
// RelayResponse), kErrRelayMinerError (an error reply), kErrSessionMismatch (the header is not the
// request's), kErrMissingSignature, kErrPayloadHashMismatch, kErrBadSignature (does not verify
// under `supplierKey`), kErrMalformedPayload (the payload is not a POKTHTTPResponse).
util::Result<CheckedResponse> checkRelayResponse(util::ByteSpan body,
                                                 const protocol::SessionHeader& expectedSession,
                                                 const crypto::PublicKey& supplierKey);

}  // namespace pocket::gateway
