#pragma once
// The devnet's CometBFT RPC transport (docs/chain-client.md): JSON-RPC over HTTP `POST /` (single
// and batch, notifications without a reply), URI `GET /<method>?arg=…` (reply id -1), WebSocket
// `/websocket` (JSON-RPC text frames; subscribe / unsubscribe / unsubscribe_all for event queries),
// `GET /devnet/state` and `GET /metrics` (Prometheus text: the devnet's counters), and the
// test-only knobs `POST /devnet/<action>` (flush the mempool, an RPC outage for N blocks). The
// methods themselves are an RpcDispatcher's. broadcast_tx_commit replies once its tx's Tx event is
// published (or its timeout passes): as a single HTTP request, a URI request or over WebSocket;
// inside a batch it is refused.
//
// Ownership: main() builds the server with references to the io_context, the dispatcher, the log
// and the metrics; they outlive it. Connections own themselves (shared_ptr held by their pending
// operation).
// Threading: everything runs on the io_context's single thread: the dispatcher is called there,
// and publish() must be called there too.
// Errors: a transport failure ends its own connection only; oversized bodies get -32600 and the
// connection is closed; every rejection is counted and logged.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/util/log.h"
#include "common/util/metrics.h"
#include "test/devnet/event_query.h"
#include "test/devnet/rpc_json.h"
#include "test/devnet/rpc_params.h"

namespace pocket::devnet {

// JSON-RPC error codes (CometBFT rpc/jsonrpc/types).
inline constexpr int kRpcParseError = -32700;
inline constexpr int kRpcInvalidRequest = -32600;
inline constexpr int kRpcMethodNotFound = -32601;
inline constexpr int kRpcInvalidParams = -32602;
inline constexpr int kRpcInternalError = -32603;
inline constexpr int kRpcServerError = -32000;

// CometBFT defaults (config/config.go).
inline constexpr std::size_t kMaxBodyBytes = 1000000;
// What a connection closed after a refused body may still send; it is read and discarded so the
// refusal reaches the client (see HttpSession::lingeringClose).
inline constexpr std::size_t kLingerDiscardBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxHeaderBytes = 1 << 20;
inline constexpr std::size_t kMaxBatchRequests = 10;
inline constexpr std::size_t kMaxSubscriptionClients = 100;
inline constexpr std::size_t kMaxSubscriptionsPerClient = 5;
inline constexpr std::size_t kMaxQueryLength = 512;

struct RpcError {
  int code = 0;
  std::string data;  // the Go error text (message is derived from the code)
};

// broadcast_tx_commit after a successful CheckTx: the reply waits for the Tx event of `hash`
// (uppercase hex) and is then {check_tx, tx_result, hash, height}; after the server's commit
// timeout it is the error CometBFT gives ("timed out waiting for tx to be included in a block").
struct AwaitTx {
  std::string hash;
  Json checkTx;
};

// The result of one method call: its `result` JSON, the error, or a reply that waits for a block.
using RpcOutcome = std::variant<Json, RpcError, AwaitTx>;

// One published event: what subscriptions match against, and the `data` they receive.
struct PublishedEvent {
  EventMap events;
  Json data;  // {"type": "tendermint/event/…", "value": …}
};

// The methods behind the transport.
class RpcDispatcher {
 public:
  virtual ~RpcDispatcher() = default;
  // The method's argument names in positional order; nullopt for an unknown method.
  virtual std::optional<std::vector<std::string_view>> argumentNames(
      std::string_view method) const = 0;
  // Runs a method (never subscribe/unsubscribe, which the server handles).
  virtual RpcOutcome call(std::string_view method, const RpcParams& params) = 0;
  // GET /devnet/state.
  virtual Json devnetState() = 0;
  // POST /devnet/<action>?key=value: the test knobs (docs/devnet.md); an RpcError with
  // kRpcInvalidParams for a bad argument, kRpcMethodNotFound for an unknown action.
  virtual RpcOutcome control(std::string_view action,
                             const std::map<std::string, std::string>& arguments) = 0;
  // True while a test asked for an RPC outage: every request except /devnet/* and /metrics then
  // has its connection closed unanswered, and WebSocket clients are disconnected.
  virtual bool rpcOutage() const = 0;
};

// CometBFT's timeout_broadcast_tx_commit default.
inline constexpr std::chrono::milliseconds kDefaultBroadcastCommitTimeout{10000};

class RpcServer {
 public:
  // Binds `host:port` (port 0 = any) and starts accepting; throws std::runtime_error when the
  // address cannot be bound.
  // `commitTimeout` bounds a broadcast_tx_commit's wait for its block.
  RpcServer(boost::asio::io_context& io, const std::string& host, std::uint16_t port,
            RpcDispatcher& dispatcher, util::LogSink& log, util::MetricsRegistry& metrics,
            std::chrono::milliseconds commitTimeout = kDefaultBroadcastCommitTimeout);
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  std::uint16_t port() const;
  // Sends each event to every subscription whose query matches it, and answers every waiting
  // broadcast_tx_commit whose tx is among the Tx events. During an RPC outage nothing is sent
  // (WebSocket clients are disconnected instead); waiting commits are still answered.
  void publish(const std::vector<PublishedEvent>& events);
  // Stops accepting and closes every connection.
  void close();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace pocket::devnet
