#pragma once
// The CometBFT RPC methods the devnet serves (docs/chain-client.md), over the Node: health, status,
// abci_info, abci_query, block, block_by_hash, header, blockchain, block_results, check_tx,
// broadcast_tx_sync, broadcast_tx_async, broadcast_tx_commit, tx, tx_search, num_unconfirmed_txs,
// unsafe_flush_mempool; the test knobs of POST /devnet/<action>; the events a block
// publishes to WebSocket subscribers (NewBlock, NewBlockHeader, NewBlockEvents, Tx); and the
// /devnet/state document. Parameters are decoded strictly (rpc_params.h); method errors carry the
// real node's texts.
//
// Ownership: borrows the Node (which must outlive it). Threading: the devnet's event-loop thread
// only, like the Node.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "test/devnet/node.h"
#include "test/devnet/rpc_server.h"

namespace pocket::devnet {

class RpcMethods final : public RpcDispatcher {
 public:
  // `rpcAddress` is what status reports as node_info.other.rpc_address ("tcp://127.0.0.1:26657").
  RpcMethods(Node& node, std::string rpcAddress);

  std::optional<std::vector<std::string_view>> argumentNames(
      std::string_view method) const override;
  RpcOutcome call(std::string_view method, const RpcParams& params) override;
  Json devnetState() override;
  // The test knobs: `flush-mempool[?blocks=N]` (Node::flushMempool now, and before each of the
  // next N blocks; answers {"dropped", "height", "flush_before_blocks"}) and
  // `rpc-outage?blocks=N` (the RPC goes unanswered until N more blocks are committed; N = 0 ends
  // an outage; answers {"from_height", "until_height"}).
  RpcOutcome control(std::string_view action,
                     const std::map<std::string, std::string>& arguments) override;
  bool rpcOutage() const override { return node_.height() < outageUntil_; }

  // What a committed block publishes, in CometBFT's order: NewBlock, NewBlockHeader,
  // NewBlockEvents, then one Tx event per tx.
  std::vector<PublishedEvent> blockEvents(const Block& block) const;

  void setRpcAddress(std::string rpcAddress) { rpcAddress_ = std::move(rpcAddress); }

 private:
  // One served method: its argument names (positional order) and its handler.
  struct Method {
    std::vector<std::string_view> arguments;
    RpcOutcome (*run)(RpcMethods&, const RpcParams&);
  };
  static const std::map<std::string_view, Method>& methods();

  RpcOutcome status() const;
  RpcOutcome abciInfo() const;
  RpcOutcome abciQuery(const RpcParams& params) const;
  RpcOutcome block(const RpcParams& params) const;
  RpcOutcome blockByHash(const RpcParams& params) const;
  RpcOutcome header(const RpcParams& params) const;
  RpcOutcome blockchain(const RpcParams& params) const;
  RpcOutcome blockResults(const RpcParams& params) const;
  RpcOutcome broadcast(const RpcParams& params, bool sync);
  RpcOutcome broadcastCommit(const RpcParams& params);
  RpcOutcome checkTx(const RpcParams& params);
  RpcOutcome tx(const RpcParams& params) const;
  RpcOutcome numUnconfirmedTxs() const;
  RpcOutcome txSearch(const RpcParams& params) const;

  // getHeight of rpc/core: the latest height for nullopt, else 1 ≤ h ≤ latest.
  util::Result<std::int64_t> resolveHeight(std::optional<std::int64_t> height) const;
  // The `height` argument of block, header and block_results, resolved; -32602 or -32603.
  std::variant<std::int64_t, RpcError> heightArgument(const RpcParams& params) const;
  Json resultTx(const Block& block, std::uint32_t index) const;
  Json finalizeBlockJson(const Block& block) const;

  Node& node_;
  std::string rpcAddress_;
  std::int64_t outageUntil_ = 0;  // the RPC answers again once this height is committed
};

}  // namespace pocket::devnet
