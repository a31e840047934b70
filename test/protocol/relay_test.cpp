// Relay parsing, canonical serialization and hashes against the golden vectors and against the
// protoc-generated serializer.

#include "common/protocol/relay.h"

#include <random>
#include <string>

#include <doctest.h>

#include "common/protocol/tx.h"
#include "common/util/hex.h"
#include "pocket/service/relay.pb.h"
#include "test/vectors_path.h"

namespace {

using pocket::protocol::Relay;
using pocket::protocol::RelayMinerError;
using pocket::protocol::RelayRequest;
using pocket::protocol::RelayResponse;
using pocket::protocol::SessionHeader;
using pocket::protocol::toProtoSessionHeader;
using pocket::util::Bytes;
using pocket::util::ByteSpan;
using pocket::util::toHex;

Bytes hexBytes(const nlohmann::json& j) {
  auto bytes = pocket::util::fromHex(j.get<std::string>());
  REQUIRE(bytes.ok());
  return *bytes;
}

std::string hex(ByteSpan b) {
  return toHex(b);
}

SessionHeader headerFromJson(const nlohmann::json& j) {
  SessionHeader h;
  h.applicationAddress = j.at("application_address").get<std::string>();
  h.serviceId = j.at("service_id").get<std::string>();
  h.sessionId = j.at("session_id").get<std::string>();
  h.sessionStartBlockHeight = j.at("session_start_block_height").get<std::int64_t>();
  h.sessionEndBlockHeight = j.at("session_end_block_height").get<std::int64_t>();
  return h;
}

const nlohmann::json& requestExample() {
  static const nlohmann::json vectors = pocket::test::loadVectors("crypto/ring.json");
  return vectors.at("relay_request_example");
}

const nlohmann::json& responseExamples() {
  static const nlohmann::json vectors = pocket::test::loadVectors("crypto/response-sign.json");
  return vectors.at("relay_response_examples");
}

// Appends an unknown field of each wire type (numbers 9..13, none declared anywhere in
// relay.proto).
void appendUnknownFields(std::string& bytes) {
  bytes += std::string("\x48\x96\x01", 3);                          // 9: varint 150
  bytes += std::string("\x51\x01\x02\x03\x04\x05\x06\x07\x08", 9);  // 10: fixed64
  bytes += std::string("\x5a\x03xyz", 5);                           // 11: bytes "xyz"
  bytes += std::string("\x63\x08\x01\x64", 4);                      // 12: group holding field 1 = 1
  bytes += std::string("\x6d\x01\x02\x03\x04", 5);                  // 13: fixed32
}

void appendLengthDelimited(std::string& out, int field, const std::string& body) {
  out += static_cast<char>(field << 3 | 2);
  for (std::size_t n = body.size();; n >>= 7) {
    if (n < 0x80) {
      out += static_cast<char>(n);
      break;
    }
    out += static_cast<char>((n & 0x7f) | 0x80);
  }
  out += body;
}

std::string str(const Bytes& b) {
  return std::string(b.begin(), b.end());
}
Bytes bytesOf(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

}  // namespace

TEST_CASE("the signed RelayRequest vector parses and re-serializes byte for byte") {
  const auto& example = requestExample();
  Bytes signedBytes = hexBytes(example.at("signed_relay_request_proto_hex"));

  auto request = pocket::protocol::parseRelayRequest(signedBytes);
  REQUIRE(request.ok());
  REQUIRE(request->meta.sessionHeader.has_value());
  CHECK(*request->meta.sessionHeader == headerFromJson(example.at("session_header")));
  CHECK(request->meta.supplierOperatorAddress ==
        example.at("supplier_operator_address").get<std::string>());
  CHECK(hex(request->meta.signature) == example.at("signature_hex").get<std::string>());
  CHECK(hex(request->payload) == example.at("payload_hex").get<std::string>());

  CHECK(pocket::protocol::marshal(*request) == signedBytes);
  CHECK(hex(pocket::protocol::requestSignableBytes(*request)) ==
        example.at("signable_bytes_hex").get<std::string>());
  CHECK(hex(pocket::protocol::requestSignableHash(*request)) ==
        example.at("signable_bytes_sha256_hex").get<std::string>());
}

TEST_CASE("a RelayRequest built from its fields has the vector's signable bytes") {
  const auto& example = requestExample();
  RelayRequest request;
  request.meta.sessionHeader = headerFromJson(example.at("session_header"));
  request.meta.supplierOperatorAddress = example.at("supplier_operator_address").get<std::string>();
  request.payload = hexBytes(example.at("payload_hex"));

  CHECK(hex(pocket::protocol::requestSignableBytes(request)) ==
        example.at("signable_bytes_hex").get<std::string>());
  request.meta.signature = hexBytes(example.at("signature_hex"));
  CHECK(hex(pocket::protocol::marshal(request)) ==
        example.at("signed_relay_request_proto_hex").get<std::string>());
}

TEST_CASE("the RelayResponse vectors: payload hash, signable bytes and signed bytes") {
  for (const auto& example : responseExamples()) {
    CAPTURE(example.at("description").get<std::string>());
    Bytes signedBytes = hexBytes(example.at("signed_relay_response_proto_hex"));
    auto response = pocket::protocol::parseRelayResponse(signedBytes);
    REQUIRE(response.ok());
    REQUIRE(response->meta.sessionHeader.has_value());
    CHECK(*response->meta.sessionHeader == headerFromJson(example.at("session_header")));
    CHECK(hex(response->payload) == example.at("payload_hex").get<std::string>());
    CHECK(hex(response->meta.supplierOperatorSignature) ==
          example.at("supplier_operator_signature_hex").get<std::string>());
    if (!example.value("payload_hash_hex", std::string()).empty()) {
      CHECK(hex(pocket::protocol::payloadHash(response->payload)) ==
            example.at("payload_hash_hex").get<std::string>());
      CHECK(hex(response->payloadHash) == example.at("payload_hash_hex").get<std::string>());
    } else {
      CHECK(response->payloadHash.empty());
    }

    CHECK(pocket::protocol::marshal(*response) == signedBytes);
    CHECK(hex(pocket::protocol::responseSignableBytes(*response)) ==
          example.at("signable_bytes_hex").get<std::string>());
    CHECK(hex(pocket::protocol::responseSignableHash(*response)) ==
          example.at("signable_bytes_sha256_hex").get<std::string>());
  }
}

TEST_CASE("unknown fields at every level are dropped from signable bytes and re-serialization") {
  const auto& example = requestExample();
  RelayRequest fields;
  fields.meta.sessionHeader = headerFromJson(example.at("session_header"));
  fields.meta.signature = hexBytes(example.at("signature_hex"));
  fields.meta.supplierOperatorAddress = example.at("supplier_operator_address").get<std::string>();
  fields.payload = hexBytes(example.at("payload_hex"));

  // Hand-assemble the message with unknown fields inside the header, the metadata and the request.
  std::string header = str(pocket::protocol::marshal(*fields.meta.sessionHeader));
  appendUnknownFields(header);
  std::string meta;
  appendLengthDelimited(meta, 1, header);
  appendLengthDelimited(meta, 2, str(fields.meta.signature));
  appendUnknownFields(meta);
  appendLengthDelimited(meta, 3, fields.meta.supplierOperatorAddress);
  std::string request;
  appendUnknownFields(request);
  appendLengthDelimited(request, 1, meta);
  appendUnknownFields(request);
  appendLengthDelimited(request, 2, str(fields.payload));
  appendUnknownFields(request);

  auto parsed = pocket::protocol::parseRelayRequest(bytesOf(request));
  REQUIRE(parsed.ok());
  CHECK(*parsed == fields);
  CHECK(hex(pocket::protocol::requestSignableBytes(*parsed)) ==
        example.at("signable_bytes_hex").get<std::string>());
  CHECK(hex(pocket::protocol::marshal(*parsed)) ==
        example.at("signed_relay_request_proto_hex").get<std::string>());
}

TEST_CASE("repeated fields: scalars keep the last value, sub-messages merge") {
  // meta{header{service_id "a"}}, meta{header{session_end 7}}, payload "x", payload "yz"
  std::string bytes(
      "\x0a\x05\x0a\x03\x12\x01"
      "a"
      "\x0a\x04\x0a\x02\x28\x07"
      "\x12\x01x\x12\x02yz",
      20);
  auto parsed = pocket::protocol::parseRelayRequest(bytesOf(bytes));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->meta.sessionHeader.has_value());
  CHECK(parsed->meta.sessionHeader->serviceId == "a");
  CHECK(parsed->meta.sessionHeader->sessionEndBlockHeight == 7);
  CHECK(str(parsed->payload) == "yz");
}

TEST_CASE("canonical encoding: empty meta, empty present header, negative heights") {
  RelayRequest empty;
  CHECK(hex(pocket::protocol::marshal(empty)) == "0a00");
  RelayResponse emptyResponse;
  CHECK(hex(pocket::protocol::marshal(emptyResponse)) == "0a00");

  RelayRequest withHeader;
  withHeader.meta.sessionHeader.emplace();
  CHECK(hex(pocket::protocol::marshal(withHeader)) == "0a020a00");

  SessionHeader negative;
  negative.sessionStartBlockHeight = -1;
  CHECK(hex(pocket::protocol::marshal(negative)) == "20ffffffffffffffffff01");
  auto back = pocket::protocol::parseSessionHeader(pocket::protocol::marshal(negative));
  REQUIRE(back.ok());
  CHECK(back->sessionStartBlockHeight == -1);

  RelayResponse error;
  error.relayMinerError.emplace();
  error.payloadHash = {0xaa};
  error.payload = {0x01};
  // Fields in number order even though payload_hash (4) is declared before relay_miner_error (3).
  CHECK(hex(pocket::protocol::marshal(error)) ==
        "0a00120101"
        "1a00"
        "2201aa");
  // Signable bytes leave the payload out when payload_hash is set, and keep relay_miner_error.
  CHECK(hex(pocket::protocol::responseSignableBytes(error)) == "0a001a002201aa");
  error.payloadHash.clear();
  CHECK(hex(pocket::protocol::responseSignableBytes(error)) == "0a001201011a00");
}

TEST_CASE("malformed input is rejected with a reason") {
  const auto& example = requestExample();
  Bytes good = hexBytes(example.at("signed_relay_request_proto_hex"));

  struct Case {
    const char* name;
    std::string bytes;
    const char* mentions;
  };
  std::string truncated = str(good).substr(0, good.size() - 1);
  std::string truncatedInner = str(good).substr(0, 40);
  const Case cases[] = {
      {"payload shorter than its length", truncated, "RelayRequest"},
      {"meta shorter than its length", truncatedInner, "RelayRequest"},
      {"payload field as varint", std::string("\x10\x01", 2), "wire type"},
      {"meta as fixed32", std::string("\x0d\x01\x02\x03\x04", 5), "wire type"},
      {"header height as bytes", std::string("\x0a\x04\x0a\x02\x22\x00", 6),
       "RelayRequest.meta.session_header"},
      {"field number 0", std::string("\x02\x00", 2), "field number"},
      {"stray end group", std::string("\x0c", 1), "end-group"},
      {"wire type 6", std::string("\x0e", 1), "wire type"},
      {"wire type 7 inside meta", std::string("\x0a\x01\x0f", 3), "RelayRequest.meta"},
      {"11-byte varint", std::string("\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),
       "longer"},
      {"truncated tag varint", std::string("\x80", 1), "truncated"},
      {"length beyond 2^63", std::string("\x5a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11),
       "length"},
      {"unterminated group", std::string("\x63\x08\x01", 3), "truncated"},
      {"huge length", std::string("\x12\xff\xff\xff\xff\x0f", 6), "remain"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto parsed = pocket::protocol::parseRelayRequest(bytesOf(c.bytes));
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == "malformed_proto");
    CHECK(parsed.error().message.find(c.mentions) != std::string::npos);
  }

  auto badResponse = pocket::protocol::parseRelayResponse(bytesOf(std::string("\x20\x01", 2)));
  REQUIRE_FALSE(badResponse.ok());
  CHECK(badResponse.error().message.find("RelayResponse") != std::string::npos);

  // Empty input is a valid, empty message.
  CHECK(pocket::protocol::parseRelayRequest(Bytes{}).ok());
}

namespace {

// Random field values that exercise zero/omitted, short, long and negative cases.
struct Random {
  std::mt19937_64 rng{12345};
  std::string text() {
    static const std::size_t kSizes[] = {0, 1, 5, 43, 64, 200};
    std::string s(kSizes[rng() % 6], '\0');
    // Printable ASCII: protobuf's serializer complains about invalid UTF-8 in string fields.
    for (auto& c : s) c = static_cast<char>('!' + rng() % 90);
    return s;
  }
  std::int64_t height() {
    switch (rng() % 4) {
      case 0:
        return 0;
      case 1:
        return static_cast<std::int64_t>(rng() % 200000);
      case 2:
        return -static_cast<std::int64_t>(rng() % 5) - 1;
      default:
        return static_cast<std::int64_t>(rng());
    }
  }
  bool coin() { return rng() % 2 == 0; }
};

SessionHeader randomHeader(Random& r) {
  return SessionHeader{r.text(), r.text(), r.text(), r.height(), r.height()};
}

}  // namespace

TEST_CASE("the hand encoder matches protobuf's serializer once meta is forced present") {
  Random r;
  for (int i = 0; i < 300; ++i) {
    RelayRequest req;
    if (r.coin()) req.meta.sessionHeader = randomHeader(r);
    req.meta.signature = bytesOf(r.text());
    req.meta.supplierOperatorAddress = r.text();
    req.payload = bytesOf(r.text());

    RelayResponse res;
    if (r.coin()) res.meta.sessionHeader = randomHeader(r);
    res.meta.supplierOperatorSignature = bytesOf(r.text());
    res.payload = bytesOf(r.text());
    res.payloadHash = bytesOf(r.text());
    if (r.coin()) {
      res.relayMinerError =
          RelayMinerError{r.text(), static_cast<std::uint32_t>(r.rng()), r.text(), r.text()};
    }

    pocket::service::Relay proto;
    auto* preq = proto.mutable_req();
    auto* pmeta = preq->mutable_meta();  // non-nullable in gogoproto: always present
    if (req.meta.sessionHeader) {
      *pmeta->mutable_session_header() = toProtoSessionHeader(*req.meta.sessionHeader);
    }
    pmeta->set_signature(str(req.meta.signature));
    pmeta->set_supplier_operator_address(req.meta.supplierOperatorAddress);
    preq->set_payload(str(req.payload));
    auto* pres = proto.mutable_res();
    auto* prmeta = pres->mutable_meta();
    if (res.meta.sessionHeader) {
      *prmeta->mutable_session_header() = toProtoSessionHeader(*res.meta.sessionHeader);
    }
    prmeta->set_supplier_operator_signature(str(res.meta.supplierOperatorSignature));
    pres->set_payload(str(res.payload));
    pres->set_payload_hash(str(res.payloadHash));
    if (res.relayMinerError) {
      auto* e = pres->mutable_relay_miner_error();
      e->set_codespace(res.relayMinerError->codespace);
      e->set_code(res.relayMinerError->code);
      e->set_description(res.relayMinerError->description);
      e->set_message(res.relayMinerError->message);
    }

    std::string expectedRequest;
    REQUIRE(preq->SerializeToString(&expectedRequest));
    CHECK(str(pocket::protocol::marshal(req)) == expectedRequest);
    std::string expectedResponse;
    REQUIRE(pres->SerializeToString(&expectedResponse));
    CHECK(str(pocket::protocol::marshal(res)) == expectedResponse);
    Relay relay{req, res};
    std::string expectedRelay;
    REQUIRE(proto.SerializeToString(&expectedRelay));
    CHECK(str(pocket::protocol::marshal(relay)) == expectedRelay);

    // Relay bytes = the same Relay with the response payload cleared.
    pres->clear_payload();
    REQUIRE(proto.SerializeToString(&expectedRelay));
    Bytes relayBz = pocket::protocol::relayBytes(req, res);
    CHECK(str(relayBz) == expectedRelay);
    CHECK(pocket::protocol::relayHash(relayBz) == pocket::crypto::sha256(relayBz));

    auto back = pocket::protocol::parseRelay(bytesOf(str(pocket::protocol::marshal(relay))));
    REQUIRE(back.ok());
    CHECK(*back == relay);
  }
}

TEST_CASE("difficulty: mined iff the relay hash is below the target, bytewise") {
  pocket::crypto::Hash32 h{};
  h.fill(0x10);
  Bytes easiest(32, 0xff);
  CHECK(pocket::protocol::meetsDifficulty(h, easiest));
  Bytes equal(h.begin(), h.end());
  CHECK_FALSE(pocket::protocol::meetsDifficulty(h, equal));
  Bytes lower(32, 0x10);
  lower[31] = 0x0f;
  CHECK_FALSE(pocket::protocol::meetsDifficulty(h, lower));
  Bytes higherFirstByte(32, 0x00);
  higherFirstByte[0] = 0x11;
  CHECK(pocket::protocol::meetsDifficulty(h, higherFirstByte));
  h.fill(0xff);
  CHECK_FALSE(pocket::protocol::meetsDifficulty(h, easiest));
}

TEST_CASE("supplier signing reproduces the vectors' payload hash, signature and signed bytes") {
  for (const auto& example : responseExamples()) {
    CAPTURE(example.at("description").get<std::string>());
    auto key =
        pocket::crypto::PrivateKey::fromHex(example.at("supplier_privkey_hex").get<std::string>());
    REQUIRE(key.ok());
    CHECK(key->publicKey().hex() == example.at("supplier_pubkey_hex").get<std::string>());
    auto response = pocket::protocol::parseRelayResponse(
        hexBytes(example.at("signed_relay_response_proto_hex")));
    REQUIRE(response.ok());
    CHECK(pocket::protocol::verifyResponseSignature(*response, key->publicKey()));

    if (!response->payloadHash.empty()) {
      // Sign from scratch: header and payload only, as the RelayMiner builds it.
      RelayResponse fresh;
      fresh.meta.sessionHeader = response->meta.sessionHeader;
      fresh.payload = response->payload;
      pocket::protocol::signResponse(fresh, *key);
      CHECK(hex(fresh.payloadHash) == example.at("payload_hash_hex").get<std::string>());
      CHECK(hex(fresh.meta.supplierOperatorSignature) ==
            example.at("supplier_operator_signature_hex").get<std::string>());
      CHECK(hex(pocket::protocol::marshal(fresh)) ==
            example.at("signed_relay_response_proto_hex").get<std::string>());
    }

    // Any change to a signed field breaks the signature; the payload is covered only via its hash.
    RelayResponse tampered = *response;
    tampered.meta.sessionHeader->sessionStartBlockHeight += 1;
    CHECK_FALSE(pocket::protocol::verifyResponseSignature(tampered, key->publicKey()));
    tampered = *response;
    tampered.meta.supplierOperatorSignature.back() ^= 1;
    CHECK_FALSE(pocket::protocol::verifyResponseSignature(tampered, key->publicKey()));
    auto otherKey =
        pocket::crypto::PrivateKey::fromSecret(pocket::util::asBytes(std::string("someone else")));
    CHECK_FALSE(pocket::protocol::verifyResponseSignature(*response, otherKey.publicKey()));
  }
}
