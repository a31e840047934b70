#pragma once
// CometBFT block header hash (types/block.go Header.Hash; docs/protocol.md §6): the value of
// block_id.hash, which poktroll stores per height and uses for session ids, proof paths and the
// proof-requirement seed. The local chain computes it for the blocks it makes; the session manager
// may recompute it from a NewBlockHeader event instead of fetching `block`.
//
// hash = RFC-6962 Merkle root over 14 protobuf-encoded fields, in this order: version
// (tendermint.version.Consensus), chain_id (StringValue), height (Int64Value), time
// (google.protobuf.Timestamp), last_block_id (tendermint.types.BlockID, part_set_header always
// written), then last_commit_hash, data_hash, validators_hash, next_validators_hash,
// consensus_hash, app_hash, last_results_hash, evidence_hash, proposer_address (BytesValue). A
// zero / empty wrapped value encodes to empty bytes.
//
// Value types and pure functions, thread-safe.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/crypto/hash.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::protocol {

// google.protobuf.Timestamp: seconds since the Unix epoch and 0 ≤ nanos < 10^9.
struct Timestamp {
  std::int64_t seconds = 0;
  std::int32_t nanos = 0;

  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// Parses the RFC 3339 form CometBFT's JSON uses ("2024-11-25T21:33:54.785576474Z"): a date, 'T',
// a time, 0 to 9 fractional digits, then 'Z' or ±hh:mm. Error "bad_time" naming what is wrong.
util::Result<Timestamp> parseRfc3339(std::string_view text);

struct BlockId {
  util::Bytes hash;
  std::uint32_t partSetTotal = 0;
  util::Bytes partSetHash;
};

// The fields of a CometBFT header (hex fields of the JSON form decoded to raw bytes).
struct BlockHeader {
  std::uint64_t versionBlock = 0;
  std::uint64_t versionApp = 0;
  std::string chainId;
  std::int64_t height = 0;
  Timestamp time;
  BlockId lastBlockId;
  util::Bytes lastCommitHash;
  util::Bytes dataHash;
  util::Bytes validatorsHash;
  util::Bytes nextValidatorsHash;
  util::Bytes consensusHash;
  util::Bytes appHash;
  util::Bytes lastResultsHash;
  util::Bytes evidenceHash;
  util::Bytes proposerAddress;
};

inline constexpr std::size_t kHeaderLeafCount = 14;

// The 14 encoded fields, in hashing order (the Merkle leaves before leaf hashing).
std::array<util::Bytes, kHeaderLeafCount> headerLeafInputs(const BlockHeader& header);

// RFC 6962: leaf = sha256(0x00 ‖ x), inner = sha256(0x01 ‖ left ‖ right).
crypto::Hash32 merkleLeafHash(util::ByteSpan item);
crypto::Hash32 merkleInnerHash(const crypto::Hash32& left, const crypto::Hash32& right);
// CometBFT's merkle.HashFromByteSlices: split n > 1 items at the largest power of two < n; an
// empty list hashes to sha256("").
crypto::Hash32 merkleRoot(std::span<const util::Bytes> items);

// The header hash. Error "no_validators_hash" when validators_hash is empty (CometBFT returns nil
// there: such a header has no hash).
util::Result<crypto::Hash32> headerHash(const BlockHeader& header);

}  // namespace pocket::protocol
