#include "test/devnet/rpc_methods.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto/hash.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "test/devnet/event_query.h"

namespace pocket::devnet {
namespace {

RpcError invalidParams(const util::Error& error) {
  return RpcError{kRpcInvalidParams, error.message};
}
RpcError internal(std::string text) {
  return RpcError{kRpcInternalError, std::move(text)};
}

std::string labelHex(std::string_view label, std::size_t bytes, bool upper) {
  crypto::Hash32 h = crypto::sha256(util::asBytes(label));
  util::ByteSpan span(h.data(), bytes);
  return upper ? upperHex(span) : util::toHex(span);
}

Json publishedData(std::string_view type, Json value) {
  Json data = Json::object();
  data["type"] = type;
  data["value"] = std::move(value);
  return data;
}

Json eventsJson(const std::vector<Event>& events) {
  Json out = Json::array();
  for (const Event& event : events) out.push_back(eventJson(event));
  return out;
}

Json txResultsJson(const std::vector<ExecTxResult>& results) {
  Json out = Json::array();
  for (const ExecTxResult& result : results) out.push_back(execTxResultJson(result));
  return out;
}

void addEvents(EventMap& map, const std::vector<Event>& events) {
  for (const Event& event : events) {
    for (const EventAttribute& attribute : event.attributes) {
      map[event.type + "." + attribute.key].push_back(attribute.value);
    }
  }
}

}  // namespace

const std::map<std::string_view, RpcMethods::Method>& RpcMethods::methods() {
  // Argument names in rpc/core/routes.go order (positional params follow it), and the handler.
  static const std::map<std::string_view, Method> kTable = {
      {"health", {{}, [](RpcMethods&, const RpcParams&) -> RpcOutcome { return Json::object(); }}},
      {"status", {{}, [](RpcMethods& m, const RpcParams&) { return m.status(); }}},
      {"abci_info", {{}, [](RpcMethods& m, const RpcParams&) { return m.abciInfo(); }}},
      {"abci_query",
       {{"path", "data", "height", "prove"},
        [](RpcMethods& m, const RpcParams& p) { return m.abciQuery(p); }}},
      {"block", {{"height"}, [](RpcMethods& m, const RpcParams& p) { return m.block(p); }}},
      {"block_by_hash",
       {{"hash"}, [](RpcMethods& m, const RpcParams& p) { return m.blockByHash(p); }}},
      {"header", {{"height"}, [](RpcMethods& m, const RpcParams& p) { return m.header(p); }}},
      {"blockchain",
       {{"minHeight", "maxHeight"},
        [](RpcMethods& m, const RpcParams& p) { return m.blockchain(p); }}},
      {"block_results",
       {{"height"}, [](RpcMethods& m, const RpcParams& p) { return m.blockResults(p); }}},
      {"check_tx", {{"tx"}, [](RpcMethods& m, const RpcParams& p) { return m.checkTx(p); }}},
      {"broadcast_tx_sync",
       {{"tx"}, [](RpcMethods& m, const RpcParams& p) { return m.broadcast(p, true); }}},
      {"broadcast_tx_async",
       {{"tx"}, [](RpcMethods& m, const RpcParams& p) { return m.broadcast(p, false); }}},
      {"broadcast_tx_commit",
       {{"tx"}, [](RpcMethods& m, const RpcParams& p) { return m.broadcastCommit(p); }}},
      {"tx", {{"hash", "prove"}, [](RpcMethods& m, const RpcParams& p) { return m.tx(p); }}},
      {"tx_search",
       {{"query", "prove", "page", "per_page", "order_by"},
        [](RpcMethods& m, const RpcParams& p) { return m.txSearch(p); }}},
      {"num_unconfirmed_txs",
       {{}, [](RpcMethods& m, const RpcParams&) { return m.numUnconfirmedTxs(); }}},
      {"unsafe_flush_mempool",
       {{},
        [](RpcMethods& m, const RpcParams&) -> RpcOutcome {
          m.node_.flushMempool();
          return Json::object();
        }}},
  };
  return kTable;
}

RpcMethods::RpcMethods(Node& node, std::string rpcAddress)
    : node_(node), rpcAddress_(std::move(rpcAddress)) {
}

std::optional<std::vector<std::string_view>> RpcMethods::argumentNames(
    std::string_view method) const {
  auto it = methods().find(method);
  if (it == methods().end()) return std::nullopt;
  return it->second.arguments;
}

RpcOutcome RpcMethods::call(std::string_view method, const RpcParams& params) {
  auto it = methods().find(method);
  if (it == methods().end()) return RpcError{kRpcMethodNotFound, ""};
  return it->second.run(*this, params);
}

RpcOutcome RpcMethods::numUnconfirmedTxs() const {
  Json out = Json::object();
  out["n_txs"] = std::to_string(node_.mempoolSize());
  out["total"] = std::to_string(node_.mempoolSize());
  out["total_bytes"] = "0";
  out["txs"] = nullptr;
  return out;
}

std::variant<std::int64_t, RpcError> RpcMethods::heightArgument(const RpcParams& params) const {
  auto requested = params.int64Param("height");
  if (!requested) return invalidParams(requested.error());
  auto height = resolveHeight(*requested);
  if (!height) return internal(height.error().message);
  return *height;
}

util::Result<std::int64_t> RpcMethods::resolveHeight(std::optional<std::int64_t> height) const {
  std::int64_t latest = node_.height();
  if (!height) return latest;
  if (*height <= 0) {
    return util::makeError("bad_height",
                           fmt::format("height must be greater than 0, but got {}", *height));
  }
  if (*height > latest) {
    return util::makeError(
        "bad_height",
        fmt::format("height {} must be less than or equal to the current blockchain height {}",
                    *height, latest));
  }
  return *height;
}

RpcOutcome RpcMethods::status() const {
  const Block* latest = node_.latestBlock();
  const Block* earliest = node_.block(1);
  Json protocolVersion = Json::object();
  protocolVersion["p2p"] = "8";
  protocolVersion["block"] = "11";
  protocolVersion["app"] = "0";
  Json other = Json::object();
  other["tx_index"] = "on";
  other["rpc_address"] = rpcAddress_;
  Json nodeInfo = Json::object();
  nodeInfo["protocol_version"] = std::move(protocolVersion);
  nodeInfo["id"] = labelHex("devnet-node-id", 20, false);
  nodeInfo["listen_addr"] = "tcp://0.0.0.0:26656";
  nodeInfo["network"] = node_.chainId();
  nodeInfo["version"] = "0.38.19";
  nodeInfo["channels"] = "40202122233038606100";
  nodeInfo["moniker"] = "devnet";
  nodeInfo["other"] = std::move(other);

  Json sync = Json::object();
  sync["latest_block_hash"] = latest ? upperHex(latest->hash) : "";
  sync["latest_app_hash"] = latest ? upperHex(latest->appHashAfter) : "";
  sync["latest_block_height"] = std::to_string(node_.height());
  sync["latest_block_time"] = latest ? rfc3339(latest->header.time) : "";
  sync["earliest_block_hash"] = earliest ? upperHex(earliest->hash) : "";
  sync["earliest_app_hash"] = earliest ? upperHex(earliest->header.appHash) : "";
  sync["earliest_block_height"] = earliest ? "1" : "0";
  sync["earliest_block_time"] = earliest ? rfc3339(earliest->header.time) : "";
  sync["catching_up"] = false;

  Json pubKey = Json::object();
  pubKey["type"] = "tendermint/PubKeyEd25519";
  crypto::Hash32 key = crypto::sha256(util::asBytes(std::string_view("devnet-validator-key")));
  pubKey["value"] = util::toBase64(key);
  Json validator = Json::object();
  validator["address"] = upperHex(node_.proposerAddress());
  validator["pub_key"] = std::move(pubKey);
  validator["voting_power"] = "10";

  Json out = Json::object();
  out["node_info"] = std::move(nodeInfo);
  out["sync_info"] = std::move(sync);
  out["validator_info"] = std::move(validator);
  return out;
}

RpcOutcome RpcMethods::abciInfo() const {
  const Block* latest = node_.latestBlock();
  Json response = Json::object();
  response["data"] = kAppName;
  response["version"] = kAppVersion;
  response["last_block_height"] = std::to_string(node_.height());
  response["last_block_app_hash"] = latest ? util::toBase64(latest->appHashAfter) : "";
  Json out = Json::object();
  out["response"] = std::move(response);
  return out;
}

RpcOutcome RpcMethods::abciQuery(const RpcParams& params) const {
  auto path = params.stringParam("path");
  if (!path) return invalidParams(path.error());
  auto data = params.hexBytesParam("data");
  if (!data) return invalidParams(data.error());
  auto height = params.int64Param("height");
  if (!height) return invalidParams(height.error());
  auto prove = params.boolParam("prove");
  if (!prove) return invalidParams(prove.error());

  std::int64_t queryHeight = height->value_or(0);
  QueryOutcome outcome;
  if (queryHeight < 0) {
    outcome.code = kCodeInvalidRequest;
    outcome.codespace = std::string(kCodespaceSdk);
    outcome.log =
        fmt::format("cannot query with height < 0; please provide a valid height: invalid request");
  } else if (*prove && (queryHeight == 0 ? node_.height() : queryHeight) <= 1) {
    outcome.code = kCodeInvalidRequest;
    outcome.codespace = std::string(kCodespaceSdk);
    outcome.log = fmt::format(
        "cannot query with proof when height <= 1; please provide a valid height: invalid request");
  } else if (path->starts_with("/store/")) {
    // Raw store reads are where a real node attaches merkle proofs (proofOps); the devnet has no
    // IAVL store to read or prove, and says so rather than answering without a proof.
    outcome.code = kCodeUnknownRequest;
    outcome.codespace = std::string(kCodespaceSdk);
    outcome.log = fmt::format(
        "pocket-devnet serves no store queries ({}): it keeps no IAVL store, so it has neither raw "
        "keys nor merkle proofs; use the gRPC query paths: unknown request",
        *path);
    outcome.height = queryHeight == 0 ? node_.height() : queryHeight;
  } else {
    outcome = node_.query(*path, *data, queryHeight);
  }
  Json response = Json::object();
  response["code"] = outcome.code;
  response["log"] = outcome.log;
  response["info"] = "";
  response["index"] = "0";
  response["key"] = nullptr;
  response["value"] = base64OrNull(outcome.value);
  response["proofOps"] = nullptr;
  response["height"] = std::to_string(outcome.height);
  response["codespace"] = outcome.codespace;
  Json out = Json::object();
  out["response"] = std::move(response);
  return out;
}

RpcOutcome RpcMethods::block(const RpcParams& params) const {
  auto height = heightArgument(params);
  if (auto* error = std::get_if<RpcError>(&height)) return *error;
  const Block* b = node_.block(std::get<std::int64_t>(height));
  Json out = Json::object();
  out["block_id"] = blockIdJson(b->hash, 1, b->partSetHash);
  out["block"] = blockJson(*b, node_.proposerAddress());
  return out;
}

RpcOutcome RpcMethods::blockByHash(const RpcParams& params) const {
  auto hash = params.bytesParam("hash");
  if (!hash) return invalidParams(hash.error());
  const Block* b = node_.blockByHash(*hash);
  Json out = Json::object();
  if (b == nullptr) {
    out["block_id"] = blockIdJson({}, 0, {});
    out["block"] = nullptr;
    return out;
  }
  out["block_id"] = blockIdJson(b->hash, 1, b->partSetHash);
  out["block"] = blockJson(*b, node_.proposerAddress());
  return out;
}

RpcOutcome RpcMethods::header(const RpcParams& params) const {
  auto height = heightArgument(params);
  if (auto* error = std::get_if<RpcError>(&height)) return *error;
  Json out = Json::object();
  out["header"] = headerJson(node_.block(std::get<std::int64_t>(height))->header);
  return out;
}

RpcOutcome RpcMethods::blockchain(const RpcParams& params) const {
  auto minParam = params.int64Param("minHeight");
  if (!minParam) return invalidParams(minParam.error());
  auto maxParam = params.int64Param("maxHeight");
  if (!maxParam) return invalidParams(maxParam.error());
  constexpr std::int64_t kLimit = 20;
  std::int64_t latest = node_.height();
  std::int64_t minHeight = minParam->value_or(0);
  std::int64_t maxHeight = maxParam->value_or(0);
  if (minHeight < 0 || maxHeight < 0) return internal("heights must be non-negative");
  if (minHeight == 0) minHeight = 1;
  if (maxHeight == 0) maxHeight = latest;
  maxHeight = std::min(latest, maxHeight);
  minHeight = std::max<std::int64_t>(1, minHeight);
  minHeight = std::max(minHeight, maxHeight - kLimit + 1);
  if (minHeight > maxHeight) {
    return internal(
        fmt::format("min height {} can't be greater than max height {}", minHeight, maxHeight));
  }
  Json metas = Json::array();
  for (std::int64_t h = maxHeight; h >= minHeight; --h)
    metas.push_back(blockMetaJson(*node_.block(h)));
  Json out = Json::object();
  out["last_height"] = std::to_string(latest);
  out["block_metas"] = std::move(metas);
  return out;
}

Json RpcMethods::finalizeBlockJson(const Block& b) const {
  Json out = Json::object();
  if (!b.finalizeBlockEvents.empty()) out["events"] = eventsJson(b.finalizeBlockEvents);
  if (!b.txResults.empty()) out["tx_results"] = txResultsJson(b.txResults);
  out["app_hash"] = util::toBase64(b.appHashAfter);
  return out;
}

RpcOutcome RpcMethods::blockResults(const RpcParams& params) const {
  auto height = heightArgument(params);
  if (auto* error = std::get_if<RpcError>(&height)) return *error;
  const Block* b = node_.block(std::get<std::int64_t>(height));
  Json out = Json::object();
  out["height"] = std::to_string(b->header.height);
  out["txs_results"] = b->txResults.empty() ? Json(nullptr) : txResultsJson(b->txResults);
  out["finalize_block_events"] =
      b->finalizeBlockEvents.empty() ? Json(nullptr) : eventsJson(b->finalizeBlockEvents);
  out["validator_updates"] = nullptr;
  out["consensus_param_updates"] = nullptr;
  out["app_hash"] = util::toBase64(b->appHashAfter);
  return out;
}

RpcOutcome RpcMethods::broadcast(const RpcParams& params, bool sync) {
  auto bytes = params.bytesParam("tx");
  if (!bytes) return invalidParams(bytes.error());
  auto answer = node_.checkTx(*bytes, true);
  if (auto* refusal = std::get_if<BroadcastRefusal>(&answer)) return internal(refusal->text);
  const CheckTxAnswer& checked = std::get<CheckTxAnswer>(answer);
  Json out = Json::object();
  out["code"] = sync ? checked.result.code : 0;
  out["data"] = sync ? upperHex(checked.result.data) : "";
  out["log"] = sync ? checked.result.log : "";
  out["codespace"] = sync ? checked.result.codespace : "";
  out["hash"] = checked.hash;
  return out;
}

RpcOutcome RpcMethods::broadcastCommit(const RpcParams& params) {
  auto bytes = params.bytesParam("tx");
  if (!bytes) return invalidParams(bytes.error());
  auto answer = node_.checkTx(*bytes, true);
  if (auto* refusal = std::get_if<BroadcastRefusal>(&answer)) {
    return internal("error on broadcastTxCommit: " + refusal->text);
  }
  const CheckTxAnswer& checked = std::get<CheckTxAnswer>(answer);
  Json checkTx = execTxResultJson(checked.result);
  if (checked.result.code != 0) {
    // Refused by CheckTx: answered at once, with an empty tx_result and height 0.
    Json out = Json::object();
    out["check_tx"] = std::move(checkTx);
    out["tx_result"] = execTxResultJson(ExecTxResult{});
    out["hash"] = checked.hash;
    out["height"] = "0";
    return out;
  }
  return AwaitTx{checked.hash, std::move(checkTx)};
}

RpcOutcome RpcMethods::control(std::string_view action,
                               const std::map<std::string, std::string>& arguments) {
  auto unexpected = [&](const std::set<std::string>& allowed) -> std::optional<RpcError> {
    for (const auto& [key, value] : arguments) {
      if (!allowed.contains(key)) {
        return RpcError{kRpcInvalidParams,
                        fmt::format("/devnet/{}: unknown argument '{}'", action, key)};
      }
    }
    return std::nullopt;
  };
  // ?blocks=N: a count from 0 to 100000; `fallback` when absent (nullopt: required).
  auto blockCount = [&](std::optional<std::int64_t> fallback) -> util::Result<std::int64_t> {
    auto it = arguments.find("blocks");
    if (it == arguments.end() && fallback) return *fallback;
    std::int64_t blocks = -1;
    if (it != arguments.end()) {
      const std::string& text = it->second;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), blocks);
      if (ec != std::errc() || ptr != text.data() + text.size()) blocks = -1;
    }
    if (blocks < 0 || blocks > 100000) {
      return util::makeError(
          "bad_argument",
          fmt::format("/devnet/{}: blocks must be a count of blocks from 0 to 100000 (?blocks=N)",
                      action));
    }
    return blocks;
  };
  if (action == "flush-mempool") {
    if (auto bad = unexpected({"blocks"})) return *bad;
    auto blocks = blockCount(std::int64_t{0});
    if (!blocks) return RpcError{kRpcInvalidParams, blocks.error().message};
    Json out = Json::object();
    out["dropped"] = node_.flushMempool();
    node_.flushBeforeBlocks(*blocks);
    out["height"] = node_.height();
    out["flush_before_blocks"] = *blocks;
    return out;
  }
  if (action == "rpc-outage") {
    if (auto bad = unexpected({"blocks"})) return *bad;
    auto blocks = blockCount(std::nullopt);
    if (!blocks) return RpcError{kRpcInvalidParams, blocks.error().message};
    outageUntil_ = node_.height() + *blocks;
    Json out = Json::object();
    out["from_height"] = node_.height();
    out["until_height"] = outageUntil_;
    return out;
  }
  return RpcError{kRpcMethodNotFound,
                  fmt::format("/devnet/{}: unknown action (flush-mempool, rpc-outage)", action)};
}

RpcOutcome RpcMethods::checkTx(const RpcParams& params) {
  auto bytes = params.bytesParam("tx");
  if (!bytes) return invalidParams(bytes.error());
  auto answer = node_.checkTx(*bytes, false);
  if (auto* refusal = std::get_if<BroadcastRefusal>(&answer)) return internal(refusal->text);
  return execTxResultJson(std::get<CheckTxAnswer>(answer).result);
}

Json RpcMethods::resultTx(const Block& b, std::uint32_t index) const {
  Json out = Json::object();
  out["hash"] = protocol::txHash(b.txs[index]);
  out["height"] = std::to_string(b.header.height);
  out["index"] = index;
  out["tx_result"] = execTxResultJson(b.txResults[index]);
  out["tx"] = util::toBase64(b.txs[index]);
  return out;
}

RpcOutcome RpcMethods::tx(const RpcParams& params) const {
  auto hash = params.bytesParam("hash");
  if (!hash) return invalidParams(hash.error());
  auto prove = params.boolParam("prove");
  if (!prove) return invalidParams(prove.error());
  auto location = node_.findTx(*hash);
  if (!location) return internal(fmt::format("tx ({}) not found", upperHex(*hash)));
  return resultTx(*node_.block(location->height), location->index);
}

RpcOutcome RpcMethods::txSearch(const RpcParams& params) const {
  auto text = params.stringParam("query");
  if (!text) return invalidParams(text.error());
  auto prove = params.boolParam("prove");
  if (!prove) return invalidParams(prove.error());
  auto page = params.int64Param("page");
  if (!page) return invalidParams(page.error());
  auto perPageParam = params.int64Param("per_page");
  if (!perPageParam) return invalidParams(perPageParam.error());
  auto orderBy = params.stringParam("order_by");
  if (!orderBy) return invalidParams(orderBy.error());

  if (text->size() > kMaxQueryLength) return internal("maximum query length exceeded");
  auto query = EventQuery::parse(*text);
  if (!query) return internal(query.error().message);
  if (!orderBy->empty() && *orderBy != "asc" && *orderBy != "desc") {
    return internal("expected order_by to be either `asc` or `desc` or empty");
  }
  std::vector<std::pair<std::int64_t, std::uint32_t>> found;
  for (std::int64_t h = 1; h <= node_.height(); ++h) {
    const Block* b = node_.block(h);
    for (std::uint32_t i = 0; i < b->txs.size(); ++i) {
      EventMap events = txEventMap(b->txResults[i], protocol::txHash(b->txs[i]), h);
      if (query->matches(events)) found.emplace_back(h, i);
    }
  }
  if (*orderBy == "desc") std::reverse(found.begin(), found.end());
  std::int64_t perPage = perPageParam->value_or(30);
  if (perPage < 1) perPage = 30;
  if (perPage > 100) perPage = 100;
  std::int64_t total = static_cast<std::int64_t>(found.size());
  std::int64_t pages = total == 0 ? 1 : (total - 1) / perPage + 1;
  std::int64_t current = page->value_or(1);
  if (page->has_value() && (current <= 0 || current > pages)) {
    return internal(fmt::format("page should be within range expected range: [1, {}], given {}",
                                pages, current));
  }
  Json txs = Json::array();
  std::int64_t skip = (current - 1) * perPage;
  for (std::int64_t i = skip; i < std::min(total, skip + perPage); ++i) {
    auto [h, index] = found[static_cast<std::size_t>(i)];
    txs.push_back(resultTx(*node_.block(h), index));
  }
  Json out = Json::object();
  out["txs"] = std::move(txs);
  out["total_count"] = std::to_string(total);
  return out;
}

std::vector<PublishedEvent> RpcMethods::blockEvents(const Block& b) const {
  std::vector<PublishedEvent> out;
  {
    PublishedEvent event;
    event.events["tm.event"].push_back("NewBlock");
    addEvents(event.events, b.finalizeBlockEvents);
    Json value = Json::object();
    value["block"] = blockJson(b, node_.proposerAddress());
    value["block_id"] = blockIdJson(b.hash, 1, b.partSetHash);
    value["result_finalize_block"] = finalizeBlockJson(b);
    event.data = publishedData("tendermint/event/NewBlock", std::move(value));
    out.push_back(std::move(event));
  }
  {
    PublishedEvent event;
    event.events["tm.event"].push_back("NewBlockHeader");
    Json value = Json::object();
    value["header"] = headerJson(b.header);
    event.data = publishedData("tendermint/event/NewBlockHeader", std::move(value));
    out.push_back(std::move(event));
  }
  {
    PublishedEvent event;
    event.events["tm.event"].push_back("NewBlockEvents");
    addEvents(event.events, b.finalizeBlockEvents);
    Json value = Json::object();
    value["height"] = std::to_string(b.header.height);
    value["events"] = eventsJson(b.finalizeBlockEvents);
    value["num_txs"] = std::to_string(b.txs.size());
    event.data = publishedData("tendermint/event/NewBlockEvents", std::move(value));
    out.push_back(std::move(event));
  }
  for (std::uint32_t i = 0; i < b.txs.size(); ++i) {
    PublishedEvent event;
    event.events = txEventMap(b.txResults[i], protocol::txHash(b.txs[i]), b.header.height);
    Json txResult = Json::object();
    txResult["height"] = std::to_string(b.header.height);
    if (i != 0) txResult["index"] = i;
    txResult["tx"] = util::toBase64(b.txs[i]);
    txResult["result"] = execTxResultJson(b.txResults[i]);
    Json value = Json::object();
    value["TxResult"] = std::move(txResult);
    event.data = publishedData("tendermint/event/Tx", std::move(value));
    out.push_back(std::move(event));
  }
  return out;
}

Json RpcMethods::devnetState() {
  Json out = Json::parse(node_.state().stateJson().dump());
  const Block* latest = node_.latestBlock();
  out["chain_id"] = node_.chainId();
  out["height"] = node_.height();
  out["latest_block_hash"] = latest ? upperHex(latest->hash) : "";
  out["mempool_txs"] = node_.mempoolSize();
  return out;
}

}  // namespace pocket::devnet
