// The schema pipeline: protoc- and capnp-generated code is built, linked and produces the bytes the
// protocol expects.

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <doctest.h>

#include "common/util/hex.h"
#include "edge_link.capnp.h"
#include "pocket/session/types.pb.h"
#include "test/vectors_path.h"

TEST_CASE("a SessionHeader serializes to the bytes poktroll embeds in a signed RelayRequest") {
  auto vectors = pocket::test::loadVectors("crypto/ring.json");
  const auto& example = vectors.at("relay_request_example");
  const auto& json = example.at("session_header");

  pocket::session::SessionHeader header;
  header.set_application_address(json.at("application_address").get<std::string>());
  header.set_service_id(json.at("service_id").get<std::string>());
  header.set_session_id(json.at("session_id").get<std::string>());
  header.set_session_start_block_height(json.at("session_start_block_height").get<std::int64_t>());
  header.set_session_end_block_height(json.at("session_end_block_height").get<std::int64_t>());
  std::string bytes = header.SerializeAsString();

  // RelayRequest.meta (field 1) holds RelayRequestMetadata, whose field 1 is the session header:
  // tag 0x0a, length, then exactly these bytes.
  std::string headerHex = pocket::util::toHex(pocket::util::asBytes(bytes));
  std::string signedHex = example.at("signed_relay_request_proto_hex").get<std::string>();
  CHECK(signedHex.find(headerHex) != std::string::npos);

  pocket::session::SessionHeader parsed;
  REQUIRE(parsed.ParseFromString(bytes));
  CHECK(parsed.session_end_block_height() == 121020);
}

TEST_CASE("an edge link message survives Cap'n Proto framing") {
  capnp::MallocMessageBuilder builder;
  auto message = builder.initRoot<pocket::link::EdgeMessage>();
  auto batch = message.initMinedRelays();
  batch.setFirstSeq(41);
  auto relays = batch.initRelays(2);
  relays[1].setComputeUnits(7);
  relays[1].getSessionHeader().setServiceId("anvil");
  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);

  capnp::FlatArrayMessageReader reader(words.asPtr());
  auto read = reader.getRoot<pocket::link::EdgeMessage>();
  REQUIRE(read.isMinedRelays());
  CHECK(read.getMinedRelays().getFirstSeq() == 41);
  REQUIRE(read.getMinedRelays().getRelays().size() == 2);
  CHECK(read.getMinedRelays().getRelays()[1].getComputeUnits() == 7);
  CHECK(read.getMinedRelays().getRelays()[1].getSessionHeader().getServiceId() == "anvil");
}
