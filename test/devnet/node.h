#pragma once
// The devnet node: what CometBFT and BaseApp do around the state machine. It keeps the chain of
// blocks (headers hashed as block_header.h does, chained by last_block_id), the mempool with its
// duplicate cache and the check state (sequences and fees of txs waiting in the mempool), admits
// transactions (decode, ValidateBasic, the ante handler of ante.h), executes each block (ante
// again, then the state machine's deliverTx, then its endBlock), indexes txs by hash, and answers
// the two gas-simulation queries itself (every other abci_query path goes to the state machine).
// cosmos.bank.v1beta1.MsgSend is executed here, through the state machine's foreign-message hook.
//
// Ownership: main() builds the ChainState, the log and the metrics and hands them in; they
// outlive the node. The node owns its blocks, mempool and index.
// Threading: not thread-safe; the devnet calls it from its single event-loop thread.
// Errors: a rejected transaction is an ABCI result (code/codespace/log) or, where CometBFT refuses
// before the application sees it, a BroadcastRefusal with CometBFT's text; nothing throws for bad
// input. Every rejection is counted (devnet_txs_rejected_total{stage,code}) and logged.
// Crash guarantees: none; the devnet's state is in memory and restarts from genesis.

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/protocol/block_header.h"
#include "common/protocol/tx.h"
#include "common/util/bytes.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "test/devnet/ante.h"
#include "test/devnet/block.h"
#include "test/devnet/state/chain_state.h"

namespace pocket::devnet {

inline constexpr std::uint32_t kCodeInvalidCoins = 10;
// CometBFT mempool defaults (config/config.go).
inline constexpr std::size_t kMempoolCacheSize = 10000;
inline constexpr std::size_t kMempoolMaxTxs = 5000;
// The app name and version `abci_info` reports (poktroll's Name; a version ≥ v0.1.25 makes the Go
// RelayMiner sign response payload hashes).
inline constexpr std::string_view kAppName = "pocket";
inline constexpr std::string_view kAppVersion = "v0.1.35";

// cosmos.base.node.v1beta1.Service/Config: the node's minimum gas price and pruning settings.
inline constexpr std::string_view kNodeConfigQueryPath = "/cosmos.base.node.v1beta1.Service/Config";

struct NodeOptions {
  // Minimum gas price in upokt per gas unit, as numerator / denominator (0 = no minimum).
  std::uint64_t minGasPriceNumerator = 1;
  std::uint64_t minGasPriceDenominator = 1000000;
};

// CheckTx's answer for broadcast_tx_sync.
struct CheckTxAnswer {
  ExecTxResult result;
  std::string hash;  // uppercase hex sha256 of the tx bytes
};

// CometBFT's refusal before CheckTx (a JSON-RPC -32603 error whose data is `text`).
struct BroadcastRefusal {
  std::string text;
};

// Where a committed tx is.
struct TxLocation {
  std::int64_t height = 0;
  std::uint32_t index = 0;
};

class Node {
 public:
  Node(ChainState& state, NodeOptions options, util::LogSink& log, util::MetricsRegistry& metrics);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // broadcast_tx_sync (addToMempool) or check_tx: CometBFT's size and cache checks, then CheckTx
  // on the check state.
  std::variant<CheckTxAnswer, BroadcastRefusal> checkTx(util::ByteSpan tx, bool addToMempool);

  // CometBFT's Flush (the unsafe_flush_mempool RPC), a test knob: every tx waiting in the mempool
  // is dropped and the duplicate cache is emptied, so a client must rebroadcast (the same bytes
  // are accepted again). The check state keeps what the dropped txs consumed until the next block
  // is committed, as the SDK's does. Each dropped tx is counted
  // (devnet_txs_dropped_total{reason="mempool_flushed"}) and logged. Returns how many were dropped.
  std::size_t flushMempool();
  // Also flushes the mempool right before each of the next `blocks` blocks (0 stops it), so txs
  // broadcast meanwhile are accepted by CheckTx and then never land.
  void flushBeforeBlocks(std::int64_t blocks) { flushBlocksLeft_ = blocks; }
  std::int64_t flushBlocksLeft() const { return flushBlocksLeft_; }

  // Makes, executes and commits the next block with every tx of the mempool, in arrival order.
  // `now` is the wall clock; the block time is the genesis time for block 1, then
  // max(now, previous + 1 ms).
  const Block& produceBlock(protocol::Timestamp now);

  std::int64_t height() const { return static_cast<std::int64_t>(blocks_.size()); }
  // nullptr unless 1 ≤ height ≤ height().
  const Block* block(std::int64_t height) const;
  const Block* latestBlock() const { return blocks_.empty() ? nullptr : &blocks_.back(); }
  const Block* blockByHash(util::ByteSpan hash) const;
  std::optional<TxLocation> findTx(util::ByteSpan hash) const;
  std::size_t mempoolSize() const { return mempool_.size(); }
  const util::Bytes& proposerAddress() const { return proposerAddress_; }
  const util::Bytes& genesisAppHash() const { return genesisAppHash_; }
  const ChainState& state() const { return state_; }
  const std::string& chainId() const { return state_.genesis().chainId; }

  // abci_query: the simulation paths and the node's Config here, everything else from the state
  // machine.
  QueryOutcome query(std::string_view path, util::ByteSpan data, std::int64_t height) const;

 private:
  struct PendingTx {
    util::Bytes bytes;
    std::string hash;
  };
  // Per signer: what its mempool txs already consumed in the check state.
  struct CheckStateDelta {
    std::uint64_t sequences = 0;
    std::uint64_t fees = 0;
    util::Bytes publicKey;
    std::set<std::int64_t> unorderedNonces;
  };
  // What one run of the tx pipeline decided (CheckTx, simulation or DeliverTx).
  struct Admission {
    std::optional<AnteOutcome> ante;  // set when the ante handler passed
    ExecTxResult result;              // the failure, when it did not
    protocol::DecodedTx tx;
  };
  enum class Mode { check, simulate, deliver };

  Admission admit(util::ByteSpan bytes, Mode mode) const;
  AnteContext anteContext(Mode mode) const;
  AnteAccount anteAccount(const std::string& address, Mode mode,
                          std::optional<std::int64_t> unorderedNonce) const;
  ExecTxResult deliver(const util::Bytes& bytes, std::int64_t blockHeight);
  MessageOutcome executeMsgSend(const protocol::TxMessage& message, std::string_view signer);
  std::vector<Event> anteEvents(const AnteOutcome& ante, const protocol::DecodedTx& tx) const;
  void rememberInCache(const std::string& hash);
  void countRejection(std::string_view stage, const ExecTxResult& result, const std::string& hash);
  QueryOutcome simulate(util::ByteSpan txBytes, bool protobufResponse) const;

  ChainState& state_;
  NodeOptions options_;
  util::LogSink& log_;
  util::Family<util::Counter>& rejected_;
  util::Counter& admitted_;
  util::Counter& delivered_;
  util::Counter& blocksMade_;
  util::Counter& dropped_;

  std::vector<Block> blocks_;                       // blocks_[h - 1] is height h
  std::map<std::string, TxLocation> txIndex_;       // uppercase hex hash → location
  std::map<std::string, std::int64_t> blockIndex_;  // uppercase hex block hash → height
  std::deque<PendingTx> mempool_;
  std::list<std::string> cacheOrder_;  // oldest first
  std::unordered_map<std::string, std::list<std::string>::iterator> cache_;
  std::map<std::string, CheckStateDelta> checkState_;
  // Committed unordered nonces: signer → timeout timestamps (ns) not yet expired.
  std::map<std::string, std::set<std::int64_t>> unorderedNonces_;
  std::int64_t flushBlocksLeft_ = 0;
  // The block being executed (DeliverTx context); 0 between blocks.
  std::int64_t executingHeight_ = 0;
  protocol::Timestamp executingTime_;
  util::Bytes proposerAddress_;
  util::Bytes genesisAppHash_;
  std::string feeCollector_;
};

// The minimum gas price as the SDK prints DecCoins ("0.000001000000000000upokt": 18 decimals and
// the denom); "" when there is none.
std::string minimumGasPriceText(const NodeOptions& options);

// Wall-clock time as a protobuf timestamp.
protocol::Timestamp nowTimestamp();
protocol::Timestamp toTimestamp(Time time);
Time toTime(const protocol::Timestamp& timestamp);

}  // namespace pocket::devnet
