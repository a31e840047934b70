#pragma once
// The JSON CometBFT 0.38 writes for blocks, headers, results and events (docs/chain-client.md):
// 64-bit integers as decimal strings, 32-bit ones as numbers, hashes as uppercase hex, []byte as
// base64, times as RFC 3339 with trailing zeros trimmed, ABCI results in jsonpb form with every
// field.
//
// Pure functions; thread-safe. Objects keep CometBFT's field order.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/protocol/block_header.h"
#include "common/util/bytes.h"
#include "test/devnet/block.h"
#include "test/devnet/event_query.h"

namespace pocket::devnet {

using Json = nlohmann::ordered_json;

std::string upperHex(util::ByteSpan bytes);
// RFC 3339, UTC, 0-9 fractional digits with trailing zeros trimmed ("2026-01-01T00:01:31Z").
std::string rfc3339(const protocol::Timestamp& time);
// []byte: base64, null when empty.
Json base64OrNull(util::ByteSpan bytes);

Json blockIdJson(util::ByteSpan hash, std::uint32_t partsTotal, util::ByteSpan partsHash);
Json headerJson(const protocol::BlockHeader& header);
// {"header","data","evidence","last_commit"}; last_commit is the fake single-validator commit of
// the previous block (its id is header.last_block_id).
Json blockJson(const Block& block, const util::Bytes& proposerAddress);
Json eventJson(const Event& event);
// abci.ExecTxResult in jsonpb form (EmitDefaults, enums as ints).
Json execTxResultJson(const ExecTxResult& result);
// {"block_id","block_size","header","num_txs"} as `blockchain` lists blocks.
Json blockMetaJson(const Block& block);

// The attribute map subscriptions and tx_search match against: "<type>.<key>" → values, plus
// tm.event='Tx', tx.hash and tx.height.
EventMap txEventMap(const ExecTxResult& result, const std::string& txHashHex, std::int64_t height);

}  // namespace pocket::devnet
