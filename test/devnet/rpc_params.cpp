#include "test/devnet/rpc_params.h"

#include <charconv>
#include <regex>

#include <fmt/format.h>

#include "common/util/base64.h"
#include "common/util/hex.h"

namespace pocket::devnet {
namespace {

// Go's name for a JSON value's kind in "json: cannot unmarshal <kind> into Go value of type T".
std::string jsonKind(const nlohmann::json& value) {
  if (value.is_number()) return "number";
  if (value.is_string()) return "string";
  if (value.is_boolean()) return "bool";
  if (value.is_array()) return "array";
  if (value.is_object()) return "object";
  return "null";
}

// strconv.ParseInt(s, 10, 64) with Go's error texts.
util::Result<std::int64_t> parseGoInt64(const std::string& s) {
  std::int64_t value = 0;
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  if (!s.empty() && s[0] == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (s.empty() || ptr != end || (ec != std::errc() && ec != std::errc::result_out_of_range) ||
      (s[0] == '+' && s.size() > 1 && s[1] == '-')) {
    return util::makeError(std::string(kErrorBadParams),
                           fmt::format("strconv.ParseInt: parsing \"{}\": invalid syntax", s));
  }
  if (ec == std::errc::result_out_of_range) {
    return util::makeError(std::string(kErrorBadParams),
                           fmt::format("strconv.ParseInt: parsing \"{}\": value out of range", s));
  }
  return value;
}

// encoding/hex.DecodeString with Go's error texts.
util::Result<util::Bytes> goHexDecode(std::string_view text) {
  auto digit = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!digit(text[i])) {
      // Go reports the first bad byte of each pair as U+XXXX 'c'.
      return util::makeError(std::string(kErrorBadParams),
                             fmt::format("encoding/hex: invalid byte: U+{:04X} '{}'",
                                         static_cast<unsigned char>(text[i]), text[i]));
    }
  }
  if (text.size() % 2 != 0) {
    return util::makeError(std::string(kErrorBadParams), "encoding/hex: odd length hex string");
  }
  auto bytes = util::fromHex(text);
  if (!bytes) return util::makeError(std::string(kErrorBadParams), bytes.error().message);
  return std::move(*bytes);
}

// encoding/base64 StdEncoding with Go's error text.
util::Result<util::Bytes> goBase64Decode(const std::string& text) {
  auto bytes = util::fromBase64(text);
  if (bytes) return std::move(*bytes);
  // Find the first position the decoder stops at, as Go reports it.
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t at = 0;
  while (at < text.size() && kAlphabet.find(text[at]) != std::string_view::npos) ++at;
  if (at == text.size() || text[at] == '=') at = std::min(at, text.size() - (text.empty() ? 0 : 1));
  return util::makeError(std::string(kErrorBadParams),
                         fmt::format("illegal base64 data at input byte {}", at));
}

bool isIntString(const std::string& s) {
  static const std::regex kInt("^-?[0-9]+$");
  return std::regex_match(s, kInt);
}

bool isQuoted(const std::string& s) {
  return s.size() >= 2 && s.front() == '"' && s.back() == '"';
}

bool isHexPrefixed(const std::string& s) {
  return s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

}  // namespace

util::Result<RpcParams> RpcParams::fromJson(const nlohmann::json& params,
                                            std::span<const std::string_view> names) {
  RpcParams out;
  if (params.is_null()) return out;
  if (params.is_object()) {
    for (auto it = params.begin(); it != params.end(); ++it) out.named_[it.key()] = it.value();
    return out;
  }
  if (params.is_array()) {
    if (params.size() != names.size()) {
      std::string wanted;
      for (auto name : names) wanted += (wanted.empty() ? "" : " ") + std::string(name);
      return util::makeError(
          std::string(kErrorBadParams),
          fmt::format("error converting json params to arguments: expected {} parameters ([{}]), "
                      "got {} ({})",
                      names.size(), wanted, params.size(), params.dump()));
    }
    for (std::size_t i = 0; i < names.size(); ++i) out.named_[std::string(names[i])] = params[i];
    return out;
  }
  return util::makeError(std::string(kErrorBadParams),
                         fmt::format("error converting json params to arguments: unknown type for "
                                     "JSON params: {}. Expected map or array",
                                     jsonKind(params)));
}

RpcParams RpcParams::fromUri(std::map<std::string, std::string> arguments) {
  RpcParams out;
  out.fromUri_ = true;
  out.uri_ = std::move(arguments);
  return out;
}

util::Error RpcParams::fail(const std::string& why) const {
  return util::makeError(
      std::string(kErrorBadParams),
      fmt::format("error converting {} params to arguments: {}", fromUri_ ? "http" : "json", why));
}

const nlohmann::json* RpcParams::jsonValue(std::string_view name) const {
  auto it = named_.find(std::string(name));
  if (it == named_.end() || it->is_null()) return nullptr;
  return &*it;
}

const std::string* RpcParams::uriValue(std::string_view name) const {
  auto it = uri_.find(std::string(name));
  if (it == uri_.end() || it->second.empty()) return nullptr;
  return &it->second;
}

util::Result<std::optional<std::int64_t>> RpcParams::int64Param(std::string_view name) const {
  std::string text;
  if (fromUri_) {
    const std::string* raw = uriValue(name);
    if (raw == nullptr) return std::optional<std::int64_t>{};
    if (isIntString(*raw)) {
      text = *raw;
    } else if (isHexPrefixed(*raw)) {
      return fail("got a hex string arg, but expected 'int64'");
    } else if (isQuoted(*raw)) {
      text = raw->substr(1, raw->size() - 2);
    } else {
      return fail(fmt::format("invalid 64-bit integer encoding \"{}\", expected string", *raw));
    }
  } else {
    const nlohmann::json* value = jsonValue(name);
    if (value == nullptr) return std::optional<std::int64_t>{};
    if (!value->is_string()) {
      return fail(
          fmt::format("invalid 64-bit integer encoding \"{}\", expected string", value->dump()));
    }
    text = value->get<std::string>();
  }
  auto parsed = parseGoInt64(text);
  if (!parsed) return fail(parsed.error().message);
  return std::optional<std::int64_t>{*parsed};
}

util::Result<std::string> RpcParams::stringParam(std::string_view name) const {
  if (fromUri_) {
    const std::string* raw = uriValue(name);
    if (raw == nullptr) return std::string();
    if (isHexPrefixed(*raw)) {
      auto bytes = goHexDecode(std::string_view(*raw).substr(2));
      if (!bytes) return fail(bytes.error().message);
      return std::string(util::asChars(*bytes));
    }
    auto parsed = nlohmann::json::parse(*raw, nullptr, false);
    if (parsed.is_discarded()) {
      return fail(
          fmt::format("invalid character '{}' looking for beginning of value", raw->front()));
    }
    if (!parsed.is_string()) {
      return fail(
          fmt::format("json: cannot unmarshal {} into Go value of type string", jsonKind(parsed)));
    }
    return parsed.get<std::string>();
  }
  const nlohmann::json* value = jsonValue(name);
  if (value == nullptr) return std::string();
  if (!value->is_string()) {
    return fail(
        fmt::format("json: cannot unmarshal {} into Go value of type string", jsonKind(*value)));
  }
  return value->get<std::string>();
}

util::Result<util::Bytes> RpcParams::hexBytesParam(std::string_view name) const {
  if (fromUri_) return bytesParam(name);
  const nlohmann::json* value = jsonValue(name);
  if (value == nullptr) return util::Bytes{};
  if (!value->is_string()) return fail(fmt::format("invalid hex string: {}", value->dump()));
  auto bytes = goHexDecode(value->get_ref<const std::string&>());
  if (!bytes) return fail(bytes.error().message);
  return std::move(*bytes);
}

util::Result<util::Bytes> RpcParams::bytesParam(std::string_view name) const {
  if (fromUri_) {
    const std::string* raw = uriValue(name);
    if (raw == nullptr) return util::Bytes{};
    if (isHexPrefixed(*raw)) {
      auto bytes = goHexDecode(std::string_view(*raw).substr(2));
      if (!bytes) return fail(bytes.error().message);
      return std::move(*bytes);
    }
    if (isQuoted(*raw)) {
      auto parsed = nlohmann::json::parse(*raw, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_string()) {
        return fail(fmt::format("invalid character in string {}", *raw));
      }
      return util::toBytes(parsed.get_ref<const std::string&>());
    }
    // Anything else is read as JSON for a []byte: base64 inside quotes, so bare text fails.
    return fail(fmt::format("invalid character '{}' looking for beginning of value", raw->front()));
  }
  const nlohmann::json* value = jsonValue(name);
  if (value == nullptr) return util::Bytes{};
  if (!value->is_string()) {
    return fail(
        fmt::format("json: cannot unmarshal {} into Go value of type []uint8", jsonKind(*value)));
  }
  auto bytes = goBase64Decode(value->get<std::string>());
  if (!bytes) return fail(bytes.error().message);
  return std::move(*bytes);
}

util::Result<bool> RpcParams::boolParam(std::string_view name) const {
  if (fromUri_) {
    const std::string* raw = uriValue(name);
    if (raw == nullptr) return false;
    if (*raw == "true") return true;
    if (*raw == "false") return false;
    auto parsed = nlohmann::json::parse(*raw, nullptr, false);
    if (parsed.is_discarded()) {
      return fail(
          fmt::format("invalid character '{}' looking for beginning of value", raw->front()));
    }
    return fail(
        fmt::format("json: cannot unmarshal {} into Go value of type bool", jsonKind(parsed)));
  }
  const nlohmann::json* value = jsonValue(name);
  if (value == nullptr) return false;
  if (!value->is_boolean()) {
    return fail(
        fmt::format("json: cannot unmarshal {} into Go value of type bool", jsonKind(*value)));
  }
  return value->get<bool>();
}

}  // namespace pocket::devnet
