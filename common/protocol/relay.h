#pragma once
// Relays on the wire: parsing, canonical serialization, signable bytes, relay hashes and the
// difficulty test (docs/protocol.md §1–§2).
//
// poktroll computes every signature and hash over gogoproto's re-serialization of the *parsed*
// message, never over the received bytes. The types below hold exactly what gogoproto's structs
// hold, and marshal() writes what gogoproto's stable marshaler writes:
//   - fields in ascending field-number order (RelayResponse: 1 meta, 2 payload,
//     3 relay_miner_error, 4 payload_hash),
//   - proto3 zero values (0, "", empty bytes) omitted,
//   - the non-nullable `meta` of RelayRequest/RelayResponse always written (tag + length, also when
//     empty); optional sub-messages (session_header, relay_miner_error, Relay.req/res) written when
//     present, an empty present one as tag + 0x00,
//   - negative int64 as 10-byte varints.
// Parsing follows gogoproto's generated Unmarshal: unknown fields are dropped, repeated scalar
// fields keep the last value, repeated sub-messages merge, and anything gogoproto rejects
// (truncation, over-long varints, a known field with the wrong wire type, field number 0, ...) is
// rejected with util::Error{code = "malformed_proto", message = where and why}. Bad input never
// crashes.
//
// Why not the protoc-generated classes: their serializer produces the same bytes once unknown
// fields are discarded and `meta` is forced present, but their parser differs from Go at the edges
// (it keeps a known field with the wrong wire type as an unknown field, rejects invalid UTF-8 in
// strings that Go accepts and signs) and it allocates more. test/protocol checks the two
// serializers against each other.
//
// All functions are pure and thread-safe; the value types are plain copyable data.

#include <cstdint>
#include <optional>
#include <string>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::protocol {

// pocket.session.SessionHeader
struct SessionHeader {
  std::string applicationAddress;            // 1, bech32
  std::string serviceId;                     // 2
  std::string sessionId;                     // 3, 64 hex characters
  std::int64_t sessionStartBlockHeight = 0;  // 4
  std::int64_t sessionEndBlockHeight = 0;    // 5, last block of the session, inclusive

  bool operator==(const SessionHeader&) const = default;
};

// pocket.service.RelayRequestMetadata
struct RelayRequestMetadata {
  std::optional<SessionHeader> sessionHeader;  // 1
  util::Bytes signature;                       // 2, serialized ring signature
  std::string supplierOperatorAddress;         // 3, bech32

  bool operator==(const RelayRequestMetadata&) const = default;
};

// pocket.service.RelayRequest
struct RelayRequest {
  RelayRequestMetadata meta;  // 1, always serialized
  util::Bytes payload;        // 2, a serialized POKTHTTPRequest for HTTP relays

  bool operator==(const RelayRequest&) const = default;
};

// pocket.service.RelayMinerError
struct RelayMinerError {
  std::string codespace;    // 1
  std::uint32_t code = 0;   // 2
  std::string description;  // 3
  std::string message;      // 4

  bool operator==(const RelayMinerError&) const = default;
};

// pocket.service.RelayResponseMetadata
struct RelayResponseMetadata {
  std::optional<SessionHeader> sessionHeader;  // 1
  util::Bytes supplierOperatorSignature;       // 2, 64 bytes R‖S

  bool operator==(const RelayResponseMetadata&) const = default;
};

// pocket.service.RelayResponse
struct RelayResponse {
  RelayResponseMetadata meta;  // 1, always serialized
  util::Bytes payload;         // 2, a serialized POKTHTTPResponse or an error text
  std::optional<RelayMinerError> relayMinerError;  // 3, only on (unsigned) error replies
  util::Bytes payloadHash;                         // 4, sha256(payload) when set

  bool operator==(const RelayResponse&) const = default;
};

// pocket.service.Relay
struct Relay {
  std::optional<RelayRequest> req;   // 1
  std::optional<RelayResponse> res;  // 2

  bool operator==(const Relay&) const = default;
};

// --- Parsing (errors: code "malformed_proto") --------------------------------------------------

util::Result<SessionHeader> parseSessionHeader(util::ByteSpan bytes);
util::Result<RelayRequest> parseRelayRequest(util::ByteSpan bytes);
util::Result<RelayResponse> parseRelayResponse(util::ByteSpan bytes);
util::Result<Relay> parseRelay(util::ByteSpan bytes);

// --- Canonical serialization (gogoproto Marshal) -------------------------------------------------

util::Bytes marshal(const SessionHeader& header);
util::Bytes marshal(const RelayRequest& request);
util::Bytes marshal(const RelayResponse& response);
util::Bytes marshal(const Relay& relay);

// --- Signatures and hashes (docs/protocol.md §2) -------------------------------------------------

// Marshal(request with meta.signature cleared). Everything else, payload included, is signed.
util::Bytes requestSignableBytes(const RelayRequest& request);
// sha256(requestSignableBytes): the 32-byte message of the ring signature.
crypto::Hash32 requestSignableHash(const RelayRequest& request);

// Marshal(response with meta.supplier_operator_signature cleared and, when payload_hash is
// non-empty, payload cleared). relay_miner_error is included when present.
util::Bytes responseSignableBytes(const RelayResponse& response);
// sha256(responseSignableBytes): the message the supplier signs (cosmos ECDSA hashes it again).
crypto::Hash32 responseSignableHash(const RelayResponse& response);

// sha256(payload), the value of RelayResponse.payload_hash.
crypto::Hash32 payloadHash(util::ByteSpan payload);

// The SMST value of a mined relay: Marshal(Relay{req = request, res = response with payload
// cleared}). The response payload is always cleared (chain >= v0.1.25 behaviour of the miner).
util::Bytes relayBytes(const RelayRequest& request, const RelayResponse& response);
// sha256(relayBytes): the SMST key of a mined relay.
crypto::Hash32 relayHash(util::ByteSpan relayBytes);

// True iff the relay is mined under `targetHash`: relayHash < targetHash, compared
// lexicographically as bytes (Go bytes.Compare; the chain's targets are 32 bytes, the easiest being
// 32 × 0xff).
bool meetsDifficulty(const crypto::Hash32& relayHash, util::ByteSpan targetHash);

// --- Supplier signature (docs/protocol.md §3) ----------------------------------------------------

// What the RelayMiner does to a response before sending it: payload_hash = sha256(payload), then
// meta.supplier_operator_signature = cosmos ECDSA (RFC 6979, low-S, 64 bytes R‖S) of
// responseSignableHash(response) with the supplier operator's key, i.e. ECDSA over
// sha256(sha256(signable bytes)). Deterministic.
void signResponse(RelayResponse& response, const crypto::PrivateKey& supplierKey);

// True iff meta.supplier_operator_signature is a valid cosmos signature of
// responseSignableHash(response) under `supplierKey` (what PATH and the chain check). It does not
// check that payload_hash matches the payload.
bool verifyResponseSignature(const RelayResponse& response, const crypto::PublicKey& supplierKey);

}  // namespace pocket::protocol
