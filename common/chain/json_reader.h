#pragma once
// Strict readers for CometBFT's JSON encodings (spec: int64/uint64 as decimal strings, int32 and
// uint32 as numbers, HexBytes as hex, []byte as standard base64 or null, times as RFC 3339).
// Every failure is a kErrMalformed error whose message starts with the
// JSON path of the offending value ("result.sync_info.latest_block_height: ...").
// Used inside pocket_chain; header() is also the project's one decoder of a CometBFT header object
// for other code that holds one (the devnet's tests decode the headers it serves with it).
// Pure functions, thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/protocol/block_header.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::chain::json {

using nlohmann::json;

// A value and the path that leads to it.
struct At {
  const json& value;
  std::string path;

  At operator[](std::string_view key) const;  // child (null when absent)
  At operator[](std::size_t index) const;     // element
};

util::Error malformed(const std::string& path, std::string_view what);

// Looks up a required member; kErrMalformed "<path>: missing" when absent or when `at` is no
// object.
util::Result<At> member(const At& at, std::string_view key);
util::Status requireObject(const At& at);

util::Result<std::string> string(const At& at);
util::Result<bool> boolean(const At& at);
// Decimal string only: a bare number is refused, as CometBFT never writes one.
util::Result<std::int64_t> int64String(const At& at);
util::Result<std::uint64_t> uint64String(const At& at);
// A JSON integer number (int32/uint32 fields).
util::Result<std::uint32_t> uint32Number(const At& at);
// Hex (either case); "" = empty.
util::Result<util::Bytes> hexBytes(const At& at);
// Standard base64; null = empty.
util::Result<util::Bytes> base64Bytes(const At& at);
util::Result<protocol::Timestamp> time(const At& at);

// The parsed reply and its `result` member, or the error object mapped to a chain error code.
struct Reply {
  json document;
};
util::Result<Reply> parseReply(std::string_view text);
// `result` of a parsed reply (the path is "result").
inline At result(const Reply& reply) {
  return At{reply.document["result"], "result"};
}

// `block.header` objects (block, NewBlock event).
util::Result<protocol::BlockHeader> header(const At& at);
util::Result<protocol::BlockId> blockId(const At& at);

}  // namespace pocket::chain::json

namespace pocket::chain {
struct Block;
// A `block_id` and a `block` object (the `block` reply, the NewBlock event) into a Block.
util::Result<Block> decodeBlockFromJson(const json::At& blockId, const json::At& block);
}  // namespace pocket::chain
