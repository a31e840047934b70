#pragma once
// CometBFT JSON-RPC client over HTTP (libcurl): the read side a session manager needs (`status`,
// `block`, `block_results`, `abci_query`, `tx`) and `broadcast_tx_sync`. Requests are
// `POST /` with named params in CometBFT's strict encoding (int64 as decimal strings, abci_query
// `data` as hex, tx bytes and tx hashes as base64); replies are decoded exactly into the value
// types below (int64 from decimal strings only, hashes from uppercase hex, bytes from base64,
// times from RFC 3339). A reply that breaks the encoding is an error naming the JSON path.
//
// Errors (util::Error::code is one of the constants below; the message says what, where, why):
//   kErrTransport      connection refused/reset, DNS, TLS, an HTTP status without a JSON-RPC body
//   kErrTimeout        the per-attempt deadline passed (a hung node)
//   kErrRpc            a JSON-RPC error object; message = "rpc error code=C message=M data=D"
//   kErrHeightUnavailable  JSON-RPC error for a height above the node's head, pruned, or 0
//   kErrTxNotFound     `tx`: the node has no such transaction (not yet indexed, or never included)
//   kErrTxInCache      `broadcast_tx_sync`: the node already has these exact bytes (already
//   submitted) kErrMalformed      the reply is not JSON, not JSON-RPC, or a field has the wrong
//   shape; the
//                      message names the JSON path ("result.sync_info.latest_block_height: ...")
//   kErrStopped        stop() was called; the call was abandoned
//   kErrBadArgument    the caller's argument cannot be sent (negative height, empty path, ...)
// Application-level (ABCI) failures are not errors here: abciQuery returns the response with its
// code/codespace/log and broadcastTxSync returns the CheckTx code; ChainQueries turns query codes
// into errors.
//
// Retries: idempotent reads (everything but broadcastTxSync) are retried after kErrTransport,
// kErrTimeout and kErrMalformed (a truncated reply) with exponential backoff, up to
// `readRetries` extra attempts; JSON-RPC errors are answers and are never retried. Broadcasts are
// never retried (a retry could double-submit; the caller decides).
//
// Ownership: main() builds one NodeClient per node URL and hands references to its users; the
// LogSink, MetricsRegistry and CallObserver must outlive it.
// Threading: every method is thread-safe; calls block the calling thread for at most about
// (readRetries + 1) × callTimeout plus backoff. Each in-flight call uses its own libcurl handle
// (handles and their connections are pooled). stop() makes in-flight and later calls return
// kErrStopped promptly.
// Crash guarantees: the client keeps no durable state.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol/abci_query.h"
#include "common/protocol/block_header.h"
#include "common/util/bytes.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "common/util/result.h"

namespace pocket::chain {

inline constexpr std::string_view kErrTransport = "transport";
inline constexpr std::string_view kErrTimeout = "timeout";
inline constexpr std::string_view kErrRpc = "rpc_error";
inline constexpr std::string_view kErrHeightUnavailable = "height_unavailable";
inline constexpr std::string_view kErrTxNotFound = "tx_not_found";
inline constexpr std::string_view kErrTxInCache = "tx_in_cache";
inline constexpr std::string_view kErrMalformed = "malformed_response";
inline constexpr std::string_view kErrStopped = "stopped";
inline constexpr std::string_view kErrBadArgument = "bad_argument";

// --- Typed results ------------------------------------------------------------------------------

// `status` (docs/chain-client.md): the fields a session manager reads.
struct NodeStatus {
  std::string nodeId;
  std::string network;  // the chain id
  std::string version;  // CometBFT version
  std::string moniker;
  std::string txIndex;  // "on" when `tx` works
  util::Bytes latestBlockHash;
  util::Bytes latestAppHash;
  std::int64_t latestBlockHeight = 0;
  protocol::Timestamp latestBlockTime;
  util::Bytes earliestBlockHash;
  std::int64_t earliestBlockHeight = 0;
  protocol::Timestamp earliestBlockTime;
  bool catchingUp = false;
};

// `block` (docs/chain-client.md).
struct Block {
  protocol::BlockId blockId;  // blockId.hash is the block hash (session ids, proof seeds)
  protocol::BlockHeader header;
  std::vector<util::Bytes> txs;  // TxRaw bytes; the tx hash is sha256 of each
  std::int64_t lastCommitHeight = 0;
};

// One attribute of an ABCI event.
struct EventAttribute {
  std::string key;
  std::string value;
  bool index = false;
};

struct Event {
  std::string type;
  std::vector<EventAttribute> attributes;
};

// ExecTxResult (a tx's outcome in a block; jsonpb: every field present).
struct ExecTxResult {
  std::uint32_t code = 0;
  util::Bytes data;
  std::string log;
  std::string info;
  std::int64_t gasWanted = 0;
  std::int64_t gasUsed = 0;
  std::vector<Event> events;
  std::string codespace;
};

// `tx` (docs/chain-client.md).
struct TxResult {
  util::Bytes hash;  // 32 bytes
  std::int64_t height = 0;
  std::uint32_t index = 0;
  ExecTxResult result;
  util::Bytes tx;  // TxRaw bytes
};

// `block_results`: the outcomes of a block's txs and its finalize-block events (settlement).
struct BlockResults {
  std::int64_t height = 0;
  std::vector<ExecTxResult> txResults;
  std::vector<Event> finalizeBlockEvents;
  util::Bytes appHash;
};

// `broadcast_tx_sync` (docs/chain-client.md): CheckTx's verdict. code 0 = in the mempool, nothing
// more.
struct BroadcastResult {
  std::uint32_t code = 0;
  std::string codespace;
  std::string log;
  util::Bytes data;
  util::Bytes hash;  // sha256 of the TxRaw bytes
};

// --- Configuration ------------------------------------------------------------------------------

struct NodeClientConfig {
  // http://host:port[/]; requests go to its path (CometBFT accepts only "/").
  std::string rpcUrl;
  std::chrono::milliseconds connectTimeout{3000};
  // Deadline of one attempt (connect + request + reply).
  std::chrono::milliseconds callTimeout{10000};
  // Extra attempts for idempotent reads after transport/timeout/malformed failures.
  int readRetries = 2;
  std::chrono::milliseconds retryBackoffInitial{200};
  std::chrono::milliseconds retryBackoffMax{5000};
  // Larger replies are refused (kErrMalformed); poktroll blocks can be several MB.
  std::size_t maxResponseBytes = std::size_t{64} << 20;

  // Throws std::invalid_argument naming the field ("rpc_url: ...") when a value is unusable.
  void validate() const;
};

// Per-call override of the configured deadline and retry count.
struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<int> retries;  // ignored for broadcasts (never retried)
};

// Told about the outcome of every JSON-RPC call attempt (NodeHealth uses it for the RPC error
// streak). Called on the calling thread after each attempt; must be thread-safe and cheap.
class CallObserver {
 public:
  virtual ~CallObserver() = default;
  // `error` is null on success (a JSON-RPC reply with a result; an ABCI code != 0 counts as
  // success of the node), else the failure of this attempt.
  virtual void onCallResult(std::string_view method, const util::Error* error,
                            std::chrono::nanoseconds latency) = 0;
};

class NodeClient {
 public:
  // Throws std::invalid_argument (config.validate()). `observer` may be null.
  NodeClient(NodeClientConfig config, util::MetricsRegistry& metrics, util::LogSink& log,
             CallObserver* observer = nullptr);
  ~NodeClient();
  NodeClient(const NodeClient&) = delete;
  NodeClient& operator=(const NodeClient&) = delete;

  util::Result<NodeStatus> status(const CallOptions& options = {});
  // `height` 0 or absent = the latest block (the parameter is omitted, as CometBFT requires).
  util::Result<Block> block(std::int64_t height = 0, const CallOptions& options = {});
  util::Result<BlockResults> blockResults(std::int64_t height = 0, const CallOptions& options = {});
  // `height` 0 = the latest committed state. Always prove=false. A non-zero ABCI code is returned
  // as a successful response carrying code/codespace/log.
  util::Result<protocol::AbciQueryResponse> abciQuery(std::string_view path, util::ByteSpan data,
                                                      std::int64_t height = 0,
                                                      const CallOptions& options = {});
  util::Result<protocol::AbciQueryResponse> abciQuery(const protocol::AbciQuery& query,
                                                      std::int64_t height = 0,
                                                      const CallOptions& options = {}) {
    return abciQuery(query.path, query.data, height, options);
  }
  // `hash` = the 32 raw bytes (sha256 of the TxRaw).
  util::Result<TxResult> tx(util::ByteSpan hash, const CallOptions& options = {});
  // Never retried. kErrTxInCache means the node has already seen these bytes.
  util::Result<BroadcastResult> broadcastTxSync(util::ByteSpan txRaw,
                                                const CallOptions& options = {});

  // Abandons in-flight calls and makes later ones fail with kErrStopped. Any thread; idempotent.
  void stop();

  const NodeClientConfig& config() const { return config_; }

 private:
  struct Impl;
  // One JSON-RPC call: POST, decode the reply with `decode`, retry reads per the config.
  template <class T>
  util::Result<T> call(std::string_view method, const std::string& paramsJson, bool idempotent,
                       const CallOptions& options, util::Result<T> (*decode)(std::string_view));

  NodeClientConfig config_;
  util::LogSink& log_;
  CallObserver* observer_;  // may be null
  std::unique_ptr<Impl> impl_;
};

// --- Decoders of `result` objects (pure; exposed for tests and the fuzz target) ----------------
// Each takes the whole JSON-RPC reply text, checks the envelope (jsonrpc, result vs error object),
// and decodes the result strictly. Errors: kErrRpc / kErrHeightUnavailable / kErrTxNotFound /
// kErrTxInCache for error objects, kErrMalformed for everything else.
util::Result<NodeStatus> decodeStatusReply(std::string_view reply);
util::Result<Block> decodeBlockReply(std::string_view reply);
util::Result<BlockResults> decodeBlockResultsReply(std::string_view reply);
util::Result<protocol::AbciQueryResponse> decodeAbciQueryReply(std::string_view reply);
util::Result<TxResult> decodeTxReply(std::string_view reply);
util::Result<BroadcastResult> decodeBroadcastReply(std::string_view reply);

}  // namespace pocket::chain
