#include "test/devnet/rpc_methods.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto/hash.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "test/devnet/event_query.h"

namespace pocket::devnet {
namespace {

using Names = std::vector<std::string_view>;

const std::map<std::string_view, Names>& methodTable() {
  // Argument names in rpc/core/routes.go order (positional params follow it).
  static const std::map<std::string_view, Names> kTable = {
      {"health", {}},
      {"status", {}},
      {"abci_info", {}},
      {"abci_query", {"path", "data", "height", "prove"}},
      {"block", {"height"}},
      {"block_by_hash", {"hash"}},
      {"header", {"height"}},
      {"blockchain", {"minHeight", "maxHeight"}},
      {"block_results", {"height"}},
      {"check_tx", {"tx"}},
      {"broadcast_tx_sync", {"tx"}},
      {"broadcast_tx_async", {"tx"}},
      {"tx", {"hash", "prove"}},
      {"tx_search", {"query", "prove", "page", "per_page", "order_by"}},
      {"num_unconfirmed_txs", {}},
  };
  return kTable;
}

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

void addEvents(EventMap& map, const std::vector<Event>& events) {
  for (const Event& event : events) {
    for (const EventAttribute& attribute : event.attributes) {
      map[event.type + "." + attribute.key].push_back(attribute.value);
    }
  }
}

}  // namespace

RpcMethods::RpcMethods(Node& node, std::string rpcAddress)
    : node_(node), rpcAddress_(std::move(rpcAddress)) {
}

std::optional<std::vector<std::string_view>> RpcMethods::argumentNames(
    std::string_view method) const {
  auto it = methodTable().find(method);
  if (it == methodTable().end()) return std::nullopt;
  return it->second;
}

RpcOutcome RpcMethods::call(std::string_view method, const RpcParams& params) {
  if (method == "health") return Json::object();
  if (method == "status") return status();
  if (method == "abci_info") return abciInfo();
  if (method == "abci_query") return abciQuery(params);
  if (method == "block") return block(params);
  if (method == "block_by_hash") return blockByHash(params);
  if (method == "header") return header(params);
  if (method == "blockchain") return blockchain(params);
  if (method == "block_results") return blockResults(params);
  if (method == "check_tx") return checkTx(params);
  if (method == "broadcast_tx_sync") return broadcast(params, true);
  if (method == "broadcast_tx_async") return broadcast(params, false);
  if (method == "tx") return tx(params);
  if (method == "tx_search") return txSearch(params);
  if (method == "num_unconfirmed_txs") {
    Json out = Json::object();
    out["n_txs"] = std::to_string(node_.mempoolSize());
    out["total"] = std::to_string(node_.mempoolSize());
    out["total_bytes"] = "0";
    out["txs"] = nullptr;
    return out;
  }
  return RpcError{kRpcMethodNotFound, ""};
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
  auto requested = params.int64Param("height");
  if (!requested) return invalidParams(requested.error());
  auto height = resolveHeight(*requested);
  if (!height) return internal(height.error().message);
  const Block* b = node_.block(*height);
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
  auto requested = params.int64Param("height");
  if (!requested) return invalidParams(requested.error());
  auto height = resolveHeight(*requested);
  if (!height) return internal(height.error().message);
  Json out = Json::object();
  out["header"] = headerJson(node_.block(*height)->header);
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
  if (!b.finalizeBlockEvents.empty()) {
    Json events = Json::array();
    for (const Event& event : b.finalizeBlockEvents) events.push_back(eventJson(event));
    out["events"] = std::move(events);
  }
  if (!b.txResults.empty()) {
    Json results = Json::array();
    for (const ExecTxResult& result : b.txResults) results.push_back(execTxResultJson(result));
    out["tx_results"] = std::move(results);
  }
  out["app_hash"] = util::toBase64(b.appHashAfter);
  return out;
}

RpcOutcome RpcMethods::blockResults(const RpcParams& params) const {
  auto requested = params.int64Param("height");
  if (!requested) return invalidParams(requested.error());
  auto height = resolveHeight(*requested);
  if (!height) return internal(height.error().message);
  const Block* b = node_.block(*height);
  Json out = Json::object();
  out["height"] = std::to_string(*height);
  if (b->txResults.empty()) {
    out["txs_results"] = nullptr;
  } else {
    Json results = Json::array();
    for (const ExecTxResult& result : b->txResults) results.push_back(execTxResultJson(result));
    out["txs_results"] = std::move(results);
  }
  if (b->finalizeBlockEvents.empty()) {
    out["finalize_block_events"] = nullptr;
  } else {
    Json events = Json::array();
    for (const Event& event : b->finalizeBlockEvents) events.push_back(eventJson(event));
    out["finalize_block_events"] = std::move(events);
  }
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
    Json events = Json::array();
    for (const Event& e : b.finalizeBlockEvents) events.push_back(eventJson(e));
    Json value = Json::object();
    value["height"] = std::to_string(b.header.height);
    value["events"] = std::move(events);
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
