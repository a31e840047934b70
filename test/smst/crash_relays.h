#pragma once
// The relays of the RocksDB crash test: batch b holds kCrashBatchRelays leaves with keys, values
// and weights derived from (b, j), so that the writer (crash_writer.cpp) and the test build the
// same tries.

#include <cstdint>
#include <string>

#include "common/smst/trie.h"
#include "common/util/bytes.h"

namespace pocket::test {

inline constexpr int kCrashBatchRelays = 100;

inline std::string crashRelayKey(std::uint64_t batch, int j) {
  return "relay-" + std::to_string(batch) + "-" + std::to_string(j);
}

// Adds batch `batch` to `trie` (no commit).
inline void addCrashBatch(smst::SparseMerkleSumTrie& trie, std::uint64_t batch) {
  for (int j = 0; j < kCrashBatchRelays; ++j) {
    std::string key = crashRelayKey(batch, j);
    std::string value = "bytes of " + key + std::string(64 + (j % 50), 'v');
    trie.update(util::asBytes(key), util::asBytes(value), 1 + (batch * 31 + j) % 7);
  }
}

// How many whole batches `trie` holds: batches are added in order and committed whole.
inline std::uint64_t crashBatchesIn(smst::SparseMerkleSumTrie& trie) {
  std::uint64_t batches = 0;
  while (trie.get(util::asBytes(crashRelayKey(batches, 0))).has_value()) ++batches;
  return batches;
}

}  // namespace pocket::test
