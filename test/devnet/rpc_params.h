#pragma once
// CometBFT JSON-RPC parameter decoding, as strict as the real node's (rpc/jsonrpc/server of
// CometBFT 0.38 with its amino-compatible JSON): in a POST body an int64 must be a decimal string,
// bytes are base64, hex bytes are hex without 0x, strings are JSON strings; in a URI (GET) integers
// are bare digits, strings are quoted or 0x-hex, bytes are 0x-hex or a quoted string.
//
// Value type. Pure; thread-safe. A decoding failure is a util::Error whose message is the text the
// real node puts in the `data` of its -32602 "Invalid params" error (prefix included).

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::devnet {

inline constexpr std::string_view kErrorBadParams = "bad_params";

// The parameters of one call, by name.
class RpcParams {
 public:
  // `params` of a JSON-RPC request: an object (named), an array (positional, in the order of
  // `names`), or null/absent. Error kErrorBadParams for any other shape or a wrong count.
  static util::Result<RpcParams> fromJson(const nlohmann::json& params,
                                          std::span<const std::string_view> names);
  // The query arguments of a URI request (already percent-decoded).
  static RpcParams fromUri(std::map<std::string, std::string> arguments);

  // Absent or null → nullopt (Go's nil pointer / zero value).
  util::Result<std::optional<std::int64_t>> int64Param(std::string_view name) const;
  util::Result<std::string> stringParam(std::string_view name) const;
  // bytes.HexBytes: hex without 0x in JSON, 0x-hex in a URI.
  util::Result<util::Bytes> hexBytesParam(std::string_view name) const;
  // []byte: base64 in JSON; 0x-hex or a quoted string in a URI.
  util::Result<util::Bytes> bytesParam(std::string_view name) const;
  util::Result<bool> boolParam(std::string_view name) const;

 private:
  util::Error fail(const std::string& why) const;
  const nlohmann::json* jsonValue(std::string_view name) const;
  const std::string* uriValue(std::string_view name) const;

  bool fromUri_ = false;
  nlohmann::json named_ = nlohmann::json::object();  // JSON form: name → value
  std::map<std::string, std::string> uri_;           // URI form: name → raw text
};

}  // namespace pocket::devnet
