#include "common/chain/node_client.h"

#include <condition_variable>
#include <stdexcept>

#include <curl/curl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/chain/json_reader.h"
#include "common/util/base64.h"
#include "common/util/hex.h"

namespace pocket::chain {

namespace {

using json::At;
using json::member;

// Shorthand: read a required member with a reader, or return its error.
#define POCKET_READ(var, reader, parent, key) \
  auto var##Field = member(parent, key);      \
  if (!var##Field) return var##Field.error(); \
  auto var = json::reader(*var##Field);       \
  if (!var) return var.error();

util::Result<std::vector<Event>> decodeEvents(const At& at) {
  std::vector<Event> events;
  if (at.value.is_null()) return events;
  if (!at.value.is_array()) return json::malformed(at.path, "expected an array of events");
  for (std::size_t i = 0; i < at.value.size(); ++i) {
    At event = at[i];
    POCKET_READ(type, string, event, "type");
    Event out{std::move(*type), {}};
    At attributes = event["attributes"];
    if (!attributes.value.is_null()) {
      if (!attributes.value.is_array()) {
        return json::malformed(attributes.path, "expected an array of attributes");
      }
      for (std::size_t j = 0; j < attributes.value.size(); ++j) {
        At attribute = attributes[j];
        POCKET_READ(key, string, attribute, "key");
        POCKET_READ(value, string, attribute, "value");
        EventAttribute decoded{std::move(*key), std::move(*value), false};
        At index = attribute["index"];  // omitted when false
        if (!index.value.is_null()) {
          auto flag = json::boolean(index);
          if (!flag) return flag.error();
          decoded.index = *flag;
        }
        out.attributes.push_back(std::move(decoded));
      }
    }
    events.push_back(std::move(out));
  }
  return events;
}

util::Result<ExecTxResult> decodeExecTxResult(const At& at) {
  if (auto ok = json::requireObject(at); !ok) return ok.error();
  ExecTxResult out;
  POCKET_READ(code, uint32Number, at, "code");
  out.code = *code;
  POCKET_READ(data, base64Bytes, at, "data");
  out.data = std::move(*data);
  POCKET_READ(log, string, at, "log");
  out.log = std::move(*log);
  POCKET_READ(info, string, at, "info");
  out.info = std::move(*info);
  POCKET_READ(gasWanted, int64String, at, "gas_wanted");
  out.gasWanted = *gasWanted;
  POCKET_READ(gasUsed, int64String, at, "gas_used");
  out.gasUsed = *gasUsed;
  auto events = decodeEvents(at["events"]);
  if (!events) return events.error();
  out.events = std::move(*events);
  POCKET_READ(codespace, string, at, "codespace");
  out.codespace = std::move(*codespace);
  return out;
}

std::string jsonString(std::string_view text) {
  return nlohmann::json(text).dump();
}

std::string heightParam(std::int64_t height) {
  return jsonString(std::to_string(height));
}

}  // namespace

// --- Decoders -----------------------------------------------------------------------------------

util::Result<NodeStatus> decodeStatusReply(std::string_view reply) {
  auto parsed = json::parseReply(reply);
  if (!parsed) return parsed.error();
  At result = json::result(*parsed);
  NodeStatus status;
  auto nodeInfo = member(result, "node_info");
  if (!nodeInfo) return nodeInfo.error();
  POCKET_READ(id, string, *nodeInfo, "id");
  status.nodeId = std::move(*id);
  POCKET_READ(network, string, *nodeInfo, "network");
  status.network = std::move(*network);
  POCKET_READ(version, string, *nodeInfo, "version");
  status.version = std::move(*version);
  POCKET_READ(moniker, string, *nodeInfo, "moniker");
  status.moniker = std::move(*moniker);
  At txIndex = (*nodeInfo)["other"]["tx_index"];
  if (!txIndex.value.is_null()) {
    auto text = json::string(txIndex);
    if (!text) return text.error();
    status.txIndex = std::move(*text);
  }
  auto sync = member(result, "sync_info");
  if (!sync) return sync.error();
  POCKET_READ(latestHash, hexBytes, *sync, "latest_block_hash");
  status.latestBlockHash = std::move(*latestHash);
  POCKET_READ(latestAppHash, hexBytes, *sync, "latest_app_hash");
  status.latestAppHash = std::move(*latestAppHash);
  POCKET_READ(latestHeight, int64String, *sync, "latest_block_height");
  status.latestBlockHeight = *latestHeight;
  POCKET_READ(latestTime, time, *sync, "latest_block_time");
  status.latestBlockTime = *latestTime;
  POCKET_READ(earliestHash, hexBytes, *sync, "earliest_block_hash");
  status.earliestBlockHash = std::move(*earliestHash);
  POCKET_READ(earliestHeight, int64String, *sync, "earliest_block_height");
  status.earliestBlockHeight = *earliestHeight;
  POCKET_READ(earliestTime, time, *sync, "earliest_block_time");
  status.earliestBlockTime = *earliestTime;
  POCKET_READ(catchingUp, boolean, *sync, "catching_up");
  status.catchingUp = *catchingUp;
  return status;
}

namespace {

// `block` objects ({"header","data","evidence","last_commit"}), shared with the NewBlock event.
util::Status decodeBlockBody(const At& blockAt, Block& out) {
  auto headerAt = member(blockAt, "header");
  if (!headerAt) return headerAt.error();
  auto header = json::header(*headerAt);
  if (!header) return header.error();
  out.header = std::move(*header);
  auto data = member(blockAt, "data");
  if (!data) return data.error();
  At txs = (*data)["txs"];
  if (!txs.value.is_null()) {
    if (!txs.value.is_array()) return json::malformed(txs.path, "expected an array of base64 txs");
    for (std::size_t i = 0; i < txs.value.size(); ++i) {
      At tx = txs[i];
      if (!tx.value.is_string()) return json::malformed(tx.path, "expected a base64 string");
      auto bytes = json::base64Bytes(tx);
      if (!bytes) return bytes.error();
      out.txs.push_back(std::move(*bytes));
    }
  }
  At lastCommit = blockAt["last_commit"];
  if (!lastCommit.value.is_null()) {
    POCKET_READ(height, int64String, lastCommit, "height");
    out.lastCommitHeight = *height;
  }
  return util::Ok{};
}

}  // namespace

util::Result<Block> decodeBlockFromJson(const At& blockIdAt, const At& blockAt) {
  Block out;
  auto id = json::blockId(blockIdAt);
  if (!id) return id.error();
  out.blockId = std::move(*id);
  if (auto ok = decodeBlockBody(blockAt, out); !ok) return ok.error();
  return out;
}

util::Result<Block> decodeBlockReply(std::string_view reply) {
  auto parsed = json::parseReply(reply);
  if (!parsed) return parsed.error();
  At result = json::result(*parsed);
  auto blockIdAt = member(result, "block_id");
  if (!blockIdAt) return blockIdAt.error();
  auto blockAt = member(result, "block");
  if (!blockAt) return blockAt.error();
  return decodeBlockFromJson(*blockIdAt, *blockAt);
}

util::Result<BlockResults> decodeBlockResultsReply(std::string_view reply) {
  auto parsed = json::parseReply(reply);
  if (!parsed) return parsed.error();
  At result = json::result(*parsed);
  BlockResults out;
  POCKET_READ(height, int64String, result, "height");
  out.height = *height;
  At txs = result["txs_results"];
  if (!txs.value.is_null()) {
    if (!txs.value.is_array()) return json::malformed(txs.path, "expected an array");
    for (std::size_t i = 0; i < txs.value.size(); ++i) {
      auto tx = decodeExecTxResult(txs[i]);
      if (!tx) return tx.error();
      out.txResults.push_back(std::move(*tx));
    }
  }
  auto events = decodeEvents(result["finalize_block_events"]);
  if (!events) return events.error();
  out.finalizeBlockEvents = std::move(*events);
  At appHash = result["app_hash"];
  if (!appHash.value.is_null()) {
    auto bytes = json::base64Bytes(appHash);
    if (!bytes) return bytes.error();
    out.appHash = std::move(*bytes);
  }
  return out;
}

util::Result<protocol::AbciQueryResponse> decodeAbciQueryReply(std::string_view reply) {
  auto parsed = json::parseReply(reply);
  if (!parsed) return parsed.error();
  auto response = member(json::result(*parsed), "response");
  if (!response) return response.error();
  protocol::AbciQueryResponse out;
  POCKET_READ(code, uint32Number, *response, "code");
  out.code = *code;
  POCKET_READ(log, string, *response, "log");
  out.log = std::move(*log);
  POCKET_READ(value, base64Bytes, *response, "value");
  out.value = std::move(*value);
  POCKET_READ(height, int64String, *response, "height");
  out.height = *height;
  POCKET_READ(codespace, string, *response, "codespace");
  out.codespace = std::move(*codespace);
  return out;
}

util::Result<TxResult> decodeTxReply(std::string_view reply) {
  auto parsed = json::parseReply(reply);
  if (!parsed) return parsed.error();
  At result = json::result(*parsed);
  TxResult out;
  POCKET_READ(hash, hexBytes, result, "hash");
  out.hash = std::move(*hash);
  POCKET_READ(height, int64String, result, "height");
  out.height = *height;
  At index = result["index"];  // omitted when 0 in some encodings
  if (!index.value.is_null()) {
    auto value = json::uint32Number(index);
    if (!value) return value.error();
    out.index = *value;
  }
  auto txResult = member(result, "tx_result");
  if (!txResult) return txResult.error();
  auto exec = decodeExecTxResult(*txResult);
  if (!exec) return exec.error();
  out.result = std::move(*exec);
  POCKET_READ(tx, base64Bytes, result, "tx");
  out.tx = std::move(*tx);
  return out;
}

util::Result<BroadcastResult> decodeBroadcastReply(std::string_view reply) {
  auto parsed = json::parseReply(reply);
  if (!parsed) return parsed.error();
  At result = json::result(*parsed);
  BroadcastResult out;
  POCKET_READ(code, uint32Number, result, "code");
  out.code = *code;
  POCKET_READ(data, base64Bytes, result, "data");
  out.data = std::move(*data);
  POCKET_READ(log, string, result, "log");
  out.log = std::move(*log);
  POCKET_READ(codespace, string, result, "codespace");
  out.codespace = std::move(*codespace);
  POCKET_READ(hash, hexBytes, result, "hash");
  out.hash = std::move(*hash);
  return out;
}

// --- Configuration ------------------------------------------------------------------------------

void NodeClientConfig::validate() const {
  if (!(rpcUrl.starts_with("http://") || rpcUrl.starts_with("https://")) ||
      rpcUrl.size() <= std::string_view("https://").size()) {
    throw std::invalid_argument(
        fmt::format("rpc_url: \"{}\" is not an http:// or https:// URL", rpcUrl));
  }
  if (connectTimeout.count() <= 0) throw std::invalid_argument("connect_timeout: must be > 0");
  if (callTimeout.count() <= 0) throw std::invalid_argument("call_timeout: must be > 0");
  if (readRetries < 0 || readRetries > 100) {
    throw std::invalid_argument("read_retries: must be between 0 and 100");
  }
  if (retryBackoffInitial.count() < 0 || retryBackoffMax < retryBackoffInitial) {
    throw std::invalid_argument("retry_backoff: initial must be >= 0 and <= max");
  }
  if (maxResponseBytes < 1024) throw std::invalid_argument("max_response_bytes: must be >= 1024");
}

// --- Transport ----------------------------------------------------------------------------------

struct NodeClient::Impl {
  explicit Impl(util::MetricsRegistry& metrics)
      : calls(metrics.counter("pocket_chain_rpc_calls_total",
                              "JSON-RPC call attempts to the full node, by method and outcome "
                              "(ok or the error code)",
                              {"method", "outcome"})),
        retries(metrics.counter("pocket_chain_rpc_retries_total",
                                "Retried JSON-RPC reads, by method and the failure that caused "
                                "the retry",
                                {"method", "reason"})),
        latency(metrics.histogram("pocket_chain_rpc_seconds",
                                  "Latency of JSON-RPC call attempts to the full node", {"method"},
                                  util::latencyBucketsSeconds())) {}

  ~Impl() {
    for (CURL* handle : idle) curl_easy_cleanup(handle);
  }

  CURL* acquire() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }

  void release(CURL* handle) {
    std::lock_guard lock(mutex);
    if (idle.size() < 8) {
      idle.push_back(handle);
      return;
    }
    curl_easy_cleanup(handle);
  }

  // Sleeps for `delay` unless stop() comes first; false when stopped.
  bool sleepUnlessStopped(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex);
    return !stopCondition.wait_for(lock, delay, [&] { return stopped.load(); });
  }

  util::Family<util::Counter>& calls;
  util::Family<util::Counter>& retries;
  util::Family<util::Histogram>& latency;
  std::atomic<std::uint64_t> nextId{1};
  std::atomic<bool> stopped{false};
  std::mutex mutex;
  std::condition_variable stopCondition;
  std::vector<CURL*> idle;  // guarded by mutex
};

namespace {

struct Transfer {
  std::string body;
  std::size_t limit = 0;
  bool tooLarge = false;
  const std::atomic<bool>* stopped = nullptr;
};

std::size_t onWrite(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  if (transfer->body.size() + n > transfer->limit) {
    transfer->tooLarge = true;
    return 0;  // aborts the transfer
  }
  transfer->body.append(data, n);
  return n;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  return transfer->stopped->load() ? 1 : 0;
}

bool retryable(const util::Error& error) {
  return error.code == kErrTransport || error.code == kErrTimeout || error.code == kErrMalformed;
}

}  // namespace

NodeClient::NodeClient(NodeClientConfig config, util::MetricsRegistry& metrics, util::LogSink& log,
                       CallObserver* observer)
    : config_(std::move(config)), log_(log), observer_(observer) {
  config_.validate();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  impl_ = std::make_unique<Impl>(metrics);
}

NodeClient::~NodeClient() {
  impl_.reset();
  curl_global_cleanup();
}

void NodeClient::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopped.store(true);
  }
  impl_->stopCondition.notify_all();
}

template <class T>
util::Result<T> NodeClient::call(std::string_view method, const std::string& paramsJson,
                                 bool idempotent, const CallOptions& options,
                                 util::Result<T> (*decode)(std::string_view)) {
  const int retries = idempotent ? options.retries.value_or(config_.readRetries) : 0;
  const auto timeout = options.timeout.value_or(config_.callTimeout);
  const std::string methodName(method);
  auto backoff = config_.retryBackoffInitial;
  for (int attempt = 0;; ++attempt) {
    if (impl_->stopped.load()) {
      return util::makeError(std::string(kErrStopped),
                             fmt::format("{}: the node client is stopping", method));
    }
    const std::uint64_t id = impl_->nextId.fetch_add(1);
    std::string request = fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":{},"params":{}}})", id,
                                      jsonString(method), paramsJson);
    Transfer transfer;
    transfer.limit = config_.maxResponseBytes;
    transfer.stopped = &impl_->stopped;

    CURL* handle = impl_->acquire();
    if (handle == nullptr) throw std::runtime_error("curl_easy_init failed");
    curl_easy_reset(handle);
    struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    // No "Expect: 100-continue" round trip before large bodies (broadcasts).
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(handle, CURLOPT_URL, config_.rpcUrl.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_POST, 1L);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.size()));
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(config_.connectTimeout, timeout).count()));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, onWrite);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, onProgress);
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);

    const auto started = std::chrono::steady_clock::now();
    CURLcode code = curl_easy_perform(handle);
    long httpStatus = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &httpStatus);
    const auto latency = std::chrono::steady_clock::now() - started;
    curl_slist_free_all(headers);
    impl_->release(handle);

    util::Result<T> outcome = [&]() -> util::Result<T> {
      if (code == CURLE_OK) {
        auto decoded = decode(transfer.body);
        // A proxy or a broken node may answer non-JSON with an HTTP error: say so.
        if (!decoded && decoded.error().code == kErrMalformed && httpStatus != 200) {
          return util::makeError(std::string(kErrTransport),
                                 fmt::format("{}: HTTP {} from {} ({})", method, httpStatus,
                                             config_.rpcUrl, decoded.error().message));
        }
        if (!decoded) {
          return util::makeError(decoded.error().code,
                                 fmt::format("{}: {}", method, decoded.error().message));
        }
        return decoded;
      }
      if (code == CURLE_ABORTED_BY_CALLBACK && impl_->stopped.load()) {
        return util::makeError(std::string(kErrStopped),
                               fmt::format("{}: the node client is stopping", method));
      }
      if (code == CURLE_WRITE_ERROR && transfer.tooLarge) {
        return util::makeError(std::string(kErrMalformed),
                               fmt::format("{}: the reply exceeds max_response_bytes ({})", method,
                                           config_.maxResponseBytes));
      }
      if (code == CURLE_OPERATION_TIMEDOUT) {
        return util::makeError(std::string(kErrTimeout),
                               fmt::format("{}: no complete reply from {} within {} ms", method,
                                           config_.rpcUrl, timeout.count()));
      }
      return util::makeError(
          std::string(kErrTransport),
          fmt::format("{}: {} ({})", method, curl_easy_strerror(code), config_.rpcUrl));
    }();

    impl_->latency.with({methodName}).observe(std::chrono::duration<double>(latency).count());
    impl_->calls.with({methodName, outcome ? std::string("ok") : outcome.error().code}).inc();
    if (observer_ != nullptr && (outcome || outcome.error().code != kErrStopped)) {
      observer_->onCallResult(method, outcome ? nullptr : &outcome.error(),
                              std::chrono::duration_cast<std::chrono::nanoseconds>(latency));
    }
    if (outcome) return outcome;
    const util::Error& error = outcome.error();
    if (error.code == kErrStopped) return outcome;
    const bool retry = attempt < retries && retryable(error);
    util::LogLine(log_, util::LogLevel::warn, "chain_rpc_failed")
        .kv("method", method)
        .kv("attempt", attempt + 1)
        .kv("code", error.code)
        .kv("reason", error.message)
        .kv("retry", retry ? "yes" : "no");
    if (!retry) return outcome;
    impl_->retries.with({methodName, error.code}).inc();
    if (!impl_->sleepUnlessStopped(backoff)) {
      return util::makeError(std::string(kErrStopped),
                             fmt::format("{}: the node client is stopping", method));
    }
    backoff = std::min(config_.retryBackoffMax, backoff * 2);
  }
}

util::Result<NodeStatus> NodeClient::status(const CallOptions& options) {
  return call<NodeStatus>("status", "{}", true, options, decodeStatusReply);
}

util::Result<Block> NodeClient::block(std::int64_t height, const CallOptions& options) {
  if (height < 0) {
    return util::makeError(std::string(kErrBadArgument),
                           fmt::format("block: height {} is negative", height));
  }
  std::string params = height == 0 ? "{}" : fmt::format(R"({{"height":{}}})", heightParam(height));
  return call<Block>("block", params, true, options, decodeBlockReply);
}

util::Result<BlockResults> NodeClient::blockResults(std::int64_t height,
                                                    const CallOptions& options) {
  if (height < 0) {
    return util::makeError(std::string(kErrBadArgument),
                           fmt::format("block_results: height {} is negative", height));
  }
  std::string params = height == 0 ? "{}" : fmt::format(R"({{"height":{}}})", heightParam(height));
  return call<BlockResults>("block_results", params, true, options, decodeBlockResultsReply);
}

util::Result<protocol::AbciQueryResponse> NodeClient::abciQuery(std::string_view path,
                                                                util::ByteSpan data,
                                                                std::int64_t height,
                                                                const CallOptions& options) {
  if (path.empty() || path.front() != '/') {
    return util::makeError(std::string(kErrBadArgument),
                           fmt::format("abci_query: path \"{}\" does not start with /", path));
  }
  if (height < 0) {
    return util::makeError(std::string(kErrBadArgument),
                           fmt::format("abci_query {}: height {} is negative", path, height));
  }
  std::string params = fmt::format(R"({{"path":{},"data":"{}","height":{},"prove":false}})",
                                   jsonString(path), util::toHex(data), heightParam(height));
  return call<protocol::AbciQueryResponse>("abci_query", params, true, options,
                                           decodeAbciQueryReply);
}

util::Result<TxResult> NodeClient::tx(util::ByteSpan hash, const CallOptions& options) {
  if (hash.size() != 32) {
    return util::makeError(std::string(kErrBadArgument),
                           fmt::format("tx: hash has {} bytes, expected 32", hash.size()));
  }
  std::string params = fmt::format(R"({{"hash":"{}","prove":false}})", util::toBase64(hash));
  return call<TxResult>("tx", params, true, options, decodeTxReply);
}

util::Result<BroadcastResult> NodeClient::broadcastTxSync(util::ByteSpan txRaw,
                                                          const CallOptions& options) {
  if (txRaw.empty()) {
    return util::makeError(std::string(kErrBadArgument), "broadcast_tx_sync: empty tx");
  }
  std::string params = fmt::format(R"({{"tx":"{}"}})", util::toBase64(txRaw));
  return call<BroadcastResult>("broadcast_tx_sync", params, false, options, decodeBroadcastReply);
}

}  // namespace pocket::chain
