#include "common/chain/json_reader.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "common/chain/node_client.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "common/util/log.h"

namespace pocket::chain::json {

namespace {

const json& nullValue() {
  static const json kNull;
  return kNull;
}

std::string_view typeName(const json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

util::Error wrongType(const At& at, std::string_view expected) {
  return malformed(at.path, fmt::format("expected {}, got {}", expected, typeName(at.value)));
}

template <class T>
bool parseDecimal(std::string_view text, T& out) {
  if (text.empty()) return false;
  if (text.size() > 1 && text[0] == '0') return false;  // Go never writes leading zeros
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

// Maps the text of a JSON-RPC error's `data` to the codes callers act on (docs/chain-client.md).
std::string_view rpcErrorCode(std::string_view data) {
  if (data.find("tx already exists in cache") != std::string_view::npos) return kErrTxInCache;
  if (data.starts_with("tx (") && data.ends_with(") not found")) return kErrTxNotFound;
  if (data.find("must be less than or equal to the current blockchain height") !=
          std::string_view::npos ||
      data.find("is not available, lowest height is") != std::string_view::npos ||
      data.find("height must be greater than 0") != std::string_view::npos) {
    return kErrHeightUnavailable;
  }
  return kErrRpc;
}

}  // namespace

At At::operator[](std::string_view key) const {
  if (value.is_object()) {
    auto it = value.find(key);
    if (it != value.end()) return At{*it, path + "." + std::string(key)};
  }
  return At{nullValue(), path + "." + std::string(key)};
}

At At::operator[](std::size_t index) const {
  std::string childPath = fmt::format("{}[{}]", path, index);
  if (value.is_array() && index < value.size()) return At{value[index], std::move(childPath)};
  return At{nullValue(), std::move(childPath)};
}

util::Error malformed(const std::string& path, std::string_view what) {
  return util::makeError(std::string(kErrMalformed), fmt::format("{}: {}", path, what));
}

util::Status requireObject(const At& at) {
  if (!at.value.is_object()) return wrongType(at, "an object");
  return util::Ok{};
}

util::Result<At> member(const At& at, std::string_view key) {
  if (!at.value.is_object()) return wrongType(at, "an object");
  auto it = at.value.find(key);
  if (it == at.value.end()) {
    return malformed(at.path + "." + std::string(key), "missing");
  }
  return At{*it, at.path + "." + std::string(key)};
}

util::Result<std::string> string(const At& at) {
  if (!at.value.is_string()) return wrongType(at, "a string");
  return at.value.get<std::string>();
}

util::Result<bool> boolean(const At& at) {
  if (!at.value.is_boolean()) return wrongType(at, "true or false");
  return at.value.get<bool>();
}

util::Result<std::int64_t> int64String(const At& at) {
  if (!at.value.is_string()) return wrongType(at, "an int64 as a decimal string");
  const auto& text = at.value.get_ref<const std::string&>();
  std::int64_t out = 0;
  std::string_view view(text);
  bool ok = view.starts_with('-') ? (view.size() > 1 && view[1] != '0' && parseDecimal(view, out))
                                  : parseDecimal(view, out);
  if (!ok) return malformed(at.path, fmt::format("\"{}\" is not a decimal int64", text));
  return out;
}

util::Result<std::uint64_t> uint64String(const At& at) {
  if (!at.value.is_string()) return wrongType(at, "a uint64 as a decimal string");
  const auto& text = at.value.get_ref<const std::string&>();
  std::uint64_t out = 0;
  if (!parseDecimal(std::string_view(text), out)) {
    return malformed(at.path, fmt::format("\"{}\" is not a decimal uint64", text));
  }
  return out;
}

util::Result<std::uint32_t> uint32Number(const At& at) {
  if (!at.value.is_number_integer()) return wrongType(at, "an integer number");
  if (at.value.is_number_unsigned()) {
    auto v = at.value.get<std::uint64_t>();
    if (v <= std::numeric_limits<std::uint32_t>::max()) return static_cast<std::uint32_t>(v);
  }
  return malformed(at.path, fmt::format("{} is not a uint32", at.value.dump()));
}

util::Result<util::Bytes> hexBytes(const At& at) {
  if (!at.value.is_string()) return wrongType(at, "a hex string");
  const auto& text = at.value.get_ref<const std::string&>();
  if (text.starts_with("0x") || text.starts_with("0X")) {
    return malformed(at.path, "hex with a 0x prefix");
  }
  auto bytes = util::fromHex(text);
  if (!bytes) return malformed(at.path, bytes.error().message);
  return std::move(*bytes);
}

util::Result<util::Bytes> base64Bytes(const At& at) {
  if (at.value.is_null()) return util::Bytes{};
  if (!at.value.is_string()) return wrongType(at, "a base64 string or null");
  auto bytes = util::fromBase64(at.value.get_ref<const std::string&>());
  if (!bytes) return malformed(at.path, bytes.error().message);
  return std::move(*bytes);
}

util::Result<protocol::Timestamp> time(const At& at) {
  if (!at.value.is_string()) return wrongType(at, "an RFC 3339 time string");
  auto parsed = protocol::parseRfc3339(at.value.get_ref<const std::string&>());
  if (!parsed) return malformed(at.path, parsed.error().message);
  return *parsed;
}

util::Result<Reply> parseReply(std::string_view text) {
  Reply reply{json::parse(text, nullptr, /*allow_exceptions=*/false)};
  const json& doc = reply.document;
  if (doc.is_discarded()) {
    return malformed("$", fmt::format("the reply ({} bytes) is not JSON", text.size()));
  }
  At root{doc, "$"};
  if (!doc.is_object()) return wrongType(root, "a JSON-RPC object");
  auto version = doc.find("jsonrpc");
  if (version == doc.end() || !version->is_string() || *version != "2.0") {
    return malformed("jsonrpc", "missing or not \"2.0\"");
  }
  auto error = doc.find("error");
  if (error != doc.end() && !error->is_null()) {
    At at{*error, "error"};
    if (!error->is_object()) return wrongType(at, "a JSON-RPC error object");
    auto code = error->find("code");
    if (code == error->end() || !code->is_number_integer()) {
      return malformed("error.code", "missing or not an integer");
    }
    auto message = at["message"];
    auto data = at["data"];
    std::string messageText = message.value.is_string() ? message.value.get<std::string>() : "";
    std::string dataText = data.value.is_string() ? data.value.get<std::string>()
                           : data.value.is_null() ? ""
                                                  : data.value.dump();
    return util::makeError(
        std::string(rpcErrorCode(dataText)),
        fmt::format("rpc error code={} message={} data={}", code->get<std::int64_t>(),
                    util::quoteLogValue(messageText), util::quoteLogValue(dataText)));
  }
  auto result = doc.find("result");
  if (result == doc.end()) return malformed("result", "missing (and no error object)");
  if (!result->is_object()) return wrongType(At{*result, "result"}, "an object");
  return reply;
}

util::Result<protocol::BlockId> blockId(const At& at) {
  protocol::BlockId id;
  auto hash = member(at, "hash");
  if (!hash) return hash.error();
  auto hashBytes = hexBytes(*hash);
  if (!hashBytes) return hashBytes.error();
  id.hash = std::move(*hashBytes);
  auto parts = member(at, "parts");
  if (!parts) return parts.error();
  auto total = member(*parts, "total");
  if (!total) return total.error();
  auto totalValue = uint32Number(*total);
  if (!totalValue) return totalValue.error();
  id.partSetTotal = *totalValue;
  auto partsHash = member(*parts, "hash");
  if (!partsHash) return partsHash.error();
  auto partsHashBytes = hexBytes(*partsHash);
  if (!partsHashBytes) return partsHashBytes.error();
  id.partSetHash = std::move(*partsHashBytes);
  return id;
}

util::Result<protocol::BlockHeader> header(const At& at) {
  if (auto ok = requireObject(at); !ok) return ok.error();
  protocol::BlockHeader h;
  auto version = member(at, "version");
  if (!version) return version.error();
  auto versionBlock = member(*version, "block");
  if (!versionBlock) return versionBlock.error();
  auto block = uint64String(*versionBlock);
  if (!block) return block.error();
  h.versionBlock = *block;
  At app = (*version)["app"];  // omitted when 0
  if (!app.value.is_null()) {
    auto appValue = uint64String(app);
    if (!appValue) return appValue.error();
    h.versionApp = *appValue;
  }
  auto chainId = member(at, "chain_id");
  if (!chainId) return chainId.error();
  auto chainIdText = string(*chainId);
  if (!chainIdText) return chainIdText.error();
  h.chainId = std::move(*chainIdText);
  auto height = member(at, "height");
  if (!height) return height.error();
  auto heightValue = int64String(*height);
  if (!heightValue) return heightValue.error();
  h.height = *heightValue;
  auto timeField = member(at, "time");
  if (!timeField) return timeField.error();
  auto timeValue = time(*timeField);
  if (!timeValue) return timeValue.error();
  h.time = *timeValue;
  auto last = member(at, "last_block_id");
  if (!last) return last.error();
  auto lastId = blockId(*last);
  if (!lastId) return lastId.error();
  h.lastBlockId = std::move(*lastId);
  struct HexField {
    const char* key;
    util::Bytes* out;
  };
  const HexField hexFields[] = {
      {"last_commit_hash", &h.lastCommitHash},   {"data_hash", &h.dataHash},
      {"validators_hash", &h.validatorsHash},    {"next_validators_hash", &h.nextValidatorsHash},
      {"consensus_hash", &h.consensusHash},      {"app_hash", &h.appHash},
      {"last_results_hash", &h.lastResultsHash}, {"evidence_hash", &h.evidenceHash},
      {"proposer_address", &h.proposerAddress},
  };
  for (const auto& field : hexFields) {
    auto value = member(at, field.key);
    if (!value) return value.error();
    auto bytes = hexBytes(*value);
    if (!bytes) return bytes.error();
    *field.out = std::move(*bytes);
  }
  return h;
}

}  // namespace pocket::chain::json
