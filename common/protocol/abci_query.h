#pragma once
// The chain queries a RelayMiner makes through CometBFT's `abci_query` (docs/protocol.md §9):
// for each, the gRPC method path and the protobuf request (`data`), and the decoding of the
// protobuf response (`value`). Bytes pinned by test/vectors/cosmos/abci-query.json.
//
// A chain client sends {"path": query.path, "data": toHex(query.data), "height": "<h or 0>",
// "prove": false}, reads `result.response` with parseAbciQueryResponse, turns a non-zero code into
// an error with abciQueryStatus, then decodes `value` with the decoder of that query.
//
// All functions are pure and thread-safe. Malformed input (bad JSON shape, bad base64, bytes that
// are not the expected message) is a util::Error with a stable code, never an exception or a crash.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/protocol/tx.h"
#include "common/util/bytes.h"
#include "common/util/result.h"
#include "pocket/application/types.pb.h"
#include "pocket/proof/params.pb.h"
#include "pocket/proof/types.pb.h"
#include "pocket/service/relay_mining_difficulty.pb.h"
#include "pocket/session/params.pb.h"
#include "pocket/session/types.pb.h"
#include "pocket/shared/params.pb.h"
#include "pocket/shared/service.pb.h"
#include "pocket/shared/supplier.pb.h"

namespace pocket::protocol {

inline constexpr std::string_view kAccountQueryPath = "/cosmos.auth.v1beta1.Query/Account";
inline constexpr std::string_view kBalanceQueryPath = "/cosmos.bank.v1beta1.Query/Balance";
inline constexpr std::string_view kSimulateQueryPath = "/cosmos.tx.v1beta1.Service/Simulate";
// BaseApp's built-in simulation: raw TxRaw in, JSON out; the fallback when the node serves no gRPC.
inline constexpr std::string_view kAppSimulateQueryPath = "/app/simulate";
inline constexpr std::string_view kGetSessionQueryPath = "/pocket.session.Query/GetSession";
inline constexpr std::string_view kSessionParamsQueryPath = "/pocket.session.Query/Params";
inline constexpr std::string_view kSharedParamsQueryPath = "/pocket.shared.Query/Params";
inline constexpr std::string_view kSharedParamsAtHeightQueryPath =
    "/pocket.shared.Query/ParamsAtHeight";
inline constexpr std::string_view kProofParamsQueryPath = "/pocket.proof.Query/Params";
inline constexpr std::string_view kClaimQueryPath = "/pocket.proof.Query/Claim";
inline constexpr std::string_view kApplicationQueryPath = "/pocket.application.Query/Application";
inline constexpr std::string_view kSupplierQueryPath = "/pocket.supplier.Query/Supplier";
inline constexpr std::string_view kServiceQueryPath = "/pocket.service.Query/Service";
inline constexpr std::string_view kRelayMiningDifficultyAtHeightQueryPath =
    "/pocket.service.Query/RelayMiningDifficultyAtHeight";
inline constexpr std::string_view kComputeUnitsPerRelayAtHeightQueryPath =
    "/pocket.service.Query/ComputeUnitsPerRelayAtHeight";
inline constexpr std::string_view kBaseAccountTypeUrl = "/cosmos.auth.v1beta1.BaseAccount";

// ABCI codes (codespace "sdk") a query client tells apart (docs/protocol.md §9).
inline constexpr std::uint32_t kAbciCodeUnknownRequest = 6;
inline constexpr std::uint32_t kAbciCodeInvalidRequest = 18;
inline constexpr std::uint32_t kAbciCodeKeyNotFound = 22;
inline constexpr std::uint32_t kAbciCodeInvalidHeight = 26;

// One abci_query request. Value type.
struct AbciQuery {
  std::string path;  // gRPC method path, e.g. "/pocket.session.Query/GetSession"
  util::Bytes data;  // the encoded request message (hex in JSON-RPC POST params)
};

// --- Requests -----------------------------------------------------------------------------------

AbciQuery accountQuery(std::string_view address);
AbciQuery balanceQuery(std::string_view address, std::string_view denom = "upokt");
// `blockHeight` 0 = the query's own height; any height of the wanted session otherwise.
AbciQuery getSessionQuery(std::string_view applicationAddress, std::string_view serviceId,
                          std::int64_t blockHeight);
AbciQuery sessionParamsQuery();
AbciQuery sharedParamsQuery();
AbciQuery sharedParamsAtHeightQuery(std::int64_t height);
AbciQuery proofParamsQuery();
AbciQuery claimQuery(std::string_view sessionId, std::string_view supplierOperatorAddress);
AbciQuery applicationQuery(std::string_view address);
AbciQuery supplierQuery(std::string_view operatorAddress, bool dehydrated = false);
AbciQuery serviceQuery(std::string_view serviceId, bool dehydrated = false);
AbciQuery relayMiningDifficultyAtHeightQuery(std::string_view serviceId, std::int64_t blockHeight);
AbciQuery computeUnitsPerRelayAtHeightQuery(std::string_view serviceId, std::int64_t blockHeight);
// SimulateRequest{tx_bytes}; `txRaw` is usually simulationTxRaw(tx) (one empty signature).
AbciQuery simulateQuery(util::ByteSpan txRaw);
// The /app/simulate form: data is the TxRaw itself.
AbciQuery appSimulateQuery(util::ByteSpan txRaw);

// --- The JSON-RPC response envelope -------------------------------------------------------------

// The fields of `result.response` a client uses. Value type.
struct AbciQueryResponse {
  std::uint32_t code = 0;   // 0 = success
  std::string codespace;    // "sdk" for the codes above
  std::string log;          // the error text when code != 0
  util::Bytes value;        // the encoded response message (base64 in JSON, null when empty)
  std::int64_t height = 0;  // the state height the query ran at
};

// Reads the `result` object of an abci_query JSON-RPC reply ({"response": {...}}): code and height
// as CometBFT writes them (number, decimal string), value base64 or null. Error "bad_response".
util::Result<AbciQueryResponse> parseAbciQueryResponse(const nlohmann::json& result);

// Ok for code 0; otherwise an Error whose code is "not_found" (sdk/22), "invalid_height" (sdk/26),
// or "query_failed", with the path, codespace, code and log in its message.
util::Status abciQueryStatus(std::string_view path, const AbciQueryResponse& response);

// --- Response decoders (input: AbciQueryResponse::value) ----------------------------------------
// Each fails with "bad_response" when the bytes do not decode as the expected message, or when a
// sub-message the caller needs is absent.

// The account's number and sequence for signing, and its public key once it has signed a tx.
struct AccountInfo {
  std::string address;
  util::Bytes publicKey;  // 33-byte compressed; empty until the account's first transaction
  std::uint64_t accountNumber = 0;
  std::uint64_t sequence = 0;
};
util::Result<AccountInfo> decodeAccountResponse(util::ByteSpan value);
util::Result<Coin> decodeBalanceResponse(util::ByteSpan value);
util::Result<session::Session> decodeGetSessionResponse(util::ByteSpan value);
util::Result<session::Params> decodeSessionParamsResponse(util::ByteSpan value);
// Both Params and ParamsAtHeight answer {1: params}.
util::Result<shared::Params> decodeSharedParamsResponse(util::ByteSpan value);
util::Result<proof::Params> decodeProofParamsResponse(util::ByteSpan value);
util::Result<proof::Claim> decodeClaimResponse(util::ByteSpan value);
util::Result<application::Application> decodeApplicationResponse(util::ByteSpan value);
util::Result<shared::Supplier> decodeSupplierResponse(util::ByteSpan value);
util::Result<shared::Service> decodeServiceResponse(util::ByteSpan value);
util::Result<service::RelayMiningDifficulty> decodeRelayMiningDifficultyResponse(
    util::ByteSpan value);
util::Result<std::uint64_t> decodeComputeUnitsPerRelayResponse(util::ByteSpan value);

// Gas figures of a simulation. gasWanted is 2^64-1 (infinite meter); clients use gasUsed.
struct SimulationGas {
  std::uint64_t gasWanted = 0;
  std::uint64_t gasUsed = 0;
};
// Protobuf SimulateResponse of /cosmos.tx.v1beta1.Service/Simulate.
util::Result<SimulationGas> decodeSimulateResponse(util::ByteSpan value);
// JSON SimulationResponse of /app/simulate ({"gas_info":{"gas_wanted":"…","gas_used":"…"},…}).
util::Result<SimulationGas> decodeAppSimulateResponse(util::ByteSpan value);

}  // namespace pocket::protocol
