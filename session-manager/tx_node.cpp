#include "session-manager/tx_node.h"

#include <fmt/format.h>

#include "common/protocol/proto_wire.h"

namespace pocket::sm {

namespace {

util::Error simulationError(std::string_view path, const protocol::AbciQueryResponse& response,
                            SimulationFailure* failure) {
  if (failure != nullptr) {
    failure->code = response.code;
    failure->log = response.log;
  }
  return util::makeError(std::string(kErrSimulation),
                         fmt::format("path={} codespace={} code={} log={}", path,
                                     response.codespace, response.code, response.log));
}

}  // namespace

util::Result<protocol::AccountInfo> NodeTxChain::account(std::string_view address) {
  return queries_.account(address);
}

util::Result<std::uint64_t> NodeTxChain::simulateGas(util::ByteSpan simulationTxRaw,
                                                     SimulationFailure* failure) {
  if (!appSimulate_.load()) {
    auto response = node_.abciQuery(protocol::simulateQuery(simulationTxRaw));
    if (!response) return response.error();
    if (response->code == 0) {
      auto gas = protocol::decodeSimulateResponse(response->value);
      if (!gas) return gas.error();
      return gas->gasUsed;
    }
    // A node without the gRPC tx service answers that the path is unknown; every other failure
    // is the simulation's own.
    if (response->log.find("unknown query path") == std::string::npos) {
      return simulationError(protocol::kSimulateQueryPath, *response, failure);
    }
    appSimulate_.store(true);
  }
  auto response = node_.abciQuery(protocol::appSimulateQuery(simulationTxRaw));
  if (!response) return response.error();
  if (response->code != 0) {
    return simulationError(protocol::kAppSimulateQueryPath, *response, failure);
  }
  auto gas = protocol::decodeAppSimulateResponse(response->value);
  if (!gas) return gas.error();
  return gas->gasUsed;
}

util::Result<chain::BroadcastResult> NodeTxChain::broadcast(util::ByteSpan txRaw) {
  return node_.broadcastTxSync(txRaw);
}

util::Result<chain::TxResult> NodeTxChain::findTx(util::ByteSpan hash) {
  // One attempt: a miss is asked again after the next block anyway.
  chain::CallOptions options;
  options.retries = 0;
  return node_.tx(hash, options);
}

util::Result<std::string> NodeTxChain::minimumGasPrice() {
  protocol::AbciQuery query{std::string(kNodeConfigQueryPath), {}};
  auto response = node_.abciQuery(query);
  if (!response) return response.error();
  if (response->code != 0) {
    return util::makeError(std::string(kErrNoGasPrice),
                           fmt::format("path={} codespace={} code={} log={}", kNodeConfigQueryPath,
                                       response->codespace, response->code, response->log));
  }
  auto price = decodeNodeConfigMinimumGasPrice(response->value);
  if (!price) return price.error();
  if (price->empty()) {
    return util::makeError(std::string(kErrNoGasPrice),
                           "the node's Config answer has no minimum_gas_price");
  }
  return price;
}

util::Result<std::string> decodeNodeConfigMinimumGasPrice(util::ByteSpan value) {
  std::string price;
  auto status = protocol::wire::readFields(
      value, "ConfigResponse",
      [&](protocol::wire::Reader& reader,
          const protocol::wire::Field& field) -> std::optional<util::Error> {
        if (field.number != 1) return std::nullopt;
        if (field.type != protocol::wire::WireType::lengthDelimited) {
          return reader.wrongWireType(field);
        }
        price.assign(reinterpret_cast<const char*>(field.bytes.data()), field.bytes.size());
        return std::nullopt;
      });
  if (!status) return util::makeError(std::string(chain::kErrBadValue), status.error().message);
  return price;
}

}  // namespace pocket::sm
