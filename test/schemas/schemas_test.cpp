// The schema pipeline: protoc- and capnp-generated code is built, linked and produces the bytes the
// protocol expects.

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <doctest.h>

#include "common/util/hex.h"
#include "edge_link.capnp.h"
#include "pocket/service/relay.pb.h"
#include "pocket/session/types.pb.h"
#include "pocket/shared/params.pb.h"
#include "sdk/types/http.pb.h"
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

TEST_CASE("a signed RelayRequest from the vectors parses into the pocket.service types") {
  auto vectors = pocket::test::loadVectors("crypto/ring.json");
  const auto& example = vectors.at("relay_request_example");
  auto bytes =
      pocket::util::fromHex(example.at("signed_relay_request_proto_hex").get<std::string>());
  REQUIRE(bytes.ok());

  pocket::service::RelayRequest request;
  REQUIRE(request.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())));
  CHECK(request.meta().supplier_operator_address() ==
        example.at("supplier_operator_address").get<std::string>());
  CHECK(request.meta().session_header().service_id() == "anvil");
  CHECK(pocket::util::toHex(pocket::util::asBytes(request.meta().signature())) ==
        example.at("signature_hex").get<std::string>());
  CHECK(pocket::util::toHex(pocket::util::asBytes(request.payload())) ==
        example.at("payload_hex").get<std::string>());
}

TEST_CASE("the session, supplier, application and POKTHTTP types carry their fields") {
  pocket::session::Session session;
  auto* supplier = session.add_suppliers();
  supplier->set_operator_address("pokt1operator");
  supplier->mutable_stake()->set_denom("upokt");
  auto* endpoint = supplier->add_services()->add_endpoints();
  endpoint->set_rpc_type(pocket::shared::COMET_BFT);
  (*session.mutable_application()->mutable_pending_undelegations())[42].add_gateway_addresses(
      "pokt1gw");

  pocket::session::Session parsed;
  REQUIRE(parsed.ParseFromString(session.SerializeAsString()));
  CHECK(parsed.suppliers(0).operator_address() == "pokt1operator");
  CHECK(parsed.suppliers(0).stake().denom() == "upokt");
  CHECK(parsed.suppliers(0).services(0).endpoints(0).rpc_type() == pocket::shared::COMET_BFT);
  CHECK(parsed.application().pending_undelegations().at(42).gateway_addresses(0) == "pokt1gw");

  sdk::types::POKTHTTPRequest http;
  http.set_method("POST");
  auto& header = (*http.mutable_header())["Content-Type"];
  header.set_key("Content-Type");
  header.add_values("application/json");
  sdk::types::POKTHTTPRequest httpParsed;
  REQUIRE(httpParsed.ParseFromString(http.SerializeAsString()));
  CHECK(httpParsed.header().at("Content-Type").values(0) == "application/json");

  pocket::shared::Params params;
  params.set_session_number_at_anchor(7);
  CHECK(params.ByteSizeLong() == 2);
}
