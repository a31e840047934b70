#pragma once
// The blocks the devnet makes, as CometBFT holds them: a header hashed as block_header.h does, the
// txs in mempool arrival order, their execution results and the finalize-block events, plus the
// fake single-validator commit of the previous block.
//
// Value types; no behaviour beyond the hashes below (pure, thread-safe). Events are the state
// machine's (test/devnet/state/chain_state.h); every attribute is indexed.

#include <cstdint>
#include <string>
#include <vector>

#include "common/crypto/hash.h"
#include "common/protocol/block_header.h"
#include "common/util/bytes.h"
#include "test/devnet/state/chain_state.h"

namespace pocket::devnet {

// abci.ExecTxResult (also the shape of a CheckTx answer, without events).
struct ExecTxResult {
  std::uint32_t code = 0;
  util::Bytes data;
  std::string log;
  std::string info;
  std::int64_t gasWanted = 0;
  std::int64_t gasUsed = 0;
  std::vector<Event> events;
  std::string codespace;
};

struct Block {
  protocol::BlockHeader header;
  crypto::Hash32 hash{};    // headerHash(header): block_id.hash
  util::Bytes partSetHash;  // block_id.parts.hash (one part)
  std::vector<util::Bytes> txs;
  std::vector<ExecTxResult> txResults;     // one per tx, same order
  std::vector<Event> finalizeBlockEvents;  // BeginBlock + EndBlock events
  util::Bytes appHashAfter;                // the app hash once this block is executed
  std::size_t sizeBytes = 0;               // an estimate of the encoded block size
};

// CometBFT Txs.Hash(): Merkle root over sha256 of each tx (sha256("") when empty).
util::Bytes dataHash(const std::vector<util::Bytes>& txs);
// CometBFT ABCIResults.Hash(): Merkle root over the deterministic part of each result
// (code, data, gas_wanted, gas_used), protobuf-encoded.
util::Bytes lastResultsHash(const std::vector<ExecTxResult>& results);

}  // namespace pocket::devnet
