#include "common/chain/block_feed.h"

#include <optional>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include "common/chain/json_reader.h"
#include "common/util/thread_name.h"

namespace pocket::chain {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

struct WsUrl {
  std::string host;
  std::string port;
  std::string target;
};

util::Result<WsUrl> parseWsUrl(std::string_view url) {
  constexpr std::string_view scheme = "ws://";
  if (!url.starts_with(scheme)) {
    return util::makeError(std::string(kErrBadArgument),
                           fmt::format("\"{}\" is not a ws:// URL", url));
  }
  std::string_view rest = url.substr(scheme.size());
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "/" : rest.substr(slash);
  std::size_t colon = authority.rfind(':');
  if (authority.empty() || colon == std::string_view::npos || colon == 0 ||
      colon + 1 == authority.size()) {
    return util::makeError(std::string(kErrBadArgument),
                           fmt::format("\"{}\" has no host:port", url));
  }
  std::string_view port = authority.substr(colon + 1);
  for (char c : port) {
    if (c < '0' || c > '9') {
      return util::makeError(std::string(kErrBadArgument),
                             fmt::format("\"{}\" has a non-numeric port", url));
    }
  }
  return WsUrl{std::string(authority.substr(0, colon)), std::string(port), std::string(target)};
}

util::Result<NewBlock> newBlockOf(const Block& block, std::string source) {
  if (block.blockId.hash.size() != 32) {
    return util::makeError(std::string(kErrMalformed),
                           fmt::format("block {}: block_id.hash has {} bytes, expected 32",
                                       block.header.height, block.blockId.hash.size()));
  }
  NewBlock out;
  out.height = block.header.height;
  out.blockHash = block.blockId.hash;
  out.time = block.header.time;
  out.chainId = block.header.chainId;
  out.header = block.header;
  out.txCount = block.txs.size();
  out.source = std::move(source);
  return out;
}

}  // namespace

void BlockFeedConfig::validate() const {
  if (!websocketUrl.empty()) {
    auto parsed = parseWsUrl(websocketUrl);
    if (!parsed) throw std::invalid_argument("websocket_url: " + parsed.error().message);
  }
  if (startHeight < 0) throw std::invalid_argument("start_height: must be >= 0");
  if (pollInterval.count() <= 0) throw std::invalid_argument("poll_interval: must be > 0");
  if (subscribedPollInterval.count() <= 0) {
    throw std::invalid_argument("subscribed_poll_interval: must be > 0");
  }
  if (reconnectBackoffInitial.count() <= 0 || reconnectBackoffMax < reconnectBackoffInitial) {
    throw std::invalid_argument("reconnect_backoff: initial must be > 0 and <= max");
  }
  if (connectTimeout.count() <= 0) throw std::invalid_argument("connect_timeout: must be > 0");
  if (maxMessageBytes < 1024) throw std::invalid_argument("max_message_bytes: must be >= 1024");
}

util::Result<std::string> websocketUrlFromRpcUrl(std::string_view rpcUrl) {
  constexpr std::string_view scheme = "http://";
  if (!rpcUrl.starts_with(scheme)) {
    return util::makeError(
        std::string(kErrBadArgument),
        fmt::format("cannot derive a WebSocket URL from \"{}\": only http:// is supported",
                    rpcUrl));
  }
  std::string_view rest = rpcUrl.substr(scheme.size());
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos) {
    return util::makeError(
        std::string(kErrBadArgument),
        fmt::format("cannot derive a WebSocket URL from \"{}\": expected http://host:port",
                    rpcUrl));
  }
  std::string url = fmt::format("ws://{}/websocket", rest);
  auto parsed = parseWsUrl(url);
  if (!parsed) return parsed.error();
  return url;
}

util::Result<NewBlock> decodeNewBlockEvent(std::string_view message) {
  auto parsed = json::parseReply(message);
  if (!parsed) return parsed.error();
  json::At result = json::result(*parsed);
  if (result.value.empty()) return NewBlock{};  // the subscription's ack
  auto data = json::member(result, "data");
  if (!data) return data.error();
  auto typeField = json::member(*data, "type");
  if (!typeField) return typeField.error();
  auto type = json::string(*typeField);
  if (!type) return type.error();
  if (*type != "tendermint/event/NewBlock") {
    return json::malformed(typeField->path,
                           fmt::format("\"{}\" is not tendermint/event/NewBlock", *type));
  }
  auto value = json::member(*data, "value");
  if (!value) return value.error();
  auto blockIdAt = json::member(*value, "block_id");
  if (!blockIdAt) return blockIdAt.error();
  auto blockAt = json::member(*value, "block");
  if (!blockAt) return blockAt.error();
  auto block = decodeBlockFromJson(*blockIdAt, *blockAt);
  if (!block) return block.error();
  auto out = newBlockOf(*block, "websocket");
  if (!out) return json::malformed(blockIdAt->path + ".hash", out.error().message);
  if (out->height <= 0) {
    return json::malformed(blockAt->path + ".header.height", "must be > 0");
  }
  return out;
}

struct BlockFeed::Impl {
  Impl(BlockFeed& feed, NodeClient& nodeClient, OnBlock onBlockFn,
       OnConnectionChange onConnectionChangeFn, util::MetricsRegistry& metrics, util::LogSink& sink)
      : owner(feed),
        node(nodeClient),
        onBlock(std::move(onBlockFn)),
        onConnectionChange(std::move(onConnectionChangeFn)),
        log(sink),
        blocks(metrics.counter("pocket_chain_feed_blocks_total",
                               "Blocks delivered by the block feed, by how they arrived "
                               "(websocket, poll, backfill)",
                               {"source"})),
        errors(metrics.counter("pocket_chain_feed_errors_total",
                               "Block feed failures (the feed retries), by reason", {"reason"})),
        reconnects(metrics
                       .counter("pocket_chain_feed_reconnects_total",
                                "WebSocket (re)connection attempts of the block feed")
                       .with()),
        subscribedGauge(metrics
                            .gauge("pocket_chain_feed_subscribed",
                                   "1 while the block feed's WebSocket subscription is up")
                            .with()) {
    backoff = owner.config_.reconnectBackoffInitial;
    if (!owner.config_.websocketUrl.empty()) url = *parseWsUrl(owner.config_.websocketUrl);
    nextHeight = owner.config_.startHeight;
  }

  void fail(std::string_view reason, std::string_view detail) {
    errors.with({std::string(reason)}).inc();
    util::LogLine(log, util::LogLevel::warn, "block_feed_error")
        .kv("reason", reason)
        .kv("detail", detail);
  }

  // --- Delivery ---------------------------------------------------------------------------------

  void deliver(const NewBlock& block) {
    nextHeight = block.height + 1;
    owner.lastDelivered_.store(block.height);
    blocks.with({block.source}).inc();
    onBlock(block);
  }

  // The node is at `latest` (and `event` is that block when it came with the news): deliver every
  // height from nextHeight up to it, fetching what the events did not bring.
  void announce(std::int64_t latest, const NewBlock* event) {
    if (latest > owner.latestKnown_.load()) owner.latestKnown_.store(latest);
    if (nextHeight == 0) nextHeight = latest;  // start at the node's head
    while (!stopping.load() && nextHeight <= latest) {
      if (event != nullptr && event->height == nextHeight) {
        deliver(*event);
        continue;
      }
      const bool isHead = nextHeight == latest;
      auto block = node.block(nextHeight);
      if (!block) {
        if (block.error().code == kErrStopped) return;
        fail("fetch_failed", fmt::format("height {}: {}: {}", nextHeight, block.error().code,
                                         block.error().message));
        return;  // retried on the next event or poll
      }
      if (block->header.height != nextHeight) {
        fail("fetch_failed", fmt::format("asked for block {}, the node answered block {}",
                                         nextHeight, block->header.height));
        return;
      }
      auto fresh = newBlockOf(*block, isHead && event == nullptr ? "poll" : "backfill");
      if (!fresh) {
        fail("fetch_failed", fresh.error().message);
        return;
      }
      deliver(*fresh);
    }
  }

  // --- Polling ----------------------------------------------------------------------------------

  void schedulePoll(std::chrono::milliseconds delay) {
    pollTimer.expires_after(delay);
    pollTimer.async_wait([this](beast::error_code ec) {
      if (ec || stopping.load()) return;
      poll();
    });
  }

  void poll() {
    CallOptions once;
    once.retries = 0;  // the next poll is the retry
    auto status = node.status(once);
    if (status) {
      announce(status->latestBlockHeight, nullptr);
    } else if (status.error().code != kErrStopped) {
      fail("poll_failed", status.error().code + ": " + status.error().message);
    }
    if (stopping.load()) return;
    schedulePoll(owner.subscribed_.load() ? owner.config_.subscribedPollInterval
                                          : owner.config_.pollInterval);
  }

  // --- WebSocket --------------------------------------------------------------------------------

  void setSubscribed(bool value) {
    if (owner.subscribed_.exchange(value) == value) return;
    subscribedGauge.set(value ? 1 : 0);
    util::LogLine(log, value ? util::LogLevel::info : util::LogLevel::warn,
                  value ? "block_feed_subscribed" : "block_feed_unsubscribed")
        .kv("url", owner.config_.websocketUrl);
    if (onConnectionChange) onConnectionChange(value);
  }

  void connect() {
    if (stopping.load()) return;
    reconnects.inc();
    ws = std::make_unique<websocket::stream<beast::tcp_stream>>(io);
    ws->read_message_max(owner.config_.maxMessageBytes);
    resolver.async_resolve(
        url.host, url.port, [this](beast::error_code ec, tcp::resolver::results_type results) {
          if (stopping.load()) return;
          if (ec) return disconnected("resolve", ec.message());
          beast::get_lowest_layer(*ws).expires_after(owner.config_.connectTimeout);
          beast::get_lowest_layer(*ws).async_connect(
              results, [this](beast::error_code ec2, const tcp::endpoint&) { onConnected(ec2); });
        });
  }

  void onConnected(beast::error_code ec) {
    if (stopping.load()) return;
    if (ec) return disconnected("connect", ec.message());
    ws->async_handshake(url.host + ":" + url.port, url.target, [this](beast::error_code ec2) {
      if (stopping.load()) return;
      if (ec2) return disconnected("handshake", ec2.message());
      beast::get_lowest_layer(*ws).expires_never();
      websocket::stream_base::timeout timeouts;
      timeouts.handshake_timeout = owner.config_.connectTimeout;
      // CometBFT pings every 27 s; our own pings catch a peer that vanished silently.
      timeouts.idle_timeout = std::chrono::seconds(60);
      timeouts.keep_alive_pings = true;
      ws->set_option(timeouts);
      ws->text(true);
      subscribeRequest =
          R"({"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"query":"tm.event='NewBlock'"}})";
      ws->async_write(asio::buffer(subscribeRequest), [this](beast::error_code ec3, std::size_t) {
        if (stopping.load()) return;
        if (ec3) return disconnected("subscribe", ec3.message());
        read();
      });
    });
  }

  void read() {
    buffer.clear();
    ws->async_read(buffer, [this](beast::error_code ec, std::size_t) {
      if (stopping.load()) return;
      if (ec) return disconnected("read", ec.message());
      std::string message = beast::buffers_to_string(buffer.data());
      auto event = decodeNewBlockEvent(message);
      if (!event) {
        if (event.error().code == kErrRpc || event.error().code == kErrHeightUnavailable) {
          return disconnected("subscription_error", event.error().message);
        }
        fail("bad_event", event.error().message);
        read();
        return;
      }
      if (event->height == 0) {  // the ack: subscribed; backfill whatever was missed
        backoff = owner.config_.reconnectBackoffInitial;
        setSubscribed(true);
        schedulePoll(std::chrono::milliseconds(0));
      } else {
        announce(event->height, &*event);
      }
      if (!stopping.load()) read();
    });
  }

  void disconnected(std::string_view stage, const std::string& detail) {
    setSubscribed(false);
    fail("websocket_" + std::string(stage),
         fmt::format("{}: {}", owner.config_.websocketUrl, detail));
    if (ws) {
      beast::error_code ignored;
      beast::get_lowest_layer(*ws).socket().close(ignored);
    }
    // Poll at the fast rate until the subscription is back.
    schedulePoll(owner.config_.pollInterval);
    reconnectTimer.expires_after(backoff);
    backoff = std::min(owner.config_.reconnectBackoffMax, backoff * 2);
    reconnectTimer.async_wait([this](beast::error_code ec) {
      if (ec || stopping.load()) return;
      connect();
    });
  }

  BlockFeed& owner;
  NodeClient& node;
  OnBlock onBlock;
  OnConnectionChange onConnectionChange;
  util::LogSink& log;
  util::Family<util::Counter>& blocks;
  util::Family<util::Counter>& errors;
  util::Counter& reconnects;
  util::Gauge& subscribedGauge;

  asio::io_context io;  // destroyed last: the objects below are bound to it
  asio::steady_timer pollTimer{io};
  asio::steady_timer reconnectTimer{io};
  tcp::resolver resolver{io};
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws;
  beast::flat_buffer buffer;
  std::string subscribeRequest;
  WsUrl url;
  std::chrono::milliseconds backoff{0};
  std::int64_t nextHeight = 0;  // next height to deliver; 0 = start at the node's head
  std::atomic<bool> stopping{false};
  std::thread thread;
};

BlockFeed::BlockFeed(BlockFeedConfig config, NodeClient& node, OnBlock onBlock,
                     util::MetricsRegistry& metrics, util::LogSink& log,
                     OnConnectionChange onConnectionChange)
    : config_(std::move(config)) {
  config_.validate();
  if (!onBlock) throw std::invalid_argument("block feed: onBlock must be set");
  impl_ = std::make_unique<Impl>(*this, node, std::move(onBlock), std::move(onConnectionChange),
                                 metrics, log);
}

BlockFeed::~BlockFeed() {
  stop();
}

void BlockFeed::start() {
  if (impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    if (!config_.websocketUrl.empty()) impl_->connect();
    impl_->poll();
  });
  impl_->thread = std::thread([this] {
    util::nameThisThread("block-feed");
    impl_->io.run();
  });
}

void BlockFeed::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->pollTimer.cancel();
    impl_->reconnectTimer.cancel();
    impl_->resolver.cancel();
    if (impl_->ws) beast::get_lowest_layer(*impl_->ws).socket().close(ignored);
    impl_->io.stop();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
  subscribed_.store(false);
}

}  // namespace pocket::chain
