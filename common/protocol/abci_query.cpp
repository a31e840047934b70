#include "common/protocol/abci_query.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>
#include <google/protobuf/any.pb.h>
#include <nlohmann/json.hpp>

#include "common/protocol/proto_bytes.h"
#include "common/util/base64.h"
#include "cosmos/auth/v1beta1/auth.pb.h"
#include "cosmos/auth/v1beta1/query.pb.h"
#include "cosmos/bank/v1beta1/query.pb.h"
#include "cosmos/crypto/secp256k1/keys.pb.h"
#include "cosmos/tx/v1beta1/service.pb.h"
#include "pocket/application/query.pb.h"
#include "pocket/proof/query.pb.h"
#include "pocket/service/query.pb.h"
#include "pocket/session/query.pb.h"
#include "pocket/shared/query.pb.h"
#include "pocket/supplier/query.pb.h"

namespace pocket::protocol {

namespace {

using util::Bytes;
using util::ByteSpan;
using util::makeError;

AbciQuery makeQuery(std::string_view path, const google::protobuf::MessageLite& request) {
  return AbciQuery{std::string(path), serialize(request)};
}

util::Error badResponse(std::string message) {
  return makeError("bad_response", std::move(message));
}

// Decodes `value` as `Response`, naming the message in the error.
template <class Response>
util::Result<Response> decodeAs(ByteSpan value, std::string_view name) {
  Response response;
  if (!parse(value, response)) {
    return badResponse(
        fmt::format("{} bytes ({} bytes) are not a valid {}", name, value.size(), name));
  }
  return response;
}

template <class T>
bool parseDecimal(std::string_view text, T& out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

// A 64-bit integer as CometBFT and Go's jsonpb write it: a decimal string (or, leniently, a
// number).
template <class T>
bool readInteger(const nlohmann::json& field, T& out) {
  if (field.is_string()) return parseDecimal(field.get_ref<const std::string&>(), out);
  if (field.is_number_unsigned()) {
    auto value = field.get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(value);
    return true;
  }
  if (field.is_number_integer()) {
    auto value = field.get<std::int64_t>();
    if (value < 0 && std::numeric_limits<T>::min() == 0) return false;
    if (value > 0 && static_cast<std::uint64_t>(value) >
                         static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
      return false;
    }
    out = static_cast<T>(value);
    return true;
  }
  return false;
}

util::Result<std::string> readString(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return badResponse(fmt::format("response.{} is not a string", key));
  return it->get<std::string>();
}

}  // namespace

AbciQuery accountQuery(std::string_view address) {
  cosmos::auth::v1beta1::QueryAccountRequest request;
  request.set_address(std::string(address));
  return makeQuery(kAccountQueryPath, request);
}

AbciQuery balanceQuery(std::string_view address, std::string_view denom) {
  cosmos::bank::v1beta1::QueryBalanceRequest request;
  request.set_address(std::string(address));
  request.set_denom(std::string(denom));
  return makeQuery(kBalanceQueryPath, request);
}

AbciQuery getSessionQuery(std::string_view applicationAddress, std::string_view serviceId,
                          std::int64_t blockHeight) {
  session::QueryGetSessionRequest request;
  request.set_application_address(std::string(applicationAddress));
  request.set_service_id(std::string(serviceId));
  request.set_block_height(blockHeight);
  return makeQuery(kGetSessionQueryPath, request);
}

AbciQuery sessionParamsQuery() {
  return makeQuery(kSessionParamsQueryPath, session::QueryParamsRequest());
}

AbciQuery sharedParamsQuery() {
  return makeQuery(kSharedParamsQueryPath, shared::QueryParamsRequest());
}

AbciQuery sharedParamsAtHeightQuery(std::int64_t height) {
  shared::QueryParamsAtHeightRequest request;
  request.set_height(height);
  return makeQuery(kSharedParamsAtHeightQueryPath, request);
}

AbciQuery proofParamsQuery() {
  return makeQuery(kProofParamsQueryPath, proof::QueryParamsRequest());
}

AbciQuery claimQuery(std::string_view sessionId, std::string_view supplierOperatorAddress) {
  proof::QueryGetClaimRequest request;
  request.set_session_id(std::string(sessionId));
  request.set_supplier_operator_address(std::string(supplierOperatorAddress));
  return makeQuery(kClaimQueryPath, request);
}

AbciQuery applicationQuery(std::string_view address) {
  application::QueryGetApplicationRequest request;
  request.set_address(std::string(address));
  return makeQuery(kApplicationQueryPath, request);
}

AbciQuery supplierQuery(std::string_view operatorAddress, bool dehydrated) {
  supplier::QueryGetSupplierRequest request;
  request.set_operator_address(std::string(operatorAddress));
  request.set_dehydrated(dehydrated);
  return makeQuery(kSupplierQueryPath, request);
}

AbciQuery serviceQuery(std::string_view serviceId, bool dehydrated) {
  service::QueryGetServiceRequest request;
  request.set_id(std::string(serviceId));
  request.set_dehydrated(dehydrated);
  return makeQuery(kServiceQueryPath, request);
}

AbciQuery relayMiningDifficultyAtHeightQuery(std::string_view serviceId, std::int64_t blockHeight) {
  service::QueryGetRelayMiningDifficultyAtHeightRequest request;
  request.set_serviceid(std::string(serviceId));
  request.set_blockheight(blockHeight);
  return makeQuery(kRelayMiningDifficultyAtHeightQueryPath, request);
}

AbciQuery computeUnitsPerRelayAtHeightQuery(std::string_view serviceId, std::int64_t blockHeight) {
  service::QueryComputeUnitsPerRelayAtHeightRequest request;
  request.set_serviceid(std::string(serviceId));
  request.set_blockheight(blockHeight);
  return makeQuery(kComputeUnitsPerRelayAtHeightQueryPath, request);
}

AbciQuery simulateQuery(ByteSpan txRaw) {
  cosmos::tx::v1beta1::SimulateRequest request;
  request.set_tx_bytes(std::string(util::asChars(txRaw)));
  return makeQuery(kSimulateQueryPath, request);
}

AbciQuery appSimulateQuery(ByteSpan txRaw) {
  return AbciQuery{std::string(kAppSimulateQueryPath), Bytes(txRaw.begin(), txRaw.end())};
}

util::Result<AbciQueryResponse> parseAbciQueryResponse(const nlohmann::json& result) {
  if (!result.is_object()) return badResponse("abci_query result is not a JSON object");
  auto found = result.find("response");
  if (found == result.end() || !found->is_object()) {
    return badResponse("abci_query result has no response object");
  }
  const nlohmann::json& response = *found;
  AbciQueryResponse out;
  if (auto code = response.find("code"); code != response.end() && !code->is_null()) {
    if (!readInteger(*code, out.code)) {
      return badResponse(fmt::format("response.code {} is not a uint32", code->dump()));
    }
  }
  if (auto height = response.find("height"); height != response.end() && !height->is_null()) {
    if (!readInteger(*height, out.height)) {
      return badResponse(fmt::format("response.height {} is not an int64", height->dump()));
    }
  }
  auto log = readString(response, "log");
  if (!log) return log.error();
  out.log = std::move(log).value();
  auto codespace = readString(response, "codespace");
  if (!codespace) return codespace.error();
  out.codespace = std::move(codespace).value();
  auto value = readString(response, "value");
  if (!value) return value.error();
  auto decoded = util::fromBase64(*value);
  if (!decoded) {
    return badResponse(fmt::format("response.value is not base64: {}", decoded.error().message));
  }
  out.value = std::move(decoded).value();
  return out;
}

util::Status abciQueryStatus(std::string_view path, const AbciQueryResponse& response) {
  if (response.code == 0) return util::Ok{};
  std::string code = "query_failed";
  if (response.codespace == "sdk" && response.code == kAbciCodeKeyNotFound) code = "not_found";
  if (response.codespace == "sdk" && response.code == kAbciCodeInvalidHeight) {
    code = "invalid_height";
  }
  return makeError(
      std::move(code),
      fmt::format("abci_query {} failed at height {}: codespace={} code={} log={}", path,
                  response.height, response.codespace, response.code, response.log));
}

util::Result<AccountInfo> decodeAccountResponse(ByteSpan value) {
  auto response =
      decodeAs<cosmos::auth::v1beta1::QueryAccountResponse>(value, "QueryAccountResponse");
  if (!response) return response.error();
  if (!response->has_account()) return badResponse("QueryAccountResponse has no account");
  const google::protobuf::Any& any = response->account();
  if (any.type_url() != kBaseAccountTypeUrl) {
    return badResponse(
        fmt::format("account type '{}' is not {}", any.type_url(), kBaseAccountTypeUrl));
  }
  auto account =
      decodeAs<cosmos::auth::v1beta1::BaseAccount>(util::asBytes(any.value()), "BaseAccount");
  if (!account) return account.error();
  AccountInfo info;
  info.address = account->address();
  info.accountNumber = account->account_number();
  info.sequence = account->sequence();
  if (account->has_pub_key()) {
    if (account->pub_key().type_url() != kSecp256k1PubKeyTypeUrl) {
      return badResponse(fmt::format("account key type '{}' is not {}",
                                     account->pub_key().type_url(), kSecp256k1PubKeyTypeUrl));
    }
    auto key = decodeAs<cosmos::crypto::secp256k1::PubKey>(
        util::asBytes(account->pub_key().value()), "secp256k1 PubKey");
    if (!key) return key.error();
    if (key->key().size() != kCompressedPublicKeySize) {
      return badResponse(
          fmt::format("account public key has {} bytes; expected 33", key->key().size()));
    }
    info.publicKey = util::toBytes(key->key());
  }
  return info;
}

util::Result<Coin> decodeBalanceResponse(ByteSpan value) {
  auto response =
      decodeAs<cosmos::bank::v1beta1::QueryBalanceResponse>(value, "QueryBalanceResponse");
  if (!response) return response.error();
  // An absent balance is a zero balance of the asked denom; the amount string is then empty.
  return Coin{response->balance().denom(),
              response->balance().amount().empty() ? "0" : response->balance().amount()};
}

util::Result<session::Session> decodeGetSessionResponse(ByteSpan value) {
  auto response = decodeAs<session::QueryGetSessionResponse>(value, "QueryGetSessionResponse");
  if (!response) return response.error();
  if (!response->has_session()) return badResponse("QueryGetSessionResponse has no session");
  return std::move(*response->mutable_session());
}

util::Result<session::Params> decodeSessionParamsResponse(ByteSpan value) {
  auto response = decodeAs<session::QueryParamsResponse>(value, "session QueryParamsResponse");
  if (!response) return response.error();
  return std::move(*response->mutable_params());
}

util::Result<shared::Params> decodeSharedParamsResponse(ByteSpan value) {
  // QueryParamsResponse and QueryParamsAtHeightResponse share their layout.
  auto response = decodeAs<shared::QueryParamsResponse>(value, "shared QueryParamsResponse");
  if (!response) return response.error();
  if (!response->has_params()) return badResponse("shared QueryParamsResponse has no params");
  return std::move(*response->mutable_params());
}

util::Result<proof::Params> decodeProofParamsResponse(ByteSpan value) {
  auto response = decodeAs<proof::QueryParamsResponse>(value, "proof QueryParamsResponse");
  if (!response) return response.error();
  return std::move(*response->mutable_params());
}

util::Result<proof::Claim> decodeClaimResponse(ByteSpan value) {
  auto response = decodeAs<proof::QueryGetClaimResponse>(value, "QueryGetClaimResponse");
  if (!response) return response.error();
  if (!response->has_claim()) return badResponse("QueryGetClaimResponse has no claim");
  return std::move(*response->mutable_claim());
}

util::Result<application::Application> decodeApplicationResponse(ByteSpan value) {
  auto response =
      decodeAs<application::QueryGetApplicationResponse>(value, "QueryGetApplicationResponse");
  if (!response) return response.error();
  if (!response->has_application()) {
    return badResponse("QueryGetApplicationResponse has no application");
  }
  return std::move(*response->mutable_application());
}

util::Result<shared::Supplier> decodeSupplierResponse(ByteSpan value) {
  auto response = decodeAs<supplier::QueryGetSupplierResponse>(value, "QueryGetSupplierResponse");
  if (!response) return response.error();
  if (!response->has_supplier()) return badResponse("QueryGetSupplierResponse has no supplier");
  return std::move(*response->mutable_supplier());
}

util::Result<shared::Service> decodeServiceResponse(ByteSpan value) {
  auto response = decodeAs<service::QueryGetServiceResponse>(value, "QueryGetServiceResponse");
  if (!response) return response.error();
  if (!response->has_service()) return badResponse("QueryGetServiceResponse has no service");
  return std::move(*response->mutable_service());
}

util::Result<service::RelayMiningDifficulty> decodeRelayMiningDifficultyResponse(ByteSpan value) {
  auto response = decodeAs<service::QueryGetRelayMiningDifficultyAtHeightResponse>(
      value, "QueryGetRelayMiningDifficultyAtHeightResponse");
  if (!response) return response.error();
  if (!response->has_relayminingdifficulty()) {
    return badResponse("QueryGetRelayMiningDifficultyAtHeightResponse has no difficulty");
  }
  return std::move(*response->mutable_relayminingdifficulty());
}

util::Result<std::uint64_t> decodeComputeUnitsPerRelayResponse(ByteSpan value) {
  auto response = decodeAs<service::QueryComputeUnitsPerRelayAtHeightResponse>(
      value, "QueryComputeUnitsPerRelayAtHeightResponse");
  if (!response) return response.error();
  return response->computeunitsperrelay();
}

util::Result<SimulationGas> decodeSimulateResponse(ByteSpan value) {
  auto response = decodeAs<cosmos::tx::v1beta1::SimulateResponse>(value, "SimulateResponse");
  if (!response) return response.error();
  if (!response->has_gas_info()) return badResponse("SimulateResponse has no gas_info");
  return SimulationGas{response->gas_info().gas_wanted(), response->gas_info().gas_used()};
}

util::Result<SimulationGas> decodeAppSimulateResponse(ByteSpan value) {
  std::string_view text = util::asChars(value);
  nlohmann::json document = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return badResponse("/app/simulate value is not a JSON object");
  }
  auto gasInfo = document.find("gas_info");
  if (gasInfo == document.end() || !gasInfo->is_object()) {
    return badResponse("/app/simulate value has no gas_info object");
  }
  SimulationGas gas;
  for (auto [key, target] :
       {std::pair{"gas_wanted", &gas.gasWanted}, std::pair{"gas_used", &gas.gasUsed}}) {
    auto field = gasInfo->find(key);
    // Go's JSON omits a zero uint64 unless defaults are emitted.
    if (field == gasInfo->end() || field->is_null()) continue;
    if (!readInteger(*field, *target)) {
      return badResponse(fmt::format("gas_info.{} {} is not a uint64", key, field->dump()));
    }
  }
  return gas;
}

}  // namespace pocket::protocol
