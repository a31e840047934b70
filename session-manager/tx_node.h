#pragma once
// What the transaction submitter needs from a full node (docs/transactions.md): the account's
// number and committed sequence, gas simulation, broadcast_tx_sync, a committed tx by hash, and
// the node's minimum gas price. An interface so that unit tests can put a small in-process chain
// behind the submitter; NodeTxChain is the real one over CometBFT JSON-RPC.
//
// Errors (util::Error::code): the chain client's codes (common/chain/node_client.h: transport,
// timeout, rpc_error, tx_not_found, tx_in_cache, ...) and the query codes of
// common/chain/chain_queries.h pass through unchanged; simulation failures are kErrSimulation
// with the node's code and log in the message (and in a SimulationFailure when asked).
//
// Threading: implementations must be thread-safe; the submitter calls them from its workers.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/chain/chain_queries.h"
#include "common/chain/node_client.h"
#include "common/protocol/abci_query.h"
#include "common/util/bytes.h"
#include "common/util/log.h"
#include "common/util/result.h"

namespace pocket::sm {

inline constexpr std::string_view kErrSimulation = "simulation_failed";
// The node does not serve the Config query (older node or a chain without it).
inline constexpr std::string_view kErrNoGasPrice = "no_gas_price";

// Node-service query of the node's own settings; ConfigResponse.minimum_gas_price is field 1.
inline constexpr std::string_view kNodeConfigQueryPath = "/cosmos.base.node.v1beta1.Service/Config";

// A simulation the node refused: its ABCI code and log (e.g. a sequence mismatch, code 32).
struct SimulationFailure {
  std::uint32_t code = 0;
  std::string log;
};

class TxNode {
 public:
  virtual ~TxNode() = default;
  // Account number and committed sequence (state of the latest block).
  virtual util::Result<protocol::AccountInfo> account(std::string_view address) = 0;
  // Gas used by `simulationTxRaw` (one empty signature). On failure the error is kErrSimulation and
  // `failure` (when not null) receives the node's code and log.
  virtual util::Result<std::uint64_t> simulateGas(util::ByteSpan simulationTxRaw,
                                                  SimulationFailure* failure) = 0;
  // CheckTx's verdict. kErrTxInCache when the node already holds these bytes.
  virtual util::Result<chain::BroadcastResult> broadcast(util::ByteSpan txRaw) = 0;
  // The committed tx with this 32-byte hash; kErrTxNotFound while it is not in a block.
  virtual util::Result<chain::TxResult> findTx(util::ByteSpan hash) = 0;
  // The node's minimum gas price as the node prints it ("0.000001upokt"); kErrNoGasPrice when the
  // node does not say.
  virtual util::Result<std::string> minimumGasPrice() = 0;
};

// TxNode over a CometBFT node. Simulation uses /cosmos.tx.v1beta1.Service/Simulate and falls
// back to /app/simulate once the node answers that the gRPC path is unknown (remembered).
// Borrows the client and the queries (they outlive it).
class NodeTxChain : public TxNode {
 public:
  NodeTxChain(chain::NodeClient& node, chain::ChainQueries& queries)
      : node_(node), queries_(queries) {}

  util::Result<protocol::AccountInfo> account(std::string_view address) override;
  util::Result<std::uint64_t> simulateGas(util::ByteSpan simulationTxRaw,
                                          SimulationFailure* failure) override;
  util::Result<chain::BroadcastResult> broadcast(util::ByteSpan txRaw) override;
  util::Result<chain::TxResult> findTx(util::ByteSpan hash) override;
  util::Result<std::string> minimumGasPrice() override;

 private:
  chain::NodeClient& node_;
  chain::ChainQueries& queries_;
  std::atomic<bool> appSimulate_{false};  // the gRPC simulate path is unknown to this node
};

// ConfigResponse.minimum_gas_price (field 1) from the query's value. Error "bad_value".
util::Result<std::string> decodeNodeConfigMinimumGasPrice(util::ByteSpan value);

}  // namespace pocket::sm
