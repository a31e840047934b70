// Kind `abci-query` (test/vectors/cosmos/abci-query.json): each entry names a protobuf message,
// gives it in text format and as bytes. The replay checks that our schema encodes the text form to
// those bytes (same field numbers and types as upstream), that the request builders produce them,
// and that the response decoders read them back.

#include <memory>

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <nlohmann/json.hpp>

#include "common/protocol/abci_query.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "cosmos/auth/v1beta1/auth.pb.h"
#include "cosmos/auth/v1beta1/query.pb.h"
#include "cosmos/tx/v1beta1/service.pb.h"
#include "pocket/proof/query.pb.h"
#include "pocket/session/query.pb.h"
#include "tools/vector-replay/kinds.h"

namespace pocket::vectors {

namespace {

namespace pb = google::protobuf;
using util::Bytes;

std::string hex(util::ByteSpan bytes) {
  return util::toHex(bytes);
}

// The entry's message parsed from its text form with our schema; null when the type is unknown or
// the text does not parse.
std::unique_ptr<pb::Message> parseTextFormat(const nlohmann::json& entry) {
  std::string name = entry.at("message").get<std::string>();
  const pb::Descriptor* descriptor =
      pb::DescriptorPool::generated_pool()->FindMessageTypeByName(name);
  if (descriptor == nullptr) return nullptr;
  const pb::Message* prototype = pb::MessageFactory::generated_factory()->GetPrototype(descriptor);
  if (prototype == nullptr) return nullptr;
  std::unique_ptr<pb::Message> message(prototype->New());
  if (!pb::TextFormat::ParseFromString(entry.at("text_format").get<std::string>(), message.get())) {
    return nullptr;
  }
  return message;
}

bool sameMessage(const pb::Message& a, const pb::Message& b) {
  return pb::util::MessageDifferencer::Equals(a, b);
}

// Checks a request builder against the entry's path and bytes.
void checkRequest(const protocol::AbciQuery& query, const nlohmann::json& entry,
                  const std::string& where, Reporter& reporter) {
  reporter.expectEqual(where, "path", entry.at("path").get<std::string>(), query.path);
  reporter.expectEqual(where, "request bytes", entry.at("bytes_hex").get<std::string>(),
                       hex(query.data));
}

void checkAccountResponse(const pb::Message& parsed, util::ByteSpan bytes, const std::string& where,
                          Reporter& reporter) {
  auto decoded = protocol::decodeAccountResponse(bytes);
  if (!decoded) {
    reporter.fail(where, decoded.error().message);
    return;
  }
  const auto& response = dynamic_cast<const cosmos::auth::v1beta1::QueryAccountResponse&>(parsed);
  reporter.expectEqual(where, "account type", protocol::kBaseAccountTypeUrl,
                       response.account().type_url());
  cosmos::auth::v1beta1::BaseAccount account;
  reporter.check(account.ParseFromString(response.account().value()), where,
                 "text-format account value is not a BaseAccount");
  reporter.expectEqual(where, "address", account.address(), decoded->address);
  reporter.expectEqual(where, "account_number", std::to_string(account.account_number()),
                       std::to_string(decoded->accountNumber));
  reporter.expectEqual(where, "sequence", std::to_string(account.sequence()),
                       std::to_string(decoded->sequence));
  // The key sits in PubKey{1: key} inside the Any: its last 33 bytes.
  const std::string& keyAny = account.pub_key().value();
  std::string expectedKey =
      keyAny.size() >= 33 ? hex(util::asBytes(keyAny).last(33)) : std::string("<missing>");
  reporter.expectEqual(where, "public key", expectedKey, hex(decoded->publicKey));
}

void replayEntry(const nlohmann::json& entry, Reporter& reporter) {
  std::string name = entry.at("name").get<std::string>();
  std::string where = fmt::format("entry={}", name);
  auto bytesHex = entry.at("bytes_hex").get<std::string>();
  auto bytes = util::fromHex(bytesHex);
  if (!bytes) throw std::runtime_error("bad hex in vector: " + bytes.error().message);
  reporter.expectEqual(where, "base64", entry.at("base64").get<std::string>(),
                       util::toBase64(*bytes));

  std::unique_ptr<pb::Message> parsed = parseTextFormat(entry);
  if (parsed == nullptr) {
    reporter.fail(where, fmt::format("message {} is unknown or its text form does not parse",
                                     entry.at("message").get<std::string>()));
    return;
  }
  reporter.expectEqual(where, "schema encoding of the text form", bytesHex,
                       hex(util::asBytes(parsed->SerializeAsString())));

  if (name == "get_session_request") {
    const auto& request = dynamic_cast<const session::QueryGetSessionRequest&>(*parsed);
    checkRequest(protocol::getSessionQuery(request.application_address(), request.service_id(),
                                           request.block_height()),
                 entry, where, reporter);
  } else if (name == "account_request") {
    const auto& request = dynamic_cast<const cosmos::auth::v1beta1::QueryAccountRequest&>(*parsed);
    checkRequest(protocol::accountQuery(request.address()), entry, where, reporter);
  } else if (name == "claim_request") {
    const auto& request = dynamic_cast<const proof::QueryGetClaimRequest&>(*parsed);
    checkRequest(protocol::claimQuery(request.session_id(), request.supplier_operator_address()),
                 entry, where, reporter);
  } else if (name == "account_response") {
    checkAccountResponse(*parsed, *bytes, where, reporter);
  } else if (name == "get_session_response") {
    auto session = protocol::decodeGetSessionResponse(*bytes);
    if (!session) {
      reporter.fail(where, session.error().message);
      return;
    }
    const auto& response = dynamic_cast<const session::QueryGetSessionResponse&>(*parsed);
    reporter.check(sameMessage(response.session(), *session), where,
                   "decoded session differs from the text form");
  } else if (name == "simulate_response") {
    auto gas = protocol::decodeSimulateResponse(*bytes);
    if (!gas) {
      reporter.fail(where, gas.error().message);
      return;
    }
    const auto& response = dynamic_cast<const cosmos::tx::v1beta1::SimulateResponse&>(*parsed);
    reporter.expectEqual(where, "gas_used", std::to_string(response.gas_info().gas_used()),
                         std::to_string(gas->gasUsed));
    reporter.expectEqual(where, "gas_wanted", std::to_string(response.gas_info().gas_wanted()),
                         std::to_string(gas->gasWanted));
  } else {
    reporter.fail(where, "no replay for this entry");
  }
}

}  // namespace

void replayAbciQuery(const nlohmann::json& document, Reporter& reporter) {
  std::size_t index = 0;
  for (const nlohmann::json& entry : document.at("entries")) {
    reporter.replayCase(fmt::format("entry={}", caseLabel(entry, "name", index++)),
                        [&] { replayEntry(entry, reporter); });
  }
}

}  // namespace pocket::vectors
