// Fuzz target: bytes a node or a chain client receives (a TxRaw, abci_query values, a JSON-RPC
// result) go through every decoder of common/protocol/tx.h and abci_query.h. Each must return a
// value or a typed error; a crash, a sanitizer report or an exception is a bug.

#include <cstddef>
#include <cstdint>

#include <google/protobuf/stubs/logging.h>
#include <nlohmann/json.hpp>

#include "common/protocol/abci_query.h"
#include "common/protocol/tx.h"

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // libprotobuf logs every string field with invalid UTF-8 it refuses; the refusal is what counts.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  pocket::util::ByteSpan bytes(data, size);
  auto tx = pocket::protocol::decodeTx(bytes);
  if (tx.ok()) {
    // Whatever decodes re-encodes without failing when it is valid to build.
    pocket::protocol::TxOptions options;
    options.chainId = "pocket";
    options.signerPublicKey = tx->signerPublicKey;
    options.memo = tx->memo;
    options.timeoutHeight = tx->timeoutHeight;
    options.fee = tx->fee;
    (void)pocket::protocol::buildUnsignedTx(tx->messages, options);
  }
  (void)pocket::protocol::decodeAccountResponse(bytes);
  (void)pocket::protocol::decodeGetSessionResponse(bytes);
  (void)pocket::protocol::decodeClaimResponse(bytes);
  (void)pocket::protocol::decodeSharedParamsResponse(bytes);
  (void)pocket::protocol::decodeSimulateResponse(bytes);
  (void)pocket::protocol::decodeAppSimulateResponse(bytes);
  nlohmann::json result = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (!result.is_discarded()) (void)pocket::protocol::parseAbciQueryResponse(result);
  return 0;
}
