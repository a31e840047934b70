#pragma once
// New blocks, every height in order exactly once: a WebSocket subscription to
// tm.event='NewBlock' (`/websocket`, Boost.Beast) with a polling fallback (`status`, then `block`
// for each height not yet delivered). Events missed while the socket was down, or skipped by
// the node, are backfilled with `block?height=`; a reconnect resubscribes after a backoff.
//
// Delivery: onBlock is called with heights start, start+1, ... with no gap and no repeat, for as
// long as the feed runs. `start` is config.startHeight, or, when that is 0, the node's latest
// height when the feed first reaches it. A height whose block cannot be fetched is retried (on the
// next event or poll); later heights wait for it.
//
// Ownership: holds references to the NodeClient, the registry and the sink, which outlive it.
// Threading: the feed runs one thread of its own (an Asio loop) between start() and stop();
// onBlock and onConnectionChange are called on that thread, one at a time. A slow onBlock delays
// the feed (and the WebSocket's pings) but loses nothing: pass blocks on to your own loop.
// start()/stop() from the owner's thread; the accessors from any thread.
// Errors: a broken connection, a bad event or a failed fetch is logged (event=block_feed_...
// reason=...) and counted (pocket_chain_feed_errors_total{reason}); the feed keeps going.
// Crash guarantees: no durable state; the owner persists the last height it handled and passes
// it + 1 as startHeight after a restart.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/chain/node_client.h"
#include "common/protocol/block_header.h"
#include "common/util/bytes.h"
#include "common/util/log.h"
#include "common/util/metrics.h"

namespace pocket::chain {

struct NewBlock {
  std::int64_t height = 0;
  util::Bytes blockHash;  // block_id.hash, 32 bytes
  protocol::Timestamp time;
  std::string chainId;
  protocol::BlockHeader header;
  std::size_t txCount = 0;
  // How the block reached us: "websocket", "poll" or "backfill" (for logs and tests).
  std::string source;
};

struct BlockFeedConfig {
  // ws://host:port/websocket. Empty = polling only.
  std::string websocketUrl;
  // 0 = start at the node's latest height; otherwise the first height to deliver.
  std::int64_t startHeight = 0;
  // How often `status` is polled while the WebSocket is down (and the first poll at start).
  std::chrono::milliseconds pollInterval{1000};
  // While the WebSocket is up, `status` is still polled this often to catch silently lost events.
  std::chrono::milliseconds subscribedPollInterval{15000};
  std::chrono::milliseconds reconnectBackoffInitial{500};
  std::chrono::milliseconds reconnectBackoffMax{15000};
  std::chrono::milliseconds connectTimeout{5000};
  // The largest WebSocket message accepted (a NewBlock event carries the whole block).
  std::size_t maxMessageBytes = std::size_t{64} << 20;

  // Throws std::invalid_argument naming the field ("websocket_url: ...").
  void validate() const;
};

// Derives ws://host:port/websocket from an http://host:port RPC URL (https -> wss is refused:
// TLS is not supported for the subscription). Error kErrBadArgument.
util::Result<std::string> websocketUrlFromRpcUrl(std::string_view rpcUrl);

// Decodes one WebSocket text message of a NewBlock subscription. nullopt-like outcomes:
//   ok with height 0  = the subscription's empty ack ({"result":{}})
//   kErrRpc           = an error object (e.g. the subscription was cancelled)
//   kErrMalformed     = anything else, naming the JSON path.
util::Result<NewBlock> decodeNewBlockEvent(std::string_view message);

class BlockFeed {
 public:
  using OnBlock = std::function<void(const NewBlock&)>;
  using OnConnectionChange = std::function<void(bool subscribed)>;

  // Throws std::invalid_argument (config.validate()).
  BlockFeed(BlockFeedConfig config, NodeClient& node, OnBlock onBlock,
            util::MetricsRegistry& metrics, util::LogSink& log,
            OnConnectionChange onConnectionChange = {});
  ~BlockFeed();  // stops
  BlockFeed(const BlockFeed&) = delete;
  BlockFeed& operator=(const BlockFeed&) = delete;

  // Starts the thread. Call once.
  void start();
  // Closes the socket, ends the thread and joins it; no callback runs after it returns.
  // Idempotent. Must not be called from onBlock.
  void stop();

  // The last height delivered (0 before the first).
  std::int64_t lastDeliveredHeight() const { return lastDelivered_.load(); }
  // The newest height the node announced (event or status).
  std::int64_t latestKnownHeight() const { return latestKnown_.load(); }
  bool subscribed() const { return subscribed_.load(); }

 private:
  struct Impl;

  BlockFeedConfig config_;
  std::atomic<std::int64_t> lastDelivered_{0};
  std::atomic<std::int64_t> latestKnown_{0};
  std::atomic<bool> subscribed_{false};
  std::unique_ptr<Impl> impl_;
};

}  // namespace pocket::chain
